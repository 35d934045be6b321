"""Command line of the unified multi-task relevance system (registered into `shoptune` by cli.py).

Example:
    $ shoptune train relevance configs/relevance_minilm.yaml --out runs/rel
    $ shoptune train relevance configs/relevance_minilm.yaml --out runs/rel-single --single-task
    $ shoptune relevance eval --model runs/rel --source home_depot --input train.csv --out runs/rel-hd
    $ shoptune relevance eval --model runs/rel --data runs/rel/data --split test --out runs/rel-test
    $ shoptune relevance predict --model runs/rel --input pairs.jsonl --out scored.parquet --task hd_query_product
    $ shoptune relevance calibrate --model runs/old-run --data runs/old-run/data --split dev
    $ shoptune relevance ensemble --member runs/a --member runs/b --member runs/c --out runs/ens
    $ shoptune relevance compare multitask --multi runs/rel --single runs/rel-single --out reports/mt
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from shoptune.cli_types import OnError, Split
from shoptune.errors import ShoptuneError

console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True)

relevance_app = typer.Typer(
    help="Unified multi-task relevance: evaluate, predict, ensemble and compare relevance models.",
    no_args_is_help=True,
)


def _quiet_transformers() -> None:
    # Per-checkpoint "Loading weights" bars would interleave with our own progress bars.
    import transformers

    transformers.logging.disable_progress_bar()
    transformers.logging.set_verbosity_error()


def _bar(label: str) -> Progress:
    return Progress(
        TextColumn(f"[bold]{label}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
        # Bars are for people watching: piped to a log, a bar's frames would only bury the messages.
        disable=not err_console.is_terminal,
    )


# ============================================================================================ train
def train_relevance(
    config: Annotated[Path, typer.Argument(help="Relevance recipe YAML (see configs/relevance_*.yaml).")],
    out: Annotated[Path, typer.Option("--out", help="Run folder (model/, eval/, checkpoint/, logs).")],
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run in --out from its last checkpoint.")
    ] = False,
    single_task: Annotated[
        bool, typer.Option("--single-task", help="Train one model per task (the baselines) under OUT/single/.")
    ] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a config key, e.g. --set model.routing=prefix (repeatable; YAML values)."),
    ] = None,
    stop_after: Annotated[
        int | None, typer.Option("--stop-after", hidden=True, help="Stop after N optimizer steps (tests resume).")
    ] = None,
) -> None:
    """Train one relevance model on all entity-pair tasks jointly (or one per task with --single-task)."""
    from shoptune.config import parse_set
    from shoptune.relevance.config import load_config
    from shoptune.relevance.recipe import train

    _quiet_transformers()
    overrides = parse_set(set_)
    if single_task:
        overrides["single_task"] = True
    cfg = load_config(config, overrides)
    artifact = train(cfg, out, resume=resume, stop_after=stop_after)
    if (artifact / "relevance.json").is_file():
        _print_metrics_file(out / "eval" / "test" / "metrics.json")
        console.print(f"model: {artifact}")
    else:
        console.print(f"stopped early; continue with --resume (checkpoint in {out})")


# ============================================================================================ eval
@relevance_app.command("eval")
def eval_cmd(
    model: Annotated[
        Path, typer.Option("--model", help="A relevance artifact or run folder (model, per-task, ensemble).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for metrics.json and predictions.jsonl.")],
    source: Annotated[str | None, typer.Option("--source", help="Source adapter of a raw --input file.")] = None,
    input_: Annotated[Path | None, typer.Option("--input", help="A raw file, read unchanged by --source.")] = None,
    view: Annotated[str | None, typer.Option("--view", help="Pair view of the source (default: the source's).")] = None,
    task: Annotated[str | None, typer.Option("--task", help="Score the raw pairs as this task of the model.")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="Or: a `shoptune data build` folder ...")] = None,
    split: Annotated[Split, typer.Option("--split", help="... and its split to score.")] = Split.test,
    tasks: Annotated[
        str | None, typer.Option("--tasks", help="Comma-separated tasks of --data (default: all).")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N pairs (per task with --data).")] = None,
    on_error: Annotated[
        OnError, typer.Option("--on-error", help="raise or skip bad rows of a raw file.")
    ] = OnError.raise_,
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=10, help="Bootstrap resamples for the CIs.")] = 1000,
) -> None:
    """Score a raw file of any supported source (or a built split); writes metrics.json + predictions.jsonl."""
    from shoptune.io import claim_output
    from shoptune.relevance.ensemble import resolve_artifact
    from shoptune.relevance.evaluate import evaluate_pairs
    from shoptune.relevance.predict import artifact_info, load_predictor
    from shoptune.relevance.ranking import ranking_tasks

    _quiet_transformers()
    claim_output(out, "metrics.json", "predictions.jsonl")
    artifact = resolve_artifact(model)
    info = artifact_info(artifact)
    extra: dict[str, Any] = {
        "model": str(artifact),
        "kind": info.get("kind"),
        "family": info.get("family"),
        "routing": info.get("routing"),
    }
    pairs, where = load_eval_pairs(info, source, input_, view, task, data, split, tasks, limit, on_error)
    extra.update(where)
    predictor = load_predictor(artifact)
    ranking = ranking_tasks(info.get("task_sources") or {}, sorted({p.task for p in pairs}))
    with _bar("scoring") as bar:
        job = bar.add_task("scoring", total=len(pairs))
        metrics = evaluate_pairs(
            predictor,
            pairs,
            out,
            extra=extra,
            n_resamples=bootstrap,
            progress=lambda n: bar.advance(job, n),
            ranking=ranking,
        )
    print_metrics(metrics)
    console.print(f"wrote {out / 'metrics.json'}, {out / 'metrics.md'} and {out / 'predictions.jsonl'}")


def load_eval_pairs(
    info: dict[str, Any],
    source: str | None,
    input_: Path | None,
    view: str | None,
    task: str | None,
    data: Path | None,
    split: Split,
    tasks: str | None,
    limit: int | None,
    on_error: OnError,
) -> tuple[list[Any], dict[str, Any]]:
    """Labelled pairs from a raw --source/--input file or a built --data split, and where they came from."""
    from shoptune.data.errorlog import ErrorLog
    from shoptune.relevance.data import load_split, read_source_pairs, select_tasks

    if (source is None) == (data is None):
        raise ShoptuneError("give either --source with --input (a raw file) or --data (a built folder)")
    if source is not None:
        if input_ is None:
            raise ShoptuneError("--source needs --input FILE")
        chosen, view_name, params = map_source_task(info, source, view, task)
        log = ErrorLog(on_error=on_error.value)
        pairs = read_source_pairs(source, input_, chosen, view=view_name, params=params, log=log)
        if limit is not None:
            pairs = pairs[:limit]
        report_skipped(log)
        return pairs, {
            "source": source,
            "view": view_name,
            "input": str(input_),
            "task": chosen,
            "skipped_rows": log.skipped,
            "skipped_examples": log.examples,
        }
    assert data is not None
    names = select_tasks(data, tasks.split(",") if tasks else "all")
    known = set(info.get("tasks", []))
    names = [t for t in names if t in known] if not tasks else names
    pairs = [p for t in names for p in load_split(data, t, split.value, limit)]
    return pairs, {"data": str(data), "split": split.value}


def report_skipped(log: Any) -> None:
    """Say how many bad rows `--on-error skip` skipped, with the first few, instead of hiding them."""
    if not log.skipped:
        return
    err_console.print(f"skipped {log.skipped} bad rows (counted in metrics.json as skipped_rows):", markup=False)
    for message in log.examples:
        err_console.print(f"  skipped: {message}", markup=False, highlight=False)
    if log.skipped > len(log.examples):
        err_console.print(f"  ... and {log.skipped - len(log.examples)} more", markup=False)


def map_source_task(
    info: dict[str, Any], source: str, view: str | None, task: str | None
) -> tuple[str, str, dict[str, Any]]:
    """Which of the model's tasks a raw file's pairs belong to, the view to read them with, and its params.

    Default: the task the model was trained on from the same adapter and view. With ``--task`` any task of the
    model (e.g. a WDC gold standard scored as the TailorMatch WDC task), with the view params of that task only
    when it was built from the same adapter and view.
    """
    from shoptune.data.sources import get_source

    try:
        adapter = get_source(source)
    except KeyError as exc:
        raise ShoptuneError(exc.args[0]) from None
    view_name = view or adapter.default_view
    sources: dict[str, dict[str, Any]] = info.get("task_sources", {})
    known = list(info.get("tasks", []))
    if task is not None:
        if task not in known:
            raise ShoptuneError(f"the model does not know task {task!r} (it knows: {', '.join(known)})")
        src = sources.get(task, {})
        same = src.get("adapter") == source and src.get("view") == view_name
        return task, view_name, dict(src.get("params", {})) if same else {}
    matches = [
        t for t in known if sources.get(t, {}).get("adapter") == source and sources.get(t, {}).get("view") == view_name
    ]
    if not matches:
        raise ShoptuneError(
            f"the model has no task built from {source}:{view_name}; pass --task NAME (tasks: {', '.join(known)})"
        )
    return matches[0], view_name, dict(sources[matches[0]].get("params", {}))


def print_metrics(metrics: dict[str, Any]) -> None:
    """Argmax and decision-rule scores per task (older metrics files without rule keys print argmax only)."""
    mean = metrics["mean_over_tasks"]
    title = f"mean over {mean['tasks']} tasks: accuracy {mean['accuracy']:.4f}, macro-F1 {mean['macro_f1']:.4f}"
    if "macro_f1_rule" in mean:
        title += f" (argmax) / {mean['macro_f1_rule']:.4f} (decision rule)"
    table = Table(title=title)
    rule = "macro_f1_rule" in metrics["overall"]
    columns = ["task", "n", "accuracy", "95% CI", "macro-F1", "95% CI "]
    if rule:
        columns += ["macro-F1 rule", "95% CI  ", "ECE -> T", "NDCG@10", "Spearman"]
    for col in columns:
        table.add_column(col, justify="left" if col == "task" else "right")
    for name, m in [*metrics["tasks"].items(), ("(all pairs)", metrics["overall"])]:
        cells = [
            name,
            str(m["n"]),
            f"{m['accuracy']:.4f}",
            _ci(m["accuracy_ci95"]),
            f"{m['macro_f1']:.4f}",
            _ci(m["macro_f1_ci95"]),
        ]
        if rule:
            cells += [
                f"{m['macro_f1_rule']:.4f}",
                _ci(m["macro_f1_rule_ci95"]),
                f"{m['ece']:.3f} -> {m['ece_temperature']:.3f}",
                "-" if m.get("ndcg@10") is None else f"{m['ndcg@10']:.4f}",
                "-" if m.get("spearman_rating") is None else f"{m['spearman_rating']:.4f}",
            ]
        table.add_row(*cells)
    console.print(table)


def _ci(pair: list[float]) -> str:
    return f"[{pair[0]:.3f}, {pair[1]:.3f}]"


def _print_metrics_file(path: Path) -> None:
    import json

    if path.is_file():
        print_metrics(json.loads(path.read_text(encoding="utf-8")))


# ============================================================================================ predict
@relevance_app.command("predict")
def predict_cmd(
    model: Annotated[Path, typer.Option("--model", help="A relevance artifact or run folder.")],
    input_: Annotated[Path, typer.Option("--input", help=".jsonl / .csv / .parquet with left, right[, task].")],
    out: Annotated[Path, typer.Option("--out", help="Output .jsonl or .parquet.")],
    task: Annotated[str | None, typer.Option("--task", help="Task for rows without a task column.")] = None,
    chunk: Annotated[int, typer.Option("--chunk", min=1, help="Pairs scored per chunk (memory stays flat).")] = 4096,
) -> None:
    """Score pairs from a file, streaming, with a progress bar."""
    import itertools

    from shoptune.io import check_file_output
    from shoptune.relevance.data import iter_pair_file
    from shoptune.relevance.ensemble import resolve_artifact
    from shoptune.relevance.predict import load_predictor, stream_predictions

    _quiet_transformers()
    if out.suffix not in (".jsonl", ".parquet"):
        raise ShoptuneError(f"{out}: --out must end in .jsonl or .parquet")
    check_file_output(out)
    if not input_.is_file():
        raise ShoptuneError(f"--input {input_}: no such file")
    if input_.resolve() == out.resolve():
        raise ShoptuneError(f"--out {out}: is the --input file; choose another output")
    artifact = resolve_artifact(model)
    # Read the first pair before the model loads: a wrong encoding, format or field is reported at once.
    pairs = iter_pair_file(input_, task)
    first = next(pairs, None)
    rows = itertools.chain([first], pairs) if first is not None else iter(())
    predictor = load_predictor(artifact)
    total = count_rows(input_)
    with _bar("predicting") as bar:
        job = bar.add_task("predict", total=total)
        stream = stream_predictions(predictor, rows, chunk=chunk, progress=lambda n: bar.advance(job, n))
        written = write_stream(stream, out)
    console.print(f"wrote {written} predictions to {out}")


def count_rows(path: Path) -> int | None:
    """Rows of a pair file when cheap to know (Parquet metadata, line counts), for the progress bar."""
    if not path.is_file():
        return None
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(str(path)).metadata.num_rows
        except (pa.ArrowException, OSError):  # the reader names the damage; the bar just has no total
            return None
    if path.suffix in (".jsonl", ".csv"):
        with path.open("rb") as fh:
            lines = sum(1 for line in fh if line.strip())
        return lines - 1 if path.suffix == ".csv" else lines
    return None


def write_stream(stream: Any, out: Path) -> int:
    """Write (pair, probs) rows as JSON lines or Parquet, via a temp file renamed into place."""
    import json

    from shoptune.io import atomic_path
    from shoptune.records import LABELS
    from shoptune.relevance.predict import prediction_row

    n = 0
    with atomic_path(out) as tmp:
        if out.suffix == ".jsonl":
            with tmp.open("w", encoding="utf-8") as fh:
                for pair, probs, label in stream:
                    fh.write(json.dumps(prediction_row(pair, probs, label), ensure_ascii=False) + "\n")
                    n += 1
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            schema = pa.schema(
                [
                    ("id", pa.string()),
                    ("task", pa.string()),
                    ("left", pa.string()),
                    ("right", pa.string()),
                    ("label", pa.string()),
                    ("prediction", pa.string()),
                    ("prediction_argmax", pa.string()),
                    *((f"p_{label}", pa.float32()) for label in LABELS),
                ]
            )
            with pq.ParquetWriter(str(tmp), schema) as writer:
                buffer: list[dict[str, Any]] = []
                for pair, probs, label in stream:
                    row = prediction_row(pair, probs, label)
                    keys = ("id", "task", "left", "right", "label", "prediction", "prediction_argmax")
                    flat = {k: row.get(k) for k in keys}
                    flat.update({f"p_{label}": row["probs"][label] for label in LABELS})
                    buffer.append(flat)
                    n += 1
                    if len(buffer) >= 4096:
                        writer.write_table(pa.Table.from_pylist(buffer, schema=schema))
                        buffer = []
                if buffer or n == 0:
                    writer.write_table(pa.Table.from_pylist(buffer, schema=schema))
    return n


# ============================================================================================ calibrate
class DecisionRuleChoice(StrEnum):
    bias = "bias"
    argmax = "argmax"


class DecisionMetric(StrEnum):
    macro_f1 = "macro_f1"
    accuracy = "accuracy"


@relevance_app.command("calibrate")
def calibrate_cmd(
    model: Annotated[Path, typer.Option("--model", help="A model (or per-task) artifact or run folder.")],
    data: Annotated[Path | None, typer.Option("--data", help="A `shoptune data build` folder ...")] = None,
    split: Annotated[Split, typer.Option("--split", help="... and its split to fit on (keep test for testing).")] = (
        Split.dev
    ),
    tasks: Annotated[
        str | None, typer.Option("--tasks", help="Comma-separated tasks of --data (default: the model's).")
    ] = None,
    source: Annotated[str | None, typer.Option("--source", help="Or: the source adapter of a raw --input.")] = None,
    input_: Annotated[Path | None, typer.Option("--input", help="A raw labelled file, read unchanged.")] = None,
    view: Annotated[str | None, typer.Option("--view", help="Pair view of the source (default: the source's).")] = None,
    task: Annotated[str | None, typer.Option("--task", help="Fit the raw pairs as this task of the model.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N pairs (per task with --data).")] = None,
    on_error: Annotated[
        OnError, typer.Option("--on-error", help="raise or skip bad rows of a raw file.")
    ] = OnError.raise_,
    rule: Annotated[
        DecisionRuleChoice, typer.Option("--rule", help="bias (fit label biases) or argmax (none).")
    ] = DecisionRuleChoice.bias,
    metric: Annotated[DecisionMetric, typer.Option("--metric", help="What the biases maximise.")] = (
        DecisionMetric.macro_f1
    ),
    temperature: Annotated[
        bool, typer.Option("--temperature/--no-temperature", help="Also fit a temperature (before the rule).")
    ] = True,
    min_pairs: Annotated[int, typer.Option("--min-pairs", min=1, help="Tasks with fewer pairs keep argmax.")] = 50,
) -> None:
    """Fit a decision rule (per-task temperature and label biases) onto a trained model; stored in relevance.json.

    For models trained before decision rules existed, or to refit on other held-out pairs. Fit on dev pairs, never
    on the pairs you then report.
    """
    from shoptune.relevance.decision import fit_decision
    from shoptune.relevance.ensemble import resolve_artifact
    from shoptune.relevance.predict import artifact_info

    _quiet_transformers()
    artifact = resolve_artifact(model)
    info = artifact_info(artifact)
    if info.get("kind") == "ensemble":
        raise ShoptuneError(f"{artifact}: an ensemble votes with its members' rules; calibrate each member instead")
    pairs, where = load_eval_pairs(info, source, input_, view, task, data, split, tasks, limit, on_error)
    if not pairs:
        raise ShoptuneError("no labelled pairs to fit on")
    fitted_on = f"{where['split']} split of {where['data']}" if "data" in where else f"{where['input']}"
    with _bar("scoring") as bar:
        job = bar.add_task("scoring", total=len(pairs))
        written, _ = fit_decision(
            artifact,
            pairs,
            rule=rule.value,
            metric=metric.value,
            temperature=temperature,
            min_pairs=min_pairs,
            fitted_on=fitted_on,
            progress=lambda n: bar.advance(job, n),
        )
    table = Table(title=f"decision rules fitted on {fitted_on} ({len(pairs)} pairs)")
    for col in ("task", "n", "rule", "T", "bias e/p/i", f"{metric.value} argmax -> rule", "ECE -> with T"):
        table.add_column(col, justify="left" if col == "task" else "right")
    fitted: set[str] = set()
    for folder, rules in written.items():
        for name, r in rules.tasks.items():
            fit = r.fit
            fitted.add(name)
            table.add_row(
                name,
                str(r.n),
                r.rule,
                f"{r.temperature:.2f}",
                "/".join(f"{r.bias[label]:+.3g}" for label in r.bias),
                f"{fit[metric.value]:.4f} -> {fit[metric.value + '_rule']:.4f}",
                f"{fit['ece']:.3f} -> {fit['ece_temperature']:.3f}",
            )
        console.print(f"stored in {Path(folder) / 'relevance.json'}")
    console.print(table)
    kept = sorted({p.task for p in pairs} - fitted)
    if kept:
        console.print(f"argmax kept (fewer than {min_pairs} pairs): {', '.join(kept)}")


# ============================================================================================ ensemble
@relevance_app.command("ensemble")
def ensemble_cmd(
    member: Annotated[list[Path], typer.Option("--member", help="A member model or run folder (repeatable, >= 2).")],
    out: Annotated[Path, typer.Option("--out", help="The ensemble artifact folder.")],
    name: Annotated[list[str] | None, typer.Option("--name", help="Member names, in order (default: folders).")] = None,
    copy: Annotated[bool, typer.Option("--copy", help="Copy the members inside (a self-contained folder).")] = False,
) -> None:
    """Bundle several trained models into one majority-vote ensemble (ties: summed probabilities)."""
    from shoptune.relevance.ensemble import build_ensemble

    path = build_ensemble(member, out, names=name or None, copy=copy)
    console.print(f"ensemble of {len(member)} members: {path}")


# ============================================================================================ compare
class Comparison(StrEnum):
    routing = "routing"
    prefix_ablation = "prefix-ablation"
    multitask = "multitask"
    ensemble = "ensemble"


class DecisionChoice(StrEnum):
    rule = "rule"
    argmax = "argmax"


@relevance_app.command("compare")
def compare_cmd(
    kind: Annotated[Comparison, typer.Argument(help="routing | prefix-ablation | multitask | ensemble")],
    out: Annotated[Path, typer.Option("--out", help="Folder for <kind>.md / .json (/ .png).")],
    runs: Annotated[
        list[Path] | None,
        typer.Option("--runs", help="Run or eval folders (repeatable); a folder of runs is expanded."),
    ] = None,
    multi: Annotated[Path | None, typer.Option("--multi", help="multitask: the multi-task run.")] = None,
    single: Annotated[Path | None, typer.Option("--single", help="multitask: the single-task run.")] = None,
    ensemble: Annotated[Path | None, typer.Option("--ensemble", help="ensemble: the ensemble's eval folder.")] = None,
    split: Annotated[Split, typer.Option("--split", help="Which split's predictions to compare.")] = Split.test,
    low_resource: Annotated[int, typer.Option("--low-resource", help="multitask: fewer training pairs = low.")] = 1000,
    decision: Annotated[
        DecisionChoice,
        typer.Option("--decision", help="Compare the served labels (rule: each model's decision rule) or argmax."),
    ] = DecisionChoice.rule,
) -> None:
    """Compare runs on the same test pairs, with paired significance tests; writes Markdown + JSON."""
    from shoptune.relevance import compare as cmp

    split_name = split.value
    chosen = decision.value
    loaded = [cmp.load_run(p, split_name, decision=chosen) for p in expand_runs(runs or [])]
    if kind == Comparison.routing:
        _need(len(loaded) >= 2, "routing needs at least two --runs")
        cmp.compare_routing(loaded, out)
    elif kind == Comparison.prefix_ablation:
        cmp.compare_prefix_ablation(loaded, out)
    elif kind == Comparison.multitask:
        _need(multi is not None and single is not None, "multitask needs --multi RUN and --single RUN")
        assert multi is not None and single is not None
        cmp.compare_multitask(
            cmp.load_run(multi, split_name, decision=chosen),
            cmp.load_run(single, split_name, decision=chosen),
            out,
            low_resource=low_resource,
        )
    else:
        _need(ensemble is not None and len(loaded) >= 1, "ensemble needs --ensemble EVAL and the members as --runs")
        assert ensemble is not None
        cmp.compare_ensemble(cmp.load_run(ensemble, split_name, decision=chosen), loaded, out)
    report = out / f"{kind.value.replace('-', '_')}.md"
    console.print(report.read_text(encoding="utf-8"))
    console.print(f"wrote {report} and {report.with_suffix('.json')}")


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise ShoptuneError(message)


def expand_runs(paths: list[Path]) -> list[Path]:
    """Run folders as given, or the run folders inside a parent folder (those with run.json or predictions)."""
    out: list[Path] = []
    for path in paths:
        if (path / "run.json").is_file() or (path / "predictions.jsonl").is_file():
            out.append(path)
        elif path.is_dir():
            children = sorted(p for p in path.iterdir() if (p / "run.json").is_file())
            if not children:
                raise ShoptuneError(f"{path}: neither a run folder nor a folder of runs")
            out.extend(children)
        else:
            raise ShoptuneError(f"{path}: no such run folder")
    return out
