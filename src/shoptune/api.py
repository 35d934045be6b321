"""One function per `shoptune` command: what the command line does, callable from Python.

The CLI only parses options, calls one of these and prints; the same checks run either way (the rules are in
:mod:`shoptune.validate`), and bad input raises :class:`shoptune.errors.ShoptuneError` with the one line the CLI
would print, naming the argument (``limit``) where the CLI names its option (``--limit``). A bad argument is also a
``ValueError`` (:class:`~shoptune.errors.ArgumentError`) or, of the wrong type, a ``TypeError``
(:class:`~shoptune.errors.ArgumentTypeError`), raised before any work starts. Paths may be ``str`` or ``Path``;
where a list of names is expected, one name may be given as a string. ``progress`` parameters take
``add(name, total)``, which starts one progress bar and returns its ``advance(n)`` callback (the CLI passes rich
bars); ``log`` takes one message at a time.

Example:
    >>> import tempfile
    >>> import shoptune
    >>> out = tempfile.mkdtemp() + "/data"
    >>> manifest = shoptune.build_data(shoptune.configs_dir() / "data_demo.yaml", out, tasks=["hd_relevance_mc"])
    >>> manifest["tasks"]["hd_relevance_mc"]["kind"], manifest["skipped_rows_total"]
    ('multiple_choice', 0)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoptune import validate
from shoptune.errors import ArgumentError, python_api

if TYPE_CHECKING:
    from shoptune.data.generate.config import GenerateConfig
    from shoptune.data.sources.base import Source
    from shoptune.experiments.sweep import SweepConfig
    from shoptune.tasks.spec import TaskSpec
    from shoptune.training.config import SFTConfig

Log = Callable[[str], None]
#: ``add(name, total)`` -> ``advance(n)``: one progress bar per pass (see the module docstring).
AddBar = Callable[[str, int], Callable[[int], None]]
#: ``progress(task, done, total)`` before each task of a data build.
BuildProgress = Callable[[str, int, int], None]


# ----------------------------------------------------------------------------------------------- tasks
#: Task specs that name raw benchmark files instead of registered tasks (``shopbench:PATH``, ``ecominstruct:DIR``).
RAW_TASK_PREFIXES = ("shopbench:", "ecominstruct:")


def task_folders(task_dirs: Any, name: str = "task_dirs") -> list[Path]:
    """``task_dirs`` checked: paths of existing folders (a missing one is a bad argument, not a bad config)."""
    dirs = validate.path_list(task_dirs, name)
    for folder in dirs:
        if not folder.is_dir():
            raise ArgumentError(name, "no such folder" if not folder.exists() else "not a folder", folder)
    return dirs


def check_task_names(names: Sequence[str], registry: Mapping[str, Any], name: str = "tasks") -> None:
    """Each of ``names`` is a registered task (or a raw benchmark spec): an unknown one is a bad argument
    (:class:`~shoptune.errors.ArgumentError`, a ``ValueError``) naming ``name``, before any work starts."""
    unknown = [n for n in names if n not in registry and not n.startswith(RAW_TASK_PREFIXES)]
    if unknown:
        listed = ", ".join(repr(n) for n in unknown)
        problem = f"unknown task{'s' if len(unknown) > 1 else ''} {listed} (see `shoptune tasks list`)"
        raise ArgumentError(name, problem)


@python_api
def list_tasks(
    task_dirs: str | Path | Sequence[str | Path] = (), *, capability: str | None = None, kind: str | None = None
) -> list[TaskSpec]:
    """The registered tasks (built-in and from ``task_dirs``), by capability, kind and name; optionally only one
    capability or kind.

    >>> import shoptune
    >>> [t.name for t in shoptune.list_tasks(capability="user_behavior_alignment", kind="pair_relevance")]
    ['hd_query_product', 'hd_query_query', 'wands_query_class']
    """
    from shoptune.tasks import load_tasks
    from shoptune.tasks.spec import TaskKind

    dirs = task_folders(task_dirs)
    capability = validate.optional(validate.text, capability, "capability")
    kind = None if kind is None else validate.choice(kind, "kind", TaskKind)
    tasks = load_tasks(dirs)
    known = sorted({t.capability for t in tasks.values()})
    if capability and capability not in known:
        raise ArgumentError("capability", f"no task has it (capabilities: {', '.join(known)})", capability)
    chosen = [
        t for t in tasks.values() if (not capability or t.capability == capability) and (not kind or t.kind == kind)
    ]
    return sorted(chosen, key=lambda t: (t.capability, t.kind, t.name))


@python_api
def get_task(name: str, task_dirs: str | Path | Sequence[str | Path] = ()) -> TaskSpec:
    """One task's specification by name.

    >>> import shoptune
    >>> shoptune.get_task("hd_relevance_mc").source.adapter
    'home_depot'
    """
    from shoptune.tasks import load_tasks

    name = validate.text(name, "name")
    tasks = load_tasks(task_folders(task_dirs))
    if name not in tasks:
        raise ArgumentError("name", "unknown task (see `shoptune tasks list`)", name)
    return tasks[name]


# ----------------------------------------------------------------------------------------------- data
@python_api
def build_data(
    config: str | Path,
    out: str | Path,
    *,
    tasks: str | Sequence[str] | None = None,
    on_error: str | None = None,
    atomic: bool | None = None,
    data_root: str | Path | None = None,
    seed: int | None = None,
    allow_leaks: bool | None = None,
    num_proc: int | None = None,
    progress: BuildProgress | None = None,
) -> dict[str, Any]:
    """Build the tasks of a build config as Parquet splits plus ``manifest.json`` in ``out`` (replaced atomically;
    a folder shoptune did not write is refused). Keyword arguments override the config (``num_proc``: processes
    reading the sources at once); returns the manifest.
    The build ends with :func:`audit_data`'s checks (in ``manifest["audit"]``): a dev or test record that shares a
    key with a train split of its source fails it (:class:`~shoptune.errors.LeakError`) unless ``allow_leaks``.
    See the module docstring for an example."""
    from shoptune.data.build import build, load_build_config, select_tasks, source_files
    from shoptune.io import claim_output

    config, out = validate.path_arg(config, "config"), validate.path_arg(out, "out")
    root = validate.optional(validate.path_arg, data_root, "data_root")
    overrides = {
        "on_error": None if on_error is None else validate.choice(on_error, "on_error", validate.OnError),
        "seed": validate.optional(validate.integer, seed, "seed"),
        "atomic": validate.optional(validate.flag, atomic, "atomic"),
        "allow_leaks": validate.optional(validate.flag, allow_leaks, "allow_leaks"),
        "num_proc": validate.optional(validate.positive_int, num_proc, "num_proc"),
        "tasks": validate.optional(validate.task_names, tasks, "tasks"),
        "data_root": str(root.resolve()) if root else None,
    }
    progress = validate.optional(validate.function, progress, "progress")
    cfg = load_build_config(config, **overrides)
    if overrides["tasks"] is not None:  # names the caller gave, not the file: a bad one is a bad argument
        from shoptune.tasks import load_tasks

        check_task_names(overrides["tasks"], load_tasks(cfg.task_dirs))
    # Before any progress: a refusal is the only thing reported.
    specs = select_tasks(cfg)
    claim_output(out, "build", inputs=source_files(cfg, specs))
    total = len(specs)
    done: list[str] = []

    def started(name: str) -> None:
        if progress:
            progress(name, len(done), total)
        done.append(name)

    manifest = build(cfg, out, progress=started)
    if progress and done:
        progress(done[-1], total, total)
    return manifest


@python_api
def audit_data(build: str | Path, *, near_duplicates: bool = True) -> dict[str, Any]:
    """Audit a data build: per task, the dev/test records that share a key with its own train split and with the
    train split of any other task of the same source, and exact / near-duplicate texts across splits
    (:mod:`shoptune.data.audit`). ``report["leaks"]`` maps each leaking task (splits made by the build, not
    shipped by the source) to its count; ``report["shipped_overlap"]`` the overlap of shipped splits.

    >>> import tempfile
    >>> import shoptune
    >>> out = tempfile.mkdtemp() + "/data"
    >>> _ = shoptune.build_data(shoptune.configs_dir() / "data_demo.yaml", out, tasks=["hd_query_product"])
    >>> shoptune.audit_data(out)["leaks"]
    {}
    """
    from shoptune.data.audit import audit_build

    build = validate.path_arg(build, "build")
    return audit_build(build, near_duplicates=validate.flag(near_duplicates, "near_duplicates"))


@dataclass
class SourceCheck:
    """What :func:`validate_source` found in a raw file."""

    file: Path
    source: str
    rows: int
    skipped: int
    view: str | None = None
    #: Records the view derives from the rows (None without a view).
    records: int | None = None
    #: The most frequent labels of those records, most frequent first (at most 8).
    labels: list[tuple[str, int]] = field(default_factory=list)
    #: The first few skipped rows' messages.
    examples: list[str] = field(default_factory=list)


def source_adapter(name: str) -> Source:
    """The source adapter registered as ``name``; an unknown name is a bad ``source`` argument (a ``ValueError``)
    listing the known ones."""
    from shoptune.data.sources import get_source, list_sources

    name = validate.text(name, "source")
    known = list_sources()
    if name not in known:
        raise ArgumentError("source", f"unknown source adapter (known: {', '.join(known)})", name)
    return get_source(name)


@python_api
def validate_source(file: str | Path, source: str, *, view: str | None = None, on_error: str = "raise") -> SourceCheck:
    """Read a raw file (or folder) with a source adapter and count its rows, skipped rows and derived records.

    >>> import shoptune
    >>> csv = shoptune.demo_data_dir() / "home_depot_search_relevance" / "train.csv"
    >>> check = shoptune.validate_source(csv, "home_depot")
    >>> check.skipped, check.rows > 0
    (0, True)
    """
    from shoptune.data.errorlog import ErrorLog
    from shoptune.data.sources.base import ViewContext

    file = validate.path_arg(file, "file")
    view = validate.optional(validate.text, view, "view")
    on_error = validate.choice(on_error, "on_error", validate.OnError)
    adapter = source_adapter(source)
    if view is not None and view not in adapter.views:
        views = ", ".join(adapter.views)
        raise ArgumentError("view", f"source {source!r} has no such view (views: {views})", view)
    log = ErrorLog(on_error=on_error)
    rows = adapter.read(file, log)
    check = SourceCheck(file=file, source=source, rows=len(rows), skipped=0, view=view or adapter.default_view)
    if check.view:
        ctx = ViewContext(task="validate", capability="validate", language="en", log=log)
        records = list(adapter.records(rows, check.view, ctx))
        check.records = len(records)
        labels = Counter(str(label) for label in map(_label_of, records) if label and label != "None")
        check.labels = sorted(labels.items(), key=lambda kv: -kv[1])[:8]
    check.skipped, check.examples = log.skipped, list(log.examples)
    return check


def _label_of(record: Any) -> Any:
    """A pair's grade, or a choice question's answer (an instruction example with options)."""
    output = getattr(record, "output", None)
    return getattr(record, "label", None) or (output if isinstance(output, str) and record.options else None)


@python_api
def generate_data(
    config: str | Path | GenerateConfig,
    out: str | Path,
    *,
    resume: bool = False,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    log: Log = print,
) -> dict[str, Any]:
    """Generate instruction examples for a task with an LLM, filter them, and write a task folder that a data
    build reads (``task_dirs``); returns the run's report (counts, files)."""
    from shoptune.data.generate.config import GenerateConfig, load_generate_config
    from shoptune.data.generate.runner import run_generation

    out, resume = validate.path_arg(out, "out"), validate.flag(resume, "resume")
    changes, log = validate.config_overrides(overrides), validate.function(log, "log")
    if isinstance(config, GenerateConfig):
        validate.no_overrides(changes)
        cfg = config
    else:
        cfg = load_generate_config(validate.path_arg(config, "config"), changes)
    return run_generation(cfg, out, resume=resume, log=log)


