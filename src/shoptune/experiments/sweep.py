"""Sweeps: many SFT arms from one YAML, each trained, then scored on one fixed evaluation set.

A sweep is a base SFT config plus arms, given as a list of named arms or as a grid of factors. Every arm runs
once per seed as an ordinary SFT run folder; every run is scored on the same items (the held-in tasks of all
arms and the base config's held-out tasks), so any two arms compare pairwise; the base model is scored once.

Layout::

    DIR/sweep.json                      the resolved sweep (a changed sweep is refused on --resume)
    DIR/data/                           one data build shared by every arm
    DIR/base/<model>/                   zero-shot eval of each base model (metrics.json, predictions.jsonl)
    DIR/arms/<arm>/seed-<s>/run/        the SFT run folder (checkpoints, adapter, logs)
    DIR/arms/<arm>/seed-<s>/eval/       its eval on the fixed items (cached: eval.json says what was scored)
    DIR/results.parquet, results.md     a row per arm x seed x task; aggregates per capability and group
    DIR/comparisons.{json,md}, *.png    paired contrasts between arms (sequence steps, slope, interaction)

Arm overrides are SFT config keys (``lora.r: 8``) plus a few sweep keys resolved per arm:
``capabilities: [..] | all`` (the base config's tasks of those capabilities), ``tasks: [..]``,
``budget.total: N`` (a fixed number of examples, spread evenly: ``mixture.cap = ceil(N / tasks)``) and
``budget.per_task: N`` (``mixture.cap = N``: the total grows with the tasks).

Example:
    >>> sweep = load_sweep("configs/experiments/rank_diversity.yaml")  # doctest: +SKIP
    >>> run_sweep(sweep, Path("runs/rank_diversity"))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal, NoReturn

from pydantic import Field, model_validator

from shoptune import validate
from shoptune.config import StrictModel, read_yaml, refuse_changed_config, set_dotted, validate_config
from shoptune.errors import ConfigError, DataError, ShoptuneError, python_api
from shoptune.io import (
    OutputError,
    atomic_write_json,
    claim_output,
    claim_work,
    open_folder,
    read_json,
    release_work,
    safe_component,
)
from shoptune.validate import is_number

Log = Callable[[str], None]
SWEEP_FILE = "sweep.json"
PLAN_FILE = "plan.json"
#: Claim files of the runs being trained or scored right now (one per worker process), below the sweep folder.
CLAIMS_DIR = "claims"
#: Seconds between looks at runs another worker holds.
POLL_S = 20.0
ALL = "all"
GROUP_NAME = re.compile(r"^(all|held-in|held-out|held-(in|out): .+)$")


class SweepEval(StrictModel):
    #: Items per task of the fixed evaluation set (the same items for every arm and the base model).
    limit: int = Field(30, ge=1)
    split: Literal["dev", "test"] = "test"
    batch_size: int = Field(16, ge=1)
    bf16: bool = True
    #: Extra tasks to score besides the arms' held-in tasks and the base config's held-out tasks.
    tasks: list[str] = Field(default_factory=list)
    #: Tasks to leave out of the evaluation set (say, slow generation tasks in a quick sweep).
    exclude: list[str] = Field(default_factory=list)
    #: Prompt tokens kept when scoring (the end of the prompt); None = 1024. Scoring cost grows with it: on the
    #: CPU, a 160-item set takes ~3.5 min of one thread at full length.
    max_length: int | None = Field(None, ge=16)


class ArmSpec(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
    set: dict[str, Any] = Field(default_factory=dict)


class Compare(StrictModel):
    #: Named sequences of arms (an ablation's steps): each step against the previous and the first, and the slope.
    sequences: dict[str, list[str]] = Field(default_factory=dict)
    #: Grid sweeps: the capacity factor (rows) and the diversity factor (cols) of the interaction.
    interaction: dict[Literal["rows", "cols"], str] | None = None


class Tracking(StrictModel):
    #: Log each run's params, metrics and eval files to MLflow (``pip install 'shoptune[tracking]'``).
    mlflow: bool = False
    #: Tracking URI; default: a local file store in DIR/mlruns.
    uri: str | None = None


class PrimaryContrast(StrictModel):
    """A contrast named before the sweep runs: the question the sweep is for. Primary contrasts are reported first,
    Holm-corrected among themselves; every other comparison is exploratory (Benjamini–Hochberg)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
    #: One sentence: what the contrast answers ("Does spreading a fixed budget over 4 capabilities help?").
    question: str = ""
    #: arm -> weight, e.g. {f4: 1, c1: -1}; or leave empty and set `interaction`.
    weights: dict[str, float] = Field(default_factory=dict)
    #: The grid's interaction (compare.interaction): gain of the last column over the first, last row minus first.
    interaction: bool = False
    #: The task group it is measured on: all, held-in, held-out, "held-out: NAME" or "held-in: CAPABILITY".
    group: str = "held-out"
    #: The smallest effect worth detecting (mean task-score units): the plan says whether the design can see it.
    expected_effect: float | None = Field(None, gt=0, le=1)

    @model_validator(mode="after")
    def _one_kind(self) -> PrimaryContrast:
        if bool(self.weights) == self.interaction:
            raise ValueError("give either 'weights' (arm: weight) or 'interaction: true'")
        if self.weights and abs(sum(self.weights.values())) > 1e-9:
            raise ValueError("weights must sum to 0 (a contrast compares arms; {a: 1, b: -1})")
        return self


