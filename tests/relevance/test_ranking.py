"""Ranking metrics of query-product tasks against hand-computed NDCG@10 and scipy's Spearman."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from shoptune.relevance.data import Pair
from shoptune.relevance.ranking import GAINS, expected_gain, ranking_metrics, ranking_tasks

E, P, I = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]  # noqa: E741


def _pairs(spec: list[tuple[str, str, list[float]]], ratings: list[float] | None = None):
    pairs, probs = [], []
    for i, (query, label, p) in enumerate(spec):
        meta = {"query": query} if query else {}
        if ratings is not None:
            meta["rating"] = ratings[i]
        pairs.append(Pair(str(i), "t", query or "some query", f"product {i}", label, meta))
        probs.append(p)
    return pairs, np.array(probs)


def test_gains_follow_the_esci_convention() -> None:
    assert GAINS == {"exact": 1.0, "partial": 0.1, "irrelevant": 0.0}
    assert expected_gain(np.array([[0.5, 0.5, 0.0]])).tolist() == [pytest.approx(0.55)]


def test_ndcg_at_10_per_query_against_hand_computation() -> None:
    pairs, probs = _pairs(
        [
            # query A ranks partial (0.91) over exact (0.55) over irrelevant (0)
            ("q:A", "partial", [0.9, 0.1, 0.0]),
            ("q:A", "exact", [0.5, 0.5, 0.0]),
            ("q:A", "irrelevant", I),
            # query B is ranked perfectly
            ("q:B", "irrelevant", [0.1, 0.0, 0.9]),
            ("q:B", "exact", E),
            # one pair: nothing to rank; only irrelevant pairs: no gain to find
            ("q:C", "exact", E),
            ("q:D", "irrelevant", P),
            ("q:D", "irrelevant", E),
        ]
    )
    out = ranking_metrics(pairs, probs, n_resamples=200)
    dcg_a = 0.1 / math.log2(2) + 1.0 / math.log2(3)
    idcg_a = 1.0 / math.log2(2) + 0.1 / math.log2(3)
    assert out["ndcg@10"] == pytest.approx((dcg_a / idcg_a + 1.0) / 2)
    assert out["ndcg_queries"] == 2 and out["ndcg_queries_skipped"] == {"single_pair": 1, "no_gain": 1}
    # Chance: a random order of A's gains (1, 0.1, 0) puts each at each position with probability 1/3.
    discounts = [1 / math.log2(r + 1) for r in (1, 2, 3)]
    random_a = (1.1 / 3) * sum(discounts) / idcg_a
    random_b = 0.5 * sum(discounts[:2]) / 1.0
    assert out["ndcg@10_random"] == pytest.approx((random_a + random_b) / 2)
    lo, hi = out["ndcg@10_ci95"]
    assert dcg_a / idcg_a - 1e-9 <= lo <= out["ndcg@10"] <= hi <= 1.0 + 1e-9  # queries resampled
    assert "spearman_rating" not in out  # no ratings on these pairs


def test_ndcg_cuts_at_10_and_shares_gains_of_tied_scores() -> None:
    # Twelve pairs of one query: the only exact one ranked 11th is outside the top 10.
    spec = [("q:A", "irrelevant", [0.0, 1.0 - i / 20, i / 20]) for i in range(10)]
    spec += [("q:A", "exact", [0.0, 0.2, 0.8]), ("q:A", "irrelevant", I)]
    pairs, probs = _pairs(spec)
    assert ranking_metrics(pairs, probs, n_resamples=20)["ndcg@10"] == 0.0
    # Two pairs with the same score: each position gets the mean gain (0.5).
    pairs, probs = _pairs([("q:A", "exact", P), ("q:A", "irrelevant", P)])
    expected = (0.5 / math.log2(2) + 0.5 / math.log2(3)) / 1.0
    assert ranking_metrics(pairs, probs, n_resamples=20)["ndcg@10"] == pytest.approx(expected)


def test_queries_fall_back_to_the_left_text() -> None:
    pairs = [Pair("0", "t", "Red  Mug", "a", "exact"), Pair("1", "t", "red mug", "b", "irrelevant")]
    out = ranking_metrics(pairs, np.array([I, E]), n_resamples=20)
    assert out["ndcg_queries"] == 1 and out["ndcg@10"] < 1.0  # one query, ranked the wrong way round


def test_spearman_with_the_raw_rating_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    spec, ratings = [], []
    for q in range(30):
        for _ in range(4):
            rating = float(rng.choice([1.0, 1.33, 1.67, 2.0, 2.33, 2.67, 3.0]))
            label = "exact" if rating >= 2.5 else "partial" if rating >= 1.75 else "irrelevant"
            p_exact = np.clip((rating - 1) / 2 + rng.normal(0, 0.2), 0, 1)
            spec.append((f"q:{q}", label, [p_exact, (1 - p_exact) / 2, (1 - p_exact) / 2]))
            ratings.append(rating)
    pairs, probs = _pairs(spec, ratings)
    out = ranking_metrics(pairs, probs, n_resamples=200)
    expected = spearmanr(expected_gain(probs), ratings).statistic
    assert out["spearman_rating"] == pytest.approx(expected) and out["spearman_n"] == 120
    lo, hi = out["spearman_rating_ci95"]
    assert 0.3 < lo < expected < hi < 1.0
    # Only some pairs rated (mixed sources): no correlation is claimed.
    pairs[0] = Pair("0", "t", "x", "y", "exact", {"query": "q:0"})
    assert "spearman_rating" not in ranking_metrics(pairs, probs, n_resamples=20)


def test_query_product_tasks_by_tag_or_view() -> None:
    sources = {
        "hd_query_product": {"adapter": "home_depot", "view": "query_product"},
        "hd_query_query": {"adapter": "home_depot", "view": "query_query"},
        "my_task": {"adapter": "home_depot", "view": "query_product"},
    }
    assert ranking_tasks(sources, ["wands_query_class"]) == {"hd_query_product", "my_task"}
