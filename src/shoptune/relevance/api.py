"""The relevance commands as one call each: train, evaluate, predict, calibrate and compare.

``shoptune train relevance`` and ``shoptune relevance ...`` parse options, call one of these and print; bad input
raises :class:`shoptune.errors.ShoptuneError` with the line the CLI prints. Arguments are checked first, by the
rules of :mod:`shoptune.validate` that the CLI's options follow too: a bad one is also a ``ValueError`` or
``TypeError`` naming the argument (``chunk``, where the CLI says ``--chunk``), before anything is read or written.
``progress`` parameters take ``add(name, total)``, which returns one progress bar's ``advance(n)``.

Example:
    >>> from shoptune import relevance
    >>> model = relevance.train("configs/relevance_minilm.yaml", "runs/rel")  # doctest: +SKIP
    >>> relevance.evaluate(model, "runs/rel-hd", source="home_depot", input="train.csv")  # doctest: +SKIP
    >>> relevance.predict(model, "pairs.jsonl", "scored.parquet", task="hd_query_product")  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from typing_extensions import Unpack

from shoptune import validate
from shoptune.errors import ArgumentError, ShoptuneError, argument_hint, argument_label, python_api
from shoptune.relevance.config import RelevanceConfig
from shoptune.relevance.data import MAX_LINE_BYTES

Log = Callable[[str], None]
#: ``add(name, total)`` -> ``advance(n)``: one progress bar (total None: unknown).
AddBar = Callable[[str, int | None], Callable[[int], None]]

COMPARISONS = tuple(c.value for c in validate.Comparison)


# ============================================================================================ train
@python_api
def train(
    config: str | Path | RelevanceConfig,
    out: str | Path,
    *,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    single_task: bool = False,
    resume: bool = False,
    stop_after: int | None = None,
    quiet: bool = False,
) -> Path:
    """Train one relevance model on all entity-pair tasks jointly (or, with ``single_task``, one per task under
    ``out/single/``) and evaluate it; returns the model artifact folder.

    ``config`` is a recipe YAML (with dotted ``overrides`` such as ``{"model.routing": "prefix"}``, or ``--set``-style
    ``["model.routing=prefix"]`` strings) or a :class:`RelevanceConfig`. ``resume`` continues from
    ``out/checkpoint``; ``stop_after`` stops after that many optimizer steps, leaving a checkpoint as a kill would
    (tests).
    """
    from shoptune.relevance.config import load_config
    from shoptune.relevance.recipe import train as run_recipe

    out, changes = validate.path_arg(out, "out"), validate.config_overrides(overrides)
    single_task, resume = validate.flag(single_task, "single_task"), validate.flag(resume, "resume")
    stop_after = validate.optional(validate.positive_int, stop_after, "stop_after")
    quiet = validate.flag(quiet, "quiet")
    if isinstance(config, RelevanceConfig):
        validate.no_overrides(changes)
        if single_task:
            config = config.model_copy(update={"single_task": True})
    else:
        path = validate.path_arg(config, "config")
        config = load_config(path, {**changes, **({"single_task": True} if single_task else {})})
    return run_recipe(config, out, resume=resume, stop_after=stop_after, quiet=quiet)


# ============================================================================================ labelled pairs
def map_source_task(
    info: dict[str, Any], source: str, view: str | None, task: str | None
) -> tuple[str, str, dict[str, Any]]:
    """Which of the model's tasks a raw file's pairs belong to, the view to read them with, and its params.

    Default: the task the model was trained on from the same adapter and view. With ``task`` any task of the
    model (e.g. a WDC gold standard scored as the TailorMatch WDC task), with the view params of that task only
    when it was built from the same adapter and view.
    """
    from shoptune.api import source_adapter

    view_name = view or source_adapter(source).default_view
    sources: dict[str, dict[str, Any]] = info.get("task_sources", {})
    known = list(info.get("tasks", []))
    if task is not None:
        if task not in known:
            raise ArgumentError("task", f"the model does not know this task (it knows: {', '.join(known)})", task)
        src = sources.get(task, {})
        same = src.get("adapter") == source and src.get("view") == view_name
        return task, view_name, dict(src.get("params", {})) if same else {}
    matches = [
        t for t in known if sources.get(t, {}).get("adapter") == source and sources.get(t, {}).get("view") == view_name
    ]
    if not matches:
        hint = argument_hint("task", "NAME", default="--task")
        raise ShoptuneError(
            f"the model has no task built from {source}:{view_name}; pass {hint} (tasks: {', '.join(known)})"
        )
    return matches[0], view_name, dict(sources[matches[0]].get("params", {}))


class PairOptions(TypedDict, total=False):
    """Where :func:`evaluate` and :func:`calibrate` read labelled pairs: a raw file or a built split.

    A raw file: ``source`` (adapter name) and ``input`` (the file, read unchanged), optionally the pair ``view``
    (default: the source's), the model's ``task`` to score them as, and ``on_error`` ("raise" or "skip" bad
    rows). Or a built folder: ``data`` and its ``split``, optionally some of its ``tasks``. ``limit``: at most N
    pairs (per task with ``data``).
    """

    source: str | None
    input: str | Path | None
    view: str | None
    task: str | None
    data: str | Path | None
    split: str
    tasks: str | Sequence[str] | None
    limit: int | None
    on_error: str


def check_pairs(options: Mapping[str, Any], function: str) -> PairOptions:
    """The :class:`PairOptions` of a call checked and normalised: no unknown keyword, each of its type, either a
    raw file (``source`` with ``input``) or a built folder (``data``), and ``tasks`` among the pair tasks of
    ``data``."""
    validate.known_arguments(options, PairOptions.__annotations__, function)
    checked: dict[str, Any] = {}
    for key, check in (
        ("source", validate.text),
        ("input", validate.path_arg),
        ("view", validate.text),
        ("task", validate.text),
        ("data", validate.path_arg),
        ("tasks", validate.task_names),
        ("limit", validate.positive_int),
    ):
        checked[key] = validate.optional(check, options.get(key), key)
    if "split" in options:
        checked["split"] = validate.choice(options["split"], "split", validate.Split)
    checked["on_error"] = validate.choice(options.get("on_error", "raise"), "on_error", validate.OnError)
    source, data, file = checked["source"], checked["data"], checked["input"]
    name = argument_label
    if (source is None) == (data is None):
        problem = f"give either {name('source')} with {name('input')} (a raw file) or {name('data')} (a built folder)"
        raise ArgumentError("source" if source is not None else "data", problem, named=False)
    if source is not None and file is None:
        raise ArgumentError("input", f"{name('source')} needs {name('input')}: the raw file to read", named=False)
    if source is None and file is not None:
        raise ArgumentError("source", f"{name('input')} needs {name('source')}: the adapter that reads it", named=False)
    if data is not None and checked["tasks"]:  # names the caller gave: one the build lacks is a bad argument
        from shoptune.relevance.data import pair_tasks

        present = pair_tasks(data)
        missing = [t for t in checked["tasks"] if t not in present]
        if missing:
            listed = ", ".join(repr(t) for t in missing)
            raise ArgumentError("tasks", f"not a pair task of {data}: {listed} (present: {', '.join(present)})")
    return checked  # type: ignore[return-value]


def load_eval_pairs(
    info: dict[str, Any], *, log: Log | None = None, **where: Unpack[PairOptions]
) -> tuple[list[Any], dict[str, Any]]:
    """Labelled pairs from a raw ``source``/``input`` file or a built ``data`` split (default split: test), and
    where they came from. Rows skipped with ``on_error="skip"`` are counted and reported through ``log``."""
    from shoptune.data.errorlog import ErrorLog
    from shoptune.relevance.data import load_split, read_source_pairs, select_tasks

    where = check_pairs(where, "load_eval_pairs")
    source, data, limit, tasks = where.get("source"), where.get("data"), where.get("limit"), where.get("tasks")
    if source is not None:
        file = where.get("input")
        assert file is not None  # checked: a source needs an input
        chosen, view_name, params = map_source_task(info, source, where.get("view"), where.get("task"))
        errors = ErrorLog(on_error=where.get("on_error", "raise"))
        pairs = read_source_pairs(source, Path(file), chosen, view=view_name, params=params, log=errors)
        if limit is not None:
            pairs = pairs[:limit]
        report_skipped(errors, log)
        return pairs, {
            "source": source,
            "view": view_name,
            "input": str(file),
            "task": chosen,
            "skipped_rows": errors.skipped,
            "skipped_examples": errors.examples,
        }
    folder, split = Path(data), where.get("split", "test")  # type: ignore[arg-type]  # data: checked above
    names = select_tasks(folder, list(tasks) if tasks else "all")
    known = set(info.get("tasks", []))
    names = [t for t in names if t in known] if not tasks else names
    pairs = [p for t in names for p in load_split(folder, t, split, limit)]
    return pairs, {"data": str(folder), "split": split}


def report_skipped(errors: Any, log: Log | None) -> None:
    """Say how many bad rows ``on_error="skip"`` skipped, with the first few, instead of hiding them."""
    if not errors.skipped or log is None:
        return
    log(f"skipped {errors.skipped} bad rows (counted in metrics.json as skipped_rows):")
    for message in errors.examples:
        log(f"  skipped: {message}")
    if errors.skipped > len(errors.examples):
        log(f"  ... and {errors.skipped - len(errors.examples)} more")


# ============================================================================================ evaluate
@python_api
def evaluate(
    model: str | Path,
    out: str | Path,
    *,
    bootstrap: int = 1000,
    log: Log | None = print,
    progress: AddBar | None = None,
    **pairs: Unpack[PairOptions],
) -> dict[str, Any]:
    """Score a relevance model (artifact or run folder: model, per-task or ensemble) on a raw file of any supported
    ``source`` (``input``, read unchanged) or on a built ``data`` split (default ``split``: test; see
    :class:`PairOptions`); writes ``metrics.json``, ``metrics.md`` and ``predictions.jsonl`` into ``out`` and returns
    the metrics, with ``bootstrap`` resamples for the CIs."""
    from shoptune.io import claim_output
    from shoptune.relevance.ensemble import resolve_artifact
    from shoptune.relevance.predictor import artifact_info, load_predictor
    from shoptune.relevance.ranking import ranking_tasks
    from shoptune.relevance.scoring import evaluate_pairs

    model, out = validate.path_arg(model, "model"), validate.path_arg(out, "out")
    bootstrap = validate.integer(bootstrap, "bootstrap", minimum=10)
    log = validate.optional(validate.function, log, "log")
    progress = validate.optional(validate.function, progress, "progress")
    pairs = check_pairs(pairs, "evaluate")
    artifact = resolve_artifact(model)
    sources = [s for s in (pairs.get("input"), pairs.get("data")) if s]
    out = claim_output(out, "eval", inputs=[artifact, *sources])
    info = artifact_info(artifact)
    extra: dict[str, Any] = {k: info.get(k) for k in ("kind", "family", "routing")}
    extra = {"model": str(artifact), **extra}
    labelled, where = load_eval_pairs(info, log=log, **pairs)
    extra.update(where)
    predictor = load_predictor(artifact)
    ranking = ranking_tasks(info.get("task_sources") or {}, sorted({p.task for p in labelled}))
    advance = progress("scoring", len(labelled)) if progress else None
    return evaluate_pairs(
        predictor, labelled, out, extra=extra, n_resamples=bootstrap, progress=advance, ranking=ranking
    )


# ============================================================================================ predict
@python_api
def predict(
    model: str | Path,
    input: str | Path,
    out: str | Path,
    *,
    task: str | None = None,
    chunk: int = 4096,
    progress: AddBar | None = None,
    overwrite: bool = False,
    max_line_bytes: int | None = MAX_LINE_BYTES,
    resume: bool = False,
    engine: str = "local",
    workers: int = 2,
    address: str | None = None,
) -> int:
    """Score the pairs of a ``.jsonl`` / ``.csv`` / ``.parquet`` file (``left``, ``right`` and optionally ``task``
    columns; ``task`` for rows without one) in chunks, memory staying flat; writes ``out`` (``.jsonl`` or
    ``.parquet``, via a temp file renamed into place) and returns the number of predictions. An existing ``out``
    is replaced only when shoptune wrote it and it is unchanged since, or with ``overwrite``. A line (a JSONL line,
    a CSV record) longer than ``max_line_bytes`` is refused before it is read whole; 0 or None: no limit. Chunks
    are written as parts as they are scored (:mod:`.resumable`): with ``resume``, a killed run continues after
    the last chunk written, if the input and the model are unchanged.

    ``engine="ray"`` scores the chunks on ``workers`` Ray actors (one model each; a local Ray by default, the
    cluster at ``address`` otherwise) while this process reads the file and writes the output: the same rows in
    the same order as ``engine="local"``.

    >>> from shoptune.relevance.api import predict
    >>> predict("runs/rel/model", "pairs.jsonl", "scored.jsonl", engine="ray", workers=2)  # doctest: +SKIP
    """
    from shoptune.io import claim_file, mark_file
    from shoptune.relevance.data import iter_pair_file
    from shoptune.relevance.ensemble import resolve_artifact
    from shoptune.relevance.resumable import fingerprint, start_parts, write_parts

    model = validate.path_arg(model, "model")
    input, out = validate.path_arg(input, "input"), validate.path_arg(out, "out")
    task = validate.optional(validate.text, task, "task")
    chunk = validate.positive_int(chunk, "chunk")
    progress = validate.optional(validate.function, progress, "progress")
    overwrite = validate.flag(overwrite, "overwrite")
    resume = validate.flag(resume, "resume")
    engine = validate.choice(engine, "engine", ("local", "ray"))
    workers = validate.positive_int(workers, "workers")
    address = validate.optional(validate.text, address, "address")
    # One rule with --max-line-bytes: 0 (or None) reads lines of any length.
    max_line_bytes = validate.optional(validate.non_negative_int, max_line_bytes, "max_line_bytes") or None
    if out.suffix not in (".jsonl", ".parquet"):
        raise ArgumentError("out", "must end in .jsonl or .parquet", out)
    if not input.is_file():
        raise ArgumentError("input", "no such file", input)
    artifact = resolve_artifact(model)
    out = claim_file(out, overwrite=overwrite, inputs=[input, artifact])
    # Read the first pair before the model loads: a wrong encoding, format or field is reported at once.
    pairs = iter_pair_file(input, task, max_line_bytes=max_line_bytes)
    first = next(pairs, None)
    rows = itertools.chain([first], pairs) if first is not None else iter(())
    parts, done = start_parts(out, fingerprint(input, artifact), resume)
    advance = progress("predict", count_rows(input)) if progress else None
    if engine == "ray":
        from shoptune.parallel import ordered_map

        def score(chunks: Iterator[list[Any]]) -> Iterator[list[dict[str, Any]]]:
            return ordered_map(ChunkScorer, (artifact,), chunks, workers=workers, address=address)
    else:
        scorer = ChunkScorer(artifact)

        def score(chunks: Iterator[list[Any]]) -> Iterator[list[dict[str, Any]]]:
            return map(scorer, chunks)

    written = write_parts(rows, out, parts, done, score, chunk=chunk, advance=advance)
    mark_file(out)  # what lets a later predict replace it, and nothing else
    return written


class ChunkScorer:
    """One loaded model scoring chunks of pairs into prediction rows (in this process, or as a Ray actor)."""

    def __init__(self, artifact: Path) -> None:
        from shoptune.relevance.predictor import load_predictor

        self.predictor = load_predictor(artifact)

    def __call__(self, pairs: list[Any]) -> list[dict[str, Any]]:
        from shoptune.relevance.predictor import prediction_row, stream_predictions

        return [prediction_row(*row) for row in stream_predictions(self.predictor, pairs, chunk=len(pairs))]


# ============================================================================================ export
#: Test pairs per task the export is checked on against torch (seeded sample, the same for every export).
CHECK_PAIRS = 300


@python_api
def export(
    model: str | Path,
    out: str | Path,
    *,
    format: str = "openvino",
    int8: bool = False,
    data: str | Path | None = None,
    check_pairs: int = CHECK_PAIRS,
    log: Log | None = None,
    progress: AddBar | None = None,
) -> dict[str, Any]:
    """Export a cross-encoder (a model or run folder) to OpenVINO or ONNX Runtime in ``out``, then check it.

    ``data``: the build the model was trained on (default: the run's ``data/``). int8 calibrates on its dev pairs;
    the check scores up to ``check_pairs`` test pairs per task with torch and with the export and writes
    ``OUT/export_check.json``: label agreement and the macro-F1 change per task. Returns that report.

    Example:
        >>> report = export("runs/rel", "exports/rel-ov", format="openvino")  # doctest: +SKIP
        >>> report["agreement"]  # doctest: +SKIP
        0.998
    """
    from shoptune.io import atomic_write_json
    from shoptune.relevance.ensemble import resolve_artifact
    from shoptune.relevance.export import export_model

    model = validate.path_arg(model, "model")
    out = validate.path_arg(out, "out")
    format = validate.choice(format, "format", validate.ExportFormat)  # type: ignore[assignment]
    int8 = validate.flag(int8, "int8")
    check_pairs = validate.positive_int(check_pairs, "check_pairs")
    say = log or (lambda _m: None)
    artifact = resolve_artifact(model)
    build = _model_build(artifact, validate.optional(validate.path_arg, data, "data"))
    tasks = _artifact_tasks(artifact)
    calibration = _dev_pairs(build, tasks) if int8 and build is not None else []
    export_model(artifact, out, runtime=format, int8=int8, calibration=calibration, log=say)  # type: ignore[arg-type]
    if build is None:
        say("no data build found beside the model (give --data): the export is not checked against torch")
        return {}
    report = check_export(artifact, Path(out), build, tasks, check_pairs, progress)
    report |= {"format": format, "int8": int8, "calibration_pairs": len(calibration), "data": str(build)}
    atomic_write_json(Path(out) / "export_check.json", report)
    return report


def _model_build(artifact: Path, data: Path | None) -> Path | None:
    """The build to calibrate and check on: ``data``, else the run folder's own ``data/``."""
    if data is not None:
        if not (data / "tasks").is_dir():
            raise ArgumentError("data", "not a `shoptune data build` folder (no tasks/)", data)
        return data
    candidate = artifact.parent / "data"
    return candidate if (candidate / "tasks").is_dir() else None


def _artifact_tasks(artifact: Path) -> list[str]:
    from shoptune.relevance.predictor import read_artifact_checked

    meta = read_artifact_checked(artifact)
    if meta["kind"] != "model":
        raise ShoptuneError(f"{artifact}: a {meta['kind']} artifact; export the single models it holds")
    return list(meta["tasks"])


def _dev_pairs(build: Path, tasks: Sequence[str]) -> list[tuple[str, str, str]]:
    """Calibration pairs for int8: dev pairs only, spread evenly over the tasks (seeded)."""
    from shoptune.relevance.data import load_split
    from shoptune.relevance.export import CALIBRATION_PAIRS

    per_task = max(1, CALIBRATION_PAIRS // max(1, len(tasks)))
    pairs = [p for t in tasks for p in load_split(build, t, "dev", per_task, seed=0)]
    return [(p.task, p.left, p.right) for p in pairs]


def check_export(
    artifact: Path, exported: Path, build: Path, tasks: Sequence[str], per_task: int, progress: AddBar | None = None
) -> dict[str, Any]:
    """Torch against the export on the same seeded test pairs: served-label agreement, macro-F1 per task."""
    from shoptune.evaluation.metrics import macro_f1
    from shoptune.records import LABELS
    from shoptune.relevance.data import load_split
    from shoptune.relevance.predictor import load_predictor

    pairs = [p for t in tasks for p in load_split(build, t, "test", per_task, seed=0)]
    served = {}
    for name, path in (("torch", artifact), ("export", exported)):
        advance = progress(f"check {name}", len(pairs)) if progress else None
        served[name] = [LABELS[int(i)] for i in load_predictor(path).predict(pairs, advance).labels]
    per: dict[str, dict[str, Any]] = {}
    for task in tasks:
        rows = [i for i, p in enumerate(pairs) if p.task == task]
        gold = [pairs[i].label for i in rows]
        ref, new = ([served[n][i] for i in rows] for n in ("torch", "export"))
        f1_ref, f1_new = macro_f1(ref, gold, LABELS), macro_f1(new, gold, LABELS)
        agree = sum(a == b for a, b in zip(ref, new, strict=True)) / max(1, len(rows))
        per[task] = {"pairs": len(rows), "agreement": agree, "macro_f1_torch": f1_ref, "macro_f1_export": f1_new,
                     "macro_f1_change": f1_new - f1_ref}  # fmt: skip
    agree_all = sum(a == b for a, b in zip(served["torch"], served["export"], strict=True)) / max(1, len(pairs))
    return {"pairs": len(pairs), "agreement": agree_all, "tasks": per}


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
        with path.open("rb") as fh:  # in blocks: a giant line must not be read whole (the bar's total only)
            lines = sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))
        return lines - 1 if path.suffix == ".csv" else lines
    return None


# ============================================================================================ calibrate
@dataclass
class Calibration:
    """What :func:`calibrate` fitted and where it stored it."""

    #: relevance.json folder -> the decision rules written there.
    written: dict[str, Any]
    #: Labelled pairs the rules were fitted on.
    pairs: int
    #: "dev split of DATA" or the raw input file.
    fitted_on: str
    #: Tasks that kept argmax (fewer than ``min_pairs`` pairs).
    kept_argmax: list[str]


@python_api
def calibrate(
    model: str | Path,
    *,
    rule: str = "bias",
    metric: str = "macro_f1",
    temperature: bool = True,
    min_pairs: int = 50,
    log: Log | None = print,
    progress: AddBar | None = None,
    **pairs: Unpack[PairOptions],
) -> Calibration:
    """Fit a decision rule (per-task temperature and label biases) onto a trained model and store it in its
    ``relevance.json``: for models trained before decision rules existed, or to refit on other held-out pairs.
    The labelled pairs come from a raw file or a built split (:class:`PairOptions`; default ``split``: dev). Fit
    on dev pairs, never on the pairs you then report."""
    from shoptune.relevance.decision import fit_decision
    from shoptune.relevance.ensemble import resolve_artifact
    from shoptune.relevance.predictor import artifact_info

    model = validate.path_arg(model, "model")
    rule = validate.choice(rule, "rule", validate.DecisionRuleChoice)
    metric = validate.choice(metric, "metric", validate.DecisionMetric)
    temperature, min_pairs = validate.flag(temperature, "temperature"), validate.positive_int(min_pairs, "min_pairs")
    log = validate.optional(validate.function, log, "log")
    progress = validate.optional(validate.function, progress, "progress")
    pairs = check_pairs({"split": "dev", **pairs}, "calibrate")
    artifact = resolve_artifact(model)
    info = artifact_info(artifact)
    if info.get("kind") == "ensemble":
        raise ShoptuneError(f"{artifact}: an ensemble votes with its members' rules; calibrate each member instead")
    labelled, where = load_eval_pairs(info, log=log, **pairs)
    if not labelled:
        raise ShoptuneError("no labelled pairs to fit on")
    fitted_on = f"{where['split']} split of {where['data']}" if "data" in where else f"{where['input']}"
    written, _ = fit_decision(
        artifact,
        labelled,
        rule=rule,
        metric=metric,
        temperature=temperature,
        min_pairs=min_pairs,
        fitted_on=fitted_on,
        progress=progress("scoring", len(labelled)) if progress else None,
    )
    fitted = {name for rules in written.values() for name in rules.tasks}
    kept = sorted({p.task for p in labelled} - fitted)
    return Calibration(written=written, pairs=len(labelled), fitted_on=fitted_on, kept_argmax=kept)


# ============================================================================================ compare
@python_api
def compare(
    kind: str,
    out: str | Path,
    *,
    runs: str | Path | Sequence[str | Path] = (),
    multi: str | Path | None = None,
    single: str | Path | None = None,
    ensemble: str | Path | None = None,
    split: str = "test",
    low_resource: int = 1000,
    decision: str = "rule",
) -> Path:
    """Compare runs on the same test pairs with paired significance tests; writes ``<kind>.md`` and ``.json`` into
    ``out`` and returns the Markdown file. ``kind``: ``routing`` (two or more ``runs``), ``prefix-ablation``,
    ``multitask`` (``multi`` vs ``single``) or ``ensemble`` (its eval folder vs the member ``runs``); ``decision``
    compares the served labels (``rule``) or ``argmax``."""
    from shoptune.io import claim_output
    from shoptune.relevance import comparisons as cmp

    kind = validate.choice(kind, "kind", validate.Comparison)
    runs = validate.path_list(runs, "runs")
    multi = validate.optional(validate.path_arg, multi, "multi")
    single = validate.optional(validate.path_arg, single, "single")
    ensemble = validate.optional(validate.path_arg, ensemble, "ensemble")
    split = validate.choice(split, "split", validate.Split)
    low_resource = validate.non_negative_int(low_resource, "low_resource")
    decision = validate.choice(decision, "decision", validate.DecisionChoice)
    runs_name = argument_label("runs", default="--runs")
    if kind == "multitask" and (multi is None or single is None):
        hints = f"{argument_hint('multi', 'RUN', '--multi')} and {argument_hint('single', 'RUN', '--single')}"
        raise ArgumentError("multi" if multi is None else "single", f"multitask needs {hints}", named=False)
    if kind == "ensemble" and (ensemble is None or not runs):
        hint = argument_hint("ensemble", "EVAL", "--ensemble")
        problem = f"ensemble needs {hint} and the members as {runs_name}"
        raise ArgumentError("ensemble" if ensemble is None else "runs", problem, named=False)
    if kind in ("routing", "prefix-ablation") and not runs:
        raise ArgumentError("runs", f"{kind} needs the runs to compare as {runs_name}", named=False)
    inputs = [p for p in (*runs, multi, single, ensemble) if p is not None]
    out = claim_output(out, "compare", inputs=inputs)

    def load(path: str | Path) -> Any:
        return cmp.load_run(Path(path), split, decision=decision)

    loaded = [load(p) for p in expand_runs(runs)]
    if kind == "routing":
        _need(len(loaded) >= 2, f"routing needs at least two {runs_name}")
        cmp.compare_routing(loaded, out)
    elif kind == "prefix-ablation":
        cmp.compare_prefix_ablation(loaded, out)
    elif kind == "multitask":
        cmp.compare_multitask(load(multi), load(single), out, low_resource=low_resource)  # type: ignore[arg-type]
    else:
        cmp.compare_ensemble(load(ensemble), loaded, out)  # type: ignore[arg-type]
    return out / f"{kind.replace('-', '_')}.md"


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise ShoptuneError(message)


def expand_runs(paths: Sequence[str | Path]) -> list[Path]:
    """Run folders as given, or the run folders inside a parent folder (those with run.json or predictions)."""
    out: list[Path] = []
    for path in map(Path, paths):
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
