"""`shoptune data build`: read the sources, derive every task's records, split them, write them atomically.

Output layout::

    OUT/manifest.json                 sources + hashes, counts per task/split/label, seed, version
    OUT/tasks/<task>/{train,dev,test}.parquet

Example:
    >>> from shoptune.data.build import BuildConfig, build
    >>> cfg = BuildConfig(data_root="demo/data", tasks=["hd_query_product"])
    >>> manifest = build(cfg, "runs/data")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from shoptune import __version__
from shoptune.config import StrictModel, deep_merge, format_validation_error, load_config, resolve_path
from shoptune.data.audit import audit_splits, group_by_source
from shoptune.data.errorlog import ErrorLog, OnError
from shoptune.data.readers import Row
from shoptune.data.sources import get_source
from shoptune.data.sources.base import ViewContext
from shoptune.data.splits import cap, pooled_split
from shoptune.data.store import split_path, write_split
from shoptune.errors import ConfigError, DataError, LeakError
from shoptune.io import atomic_write_json, claim_output, staging_dir
from shoptune.records import InstructionExample, PairExample, Record
from shoptune.tasks.atomic import AtomicTask, derive_atomic_tasks
from shoptune.tasks.registry import load_tasks
from shoptune.tasks.spec import SPLITS, TASK_NAME_PATTERN, TaskSpec

Progress = Callable[[str], None]


class BuildConfig(StrictModel):
    """A data build. Relative paths resolve against the config file's folder."""

    data_root: str = "../shared/data"
    seed: int = 13
    #: Task names to build, or "all" for every registered task whose source files exist.
    tasks: list[str] | Literal["all"] = "all"
    exclude: list[str] = Field(default_factory=list)
    #: Folders of the user's own task YAMLs.
    task_dirs: list[str] = Field(default_factory=list)
    on_error: OnError = "raise"
    #: Multiply every task's max_examples (e.g. 0.1 for a quick build); None keeps the task's caps. A finite number
    #: > 0; a cap it scales below one example is refused (naming the task) before any data is read.
    scale: float | None = Field(None, gt=0, allow_inf_nan=False)
    #: Also derive EcomGPT-style chain-of-task atomic tasks (``<parent>__<atom>``) from each built task.
    atomic: bool = False
    #: Per-task changes merged into a task's YAML for this build only, e.g. another training file or no cap:
    #: ``{tm_wdcproducts_pairs: {source: {files: {train: .../train_large.csv}}}}``. Mappings merge key by key;
    #: any other value replaces the task's. The build manifest records the files actually read.
    task_overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: Build even when the audit finds dev/test records that share a key with a train split of the same source
    #: (in a task whose splits are not shipped by its source); the leaks are recorded in the manifest.
    allow_leaks: bool = False
    #: Processes reading the sources at once (one source pool each: tasks sharing a file stay in one process, so a
    #: file is still read once). 1 reads in this process. The build is the same for any value (tested).
    num_proc: int = Field(1, ge=1)

    @field_validator("scale", mode="before")
    @classmethod
    def _scale_is_a_number(cls, value: Any) -> Any:
        # A number only: not true (YAML's yes), not text such as "0.5" or 1e-1 (YAML reads exponents without a dot
        # as text: write 1.0e-1 or 0.1), and not an integer too large for a float.
        if value is None:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            if isinstance(value, str):
                raise ValueError(
                    f"must be a number greater than 0, not the text {value!r} (write it unquoted; YAML reads 1e-1 as "
                    "text, so write 0.1 or 1.0e-1)"
                )
            raise ValueError(f"must be a number greater than 0, not {value!r}")
        if isinstance(value, int) and value.bit_length() > 1000:
            raise ValueError("must be a finite number")
        return value


def scaled_cap(spec: TaskSpec, split: str, scale: float | None) -> int | None:
    """A task's max_examples for ``split`` after ``scale`` (None: no cap); ConfigError when it scales below one.

    >>> from shoptune.tasks import load_tasks
    >>> scaled_cap(load_tasks()["hd_query_product"], "test", 0.1)
    200
    """
    limit = spec.split.max_examples.get(split)
    if limit is None or scale is None:
        return limit
    scaled = limit * scale
    if not math.isfinite(scaled) or scaled >= 2**62:
        return None  # more than any file holds: no cap
    if scaled < 1 - 1e-9:
        raise ConfigError(
            f"key 'scale': {scale:g} leaves task {spec.name!r} with max_examples.{split} {limit} x {scale:g} = "
            f"{scaled:.3g} examples (below one); use a scale of at least {1 / limit:.3g}"
        )
    return max(1, int(scaled))


