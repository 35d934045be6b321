"""Benchmark (issue 22): diversity vs volume at a fixed budget, as a cross-encoder analogue with many seeds.

The LLM study's claim (EcomGPT: at a fixed number of examples, more distinct tasks beat more examples of fewer
tasks) cannot be powered on the 2-core CPU with SmolLM2 (`shoptune experiment plan` says so). MiniLM trains a few
thousand pairs in about two minutes, so the same question can be asked with 10 seeds:

- ``volume``: ``--budget`` training pairs of the target task alone;
- ``diversity``: the same total, split evenly over the target task and the ``--others`` tasks;

both scored on the same seeded, fixed sample of the target task's test pairs (``--max-test``), with prefix routing
(one shared head, the task's name as a text prefix) and the argmax label. The contrast is diversity - volume in
macro-F1 (and accuracy) with a seed-aware interval (:func:`shoptune.evaluation.statistics.seed_item_contrast`:
hierarchical bootstrap, t interval) and the MDE of this design (:mod:`shoptune.evaluation.power`). This is an
ANALOGUE of the LLM study: a different model family, task format and scale.

Each run is an ordinary `shoptune train relevance` run folder under ``--work``/<arm>/seed-<s>; a finished one is
skipped, so a killed benchmark resumes run by run.

Run:  .venv/bin/python benchmarks/relevance_diversity_analogue.py [--data runs/data_full] [--seeds 10]
Writes benchmarks/results/relevance_diversity_analogue.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from shoptune.evaluation.metrics import encode_label_pairs
from shoptune.evaluation.power import design_for_effect, minimum_detectable_effect
from shoptune.evaluation.statistics import TaskRows, seed_item_contrast
from shoptune.io import atomic_write_json, atomic_write_text
from shoptune.records import LABELS
from shoptune.relevance.comparisons import load_run
from shoptune.relevance.scoring import STATISTICS

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "relevance_diversity_analogue"
CONFIG = ROOT / "configs" / "relevance_minilm.yaml"
EXPECTED_EFFECT = 0.02  # the smallest macro-F1 difference worth acting on for one task


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("runs/data_full"), help="a `shoptune data build` folder")
    parser.add_argument("--target", default="tm_product_category", help="the task both arms are scored on")
    parser.add_argument(
        "--others", default="gtax_type_similarity,ic_product_aisle", help="the diversity arm's other tasks"
    )
    parser.add_argument("--budget", type=int, default=3000, help="training pairs per run, both arms")
    parser.add_argument("--seeds", type=int, default=10, help="training seeds per arm (at least 3)")
    parser.add_argument("--max-test", type=int, default=1000, help="fixed, seeded sample of the target's test pairs")
    parser.add_argument("--work", type=Path, default=Path("runs/relevance_diversity_analogue"))
    parser.add_argument("--out", type=Path, default=OUT, help="writes OUT.json and OUT.md")
    args = parser.parse_args()
    if args.seeds < 3:
        parser.error("--seeds must be at least 3: fewer give no seed-level inference")
    return args


def arms(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    others = [t for t in args.others.split(",") if t]
    tasks = [args.target, *others]
    return {
        "volume": {"tasks": [args.target], "per_task": args.budget},
        "diversity": {"tasks": tasks, "per_task": args.budget // len(tasks)},
    }


def train(args: argparse.Namespace, arm: str, spec: dict[str, Any], seed: int) -> Path:
    """One `shoptune train relevance` run (skipped when finished); returns its folder."""
    out = args.work / arm / f"seed-{seed}"
    if (out / "eval" / "test" / "predictions.jsonl").is_file():
        return out
    sets = {
        "data.path": str(args.data),
        "data.build": "null",
        "data.tasks": "[" + ",".join(spec["tasks"]) + "]",
        "data.max_train_per_task": str(spec["per_task"]),
        "data.max_eval_per_task": str(args.max_test),
        "mixture.strategy": "proportional",  # every capped pool once: the budget is exactly tasks x per_task
        "model.routing": "prefix",
        "decision.rule": "argmax",
        "train.seed": str(seed),
        "train.threads": "1",
    }
    argv = [sys.executable, "-m", "shoptune", "train", "relevance", str(CONFIG), "--out", str(out)]
    for key, value in sets.items():
        argv += ["--set", f"{key}={value}"]
    resume = ["--resume"] if (out / "config.yaml").is_file() else []
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    subprocess.run([*argv, *resume], check=True, env=env, stdout=subprocess.DEVNULL)
    return out


def rows_of(run: Path, target: str) -> tuple[list[str], list[str], list[str]]:
    """(ids, gold, predicted) of the target task's test pairs, sorted by id."""
    result = load_run(run, "test", decision="argmax")
    picked = sorted((i, g, p) for i, (t, g, p) in result.rows.items() if t == target)
    return [i for i, _, _ in picked], [g for _, g, _ in picked], [p for _, _, p in picked]