class VarianceSpec(StrictModel):
    """What the plan's MDE assumes until a sweep measures its own (see `shoptune experiment plan --from`)."""

    #: SD over seeds of a per-seed contrast of two arms (mean task score).
    seed_sd: float = Field(0.09, ge=0)
    #: SD of one item's paired difference between two arms; the item part of the SE is item_sd / sqrt(items).
    item_sd: float = Field(0.40, gt=0)
    source: str = (
        "the older CPU sweeps (benchmarks/results/sweeps, 2 seeds, 6-8 items per task): seed SD of a contrast "
        "0.065-0.12, item SE ~0.03 at 160 items"
    )


class ThroughputSpec(StrictModel):
    """What the plan's wall time assumes until runs in the sweep folder measure it."""

    #: SFT training tokens per second (SmolLM2-135M LoRA on one thread of the 2-core CPU: 98-125, median 109, over
    #: the 40 runs of the four issue-22 reruns, two jobs at once).
    train_tokens_per_s: float = Field(109.0, gt=0)
    #: Tokens per training example after data.max_length (the cap-72 SFT run: 131; the reruns 116-135).
    tokens_per_example: float = Field(131.0, gt=0)
    #: Scored choice items per second at eval.max_length 384 (the reruns: 2.4-3.0, median 2.75; full-length
    #: prompts ran at 0.76). A sweep folder's finished runs replace these with what they measured.
    score_items_per_s: float = Field(2.75, gt=0)
    source: str = "measured on the 2-core CPU, one torch thread (the 40 runs of the issue-22 reruns)"


class PlanSpec(StrictModel):
    variance: VarianceSpec = Field(default_factory=VarianceSpec)
    throughput: ThroughputSpec = Field(default_factory=ThroughputSpec)


class SweepConfig(StrictModel):
    #: The base SFT config (path relative to this file).
    base: str
    #: An existing `shoptune data build` folder every arm uses (relative to this file); default: the base
    #: config's data.path, else its data.build built once into DIR/data.
    data: str | None = None
    #: Overrides applied to every arm (SFT keys and the sweep keys capabilities / tasks / budget.*).
    set: dict[str, Any] = Field(default_factory=dict)
    #: Every arm runs once per seed (optim.seed); two or more show the seed-to-seed spread.
    seeds: list[int] = Field(default_factory=lambda: [13, 14], min_length=1)
    eval: SweepEval = Field(default_factory=SweepEval)
    arms: list[ArmSpec] = Field(default_factory=list)
    #: factor -> levels: a list of values of one config key, or {level name: overrides}.
    grid: dict[str, list[Any] | dict[str, dict[str, Any]]] = Field(default_factory=dict)
    compare: Compare = Field(default_factory=Compare)
    #: The question(s) the sweep is for, named before it runs (reported first, Holm-corrected).
    primary: list[PrimaryContrast] = Field(default_factory=list)
    #: What `experiment plan` assumes for the MDE and the wall time.
    plan: PlanSpec = Field(default_factory=PlanSpec)
    #: Named sets of overrides of this file's keys (`--preset gpu`), e.g. the studies' own scale for a GPU.
    presets: dict[str, dict[str, Any]] = Field(default_factory=dict)
    tracking: Tracking = Field(default_factory=Tracking)

    @model_validator(mode="after")
    def _arms_or_grid(self) -> SweepConfig:
        if bool(self.arms) == bool(self.grid):
            raise ValueError("give either 'arms' (a list of named arms) or 'grid' (factors and their levels)")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds: listed more than once")
        names = [a.name for a in self.arms]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"arms: names used twice: {', '.join(twice)}")
        primaries = [p.name for p in self.primary]
        twice = sorted({n for n in primaries if primaries.count(n) > 1})
        if twice:
            raise ValueError(f"primary: names used twice: {', '.join(twice)}")
        return self


@dataclass
class Arm:
    """One arm: its name, its overrides (dotted keys, sweep keys not yet resolved) and its grid levels."""

    name: str
    overrides: dict[str, Any]
    levels: dict[str, str] = field(default_factory=dict)


