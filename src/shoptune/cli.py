"""The `shoptune` command line. Every command has `--help`; errors print one line, never a traceback.

Example:
    $ shoptune tasks list
    $ shoptune data build configs/data_demo.yaml --out runs/demo/data
    $ shoptune data validate --source home_depot train.csv
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

# typer vendors click (0.29+): its exceptions, not the click package's, are what a parse error raises.
from typer._click import exceptions as click_errors

from shoptune import __version__
from shoptune.cli_generate import generate
from shoptune.cli_relevance import relevance_app, train_relevance
from shoptune.cli_report import report
from shoptune.cli_types import OnError, Split
from shoptune.config import parse_set
from shoptune.errors import ShoptuneError
from shoptune.tasks.spec import TaskKind

# Wide tables when piped (CI logs, files): rich would otherwise wrap at 80 columns.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True)

app = typer.Typer(
    help="shoptune: multi-task adaptation of language models to e-commerce.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
tasks_app = typer.Typer(help="Inspect the task registry.", no_args_is_help=True)
data_app = typer.Typer(help="Build, inspect and validate task data.", no_args_is_help=True)
sources_app = typer.Typer(help="Inspect the source adapters.", no_args_is_help=True)
models_app = typer.Typer(help="Inspect the bundled models.", no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")
app.add_typer(data_app, name="data")
app.add_typer(sources_app, name="sources")
app.add_typer(models_app, name="models")

OnErrorOpt = Annotated[
    OnError | None,
    typer.Option("--on-error", help="raise: stop at the first bad row; skip: skip and count bad rows."),
]
TaskDirOpt = Annotated[
    list[Path] | None, typer.Option("--task-dir", help="A folder of your own task YAMLs (repeatable).")
]


@app.callback(invoke_without_command=True)
def _main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show the full traceback of an unexpected error.")] = False,
    allow_hub: Annotated[
        bool,
        typer.Option(
            "--allow-hub", help="Let model names download from the Hugging Face Hub (default: local files only)."
        ),
    ] = False,
) -> None:
    if allow_hub:
        os.environ["SHOPTUNE_ALLOW_HUB"] = "1"
    if version:
        console.print(f"shoptune {__version__}")
        raise typer.Exit()


# ----------------------------------------------------------------------------------------------- tasks
@tasks_app.command("list")
def tasks_list(
    task_dir: TaskDirOpt = None,
    capability: Annotated[str | None, typer.Option(help="Only tasks of this capability.")] = None,
    kind: Annotated[TaskKind | None, typer.Option(help="Only tasks of this kind.")] = None,
) -> None:
    """Show all registered tasks (built-in and from --task-dir) as a table."""
    from shoptune.tasks import load_tasks

    tasks = load_tasks(task_dir or [])
    known = sorted({t.capability for t in tasks.values()})
    if capability and capability not in known:
        raise ShoptuneError(f"--capability {capability!r}: no task has it (capabilities: {', '.join(known)})")
    table = Table(title=f"{len(tasks)} tasks")
    for col in ("name", "capability", "kind", "lang", "metric", "source", "split"):
        table.add_column(col)
    shown = 0
    for t in sorted(tasks.values(), key=lambda t: (t.capability, t.kind, t.name)):
        if (capability and t.capability != capability) or (kind and t.kind.value != kind):
            continue
        shown += 1
        table.add_row(
            t.name,
            t.capability,
            t.kind.value,
            t.language,
            ", ".join(t.metric),
            f"{t.source.adapter}:{t.source.view}",
            t.split.policy,
        )
    table.title = f"{shown} tasks"
    console.print(table)


@tasks_app.command("show")
def tasks_show(name: str, task_dir: TaskDirOpt = None) -> None:
    """Print one task's full specification as YAML."""
    import yaml

    from shoptune.tasks import load_tasks

    tasks = load_tasks(task_dir or [])
    if name not in tasks:
        raise ShoptuneError(f"unknown task {name!r} (see `shoptune tasks list`)")
    console.print(yaml.safe_dump(tasks[name].model_dump(mode="json"), sort_keys=False, allow_unicode=True))


