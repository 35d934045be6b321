"""`shoptune demo`: both halves of shoptune on the bundled demo data and models (:mod:`shoptune.demo`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shoptune.cli.console import console, log, model_bars


def demo(
    out: Annotated[Path, typer.Option("--out", help="Where the demo writes its data, runs and report.")] = Path(
        "runs/demo"
    ),
    config: Annotated[Path | None, typer.Option(help="Demo config (default: configs/demo.yaml).")] = None,
    skip_training: Annotated[bool, typer.Option(help="Only build the demo's data.")] = False,
) -> None:
    """The embedded default on bundled demo data and models, both halves: a multi-task relevance cross-encoder
    vs its single-task baseline on a low-resource pair task, and a short multi-task LoRA fine-tune of SmolLM2
    (zero-shot vs tuned on held-in and held-out tasks); ends with the path of report.html."""
    from shoptune.demo import run_demo

    report = run_demo(out, config=config, skip_training=skip_training, log=log, bars=model_bars)
    console.print(str(report))