# ----------------------------------------------------------------------------------------------- eval
def check_adapter(adapter: str | Path) -> Path:
    """``adapter`` must be a peft adapter folder: say so in one line instead of failing inside peft."""
    adapter = validate.path_arg(adapter, "adapter")
    if not adapter.is_dir():
        raise ArgumentError("adapter", "no such folder", adapter)
    if not (adapter / "adapter_config.json").is_file():
        raise ArgumentError("adapter", "not a LoRA adapter folder (no adapter_config.json)", adapter)
    from shoptune.models import check_safetensors_only

    check_safetensors_only(adapter)  # a pickled adapter_model.bin is refused unread
    return adapter


@python_api
def evaluate(
    model: str | Path,
    tasks: str | Sequence[str],
    out: str | Path,
    *,
    adapter: str | Path | None = None,
    batch_size: int = 8,
    limit: int | None = None,
    shots: int = 0,
    split: str = "test",
    data: str | Path | None = None,
    data_root: str | Path | None = None,
    generate_choices: bool = False,
    task_dirs: str | Path | Sequence[str | Path] = (),
    bf16: bool = False,
    loading: Callable[[str], AbstractContextManager[Any]] | None = None,
    progress: AddBar | None = None,
) -> dict[str, Any]:
    """Score a causal LM (bundled name, local path or hub id; optionally with a LoRA ``adapter``) on registered
    tasks or raw benchmark files (``shopbench:PATH``, ``ecominstruct:DIR``); writes ``metrics.json`` and
    ``predictions.jsonl`` into ``out`` and returns the metrics. Every option, task and output folder is checked
    before the model loads; ``loading(model)`` is a context manager around the load (the CLI's spinner).

    >>> import shoptune
    >>> metrics = shoptune.evaluate("smollm2-135m", ["hd_relevance_mc"], "runs/eval", limit=50)  # doctest: +SKIP
    >>> metrics["overall"]  # doctest: +SKIP
    """
    from shoptune.evaluation.collect import collect_items
    from shoptune.evaluation.lm import LMScorer
    from shoptune.evaluation.runner import evaluate as run_items
    from shoptune.evaluation.runner import write_results
    from shoptune.io import claim_output
    from shoptune.models import load_causal_lm

    model, names = validate.model_name(model, "model"), validate.task_names(tasks, "tasks")
    out = validate.path_arg(out, "out")
    batch_size = validate.positive_int(batch_size, "batch_size")
    limit = validate.optional(validate.positive_int, limit, "limit")
    shots, split = validate.non_negative_int(shots, "shots"), validate.choice(split, "split", validate.Split)
    data = validate.optional(validate.path_arg, data, "data")
    data_root = validate.optional(validate.path_arg, data_root, "data_root")
    generate_choices, bf16 = validate.flag(generate_choices, "generate_choices"), validate.flag(bf16, "bf16")
    dirs = task_folders(task_dirs)
    loading = validate.optional(validate.function, loading, "loading")
    progress = validate.optional(validate.function, progress, "progress")
    adapter = check_adapter(adapter) if adapter is not None else None
    if any(not n.startswith(RAW_TASK_PREFIXES) for n in names):
        from shoptune.tasks import load_tasks

        check_task_names(names, load_tasks(dirs))
    out = claim_output(out, "eval", inputs=[p for p in (adapter, data) if p is not None])
    items = collect_items(names, data=data, data_root=data_root, split=split, limit=limit, shots=shots, task_dirs=dirs)
    with (loading or (lambda _name: nullcontext()))(model):
        lm, tokenizer = load_causal_lm(model)
        if adapter is not None:
            from peft import PeftModel

            lm = PeftModel.from_pretrained(lm, str(adapter), local_files_only=True)
    scorer = LMScorer(lm, tokenizer, batch_size=batch_size, bf16=bf16)
    advance = progress(model, len(items)) if progress else None
    result = run_items(items, scorer, generate_choices=generate_choices, progress=advance)
    write_results(result, out, extra={"model": model, "adapter": str(adapter) if adapter else None})
    return result.metrics


