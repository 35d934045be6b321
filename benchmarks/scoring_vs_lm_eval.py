"""Benchmark: multiple-choice scoring, shoptune's LMScorer vs lm-evaluation-harness's HFLM log-likelihood,
same questions (seeded, label-stratified test items of the demo's tasks), same model, same options, same threads,
one process.

Both score every option as its summed log-probability after the chat-formatted prompt, with shoptune's
reachable-option formulation (``scored_options``: an option that begins another is scored with the end-of-answer
marker), and pick the argmax: the chosen options must agree on at least 99% of questions. Each side runs in its
own subprocess so its peak memory (max RSS) is its own; sides alternate, each keeps its fastest of ``--repeats``.

Run:  .venv/bin/python benchmarks/scoring_vs_lm_eval.py [--n 50] [--adapter runs/demo/sft/adapter]
Writes benchmarks/results/scoring_vs_lm_eval.{json,md}. lm-eval: ``pip install -r requirements-bench.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results"
TASKS = ["hd_relevance_mc", "ic_aisle_mc", "review_sentiment_cells", "gtax_parent_mc", "hd_query_product"]


def load(args):
    from shoptune.evaluation.collect import collect_items
    from shoptune.models import load_causal_lm

    items = collect_items(args.tasks, data=args.data, data_root=args.data_root, split="test", limit=args.n)
    if args.adapter:
        from shoptune.training.export import load_with_adapter

        model, tokenizer = load_with_adapter(args.adapter)
        model = model.merge_and_unload()
    else:
        model, tokenizer = load_causal_lm(args.model)
    return items, model.eval(), tokenizer


def requests(items, tokenizer):
    from shoptune.evaluation.runner import scored_options
    from shoptune.tasks.prompts import chat_prompt
    from shoptune.training.examples import end_of_answer

    end = end_of_answer(tokenizer)
    chosen = [it for it in items if it.choices]
    return [(chat_prompt(tokenizer, it.prompt), scored_options(it.choices, end)) for it in chosen], [
        it.task for it in chosen
    ]


def run_ours(args) -> dict:
    import torch

    from shoptune.evaluation.lm import LMScorer

    items, model, tokenizer = load(args)
    reqs, tasks = requests(items, tokenizer)
    scorer = LMScorer(model, tokenizer, batch_size=args.batch_size, bf16=args.bf16, max_length=args.max_length)
    scorer.choice_logprobs([p for p, _ in reqs[:4]], [o for _, o in reqs[:4]])  # warm-up
    start = time.perf_counter()
    scores = scorer.choice_logprobs([p for p, _ in reqs], [o for _, o in reqs], groups=tasks)
    seconds = time.perf_counter() - start
    return _result("shoptune LMScorer", seconds, [int(torch.tensor(s).argmax()) for s in scores])


def run_lm_eval(args) -> dict:
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    items, model, tokenizer = load(args)
    reqs, _ = requests(items, tokenizer)
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=args.batch_size, max_length=args.max_length,
              dtype="bfloat16" if args.bf16 else "float32")  # fmt: skip
    flat = [(q, j, Instance("loglikelihood", {}, (prompt, opt), j)) for q, (prompt, opts) in enumerate(reqs)
            for j, opt in enumerate(opts)]  # fmt: skip
    lm.loglikelihood([inst for _, _, inst in flat[:8]], disable_tqdm=True)  # warm-up
    start = time.perf_counter()
    out = lm.loglikelihood([inst for _, _, inst in flat], disable_tqdm=True)
    seconds = time.perf_counter() - start
    best: dict[int, tuple[float, int]] = {}
    for (q, j, _), (logprob, _greedy) in zip(flat, out, strict=True):
        if q not in best or logprob > best[q][0]:
            best[q] = (logprob, j)
    return _result("lm-evaluation-harness HFLM", seconds, [best[q][1] for q in range(len(reqs))])


def _result(name: str, seconds: float, chosen: list[int]) -> dict:
    return {
        "side": name,
        "seconds": seconds,
        "questions": len(chosen),
        "questions_per_s": len(chosen) / seconds,
        "chosen": chosen,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


SIDES = {"ours": run_ours, "lm_eval": run_lm_eval}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--adapter", type=Path, default=None, help="a tuned adapter (merged before scoring)")
    parser.add_argument("--tasks", nargs="+", default=TASKS)
    parser.add_argument("--n", type=int, default=50, help="test items per task")
    parser.add_argument("--data", type=Path, default=None, help="a data build (default: build from --data-root)")
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--bf16", action="store_true", help="bf16 on both sides (autocast / HFLM dtype)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--side", choices=list(SIDES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        import torch

        torch.set_num_threads(args.threads)
        print("RESULT " + json.dumps(SIDES[args.side](args)))
        return
    results: dict[str, dict] = {}
    forwarded = list(sys.argv[1:])
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(args.threads)}
    for side in [s for _ in range(args.repeats) for s in SIDES]:
        proc = subprocess.run([sys.executable, __file__, *forwarded, "--side", side], capture_output=True, text=True,
                              env=env, check=False)  # fmt: skip
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            raise SystemExit(f"{side} failed:\n{proc.stderr[-3000:]}")
        result = json.loads(line[len("RESULT ") :])
        if side not in results or result["questions_per_s"] > results[side]["questions_per_s"]:
            results[side] = result
    ours, peer = results["ours"], results["lm_eval"]
    agree = sum(a == b for a, b in zip(ours["chosen"], peer["chosen"], strict=True)) / len(ours["chosen"])
    summary = {
        "date": time.strftime("%Y-%m-%d"),
        "model": args.model,
        "adapter": str(args.adapter) if args.adapter else None,
        "tasks": args.tasks,
        "items_per_task": args.n,
        "questions": ours["questions"],
        "batch_size": args.batch_size,
        "bf16": args.bf16,
        "threads": args.threads,
        "speedup": ours["questions_per_s"] / peer["questions_per_s"],
        "agreement": agree,
        "results": {k: {x: y for x, y in v.items() if x != "chosen"} for k, v in results.items()},
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "scoring_vs_lm_eval.json").write_text(json.dumps(summary, indent=2))
    md = [
        "# Multiple-choice scoring: shoptune vs lm-evaluation-harness (HFLM log-likelihood)",
        "",
        "| side | questions/s | peak RSS (MB) |",
        "|---|---|---|",
        *(f"| {r['side']} | {r['questions_per_s']:.2f} | {r['peak_rss_mb']:.0f} |" for r in results.values()),
        "",
        f"{summary['questions']} questions ({args.n} seeded, stratified test items of each of "
        f"{', '.join(args.tasks)}), "
        f"{args.model}{' + ' + str(args.adapter) if args.adapter else ' (zero-shot)'}, batch {args.batch_size}, "
        f"{'bf16' if args.bf16 else 'fp32'}, {args.threads} thread(s), fastest of {args.repeats} alternating rounds "
        f"({summary['date']}). shoptune / lm-eval: **{summary['speedup']:.2f}x** questions/s; the same option chosen "
        f"on {100 * agree:.1f}% of questions.",
    ]
    (OUT / "scoring_vs_lm_eval.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