# ============================================================================================ loading
def load_sweep(path: str | Path, overrides: dict[str, Any] | None = None, preset: str | None = None) -> SweepConfig:
    """Read and validate a sweep YAML; ``base`` resolves against the sweep file's folder.

    ``overrides`` are dotted keys of the sweep file itself, e.g. ``{"set.budget.total": 2400}`` or
    ``{"eval.limit": 100}`` (what ``--set`` gives on the command line). ``preset`` applies one of the file's
    ``presets`` first (the same kind of dotted keys); ``overrides`` then win over it.
    """
    from shoptune.config import resolve_path

    path = Path(path)
    if preset is not None:
        overrides = {**_preset(path, preset), **(overrides or {})}
    # `set` holds flat dotted SFT keys ("budget.total": 96): `--set set.budget.total=960` replaces that one key
    # rather than nesting {"budget": {"total": ...}} beside it.
    nested = {k: v for k, v in (overrides or {}).items() if not k.startswith("set.")}
    flat = {k[len("set.") :]: v for k, v in (overrides or {}).items() if k.startswith("set.")}
    data = set_dotted(read_yaml(path), nested)
    if flat:
        if not isinstance(data.get("set", {}), dict):
            raise ConfigError(f"{path}: key 'set': expected a mapping of SFT keys")
        data["set"] = {**data.get("set", {}), **flat}
    cfg = validate_config(SweepConfig, data, path, overrides)
    check_sweep(cfg, path, overrides)
    cfg.base = resolve_path(path.resolve().parent, cfg.base)
    if cfg.data is not None:
        cfg.data = resolve_path(path.resolve().parent, cfg.data)
    if not Path(cfg.base).is_file():
        raise ConfigError(f"{path}: key 'base': no such SFT config {cfg.base}")
    return cfg


def _preset(path: Path, name: str) -> dict[str, Any]:
    """The dotted overrides of the sweep file's preset ``name``, or one line naming the presets it has."""
    presets = read_yaml(path).get("presets") or {}
    if not isinstance(presets, dict) or name not in presets:
        known = ", ".join(sorted(presets)) if isinstance(presets, dict) and presets else "none"
        raise ConfigError(f"{path}: --preset {name!r}: no such preset (this file has: {known})")
    chosen = presets[name]
    if not isinstance(chosen, dict) or not all(isinstance(k, str) for k in chosen):
        raise ConfigError(f"{path}: key 'presets.{name}': expected a mapping of dotted sweep keys to values")
    return dict(chosen)


def check_sweep(cfg: SweepConfig, source: str | Path, overrides: dict[str, Any] | None = None) -> None:
    """Check what a sweep says beyond its types, before any work: every name that becomes a folder (arms, grid
    levels, sequences) through :func:`shoptune.io.safe_component`, the grid's levels, the sweep keys of every arm
    (``budget.*``, ``tasks``, ``capabilities``) and the comparisons. A problem is one ConfigError naming where the
    value came from (``source``, the sweep file, or the ``--set`` that set it) and the key (``grid.rank[2]``).
    """

    def fail(key: str, message: str) -> NoReturn:
        raise ConfigError(f"{_source(source, overrides, key)}: key '{key}': {message}")

    def component(name: str, what: str, key: str) -> None:
        try:
            safe_component(name, what)
        except OutputError as exc:
            fail(key, str(exc))

    _check_sweep_keys(cfg.set, "set", fail)
    for i, spec in enumerate(cfg.arms):
        component(spec.name, "arm", f"arms[{i}].name")
        _check_sweep_keys(spec.set, f"arms[{i}].set", fail)
    for factor, levels in cfg.grid.items():
        if not levels:
            fail(f"grid.{factor}", "no levels; give at least one value, or {level name: overrides}")
        if isinstance(levels, dict):
            for level, over in levels.items():
                component(str(level), "level", f"grid.{factor}")
                _check_sweep_keys(over, f"grid.{factor}.{level}", fail)
            continue
        named: dict[str, Any] = {}
        for i, value in enumerate(levels):
            key, level = f"grid.{factor}[{i}]", _level_name(value)
            component(level, "level", key)
            if level in named:
                fail(
                    key,
                    f"the levels {named[level]!r} and {value!r} both make the folder name {level!r}; "
                    "name the levels: {level name: overrides}",
                )
            named[level] = value
            if factor in SWEEP_KEYS:
                _check_sweep_key(factor, value, key, fail)
    arms: set[str] = set()
    for arm in expand_arms(cfg) if cfg.grid else []:
        component(arm.name, "arm", "grid")
        if arm.name in arms:
            fail("grid", f"two combinations of levels make the arm {arm.name!r}; rename a level")
        arms.add(arm.name)
    arms |= {a.name for a in cfg.arms}
    for name, steps in cfg.compare.sequences.items():
        component(name, "sequence", "compare.sequences")
        if not steps:
            fail(f"compare.sequences.{name}", "no arms; list the arms of the sequence in order")
        unknown = [s for s in steps if s not in arms]
        if unknown:
            fail(f"compare.sequences.{name}", f"unknown arms {', '.join(unknown)}")
    if cfg.compare.interaction:
        if len(cfg.grid) != 2:
            fail("compare.interaction", "needs a grid of exactly two factors")
        for axis in ("rows", "cols"):
            factor = cfg.compare.interaction.get(axis)
            if factor not in cfg.grid:
                fail(f"compare.interaction.{axis}", f"{factor!r} is not a grid factor")
        if cfg.compare.interaction["rows"] == cfg.compare.interaction["cols"]:
            fail("compare.interaction", "rows and cols are the same factor; give one grid factor each")
    for i, primary in enumerate(cfg.primary):
        unknown = [a for a in primary.weights if a not in arms]
        if unknown:
            fail(f"primary[{i}].weights", f"unknown arms {', '.join(unknown)}")
        if primary.interaction and not (cfg.compare.interaction or len(cfg.grid) == 2):
            fail(f"primary[{i}].interaction", "needs a grid of two factors (compare.interaction)")
        if not GROUP_NAME.match(primary.group):
            fail(
                f"primary[{i}].group",
                f"{primary.group!r}: expected all, held-in, held-out, 'held-out: NAME' or 'held-in: CAPABILITY'",
            )


