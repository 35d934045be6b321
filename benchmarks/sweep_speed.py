"""Benchmark: sweeps per hour, before and after a change: one fixed sweep run end to end by two versions of
shoptune side by side (two processes, one torch thread each, started together on the same machine and data), with
the wall time of each and how far their results agree.

"Before" is a git ref checked out into a temporary worktree and imported through PYTHONPATH; "after" is this
checkout. Both read the same sweep file and data build. Agreement: per scored item, the same answer; per arm x
seed, the same score.

Run:  .venv/bin/python benchmarks/sweep_speed.py --before ffd7677 [--sweep configs/experiments/chain_of_task.yaml]
Writes benchmarks/results/sweep_speed.{json,md}.
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


def start(src: Path, sweep: Path, out: Path, log: Path, overrides: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "shoptune", "experiment", "run", str(sweep), "--out", str(out), "--threads", "1"]
    cmd += [x for o in overrides for x in ("--set", o)]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def answers(folder: Path) -> dict[tuple[str, str, str], str]:
    """(arm, seed, item id) -> answer, over every scored run of a sweep folder."""
    out = {}
    for file in folder.glob("arms/*/seed-*/eval/predictions.jsonl"):
        arm, seed = file.parts[-4], file.parts[-3]
        for i, line in enumerate(file.open(encoding="utf-8")):
            row = json.loads(line)  # rows are in the sweep's fixed item order
            out[(arm, seed, f"{row['task']}:{i}")] = json.dumps(row.get("parsed"))
    return out


def scores(folder: Path) -> dict[str, float]:
    out = {}
    for file in folder.glob("arms/*/seed-*/eval/metrics.json"):
        out[f"{file.parts[-4]}/{file.parts[-3]}"] = json.loads(file.read_text())["overall"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="git ref of the 'before' version")
    parser.add_argument("--sweep", type=Path, default=ROOT / "configs" / "experiments" / "chain_of_task.yaml")
    parser.add_argument("--work", type=Path, default=None, help="where the two sweep folders go (default: temp)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="a sweep override, both sides")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="sweep_speed_"))
    tree = work / "before_src"
    subprocess.run(["git", "worktree", "add", "--detach", "-f", str(tree), args.before], cwd=ROOT, check=True)
    try:
        sides = {"before": tree / "src", "after": ROOT / "src"}
        procs, started, seconds = {}, {}, {}
        for name, src in sides.items():
            started[name] = time.perf_counter()
            procs[name] = start(src, args.sweep.resolve(), work / name, work / f"{name}.log", args.overrides)
        while procs:
            for name, proc in list(procs.items()):
                if proc.poll() is not None:
                    seconds[name] = time.perf_counter() - started[name]
                    if proc.returncode:
                        raise SystemExit(f"{name} failed: see {work / f'{name}.log'}")
                    del procs[name]
            time.sleep(2)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
    a, b = answers(work / "before"), answers(work / "after")
    common = sorted(set(a) & set(b))
    same = sum(a[k] == b[k] for k in common)
    sa, sb = scores(work / "before"), scores(work / "after")
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "sweep": str(args.sweep),
        "overrides": args.overrides,
        "before": args.before,
        "after": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip(),  # fmt: skip
        "seconds": seconds,
        "speedup": seconds["before"] / seconds["after"],
        "items_compared": len(common),
        "same_answer": same / max(1, len(common)),
        "scores": {"before": sa, "after": sb},
        "work": str(work),
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "sweep_speed.json").write_text(json.dumps(result, indent=2))
    md = [
        "# Sweeps per hour: before vs after",
        "",
        "| version | wall time (min) | scores (arm/seed: overall) |",
        "|---|---|---|",
        *(
            f"| {k} ({result[k]}) | {seconds[k] / 60:.1f} | "
            + ", ".join(f"{r}: {v:.4f}" for r, v in sorted(result["scores"][k].items()))
            + " |"
            for k in ("before", "after")
        ),  # fmt: skip
        "",
        f"`{args.sweep.name}` {' '.join('--set ' + o for o in args.overrides)} end to end, both versions side by "
        f"side (one torch thread each, started together, "
        f"{result['date']}): after / before **{result['speedup']:.2f}x** faster; the same answer on "
        f"{100 * result['same_answer']:.1f}% of {len(common)} scored items.",
    ]
    (OUT / "sweep_speed.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
