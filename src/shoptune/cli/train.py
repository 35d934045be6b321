"""`shoptune train sft | relevance` and `shoptune export`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from shoptune.cli.console import console, lazy_progress, log
from shoptune.cli.relevance import train_relevance
from shoptune.cli.types import set_option
from shoptune.errors import ShoptuneError

train_app = typer.Typer(help="Training recipes.", no_args_is_help=True)
# The relevance system keeps its commands in cli/relevance.py; its training recipe joins the others here.
train_app.command("relevance")(train_relevance)

SetOpt = set_option("Override a config key: optim.lr=1e-4")


@train_app.command("sft")
def train_sft(
    config: Annotated[Path, typer.Argument(help="SFT recipe config YAML.")],
    out: Annotated[Path, typer.Option("--out", help="Run folder (checkpoints, adapter, logs).")],
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in --out.")] = False,
    set_: SetOpt = None,
) -> None:
    """Multi-task instruction tuning of a causal LM (LoRA or full fine-tuning)."""
    from shoptune.api import train_sft as train

    columns = (
        TextColumn("[bold]sft[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with lazy_progress(*columns) as bar:
        job = bar.add_task("train", total=None, info="")

        def progress(step: int, total: int, record: dict[str, Any]) -> None:
            bar.start()
            info = f"loss {record['loss']:.3f}  {record['tokens_per_s']:.0f} tok/s"
            bar.update(job, completed=step, total=total, info=info)

        summary = train(config, out, resume=resume, overrides=set_, log=log, progress=progress)
    console.print_json(data=summary)


def export(
    adapter: Annotated[Path, typer.Argument(help="An adapter folder written by `shoptune train sft`.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the merged model.")],
    merge: Annotated[bool, typer.Option("--merge", help="Fold the LoRA weights into the base model.")] = True,
    base: Annotated[str | None, typer.Option(help="Base model (default: the one the adapter was trained on).")] = None,
) -> None:
    """Write a merged model (base + adapter) that loads with plain transformers."""
    from shoptune.api import export_merged

    if not merge:
        raise ShoptuneError("only --merge export is supported: the adapter folder itself is the unmerged export")
    console.print(f"merged model: {export_merged(adapter, out, base=base)}")
