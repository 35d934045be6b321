"""`shoptune eval`: score a causal LM on registered tasks or raw benchmark files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shoptune.cli.console import ci, console, err_console, model_bars, table
from shoptune.cli.types import Split, TaskDirOpt


def eval_cmd(
    ctx: typer.Context,
    model: Annotated[str, typer.Option("--model", help="Bundled name, local path or hub id.")],
    tasks: Annotated[list[str], typer.Option("--tasks", help="Task names, shopbench:PATH or ecominstruct:DIR.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for metrics.json and predictions.jsonl.")],
    adapter: Annotated[Path | None, typer.Option("--adapter", help="A LoRA adapter folder to apply.")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Questions per forward pass (at least 1).")] = 8,
    limit: Annotated[int | None, typer.Option("--limit", help="At most N examples per task (N >= 1).")] = None,
    shots: Annotated[int, typer.Option("--shots", help="k-shot examples from the task's train split (k >= 0).")] = 0,
    split: Annotated[Split, typer.Option("--split", help="Split of registered tasks to score.")] = Split.test,
    data: Annotated[Path | None, typer.Option("--data", help="A `shoptune data build` folder.")] = None,
    data_root: Annotated[Path | None, typer.Option("--data-root", help="Raw data, when --data is not given.")] = None,
    generate_choices: Annotated[
        bool, typer.Option("--generate-choices", help="Generate and parse even multiple-choice answers.")
    ] = False,
    task_dir: TaskDirOpt = None,
    bf16: Annotated[
        bool, typer.Option("--bf16", help="bf16 autocast: ~2x faster on CPU, scores may differ slightly.")
    ] = False,
) -> None:
    """Score a model on registered tasks or raw benchmark files; writes metrics.json + predictions.jsonl."""
    from shoptune.api import evaluate

    with model_bars() as bars:
        metrics = evaluate(
            model,
            [*tasks, *ctx.args],  # `--tasks a b c` arrives as one option value plus extra arguments
            out,
            adapter=adapter,
            batch_size=batch_size,
            limit=limit,
            shots=shots,
            split=split.value,
            data=data,
            data_root=data_root,
            generate_choices=generate_choices,
            task_dirs=task_dir or [],
            bf16=bf16,
            loading=lambda name: err_console.status(f"loading {name}"),
            progress=bars,
        )
    print_metrics(metrics)
    console.print(f"wrote {out / 'metrics.json'} and {out / 'predictions.jsonl'}")


def print_metrics(metrics: dict[str, Any]) -> None:
    """Score, CI, n and unparsed answers per task, then the mean of each group."""
    columns = ["task", "group", "metric", "score", "95% CI", "n", "unparsed"]
    shown = table(f"overall {metrics['overall']:.4f}", columns, right=("score", "95% CI", "n", "unparsed"))
    for name, t in metrics["tasks"].items():
        interval = ci(t["ci95"])
        shown.add_row(name, t["group"], t["metric"], f"{t['score']:.4f}", interval, str(t["n"]), str(t["unparsed"]))
    for group, value in metrics["groups"].items():
        interval = ci(metrics["groups_ci95"][group])
        shown.add_row(f"[bold]{group}[/]", "(group)", "mean", f"{value:.4f}", interval, "", "")
    console.print(shown)
