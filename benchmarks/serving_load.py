"""Benchmark: the relevance service under load against offline scoring of the same pairs, in one run.

Starts ``shoptune serve`` (uvicorn, loopback) on a free port, sends the same seeded test pairs from 1, 8 and 32
concurrent clients (each request a few pairs of one task, as a search backend would send), and measures pairs/s and
p50 / p99 request latency at each level; then scores the same pairs offline with ``load_predictor(...).predict``
in one call. Bounded: ``--pairs`` pairs per level and a time limit per level.

Run:  .venv/bin/python benchmarks/serving_load.py --model runs/relevance/minilm-mhp --data runs/data_full
Writes benchmarks/results/serving_load.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import numpy as np

OUT = Path(__file__).resolve().parent / "results"


async def load(url: str, requests: list[list[dict]], clients: int, limit_s: float) -> dict:
    queue: asyncio.Queue = asyncio.Queue()
    for r in requests:
        queue.put_nowait(r)
    latencies: list[float] = []
    scored = 0
    start = time.perf_counter()

    async def client() -> None:
        nonlocal scored
        async with httpx.AsyncClient(timeout=60) as http:
            while not queue.empty() and time.perf_counter() - start < limit_s:
                pairs = queue.get_nowait()
                t0 = time.perf_counter()
                r = await http.post(f"{url}/v1/relevance", json={"pairs": pairs})
                r.raise_for_status()
                latencies.append(time.perf_counter() - t0)
                scored += len(pairs)

    await asyncio.gather(*(client() for _ in range(clients)))
    seconds = time.perf_counter() - start
    p50, p99 = (1000 * float(np.percentile(latencies, q)) for q in (50, 99))
    return {"clients": clients, "pairs": scored, "seconds": seconds, "pairs_per_s": scored / seconds,
            "p50_ms": p50, "p99_ms": p99}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("runs/relevance/minilm-mhp"))
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--pairs", type=int, default=600, help="pairs per concurrency level")
    parser.add_argument("--per-request", type=int, default=4)
    parser.add_argument("--limit-s", type=float, default=120.0, help="time limit per level")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the server and of offline scoring")
    args = parser.parse_args()

    import torch

    from shoptune.relevance.data import load_split
    from shoptune.relevance.ensemble import resolve_artifact
    from shoptune.relevance.predictor import load_predictor
    from shoptune.serving import free_port, wait_ready

    torch.set_num_threads(args.threads)
    artifact = resolve_artifact(args.model)
    data = args.data or artifact.parent / "data"
    tasks = json.loads((artifact / "relevance.json").read_text())["tasks"]
    per_task = max(1, args.pairs // len(tasks))
    pairs = [p for t in tasks for p in load_split(data, t, "test", per_task, seed=0)]
    rng = np.random.default_rng(0)
    order = rng.permutation(len(pairs))
    requests, chunk = [], []
    for i in order:  # requests of one task each, in a shuffled task order
        chunk.append(pairs[i])
        if len(chunk) == args.per_request or chunk[0].task != pairs[i].task:
            requests.append(chunk)
            chunk = []
    requests = [[{"task": p.task, "left": p.left, "right": p.right} for p in r] for r in requests + [chunk] if r]

    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen([sys.executable, "-m", "shoptune", "serve", "--model", str(artifact), "--port",
                               str(port), "--max-batch", "64", "--max-wait-ms", "5"], env=env)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_ready(url, 120):
            raise SystemExit("the server did not get ready in 120 s")
        asyncio.run(load(url, requests[:8], 2, 30))  # warm-up
        levels = [asyncio.run(load(url, requests, n, args.limit_s)) for n in (1, 8, 32)]
    finally:
        server.terminate()
        server.wait(timeout=60)
    predictor = load_predictor(artifact)
    start = time.perf_counter()
    predictor.predict(pairs)
    offline = len(pairs) / (time.perf_counter() - start)
    result = {"date": time.strftime("%Y-%m-%d"), "model": str(artifact), "pairs": len(pairs),
              "pairs_per_request": args.per_request, "threads": args.threads, "offline_pairs_per_s": offline,
              "levels": levels, "ratio_at_32": levels[-1]["pairs_per_s"] / offline}  # fmt: skip
    OUT.mkdir(exist_ok=True)
    (OUT / "serving_load.json").write_text(json.dumps(result, indent=2))
    md = ["# Serving under load vs offline scoring", "", "| clients | pairs/s | vs offline | p50 ms | p99 ms |",
          "|---|---|---|---|---|"]  # fmt: skip
    for lv in levels:
        md.append(f"| {lv['clients']} | {lv['pairs_per_s']:.1f} | {lv['pairs_per_s'] / offline:.2f}x | "
                  f"{lv['p50_ms']:.0f} | {lv['p99_ms']:.0f} |")  # fmt: skip
    md.append(f"\nOffline `predict` of the same {len(pairs)} pairs: {offline:.1f} pairs/s. {args.per_request} pairs "
              f"per request, {args.threads} thread(s), {result['date']}.")  # fmt: skip
    (OUT / "serving_load.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
