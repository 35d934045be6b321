"""`shoptune tasks`, `shoptune sources`, `shoptune models`: what is registered and installed."""

from __future__ import annotations

from typing import Annotated

import typer

from shoptune.cli.console import console, table
from shoptune.cli.types import TaskDirOpt
from shoptune.tasks.spec import TaskKind

tasks_app = typer.Typer(help="Inspect the task registry.", no_args_is_help=True)
sources_app = typer.Typer(help="Inspect the source adapters.", no_args_is_help=True)
models_app = typer.Typer(help="Inspect the bundled models.", no_args_is_help=True)


@tasks_app.command("list")
def tasks_list(
    task_dir: TaskDirOpt = None,
    capability: Annotated[str | None, typer.Option(help="Only tasks of this capability.")] = None,
    kind: Annotated[TaskKind | None, typer.Option(help="Only tasks of this kind.")] = None,
) -> None:
    """Show all registered tasks (built-in and from --task-dir) as a table."""
    from shoptune.api import list_tasks

    tasks = list_tasks(task_dir or [], capability=capability, kind=kind)
    shown = table(f"{len(tasks)} tasks", ["name", "capability", "kind", "lang", "metric", "source", "split"])
    for t in tasks:
        source = f"{t.source.adapter}:{t.source.view}"
        shown.add_row(t.name, t.capability, t.kind.value, t.language, ", ".join(t.metric), source, t.split.policy)
    console.print(shown)


@tasks_app.command("show")
def tasks_show(name: str, task_dir: TaskDirOpt = None) -> None:
    """Print one task's full specification as YAML."""
    import yaml

    from shoptune.api import get_task

    spec = get_task(name, task_dir or [])
    console.print(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False, allow_unicode=True))


@sources_app.command("list")
def sources_list() -> None:
    """Show every source adapter, the path it expects and its views."""
    from shoptune.data.sources import list_sources

    shown = table("source adapters", ["name", "expects", "views"])
    for name, cls in list_sources().items():
        shown.add_row(name, cls.path_hint, ", ".join(f"{v} ({i.record_type})" for v, i in sorted(cls.views.items())))
    console.print(shown)


@models_app.command("list")
def models_list() -> None:
    """Show the bundled model names and whether they are installed and cached."""
    from shoptune.models import bundled_models

    shown = table("bundled models", ["name", "kind", "package", "available", "cached"])
    for m in bundled_models():
        cached = "n/a" if m.cached is None else ("yes" if m.cached else "no")
        shown.add_row(m.name, m.kind, m.package, "yes" if m.available else "no", cached)
    console.print(shown)