def _source(source: str | Path, overrides: dict[str, Any] | None, key: str) -> str:
    """Where the value of ``key`` came from: the --set that set it (or a section above or below it), else the file."""
    dotted = re.sub(r"\[\d+\]", "", key)
    for item in overrides or {}:
        if dotted == item or dotted.startswith(f"{item}.") or item.startswith(f"{dotted}."):
            return f"--set {item}"
    return str(source)


def _check_sweep_keys(overrides: dict[str, Any], prefix: str, fail: Callable[[str, str], NoReturn]) -> None:
    for name in SWEEP_KEYS:
        if name in overrides:
            _check_sweep_key(name, overrides[name], f"{prefix}.{name}", fail)


def _check_sweep_key(name: str, value: Any, key: str, fail: Callable[[str, str], NoReturn]) -> None:
    """One sweep key's value: budgets are whole numbers of examples >= 1, tasks and capabilities lists of names."""
    if name in ("budget.total", "budget.per_task"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            fail(key, f"expected a whole number of examples, at least 1; got {value!r}")
    elif name == "tasks" and not _names(value):
        fail(key, f"expected a non-empty list of task names; got {value!r}")
    elif name == "capabilities" and value != ALL and not _names(value):
        fail(key, f"expected {ALL!r} or a non-empty list of capabilities; got {value!r}")


def _names(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) and v for v in value)


def expand_arms(cfg: SweepConfig) -> list[Arm]:
    """The arms in order: the listed ones, or the grid's cross product (first factor varies slowest)."""
    if cfg.arms:
        return [Arm(a.name, dict(a.set)) for a in cfg.arms]
    factors = []
    for factor, levels in cfg.grid.items():
        if isinstance(levels, dict):
            factors.append([(factor, str(name), dict(over)) for name, over in levels.items()])
        else:
            factors.append([(factor, _level_name(v), {factor: v}) for v in levels])
    arms = []
    for combo in itertools.product(*factors):
        overrides: dict[str, Any] = {}
        for _, _, over in combo:
            overrides.update(over)
        name = "__".join(f"{level}" for _, level, _ in combo)
        arms.append(Arm(name, overrides, {factor: level for factor, level, _ in combo}))
    return arms


def _level_name(value: Any) -> str:
    text = re.sub(r"[^A-Za-z0-9_.+-]+", "-", json.dumps(value) if not isinstance(value, str) else value)
    return text.strip("-") or "x"


# ============================================================================================ arm configs
SWEEP_KEYS = ("capabilities", "tasks", "budget.total", "budget.per_task")


def arm_config(cfg: SweepConfig, arm: Arm, seed: int, data_dir: Path) -> Any:
    """The SFT config of one arm and seed: base + sweep ``set`` + the arm's overrides, sweep keys resolved."""
    from shoptune.training.config import load_sft_config

    merged = {**cfg.set, **arm.overrides}
    plain = {k: v for k, v in merged.items() if k not in SWEEP_KEYS}
    plain.update({"optim.seed": seed, "data.path": str(data_dir), "data.build": None})
    base = load_sft_config(cfg.base)
    tasks = resolve_tasks(base, merged, arm.name)
    if tasks is not None:
        plain["data.tasks"] = tasks
    if "budget.total" in merged or "budget.per_task" in merged:
        n_tasks = len(tasks if tasks is not None else _listed_tasks(base, arm.name))
        # check_sweep made both whole numbers >= 1; a per-task budget wins over a total one
        per_task = merged.get("budget.per_task") or math.ceil(merged["budget.total"] / max(1, n_tasks))
        plain.update({"mixture.strategy": "cap", "mixture.cap": int(per_task)})
    try:
        return load_sft_config(cfg.base, plain)
    except ConfigError as exc:
        raise ConfigError(f"arm {arm.name!r}: {exc}") from None


def _listed_tasks(base: Any, arm: str) -> list[str]:
    if base.data.tasks == ALL:
        raise ConfigError(f"arm {arm!r}: the base config must list data.tasks to select tasks or set a budget")
    return list(base.data.tasks)


