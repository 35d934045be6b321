"""Benchmark: which option-scoring formulation to use for multiple-choice and classification items (issue #21, 4).

A choice item is answered by the option with the highest log-likelihood after the prompt. How an option is scored
decides which options can win at all. SmolLM2's tokenizer splits numbers into digits, so with a plain summed
log-probability the option "12" is "1" plus one more (negative) term: it always scores below "1" and can never be
chosen. The formulations measured here, on the same seeded, stratified test items of an SFT run's held-out tasks
(the items ``shoptune experiments heldout`` scores), for the zero-shot base model and for the tuned adapter:

- ``sum``: summed log-probability of the option text (the previous scorer; lm-evaluation-harness's ``acc``).
- ``sum+end``: the option followed by the end-of-answer marker the SFT model is trained to emit (``<|im_end|>``):
  "1" must then be followed by the end of the answer, so "12" can win.
- ``shoptune``: the scorer shoptune uses, ``sum+end`` where an option begins another (option 12 of 20), ``sum``
  elsewhere (:func:`shoptune.evaluation.runner.scored_options`).
- ``acc_norm``: ``sum`` divided by the option's length in bytes (lm-evaluation-harness's ``acc_norm``).

Reported per task and formulation: accuracy, macro-F1 over the answers, the most frequent answer's share, how many
items have a gold option that the formulation never picks for any item ("gold unreachable": the options it cannot
reach), and agreement with the ``shoptune`` choice. Two scoring passes per item (with and without the marker); the
other formulations are derived from them.

Run:  .venv/bin/python benchmarks/option_scoring.py --run runs/sft_cap72 --limit 100
Writes benchmarks/results/option_scoring.{json,md} (``--out STEM`` for STEM.json / STEM.md).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from shoptune.evaluation.collect import collect_items
from shoptune.evaluation.items import EvalItem
from shoptune.evaluation.lm import LMScorer
from shoptune.evaluation.metrics import macro_f1
from shoptune.evaluation.runner import scored_options
from shoptune.io import atomic_write_json, atomic_write_text
from shoptune.tasks.prompts import chat_prompt
from shoptune.training.examples import end_of_answer

FORMULATIONS = ("sum", "sum+end", "shoptune", "acc_norm")


def option_scores(items: list[EvalItem], scorer: LMScorer, end: str) -> dict[str, list[list[float]]]:
    """Each formulation's option scores for every item (two likelihood passes: plain, and with the marker)."""
    prompts = [chat_prompt(scorer.tokenizer, item.prompt) for item in items]
    choices = [list(item.choices or []) for item in items]
    plain = scorer.choice_logprobs(prompts, choices)
    marked = scorer.choice_logprobs(prompts, [[c + end for c in opts] for opts in choices])
    ours = [m if scored_options(opts, end) != opts else p for p, m, opts in zip(plain, marked, choices, strict=True)]
    norm = [
        [s / max(1, len(c.encode())) for s, c in zip(p, opts, strict=True)]
        for p, opts in zip(plain, choices, strict=True)
    ]
    return {"sum": plain, "sum+end": marked, "shoptune": ours, "acc_norm": norm}


def task_summary(items: list[EvalItem], picks: dict[str, list[int]]) -> dict[str, Any]:
    """Accuracy, macro-F1, the mode's share and the unreachable gold options, per formulation."""
    gold = [_gold_index(item) for item in items]
    out: dict[str, Any] = {"n": len(items), "options": max(len(item.choices or []) for item in items)}
    for name, chosen in picks.items():
        counts = Counter(chosen)
        out[name] = {
            "accuracy": sum(c == g for c, g in zip(chosen, gold, strict=True)) / len(items),
            "macro_f1": macro_f1([str(c) for c in chosen], [str(g) for g in gold]),
            "mode_share": counts.most_common(1)[0][1] / len(items),
            "answers_used": len(counts),
            "gold_unreachable": sum(g not in counts for g in gold),
            "agrees_with_shoptune": sum(a == b for a, b in zip(chosen, picks["shoptune"], strict=True)) / len(items),
        }
    return out


