"""Bootstrap intervals: determinism, coverage of the point estimate, pooled statistics, vectorised and
looped paths."""

from __future__ import annotations

import time

import numpy as np
import pytest

from shoptune.evaluation import bootstrap as B
from shoptune.evaluation.bootstrap import bootstrap_ci, bootstrap_distribution
from shoptune.evaluation.metrics import (
    ecom_macro_f1_statistic,
    encode_label_pairs,
    get_metric,
    label_macro_f1_statistic,
    macro_f1,
    micro_f1_from_counts,
    micro_f1_statistic,
)

RNG = np.random.default_rng(123)
SCORES = RNG.random(200)
COUNTS = np.stack([RNG.integers(0, 4, 300), RNG.integers(0, 3, 300), RNG.integers(0, 3, 300)], axis=1)
LABELS = ["exact", "partial", "irrelevant"]
GOLDS = [LABELS[i] for i in RNG.integers(0, 3, 240)]
PREDS = [g if RNG.random() < 0.7 else (None if RNG.random() < 0.3 else LABELS[RNG.integers(0, 3)]) for g in GOLDS]


def test_deterministic_for_a_seed() -> None:
    assert bootstrap_ci(SCORES, seed=7) == bootstrap_ci(SCORES, seed=7)
    assert bootstrap_ci(SCORES, seed=7) != bootstrap_ci(SCORES, seed=8)
    assert bootstrap_distribution(SCORES, n_resamples=50).shape == (50,)


def test_mean_interval_contains_the_point_estimate() -> None:
    lo, hi = bootstrap_ci(SCORES)
    assert lo < SCORES.mean() < hi
    # the standard error of a mean of 200 U(0,1) draws is ~0.02: the 95% interval is about ±0.04 wide
    assert 0.04 < hi - lo < 0.12


def test_constant_values_give_a_point_interval() -> None:
    assert bootstrap_ci([1.0, 1.0, 1.0]) == (1.0, 1.0)


def test_micro_f1_interval_from_count_rows() -> None:
    point = micro_f1_from_counts(COUNTS)
    lo, hi = bootstrap_ci(COUNTS, micro_f1_statistic)
    assert lo < point < hi
    assert lo >= 0.0 and hi <= 1.0


def test_ecom_macro_and_label_macro_intervals() -> None:
    lo, hi = bootstrap_ci(COUNTS, ecom_macro_f1_statistic)
    assert lo < float(ecom_macro_f1_statistic(COUNTS)) < hi
    codes = encode_label_pairs(PREDS, GOLDS)
    lo, hi = bootstrap_ci(codes, label_macro_f1_statistic)
    assert lo < macro_f1(PREDS, GOLDS) < hi


def test_vectorised_and_looped_paths_agree() -> None:
    # Same seed, same indices: the looped statistic (no `axis`) must give the same distribution.
    def looped_micro_f1(rows: np.ndarray) -> float:
        return micro_f1_from_counts(rows)

    vectorised = bootstrap_distribution(COUNTS, micro_f1_statistic, n_resamples=100, seed=3)
    looped = bootstrap_distribution(COUNTS, looped_micro_f1, n_resamples=100, seed=3)
    np.testing.assert_allclose(vectorised, looped)
    assert bootstrap_ci(SCORES, np.mean, vectorized=False) == pytest.approx(bootstrap_ci(SCORES, np.mean))


def test_chunking_keeps_results_deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(B, "_CHUNK_ELEMENTS", 1000)  # forces many small chunks
    first = bootstrap_ci(COUNTS, micro_f1_statistic, seed=5)
    assert first == bootstrap_ci(COUNTS, micro_f1_statistic, seed=5)
    assert first[0] < micro_f1_from_counts(COUNTS) < first[1]


def test_metric_ci_uses_the_metric_statistic() -> None:
    metric = get_metric("micro f1")
    rows = [tuple(int(x) for x in row) for row in COUNTS]
    lo, hi = metric.ci(rows, n_resamples=500, seed=0)
    assert lo < metric.aggregate(rows) < hi
    assert (lo, hi) == bootstrap_ci(COUNTS, micro_f1_statistic, n_resamples=500, seed=0)
    macro = get_metric("macro_f1")
    pairs = [macro.score(p, g) for p, g in zip(PREDS, GOLDS, strict=True)]
    lo, hi = macro.ci(pairs)
    assert lo < macro.aggregate(pairs) < hi


def test_large_input_is_fast() -> None:
    rows = np.ones((5_000, 3))
    start = time.perf_counter()
    bootstrap_ci(rows, micro_f1_statistic)
    assert time.perf_counter() - start < 10.0


@pytest.mark.parametrize(
    ("values", "kwargs", "message"),
    [
        ([], {}, "at least one example"),
        ([1.0], {"n_resamples": 0}, "n_resamples"),
        ([1.0], {"confidence": 1.0}, "confidence"),
    ],
)
def test_invalid_arguments(values: list[float], kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bootstrap_ci(values, **kwargs)