def check_scale(cfg: BuildConfig, specs: list[TaskSpec]) -> None:
    """Refuse a ``scale`` that leaves a task's split cap below one example, before any data is read."""
    for spec in specs:
        for split in SPLITS:
            scaled_cap(spec, split, cfg.scale)


def load_build_config(path: str | Path, **overrides: Any) -> BuildConfig:
    """Read a YAML build config; relative paths become relative to the file's folder."""
    cfg = load_config(path, BuildConfig, {k: v for k, v in overrides.items() if v is not None})
    base = Path(path).resolve().parent
    cfg.data_root = resolve_path(base, cfg.data_root)
    cfg.task_dirs = [resolve_path(base, d) for d in cfg.task_dirs]
    if cfg.task_overrides:  # checked now, so a typo is reported with the file before anything is read
        try:
            apply_task_overrides(load_tasks(cfg.task_dirs), cfg.task_overrides)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    return cfg


def select_tasks(cfg: BuildConfig) -> list[TaskSpec]:
    registry = apply_task_overrides(load_tasks(cfg.task_dirs), cfg.task_overrides)
    if cfg.tasks == "all":
        root = Path(cfg.data_root)
        chosen = [t for t in registry.values() if all((root / p).exists() for p in t.source.all_paths())]
    else:
        unknown = [name for name in cfg.tasks if name not in registry]
        if unknown:
            raise ConfigError(f"unknown task(s): {', '.join(unknown)} (see `shoptune tasks list`)")
        chosen = [registry[name] for name in cfg.tasks]
    return [t for t in chosen if t.name not in cfg.exclude]


def apply_task_overrides(registry: dict[str, TaskSpec], overrides: dict[str, dict[str, Any]]) -> dict[str, TaskSpec]:
    """The registry with each override merged into its task's spec and validated again.

    >>> tasks = apply_task_overrides(load_tasks(), {"hd_query_product": {"split": {"max_examples": {"train": 5}}}})
    >>> tasks["hd_query_product"].split.max_examples["train"], tasks["hd_query_product"].split.max_examples["test"]
    (5, 2000)
    """
    out = dict(registry)
    for name, change in overrides.items():
        if name not in registry:
            raise ConfigError(f"task_overrides.{name}: unknown task (see `shoptune tasks list`)")
        merged = deep_merge(registry[name].model_dump(mode="json", exclude_unset=True), change)
        try:
            out[name] = TaskSpec.model_validate(merged)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(f"task_overrides.{name}", exc)) from None
        if out[name].name != name:
            raise ConfigError(f"task_overrides.{name}: an override may not rename the task")
    return out


