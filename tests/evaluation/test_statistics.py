"""Bootstrap intervals: determinism, coverage of the point estimate, pooled statistics, vectorised and
looped paths."""

from __future__ import annotations

import time

import numpy as np
import pytest

from shoptune.evaluation import statistics as B
from shoptune.evaluation.metrics import (
    ecom_macro_f1_statistic,
    encode_label_pairs,
    get_metric,
    label_macro_f1_statistic,
    macro_f1,
    micro_f1_from_counts,
    micro_f1_statistic,
)
from shoptune.evaluation.statistics import bootstrap_ci, bootstrap_distribution

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


# ---------------------------------------------------------------------------------------- paired contrasts
def _prediction_rows(task: str, metric: str, rows: list, targets: list) -> list[dict]:
    """Rows as predictions.jsonl holds them (tuples became lists in JSON)."""
    from shoptune.evaluation.runner import example_score, jsonable

    return [
        {"task": task, "metric": metric, "row": jsonable(r), "score": example_score(r), "target": t}
        for r, t in zip(rows, targets, strict=True)
    ]


def test_paired_delta_of_a_pooled_metric_equals_the_difference_of_the_printed_scores():
    """Micro-F1 pools counts over examples: its delta is not the mean of per-example F1 differences."""
    m = get_metric("micro f1")
    targets = [["a"], ["b", "c"], ["d"], ["e", "f", "g"]]
    base = [(0, 2, 1), (1, 0, 1), (0, 1, 1), (1, 3, 2)]
    tuned = [(1, 0, 0), (1, 1, 1), (1, 0, 0), (2, 1, 1)]
    runs = [B.task_rows(_prediction_rows("ner", "micro f1", r, targets)) for r in (base, tuned)]
    result = B.paired_runs_contrast(runs, (-1.0, 1.0), ["ner"], n_resamples=300)
    printed = m.aggregate(tuned) - m.aggregate(base)
    assert result["delta"] == pytest.approx(printed)
    assert runs[1]["ner"].score == pytest.approx(m.aggregate(tuned))
    lo, hi = result["ci95"]
    assert lo <= printed <= hi
    from shoptune.evaluation.runner import example_score

    mean_of_rows = np.mean([example_score(t) - example_score(b) for b, t in zip(base, tuned, strict=True)])
    assert abs(mean_of_rows - printed) > 0.01  # what the old held-out comparison reported instead


def test_paired_delta_of_label_macro_f1_and_of_mixed_metric_tasks():
    m = get_metric("macro_f1")
    gold = ["x", "y", "x", "z", "y", "x"]
    a = [(p, g) for p, g in zip(["x", "x", "x", "x", "y", "y"], gold, strict=True)]
    b = [(p, g) for p, g in zip(["x", "y", "x", "z", "x", "x"], gold, strict=True)]
    runs = [B.task_rows(_prediction_rows("cls", "macro_f1", r, gold)) for r in (a, b)]
    assert B.paired_runs_contrast(runs, (-1, 1), ["cls"], n_resamples=200)["delta"] == pytest.approx(
        m.aggregate(b) - m.aggregate(a)
    )
    mixed = _prediction_rows("tr", "bleu", [0.2, 0.4], ["x", "y"]) + _prediction_rows("tr", "jp-bleu", [0.9], ["z"])
    rows = B.task_rows(mixed)["tr"]
    assert rows.metric.startswith("mean of") and rows.score == pytest.approx(0.5)


def test_contrasts_refuse_runs_on_different_items():
    a = B.task_rows(_prediction_rows("t", "accuracy", [1.0, 0.0], ["p", "q"]))
    b = B.task_rows(_prediction_rows("t", "accuracy", [1.0, 1.0], ["p", "r"]))
    with pytest.raises(ValueError, match="same items"):
        B.paired_runs_contrast([a, b], (-1, 1), ["t"])


def test_slope_and_interaction_are_weighted_contrasts_of_paired_runs():
    runs = [
        B.task_rows(_prediction_rows("t", "accuracy", v, list("abcd")))
        for v in (
            [0.0, 0.0, 0.0, 1.0],
            [0.0, 1.0, 0.0, 1.0],
            [1.0, 1.0, 0.0, 1.0],
        )
    ]
    # slope over steps 0, 1, 2: weights (x - mean) / sum((x - mean)^2) = (-0.5, 0, 0.5)
    slope = B.paired_runs_contrast(runs, (-0.5, 0.0, 0.5), ["t"], n_resamples=300)
    assert slope["delta"] == pytest.approx(0.25)
    assert B.mcnemar([True, False], [True, False])["p_value"] == 1.0