def resolve_tasks(base: Any, merged: dict[str, Any], arm: str) -> list[str] | None:
    """``tasks`` as given, or the base config's tasks of the arm's ``capabilities``; None when neither is set."""
    from shoptune.tasks import load_tasks

    if "tasks" in merged:
        return list(merged["tasks"])
    caps = merged.get("capabilities")
    if caps is None:
        return None
    listed = _listed_tasks(base, arm)
    if caps == ALL:
        return listed
    registry = load_tasks()
    unknown = sorted({t for t in listed if t not in registry})
    if unknown:
        raise ConfigError(f"arm {arm!r}: tasks not in the registry: {', '.join(unknown)}")
    known = {registry[t].capability for t in listed}
    missing = [c for c in caps if c not in known]
    if missing:
        raise ConfigError(f"arm {arm!r}: capabilities: no task of the base config has {', '.join(missing)}")
    chosen = [t for t in listed if registry[t].capability in caps]
    return chosen


# ============================================================================================ layout
@dataclass
class SweepLayout:
    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    def base_eval(self, model: str) -> Path:
        return self.root / "base" / safe_component(_level_name(model), "model")

    def run(self, arm: str, seed: int) -> Path:
        return self._seed(arm, seed) / "run"

    def eval(self, arm: str, seed: int) -> Path:
        return self._seed(arm, seed) / "eval"

    def _seed(self, arm: str, seed: int) -> Path:
        # Every name below the sweep folder is one component: a name never leads outside it.
        return self.root / "arms" / safe_component(arm, "arm") / safe_component(f"seed-{seed}", "seed")


#: Sweep keys that change no run's training or scoring: how it is tracked, the plan's assumptions, the presets
#: not chosen, and which contrasts the analysis leads with. A resumed sweep may differ in them.
NOT_IN_KEY = ("tracking", "plan", "presets", "primary")


def sweep_key(cfg: SweepConfig) -> dict[str, Any]:
    """What a resumed sweep must share with the first start."""
    data = _comparable(cfg.model_dump(mode="json"))
    data["base_config"] = json.loads(json.dumps(read_yaml(cfg.base)))
    return data


def _comparable(key: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in key.items() if k not in NOT_IN_KEY}


def _inputs(cfg: SweepConfig) -> list[str]:
    """What a sweep reads, which its --out may not be, hold or sit inside."""
    return [str(p) for p in (cfg.base, cfg.data) if p]


def check_start(cfg: SweepConfig, out: Path, resume: bool) -> None:
    """Whether --out can take this sweep (a new folder, or this very sweep with --resume); reads, never writes."""
    claim_output(out, "sweep", inputs=_inputs(cfg))
    saved = out / SWEEP_FILE
    if saved.is_file() and not resume:
        raise ShoptuneError(f"{out}: already holds a sweep; pass --resume to continue it or choose another --out")
    if saved.is_file():
        refuse_changed_config(out, _comparable(_saved(out)["key"]), sweep_key(cfg))  # older keys held them too


def start_sweep(cfg: SweepConfig, out: Path, resume: bool) -> SweepLayout:
    """Check --out before any work (a new folder, or this sweep with --resume), then record the sweep."""
    check_start(cfg, out, resume)
    saved = out / SWEEP_FILE
    open_folder(out, "sweep", inputs=_inputs(cfg))
    atomic_write_json(saved, {"key": sweep_key(cfg), "config": cfg.model_dump(mode="json")})
    return SweepLayout(out)


def eval_tasks(cfg: SweepConfig, arm_cfgs: dict[tuple[str, int], Any], base: Any) -> tuple[list[str], dict[str, str]]:
    """The fixed evaluation tasks (held-in of every arm, then held-out) and each task's group."""
    held_out = base.data.holdout_tasks()
    held_in: list[str] = []
    for sft in arm_cfgs.values():
        for t in sft.data.tasks if sft.data.tasks != ALL else []:
            if t not in held_in and t not in held_out:
                held_in.append(t)
    tasks = [t for t in [*held_in, *cfg.eval.tasks, *held_out] if t not in cfg.eval.exclude]
    tasks = list(dict.fromkeys(tasks))
    groups = {t: ("held-out" if t in held_out else "held-in") for t in tasks}
    return tasks, groups


