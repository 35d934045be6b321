"""Benchmark: multiple-choice scoring by option log-likelihood vs generate-then-parse, same questions,
same model, same process. Reports questions/s of each and how often they pick the same answer.

Run:  .venv/bin/python benchmarks/eval_scoring.py [--model smollm2-135m-instruct] [--n 200]
Writes benchmarks/results/eval_scoring.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from shoptune.evaluation.collect import collect_items
from shoptune.evaluation.lm import LMScorer
from shoptune.evaluation.runner import run_model
from shoptune.models import load_causal_lm

OUT = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--tasks", nargs="+", default=["hd_relevance_mc", "hd_query_product"])
    parser.add_argument("--n", type=int, default=100, help="questions per task")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument(
        "--adapter",
        type=Path,
        default=None,
        help="A tuned adapter: a zero-shot model rarely answers with a bare option number",
    )
    parser.add_argument("--bf16", action="store_true")
    args = parser.parse_args()

    items = collect_items(args.tasks, data_root=args.data_root, limit=args.n)
    if args.adapter:
        from shoptune.training.export import load_with_adapter

        model, tokenizer = load_with_adapter(args.adapter)
    else:
        model, tokenizer = load_causal_lm(args.model)
    scorer = LMScorer(model, tokenizer, batch_size=args.batch_size, bf16=args.bf16)
    run_model(items[:4], scorer)  # warm-up: first calls pay one-off allocation costs

    timings = {}
    answers = {}
    for mode, generate in (("likelihood", False), ("generate_then_parse", True)):
        start = time.perf_counter()
        answers[mode] = run_model(items, scorer, generate_choices=generate)
        timings[mode] = time.perf_counter() - start
    like, gen = answers["likelihood"], answers["generate_then_parse"]
    agree = sum(a[1].ok and b[1].ok and a[1].value == b[1].value for a, b in zip(like, gen, strict=True))
    correct = {
        mode: sum(ans[1].ok and ans[1].value == it.target for ans, it in zip(answers[mode], items, strict=True))
        for mode in answers
    }
    result = {
        "model": args.model,
        "adapter": str(args.adapter) if args.adapter else None,
        "bf16": args.bf16,
        "tasks": args.tasks,
        "questions": len(items),
        "batch_size": args.batch_size,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "likelihood_qps": len(items) / timings["likelihood"],
        "generate_qps": len(items) / timings["generate_then_parse"],
        "speedup": timings["generate_then_parse"] / timings["likelihood"],
        "agreement": agree / len(items),
        "generate_unparsed": sum(not g[1].ok for g in gen),
        "accuracy": {mode: c / len(items) for mode, c in correct.items()},
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "eval_scoring.json").write_text(json.dumps(result, indent=2))
    md = (
        f"| mode | questions/s | accuracy |\n|---|---|---|\n"
        f"| option log-likelihood | {result['likelihood_qps']:.2f} | {result['accuracy']['likelihood']:.3f} |\n"
        f"| generate then parse | {result['generate_qps']:.2f} | {result['accuracy']['generate_then_parse']:.3f} |\n\n"
        f"{len(items)} questions ({', '.join(args.tasks)}), {args.model}"
        f"{' + ' + str(args.adapter) if args.adapter else ' (zero-shot)'}, batch {args.batch_size}, "
        f"{result['machine']}: likelihood is {result['speedup']:.1f}x faster; the two agree on "
        f"{100 * result['agreement']:.1f}% of questions; generation left {result['generate_unparsed']} unparsed.\n"
    )
    (OUT / "eval_scoring.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
