"""Benchmark: serving every pair task from one multi-task MHP model vs one model per task (single-task runs).

Measures parameters (unique tensors), artifact size on disk, resident memory after loading (each setup loaded in
its own fresh subprocess, so freed memory cannot blur the numbers), load time and throughput on the same mixed
stream of test pairs (best of ``--repeats``; the machine may be shared).

Run:  .venv/bin/python benchmarks/relevance_serving.py --multi runs/relevance/minilm-mhp \
          --single runs/relevance/minilm-single [--n 200]
Writes benchmarks/results/relevance_serving.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results"


def rss_mb() -> float:
    """Resident memory of this process (Linux /proc), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def measure(artifact: Path, data: Path, n: int, repeats: int, threads: int | None) -> dict:
    """Load ``artifact`` in this (fresh) process and time it on a mixed stream of test pairs."""
    import torch
    from transformers.utils import logging as hf_logging

    from shoptune.relevance.data import load_split
    from shoptune.relevance.model import count_parameters
    from shoptune.relevance.predictor import ModelPredictor, PerTaskPredictor, load_predictor

    hf_logging.disable_progress_bar()
    if threads:
        torch.set_num_threads(threads)
    before = rss_mb()
    start = time.perf_counter()
    predictor = load_predictor(artifact)
    if isinstance(predictor, PerTaskPredictor):
        members = [predictor.member(t) for t in predictor.tasks]  # load every model up front, as a server would
        params = sum(count_parameters(m.model) for m in members)
        paths = [Path(p) for p in predictor.members.values()]
    else:
        assert isinstance(predictor, ModelPredictor)
        params = count_parameters(predictor.model)
        paths = [artifact]
    load_s = time.perf_counter() - start
    loaded = rss_mb()
    pairs = [p for t in predictor.tasks for p in load_split(data, t, "test", n, seed=0)]
    pairs.sort(key=lambda p: p.id)  # a mixed-task stream, not grouped by task
    predictor.predict_proba(pairs[:50])  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        predictor.predict_proba(pairs)
        best = min(best, time.perf_counter() - start)
    return {
        "artifact": str(artifact),
        "models": len(paths),
        "tasks": len(predictor.tasks),
        "parameters": params,
        "disk_mb": round(sum(disk_mb(p) for p in paths), 1),
        "parameter_mb": round(params * 4 / 2**20, 1),  # float32
        # Weights are memory-mapped and paged in on first use, so RSS right after loading undercounts them;
        # the RSS after serving the stream (every weight touched) is the honest number.
        "rss_after_load_mb": round(loaded, 1),
        "rss_delta_load_mb": round(loaded - before, 1),
        "load_seconds": round(load_s, 2),
        "pairs": len(pairs),
        "pairs_per_second": round(len(pairs) / best, 1),
        "rss_after_serving_mb": round(rss_mb(), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--multi", type=Path, default=Path("runs/relevance/minilm-mhp"))
    parser.add_argument("--single", type=Path, default=Path("runs/relevance/minilm-single"))
    parser.add_argument("--data", type=Path, default=None, help="built data folder (default: MULTI/data)")
    parser.add_argument("--n", type=int, default=200, help="test pairs per task")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    from shoptune.relevance.ensemble import resolve_artifact

    data = args.data or args.multi / "data"
    if args.child is not None:
        print(json.dumps(measure(args.child, data, args.n, args.repeats, args.threads)))
        return
    results = {}
    for name, run in (("multi_task_mhp", args.multi), ("one_model_per_task", args.single)):
        cmd = [
            sys.executable,
            __file__,
            "--child",
            str(resolve_artifact(run)),
            "--data",
            str(data),
            "--n",
            str(args.n),
            "--repeats",
            str(args.repeats),
            *(["--threads", str(args.threads)] if args.threads else []),
        ]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
    multi, single = results["multi_task_mhp"], results["one_model_per_task"]
    summary = {
        "machine": f"{platform.machine()}, threads: {args.threads or 'torch default'}",
        **results,
        "ratios_per_task_over_mhp": {
            k: round(single[k] / multi[k], 2)
            for k in (
                "parameters",
                "parameter_mb",
                "disk_mb",
                "rss_after_serving_mb",
                "load_seconds",
                "pairs_per_second",
            )
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "relevance_serving.json").write_text(json.dumps(summary, indent=2))
    rows = [
        ("models", "models"),
        ("parameters", "parameters"),
        ("parameter memory, fp32 (MiB)", "parameter_mb"),
        ("disk (MiB)", "disk_mb"),
        ("process RSS after serving the stream (MiB)", "rss_after_serving_mb"),
        ("load (s)", "load_seconds"),
        ("pairs/s, mixed-task stream", "pairs_per_second"),
    ]
    lines = [
        "# Serving all pair tasks: one MHP model vs one model per task",
        "",
        f"{multi['tasks']} tasks, {multi['pairs']} test pairs in a mixed-task stream; {summary['machine']}.",
        "",
        "| | one MHP model | one model per task | per-task / MHP |",
        "|---|---|---|---|",
    ]
    for label, key in rows:
        ratio = summary["ratios_per_task_over_mhp"].get(key, "")
        lines.append(f"| {label} | {multi[key]:,} | {single[key]:,} | {f'{ratio}x' if ratio != '' else ''} |")
    (args.out / "relevance_serving.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
