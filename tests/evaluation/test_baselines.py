"""Every choice task's score comes with its trivial baselines: the majority gold answer and the model's own most
frequent answer; a model that gives one answer to 90% or more of the items is flagged."""

from __future__ import annotations

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
