"""Scoring relevance predictions: accuracy, macro-F1, per-label F1, confusion matrix and bootstrap CIs,
per task and overall, with the project's metric functions.

``overall`` pools every pair; ``mean_over_tasks`` averages the task scores (each task counts once, the
headline of the multi-task studies), its CI from per-task bootstrap distributions averaged.

Example:
    >>> m = pair_metrics(["exact", "partial", "exact"], ["exact", "exact", "exact"], n_resamples=50)
    >>> round(m["accuracy"], 3), m["n"], m["confusion_matrix"]["matrix"][0]
    (0.667, 3, [2, 1, 0])
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shoptune.evaluation.metrics import (
    confusion_matrix,
    encode_label_pairs,
    label_accuracy_statistic,
    label_macro_f1_statistic,
    per_label_f1,
)
from shoptune.evaluation.statistics import bootstrap_distribution
from shoptune.io import atomic_open, atomic_write_json
from shoptune.records import LABELS
from shoptune.relevance.data import Pair
from shoptune.relevance.predict import Predictor, prediction_row

STATISTICS: dict[str, Callable[..., np.ndarray]] = {
    "accuracy": label_accuracy_statistic,
    "macro_f1": label_macro_f1_statistic,
}


def _interval(dist: np.ndarray) -> list[float]:
    return [float(np.percentile(dist, 2.5)), float(np.percentile(dist, 97.5))]


def pair_metrics(
    predictions: Sequence[str], targets: Sequence[str], *, n_resamples: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """All metrics of one set of pairs; also returns the bootstrap distributions under ``_dist`` (dropped on write)."""
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
    out["_dist"] = dists
    return out


def score_predictions(
    tasks: Sequence[str],
    predictions: Sequence[str],
    targets: Sequence[str],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Per-task metrics, pooled ``overall`` and ``mean_over_tasks`` (with CIs)."""
    by_task: dict[str, list[int]] = defaultdict(list)
    for i, task in enumerate(tasks):
        by_task[task].append(i)
    per_task = {}
    for k, (task, idx) in enumerate(sorted(by_task.items())):
        per_task[task] = pair_metrics(
            [predictions[i] for i in idx], [targets[i] for i in idx], n_resamples=n_resamples, seed=seed + 1 + k
        )
    overall = pair_metrics(predictions, targets, n_resamples=n_resamples, seed=seed)
    mean: dict[str, Any] = {"tasks": len(per_task)}
    for name in STATISTICS:
        mean[name] = float(np.mean([m[name] for m in per_task.values()]))
        mean[f"{name}_ci95"] = _interval(np.mean([m["_dist"][name] for m in per_task.values()], axis=0))
    for m in (*per_task.values(), overall):
        m.pop("_dist")
    return {"overall": overall, "mean_over_tasks": mean, "tasks": per_task}


def evaluate_pairs(
    predictor: Predictor,
    pairs: Sequence[Pair],
    out: str | Path,
    *,
    extra: dict[str, Any] | None = None,
    n_resamples: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Score labelled ``pairs`` with ``predictor``; write ``metrics.json`` and ``predictions.jsonl`` into ``out``."""
    if any(p.label is None for p in pairs):
        raise ValueError("evaluate_pairs needs gold labels on every pair")
    probs = predictor.predict_proba(pairs, progress)
    preds = [LABELS[i] for i in probs.argmax(axis=-1)]
    metrics = score_predictions([p.task for p in pairs], preds, [p.label or "" for p in pairs], n_resamples=n_resamples)
    metrics = {**(extra or {}), **metrics}
    write_outputs(out, metrics, (prediction_row(p, pr) for p, pr in zip(pairs, probs, strict=True)))
    return metrics


def write_outputs(out: str | Path, metrics: dict[str, Any], rows: Any) -> None:
    """metrics.json and predictions.jsonl, each written to a temp file and renamed (never half-written)."""
    out = Path(out)
    with atomic_open(out / "predictions.jsonl") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    atomic_write_json(out / "metrics.json", metrics)


def read_predictions(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a predictions.jsonl (a folder is taken to hold one)."""
    path = Path(path)
    if path.is_dir():
        path = path / "predictions.jsonl"
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
