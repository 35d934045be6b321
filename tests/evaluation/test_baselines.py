"""Every choice task's score comes with its trivial baselines: the majority gold answer and the model's own most
frequent answer; a model that gives one answer to 90% or more of the items is flagged."""

from __future__ import annotations

import pytest

from shoptune.evaluation.items import EvalItem
from shoptune.evaluation.parsing import Parsed
from shoptune.evaluation.runner import score


def _items(targets: list[int]) -> list[EvalItem]:
    return [
        EvalItem(
            task="t",
            group="g",
            kind="multiple_choice",
            prompt=f"q{i}",
            target=t,
            metrics=["accuracy"],
            choices=["0", "1", "2"],
        )
        for i, t in enumerate(targets)
    ]


def test_a_constant_model_is_flagged_beside_the_majority_score():
    items = _items([0] * 6 + [1] * 3 + [2])
    answers = [("0", Parsed(value=0, ok=True))] * 10  # one answer everywhere: 0.6, which is just the majority
    task = score(items, answers, n_resamples=20).metrics["tasks"]["t"]
    assert task["score"] == 0.6
    assert task["majority"] == {"answer": 0, "score": 0.6}
    assert task["model_mode"] == {"answer": 0, "share": 1.0, "score": 0.6}
    assert task["constant"] is True


def test_a_model_that_varies_is_not_flagged():
    items = _items([0] * 6 + [1] * 3 + [2])
    answers = [(str(t), Parsed(value=t, ok=True)) for t in [0] * 6 + [1] * 3 + [2]]
    task = score(items, answers, n_resamples=20).metrics["tasks"]["t"]
    assert task["score"] == 1.0 and task["model_mode"]["share"] == 0.6 and task["constant"] is False


def test_choice_tasks_scored_by_accuracy_get_macro_f1_beside_it(demo_data, tmp_path):
    """Issue 21, point 6: a registered multiple-choice task whose YAML names accuracy alone (hd_relevance_mc) is
    scored with macro-F1 too; a constant answer then shows as a low macro-F1 beside a fair-looking accuracy."""
    from shoptune.data.build import BuildConfig, build
    from shoptune.data.store import load_records
    from shoptune.evaluation.items import items_from_records
    from shoptune.tasks import load_tasks

    build(BuildConfig(data_root=str(demo_data), tasks=["hd_relevance_mc"]), tmp_path / "data")
    spec = load_tasks()["hd_relevance_mc"]
    assert spec.metric == ["accuracy"]
    items = items_from_records(spec, load_records(tmp_path / "data", "hd_relevance_mc", "test"))
    assert all(item.metrics == ["accuracy", "macro_f1"] for item in items)
    targets = [item.target for item in items]
    mode = max(set(targets), key=targets.count)
    answers = [(str(mode), Parsed(value=mode, ok=True))] * len(items)
    task = score(items, answers, n_resamples=20).metrics["tasks"]["hd_relevance_mc"]
    share = targets.count(mode) / len(targets)
    assert task["score"] == share
    # one class with F1 2s/(1+s), the others 0: macro-F1 over the gold labels seen
    assert task["extra"]["macro_f1"] == pytest.approx(2 * share / (1 + share) / len(set(targets)))