# ----------------------------------------------------------------------------------------------- train / export
@python_api
def train_sft(
    config: str | Path | SFTConfig,
    out: str | Path,
    *,
    resume: bool = False,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    log: Log = print,
    progress: Callable[[int, int, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Multi-task instruction tuning of a causal LM (LoRA or full) per an SFT config (a YAML path, with dotted
    ``overrides`` such as ``{"optim.lr": 1e-4}``, or an :class:`~shoptune.training.config.SFTConfig`) into the run
    folder ``out``; ``overrides`` may also be ``--set``-style ``["optim.lr=1e-4"]`` strings (values read as YAML);
    ``resume`` continues from its last checkpoint. ``progress(step, total, record)`` follows
    every logged step. Returns the run summary (steps, tokens per second, adapter path, ...).

    >>> import shoptune
    >>> summary = shoptune.train_sft("configs/sft_demo.yaml", "runs/sft")  # doctest: +SKIP
    """
    from shoptune.training.config import SFTConfig, load_sft_config
    from shoptune.training.sft import check_run_folder, run_sft

    out, resume = validate.path_arg(out, "out"), validate.flag(resume, "resume")
    changes, log = validate.config_overrides(overrides), validate.function(log, "log")
    progress = validate.optional(validate.function, progress, "progress")
    if isinstance(config, SFTConfig):
        validate.no_overrides(changes)
        cfg = config
    else:
        cfg = load_sft_config(validate.path_arg(config, "config"), changes)
    check_run_folder(cfg, out, resume)
    return run_sft(cfg, out, resume=resume, log=log, progress=progress)


@python_api
def export_merged(adapter: str | Path, out: str | Path, *, base: str | None = None) -> Path:
    """Fold a LoRA adapter into its base model (default: the one it was trained on) and write a model folder that
    loads with plain transformers; returns the folder."""
    from shoptune.training.export import export_merged as export

    adapter, out = validate.path_arg(adapter, "adapter"), validate.path_arg(out, "out")
    return export(adapter, out, validate.optional(validate.model_name, base, "base"))


# ----------------------------------------------------------------------------------------------- experiments
def heldout_folders(run: str | Path, out: str | Path | None = None) -> tuple[Path, Path]:
    """(adapter folder, output folder) of :func:`compare_heldout`: ``run`` is an SFT run (with ``adapter/``) or an
    adapter folder; the output defaults to the run's ``eval/``."""
    run = validate.path_arg(run, "run")
    out = validate.optional(validate.path_arg, out, "out")
    adapter = run / "adapter" if (run / "adapter").is_dir() else run
    return adapter, out or adapter.parent / "eval"


@python_api
def compare_heldout(
    run: str | Path,
    *,
    out: str | Path | None = None,
    limit: int | None = 200,
    batch_size: int = 16,
    split: str = "test",
    bf16: bool = False,
    base_from: str | Path | None = None,
    only: str | None = None,
    log: Log = print,
    progress: AddBar | None = None,
) -> dict[str, Any]:
    """Zero-shot base model vs the tuned adapter of an SFT run on its held-in and held-out tasks, with paired
    bootstrap CIs; writes ``comparison.json`` / ``comparison.md`` (and both evals) into ``out`` (default
    ``RUN/eval``) and returns the comparison."""
    from shoptune.experiments.heldout import compare_base_and_tuned

    adapter, folder = heldout_folders(run, out)
    return compare_base_and_tuned(
        adapter,
        limit=validate.optional(validate.positive_int, limit, "limit"),
        batch_size=validate.positive_int(batch_size, "batch_size"),
        split=validate.choice(split, "split", validate.Split),
        bf16=validate.flag(bf16, "bf16"),
        log=validate.function(log, "log"),
        progress=validate.optional(validate.function, progress, "progress"),
        base_from=validate.optional(validate.path_arg, base_from, "base_from"),
        only=None if only is None else validate.choice(only, "only", validate.Group),
        out=folder,
    )


def _sweep_config(
    config: str | Path | SweepConfig,
    overrides: Mapping[str, Any] | Sequence[str] | None,
    preset: str | None,
    data: str | Path | None,
) -> SweepConfig:
    """A sweep YAML path (with a preset and dotted overrides) or a SweepConfig, checked; ``data`` replaces its
    data build."""
    from shoptune.experiments.sweep import SweepConfig, load_sweep

    changes, build = validate.config_overrides(overrides), validate.optional(validate.path_arg, data, "data")
    preset = validate.optional(validate.text, preset, "preset")
    if isinstance(config, SweepConfig):
        validate.no_overrides(changes)
        if preset is not None:
            raise ArgumentError("preset", "applies to a sweep YAML path, not to a SweepConfig")
        cfg = config
    else:
        cfg = load_sweep(validate.path_arg(config, "config"), changes, preset=preset)
    if build is not None:
        cfg.data = str(build.resolve())
    return cfg


@python_api
def plan_experiment(
    config: str | Path | SweepConfig,
    *,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    preset: str | None = None,
    data: str | Path | None = None,
    priors: str | Path | None = None,
    out: str | Path | None = None,
) -> dict[str, Any]:
    """What a sweep will cost and the smallest effect each primary contrast can detect, before it runs: runs,
    items, expected wall time, and per primary contrast the MDE at 80% power and the seeds or items its
    ``expected_effect`` needs. ``priors``: an earlier sweep folder whose measured seed and item SDs replace the
    file's; ``out``: the sweep folder, whose finished runs replace the assumed throughput.

    >>> plan = plan_experiment("configs/experiments/rank_diversity.yaml")  # doctest: +SKIP
    >>> plan["primary"][0]["mde"]  # doctest: +SKIP
    """
    from shoptune.experiments.planning import plan_design

    priors = validate.optional(validate.path_arg, priors, "priors")
    out = validate.optional(validate.path_arg, out, "out")
    return plan_design(_sweep_config(config, overrides, preset, data), priors=priors, out=out)


@python_api
def run_sweep(
    config: str | Path | SweepConfig,
    out: str | Path,
    *,
    resume: bool = False,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    preset: str | None = None,
    data: str | Path | None = None,
    threads: int | None = None,
    log: Log = print,
    progress: AddBar | None = None,
    engine: str = "local",
    workers: int = 2,
    address: str | None = None,
) -> dict[str, Any]:
    """Train every arm x seed of a sweep (a YAML path with a ``preset`` and dotted ``overrides``, or a SweepConfig),
    score each on one fixed item set, and write results and comparisons into ``out``; ``data`` reuses an existing
    data build for every arm, ``threads`` sets torch's thread count. The plan (:func:`plan_experiment`) is logged
    first, with a warning for each primary contrast this design cannot detect. Returns the analysis.
    ``engine="ray"`` runs the arms x seeds on ``workers`` Ray tasks (a local Ray, or the cluster at ``address``).

    >>> import shoptune
    >>> shoptune.run_sweep("configs/experiments/chain_of_task.yaml", "runs/cot", engine="ray")  # doctest: +SKIP
    """
    from shoptune.experiments.planning import plan_design, plan_markdown, warning_lines
    from shoptune.experiments.sweep import check_start
    from shoptune.experiments.sweep import run_sweep as run

    out, resume = validate.path_arg(out, "out"), validate.flag(resume, "resume")
    threads = validate.optional(validate.positive_int, threads, "threads")
    log, progress = validate.function(log, "log"), validate.optional(validate.function, progress, "progress")
    engine = validate.choice(engine, "engine", ("local", "ray"))
    workers = validate.positive_int(workers, "workers")
    address = validate.optional(validate.text, address, "address")
    cfg = _sweep_config(config, overrides, preset, data)
    check_start(cfg, out, resume)  # a bad --out is one line before the plan is worked out and printed
    design = plan_design(cfg, out=out if (out / "arms").is_dir() else None)
    log(plan_markdown(design).rstrip())
    for line in warning_lines(design):
        log(line)
    if threads:
        import torch

        torch.set_num_threads(threads)
    return run(
        cfg,
        out,
        resume=resume,
        log=log,
        progress=progress,
        design=design,
        engine=engine,
        workers=workers,
        address=address,
    )
