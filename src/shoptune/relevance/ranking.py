"""Ranking quality of relevance scores on query-product tasks: per-query NDCG@10 and Spearman against raw ratings.

A pair's ranking score is its expected gain under the model, ``sum_c p(c) * gain(c)``, with the ESCI gains of
the Shopping Queries paper (Reddy et al., 2022; its trec_eval setting ``ndcg.1=0,2=0.01,3=0.1,4=1``) on the
3-point scale: exact = E = 1.0, partial = S = 0.1, irrelevant = I = 0.0 (the gains of
:mod:`shoptune.data.sources.esci_labels`, and of the ``hd_query_ranking`` task). NDCG uses the gains as they
are (linear gains, log2 discount, as trec_eval and ``sklearn.metrics.ndcg_score`` do; tied scores share their
gains), per query over the query's pairs, and is averaged over the queries with at least two pairs and at least
one nonzero gain (a single pair, or only irrelevant pairs, have no ranking to get wrong). Its 95% interval
resamples queries. Beside it, ``ndcg@10_random`` is the expected NDCG@10 of a random order of the same pairs:
where most candidates are exact matches (Home Depot) even chance scores high, so read NDCG against it.

Where the pairs carry the source's raw rating (Home Depot: the mean of the raters' 1-3 scores, kept in the
records' metadata), the Spearman rank correlation of the ranking score with that rating is reported, with a
bootstrap interval that resamples queries (pairs of a query are not independent).

Example:
    >>> probs = np.array([[0.9, 0.1, 0.0], [0.1, 0.2, 0.7]])
    >>> expected_gain(probs).round(3).tolist()
    [0.91, 0.12]
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from shoptune.data.sources.esci_labels import esci_gain
from shoptune.evaluation.statistics import bootstrap_distribution
from shoptune.records import LABELS

#: ESCI gains on the 3-point scale (exact = Exact, partial = Substitute, irrelevant = Irrelevant).
GAINS: dict[str, float] = {"exact": esci_gain("E"), "partial": esci_gain("S"), "irrelevant": esci_gain("I")}
NDCG_K = 10
#: Tasks tagged so (tasks/builtin/*.yaml), or built from a source view of this name, are ranked per query.
RANKING_TAGS = frozenset({"query_product"})
RANKING_VIEWS = frozenset({"query_product"})


def expected_gain(probs: np.ndarray) -> np.ndarray:
    """The ranking score of each row: the probabilities' expected ESCI gain."""
    return np.asarray(probs, dtype=np.float64) @ np.array([GAINS[label] for label in LABELS])


def ranking_tasks(task_sources: Mapping[str, Mapping[str, Any]], tasks: Sequence[str] = ()) -> set[str]:
    """The query-product tasks among ``tasks`` (and those of ``task_sources``): by tag, else by source view."""
    from shoptune.errors import ShoptuneError
    from shoptune.tasks import load_tasks

    try:
        registry = load_tasks()
    except ShoptuneError:
        registry = {}
    out = set()
    for task in {*task_sources, *tasks}:
        spec = registry.get(task)
        if (spec is not None and RANKING_TAGS & set(spec.tags)) or task_sources.get(task, {}).get(
            "view"
        ) in RANKING_VIEWS:
            out.add(task)
    return out


def query_key(pair: Any) -> str:
    """The query a pair belongs to: its record's query group (``q:...``), else its normalised left text."""
    meta = getattr(pair, "meta", None) or {}
    return meta.get("query") or "left:" + " ".join(pair.left.lower().split())


