"""Benchmark: peak memory of the `sft_full` recipe (SmolLM2-135M + LoRA r=16, ~3k tokens per optimizer step) and
where it goes: one 3,072-token batch per step (its old setting), two accumulated 1,536-token micro-batches (its
setting now), and the latter with activation checkpointing. Setup (model, optimizer, built data) is under 1 GB;
the rest is the activations of the largest micro-batch.

Each setting trains a few steps of ``configs/sft_full.yaml`` on an existing build, in its own subprocess (so its
peak RSS is its own), with the recipe's own loop (``train_log.jsonl`` records the peak RSS at every logged step).

Run:  .venv/bin/python benchmarks/sft_memory.py --data runs/data_full [--cap 6]
Writes benchmarks/results/sft_memory.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "results"
SETTINGS = {
    "one 3,072-token batch per step (sft_full before)": {"optim.batch_tokens": 3072, "optim.grad_accum": 1},
    "sft_full: 2 x 1,536-token micro-batches per step": {},
    "sft_full + gradient checkpointing": {"optim.gradient_checkpointing": True},
}


def one(args) -> None:
    import torch

    from shoptune.training.config import load_sft_config
    from shoptune.training.sft import peak_rss_mb, run_sft

    torch.set_num_threads(args.threads)
    overrides = {
        "data.path": str(Path(args.data).resolve()),
        "data.build": None,
        "data.atomic": False,  # plain tasks: the memory of a step does not depend on which tasks
        "mixture.cap": args.cap,
        "optim.log_every": 1,
        "optim.checkpoint_every": 10_000,
        **json.loads(args.setting),
    }
    cfg = load_sft_config(ROOT / "configs" / "sft_full.yaml", overrides)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        summary = run_sft(cfg, Path(tmp) / "run", log=lambda _m: None)
        seconds = time.perf_counter() - start
    print("RESULT " + json.dumps({"summary": summary, "seconds": seconds, "peak_rss_mb": peak_rss_mb()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "runs" / "data_full")
    parser.add_argument("--cap", type=int, default=6, help="examples per task per epoch (steps follow from it)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--setting", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setting is not None:
        one(args)
        return
    results = {}
    for name, setting in SETTINGS.items():
        cmd = [sys.executable, __file__, "--data", str(args.data), "--cap", str(args.cap),
               "--threads", str(args.threads), "--setting", json.dumps(setting)]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            raise SystemExit(f"{name} failed:\n{proc.stderr[-3000:]}")
        results[name] = json.loads(line[len("RESULT ") :])
    summary = {"date": time.strftime("%Y-%m-%d"), "cap": args.cap, "threads": args.threads,
               "results": results}  # fmt: skip
    OUT.mkdir(exist_ok=True)
    (OUT / "sft_memory.json").write_text(json.dumps(summary, indent=2))
    md = ["# SFT peak memory (`configs/sft_full.yaml`, 3,072-token batches)", "",
          "| setting | steps | train tokens/s | peak RSS (MB) |", "|---|---|---|---|"]  # fmt: skip
    for name, r in results.items():
        s = r["summary"]
        md.append(f"| {name} | {s['steps']} | {s['tokens_per_s']:.1f} | {r['peak_rss_mb']:.0f} |")
    (OUT / "sft_memory.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
