"""A ShopBench task whose rows carry different metrics (translation rows scored with BLEU, a Japanese one with
jp-BLEU) is scored as the official scorer does: each row with its own metric, the task as the mean of the rows."""

import json
from pathlib import Path

import numpy as np
import pytest

from shoptune.evaluation.collect import collect_items
from shoptune.evaluation.items import load_shopbench
from shoptune.evaluation.lm import LMScorer
from shoptune.evaluation.metrics import get_metric
from shoptune.evaluation.parsing import UNPARSED, Parsed
from shoptune.evaluation.runner import evaluate, score, write_results
from shoptune.io import OutputError
from shoptune.testing import make_tiny_causal_lm

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MIXED = FIXTURES / "shopbench_mixed_metrics.jsonl"


def test_mixed_task_scores_each_row_with_its_own_metric():
    items = load_shopbench(MIXED)
    translation = [i for i in items if i.task == "title_translation"]
    assert [i.metrics[0] for i in translation] == ["bleu", "bleu", "jp-bleu", "bleu"]
    # Exact answers for two rows (one of them the jp-bleu row), a partial one, and an unparsed one.
    answers = {0: "Edelstahl-Trinkflasche, 750 ml", 1: "Souris sans fil noire", 2: "綿のバスタオル 3枚セット ホワイト"}
    pairs = []
    for i, item in enumerate(items):
        if item.task != "title_translation":
            pairs.append(("1", Parsed(value=int(item.target), ok=True)))
        elif i in answers:
            pairs.append((answers[i], Parsed(value=answers[i], ok=True)))
        else:
            pairs.append(("", UNPARSED))
    result = score(items, pairs, n_resamples=200)
    expected_rows = [
        get_metric(item.metrics[0]).score_parsed(parsed, item.target)
        for item, (_, parsed) in zip(items, pairs, strict=True)
        if item.task == "title_translation"
    ]
    task = result.metrics["tasks"]["title_translation"]
    assert task["score"] == pytest.approx(float(np.mean(expected_rows)))
    assert expected_rows[2] == pytest.approx(1.0)  # the Japanese row, scored with jp-bleu
    assert task["n"] == 4 and task["unparsed"] == 1
    assert task["metric"] == "mean of bleu, jp-bleu"
    assert task["row_metrics"] == {"bleu": 3, "jp-bleu": 1}
    lo, hi = task["ci95"]
    assert lo <= task["score"] <= hi and lo < hi
    # Homogeneous tasks keep their own aggregation and metric name.
    assert result.metrics["tasks"]["concept_mc"]["metric"] == "accuracy"
    assert result.metrics["tasks"]["concept_mc"]["score"] == 1.0


def test_mixed_task_runs_end_to_end_on_the_tiny_model(tmp_path):
    model, tokenizer = make_tiny_causal_lm(seed=0)
    items = collect_items([f"shopbench:{MIXED}"])
    result = evaluate(items, LMScorer(model, tokenizer, batch_size=4, max_length=256), n_resamples=50)
    write_results(result, tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    metrics = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    # predictions.jsonl records each row's own metric, and the task score is the mean of the row scores.
    assert [r["metric"] for r in rows] == [i.metrics[0] for i in items]
    assert [r["metric"] for r in rows if r["task"] == "title_translation"] == ["bleu", "bleu", "jp-bleu", "bleu"]
    scores = [r["score"] for r in rows if r["task"] == "title_translation"]
    assert metrics["tasks"]["title_translation"]["score"] == pytest.approx(sum(scores) / len(scores))
    assert set(metrics["tasks"]) == {"title_translation", "concept_mc", "review_rating"}
    # The 1-to-5 rating question is answered with one of 1..5, never with an option index.
    rating = next(r for r in rows if r["task"] == "review_rating")
    assert rating["parsed"] in range(1, 6)


def test_rating_question_answers_are_option_numbers_in_both_scoring_paths():
    items = [i for i in load_shopbench(MIXED) if i.task == "review_rating"]
    from shoptune.evaluation.runner import _choice_answer, parse_answer

    raw, parsed = _choice_answer(items[0], [-5.0, -4.0, -3.0, -2.0, -1.0])  # the likelihood path picks "5"
    assert (raw, parsed.value) == ("5", 5)
    assert parse_answer(items[0], "5").value == 5  # the generation path
    assert not parse_answer(items[0], "0").ok  # 0 is not on the scale


def test_results_are_written_through_shoptune_io(tmp_path):
    items = load_shopbench(FIXTURES / "shopbench_sample.jsonl")[:1]
    result = score(items, [("1", Parsed(value=1, ok=True))], n_resamples=10)
    (tmp_path / "metrics.json").mkdir()  # a folder where the file goes: one clear line, nothing left behind
    with pytest.raises(OutputError, match=r"did not write \(e\.g\. metrics\.json\)"):
        write_results(result, tmp_path)
    assert not [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name]