def items_key(items: list[Any]) -> str:
    """A fingerprint of the evaluation items: a cached eval is reused only for exactly these items."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(json.dumps([item.task, item.prompt, item.target, item.choices], default=str).encode())
    return digest.hexdigest()[:16]


# ============================================================================================ running
@dataclass
class Plan:
    """Everything a sweep will do, resolved and checked before any training starts."""

    cfg: SweepConfig
    layout: SweepLayout
    arms: list[Arm]
    configs: dict[tuple[str, int], Any]
    data_dir: Path
    tasks: list[str]
    groups: dict[str, str]


def plan_sweep(cfg: SweepConfig, out: Path, *, resume: bool = False, log: Log = print) -> Plan:
    """Check the sweep, --out, every arm, model and task, then record the sweep and build its data once.

    Everything that can be checked is checked before the sweep folder is written, so a bad sweep leaves
    nothing behind to --resume.
    """
    from shoptune.data.build import build, load_build_config
    from shoptune.models import resolve_model
    from shoptune.training.config import load_sft_config

    claim_output(out, "sweep", inputs=_inputs(cfg))
    check_sweep(cfg, "sweep config")  # a SweepConfig made in Python, not read by load_sweep
    arms = expand_arms(cfg)
    base = load_sft_config(cfg.base)
    layout = SweepLayout(out)
    data_dir = Path(cfg.data or base.data.path or layout.data)
    configs = {(a.name, s): arm_config(cfg, a, s, data_dir) for a in arms for s in cfg.seeds}
    folders: dict[Path, str] = {}
    for model in dict.fromkeys(c.model for c in configs.values()):
        resolve_model(model)  # a model that is not installed stops the sweep here, not after hours of other arms
        folder = layout.base_eval(model)
        if folder in folders:
            raise ConfigError(f"models {folders[folder]!r} and {model!r}: both would be scored into {folder}")
        folders[folder] = model
    if cfg.data and not (data_dir / "manifest.json").is_file():
        raise ConfigError(f"data: {data_dir} is not a data build (no manifest.json)")
    tasks, groups = eval_tasks(cfg, configs, base)
    if (data_dir / "manifest.json").is_file():
        _check_tasks(data_dir, configs, tasks)
    start_sweep(cfg, out, resume)
    if not (data_dir / "manifest.json").is_file():
        atomic = any(c.data.atomic for c in configs.values())
        log(f"building the sweep's task data from {base.data.build} into {data_dir}")
        build(load_build_config(base.data.build or "", atomic=atomic or None), data_dir)
        _check_tasks(data_dir, configs, tasks)
    return Plan(cfg, layout, arms, configs, data_dir, tasks, groups)


def _check_tasks(data_dir: Path, configs: dict[tuple[str, int], Any], tasks: list[str]) -> None:
    """Every arm's tasks and every evaluation task must be in the data build."""
    from shoptune.data.build import read_manifest
    from shoptune.training.sft import atomic_tasks

    manifest = read_manifest(data_dir)
    built = manifest["tasks"]
    for (arm, _), sft in configs.items():
        wanted = [*(sft.data.tasks if sft.data.tasks != ALL else []), *sft.data.holdout_tasks()]
        missing = [t for t in wanted if t not in built]
        if missing:
            raise ConfigError(f"arm {arm!r}: tasks not in the data build {data_dir}: {', '.join(missing)}")
        if sft.data.atomic:  # before any arm trains: an atomic arm must find its atomic tasks in the build
            training = [
                t for t in (sft.data.tasks if sft.data.tasks != ALL else built) if t not in sft.data.holdout_tasks()
            ]
            try:
                atomic_tasks(manifest, training, sft.data, data_dir)
            except ConfigError as exc:
                raise ConfigError(f"arm {arm!r}: {exc}") from None
    missing = [t for t in tasks if t not in built]
    if missing:
        raise ConfigError(f"eval: tasks not in the data build {data_dir}: {', '.join(missing)}")


def run_sweep(
    cfg: SweepConfig,
    out: Path,
    *,
    resume: bool = False,
    log: Log = print,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
    design: dict[str, Any] | None = None,
    engine: str = "local",
    workers: int = 2,
    address: str | None = None,
) -> dict[str, Any]:
    """Train and score every arm x seed (skipping what is done), then write the results and comparisons.

    ``design`` (what `experiment plan` predicted: wall time, MDEs) is kept as DIR/plan.json at the first start, so
    the finished sweep can be read against its prediction. ``engine="ray"`` runs the arms x seeds on ``workers``
    Ray tasks at once (one GPU or one CPU slot each, torch on one thread: the results equal a serial run's at one
    thread), on a local Ray or the cluster at ``address``; the sweep folder must be on a filesystem every node
    sees, since each worker claims its runs there (:func:`work_shared`)."""
    from shoptune.evaluation.collect import collect_items
    from shoptune.experiments.analysis import write_analysis
    from shoptune.experiments.tracking import Tracker
    from shoptune.training.sft import run_sft

    plan = plan_sweep(cfg, out, resume=resume, log=log)
    if design is not None and not (plan.layout.root / PLAN_FILE).is_file():
        atomic_write_json(plan.layout.root / PLAN_FILE, design | {"started": time.strftime("%Y-%m-%dT%H:%M:%S")})
    items = collect_items(
        plan.tasks, data=plan.data_dir, split=cfg.eval.split, limit=cfg.eval.limit, group_of=plan.groups.get
    )
    key = items_key(items)
    tracker = Tracker(cfg.tracking, plan.layout.root)
    if engine == "ray":
        progress = None  # a progress bar lives in this process; Ray workers report through log lines

    def base(model: str) -> None:
        score_run(
            items, key, plan.layout.base_eval(model), model=model, adapter=None, cfg=cfg, log=log, progress=progress
        )

    def arm_seed(arm: Arm, seed: int) -> None:
        sft = plan.configs[(arm.name, seed)]
        run_dir, eval_dir = plan.layout.run(arm.name, seed), plan.layout.eval(arm.name, seed)
        label = f"{arm.name} seed {seed}"
        if not is_trained(run_dir):
            resuming = (run_dir / "checkpoints").is_dir()
            log(f"training {label}" + (" (resuming)" if resuming else ""))
            run_sft(sft, run_dir, resume=resuming, log=lambda m, label=label: log(f"[{label}] {m}"))
        fresh = score_run(
            items, key, eval_dir, model=sft.model, adapter=run_dir / "adapter", cfg=cfg, log=log, progress=progress
        )
        if fresh:
            tracker.log_run(arm, seed, sft, run_dir, eval_dir)

    models = dict.fromkeys(c.model for c in plan.configs.values())
    units: list[Unit] = [
        Unit(
            f"base {m}",
            f"base-{_level_name(m)}",
            partial(cached_eval, plan.layout.base_eval(m), key, m),
            partial(base, m),
        )
        for m in models
    ]
    units += [
        Unit(
            f"{a.name} seed {s}",
            f"{a.name}-seed-{s}",
            partial(_run_done, plan, key, a.name, s),
            partial(arm_seed, a, s),
        )
        for a in plan.arms
        for s in cfg.seeds
    ]
    claims = plan.layout.root / CLAIMS_DIR
    if engine == "ray":
        from shoptune.parallel import run_workers

        run_workers(partial(_ray_worker, units, claims, log), workers, address)
    work_shared(units, claims, log=log)  # after Ray: only checks that every run is done
    return write_analysis(plan, log=log)