def file_hashes(root: Path, rel_paths: list[str]) -> dict[str, str]:
    """sha256 of every file read (folders are hashed file by file)."""
    out: dict[str, str] = {}
    for rel in rel_paths:
        target = root / rel
        files = sorted(p for p in target.rglob("*") if p.is_file()) if target.is_dir() else [target]
        for f in files:
            # A file outside data_root (a --task-dir task naming an absolute path) is keyed by its full path.
            key = f.relative_to(root) if f.is_relative_to(root) else f
            out[str(key)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


class RowCache:
    """Rows per (adapter, file): several tasks read the same file once per build."""

    def __init__(self, on_error: OnError) -> None:
        self.on_error = on_error
        self._rows: dict[tuple[str, str], tuple[list[Row], ErrorLog]] = {}

    def read(self, adapter: str, path: Path) -> tuple[list[Row], ErrorLog]:
        key = (adapter, str(path))
        if key not in self._rows:
            log = ErrorLog(on_error=self.on_error)
            self._rows[key] = (get_source(adapter).read(path, log), log)
        return self._rows[key]


def read_task(spec: TaskSpec, cfg: BuildConfig, cache: RowCache) -> tuple[dict[str, list[Record]], dict[str, Any]]:
    """One task's records before splitting, and the start of its manifest entry.

    A ``predefined`` task's records come per shipped split (``train``, ``dev``, ``test``: the files the source
    ships); a grouped task's all come under ``all``.
    """
    source = get_source(spec.source.adapter)
    root = Path(cfg.data_root)
    view_log = ErrorLog(on_error=cfg.on_error)
    ctx_seed = f"{cfg.seed}:{spec.name}"
    info: dict[str, Any] = {
        "kind": spec.kind.value,
        "capability": spec.capability,
        "language": spec.language,
        "record_type": spec.record_type,
        "adapter": spec.source.adapter,
        "view": spec.source.view,
    }

    def records_of(paths: list[str], salt: str) -> tuple[list[Record], int, list[str]]:
        out: list[Record] = []
        skipped, examples = 0, []
        for rel in paths:
            rows, log = cache.read(spec.source.adapter, root / rel)
            skipped, examples = skipped + log.skipped, examples + log.examples
            ctx = ViewContext(
                task=spec.name,
                capability=spec.capability,
                language=spec.language,
                params=spec.source.params,
                rng=random.Random(f"{ctx_seed}:{salt}:{rel}"),
                log=view_log,
            )
            out.extend(source.records(rows, spec.source.view, ctx))
        return out, skipped, examples

    skipped, examples = 0, []
    raw: dict[str, list[Record]] = {}
    if spec.split.policy == "predefined":
        for name in SPLITS:
            value = (spec.source.files or {}).get(name, [])
            if not value:
                continue
            recs, s, e = records_of([value] if isinstance(value, str) else list(value), name)
            raw[name], skipped, examples = recs, skipped + s, examples + e
    else:
        raw["all"], skipped, examples = records_of([spec.source.path or ""], "all")
    info["skipped_rows"] = skipped + view_log.skipped
    if examples or view_log.examples:
        info["skipped_examples"] = (examples + view_log.examples)[:10]
    info["files"] = spec.source.all_paths()
    return raw, info


def read_tasks(
    specs: list[TaskSpec], cfg: BuildConfig, cache: RowCache, progress: Progress | None = None
) -> tuple[dict[str, dict[str, list[Record]]], dict[str, dict[str, Any]]]:
    """Every task's records before splitting (:func:`read_task`) and manifest entries, in ``specs``' order; with
    ``cfg.num_proc`` > 1 the source pools are read in that many processes at once."""
    if cfg.num_proc == 1 or len(specs) == 1:
        done = []
        for spec in specs:
            if progress:
                progress(spec.name)
            done.append((spec.name, *read_task(spec, cfg, cache)))
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        done = []
        with ProcessPoolExecutor(max_workers=cfg.num_proc) as pool:
            jobs = [pool.submit(_read_pool, group, cfg) for group in source_pools(specs)]
            for job in as_completed(jobs):
                for name, raw, info in job.result():  # a worker's error is re-raised here, whole
                    if progress:
                        progress(name)
                    done.append((name, raw, info))
    by_name = {name: (raw, info) for name, raw, info in done}
    return {s.name: by_name[s.name][0] for s in specs}, {s.name: by_name[s.name][1] for s in specs}


def _read_pool(specs: list[TaskSpec], cfg: BuildConfig) -> list[tuple[str, Any, Any]]:
    """A worker process's share: one source pool's tasks (one cache, so a shared file is read once)."""
    cache = RowCache(cfg.on_error)
    return [(spec.name, *read_task(spec, cfg, cache)) for spec in specs]


def split_pool(
    specs: list[TaskSpec], raws: dict[str, dict[str, list[Record]]], infos: dict[str, dict[str, Any]], seed: int
) -> dict[str, dict[str, list[Record]]]:
    """Split the tasks of one source pool (same adapter, shared files) together, so that no key sits in two splits
    of any of them (:func:`~shoptune.data.splits.pooled_split`). A ``predefined`` task keeps the splits its source
    ships (marked ``split: shipped``); a dev split it lacks is carved, grouped and leak-free, from its train."""
    out: dict[str, dict[str, list[Record]]] = {}
    grouped = [s for s in specs if s.split.policy != "predefined"]
    pool = sorted(s.name for s in specs)
    if grouped:
        ratios = grouped[0].split.ratios
        bound = None if all(s.split.group == "all" for s in grouped) else 0.002
        result = pooled_split(
            {s.name: raws[s.name]["all"] for s in grouped}, seed=seed, ratios=ratios, max_component=bound
        )
        for s in grouped:
            out[s.name] = result.splits[s.name]
            info = infos[s.name]
            info["split"] = "grouped"
            info["dropped_for_leakage"] = result.dropped_for_leakage[s.name]
            notes = list(result.notes)
            if s.split.ratios != ratios:
                notes.append(f"split with the ratios of {grouped[0].name} {list(ratios)}, shared by its source pool")
            if notes:
                info["notes"] = notes
    for s in specs:
        if s.split.policy != "predefined":
            continue
        raw, info = raws[s.name], infos[s.name]
        splits = {name: list(raw.get(name, [])) for name in SPLITS}
        info["split"] = "shipped"
        info["shipped_splits"] = [name for name in SPLITS if name in raw]
        info["dropped_for_leakage"] = 0
        if "dev" not in raw and splits["train"]:
            # The source ships no dev file: carve a grouped dev split out of train (never out of test).
            train_share, dev_share = s.split.ratios[0], s.split.ratios[1]
            total = train_share + dev_share
            carved = pooled_split(
                {s.name: splits["train"]},
                seed=seed,
                ratios=(train_share / total, dev_share / total, 0.0),
                max_component=None if s.split.group == "all" else 0.002,
            )
            splits["train"], splits["dev"] = carved.splits[s.name]["train"], carved.splits[s.name]["dev"]
            info["dropped_for_leakage"] = carved.dropped_for_leakage[s.name]
            info["notes"] = ["dev carved from the source's train files (grouped, no key shared with train)"]
        out[s.name] = splits
    for s in specs:
        if len(pool) > 1:
            infos[s.name]["source_pool"] = pool
    return out


def source_pools(specs: list[TaskSpec]) -> list[list[TaskSpec]]:
    """Tasks grouped by source: the same adapter reading at least one common file (in the order given)."""
    return group_by_source((spec, spec.source.adapter, spec.source.all_paths()) for spec in specs)


def finish_task(
    spec: TaskSpec, cfg: BuildConfig, splits: dict[str, list[Record]], info: dict[str, Any]
) -> dict[str, list[Record]]:
    """Apply the task's caps and count its splits and labels into ``info``."""
    for name in SPLITS:
        splits[name] = cap(splits[name], scaled_cap(spec, name, cfg.scale), cfg.seed, f"{spec.name}:{name}")
    info["counts"] = {name: len(splits[name]) for name in SPLITS}
    info["labels"] = {name: _label_counts(spec, splits[name]) for name in SPLITS}
    return splits


def build_task(spec: TaskSpec, cfg: BuildConfig, cache: RowCache) -> tuple[dict[str, list[Record]], dict[str, Any]]:
    """All records of one task built alone, split and capped, plus its manifest entry."""
    raw, info = read_task(spec, cfg, cache)
    splits = split_pool([spec], {spec.name: raw}, {spec.name: info}, cfg.seed)[spec.name]
    return finish_task(spec, cfg, splits, info), info


def _label_counts(spec: TaskSpec, records: list[Record]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for rec in records:
        if isinstance(rec, PairExample):
            counts[rec.label.value] += 1
        elif (
            isinstance(rec, InstructionExample)
            and isinstance(rec.output, str)
            and spec.kind.value in ("classification", "multiple_choice")
        ):
            counts[rec.output] += 1
    return dict(sorted(counts.items()))


def build(cfg: BuildConfig, out: str | Path, progress: Progress | None = None) -> dict[str, Any]:
    """Build every selected task into `out`, atomically: on any failure `out` is left as it was."""
    # Refuse a file or a folder of the user's own before reading a single source file.
    specs = select_tasks(cfg)
    check_scale(cfg, specs)
    out = claim_output(out, "build", inputs=source_files(cfg, specs))
    builtin = load_tasks()
    if not specs:
        raise ConfigError(f"no tasks to build: none selected, or their files are missing under {cfg.data_root}")
    cache = RowCache(cfg.on_error)
    manifest: dict[str, Any] = {
        "shoptune_version": __version__,
        "seed": cfg.seed,
        "data_root": cfg.data_root,
        "on_error": cfg.on_error,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sources": {},
        "tasks": {},
    }
    with staging_dir(out, kind="build", inputs=source_files(cfg, specs)) as tmp:
        raws, infos = read_tasks(specs, cfg, cache, progress)
        built: dict[str, dict[str, list[Record]]] = {}
        for pool in source_pools(specs):
            built.update(split_pool(pool, {t.name: raws.pop(t.name) for t in pool}, infos, cfg.seed))
        audited: dict[str, dict[str, list[Record]]] = {}
        for spec in specs:
            info = infos[spec.name]
            splits = finish_task(spec, cfg, built.pop(spec.name), info)
            if spec.name not in builtin:
                # A task from task_dirs: `train sft` and sweeps read its spec from here (the registry has none).
                info["spec"] = spec.model_dump(mode="json")
            _write_task(tmp, spec, splits)
            manifest["tasks"][spec.name] = info
            audited[spec.name] = splits
            manifest["sources"].update(file_hashes(Path(cfg.data_root), spec.source.all_paths()))
            if cfg.atomic:
                for atomic in derive_atomic_tasks(spec, splits, cfg.seed):
                    _write_task(tmp, atomic.spec, atomic.splits)
                    manifest["tasks"][atomic.spec.name] = _atomic_info(atomic)
        report = audit_splits(audited, manifest["tasks"])
        manifest["audit"] = report
        leaks = report["leaks"]
        if leaks and not cfg.allow_leaks:
            name, count = next(iter(leaks.items()))
            more = f" (and {len(leaks) - 1} more task(s))" if len(leaks) > 1 else ""
            raise LeakError(
                f"task {name}: {count} dev/test records share a query/product/offer key with a train split of "
                f"its source{more}; build with --allow-leaks (allow_leaks: true) to record them in the manifest"
            )
        manifest["allow_leaks"] = cfg.allow_leaks
        manifest["skipped_rows_total"] = sum(t["skipped_rows"] for t in manifest["tasks"].values())
        atomic_write_json(tmp / "manifest.json", manifest)
    return manifest


def source_files(cfg: BuildConfig, specs: list[TaskSpec]) -> list[Path]:
    """The raw files and folders a build reads: its output may not be, hold or sit inside one of them."""
    return [Path(cfg.data_root) / p for spec in specs for p in spec.source.all_paths()]


def _write_task(root: Path, spec: TaskSpec, splits: dict[str, list[Record]]) -> None:
    for name in SPLITS:
        path = split_path(root, spec.name, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_split(splits.get(name, []), path, spec.record_type)


def _atomic_info(atomic: AtomicTask) -> dict[str, Any]:
    """Manifest entry of a derived task; it carries its spec, since derived tasks are not in the registry."""
    splits = atomic.splits
    return {
        "kind": atomic.spec.kind.value,
        "capability": atomic.spec.capability,
        "language": atomic.spec.language,
        "record_type": "instruction",
        "derived_from": atomic.parent,
        "atom": atomic.atom,
        "counts": {name: len(splits.get(name, [])) for name in SPLITS},
        "labels": {name: _label_counts(atomic.spec, splits.get(name, [])) for name in SPLITS},
        "skipped_rows": 0,
        "dropped_for_leakage": 0,
        "spec": atomic.spec.model_dump(mode="json"),
    }


def task_specs(manifest: dict[str, Any], registry: dict[str, TaskSpec]) -> dict[str, TaskSpec]:
    """Specs of every task in a build: registered ones from the registry, derived ones from the manifest."""
    specs = {}
    for name, info in manifest["tasks"].items():
        if "spec" in info:
            specs[name] = TaskSpec.model_validate(info["spec"])
        elif name in registry:
            specs[name] = registry[name]
    return specs


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """A data build's manifest, or one line naming the file when it is missing or damaged."""
    path = Path(directory) / "manifest.json"
    if not path.is_file():
        raise DataError(path, 0, "-", "no manifest.json: not a shoptune data build folder")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(path, 0, "-", f"not valid JSON ({exc}); rebuild with `shoptune data build`") from None
    return check_manifest(manifest, path)


def check_manifest(manifest: Any, path: str | Path) -> dict[str, Any]:
    """``manifest`` (read from ``path``) if it is a build's manifest: a ``tasks`` mapping whose keys are task names
    (each a folder ``tasks/NAME/`` of the build) and whose entries are mappings, a derived or user task's ``spec``
    a valid task of that name. Else a DataError naming the file and the task.

    >>> check_manifest({"tasks": {"al.pha": {}}}, "runs/data/manifest.json")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shoptune.errors.DataError: runs/data/manifest.json: file, field 'tasks': 'al.pha' is not a task name ...
    """
    if not isinstance(manifest, dict) or not isinstance(manifest.get("tasks"), dict):
        raise DataError(path, 0, "tasks", "missing or not a mapping; rebuild with `shoptune data build`")
    for name, info in manifest["tasks"].items():
        if not isinstance(name, str) or not re.fullmatch(TASK_NAME_PATTERN, name):
            raise DataError(path, 0, "tasks", f"{name!r} is not a task name (lower-case letters, digits, '_', '-')")
        if not isinstance(info, dict):
            raise DataError(path, 0, f"tasks.{name}", "not a mapping; rebuild with `shoptune data build`")
        if "spec" in info:
            try:
                spec = TaskSpec.model_validate(info["spec"])
            except ValidationError as exc:
                raise DataError(path, 0, f"tasks.{name}.spec", format_validation_error("spec", exc)) from None
            if spec.name != name:
                raise DataError(path, 0, f"tasks.{name}.spec", f"names another task ({spec.name!r})")
    return manifest
