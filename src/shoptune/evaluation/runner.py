"""Run evaluation items through a model and score them: the engine behind `shoptune eval`.

Example:
    >>> from shoptune.evaluation.lm import LMScorer
    >>> result = evaluate(items, LMScorer(model, tokenizer))   # doctest: +SKIP
    >>> result.metrics["overall"]                               # doctest: +SKIP
    0.41
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shoptune.evaluation.items import EvalItem
from shoptune.evaluation.lm import LMScorer
from shoptune.evaluation.metrics import get_metric
from shoptune.evaluation.parsing import (
    UNPARSED,
    Parsed,
    parse_generation,
    parse_label,
    parse_label_set,
    parse_multiple_choice,
    parse_ner,
    parse_ranking,
    parse_retrieval,
)
from shoptune.evaluation.statistics import CONSTANT_SHARE, bootstrap_distribution
from shoptune.io import atomic_write_text, open_folder, refuse_dir
from shoptune.tasks.prompts import chat_prompt
from shoptune.training.examples import end_of_answer

Progress = Callable[[int], None]


@dataclass
class Prediction:
    item: EvalItem
    raw: str
    parsed: Parsed[Any]
    rows: dict[str, Any]


@dataclass
class EvalResult:
    predictions: list[Prediction]
    metrics: dict[str, Any]


# ------------------------------------------------------------------------------------------ parsing
def parse_answer(item: EvalItem, raw: str) -> Parsed[Any]:
    """Read a generated answer the way the item's kind expects it (conservatively: else UNPARSED)."""
    kind = item.kind
    if kind == "multiple_choice":
        # The answer is the option's number as the prompt lists it (0-3, or 1-5 on a rating scale).
        parsed = parse_multiple_choice(raw)
        return parsed if not item.choices or str(parsed.value) in item.choices else UNPARSED
    if kind == "classification":
        if item.labels:
            index = parse_multiple_choice(raw, len(item.labels))
            if index.ok:
                return Parsed(value=item.labels[index.value], ok=True)
            return parse_label(raw, item.labels)
        return parse_generation(raw)
    if kind == "retrieval":
        return parse_retrieval(raw)
    if kind == "ranking":
        return parse_ranking(raw, max_items=item.n_items or 5)
    if kind == "ner":
        return parse_ner(raw)
    if kind in ("ecom_cls", "ecom_span"):
        return parse_label_set(raw, item.meta.get("label_sep", ", "))
    return parse_generation(raw)


def _choice_answer(item: EvalItem, logprobs: Sequence[float]) -> tuple[str, Parsed[Any]]:
    best = int(np.argmax(logprobs))
    raw = item.choices[best] if item.choices else str(best)
    value: Any = item.labels[best] if item.kind == "classification" and item.labels else best
    if item.kind == "multiple_choice" and raw.isdecimal():
        value = int(raw)  # the option's number, which is what the target holds ("5" on a 1-5 scale is not index 5)
    return raw, Parsed(value=value, ok=True)


# ------------------------------------------------------------------------------------------ running
def scored_options(choices: Sequence[str], end: str) -> list[str]:
    """The option texts as scored. Where one option begins another ("1" and "12" of a 20-option question), a summed
    log-probability always ranks the shorter one higher, so the longer could never be chosen: each option is then
    scored followed by ``end``, the end-of-answer marker an SFT model is trained to emit after its answer. Option
    sets where no option begins another (letters, up to ten numbers) are scored unchanged, as lm-evaluation-harness
    scores its own formulation.

    >>> scored_options(["0", "1", "2"], "<|im_end|>")
    ['0', '1', '2']
    >>> scored_options([str(i) for i in range(12)], "<|im_end|>")[10:]
    ['10<|im_end|>', '11<|im_end|>']
    """
    if end and any(a != b and b.startswith(a) for a in choices for b in choices):
        return [c + end for c in choices]
    return list(choices)