def _ray_worker(units: list[Unit], claims: Path, log: Log, index: int) -> None:
    """One Ray worker of a sweep: claims and does runs until every one is done or held by another worker."""
    work_shared(units, claims, log=lambda m: log(f"[worker {index}] {m}"), poll_s=1.0)


@dataclass(frozen=True)
class Unit:
    """One piece of a sweep's work: its label, claim name, whether it is done, and how to do it."""

    label: str
    claim: str
    done: Callable[[], bool]
    do: Callable[[], None]


def work_shared(units: list[Unit], claims: Path, *, log: Log, poll_s: float = POLL_S) -> None:
    """Do every unit not done yet, skipping those another process holds, until all are done.

    Several ``experiment run --resume`` processes (on the cores of one machine, or machines sharing the folder) may
    work on one sweep at once: each unit is claimed first (``claim_work``), so no two train the same run. A worker
    that finds the rest held waits for them, then writes the analysis over every run."""
    waiting_said = False
    while True:
        held = []
        for unit in units:
            if unit.done():
                continue
            claim = claims / safe_component(unit.claim, "claim")
            if not claim_work(claim):
                held.append(unit.label)
                continue
            try:
                unit.do()
            finally:
                release_work(claim)
        if not held:
            return
        if not waiting_said:
            log(f"waiting for {len(held)} run(s) another worker holds: {', '.join(held)}")
            waiting_said = True
        time.sleep(poll_s)


def _run_done(plan: Plan, key: str, arm: str, seed: int) -> bool:
    eval_dir = plan.layout.eval(arm, seed)
    return is_trained(plan.layout.run(arm, seed)) and cached_eval(eval_dir, key, plan.configs[(arm, seed)].model)


def is_trained(run_dir: Path) -> bool:
    from shoptune.training.sft import RUN_FILE

    return (run_dir / "summary.json").is_file() and (run_dir / "adapter" / RUN_FILE).is_file()


def score_run(
    items: list[Any],
    key: str,
    out: Path,
    *,
    model: str,
    adapter: Path | None,
    cfg: SweepConfig,
    log: Log,
    progress: Callable[[str, int], Callable[[int], None]] | None,
) -> bool:
    """Score a model (or base + adapter) on the sweep's items into ``out``; False when a cached eval is reused."""
    from shoptune.evaluation.lm import LMScorer
    from shoptune.evaluation.runner import evaluate, write_results

    if cached_eval(out, key, model):
        return False
    name = f"{out.parent.parent.name} {out.parent.name}" if adapter is not None else f"base {model}"
    log(f"scoring {name} on {len(items)} items")
    if adapter is None:
        from shoptune.models import load_causal_lm

        lm, tokenizer = load_causal_lm(model)
    else:
        from shoptune.training.export import load_with_adapter

        lm, tokenizer = load_with_adapter(adapter)
        lm = lm.merge_and_unload()  # the same logits (tested in export), without LoRA's extra matmuls per layer
    advance = progress(name, len(items)) if progress else None
    length = {"max_length": cfg.eval.max_length} if cfg.eval.max_length else {}
    scorer = LMScorer(lm, tokenizer, batch_size=cfg.eval.batch_size, bf16=cfg.eval.bf16, **length)
    start = time.perf_counter()
    result = evaluate(items, scorer, progress=advance)
    seconds = time.perf_counter() - start
    write_results(result, out, extra={"model": model, "adapter": str(adapter) if adapter else None})
    # Written last: an eval killed half-way has no eval.json and is scored again. The scoring time is what the
    # plan of a resumed or later sweep reads as this machine's throughput.
    stamp = {"items": key, "model": model, "adapter": str(adapter) if adapter else None}
    atomic_write_json(out / "eval.json", stamp | {"scored": len(items), "seconds": round(seconds, 2)})
    return True


