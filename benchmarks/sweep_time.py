"""Where a sweep's time goes: training, scoring and the rest, read from finished sweep folders (no compute).

For each sweep folder given, sums over its runs the training seconds (``run/summary.json``) and the scoring
seconds (``eval/eval.json``, the base model's too), and sets them against the wall time from the sweep's start
(``plan.json``) to its results (``results.md``) times the number of workers that shared it. What is left is
loading models and data, building the run's batches and writing files, and any pause of a sweep that was stopped
and resumed (its wall time runs from the first start). This is what decides how much a faster
scorer or a faster training step can buy: a sweep whose runs spend 70% of their time training cannot run 2x
faster from scoring alone (Amdahl).

Run:  .venv/bin/python benchmarks/sweep_time.py runs/sweeps/* [--workers rank_diversity_fixed=2]
Writes benchmarks/results/sweep_time.{json,md}.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "results"


def breakdown(folder: Path, workers: int) -> dict[str, Any]:
    train = sum(json.loads(p.read_text())["train_seconds"] for p in folder.glob("arms/*/seed-*/run/summary.json"))
    scored = [json.loads(p.read_text()).get("seconds", 0.0) for p in folder.glob("**/eval/eval.json")]
    started = datetime.fromisoformat(json.loads((folder / "plan.json").read_text())["started"])
    ended = datetime.fromtimestamp((folder / "results.md").stat().st_mtime)
    wall = (ended - started).total_seconds() * workers  # worker-seconds: each worker's wall time, summed
    runs = len(list(folder.glob("arms/*/seed-*/run/summary.json")))
    rest = max(0.0, wall - train - sum(scored))
    return {
        "sweep": folder.name,
        "runs": runs,
        "workers": workers,
        "worker_seconds": round(wall),
        "train_seconds": round(train),
        "score_seconds": round(sum(scored)),
        "other_seconds": round(rest),
        "train_share": round(train / wall, 3),
        "score_share": round(sum(scored) / wall, 3),
        "other_share": round(rest / wall, 3),
        # The most a scorer infinitely fast (or a training step infinitely fast) could speed the sweep up.
        "max_speedup_from_scoring": round(wall / (wall - sum(scored)), 2),
        "max_speedup_from_training": round(wall / (wall - train), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweeps", nargs="+", type=Path)
    parser.add_argument("--workers", action="append", default=[], help="NAME=N: a sweep run by N workers at once")
    args = parser.parse_args()
    from shoptune.io import atomic_write_json, atomic_write_text

    workers = {k: int(v) for k, v in (w.split("=", 1) for w in args.workers)}
    rows = [breakdown(f, workers.get(f.name, 1)) for f in args.sweeps if (f / "results.md").is_file()]
    OUT.mkdir(exist_ok=True)
    atomic_write_json(OUT / "sweep_time.json", {"command": "sweep_time.py " + " ".join(map(str, args.sweeps)),
                                                "sweeps": rows})  # fmt: skip
    lines = [
        "# Where a sweep's time goes (finished sweeps, one torch thread per worker)",
        "",
        "| sweep | runs | workers | worker-hours | training | scoring | other (load, data, files) | "
        "max speed-up from scoring alone | from training alone |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['sweep']} | {r['runs']} | {r['workers']} | {r['worker_seconds'] / 3600:.2f} | "
            f"{r['train_share']:.0%} | {r['score_share']:.0%} | {r['other_share']:.0%} | "
            f"{r['max_speedup_from_scoring']}x | {r['max_speedup_from_training']}x |"
        )
    atomic_write_text(OUT / "sweep_time.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
