"""Benchmark: `relevance predict --engine ray` with 1 and 2 workers against the local engine, on one file.

Writes a seeded mixed-task file of real test pairs (``--pairs``, stratified over the model's tasks), then runs
``shoptune.relevance.api.predict`` three ways on it, each a fresh output: local (one process, one torch thread),
Ray with 1 actor and Ray with 2 actors (one thread each). Ray is started once before the timed calls (its start is
reported apart); each Ray call's time includes loading the model in its actors. Reports pairs/s, the ratio to
local, and whether each output file is byte-identical to the local one (it must be: same ``--chunk``).

Run:  .venv/bin/python benchmarks/ray_predict.py --model runs/relevance/minilm-mhp --data runs/data_full
Writes benchmarks/results/ray_predict.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results"


def write_pairs(model: Path, data: Path, n: int, path: Path) -> int:
    from shoptune.relevance.data import load_split
    from shoptune.relevance.predictor import artifact_info

    tasks = artifact_info(model)["tasks"]
    per_task = max(1, n // len(tasks))
    rows = [p for t in tasks for p in load_split(data, t, "test", per_task, seed=0)]
    with path.open("w", encoding="utf-8") as f:
        for p in rows:
            f.write(json.dumps({"id": p.id, "task": p.task, "left": p.left, "right": p.right}) + "\n")
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("runs/relevance/minilm-mhp"))
    parser.add_argument("--data", type=Path, default=Path("runs/data_full"))
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=256)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    from shoptune.io import atomic_write_json, atomic_write_text
    from shoptune.parallel import start_ray
    from shoptune.relevance.api import predict

    work = Path(tempfile.mkdtemp(prefix="ray-predict-"))
    source = work / "pairs.jsonl"
    n = write_pairs(args.model, args.data, args.pairs, source)
    runs = []
    t0 = time.perf_counter()
    predict(args.model, source, work / "local.jsonl", chunk=args.chunk)
    runs.append({"engine": "local", "workers": 1, "seconds": time.perf_counter() - t0})
    t0 = time.perf_counter()
    start_ray(2)
    ray_start = time.perf_counter() - t0
    for workers in (1, 2):
        out = work / f"ray{workers}.jsonl"
        t0 = time.perf_counter()
        predict(args.model, source, out, chunk=args.chunk, engine="ray", workers=workers)
        seconds = time.perf_counter() - t0
        same = out.read_bytes() == (work / "local.jsonl").read_bytes()
        runs.append({"engine": "ray", "workers": workers, "seconds": seconds, "identical_to_local": same})
    local = runs[0]["seconds"]
    for r in runs:
        r["pairs_per_s"] = round(n / r["seconds"], 1)
        r["vs_local"] = round(local / r["seconds"], 2)
        r["seconds"] = round(r["seconds"], 1)
    result = {
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, one torch thread per process",
        "model": str(args.model),
        "pairs": n,
        "chunk": args.chunk,
        "ray_start_seconds": round(ray_start, 1),
        "runs": runs,
    }
    OUT.mkdir(exist_ok=True)
    atomic_write_json(OUT / "ray_predict.json", result)
    lines = [
        "# relevance predict: local vs Ray actors",
        "",
        f"`{result['command']}`; {n} seeded test pairs of every task of `{args.model}`, `--chunk {args.chunk}`; "
        f"{result['machine']}. Ray started once before the Ray calls ({result['ray_start_seconds']} s, not "
        "counted); each Ray call includes loading the model in its actors.",
        "",
        "| engine | workers | seconds | pairs/s | vs local | output identical to local |",
        "|---|---|---|---|---|---|",
    ]
    for r in runs:
        same = "-" if r["engine"] == "local" else ("yes" if r["identical_to_local"] else "**no**")
        lines.append(
            f"| {r['engine']} | {r['workers']} | {r['seconds']} | {r['pairs_per_s']} | {r['vs_local']}x | {same} |"
        )
    atomic_write_text(OUT / "ray_predict.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