def _scored(eval_dir: Path) -> bool:
    return (eval_dir / "eval.json").is_file() and (eval_dir / "predictions.jsonl").is_file()


def cached_eval(out: Path, key: str, model: str | None = None) -> bool:
    """Whether ``out`` holds an eval of exactly these items (and of ``model``); a damaged stamp means no."""
    stamp = out / "eval.json"
    if not stamp.is_file() or not (out / "predictions.jsonl").is_file():
        return False
    try:
        done = read_json(stamp, expect=dict)
    except ShoptuneError:
        return False  # scored again, and the stamp written anew
    return done.get("items") == key and (model is None or done.get("model") == model)


# ============================================================================================ reading back
def _saved(out: Path) -> dict[str, Any]:
    """The sweep.json of a sweep folder: {"key", "config"}, or one line naming it."""
    saved = out / SWEEP_FILE
    if not saved.is_file():
        raise ShoptuneError(f"{out}: not a sweep folder (no {SWEEP_FILE})")
    data = read_json(saved, expect=dict)
    for name in ("key", "config"):
        if not isinstance(data.get(name), dict):
            raise DataError(saved, 0, name, "missing or not a mapping: the file is damaged")
    return data


def saved_sweep(out: Path) -> SweepConfig:
    """The sweep a sweep folder records, checked as a sweep file is (a damaged one is one line naming it)."""
    saved = out / SWEEP_FILE
    cfg = validate_config(SweepConfig, _saved(out)["config"], saved, None)
    check_sweep(cfg, saved)
    return cfg


# ============================================================================================ status
@python_api
def sweep_status(out: str | Path) -> list[dict[str, Any]]:
    """Each arm x seed of a sweep folder (``str`` or ``Path``) and where it stands: done, scoring, training (step
    N), pending."""
    out = validate.path_arg(out, "out")
    cfg = saved_sweep(out)
    layout = SweepLayout(out)
    rows = []
    for arm in expand_arms(cfg):
        for seed in cfg.seeds:
            run_dir, eval_dir = layout.run(arm.name, seed), layout.eval(arm.name, seed)
            rows.append({"arm": arm.name, "seed": seed, **_state(run_dir, eval_dir)})
    return rows


_STEP = re.compile(r"^step-(\d+)$")


def _state(run_dir: Path, eval_dir: Path) -> dict[str, Any]:
    if (eval_dir / "eval.json").is_file():
        path = eval_dir / "metrics.json"
        overall = read_json(path, expect=dict).get("overall", float("nan"))
        if not is_number(overall):
            raise DataError(path, 0, "overall", f"not a number ({overall!r}): the file is damaged")
        return {"state": "done", "detail": f"overall {overall:.4f}"}
    if is_trained(run_dir):
        path = run_dir / "summary.json"
        steps = read_json(path, expect=dict).get("steps")
        if not is_number(steps):
            raise DataError(path, 0, "steps", f"missing or not a number ({steps!r}): the file is damaged")
        return {"state": "trained", "detail": f"{steps} steps; eval pending"}
    folder = run_dir / "checkpoints"
    steps = [int(m[1]) for p in folder.iterdir() if (m := _STEP.match(p.name))] if folder.is_dir() else []
    if steps:
        return {"state": "training", "detail": f"checkpoint at step {max(steps)}"}
    if run_dir.is_dir():
        return {"state": "started", "detail": "no checkpoint yet"}
    return {"state": "pending", "detail": ""}


@python_api
def analyze_sweep(out: str | Path, *, log: Log = print) -> dict[str, Any]:
    """Results and comparisons of a sweep's finished arms (every seed scored), while the rest is still running.

    ``out`` is the sweep folder (``str`` or ``Path``). Sequences keep their finished steps (a sequence needs two); a
    grid's interaction needs every cell. The full analysis at the end of `experiment run` writes the same files
    again over all arms.
    """
    from shoptune.experiments.analysis import write_analysis

    out, log = validate.path_arg(out, "out"), validate.function(log, "log")
    cfg = saved_sweep(out)
    plan = plan_sweep(cfg, out, resume=True, log=log)
    done = [a for a in plan.arms if all(_scored(plan.layout.eval(a.name, s)) for s in cfg.seeds)]
    if not done:
        raise ShoptuneError(f"{out}: no arm has finished yet (see `shoptune experiment status {out}`)")
    names = {a.name for a in done}
    sequences = {
        name: [s for s in steps if s in names]
        for name, steps in cfg.compare.sequences.items()
        if len([s for s in steps if s in names]) >= 2
    }
    complete = len(done) == len(plan.arms)
    compare = cfg.compare.model_copy(update={"sequences": sequences})
    partial = cfg.model_copy(update={"compare": compare, **({} if complete else {"grid": None})})
    log(f"analysing {len(done)} of {len(plan.arms)} arms: {', '.join(a.name for a in done)}")
    finished = Plan(partial, plan.layout, done, plan.configs, plan.data_dir, plan.tasks, plan.groups)
    return write_analysis(finished, log=log)