def _gold_index(item: EvalItem) -> int:
    choices = list(item.choices or [])
    target = item.target
    if isinstance(target, int):
        return target
    labels = list(item.labels or choices)
    return labels.index(target) if target in labels else choices.index(str(target))


def score_model(name: str, model, tokenizer, items: list[EvalItem], threads: int) -> dict[str, Any]:
    scorer = LMScorer(model, tokenizer, batch_size=16)
    end = end_of_answer(tokenizer)
    start = time.perf_counter()
    scores = option_scores(items, scorer, end)
    seconds = time.perf_counter() - start
    by_task: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        by_task.setdefault(item.task, []).append(i)
    tasks = {}
    for task, idx in by_task.items():
        picks = {f: [max(range(len(scores[f][i])), key=scores[f][i].__getitem__) for i in idx] for f in FORMULATIONS}
        tasks[task] = task_summary([items[i] for i in idx], picks)
    mean = {
        f: {k: sum(t[f][k] for t in tasks.values()) / len(tasks) for k in ("accuracy", "macro_f1")}
        for f in FORMULATIONS
    }
    print(f"{name}: {len(items)} items in {seconds:.0f} s on {threads} thread(s)", flush=True)
    return {"seconds": seconds, "tasks": tasks, "mean": mean, "end_marker": end}


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Option scoring: which formulation can reach every option",
        "",
        f"Run `{result['run']}`, {result['split']} split, seeded stratified `--limit {result['limit']}` per task "
        f"(the items `shoptune experiments heldout` scores), {result['device']}. Accuracy / macro-F1; "
        "'unreachable': items whose gold option the formulation picks for no item of the task.",
        "",
    ]
    for model, res in result["models"].items():
        lines += [f"## {model} ({res['seconds']:.0f} s)", ""]
        head = (
            "| task | options | n | "
            + " | ".join(FORMULATIONS)
            + " | mode share (sum → shoptune) | unreachable (sum → shoptune) |"
        )
        lines += [head, "|" + "---|" * (len(FORMULATIONS) + 5)]
        for task, t in res["tasks"].items():
            cells = [f"{t[f]['accuracy']:.3f} / {t[f]['macro_f1']:.3f}" for f in FORMULATIONS]
            share = f"{t['sum']['mode_share']:.0%} → {t['shoptune']['mode_share']:.0%}"
            unreachable = f"{t['sum']['gold_unreachable']} → {t['shoptune']['gold_unreachable']}"
            lines.append(
                f"| {task} | {t['options']} | {t['n']} | " + " | ".join(cells) + f" | {share} | {unreachable} |"
            )
        mean = " | ".join(f"{res['mean'][f]['accuracy']:.3f} / {res['mean'][f]['macro_f1']:.3f}" for f in FORMULATIONS)
        lines += [f"| **mean** | | | {mean} | | |", ""]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="an SFT run folder (with adapter/)")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--split", default="test")
    parser.add_argument("--tasks", nargs="*", help="default: the run's held-out tasks with choice items")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "option_scoring")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from shoptune.models import load_causal_lm
    from shoptune.training.export import load_with_adapter, read_run_file

    adapter = args.run / "adapter"
    run = read_run_file(adapter)
    data = Path(run["data_dir"])
    items = collect_items(args.tasks or list(run["holdout"]), data=data, split=args.split, limit=args.limit)
    items = [item for item in items if item.choices]
    result: dict[str, Any] = {
        "run": str(args.run),
        "split": args.split,
        "limit": args.limit,
        "device": f"{platform.processor() or platform.machine()}, {args.threads} torch thread(s)",
        "models": {},
    }
    base, tok = load_causal_lm(run["base_model"])
    result["models"]["zero-shot"] = score_model("zero-shot", base, tok, items, args.threads)
    del base
    tuned, tok = load_with_adapter(adapter)
    result["models"]["tuned"] = score_model("tuned", tuned, tok, items, args.threads)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out.with_suffix(".json"), result)
    atomic_write_text(args.out.with_suffix(".md"), markdown(result))
    print(json.dumps({m: r["mean"] for m, r in result["models"].items()}, indent=1))


if __name__ == "__main__":
    main()
