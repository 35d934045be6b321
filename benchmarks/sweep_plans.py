"""What every built-in sweep can detect before it runs (issue 22): `shoptune experiment plan` on each sweep of
configs/experiments/, at its CPU size and with its `gpu` preset.

Run:  .venv/bin/python benchmarks/sweep_plans.py
Writes benchmarks/results/sweep_plans.{json,md}. The variance it assumes is each sweep file's ``plan.variance``
(from the older CPU sweeps), so an MDE here is only as good as that prior; a sweep's own seeds replace it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from shoptune.api import plan_experiment
from shoptune.io import atomic_write_json, atomic_write_text

ROOT = Path(__file__).resolve().parent.parent
SWEEPS = ROOT / "configs" / "experiments"
OUT = ROOT / "benchmarks" / "results" / "sweep_plans"


def _num(value: float) -> str:
    return "∞" if math.isinf(value) else f"{value:.3f}"


def main() -> None:
    plans: dict[str, dict[str, Any]] = {}
    for path in sorted(SWEEPS.glob("*.yaml")):
        for preset in (None, "gpu"):
            plans[f"{path.stem}{'' if preset is None else ' (gpu)'}"] = plan_experiment(path, preset=preset)
    lines = [
        "# What each built-in sweep can detect (`shoptune experiment plan`)",
        "",
        "Wall time at this machine's throughput (2-core CPU, one torch thread; the gpu presets are meant for a GPU, "
        "their hours here only show the work). MDE: the smallest primary contrast detected 80% of the time at "
        "α = 0.05, assuming the variance the older CPU sweeps measured (seed SD 0.09, item SD 0.40 of a two-arm "
        "contrast; an interaction has twice the variance). Seeds needed: for each contrast's expected effect "
        "(0.05), with as many items as it takes.",
        "",
        "| sweep | runs | items per run | hours | primary contrast | items behind it | MDE | seeds needed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, plan in plans.items():
        for p in plan["primary"]:
            needed = (p.get("needed") or {}).get("min_seeds")
            lines.append(
                f"| {name} | {plan['runs']} | {plan['items']} | {plan['hours']['total']:.1f} | {p['name']} | "
                f"{p['items']} | {_num(p['mde'])} | {needed or 'out of reach'} |"
            )
    atomic_write_json(OUT.with_suffix(".json"), plans)
    atomic_write_text(OUT.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
