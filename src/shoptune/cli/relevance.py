"""Command line of the unified multi-task relevance system: `shoptune train relevance` and
`shoptune relevance eval | predict | calibrate | ensemble | export | compare` (the library calls:
:mod:`shoptune.relevance.api`).

Example:
    $ shoptune train relevance configs/relevance_minilm.yaml --out runs/rel
    $ shoptune train relevance configs/relevance_minilm.yaml --out runs/rel-single --single-task
    $ shoptune relevance eval --model runs/rel --source home_depot --input train.csv --out runs/rel-hd
    $ shoptune relevance eval --model runs/rel --data runs/rel/data --split test --out runs/rel-test
    $ shoptune relevance predict --model runs/rel --input pairs.jsonl --out scored.parquet --task hd_query_product
    $ shoptune relevance calibrate --model runs/old-run --data runs/old-run/data --split dev
    $ shoptune relevance ensemble --member runs/a --member runs/b --member runs/c --out runs/ens
    $ shoptune relevance export --model runs/rel --format openvino --out exports/rel-ov [--int8]
    $ shoptune relevance compare multitask --multi runs/rel --single runs/rel-single --out reports/mt
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shoptune.cli.console import ci, console, labelled_bars, log, table
from shoptune.cli.types import (
    AddressOpt,
    Comparison,
    DecisionChoice,
    DecisionMetric,
    DecisionRuleChoice,
    ExportFormat,
    OnError,
    Split,
    engine_options,
    set_option,
)

if TYPE_CHECKING:  # the relevance package loads torch: only the commands that run import it
    from shoptune.relevance.api import PairOptions

relevance_app = typer.Typer(
    help="Unified multi-task relevance: evaluate, predict, ensemble and compare relevance models.",
    no_args_is_help=True,
)

SetOpt = set_option("Override a config key, e.g. --set model.routing=prefix (repeatable; YAML values).")
PredictEngineOpt, PredictWorkersOpt = engine_options(
    "this process", "chunks scored on Ray actors", "actors, one model each"
)
# The raw-file and built-split options that `eval` and `calibrate` share (their help texts differ slightly).
SourceOpt = Annotated[str | None, typer.Option("--source", help="Source adapter of a raw --input file.")]
ViewOpt = Annotated[str | None, typer.Option("--view", help="Pair view of the source (default: the source's).")]
LimitOpt = Annotated[int | None, typer.Option("--limit", help="At most N pairs, N >= 1 (per task with --data).")]
RowErrorOpt = Annotated[OnError, typer.Option("--on-error", help="raise or skip bad rows of a raw file.")]
DataOpt = Annotated[Path | None, typer.Option("--data", help="A `shoptune data build` folder ...")]
#: ``shoptune.relevance.data.MAX_LINE_BYTES`` (1 MiB), the API's default too; not imported: that loads torch.
MAX_LINE_BYTES = 1 << 20


def _quiet_transformers() -> None:
    # Per-checkpoint "Loading weights" bars would interleave with our own progress bars.
    import transformers

    transformers.logging.disable_progress_bar()
    transformers.logging.set_verbosity_error()


# ============================================================================================ train
def train_relevance(
    config: Annotated[Path, typer.Argument(help="Relevance recipe YAML (see configs/relevance_*.yaml).")],
    out: Annotated[Path, typer.Option("--out", help="Run folder (model/, eval/, checkpoints/, logs).")],
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run in --out from its last checkpoint.")
    ] = False,
    single_task: Annotated[
        bool, typer.Option("--single-task", help="Train one model per task (the baselines) under OUT/single/.")
    ] = False,
    set_: SetOpt = None,
    stop_after: Annotated[
        int | None, typer.Option("--stop-after", hidden=True, help="Stop after N optimizer steps (tests resume).")
    ] = None,
) -> None:
    """Train one relevance model on all entity-pair tasks jointly (or one per task with --single-task)."""
    from shoptune.relevance.api import train

    _quiet_transformers()
    artifact = train(config, out, overrides=set_, single_task=single_task, resume=resume, stop_after=stop_after)
    if (artifact / "relevance.json").is_file():
        metrics = out / "eval" / "test" / "metrics.json"
        if metrics.is_file():
            print_metrics(json.loads(metrics.read_text(encoding="utf-8")))
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
    source: SourceOpt = None,
    input_: Annotated[Path | None, typer.Option("--input", help="A raw file, read unchanged by --source.")] = None,
    view: ViewOpt = None,
    task: Annotated[str | None, typer.Option("--task", help="Score the raw pairs as this task of the model.")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="Or: a `shoptune data build` folder ...")] = None,
    split: Annotated[Split, typer.Option("--split", help="... and its split to score.")] = Split.test,
    tasks: Annotated[
        str | None, typer.Option("--tasks", help="Comma-separated tasks of --data (default: all).")
    ] = None,
    limit: LimitOpt = None,
    on_error: RowErrorOpt = OnError.raise_,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap resamples for the CIs (at least 10).")
    ] = 1000,
) -> None:
    """Score a raw file of any supported source (or a built split); writes metrics.json + predictions.jsonl."""
    from shoptune.relevance.api import evaluate

    _quiet_transformers()
    with labelled_bars("scoring") as bars:
        where = _pairs(source, input_, view, task, data, split, tasks, limit, on_error)
        metrics = evaluate(model, out, bootstrap=bootstrap, log=log, progress=bars, **where)
    print_metrics(metrics)
    console.print(f"wrote {out / 'metrics.json'}, {out / 'metrics.md'} and {out / 'predictions.jsonl'}")


def _pairs(
    source: str | None,
    input_: Path | None,
    view: str | None,
    task: str | None,
    data: Path | None,
    split: Split,
    tasks: str | None,
    limit: int | None,
    on_error: OnError,
) -> PairOptions:
    """The labelled-pair options that `eval` and `calibrate` share, as the library takes them."""
    return {
        "source": source,
        "input": input_,
        "view": view,
        "task": task,
        "data": data,
        "split": split.value,
        "tasks": tasks.split(",") if tasks else None,
        "limit": limit,
        "on_error": on_error.value,
    }


def print_metrics(metrics: dict[str, Any]) -> None:
    """Argmax and decision-rule scores per task (older metrics files without rule keys print argmax only)."""
    mean = metrics["mean_over_tasks"]
    title = f"mean over {mean['tasks']} tasks: accuracy {mean['accuracy']:.4f}, macro-F1 {mean['macro_f1']:.4f}"
    if "macro_f1_rule" in mean:
        title += f" (argmax) / {mean['macro_f1_rule']:.4f} (decision rule)"
    rule = "macro_f1_rule" in metrics["overall"]
    columns = ["task", "n", "accuracy", "95% CI", "macro-F1", "95% CI "]
    if rule:
        columns += ["macro-F1 rule", "95% CI  ", "ECE -> T", "NDCG@10", "Spearman"]
    shown = table(title, columns, right=tuple(columns[1:]))
    for name, m in [*metrics["tasks"].items(), ("(all pairs)", metrics["overall"])]:
        cells = [name, str(m["n"]), f"{m['accuracy']:.4f}", ci(m["accuracy_ci95"])]
        cells += [f"{m['macro_f1']:.4f}", ci(m["macro_f1_ci95"])]
        if rule:
            cells += [
                f"{m['macro_f1_rule']:.4f}",
                ci(m["macro_f1_rule_ci95"]),
                f"{m['ece']:.3f} -> {m['ece_temperature']:.3f}",
                _optional(m.get("ndcg@10")),
                _optional(m.get("spearman_rating")),
            ]
        shown.add_row(*cells)
    console.print(shown)


def _optional(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


# ============================================================================================ predict
@relevance_app.command("predict")
def predict_cmd(
    model: Annotated[Path, typer.Option("--model", help="A relevance artifact or run folder.")],
    input_: Annotated[Path, typer.Option("--input", help=".jsonl / .csv / .parquet with left, right[, task].")],
    out: Annotated[Path, typer.Option("--out", help="Output .jsonl or .parquet.")],
    task: Annotated[str | None, typer.Option("--task", help="Task for rows without a task column.")] = None,
    chunk: Annotated[
        int, typer.Option("--chunk", help="Pairs scored per chunk, at least 1 (memory stays flat).")
    ] = 4096,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing --out that shoptune did not write.")
    ] = False,
    max_line_bytes: Annotated[
        int,
        typer.Option("--max-line-bytes", help="Longest input line (JSONL/CSV record) read, in bytes; 0 = no limit."),
    ] = MAX_LINE_BYTES,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue a killed run after the last chunk it wrote (same input/model).")
    ] = False,
    engine: PredictEngineOpt = "local",
    workers: PredictWorkersOpt = 2,
    address: AddressOpt = None,
) -> None:
    """Score pairs from a file, streaming chunk by chunk (resumable), with a progress bar."""
    from shoptune.relevance.api import predict

    _quiet_transformers()
    with labelled_bars("predicting") as bars:
        written = predict(
            model,
            input_,
            out,
            task=task,
            chunk=chunk,
            progress=bars,
            overwrite=overwrite,
            max_line_bytes=max_line_bytes,
            resume=resume,
            engine=engine,
            workers=workers,
            address=address,
        )
    console.print(f"wrote {written} predictions to {out}")


# ============================================================================================ calibrate
@relevance_app.command("calibrate")
def calibrate_cmd(
    model: Annotated[Path, typer.Option("--model", help="A model (or per-task) artifact or run folder.")],
    data: DataOpt = None,
    split: Annotated[Split, typer.Option("--split", help="... and its split to fit on (keep test for testing).")] = (
        Split.dev
    ),
    tasks: Annotated[
        str | None, typer.Option("--tasks", help="Comma-separated tasks of --data (default: the model's).")
    ] = None,
    source: Annotated[str | None, typer.Option("--source", help="Or: the source adapter of a raw --input.")] = None,
    input_: Annotated[Path | None, typer.Option("--input", help="A raw labelled file, read unchanged.")] = None,
    view: ViewOpt = None,
    task: Annotated[str | None, typer.Option("--task", help="Fit the raw pairs as this task of the model.")] = None,
    limit: LimitOpt = None,
    on_error: RowErrorOpt = OnError.raise_,
    rule: Annotated[
        DecisionRuleChoice, typer.Option("--rule", help="bias (fit label biases) or argmax (none).")
    ] = DecisionRuleChoice.bias,
    metric: Annotated[DecisionMetric, typer.Option("--metric", help="What the biases maximise.")] = (
        DecisionMetric.macro_f1
    ),
    temperature: Annotated[
        bool, typer.Option("--temperature/--no-temperature", help="Also fit a temperature (before the rule).")
    ] = True,
    min_pairs: Annotated[
        int, typer.Option("--min-pairs", help="Tasks with fewer pairs keep argmax (at least 1).")
    ] = 50,
) -> None:
    """Fit a decision rule (per-task temperature and label biases) onto a trained model; stored in relevance.json.

    For models trained before decision rules existed, or to refit on other held-out pairs. Fit on dev pairs, never
    on the pairs you then report.
    """
    from shoptune.relevance.api import calibrate

    _quiet_transformers()
    with labelled_bars("scoring") as bars:
        result = calibrate(
            model,
            rule=rule.value,
            metric=metric.value,
            temperature=temperature,
            min_pairs=min_pairs,
            log=log,
            progress=bars,
            **_pairs(source, input_, view, task, data, split, tasks, limit, on_error),
        )
    name = metric.value
    columns = ["task", "n", "rule", "T", "bias e/p/i", f"{name} argmax -> rule", "ECE -> with T"]
    shown = table(f"decision rules fitted on {result.fitted_on} ({result.pairs} pairs)", columns, tuple(columns[1:]))
    for folder, rules in result.written.items():
        for task_name, r in rules.tasks.items():
            fit = r.fit
            shown.add_row(
                task_name,
                str(r.n),
                r.rule,
                f"{r.temperature:.2f}",
                "/".join(f"{r.bias[label]:+.3g}" for label in r.bias),
                f"{fit[name]:.4f} -> {fit[name + '_rule']:.4f}",
                f"{fit['ece']:.3f} -> {fit['ece_temperature']:.3f}",
            )
        console.print(f"stored in {Path(folder) / 'relevance.json'}")
    console.print(shown)
    if result.kept_argmax:
        console.print(f"argmax kept (fewer than {min_pairs} pairs): {', '.join(result.kept_argmax)}")


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


# ============================================================================================ export
@relevance_app.command("export")
def export_cmd(
    model: Annotated[Path, typer.Option("--model", help="A cross-encoder model or run folder.")],
    out: Annotated[Path, typer.Option("--out", help="The export folder (predict, eval and ensemble load it).")],
    format_: Annotated[
        ExportFormat, typer.Option("--format", help="openvino (bf16 where the CPU has it) or onnx (ONNX Runtime).")
    ] = ExportFormat.openvino,
    int8: Annotated[
        bool, typer.Option("--int8", help="Quantize to int8 (openvino: calibrated on dev pairs; onnx: dynamic).")
    ] = False,
    data: Annotated[
        Path | None, typer.Option("--data", help="The model's data build (default: the run's data/).")
    ] = None,
    check_pairs: Annotated[
        int, typer.Option("--check-pairs", help="Test pairs per task scored by torch and the export (>= 1).")
    ] = 300,
) -> None:
    """Export a cross-encoder to OpenVINO or ONNX Runtime, then check it against torch on test pairs."""
    from shoptune.relevance.api import export

    _quiet_transformers()
    with labelled_bars("checking") as bars:
        report = export(
            model, out, format=format_.value, int8=int8, data=data, check_pairs=check_pairs, log=log, progress=bars
        )
    if report:
        shown = table(f"export vs torch on {report['pairs']} test pairs", ["task", "pairs", "agreement", "ΔF1"])
        for task, row in report["tasks"].items():
            shown.add_row(task, str(row["pairs"]), f"{row['agreement']:.4f}", f"{row['macro_f1_change']:+.4f}")
        console.print(shown)
        console.print(f"label agreement {report['agreement']:.4f}; written {out / 'export_check.json'}")
    console.print(f"exported to {out}")


# ============================================================================================ compare
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
    from shoptune.relevance.api import compare

    report = compare(
        kind.value,
        out,
        runs=runs or [],
        multi=multi,
        single=single,
        ensemble=ensemble,
        split=split.value,
        low_resource=low_resource,
        decision=decision.value,
    )
    console.print(report.read_text(encoding="utf-8"))
    console.print(f"wrote {report} and {report.with_suffix('.json')}")