def per_query_ndcg(
    keys: Sequence[str], gains: np.ndarray, scores: np.ndarray, k: int = NDCG_K
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """NDCG@k of each rankable query (>= 2 pairs, >= 1 nonzero gain), the expected NDCG@k of a random order of
    the same pairs (the chance level: many queries hold mostly exact pairs), and the counts of queries skipped."""
    from sklearn.metrics import ndcg_score

    members: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        members[key].append(i)
    values, chance, single, no_gain = [], [], 0, 0
    for rows in members.values():
        if len(rows) < 2:
            single += 1
        elif not np.any(gains[rows] > 0):
            no_gain += 1
        else:
            values.append(ndcg_score(gains[rows][None, :], scores[rows][None, :], k=k))
            # All scores tied: sklearn averages the gains over the tie, which is the expected DCG of a random order.
            chance.append(ndcg_score(gains[rows][None, :], np.zeros((1, len(rows))), k=k))
    counts = {"queries": len(members), "single_pair": single, "no_gain": no_gain}
    return np.asarray(values, dtype=np.float64), np.asarray(chance, dtype=np.float64), counts


def ranking_metrics(
    pairs: Sequence[Any],
    probs: np.ndarray,
    *,
    ndcg: bool = True,
    k: int = NDCG_K,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """``ndcg@k`` (with ``ndcg`` on) and ``spearman_rating`` (where pairs carry a ``rating``) of one task's pairs.

    Keys are flat: ``ndcg@10``, ``ndcg@10_ci95``, ``ndcg@10_random`` (the same queries in random order: chance),
    ``ndcg_queries`` (queries averaged), ``ndcg_queries_skipped``;
    ``spearman_rating``, ``spearman_rating_ci95``, ``spearman_n``.
    """
    scores = expected_gain(probs)
    keys = [query_key(p) for p in pairs]
    out: dict[str, Any] = {}
    if ndcg:
        gains = np.array([GAINS[p.label] for p in pairs], dtype=np.float64)
        values, chance, counts = per_query_ndcg(keys, gains, scores, k)
        name = f"ndcg@{k}"
        out[name] = float(values.mean()) if len(values) else None
        out[f"{name}_random"] = float(chance.mean()) if len(chance) else None
        out[f"{name}_ci95"] = (
            _interval(bootstrap_distribution(values, np.mean, n_resamples, seed)) if len(values) else None
        )
        out["ndcg_queries"] = len(values)
        out["ndcg_queries_skipped"] = {"single_pair": counts["single_pair"], "no_gain": counts["no_gain"]}
    rated = [i for i, p in enumerate(pairs) if isinstance((getattr(p, "meta", None) or {}).get("rating"), float)]
    if rated and len(rated) == len(pairs):
        ratings = np.array([pairs[i].meta["rating"] for i in rated])
        out.update(spearman_rating(scores[rated], ratings, [keys[i] for i in rated], n_resamples, seed))
    return out


def spearman_rating(
    scores: np.ndarray, ratings: np.ndarray, keys: Sequence[str], n_resamples: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Spearman's rho of scores vs raw ratings (scipy) and a 95% interval resampling queries (clusters)."""
    from scipy.stats import spearmanr

    def rho(a: np.ndarray, b: np.ndarray) -> float:
        if len(a) < 3 or np.all(a == a[0]) or np.all(b == b[0]):
            return float("nan")  # undefined for constant input
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(spearmanr(a, b).statistic)

    observed = rho(scores, ratings)
    out: dict[str, Any] = {"spearman_rating": None if np.isnan(observed) else observed, "spearman_n": len(scores)}
    out["spearman_rating_ci95"] = None
    if out["spearman_rating"] is None:
        return out
    groups: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        groups[key].append(i)
    clusters = [np.asarray(rows) for rows in groups.values()]
    if len(clusters) < 2:
        return out

    def resampled(query_ids: np.ndarray) -> float:
        rows = np.concatenate([clusters[q] for q in query_ids])
        return rho(scores[rows], ratings[rows])

    dist = bootstrap_distribution(np.arange(len(clusters)), resampled, n_resamples, seed, vectorized=False)
    dist = dist[~np.isnan(dist)]
    out["spearman_rating_ci95"] = _interval(dist) if len(dist) else None
    return out


def _interval(dist: np.ndarray) -> list[float]:
    return [float(np.percentile(dist, 2.5)), float(np.percentile(dist, 97.5))]