def run_model(
    items: Sequence[EvalItem], scorer: LMScorer, *, generate_choices: bool = False, progress: Progress | None = None
) -> list[tuple[str, Parsed[Any]]]:
    """Answers for every item, in input order: likelihood for choice items, generation for the rest."""
    answers: list[tuple[str, Parsed[Any]] | None] = [None] * len(items)
    prompts = [chat_prompt(scorer.tokenizer, item.prompt) for item in items]
    choice_idx = [i for i, it in enumerate(items) if it.choices and not generate_choices]
    gen_idx = [i for i, it in enumerate(items) if not (it.choices and not generate_choices)]
    if choice_idx:
        end = end_of_answer(scorer.tokenizer)
        options = [scored_options(items[i].choices or [], end) for i in choice_idx]
        scores = scorer.choice_logprobs(
            [prompts[i] for i in choice_idx], options, progress=progress, groups=[items[i].task for i in choice_idx]
        )
        for i, logprobs in zip(choice_idx, scores, strict=True):
            answers[i] = _choice_answer(items[i], logprobs)
    if gen_idx:
        texts = scorer.generate(
            [prompts[i] for i in gen_idx], [items[i].max_new_tokens for i in gen_idx], progress=progress
        )
        for i, raw in zip(gen_idx, texts, strict=True):
            answers[i] = (raw, parse_answer(items[i], raw))
    return [a if a is not None else ("", UNPARSED) for a in answers]


def score(
    items: Sequence[EvalItem], answers: Sequence[tuple[str, Parsed[Any]]], *, n_resamples: int = 1000, seed: int = 0
) -> EvalResult:
    """Per-example metric rows, per-task scores with bootstrap CIs, group means and the overall mean."""
    predictions = []
    for item, (raw, parsed) in zip(items, answers, strict=True):
        rows = {name: get_metric(name).score_parsed(parsed, item.target) for name in item.metrics}
        predictions.append(Prediction(item, raw, parsed, rows))
    by_task: dict[str, list[Prediction]] = defaultdict(list)
    for p in predictions:
        by_task[p.item.task].append(p)
    tasks: dict[str, Any] = {}
    dists: dict[str, np.ndarray] = {}
    task_group: dict[str, str] = {}
    for t_index, (task, preds) in enumerate(sorted(by_task.items())):
        summary, values, statistic = _task_score(preds)
        clusters = [p.item.meta.get("cluster") for p in preds]
        clustered = None not in clusters and len(set(clusters)) < len(clusters)  # else an item bootstrap
        dist = bootstrap_distribution(
            values, statistic, n_resamples=n_resamples, seed=seed + t_index, clusters=clusters if clustered else None
        )
        dists[task] = dist
        task_group[task] = preds[0].item.group
        tasks[task] = {
            **summary,
            "n": len(preds),
            "ci95": _interval(dist),
            # items sharing a query or product are resampled together: the interval counts the groups
            "bootstrap": f"cluster ({len(set(clusters))} groups)" if clustered else "items",
            "unparsed": sum(not p.parsed.ok for p in preds),
            "group": task_group[task],
            **trivial_baselines(preds),
        }
    groups: dict[str, Any] = {}
    group_dists: dict[str, np.ndarray] = {}
    for group in sorted(set(task_group.values())):
        members = [t for t in tasks if task_group[t] == group]
        groups[group] = float(np.mean([tasks[t]["score"] for t in members]))
        group_dists[group] = np.mean([dists[t] for t in members], axis=0)
    overall = float(np.mean(list(groups.values()))) if groups else 0.0
    overall_dist = np.mean(list(group_dists.values()), axis=0) if group_dists else np.zeros(1)
    metrics = {
        "overall": overall,
        "overall_ci95": _interval(overall_dist),
        "groups": groups,
        "groups_ci95": {g: _interval(d) for g, d in group_dists.items()},
        "tasks": tasks,
    }
    return EvalResult(predictions, metrics)


