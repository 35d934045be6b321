"""Benchmark: sweeps per hour from running a sweep's runs at once, with the same results.

One fixed sweep, this code, three ways one after another on a quiet machine (each a fresh folder):

- ``serial-1``: ``experiment run --threads 1`` (one process, one thread: the reference results);
- ``serial-2``: ``experiment run --threads 2`` (one process using every core: what a user runs by default);
- ``ray-2``: ``experiment run --threads 1 --engine ray --workers 2`` (two runs at once, one thread each).

Reports each wall time, the ratios, and whether every answer and every arm's score equals ``serial-1``'s
(``ray-2`` must: the same arithmetic on one thread per run; ``serial-2`` need not: two threads sum in another
order, which can move bf16-rounded answers).

Run:  .venv/bin/python benchmarks/sweep_workers.py [--sweep configs/experiments/chain_of_task.yaml] \
          [--set eval.limit=4]
Writes benchmarks/results/sweep_workers.{json,md}.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweep_speed import answers, scores  # noqa: E402  (the same agreement measures as the before/after benchmark)

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "results"
WAYS = {
    "serial-1": ["--threads", "1"],
    "serial-2": ["--threads", "2"],
    "ray-2": ["--threads", "1", "--engine", "ray", "--workers", "2"],
}


def run(sweep: Path, out: Path, flags: list[str], overrides: list[str], log: Path) -> float:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("OMP_NUM_THREADS", None)  # --threads decides
    cmd = [sys.executable, "-m", "shoptune", "experiment", "run", str(sweep), "--out", str(out), *flags]
    cmd += [x for o in overrides for x in ("--set", o)]
    started = time.perf_counter()
    with log.open("w") as sink:
        done = subprocess.run(cmd, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
    if done.returncode:
        raise SystemExit(f"{out.name} failed: see {log}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", type=Path, default=ROOT / "configs" / "experiments" / "chain_of_task.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="a sweep override, every way")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="sweep_workers_"))
    work.mkdir(parents=True, exist_ok=True)
    seconds = {name: run(args.sweep.resolve(), work / name, flags, args.overrides, work / f"{name}.log")
               for name, flags in WAYS.items()}  # fmt: skip
    reference_answers, reference_scores = answers(work / "serial-1"), scores(work / "serial-1")
    agreement = {}
    for name in WAYS:
        got = answers(work / name)
        common = sorted(set(got) & set(reference_answers))
        agreement[name] = {
            "items": len(common),
            "same_answer": sum(got[k] == reference_answers[k] for k in common) / max(1, len(common)),
            "same_scores": scores(work / name) == reference_scores,
        }
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "sweep": str(args.sweep),
        "overrides": args.overrides,
        "machine": f"{os.cpu_count()} cores",
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "ray_vs_serial_1": round(seconds["serial-1"] / seconds["ray-2"], 2),
        "ray_vs_serial_2": round(seconds["serial-2"] / seconds["ray-2"], 2),
        "agreement_with_serial_1": agreement,
        "work": str(work),
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "sweep_workers.json").write_text(json.dumps(result, indent=2))
    lines = [
        "# Sweeps per hour: runs at once (Ray, one thread each) vs one after another",
        "",
        f"`{args.sweep.name}` {' '.join('--set ' + o for o in args.overrides)}, this code, each way in a fresh "
        f"folder, one after another ({result['date']}, {result['machine']}).",
        "",
        "| way | wall (min) | sweeps/hour vs serial-1 | same answers as serial-1 | same arm scores |",
        "|---|---|---|---|---|",
    ]
    for name in WAYS:
        a = agreement[name]
        lines.append(
            f"| {name} | {seconds[name] / 60:.1f} | {seconds['serial-1'] / seconds[name]:.2f}x | "
            f"{100 * a['same_answer']:.1f}% of {a['items']} | {'yes' if a['same_scores'] else 'no'} |"
        )
    lines += ["", f"ray-2 vs serial-2 (the default a user runs): **{result['ray_vs_serial_2']}x**."]
    (OUT / "sweep_workers.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
