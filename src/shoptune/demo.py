"""The embedded default: both halves of shoptune on the bundled demo data, in a few minutes of CPU.

1. data       - build the demo's tasks from ``demo/data`` (a small, attributed subset of the real sources);
2. relevance  - a multi-task MiniLM cross-encoder on every pair task vs a single-task model of the
                low-resource task (same recipe), paired tests on the same test pairs;
3. sft        - a short multi-task LoRA fine-tune of SmolLM2-135M, zero-shot vs tuned on held-in and
                held-out tasks, paired bootstrap CIs;
4. report     - one self-contained ``report.html`` covering both halves (``shoptune report``).

Where the time goes is recorded in ``demo.json`` (seconds per stage), so a slow machine can be diagnosed.

Example:
    >>> from shoptune.demo import run_demo                  # doctest: +SKIP
    >>> report = run_demo("runs/demo")                       # doctest: +SKIP
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from shoptune import validate
from shoptune.config import StrictModel, load_config
from shoptune.errors import ShoptuneError, python_api
from shoptune.io import atomic_write_json, claim_output, open_folder, remove_owned

Log = Callable[[str], None]
#: A context manager yielding ``add(name, total)``, which returns one progress bar's advance callback (the CLI
#: passes rich bars; entered only around scoring, so the training bars of the recipes are not nested in it).
Bars = Callable[[], AbstractContextManager[Callable[[str, int], Callable[[int], None]]]]

#: What a run of this size can and cannot show; shown in the report above the numbers.
NOTES = (
    "The demo is sized for a few minutes of a 2-core CPU: a few hundred training examples, tens of test items "
    "per task. It shows the whole pipeline working end to end, each score beside the score of always giving the "
    "majority answer and beside the labels each model actually gave. At this size it cannot show that "
    "multi-task training or fine-tuning helps: the models mostly give one or two labels, the CIs are wide, and a "
    "difference is noise unless its CI excludes 0 and both models give more than one answer. The studies' "
    "comparisons, at sizes that can show an effect, are `shoptune experiment run` and `shoptune relevance compare`."
)


class DemoConfig(StrictModel):
    """``configs/demo.yaml``: which configs make the demo, and its sizes. Paths are relative to the file."""

    data: str = "data_demo.yaml"
    sft: str = "sft_demo.yaml"
    relevance: str = "relevance_demo.yaml"
    #: The pair task whose multi-task vs single-task difference the demo shows (few training pairs).
    low_resource: str
    notes: str = NOTES


def default_config() -> Path:
    """``configs/demo.yaml``: the checkout's, or the copy an installed wheel ships (see :mod:`shoptune._bundled`)."""
    from shoptune._bundled import configs_dir

    path = configs_dir() / "demo.yaml"
    if not path.is_file():
        raise ShoptuneError(f"{path} not found: reinstall shoptune or pass --config")
    return path


