"""`shoptune data build | audit | stats | validate` (`data generate` is in :mod:`.generate`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

from shoptune.cli.console import console, err_console, lazy_progress, table
from shoptune.cli.types import OnError, OnErrorOpt, value_of

data_app = typer.Typer(help="Build, inspect and validate task data.", no_args_is_help=True)


@data_app.command("build")
def data_build(
    config: Annotated[Path, typer.Argument(help="Build config YAML (data_root, seed, tasks, ...).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (replaced atomically).")],
    on_error: OnErrorOpt = None,
    tasks: Annotated[str | None, typer.Option(help="Comma-separated task names (overrides the config).")] = None,
    atomic: Annotated[
        bool | None, typer.Option("--atomic/--no-atomic", help="Derive chain-of-task atomic tasks.")
    ] = None,
    data_root: Annotated[Path | None, typer.Option(help="Raw data folder (overrides the config).")] = None,
    seed: Annotated[int | None, typer.Option(help="Split/sampling seed (overrides the config).")] = None,
    allow_leaks: Annotated[
        bool | None,
        typer.Option(
            "--allow-leaks",
            help="Build even when dev/test records share a key with a train split; record them in the manifest.",
        ),
    ] = None,
    num_proc: Annotated[
        int | None,
        typer.Option("--num-proc", help="Processes reading the sources at once (one source pool each; default 1)."),
    ] = None,
) -> None:
    """Build the configured tasks as Parquet datasets plus manifest.json, then audit their splits for leaks."""
    from shoptune.api import build_data

    columns = (
        TextColumn("[bold]building[/] {task.fields[name]:<32}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with lazy_progress(*columns, transient=True) as bar:
        job = bar.add_task("build", total=None, name="")

        def progress(name: str, done: int, total: int) -> None:
            bar.start()
            bar.update(job, name=name, completed=done, total=total)

        manifest = build_data(
            config,
            out,
            tasks=tasks.split(",") if tasks else None,
            on_error=value_of(on_error),
            atomic=atomic,
            data_root=data_root,
            seed=seed,
            allow_leaks=allow_leaks,
            num_proc=num_proc,
            progress=progress,
        )
    print_stats(manifest)
    derived = {name: info for name, info in manifest["tasks"].items() if "derived_from" in info}
    if derived:
        columns = ["task", "from", "atom", "kind", "train", "dev", "test"]
        shown = table(f"{len(derived)} derived chain-of-task (atomic) tasks", columns)
        for name, info in sorted(derived.items()):
            shown.add_row(name, info["derived_from"], info["atom"], info["kind"], *_counts(info))
        console.print(shown)
    console.print(f"wrote {len(manifest['tasks'])} tasks to {out} (skipped rows: {manifest['skipped_rows_total']})")
    audit = manifest.get("audit") or {}
    if audit.get("leaks"):
        leaks = ", ".join(f"{name} {n}" for name, n in audit["leaks"].items())
        err_console.print(f"leaks allowed and recorded in the manifest: {leaks}", markup=False, highlight=False)


@data_app.command("audit")
def data_audit(
    directory: Annotated[Path, typer.Argument(help="A folder written by `shoptune data build`.")],
    near_duplicates: Annotated[
        bool, typer.Option("--near-duplicates/--no-near-duplicates", help="Also look for near-duplicate texts.")
    ] = True,
) -> None:
    """Check a build's splits: dev/test records sharing a key with a train split of the same source, and
    exact / near-duplicate texts. Exits 1 when a task whose splits the build made leaks."""
    from shoptune.api import audit_data

    report = audit_data(directory, near_duplicates=near_duplicates)
    print_audit(report)
    if report["leaks"]:
        raise typer.Exit(1)


def print_audit(report: dict[str, Any]) -> None:
    columns = ["task", "split", "dev", "test", "key in own train", "key in other train", "exact dup", "near dup"]
    right = tuple(columns[2:])
    shown = table("split audit (dev / test records)", columns, right=right)
    for name, e in sorted(report["tasks"].items()):

        def pair(field: str, e: dict[str, Any] = e) -> str:
            return f"{e[field]['dev']} / {e[field]['test']}"

        other = " / ".join(str(sum(e["shared_with_other_train"][s].values())) for s in ("dev", "test"))
        shown.add_row(
            name,
            e["split"],
            str(e["records"]["dev"]),
            str(e["records"]["test"]),
            pair("shared_with_own_train"),
            other,
            pair("exact_duplicates"),
            pair("near_duplicates"),
        )
    console.print(shown)
    for name, n in report["shipped_overlap"].items():
        console.print(f"{name}: {n} dev/test records of its shipped splits share a key with train (by design)")
    if report["leaks"]:
        for name, n in report["leaks"].items():
            err_console.print(f"leak: {name}: {n} dev/test records share a key with a train split", markup=False)
    else:
        console.print("no leaks: no dev/test record of a split the build made shares a key with a train split")


def _counts(info: dict[str, Any]) -> list[str]:
    return [str(info["counts"][split]) for split in ("train", "dev", "test")]


def print_stats(manifest: dict[str, Any]) -> None:
    """One row per built task (derived atomic tasks are listed by `data build` separately)."""
    columns = ["task", "capability", "kind", "train", "dev", "test", "labels (train)", "skipped"]
    title = f"tasks (seed {manifest['seed']}, shoptune {manifest['shoptune_version']})"
    shown = table(title, columns, right=("train", "dev", "test", "skipped"))
    tasks = {name: info for name, info in manifest["tasks"].items() if "derived_from" not in info}
    for name, info in sorted(tasks.items()):
        labels = info["labels"]["train"]
        # Choice tasks whose options are items (titles, categories) have hundreds of "labels": count them instead.
        many = len(labels) > 5
        labelled = f"{len(labels)} distinct answers" if many else ", ".join(f"{k}:{v}" for k, v in labels.items())
        shown.add_row(name, info["capability"], info["kind"], *_counts(info), labelled, str(info["skipped_rows"]))
    console.print(shown)


@data_app.command("stats")
def data_stats(directory: Annotated[Path, typer.Argument(help="A folder written by `shoptune data build`.")]) -> None:
    """Print the counts per task, split and label of a build."""
    from shoptune.data.build import read_manifest

    print_stats(read_manifest(directory))


@data_app.command("validate")
def data_validate(
    file: Annotated[Path, typer.Argument(help="The raw file (or folder) to check.")],
    source: Annotated[str, typer.Option("--source", help="Source adapter name (see `shoptune sources list`).")],
    view: Annotated[str | None, typer.Option(help="View to derive records with (default: the source's).")] = None,
    on_error: OnErrorOpt = OnError.raise_,
) -> None:
    """Check a raw file against a source adapter; exit 0 and print row counts when it is valid."""
    from shoptune.api import validate_source

    check = validate_source(file, source, view=view, on_error=value_of(on_error) or "raise")
    shown = table(f"{file} ({source})", ["what", "count"], right=("count",))
    shown.add_row("rows read", str(check.rows))
    shown.add_row("rows skipped", str(check.skipped))
    if check.view:
        shown.add_row(f"records ({check.view})", str(check.records))
        for label, n in check.labels:
            shown.add_row(f"  label {label}", str(n))
    console.print(shown)
    for message in check.examples if check.skipped else []:
        err_console.print(f"skipped: {message}", markup=False, highlight=False)
    verdict = f"[yellow]valid after skipping {check.skipped} rows[/]" if check.skipped else "[green]valid[/]"
    console.print(f"{verdict}: {file}")