# ----------------------------------------------------------------------------------------------- data
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
) -> None:
    """Build the configured tasks as Parquet datasets plus manifest.json."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from shoptune.data.build import build, load_build_config, select_tasks
    from shoptune.io import claim_output

    overrides = {
        "on_error": on_error.value if on_error else None,
        "seed": seed,
        "atomic": atomic,
        "tasks": tasks.split(",") if tasks else None,
        "data_root": str(data_root.resolve()) if data_root else None,
    }
    cfg = load_build_config(config, **overrides)
    claim_output(out, "manifest.json")  # before the progress bar: a refusal is the only line printed
    total = len(select_tasks(cfg))
    with Progress(
        TextColumn("[bold]building[/] {task.fields[name]:<32}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        job = bar.add_task("build", total=total, name="")
        seen: list[str] = []

        def progress(name: str) -> None:
            if seen:
                bar.advance(job)
            seen.append(name)
            bar.update(job, name=name)

        manifest = build(cfg, out, progress=progress)
        bar.advance(job)
    print_stats(manifest)
    derived = {name: info for name, info in manifest["tasks"].items() if "derived_from" in info}
    if derived:
        table = Table(title=f"{len(derived)} derived chain-of-task (atomic) tasks")
        for col in ("task", "from", "atom", "kind", "train", "dev", "test"):
            table.add_column(col)
        for name, info in sorted(derived.items()):
            c = info["counts"]
            table.add_row(
                name, info["derived_from"], info["atom"], info["kind"], str(c["train"]), str(c["dev"]), str(c["test"])
            )
        console.print(table)
    console.print(f"wrote {len(manifest['tasks'])} tasks to {out} (skipped rows: {manifest['skipped_rows_total']})")


def print_stats(manifest: dict) -> None:
    table = Table(title=f"tasks (seed {manifest['seed']}, shoptune {manifest['shoptune_version']})")
    tasks = {name: info for name, info in manifest["tasks"].items() if "derived_from" not in info}
    for col in ("task", "capability", "kind", "train", "dev", "test", "labels (train)", "skipped"):
        table.add_column(col, justify="right" if col in ("train", "dev", "test", "skipped") else "left")
    for name, info in sorted(tasks.items()):
        labels = info["labels"]["train"]
        # Choice tasks whose options are items (titles, categories) have hundreds of "labels": count them instead.
        shown = (
            ", ".join(f"{k}:{v}" for k, v in labels.items()) if len(labels) <= 5 else f"{len(labels)} distinct answers"
        )
        c = info["counts"]
        table.add_row(
            name,
            info["capability"],
            info["kind"],
            str(c["train"]),
            str(c["dev"]),
            str(c["test"]),
            shown,
            str(info["skipped_rows"]),
        )
    console.print(table)


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
    from shoptune.data.errorlog import ErrorLog
    from shoptune.data.sources import get_source
    from shoptune.data.sources.base import ViewContext

    adapter = _get_source(source)
    if view is not None and view not in adapter.views:
        raise ShoptuneError(f"--view {view!r}: source {source!r} has no such view (views: {', '.join(adapter.views)})")
    log = ErrorLog(on_error="skip" if on_error == OnError.skip else "raise")
    rows = adapter.read(file, log)
    table = Table(title=f"{file} ({source})")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("rows read", str(len(rows)))
    table.add_row("rows skipped", str(log.skipped))
    view_name = view or adapter.default_view
    if view_name:
        ctx = ViewContext(task="validate", capability="validate", language="en", log=log)
        records = list(get_source(source).records(rows, view_name, ctx))
        table.add_row(f"records ({view_name})", str(len(records)))
        labels = Counter(
            getattr(r, "label", None)
            or (r.output if isinstance(getattr(r, "output", None), str) and r.options else None)
            for r in records
        )
        for label, n in sorted(((str(k), v) for k, v in labels.items() if k and k != "None"), key=lambda kv: -kv[1])[
            :8
        ]:
            table.add_row(f"  label {label}", str(n))
    console.print(table)
    if log.skipped:
        for message in log.examples:
            err_console.print(f"skipped: {message}", markup=False, highlight=False)
    console.print(
        f"[green]valid[/]: {file}" if not log.skipped else f"[yellow]valid after skipping {log.skipped} rows[/]: {file}"
    )


def _get_source(name: str):
    from shoptune.data.sources import get_source

    try:
        return get_source(name)
    except KeyError as exc:
        raise ShoptuneError(exc.args[0]) from None


# ----------------------------------------------------------------------------------------------- sources / models
@sources_app.command("list")
def sources_list() -> None:
    """Show every source adapter, the path it expects and its views."""
    from shoptune.data.sources import list_sources

    table = Table(title="source adapters")
    for col in ("name", "expects", "views"):
        table.add_column(col)
    for name, cls in list_sources().items():
        table.add_row(name, cls.path_hint, ", ".join(f"{v} ({i.record_type})" for v, i in sorted(cls.views.items())))
    console.print(table)


@models_app.command("list")
def models_list() -> None:
    """Show the bundled model names and whether they are installed and cached."""
    from shoptune.models import bundled_models

    table = Table(title="bundled models")
    for col in ("name", "kind", "package", "available", "cached"):
        table.add_column(col)
    for m in bundled_models():
        cached = "n/a" if m.cached is None else ("yes" if m.cached else "no")
        table.add_row(m.name, m.kind, m.package, "yes" if m.available else "no", cached)
    console.print(table)


# ----------------------------------------------------------------------------------------------- demo
@app.command("demo")
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

    report = run_demo(
        out,
        config=config,
        skip_training=skip_training,
        log=lambda m: err_console.print(m, markup=False, highlight=False),
        bars=_model_bars,
    )
    console.print(str(report))


def main() -> None:
    """Console entry point: every failure is one line on stderr, never a traceback (unless --debug).

    Exit codes: 0 done, 2 bad input or option (a usage error or a shoptune error), 1 an unexpected error,
    130 interrupted.
    """
    debug = "--debug" in sys.argv[1:] or os.environ.get("SHOPTUNE_DEBUG") == "1"
    if "--allow-hub" not in sys.argv[1:] and os.environ.get("SHOPTUNE_ALLOW_HUB") != "1":
        # Offline for the whole process, not only for shoptune's own loaders: nothing reaches the network.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        code = app(standalone_mode=False)
    except click_errors.NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click_errors.ClickException as exc:
        _fail(exc.format_message(), exc.exit_code)
    except ShoptuneError as exc:
        _fail(str(exc), 2)
    except (KeyboardInterrupt, typer.Abort):
        _fail("interrupted", 130)
    except OSError as exc:
        if debug:
            raise
        _fail(_os_error(exc), 2)
    except Exception as exc:
        if debug:
            raise
        reason = str(exc).splitlines()[0] if str(exc) else ""
        _fail(f"unexpected {type(exc).__name__}: {reason} (rerun as `shoptune --debug ...` for the traceback)", 1)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    sys.exit(code)


def _os_error(exc: OSError) -> str:
    """`[Errno 2] No such file or directory: 'x'` as `x: no such file or directory`."""
    if exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror.lower()}"
    return str(exc)


# ----------------------------------------------------------------------------------------------- eval
@app.command("eval", context_settings={"allow_extra_args": True, "ignore_unknown_options": False})
def eval_cmd(
    ctx: typer.Context,
    model: Annotated[str, typer.Option("--model", help="Bundled name, local path or hub id.")],
    tasks: Annotated[list[str], typer.Option("--tasks", help="Task names, shopbench:PATH or ecominstruct:DIR.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for metrics.json and predictions.jsonl.")],
    adapter: Annotated[Path | None, typer.Option("--adapter", help="A LoRA adapter folder to apply.")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Questions per forward pass.")] = 8,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N examples per task.")] = None,
    shots: Annotated[int, typer.Option("--shots", min=0, help="k-shot examples from the task's train split.")] = 0,
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
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from shoptune.evaluation.collect import collect_items
    from shoptune.evaluation.lm import LMScorer
    from shoptune.evaluation.runner import evaluate, write_results
    from shoptune.io import claim_output
    from shoptune.models import load_causal_lm

    specs = [*tasks, *ctx.args]  # `--tasks a b c` arrives as one option value plus extra arguments
    # Everything that can be checked is checked before the model loads and the scoring starts.
    claim_output(out, "metrics.json", "predictions.jsonl")
    if adapter is not None:
        check_adapter(adapter)
    items = collect_items(
        specs, data=data, data_root=data_root, split=split.value, limit=limit, shots=shots, task_dirs=task_dir or []
    )
    with err_console.status(f"loading {model}"):
        lm, tokenizer = load_causal_lm(model)
        if adapter is not None:
            from peft import PeftModel

            lm = PeftModel.from_pretrained(lm, str(adapter), local_files_only=True)
    scorer = LMScorer(lm, tokenizer, batch_size=batch_size, bf16=bf16)
    with Progress(
        *Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err_console
    ) as bar:
        job = bar.add_task("scoring", total=len(items))
        result = evaluate(items, scorer, generate_choices=generate_choices, progress=lambda n: bar.advance(job, n))
    write_results(result, out, extra={"model": model, "adapter": str(adapter) if adapter else None})
    print_metrics(result.metrics)
    console.print(f"wrote {out / 'metrics.json'} and {out / 'predictions.jsonl'}")


def check_adapter(adapter: Path) -> None:
    """--adapter must be a peft adapter folder: say so in one line instead of failing inside peft."""
    if not adapter.is_dir():
        raise ShoptuneError(f"--adapter {adapter}: no such folder")
    if not (adapter / "adapter_config.json").is_file():
        raise ShoptuneError(f"--adapter {adapter}: not a LoRA adapter folder (no adapter_config.json)")


def print_metrics(metrics: dict) -> None:
    table = Table(title=f"overall {metrics['overall']:.4f}")
    for col in ("task", "group", "metric", "score", "95% CI", "n", "unparsed"):
        table.add_column(col, justify="left" if col in ("task", "group", "metric") else "right")
    for name, t in metrics["tasks"].items():
        lo, hi = t["ci95"]
        table.add_row(
            name, t["group"], t["metric"], f"{t['score']:.4f}", f"[{lo:.3f}, {hi:.3f}]", str(t["n"]), str(t["unparsed"])
        )
    for group, value in metrics["groups"].items():
        lo, hi = metrics["groups_ci95"][group]
        table.add_row(f"[bold]{group}[/]", "(group)", "mean", f"{value:.4f}", f"[{lo:.3f}, {hi:.3f}]", "", "")
    console.print(table)


# ----------------------------------------------------------------------------------------------- train / export
train_app = typer.Typer(help="Training recipes.", no_args_is_help=True)
app.add_typer(train_app, name="train")
# The relevance system keeps its commands in its own module; they join the same app here.
train_app.command("relevance")(train_relevance)
app.add_typer(relevance_app, name="relevance")
app.command("report")(report)
data_app.command("generate")(generate)


@train_app.command("sft")
def train_sft(
    config: Annotated[Path, typer.Argument(help="SFT recipe config YAML.")],
    out: Annotated[Path, typer.Option("--out", help="Run folder (checkpoints, adapter, logs).")],
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in --out.")] = False,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a config key: optim.lr=1e-4")] = None,
) -> None:
    """Multi-task instruction tuning of a causal LM (LoRA or full fine-tuning)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from shoptune.training.config import load_sft_config
    from shoptune.training.sft import check_run_folder, run_sft

    cfg = load_sft_config(config, parse_set(set_))
    check_run_folder(cfg, out, resume)
    with Progress(
        TextColumn("[bold]sft[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
    ) as bar:
        job = bar.add_task("train", total=None, info="")

        def progress(step: int, total: int, record: dict) -> None:
            bar.update(
                job, completed=step, total=total, info=f"loss {record['loss']:.3f}  {record['tokens_per_s']:.0f} tok/s"
            )

        summary = run_sft(cfg, out, resume=resume, log=lambda m: err_console.print(m, markup=False), progress=progress)
    console.print_json(data=summary)


@app.command("export")
def export(
    adapter: Annotated[Path, typer.Argument(help="An adapter folder written by `shoptune train sft`.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the merged model.")],
    merge: Annotated[bool, typer.Option("--merge", help="Fold the LoRA weights into the base model.")] = True,
    base: Annotated[str | None, typer.Option(help="Base model (default: the one the adapter was trained on).")] = None,
) -> None:
    """Write a merged model (base + adapter) that loads with plain transformers."""
    from shoptune.training.export import export_merged

    if not merge:
        raise ShoptuneError("only --merge export is supported: the adapter folder itself is the unmerged export")
    console.print(f"merged model: {export_merged(adapter, out, base)}")


# ----------------------------------------------------------------------------------------------- experiments
experiments_app = typer.Typer(help="The studies' comparisons, one command each.", no_args_is_help=True)
app.add_typer(experiments_app, name="experiments")


@contextmanager
def _model_bars():
    """One rich progress bar per evaluated model: yields ``add(name, total)``, which returns its advance callback."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console) as bar:

        def add(name: str, total: int):
            job = bar.add_task(f"scoring {name}", total=total)
            return lambda n: bar.advance(job, n)

        yield add


class Group(StrEnum):
    held_in = "held-in"
    held_out = "held-out"


@experiments_app.command("heldout")
def experiments_heldout(
    run: Annotated[Path, typer.Argument(help="An SFT run folder (with adapter/) or an adapter folder.")],
    limit: Annotated[int | None, typer.Option(min=1, help="At most N test examples per task.")] = 200,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 16,
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
    from shoptune.experiments.heldout import compare_base_and_tuned

    adapter = run / "adapter" if (run / "adapter").is_dir() else run
    with _model_bars() as bars:
        report = compare_base_and_tuned(
            adapter,
            limit=limit,
            batch_size=batch_size,
            split=split.value,
            bf16=bf16,
            log=lambda m: err_console.print(m, markup=False),
            progress=bars,
            base_from=base_from,
            only=only.value if only else None,
            out=out,
        )
    out = out or adapter.parent / "eval"
    console.print((out / "comparison.md").read_text())
    console.print(f"wrote {out / 'comparison.json'} ({len(report['tasks'])} tasks)")


@experiments_app.command("run")
def experiment_run(
    sweep: Annotated[Path, typer.Argument(help="Sweep YAML (see configs/experiments/).")],
    out: Annotated[Path, typer.Option("--out", help="Sweep folder (arms, evals, results, comparisons).")],
    resume: Annotated[bool, typer.Option("--resume", help="Continue a sweep: done arms are skipped.")] = False,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a sweep key: eval.limit=100, set.budget.total=2400")
    ] = None,
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="torch threads (default: torch's).")] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="An existing data build for every arm (instead of building one).")
    ] = None,
) -> None:
    """Train every arm x seed of a sweep, score each on one fixed item set, write results and comparisons."""
    from shoptune.experiments.sweep import load_sweep, run_sweep

    cfg = load_sweep(sweep, parse_set(set_))
    if data is not None:
        cfg.data = str(data.resolve())
    if threads:
        import torch

        torch.set_num_threads(threads)
    with _model_bars() as bars:
        run_sweep(cfg, out, resume=resume, log=lambda m: err_console.print(m, markup=False), progress=bars)
    console.print((out / "results.md").read_text(encoding="utf-8"))
    console.print(f"wrote {out / 'results.md'}, {out / 'results.parquet'} and {out / 'comparisons.md'}")


@experiments_app.command("analyze")
def experiment_analyze(out: Annotated[Path, typer.Argument(help="A sweep folder, finished or still running.")]) -> None:
    """Results and comparisons of the arms finished so far (the full analysis runs at the end of `run`)."""
    from shoptune.experiments.sweep import analyze_sweep

    analyze_sweep(out, log=lambda m: err_console.print(m, markup=False))


@experiments_app.command("status")
def experiment_status(out: Annotated[Path, typer.Argument(help="A sweep folder.")]) -> None:
    """Where each arm x seed of a sweep stands: done, trained, training (step N), started or pending."""
    from shoptune.experiments.sweep import sweep_status

    rows = sweep_status(out)
    table = Table(title=f"{out}: {sum(r['state'] == 'done' for r in rows)} of {len(rows)} runs done")
    for col in ("arm", "seed", "state", "detail"):
        table.add_column(col)
    for row in rows:
        table.add_row(row["arm"], str(row["seed"]), row["state"], row["detail"])
    console.print(table)


# `shoptune experiment run` reads naturally too: the same commands under the singular name.
app.add_typer(experiments_app, name="experiment", hidden=True)
