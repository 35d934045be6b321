"""The project's one statistics module: bootstrap intervals, paired contrasts between runs, McNemar's test.

Every comparison in shoptune (held-out vs zero-shot, sweep arms, relevance routings) goes through here, so a
paired delta is always the difference of the metric as printed: the metric's own statistic (pooled micro-F1,
macro-F1, ...) is recomputed on each resample of the examples, never replaced by a mean of per-example scores.

Percentile bootstrap intervals over examples, seeded and vectorised with numpy.

The statistic sees the examples on one axis. A statistic that takes an ``axis`` argument (``np.mean``,
``np.median``, the pooled-F1 statistics in :mod:`shoptune.evaluation.metrics`) is evaluated on a whole
batch of resamples at once, shaped ``(resamples, examples, *row)``, with ``axis=1``; any other callable is
called once per resample with an array shaped ``(examples, *row)``.

Example:
    >>> lo, hi = bootstrap_ci([0, 1, 1, 0, 1, 1, 1, 0], n_resamples=200, seed=0)
    >>> bool(lo <= 0.625 <= hi)
    True
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Statistic = Callable[..., Any]

#: A model that gives one answer to this share of a task's items or more has learned nothing of the task: its
#: score is the score of that constant answer (flagged beside every score, LM eval and relevance alike).
CONSTANT_SHARE = 0.9

# Elements of the gathered (resamples, examples, *row) array held in memory at once (~64 MB of float64).
_CHUNK_ELEMENTS = 8_000_000


def _takes_axis(statistic: Statistic) -> bool:
    try:
        return "axis" in inspect.signature(statistic).parameters
    except (TypeError, ValueError):  # builtins and some C callables have no signature
        return False


def bootstrap_distribution(
    values: Sequence[Any] | np.ndarray,
    statistic: Statistic = np.mean,
    n_resamples: int = 1000,
    seed: int = 0,
    vectorized: bool | None = None,
    clusters: Sequence[Any] | None = None,
) -> np.ndarray:
    """The statistic on ``n_resamples`` resamples (with replacement) of the examples (first axis of
    ``values``). Deterministic for a given seed. ``vectorized`` defaults to whether ``statistic`` takes
    ``axis``.

    ``clusters`` (one id per example): examples that share an id (the items of one query or product) are not
    independent, so whole clusters are resampled (a cluster bootstrap); the interval is then as wide as the
    clustering makes it. Without repeated ids it is the ordinary bootstrap.

    >>> values = [1.0] * 10 + [0.0] * 10
    >>> flat = bootstrap_distribution(values, n_resamples=500, seed=0)
    >>> clustered = bootstrap_distribution(values, n_resamples=500, seed=0, clusters=[0] * 10 + [1] * 10)
    >>> bool(clustered.std() > 2 * flat.std())
    True
    """
    data = np.asarray(values)
    n = data.shape[0] if data.ndim else 0
    if n == 0:
        raise ValueError("bootstrap needs at least one example")
    if n_resamples < 1:
        raise ValueError("n_resamples must be at least 1")
    if vectorized is None:
        vectorized = _takes_axis(statistic)
    rng = np.random.default_rng(seed)
    if clusters is not None and len(set(clusters)) < n:
        return _cluster_distribution(data, statistic, n_resamples, rng, clusters, vectorized)
    row_size = int(np.prod(data.shape[1:], dtype=np.int64))
    # Only the index matrix is held per chunk when looping, the gathered rows too when vectorised.
    chunk = max(1, _CHUNK_ELEMENTS // (n * (row_size if vectorized else 1)))
    out = np.empty(n_resamples, dtype=np.float64)
    for start in range(0, n_resamples, chunk):
        stop = min(start + chunk, n_resamples)
        indices = rng.integers(0, n, size=(stop - start, n))
        if vectorized:
            out[start:stop] = np.asarray(statistic(data[indices], axis=1), dtype=np.float64).reshape(-1)
        else:
            out[start:stop] = [float(statistic(data[row])) for row in indices]
    return out


def _cluster_distribution(
    data: np.ndarray,
    statistic: Statistic,
    n_resamples: int,
    rng: np.random.Generator,
    clusters: Sequence[Any],
    vectorized: bool,
) -> np.ndarray:
    if len(clusters) != data.shape[0]:
        raise ValueError(f"{len(clusters)} cluster ids for {data.shape[0]} examples")
    out = np.empty(n_resamples, dtype=np.float64)
    for r, picked in enumerate(_cluster_resamples(clusters, n_resamples, rng)):
        sample = data[picked]
        out[r] = float(np.asarray(statistic(sample[None], axis=1)).reshape(-1)[0]) if vectorized else statistic(sample)
    return out


def _cluster_resamples(clusters: Sequence[Any], n_resamples: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Item indices of ``n_resamples`` resamples of whole clusters (as many clusters as there are, with
    replacement); resamples differ in length when clusters do."""
    members: dict[Any, list[int]] = {}
    for index, key in enumerate(clusters):
        members.setdefault(key, []).append(index)
    groups = [np.asarray(m) for m in members.values()]
    return [
        np.concatenate([groups[g] for g in rng.integers(0, len(groups), size=len(groups))]) for _ in range(n_resamples)
    ]