def trivial_baselines(preds: Sequence[Prediction]) -> dict[str, Any]:
    """What a choice task's score must be read against: the score of always giving the most frequent gold answer
    (``majority``), the score of always giving the model's own most frequent answer (``model_mode``, with its
    share of the items), and ``constant`` when that share is 90% or more. Empty for other tasks."""
    if not preds or not all(p.item.choices for p in preds) or len({p.item.metrics[0] for p in preds}) != 1:
        return {}
    metric = get_metric(preds[0].item.metrics[0])

    def constant_score(answer: Any) -> float:
        return metric.aggregate([metric.score_parsed(Parsed(value=answer, ok=True), p.item.target) for p in preds])

    majority = Counter(_hashable(p.item.target) for p in preds).most_common(1)[0][0]
    answers = Counter(_hashable(p.parsed.value) for p in preds if p.parsed.ok)
    baselines: dict[str, Any] = {"majority": {"answer": majority, "score": constant_score(majority)}}
    if answers:
        mode, count = answers.most_common(1)[0]
        share = count / len(preds)
        baselines["model_mode"] = {"answer": mode, "share": share, "score": constant_score(mode)}
        baselines["constant"] = share >= CONSTANT_SHARE
    return baselines


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _task_score(preds: Sequence[Prediction]) -> tuple[dict[str, Any], np.ndarray, Callable[..., Any]]:
    """A task's score, plus the encoded rows and the statistic that its bootstrap resamples.

    Each row is scored with its own headline metric (a ShopBench row names it: a translation task scores most
    rows with bleu and a Japanese one with jp-bleu). When every row shares it, the metric aggregates the task
    as before (pooled micro-F1, macro-F1, ...); when the rows mix metrics, the task score is the mean of the
    per-row scores, as in the official KDD Cup 2024 scorer.
    """
    names = [p.item.metrics[0] for p in preds]
    metrics = [get_metric(name) for name in names]
    if len({m.name for m in metrics}) == 1:  # "rougel" and "rouge_l" rows are one metric
        metric = metrics[0]
        rows = [p.rows[name] for p, name in zip(preds, names, strict=True)]
        # Secondary metrics (e.g. macro_f1 beside accuracy), where every row was scored with them.
        shared = [n for n in preds[0].item.metrics[1:] if all(n in p.rows for p in preds)]
        extra = {name: get_metric(name).aggregate([p.rows[name] for p in preds]) for name in shared}
        summary = {"metric": names[0], "score": metric.aggregate(rows), "extra": extra}
        return summary, metric.encode(rows), metric.statistic
    values = np.asarray([example_score(p.rows[name]) for p, name in zip(preds, names, strict=True)])
    counts = {name: names.count(name) for name in dict.fromkeys(names)}
    summary = {"metric": "mean of " + ", ".join(counts), "score": float(values.mean()), "extra": {}}
    return {**summary, "row_metrics": counts}, values, np.mean


def _interval(dist: np.ndarray) -> list[float]:
    return [float(np.percentile(dist, 2.5)), float(np.percentile(dist, 97.5))]


def evaluate(
    items: Sequence[EvalItem],
    scorer: LMScorer,
    *,
    generate_choices: bool = False,
    progress: Progress | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
) -> EvalResult:
    """Answer and score every item."""
    answers = run_model(items, scorer, generate_choices=generate_choices, progress=progress)
    return score(items, answers, n_resamples=n_resamples, seed=seed)


# ------------------------------------------------------------------------------------------ writing
def example_score(row: Any) -> float:
    """A per-example number for predictions.jsonl: the value, the example's F1, or label agreement."""
    if isinstance(row, tuple) and len(row) == 3 and all(isinstance(v, int | np.integer) for v in row):
        tp, fp, fn = row
        return 1.0 if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)
    if isinstance(row, tuple) and len(row) == 2:
        return float(row[0] is not None and row[0] == row[1])
    return float(row)


def jsonable(value: Any) -> Any:
    if isinstance(value, np.integer | np.floating):
        return value.item()
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    return value


def prediction_rows(result: EvalResult) -> list[dict[str, Any]]:
    """One dict per input item, in input order: what ``predictions.jsonl`` holds, and what statistics read."""
    rows = []
    for p in result.predictions:
        headline = p.item.metrics[0]
        rows.append(
            {
                "task": p.item.task,
                "group": p.item.group,
                "kind": p.item.kind,
                "raw": p.raw,
                "parsed": jsonable(p.parsed.value) if p.parsed.ok else None,
                "parsed_ok": p.parsed.ok,
                "target": jsonable(p.item.target),
                "metric": headline,
                "score": example_score(p.rows[headline]),
                "row": jsonable(p.rows[headline]),
                "cluster": p.item.meta.get("cluster"),  # items of one query or product: resampled together
            }
        )
    return rows


def write_results(result: EvalResult, out: str | Path, extra: dict[str, Any] | None = None) -> None:
    """Write metrics.json and predictions.jsonl (one row per input item, in input order) atomically."""
    out = open_folder(out, "eval")
    lines = [json.dumps(row, ensure_ascii=False) for row in prediction_rows(result)]
    metrics = json.dumps({**result.metrics, **(extra or {})}, indent=2, ensure_ascii=False)
    for name in ("predictions.jsonl", "metrics.json"):
        refuse_dir(out / name)  # both checked before either is written: never one new file beside one old
    atomic_write_text(out / "predictions.jsonl", "\n".join(lines) + "\n")
    atomic_write_text(out / "metrics.json", metrics)
