"""Scoring relevance predictions: accuracy, macro-F1, per-label F1, confusion matrix and bootstrap CIs, per task
and overall, under argmax and under the model's fitted decision rule; calibration (ECE before and after the
temperature); and, on query-product tasks, ranking (NDCG@10 per query, Spearman against raw ratings).

``overall`` pools every pair; ``mean_over_tasks`` averages the task scores (each task counts once, the
headline of the multi-task studies), its CI from per-task bootstrap distributions averaged.

Metric keys are flat, one number each (with ``<key>_ci95`` beside it where there is an interval), so reports can
render them generically:

``accuracy``, ``macro_f1``            argmax labels
``accuracy_rule``, ``macro_f1_rule``  the labels the model serves: its fitted decision rule (== argmax without one)
``ece``, ``ece_temperature``          expected calibration error (15 bins) of the model's own probabilities and of
                                      the served ones (after the fitted temperature; == ece without one)
``ndcg@10``                           query-product tasks: mean per-query NDCG@10 of the expected ESCI gain
                                      (``ndcg@10_random``: the same queries in random order, the chance level)
``spearman_rating``                   where the source has a raw rating (Home Depot): Spearman vs the mean rating

Beside them, the baselines every score is read against (:func:`label_baselines`): ``majority`` (always the most
frequent gold label: its ``answer``, ``accuracy`` and ``macro_f1``), ``model_mode`` / ``model_mode_rule`` (the
model's most frequent argmax / served label, its ``share`` and the scores of always giving it) and ``constant`` /
``constant_rule`` (that share is 90% or more, :data:`shoptune.evaluation.statistics.CONSTANT_SHARE`).

Example:
    >>> m = pair_metrics(["exact", "partial", "exact"], ["exact", "exact", "exact"], n_resamples=50)
    >>> round(m["accuracy"], 3), m["n"], m["confusion_matrix"]["matrix"][0]
    (0.667, 3, [2, 1, 0])
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shoptune.evaluation.metrics import (
    confusion_matrix,
    encode_label_pairs,
    per_label_f1,
)
from shoptune.evaluation.statistics import CONSTANT_SHARE, bootstrap_distribution
from shoptune.io import atomic_open, atomic_write_json, atomic_write_text
from shoptune.records import LABELS
from shoptune.relevance.calibration import calibration_rows, ece_statistic
from shoptune.relevance.data import Pair
from shoptune.relevance.decision import METRICS, label_counts, label_indices
from shoptune.relevance.predictor import Prediction, Predictor, predict_with, prediction_row
from shoptune.relevance.ranking import ranking_metrics

STATISTICS: dict[str, Callable[..., np.ndarray]] = METRICS
#: Metrics averaged over tasks in ``mean_over_tasks`` (each with a CI from the per-task bootstrap distributions).
MEAN_METRICS = ("accuracy", "macro_f1", "accuracy_rule", "macro_f1_rule", "ece", "ece_temperature")
#: Per-task keys that exist twice: under argmax and under the decision rule (``macro_f1`` -> ``macro_f1_rule``,
#: ``macro_f1_ci95`` -> ``macro_f1_rule_ci95``, ...).
RULE_KEYS = {
    key: key.replace("_ci95", "") + "_rule" + ("_ci95" if key.endswith("_ci95") else "")
    for key in (
        "accuracy",
        "accuracy_ci95",
        "macro_f1",
        "macro_f1_ci95",
        "per_label_f1",
        "confusion_matrix",
        "model_mode",
        "constant",
    )
}


def _interval(dist: np.ndarray) -> list[float]:
    return [float(np.percentile(dist, 2.5)), float(np.percentile(dist, 97.5))]


def constant_scores(answer: str, targets: Sequence[str]) -> dict[str, float]:
    """Accuracy and macro-F1 of answering ``answer`` for every pair (the metrics' own definitions)."""
    codes = encode_label_pairs([answer] * len(targets), targets, LABELS)
    return {name: float(statistic(codes, axis=0)) for name, statistic in STATISTICS.items()}


def label_baselines(predictions: Sequence[str], targets: Sequence[str]) -> dict[str, Any]:
    """What a set of pairs' scores must be read against: ``majority``, the scores of always giving the most
    frequent gold label; ``model_mode``, the model's most frequent label with its share of the pairs and the scores
    of always giving it; ``constant``, true when that share is :data:`CONSTANT_SHARE` (90%) or more: such a model
    has learned nothing of the task, whatever its score. Ties go to the label listed first in ``LABELS``.

    >>> b = label_baselines(["irrelevant"] * 4 + ["exact"], ["exact", "exact", "irrelevant", "irrelevant", "exact"])
    >>> b["majority"]["answer"], round(b["majority"]["accuracy"], 2), b["model_mode"]["share"], b["constant"]
    ('exact', 0.6, 0.8, False)
    """
    if not targets:
        return {}

    def mode(labels: Sequence[str]) -> tuple[str, int]:
        counts = Counter(labels)
        top = max(counts.values())
        return next(lb for lb in (*LABELS, *sorted(counts)) if counts.get(lb) == top), top

    majority, _ = mode(targets)
    answer, count = mode(predictions)
    share = count / len(predictions)
    return {
        "majority": {"answer": majority, **constant_scores(majority, targets)},
        "model_mode": {"answer": answer, "share": share, **constant_scores(answer, targets)},
        "constant": share >= CONSTANT_SHARE,
    }


def pair_metrics(
    predictions: Sequence[str], targets: Sequence[str], *, n_resamples: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """All metrics of one set of pairs (with the :func:`label_baselines` they must be read against); also returns
    the bootstrap distributions under ``_dist`` (dropped on write)."""
    codes = encode_label_pairs(predictions, targets, LABELS)
    out: dict[str, Any] = {"n": len(targets)}
    dists: dict[str, np.ndarray] = {}
    for name, statistic in STATISTICS.items():
        out[name] = float(statistic(codes, axis=0))
        dists[name] = bootstrap_distribution(codes, statistic, n_resamples=n_resamples, seed=seed)
        out[f"{name}_ci95"] = _interval(dists[name])
    out["per_label_f1"] = per_label_f1(predictions, targets, LABELS)
    matrix = confusion_matrix(predictions, targets, LABELS, other_column=False)
    out["confusion_matrix"] = {
        "rows": "gold",
        "columns": "predicted",
        "labels": list(LABELS),
        "matrix": matrix.tolist(),
    }
    out.update(label_baselines(predictions, targets))
    out["_dist"] = dists
    return out


def task_metrics(
    pairs: Sequence[Pair],
    prediction: Prediction,
    *,
    ranking: bool = False,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Argmax and rule metrics, calibration and (``ranking``: NDCG; rated pairs: Spearman) of one set of pairs.

    Argmax and rule scores are bootstrapped on the same resamples (the same seed), as are ECE before and after
    the temperature, so their intervals are comparable.
    """
    targets = [p.label or "" for p in pairs]
    argmax = [LABELS[i] for i in prediction.argmax]
    served = [LABELS[i] for i in prediction.labels]
    out = pair_metrics(argmax, targets, n_resamples=n_resamples, seed=seed)
    rule = pair_metrics(served, targets, n_resamples=n_resamples, seed=seed)
    for key, rule_key in RULE_KEYS.items():
        out[rule_key] = rule[key]
    out["_dist"].update({f"{k}_rule": v for k, v in rule["_dist"].items()})
    gold = label_indices(targets)
    out["gold_counts"] = label_counts(gold)
    out["predicted_counts"] = label_counts(prediction.argmax)
    out["predicted_counts_rule"] = label_counts(prediction.labels)
    for name, probs in (("ece", prediction.raw), ("ece_temperature", prediction.probs)):
        rows = calibration_rows(probs, gold)
        out[name] = float(ece_statistic(rows, axis=0))
        out["_dist"][name] = bootstrap_distribution(rows, ece_statistic, n_resamples=n_resamples, seed=seed)
        out[f"{name}_ci95"] = _interval(out["_dist"][name])
    out.update(ranking_metrics(pairs, prediction.probs, ndcg=ranking, n_resamples=n_resamples, seed=seed))
    return out


def score_predictions(
    tasks: Sequence[str],
    predictions: Sequence[str],
    targets: Sequence[str],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Per-task metrics, pooled ``overall`` and ``mean_over_tasks`` (with CIs) of predicted labels alone."""
    by_task: dict[str, list[int]] = defaultdict(list)
    for i, task in enumerate(tasks):
        by_task[task].append(i)
    per_task = {}
    for k, (task, idx) in enumerate(sorted(by_task.items())):
        per_task[task] = pair_metrics(
            [predictions[i] for i in idx], [targets[i] for i in idx], n_resamples=n_resamples, seed=seed + 1 + k
        )
    overall = pair_metrics(predictions, targets, n_resamples=n_resamples, seed=seed)
    return {"overall": overall, "mean_over_tasks": _mean_over_tasks(per_task, STATISTICS), "tasks": per_task}


def score_pairs(
    pairs: Sequence[Pair],
    prediction: Prediction,
    *,
    ranking: Collection[str] = (),
    decisions: Mapping[str, Mapping[str, Any]] | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Per-task :func:`task_metrics` (ranking metrics for the tasks in ``ranking``), pooled ``overall`` and
    ``mean_over_tasks``; ``decisions`` (task -> rule summary) are recorded beside each task's scores."""
    by_task: dict[str, list[int]] = defaultdict(list)
    for i, pair in enumerate(pairs):
        by_task[pair.task].append(i)
    per_task = {}
    for k, (task, idx) in enumerate(sorted(by_task.items())):
        part = Prediction(*(getattr(prediction, f)[idx] for f in ("probs", "raw", "argmax", "labels")))
        per_task[task] = {
            **(decisions or {}).get(task, {"decision_rule": "argmax", "temperature": 1.0}),
            **task_metrics(
                [pairs[i] for i in idx], part, ranking=task in ranking, n_resamples=n_resamples, seed=seed + 1 + k
            ),
        }
    overall = task_metrics(pairs, prediction, n_resamples=n_resamples, seed=seed)
    for key in [k for k in overall if k.startswith(("ndcg", "spearman"))]:
        overall.pop(key)  # rankings are per task; pooled over tasks they mean nothing
    return {"overall": overall, "mean_over_tasks": _mean_over_tasks(per_task, MEAN_METRICS), "tasks": per_task}


def _mean_over_tasks(per_task: dict[str, dict[str, Any]], names: Collection[str]) -> dict[str, Any]:
    mean: dict[str, Any] = {"tasks": len(per_task)}
    for name in names:
        if per_task and all(name in m["_dist"] for m in per_task.values()):
            mean[name] = float(np.mean([m[name] for m in per_task.values()]))
            mean[f"{name}_ci95"] = _interval(np.mean([m["_dist"][name] for m in per_task.values()], axis=0))
    for m in per_task.values():
        m.pop("_dist", None)
    return mean


def evaluate_pairs(
    predictor: Predictor,
    pairs: Sequence[Pair],
    out: str | Path,
    *,
    extra: dict[str, Any] | None = None,
    n_resamples: int = 1000,
    progress: Callable[[int], None] | None = None,
    ranking: Collection[str] = (),
    prediction: Prediction | None = None,
) -> dict[str, Any]:
    """Score labelled ``pairs`` with ``predictor``; write ``metrics.json``, ``metrics.md`` and ``predictions.jsonl``
    into ``out``. ``ranking`` names the query-product tasks (NDCG@10); ``prediction`` reuses scores already made."""
    if any(p.label is None for p in pairs):
        raise ValueError("evaluate_pairs needs gold labels on every pair")
    if prediction is None:
        prediction = predict_with(predictor, pairs, progress)
    metrics = score_pairs(
        pairs, prediction, ranking=ranking, decisions=decision_summary(predictor), n_resamples=n_resamples
    )
    metrics["overall"].pop("_dist", None)
    metrics = {**(extra or {}), **metrics}
    rows = (prediction_row(p, pr, lb) for p, pr, lb in zip(pairs, prediction.probs, prediction.labels, strict=True))
    write_outputs(out, metrics, rows)
    return metrics


def decision_summary(predictor: Predictor) -> dict[str, dict[str, Any]]:
    """Per task: the decision rule a predictor serves (argmax for predictors that do not say)."""
    summary = getattr(predictor, "decision_summary", None)
    return summary() if callable(summary) else {}


def write_outputs(out: str | Path, metrics: dict[str, Any], rows: Any) -> None:
    """metrics.json, metrics.md and predictions.jsonl, each written to a temp file and renamed (never half-written)."""
    out = Path(out)
    with atomic_open(out / "predictions.jsonl") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    atomic_write_json(out / "metrics.json", metrics)
    atomic_write_text(out / "metrics.md", metrics_markdown(metrics))


def _num(value: Any, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ci(pair: Any) -> str:
    return "" if not pair else f" [{pair[0]:.3f}, {pair[1]:.3f}]"


def _counts(counts: Mapping[str, int] | None) -> str:
    return "-" if not counts else "/".join(str(counts.get(label, 0)) for label in LABELS)


def _majority(m: Mapping[str, Any]) -> str:
    majority = m.get("majority")
    if not isinstance(majority, Mapping):
        return "-"
    return f"{majority['answer']}: {_num(majority['accuracy'], 3)} / {_num(majority['macro_f1'], 3)}"


def _mode(m: Mapping[str, Any], key: str) -> str:
    """``irrelevant 96%: 0.800 / 0.444 ⚠`` -- the model's most frequent label, its share, the accuracy / macro-F1 of
    always giving it, and the flag when it covers 90% or more of the pairs."""
    mode = m.get(key)
    if not isinstance(mode, Mapping):
        return "-"
    flag = " ⚠" if m.get(key.replace("model_mode", "constant")) else ""
    return f"{mode['answer']} {mode['share']:.0%}: {_num(mode['accuracy'], 3)} / {_num(mode['macro_f1'], 3)}{flag}"


def constant_tasks(metrics: Mapping[str, Any]) -> list[str]:
    """The tasks whose model gives one label for 90% or more of the pairs (argmax or served), as ``task (view)``."""
    flagged = []
    for task, m in (metrics.get("tasks") or {}).items():
        views = [v for v, key in (("argmax", "constant"), ("rule", "constant_rule")) if m.get(key)]
        if views:
            flagged.append(f"{task} ({', '.join(views)})")
    return flagged


def metrics_markdown(metrics: Mapping[str, Any]) -> str:
    """The metrics as Markdown: argmax vs rule, calibration and ranking per task, the mean over tasks, overall."""
    lines = ["# Relevance evaluation", ""]
    where = [f"{k}: `{metrics[k]}`" for k in ("model", "split", "source", "input", "task") if metrics.get(k)]
    lines += [", ".join(where), ""] if where else []
    mean = metrics.get("mean_over_tasks", {})
    if mean:
        lines.append(
            f"Mean over {mean.get('tasks', 0)} tasks: macro-F1 {_num(mean.get('macro_f1'))} (argmax) / "
            f"{_num(mean.get('macro_f1_rule'))} (decision rule), accuracy {_num(mean.get('accuracy'))} / "
            f"{_num(mean.get('accuracy_rule'))}, ECE {_num(mean.get('ece'))} / "
            f"{_num(mean.get('ece_temperature'))} (after temperature)."
        )
        lines.append("")
    flagged = constant_tasks(metrics)
    if flagged:
        lines += [
            f"⚠ One label for {CONSTANT_SHARE:.0%} or more of the pairs (a constant predictor: its score says "
            f"nothing of the task): {', '.join(flagged)}.",
            "",
        ]
    header = [
        "task",
        "n",
        "rule",
        "accuracy (argmax / rule)",
        "macro-F1 argmax [95% CI]",
        "macro-F1 rule [95% CI]",
        "majority label: accuracy / macro-F1",
        "model's mode argmax: share: accuracy / macro-F1",
        "model's mode rule",
        f"predicted {'/'.join(LABELS)} (argmax -> rule)",
        "gold",
        "ECE -> with T (T)",
        "NDCG@10 [95% CI] (queries; random order)",
        "Spearman vs rating [95% CI]",
    ]
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    rows = [*metrics.get("tasks", {}).items(), ("(all pairs)", metrics.get("overall", {}))]
    for name, m in rows:
        if not m:
            continue
        ndcg = (
            "-" if m.get("ndcg@10") is None else f"{m['ndcg@10']:.4f}{_ci(m.get('ndcg@10_ci95'))} ({m['ndcg_queries']})"
        )
        rho = (
            "-"
            if m.get("spearman_rating") is None
            else f"{m['spearman_rating']:.4f}{_ci(m.get('spearman_rating_ci95'))}"
        )
        t = m.get("temperature")
        cells = [
            name,
            str(m.get("n", "")),
            str(m.get("decision_rule", "")),
            f"{_num(m.get('accuracy'))} / {_num(m.get('accuracy_rule'))}",
            f"{_num(m.get('macro_f1'))}{_ci(m.get('macro_f1_ci95'))}",
            f"{_num(m.get('macro_f1_rule'))}{_ci(m.get('macro_f1_rule_ci95'))}",
            _majority(m),
            _mode(m, "model_mode"),
            _mode(m, "model_mode_rule"),
            f"{_counts(m.get('predicted_counts'))} -> {_counts(m.get('predicted_counts_rule'))}",
            _counts(m.get("gold_counts")),
            f"{_num(m.get('ece'))} -> {_num(m.get('ece_temperature'))}" + (f" ({t:.2f})" if t is not None else ""),
            ndcg,
            rho,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Argmax: the most probable grade. Rule: the grade the model serves, argmax of log p / T + per-grade bias "
        "fitted on dev (argmax where none was fitted). ECE: 15 equal-width bins on the top probability, before and "
        "after the fitted temperature T. NDCG@10: per query over its pairs, ranked by the expected ESCI gain "
        "(exact 1, partial 0.1, irrelevant 0), averaged over queries with >= 2 pairs and a nonzero gain; CIs "
        "resample queries. Majority label: the scores of always giving the most frequent gold grade. Model's "
        "mode: the model's most frequent grade (argmax / served by the rule), its share of the pairs and the scores "
        f"of always giving it; ⚠ when it covers {CONSTANT_SHARE:.0%} or more of the pairs.",
        "",
    ]
    return "\n".join(lines)


def read_predictions(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a predictions.jsonl (a folder is taken to hold one)."""
    path = Path(path)
    if path.is_dir():
        path = path / "predictions.jsonl"
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