def bootstrap_ci(
    values: Sequence[Any] | np.ndarray,
    statistic: Statistic = np.mean,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    vectorized: bool | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap interval ``(lo, hi)`` of ``statistic`` over the examples in ``values``.

    ``values`` is a 1-D array of per-example scores, or a 2-D array of per-example rows (for example
    (tp, fp, fn) counts with ``statistic=micro_f1_statistic``).

    >>> from shoptune.evaluation.metrics import micro_f1_statistic
    >>> rows = [(1, 0, 0), (0, 1, 1), (2, 0, 1), (1, 1, 0)]
    >>> lo, hi = bootstrap_ci(rows, micro_f1_statistic, n_resamples=300, seed=1)
    >>> bool(0.0 <= lo <= hi <= 1.0)
    True
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be between 0 and 1")
    distribution = bootstrap_distribution(values, statistic, n_resamples, seed, vectorized)
    tail = (1.0 - confidence) / 2.0 * 100.0
    lo, hi = np.percentile(distribution, [tail, 100.0 - tail])
    return float(lo), float(hi)


# ------------------------------------------------------------------------------------------ paired contrasts
def contrast_distribution(
    columns: Sequence[np.ndarray],
    weights: Sequence[float],
    statistic: Statistic = np.mean,
    n_resamples: int = 1000,
    seed: int = 0,
) -> tuple[float, np.ndarray]:
    """``sum_k w_k * statistic(columns[k])`` and its paired bootstrap distribution.

    ``columns`` are the encoded rows of several runs on the same examples (first axis, same length); each
    resample draws one set of example indices and applies it to every run, which is what makes the contrast
    paired. A delta is ``weights=(-1, 1)``; a slope, an interaction or a mean over seeds are other weights.
    ``statistic(array, axis)`` must reduce the example axis (the metrics' statistics do).

    >>> a, b = np.array([0.0, 1.0, 0.0, 1.0]), np.array([1.0, 1.0, 0.0, 1.0])
    >>> observed, dist = contrast_distribution([a, b], [-1, 1], n_resamples=200)
    >>> observed, bool(dist.min() >= 0.0)
    (0.25, True)
    """
    data = [np.asarray(c) for c in columns]
    n = data[0].shape[0]
    if n == 0 or any(c.shape[0] != n for c in data):
        raise ValueError("paired runs need the same, non-zero number of examples")
    observed = float(sum(w * float(statistic(c, axis=0)) for c, w in zip(data, weights, strict=True)))
    rng = np.random.default_rng(seed)
    row_size = max(int(np.prod(c.shape[1:], dtype=np.int64)) for c in data)
    chunk = max(1, _CHUNK_ELEMENTS // (n * row_size))
    out = np.zeros(n_resamples, dtype=np.float64)
    for start in range(0, n_resamples, chunk):
        stop = min(start + chunk, n_resamples)
        indices = rng.integers(0, n, size=(stop - start, n))
        for column, weight in zip(data, weights, strict=True):
            out[start:stop] += weight * np.asarray(statistic(column[indices], axis=1), dtype=np.float64).reshape(-1)
    return observed, out


def bootstrap_test(observed: float, dist: np.ndarray) -> dict[str, Any]:
    """95% percentile interval and the two-sided p-value of H0 "no difference", from the distribution shifted to
    centre on 0: p = P(|d* - d| >= |d|) (Efron & Tibshirani's bootstrap hypothesis test).

    >>> bootstrap_test(0.0, np.zeros(100))["p_value"]
    1.0
    """
    lo, hi = np.percentile(dist, [2.5, 97.5])
    if observed == 0.0:
        p = 1.0
    else:
        p = float(np.mean(np.abs(dist - observed) >= abs(observed)))
        p = max(p, 1.0 / (len(dist) + 1))  # a finite resample count cannot show p = 0
    return {"delta": observed, "ci95": [float(lo), float(hi)], "p_value": p}


def mcnemar(a_correct: Sequence[bool], b_correct: Sequence[bool]) -> dict[str, Any]:
    """McNemar's exact test: under H0 the discordant pairs split 50/50 (two-sided binomial test).

    >>> mcnemar([True] * 9 + [False], [False] * 9 + [True])["p_value"]  # 9 vs 1: 2 * 11 / 1024
    0.021484375
    """
    from scipy.stats import binomtest

    a = np.asarray(a_correct, dtype=bool)
    b = np.asarray(b_correct, dtype=bool)
    a_only, b_only = int(np.sum(a & ~b)), int(np.sum(~a & b))
    n = a_only + b_only
    p = 1.0 if n == 0 else float(binomtest(min(a_only, b_only), n, 0.5).pvalue)
    return {"a_only": a_only, "b_only": b_only, "p_value": p}


# ------------------------------------------------------------------------------------------ task results
@dataclass
class TaskRows:
    """One run's scored rows of one task, encoded for its metric: what a task score and its resamples need."""

    metric: str
    values: np.ndarray
    statistic: Statistic
    targets: list[Any] = field(default_factory=list)
    #: One id per item (a query, a product) where items share one; resampled together. None: independent items.
    clusters: list[Any] | None = None
    #: The model's parsed answer to each item (what "answers moved from zero-shot" compares).
    answers: list[Any] = field(default_factory=list)

    @property
    def score(self) -> float:
        """The task score exactly as evaluation prints it."""
        return float(self.statistic(self.values, axis=0))


def task_rows(predictions: Sequence[dict[str, Any]]) -> dict[str, TaskRows]:
    """Rows of ``predictions.jsonl`` (in file order) grouped per task and encoded as their metric aggregates them.

    A task whose rows all share a metric keeps that metric's statistic (pooled F1 stays pooled); a task whose
    rows mix metrics (a ShopBench translation task: bleu and jp-bleu rows) is the mean of the rows' scores, as
    evaluation scores it.
    """
    from shoptune.evaluation.metrics import get_metric

    by_task: dict[str, list[dict[str, Any]]] = {}
    for row in predictions:
        by_task.setdefault(row["task"], []).append(row)
    out: dict[str, TaskRows] = {}
    for task, rows in by_task.items():
        names = {get_metric(r["metric"]).name for r in rows}
        targets = [r.get("target") for r in rows]
        ids = [r.get("cluster") for r in rows]
        answers = [r.get("parsed") for r in rows]
        clusters = ids if None not in ids and len(set(ids)) < len(ids) else None
        if len(names) == 1:
            metric = get_metric(rows[0]["metric"])
            encoded = metric.encode([_row(r["row"]) for r in rows])
            out[task] = TaskRows(rows[0]["metric"], encoded, metric.statistic, targets, clusters, answers)
        else:
            out[task] = TaskRows(
                "mean of " + ", ".join(sorted(names)),
                np.asarray([r["score"] for r in rows]),
                np.mean,
                targets,
                clusters,
                answers,
            )
    return out


def _row(value: Any) -> Any:
    # JSON turned the tuples of pooled and label metrics into lists; the metrics' encoders expect tuples.
    return tuple(_row(v) for v in value) if isinstance(value, list) else value


def paired_runs_contrast(
    runs: Sequence[dict[str, TaskRows]],
    weights: Sequence[float],
    tasks: Sequence[str],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """A weighted contrast of the mean task score of several runs on the same items, with a paired bootstrap.

    Items are resampled within each task (the same indices for every run); the contrast of the task scores is
    averaged over ``tasks``. The point estimate is the same contrast of the printed task scores. Returns
    ``{"delta", "ci95", "p_value", "tasks"}``.
    """
    if not tasks:
        raise ValueError("a contrast needs at least one task")
    observed, total = 0.0, np.zeros(n_resamples)
    for k, task in enumerate(tasks):
        columns = [run[task] for run in runs]
        _check_same_items(task, columns)
        obs, dist = contrast_distribution(
            [c.values for c in columns], weights, columns[0].statistic, n_resamples, seed + k
        )
        observed += obs
        total += dist
    dist = total / len(tasks)
    one_sided = float(np.mean(dist <= 0.0))  # P(contrast <= 0) under resampling: the one-sided bootstrap p
    return bootstrap_test(observed / len(tasks), dist) | {"p_delta_le_0": one_sided, "tasks": len(tasks)}


def _check_same_items(task: str, columns: Sequence[TaskRows]) -> None:
    first = columns[0]
    for other in columns[1:]:
        if len(other.values) != len(first.values) or (first.targets and other.targets != first.targets):
            raise ValueError(f"task {task!r}: the runs were not scored on the same items")
        if other.metric != first.metric:
            raise ValueError(f"task {task!r}: scored with {first.metric!r} and {other.metric!r}")


def mean_score_interval(
    run: dict[str, TaskRows], tasks: Sequence[str], *, n_resamples: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """The mean task score of one run over ``tasks`` and its bootstrap 95% interval (items within tasks)."""
    result = paired_runs_contrast([run], [1.0], tasks, n_resamples=n_resamples, seed=seed)
    return {"score": result["delta"], "ci95": result["ci95"], "tasks": result["tasks"]}


# ------------------------------------------------------------------------------------------ seeds and items
#: Below this many seeds a seed-to-seed spread is not estimated: 2 seeds give a variance on one degree of freedom,
#: whose t quantile (12.7 at 95%) makes any interval uninformative; an interval built from them anyway would be
#: invented. Such contrasts keep the item-level interval and say that seed variance is not in it.
MIN_SEEDS = 3


def seed_item_contrast(
    runs: Sequence[Sequence[dict[str, TaskRows]]],
    weights: Sequence[float],
    tasks: Sequence[str],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """A weighted contrast of arms' mean task scores with an interval that holds seed AND item variance.

    ``runs[a][s]`` is arm ``a`` trained with seed ``s`` (seed ``s`` is the same seed value in every arm, so the
    per-seed contrasts are paired), each scored on the same items. The point estimate is the contrast of the
    seed-averaged printed scores.

    A hierarchical bootstrap: each resample draws seeds with replacement, then items within every task (whole
    clusters where items share a query or product) with the same indices for every arm and seed. The seed-level
    deviations are scaled by sqrt(n / (n - 1)) first, so the bootstrap's seed variance is the unbiased s²/n
    rather than (n - 1)/n of it. With few seeds a percentile interval still covers too rarely, so the interval is
    estimate ± t·SE with SE the bootstrap's standard deviation and the degrees of freedom from the
    Welch–Satterthwaite split of that variance into its seed part (n - 1 df) and its item part; the two-sided
    p-value comes from the same t. With fewer than :data:`MIN_SEEDS` seeds no seed-level inference is made:
    the interval is over items only and ``seed_inference`` is False.

    Returns ``delta``, ``ci95``, ``p_value``, ``se``, ``df``, ``seed_sd`` (SD of the per-seed contrasts on the
    fixed items), ``item_se`` (SE from items alone, seeds averaged), ``item_sd`` (``item_se`` · sqrt(items):
    what a plan scales to another number of items), ``per_seed``, ``seeds``, ``items``, ``tasks`` and
    ``seed_inference``.

    >>> rng = np.random.default_rng(0)
    >>> def arm(shift):  # one task of 200 items, 4 seeds
    ...     return [{"t": TaskRows("accuracy", (rng.random(200) < 0.5 + shift).astype(float), np.mean)}
    ...             for _ in range(4)]
    >>> out = seed_item_contrast([arm(0.2), arm(0.0)], [1, -1], ["t"], n_resamples=300)
    >>> out["seed_inference"], out["ci95"][0] > 0
    (True, True)
    """
    from scipy import stats

    n_seeds = len(runs[0]) if runs else 0
    if n_seeds == 0 or any(len(arm) != n_seeds for arm in runs):
        raise ValueError("every arm needs the same, non-zero number of seeds")
    if not tasks:
        raise ValueError("a contrast needs at least one task")
    rng = np.random.default_rng(seed)
    observed = np.zeros(n_seeds)
    resampled = np.zeros((n_seeds, n_resamples))
    items = 0
    for task in tasks:
        columns = [[arm[s][task] for arm in runs] for s in range(n_seeds)]
        _check_same_items(task, [c for per_seed in columns for c in per_seed])
        first = columns[0][0]
        items += len(first.values)
        picks = _item_resamples(len(first.values), first.clusters, n_resamples, rng)
        for s, per_seed in enumerate(columns):
            for column, weight in zip(per_seed, weights, strict=True):
                observed[s] += weight * column.score
                resampled[s] += weight * _statistic_on(column, picks)
    observed /= len(tasks)
    resampled /= len(tasks)
    delta = float(observed.mean())
    item_var = float(np.var(resampled.mean(axis=0), ddof=1))
    seed_sd = float(np.std(observed, ddof=1)) if n_seeds > 1 else None
    base = {
        "delta": delta,
        "per_seed": observed.tolist(),
        "seeds": n_seeds,
        "items": items,
        "tasks": len(tasks),
        "seed_sd": seed_sd,
        "item_se": math.sqrt(item_var),
        "item_sd": math.sqrt(item_var * items),
    }
    if n_seeds < MIN_SEEDS:
        dist = resampled.mean(axis=0)
        return base | bootstrap_test(delta, dist) | {"se": math.sqrt(item_var), "df": None, "seed_inference": False}
    scale = math.sqrt(n_seeds / (n_seeds - 1))
    adjusted = resampled + ((scale - 1.0) * (observed - delta))[:, None]
    drawn = rng.integers(0, n_seeds, size=(n_resamples, n_seeds))
    dist = adjusted[drawn, np.arange(n_resamples)[:, None]].mean(axis=1)
    se = float(np.std(dist, ddof=1))
    seed_var = float(np.var(observed, ddof=1)) / n_seeds
    df = welch_df(seed_var, item_var, n_seeds)
    quantile = float(stats.t.ppf(0.5 + confidence / 2.0, df))
    p = 1.0 if se == 0.0 else float(2.0 * stats.t.sf(abs(delta) / se, df))
    if se == 0.0 and delta != 0.0:
        p = 0.0
    return base | {
        "ci95": [delta - quantile * se, delta + quantile * se],
        "p_value": p,
        "se": se,
        "df": df,
        "seed_inference": True,
    }


def welch_df(seed_var: float, item_var: float, seeds: int) -> float:
    """Welch–Satterthwaite degrees of freedom of a variance with a seed part (``seeds`` - 1 df) and an item part
    (taken as exact: hundreds of items). Infinite when the seed part is 0 or unknown.

    >>> welch_df(0.0, 1.0, 4), welch_df(1.0, 0.0, 4)
    (inf, 3.0)
    """
    if seeds < 2 or seed_var == 0.0:
        return math.inf
    return (seed_var + item_var) ** 2 / (seed_var**2 / (seeds - 1))


def _item_resamples(
    n: int, clusters: Sequence[Any] | None, n_resamples: int, rng: np.random.Generator
) -> np.ndarray | list[np.ndarray]:
    """Index sets of ``n_resamples`` resamples of ``n`` items: a (resamples, n) matrix, or one array per resample
    of whole clusters when items share a cluster id (then resamples differ in length)."""
    if clusters is None or len(set(clusters)) == n:
        return rng.integers(0, n, size=(n_resamples, n))
    return _cluster_resamples(clusters, n_resamples, rng)


def _statistic_on(column: TaskRows, picks: np.ndarray | list[np.ndarray]) -> np.ndarray:
    """The column's statistic on each resample of its items."""
    if isinstance(picks, np.ndarray):
        out = np.empty(len(picks))
        chunk = max(
            1, _CHUNK_ELEMENTS // max(1, picks.shape[1] * int(np.prod(column.values.shape[1:], dtype=np.int64)))
        )
        for start in range(0, len(picks), chunk):
            block = picks[start : start + chunk]
            out[start : start + len(block)] = np.asarray(
                column.statistic(column.values[block], axis=1), dtype=np.float64
            ).reshape(-1)
        return out
    return np.asarray([float(column.statistic(column.values[idx], axis=0)) for idx in picks])


# ------------------------------------------------------------------------------------------ many contrasts
def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control, any dependence between the tests).

    >>> holm([0.01, 0.04, 0.03, 0.005])  # sorted: 0.005*4, 0.01*3, 0.03*2, then max(0.06, 0.04*1)
    [0.03, 0.06, 0.06, 0.02]
    """
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return [round(float(v), 12) for v in adjusted]


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values (false discovery rate control), as ``scipy.stats.false_discovery_control``.

    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.005])
    [0.02, 0.04, 0.04, 0.02]
    """
    from scipy.stats import false_discovery_control

    if len(p_values) == 0:
        return []
    return [round(float(v), 12) for v in false_discovery_control(np.asarray(p_values, dtype=float), method="bh")]