def main() -> None:
    args = parse_args()
    seeds = list(range(13, 13 + args.seeds))
    plan = arms(args)
    start = time.perf_counter()
    runs: dict[str, list[Path]] = {arm: [] for arm in plan}
    for seed in seeds:  # seed by seed, both arms: a stopped benchmark has balanced arms to report
        for arm, spec in plan.items():
            t0 = time.perf_counter()
            runs[arm].append(train(args, arm, spec, seed))
            print(f"{arm} seed {seed}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    wall = time.perf_counter() - start
    ids0, gold, _ = rows_of(runs["volume"][0], args.target)
    columns: dict[str, dict[str, list[dict[str, TaskRows]]]] = {m: {} for m in ("macro_f1", "accuracy")}
    modes: dict[str, list[float]] = {}
    for arm, folders in runs.items():
        for metric in columns:
            columns[metric][arm] = []
        modes[arm] = []
        for folder in folders:
            ids, g, pred = rows_of(folder, args.target)
            if ids != ids0 or g != gold:
                raise SystemExit(f"{folder}: not scored on the same test pairs as {runs['volume'][0]}")
            encoded = encode_label_pairs(pred, gold, LABELS)
            for metric in columns:
                columns[metric][arm].append({args.target: TaskRows(metric, encoded, STATISTICS[metric])})
            modes[arm].append(Counter(pred).most_common(1)[0][1] / len(pred))
    results: dict[str, Any] = {}
    for metric, by_arm in columns.items():
        r = seed_item_contrast([by_arm["diversity"], by_arm["volume"]], [1.0, -1.0], [args.target], n_resamples=2000)
        r["mde"] = minimum_detectable_effect(
            seed_sd=r["seed_sd"], item_sd=r["item_sd"], seeds=len(seeds), items=r["items"]
        )
        r["needed_for_expected"] = design_for_effect(
            EXPECTED_EFFECT, seed_sd=r["seed_sd"], item_sd=r["item_sd"], seeds=len(seeds), items=r["items"]
        )
        r["arms"] = {
            arm: {
                "mean": float(np.mean([c[args.target].score for c in cols])),
                "per_seed": [c[args.target].score for c in cols],
            }
            for arm, cols in by_arm.items()
        }
        results[metric] = r
    counts = Counter(gold)
    majority = counts.most_common(1)[0][0]
    majority_scores = {
        m: float(STATISTICS[m](encode_label_pairs([majority] * len(gold), gold, LABELS), axis=0)) for m in columns
    }
    report = {
        "question": "At a fixed budget, does spreading the training pairs over several relevance tasks beat the "
        "same number of pairs of the target task alone, on the target task?",
        "analogue_of": "EcomGPT diversity vs volume (LLM); here MiniLM cross-encoder, prefix routing",
        "target": args.target,
        "arms": plan,
        "budget": args.budget,
        "seeds": seeds,
        "test_pairs": len(gold),
        "gold_labels": dict(counts),
        "majority": {"label": majority, **majority_scores},
        "mode_share": {arm: shares for arm, shares in modes.items()},
        "expected_effect": EXPECTED_EFFECT,
        "results": results,
        "wall_seconds": round(wall, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, one torch thread per run",
        "data": str(args.data),
    }
    atomic_write_json(args.out.with_suffix(".json"), report)
    atomic_write_text(args.out.with_suffix(".md"), markdown(report))
    print(markdown(report))


def conclusion(r: dict[str, Any]) -> str:
    lo, hi = r["ci95"]
    if lo > 0 or hi < 0:
        word = "beats" if r["delta"] > 0 else "loses to"
        return f"diversity {word} volume: {r['delta']:+.3f} [{lo:+.3f}, {hi:+.3f}], p = {r['p_value']:.3g}."
    return (
        f"no effect larger than {r['mde']:.3f} (this design's MDE at 80% power): {r['delta']:+.3f} "
        f"[{lo:+.3f}, {hi:+.3f}], p = {r['p_value']:.3g}."
    )


def markdown(report: dict[str, Any]) -> str:
    f1, acc = report["results"]["macro_f1"], report["results"]["accuracy"]
    per_task = {arm: spec["per_task"] for arm, spec in report["arms"].items()}
    lines = [
        "# Diversity vs volume at a fixed budget: a cross-encoder analogue (issue 22)",
        "",
        f"*Analogue of {report['analogue_of']}.* {report['question']}",
        "",
        f"- Target task `{report['target']}`; both arms train {report['budget']} pairs: volume = the target alone "
        f"({per_task['volume']} pairs), diversity = {per_task['diversity']} pairs each of "
        + ", ".join(f"`{t}`" for t in report["arms"]["diversity"]["tasks"])
        + ".",
        f"- {len(report['seeds'])} seeds per arm; the same {report['test_pairs']} seeded test pairs of the target for "
        f"every run (gold: " + ", ".join(f"{k} {v}" for k, v in report["gold_labels"].items()) + ").",
        f"- Interval: hierarchical bootstrap over seeds and pairs, t interval (df {f1['df']:.1f}); one primary "
        "contrast (macro-F1), so no multiplicity correction; accuracy is secondary.",
        "",
        "| metric | volume | diversity | Δ diversity − volume [95% CI] | p | seed SD | MDE (80%) | majority label |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in (("macro-F1", f1), ("accuracy", acc)):
        lo, hi = r["ci95"]
        key = "macro_f1" if name == "macro-F1" else "accuracy"
        lines.append(
            f"| {name} | {r['arms']['volume']['mean']:.3f} | {r['arms']['diversity']['mean']:.3f} | "
            f"{r['delta']:+.3f} [{lo:+.3f}, {hi:+.3f}] | {r['p_value']:.3g} | {r['seed_sd']:.3f} | {r['mde']:.3f} | "
            f"{report['majority'][key]:.3f} |"
        )
    share = {arm: max(v) for arm, v in report["mode_share"].items()}
    lines += [
        "",
        f"Most frequent label's share of a run's answers (largest over seeds): volume {share['volume']:.2f}, "
        f"diversity {share['diversity']:.2f} (1.00 would be a one-label model).",
        "",
        f"**Conclusion (macro-F1):** {conclusion(f1)}",
        "",
        f"To detect {report['expected_effect']:.2f} macro-F1: "
        + (
            f"{f1['needed_for_expected']['seeds_at_items']} seeds at these {f1['items']} pairs"
            if f1["needed_for_expected"]["seeds_at_items"]
            else "more seeds and more test pairs than this design has"
        )
        + ".",
        "",
        f"Wall time {report['wall_seconds'] / 60:.1f} min ({report['machine']}).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
