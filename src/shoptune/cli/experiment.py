"""`shoptune experiments heldout | plan | run | analyze | status` (also as `shoptune experiment ...`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shoptune.cli.console import console, log, model_bars, table
from shoptune.cli.types import AddressOpt, Group, Split, engine_options, set_option, value_of

experiments_app = typer.Typer(help="The studies' comparisons, one command each.", no_args_is_help=True)

SetOpt = set_option("Override a sweep key: eval.limit=100, set.budget.total=2400")
SweepEngineOpt, SweepWorkersOpt = engine_options(
    "runs one after another", "runs on Ray workers at once", "runs at once (a GPU or a CPU slot each)"
)


@experiments_app.command("heldout")
def experiments_heldout(
    run: Annotated[Path, typer.Argument(help="An SFT run folder (with adapter/) or an adapter folder.")],
    limit: Annotated[int | None, typer.Option(help="At most N test examples per task (N >= 1).")] = 200,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Questions per forward pass (at least 1).")] = 16,
    split: Annotated[Split, typer.Option(help="Split to score.")] = Split.test,
    bf16: Annotated[bool, typer.Option("--bf16", help="bf16 autocast for both models (faster on CPU).")] = False,
    base_from: Annotated[
        Path | None,
        typer.Option(
            "--base-from", help="Reuse another run's eval/base (same tasks, split, limit) instead of rescoring."
        ),
    ] = None,
    only: Annotated[Group | None, typer.Option("--only", help="Score one group alone: held-in or held-out.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Output folder (default RUN/eval).")] = None,
) -> None:
    """Zero-shot base vs tuned adapter on held-in and held-out tasks, with paired bootstrap CIs."""
    from shoptune.api import compare_heldout, heldout_folders

    with model_bars() as bars:
        report = compare_heldout(
            run,
            out=out,
            limit=limit,
            batch_size=batch_size,
            split=split.value,
            bf16=bf16,
            base_from=base_from,
            only=value_of(only),
            log=log,
            progress=bars,
        )
    folder = heldout_folders(run, out)[1]
    console.print((folder / "comparison.md").read_text())
    console.print(f"wrote {folder / 'comparison.json'} ({len(report['tasks'])} tasks)")


PresetOpt = Annotated[
    str | None, typer.Option("--preset", help="One of the sweep file's presets (say, gpu: the studies' own scale).")
]


@experiments_app.command("plan")
def experiment_plan(
    sweep: Annotated[Path, typer.Argument(help="Sweep YAML (see configs/experiments/).")],
    set_: SetOpt = None,
    preset: PresetOpt = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="The data build the sweep would use (for pool and split sizes).")
    ] = None,
    priors: Annotated[
        Path | None,
        typer.Option("--from", help="An earlier sweep folder: use the seed SD and item SD its contrasts measured."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="The sweep folder: its finished runs give the measured throughput.")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the plan as JSON here.")] = None,
) -> None:
    """Before running a sweep: its expected wall time, and the smallest effect each primary contrast can detect."""
    from shoptune.api import plan_experiment
    from shoptune.experiments.planning import plan_markdown
    from shoptune.io import atomic_write_json

    plan = plan_experiment(sweep, overrides=set_, preset=preset, data=data, priors=priors, out=out)
    console.print(plan_markdown(plan), markup=False, highlight=False)
    if json_out is not None:
        atomic_write_json(json_out, plan)
        console.print(f"wrote {json_out}")


@experiments_app.command("run")
def experiment_run(
    sweep: Annotated[Path, typer.Argument(help="Sweep YAML (see configs/experiments/).")],
    out: Annotated[Path, typer.Option("--out", help="Sweep folder (arms, evals, results, comparisons).")],
    resume: Annotated[bool, typer.Option("--resume", help="Continue a sweep: done arms are skipped.")] = False,
    set_: SetOpt = None,
    preset: PresetOpt = None,
    threads: Annotated[
        int | None, typer.Option("--threads", help="torch threads, at least 1 (default: torch's).")
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="An existing data build for every arm (instead of building one).")
    ] = None,
    engine: SweepEngineOpt = "local",
    workers: SweepWorkersOpt = 2,
    address: AddressOpt = None,
) -> None:
    """Train every arm x seed of a sweep, score each on one fixed item set, write results and comparisons."""
    from shoptune.api import run_sweep

    with model_bars() as bars:
        run_sweep(
            sweep,
            out,
            resume=resume,
            overrides=set_,
            preset=preset,
            data=data,
            threads=threads,
            log=log,
            progress=bars,
            engine=engine,
            workers=workers,
            address=address,
        )
    console.print((out / "results.md").read_text(encoding="utf-8"))
    console.print(f"wrote {out / 'results.md'}, {out / 'results.parquet'} and {out / 'comparisons.md'}")


@experiments_app.command("analyze")
def experiment_analyze(out: Annotated[Path, typer.Argument(help="A sweep folder, finished or still running.")]) -> None:
    """Results and comparisons of the arms finished so far (the full analysis runs at the end of `run`)."""
    from shoptune.experiments.sweep import analyze_sweep

    analyze_sweep(out, log=log)


@experiments_app.command("status")
def experiment_status(out: Annotated[Path, typer.Argument(help="A sweep folder.")]) -> None:
    """Where each arm x seed of a sweep stands: done, trained, training (step N), started or pending."""
    from shoptune.experiments.sweep import sweep_status

    rows = sweep_status(out)
    shown = table(
        f"{out}: {sum(r['state'] == 'done' for r in rows)} of {len(rows)} runs done", ["arm", "seed", "state", "detail"]
    )
    for row in rows:
        shown.add_row(row["arm"], str(row["seed"]), row["state"], row["detail"])
    console.print(shown)
