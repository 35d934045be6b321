"""The evaluation engine on a tiny random model: batch-size invariance, file formats, and metrics.json
agreeing with an independent recomputation from predictions.jsonl."""

import json
import math
from pathlib import Path

import pytest
from rouge_score import rouge_scorer

from shoptune.evaluation.collect import collect_items
from shoptune.evaluation.items import load_shopbench
from shoptune.evaluation.lm import LMScorer
from shoptune.evaluation.runner import evaluate, write_results
from shoptune.testing import make_tiny_causal_lm

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "shopbench_sample.jsonl"


@pytest.fixture(scope="module")
def tiny():
    return make_tiny_causal_lm(seed=0)


def _scorer(tiny, batch_size):
    model, tokenizer = tiny
    return LMScorer(model, tokenizer, batch_size=batch_size, max_length=256)


def test_shopbench_file_loads_unchanged():
    items = load_shopbench(FIXTURE)
    assert [i.kind for i in items][:5] == ["multiple_choice", "multiple_choice", "retrieval", "ranking", "ner"]
    assert items[0].choices == ["0", "1", "2", "3"] and items[1].choices == ["0", "1", "2"]
    assert items[0].group == "understanding shopping concepts"


def test_results_do_not_depend_on_batch_size(tiny, demo_data):
    items = load_shopbench(FIXTURE) + collect_items(["hd_relevance_mc"], data_root=demo_data, limit=12)
    a = evaluate(items, _scorer(tiny, 1), n_resamples=50)
    b = evaluate(items, _scorer(tiny, 5), n_resamples=50)
    assert [p.raw for p in a.predictions] == [p.raw for p in b.predictions]
    assert a.metrics["tasks"] == b.metrics["tasks"]


def test_single_token_fast_path_matches_full_sequence_scoring(tiny):
    scorer = _scorer(tiny, 4)
    prompts = ["Pick one.\n0. a\n1. b\nAnswer:", "Another question\n0. x\n1. y\n2. z\nAnswer:"]
    fast = scorer.choice_logprobs(prompts, [["0", "1"], ["0", "1", "2"]])
    # Forcing the multi-token path: options that share a first token are scored as sequences.
    slow = scorer.choice_logprobs(prompts, [["0", "1", "0 1"], ["0", "1", "2", "2 2"]])
    for f, s in zip(fast, slow, strict=True):
        assert all(math.isclose(x, y, abs_tol=1e-4) for x, y in zip(f, s[: len(f)], strict=False))


def _ndcg(pred, gains):
    dcg = sum(
        (2 ** (gains[i - 1] if 1 <= i <= len(gains) else 0) - 1) / math.log2(r + 2)
        for r, i in enumerate(pred[: len(gains)])
    )
    ideal = sum((2**g - 1) / math.log2(r + 2) for r, g in enumerate(sorted(gains, reverse=True)))
    return dcg / ideal if ideal else 0.0


def test_metrics_json_agrees_with_independent_recomputation(tiny, tmp_path):
    items = load_shopbench(FIXTURE)
    result = evaluate(items, _scorer(tiny, 3), n_resamples=50)
    write_results(result, tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert len(rows) == len(items) and [r["task"] for r in rows] == [i.task for i in items]
    rouge = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    by_task: dict[str, list] = {}
    for r in rows:
        by_task.setdefault(r["task"], []).append(r)
    for task, task_rows in by_task.items():
        metric = task_rows[0]["metric"]
        if metric == "accuracy":
            expected = sum(r["parsed"] == r["target"] for r in task_rows) / len(task_rows)
        elif metric == "hit rate@3":
            expected = sum(
                len(set(r["target"]) & set((r["parsed"] or [])[:3])) / len(r["target"]) for r in task_rows
            ) / len(task_rows)
        elif metric == "ndcg":
            expected = sum(_ndcg(r["parsed"], r["target"]) if r["parsed"] else 0.0 for r in task_rows) / len(task_rows)
        elif metric == "micro f1":
            tp = fp = fn = 0
            for r in task_rows:
                pred = {p.strip().lower() for p in (r["parsed"] or [""])}
                gold = {t.strip().lower() for t in r["target"]}
                tp, fp, fn = tp + len(pred & gold), fp + len(pred - gold), fn + len(gold - pred)
            expected = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        elif metric == "rougel":
            expected = sum(rouge.score(r["target"], r["parsed"] or "")["rougeL"].fmeasure for r in task_rows) / len(
                task_rows
            )
        else:
            continue
        assert metrics["tasks"][task]["score"] == pytest.approx(expected, abs=1e-9), task
        assert metrics["tasks"][task]["n"] == len(task_rows)
    groups = {}
    for info in metrics["tasks"].values():
        groups.setdefault(info["group"], []).append(info["score"])
    assert metrics["groups"] == pytest.approx({g: sum(v) / len(v) for g, v in groups.items()})
    assert metrics["overall"] == pytest.approx(sum(metrics["groups"].values()) / len(groups))
    for info in metrics["tasks"].values():
        lo, hi = info["ci95"]
        assert lo <= info["score"] + 1e-9 and info["score"] <= hi + 1e-9


def test_shared_prompt_scoring_matches_a_full_forward_pass_per_option(tiny):
    import torch

    scorer = _scorer(tiny, 4)
    prompt, options = "Which department?\nAnswer:", [" personal care", " babies", " dry goods pasta"]
    got = scorer.choice_logprobs([prompt], [options])[0]
    model, tokenizer = tiny
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    for option, score in zip(options, got, strict=True):
        full = tokenizer(prompt + option, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logprobs = torch.log_softmax(model(input_ids=torch.tensor([full])).logits[0].float(), dim=-1)
        want = sum(float(logprobs[k - 1, full[k]]) for k in range(len(prompt_ids), len(full)))
        assert math.isclose(score, want, abs_tol=1e-4)


def test_a_batch_sharing_an_instruction_scores_as_each_prompt_alone(tiny):
    """The common prefix of a group's prompts runs once per batch (its KV cache shared, issue 23); every score is
    the score of that prompt scored alone, whatever the batch, the grouping and the padding."""
    from shoptune.evaluation import lm

    instruction = "Decide whether the product matches the shopper's query. Options: 0. exact 1. partial 2. no\n"
    texts = ["cordless drill", "red mug with a handle", "a", "18 volt lithium ion battery pack charger"]
    prompts = [f"{instruction}Query: {t}\nAnswer:" for t in texts] + ["Short other task?\nAnswer:"]
    options = [["0", "1", "2"]] * 4 + [["0", "1"]]
    groups = ["match"] * 4 + ["other"]
    batched = _scorer(tiny, 8).choice_logprobs(prompts, options, groups=groups)
    alone = [_scorer(tiny, 1).choice_logprobs([p], [o])[0] for p, o in zip(prompts, options, strict=True)]
    for got, want in zip(batched, alone, strict=True):
        assert all(math.isclose(x, y, abs_tol=1e-4) for x, y in zip(got, want, strict=True))
    model, tokenizer = tiny
    ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts[:4]]
    assert lm._common_prefix(ids) >= lm.MIN_SHARED_PREFIX  # the shared path really ran
    assert lm._common_prefix([[1, 2, 3], [1, 2, 3]]) == 2  # each row keeps its last token to score