class _Clock:
    """Seconds per stage, for demo.json."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.stages: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str, save: Callable[[], None]) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = round(time.perf_counter() - start, 1)
            save()  # demo.json after every stage: a slow or failed demo still shows where the time went

    def total(self) -> float:
        return round(time.perf_counter() - self.started, 1)


@python_api
def run_demo(
    out: str | Path = "runs/demo",
    *,
    config: str | Path | None = None,
    skip_training: bool = False,
    log: Log = print,
    bars: Bars | None = None,
) -> Path:
    """Run the demo into ``out``; returns the path of ``report.html`` (of the data build with ``skip_training``).

    Only a folder the demo wrote itself is replaced; every config is validated before any work starts.
    """
    from shoptune.data.build import build, load_build_config
    from shoptune.relevance.config import load_config as load_relevance_config
    from shoptune.training.config import load_sft_config

    out = validate.path_arg(out, "out")
    config = validate.optional(validate.path_arg, config, "config")
    skip_training = validate.flag(skip_training, "skip_training")
    log = validate.function(log, "log")
    bars = validate.optional(validate.function, bars, "bars")
    path = config if config is not None else default_config()
    claim_output(out, "demo")
    demo = load_config(path, DemoConfig)
    here = path.resolve().parent
    data_dir = (out / "data").resolve()
    build_cfg = load_build_config(here / demo.data)
    sft_cfg = load_sft_config(here / demo.sft, {"data.build": None, "data.path": str(data_dir)})
    rel_cfg = load_relevance_config(here / demo.relevance, {"data.path": str(data_dir), "data.build": None})
    pair_tasks = [] if rel_cfg.data.tasks == "all" else list(rel_cfg.data.tasks)
    if pair_tasks and demo.low_resource not in pair_tasks:
        raise ShoptuneError(f"{path}: low_resource: {demo.low_resource!r} is not one of {demo.relevance}'s data.tasks")
    if pair_tasks:  # build what the demo uses, nothing more
        build_cfg.tasks = sorted(set(sft_cfg.data.tasks) | set(sft_cfg.data.holdout_tasks()) | set(pair_tasks))
    open_folder(out, "demo")
    clock = _Clock()
    summary: dict[str, Any] = {"notes": demo.notes, "machine": _machine()}

    def save() -> None:
        _write_summary(out, summary, clock)

    log(f"1/4 data: building the demo tasks from {build_cfg.data_root}")
    with clock.stage("data", save):
        manifest = build(build_cfg, out / "data")
    summary["data"] = {"tasks": len(manifest.get("tasks", {}))}
    if skip_training:
        save()
        return out / "data"

    log(f"2/4 relevance: multi-task cross-encoder vs single-task on the low-resource {demo.low_resource}")
    with clock.stage("relevance", save):
        summary["relevance"] = _relevance(rel_cfg, demo.low_resource, out / "relevance", log)

    log(f"3/4 sft: LoRA on {len(sft_cfg.data.tasks)} tasks, holding out {', '.join(sft_cfg.data.holdout_tasks())}")
    with clock.stage("sft_train", save):
        summary["sft_train"] = _train_sft(sft_cfg, out / "sft", log, bars)
    with clock.stage("sft_eval", save):
        summary["sft_eval"] = _evaluate_sft(out / "sft", sft_cfg.eval, sft_cfg.optim.bf16, log, bars)

    log("4/4 report")
    with clock.stage("report", save):  # the report shows the stages before it; demo.json has its own time too
        return _report(out)


def _relevance(cfg: Any, low_resource: str, out: Path, log: Log) -> dict[str, Any]:
    """One multi-task run on every pair task, one single-task run of the low-resource task, compared."""
    from shoptune.relevance.comparisons import compare_multitask, load_run
    from shoptune.relevance.recipe import train

    remove_owned(out, "demo")  # the demo always starts fresh (only from its own, marked folder)
    open_folder(out, "demo")
    train(cfg, out / "multi")
    data = cfg.data.model_copy(update={"tasks": [low_resource]})
    train(cfg.model_copy(update={"data": data, "single_task": True}), out / "single")
    multi, single = load_run(out / "multi", name="multi-task"), load_run(out / "single", name="single-task")
    result = compare_multitask(multi, single, out / "compare")
    entry = result["tasks"][low_resource]
    f1, majority = entry["macro_f1"], entry["majority"]
    labels = {name: _label_counts(run, low_resource) for name, run in (("single", single), ("multi", multi))}
    log(
        f"{low_resource}: macro-F1 single-task {f1['a']:.3f} -> multi-task {f1['b']:.3f} "
        f"(always '{majority['answer']}': {majority['macro_f1']:.3f}); labels given: single {labels['single']}, "
        f"multi {labels['multi']}"
    )
    return {
        "low_resource": low_resource,
        "macro_f1": f1,
        "accuracy": entry["accuracy"],
        # what the effect is read against: the majority label, and which labels each model actually gave
        "majority": majority,
        "labels_predicted": labels,
        "one_label": {name: entry["mode"][side]["constant"] for name, side in (("single", "a"), ("multi", "b"))},
    }


def _label_counts(run: Any, task: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row_task, _, predicted in run.rows.values():
        if row_task == task:
            counts[predicted] = counts.get(predicted, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def _train_sft(sft_cfg: Any, run_dir: Path, log: Log, bars: Bars | None) -> dict[str, Any]:
    from shoptune.training.sft import run_sft

    remove_owned(run_dir, "sft-run")  # the demo always starts fresh (only from its own run)
    with bars() if bars else nullcontext(None) as add:
        bar: dict[str, Any] = {"advance": None, "step": 0}

        def progress(step: int, total: int, record: dict) -> None:  # called at each logged step
            if add is None:
                return
            if bar["advance"] is None:  # the step count is known once training starts
                bar["advance"] = add("training sft", total)
            bar["advance"](step - bar["step"])
            bar["step"] = step

        result = run_sft(sft_cfg, run_dir, log=log, progress=progress)
    log(f"trained {result['steps']} steps at {result['tokens_per_s']:.0f} tokens/s")
    return {k: result.get(k) for k in ("steps", "train_tokens", "tokens_per_s", "trainable_parameters")}


def _evaluate_sft(run_dir: Path, spec: Any, bf16: bool, log: Log, bars: Bars | None) -> dict[str, Any]:
    """Zero-shot vs tuned on the config's ``eval`` tasks (``trained+holdout`` or a list) and items per task."""
    from shoptune.experiments.heldout import compare_base_and_tuned

    tasks = None if spec.tasks == "trained+holdout" else list(spec.tasks)
    with bars() if bars else nullcontext(None) as add:
        report = compare_base_and_tuned(
            run_dir / "adapter",
            tasks=tasks,
            limit=spec.limit,
            batch_size=spec.batch_size,
            bf16=bf16,
            log=log,
            progress=add,
        )
    keys = ("base", "tuned", "delta", "ci95", "p_value", "tasks")
    summary: dict[str, Any] = {g: {k: e[k] for k in keys if k in e} for g, e in report["groups"].items()}
    # per task, what each score is read against: the majority answer, and how often the tuned model gives its
    # most frequent answer (one answer for 90% or more: it has learned nothing of the task, whatever its score)
    summary["tasks"] = {
        task: {
            "group": row["group"],
            "base": row["base"],
            "tuned": row["tuned"],
            "majority": row.get("majority"),
            "tuned_mode_share": (row.get("tuned_mode") or {}).get("share"),
            "tuned_one_answer": (row.get("tuned_mode") or {}).get("constant"),
        }
        for task, row in report["tasks"].items()
    }
    varied = sum(not t["tuned_one_answer"] for t in summary["tasks"].values())
    log(f"the tuned model gives more than one answer on {varied} of {len(summary['tasks'])} tasks")
    return summary


def _report(out: Path) -> Path:
    from shoptune.reports import build_report

    return build_report(out, out / "report.html")


def _write_summary(out: Path, summary: dict[str, Any], clock: _Clock) -> None:
    summary["seconds"] = {**clock.stages, "total": clock.total()}
    atomic_write_json(out / "demo.json", summary)


def _machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()}
