"""Seed records for generation: a task's split (from a data build, or built now from the raw files) or any source
adapter's view, filtered by a Jinja expression and sampled with the run's seed.

Each seed is a plain dict: the record's fields (``instruction``, ``input``, ``options``, ``output`` or ``left``,
``right``, ``label``, and ``metadata``) plus ``id``, a content hash that every generated example records.

Example:
    >>> from shoptune.records import PairExample
    >>> seed = seed_dict(PairExample(task="t", left="drill", right="DEWALT drill", label="exact"))
    >>> seed["label"], len(seed["id"])
    ('exact', 16)
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import jinja2

from shoptune.data.errorlog import ErrorLog
from shoptune.data.generate.config import JINJA, GenerateConfig
from shoptune.errors import ConfigError
from shoptune.records import Record
from shoptune.tasks.spec import SPLITS


def seed_dict(record: Record) -> dict[str, Any]:
    """The record as the dict templates see, with its ``id``: sha256 of its content, 16 hex digits."""
    data = record.model_dump(mode="json")
    data["id"] = hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
    return data


def load_seeds(cfg: GenerateConfig) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The seed records (filtered, sampled, in a seeded order) and a description of where they came from."""
    seeds_cfg = cfg.seeds
    splits = list(SPLITS) if seeds_cfg.split == "all" else [seeds_cfg.split]
    if seeds_cfg.task is not None:
        records, origin = _task_records(cfg, splits)
    else:
        records, origin = _source_records(cfg, splits)
    seeds = [seed_dict(r) for r in records]
    read = len(seeds)
    if seeds_cfg.where is not None:
        test = JINJA.compile_expression(seeds_cfg.where, undefined_to_none=False)
        try:
            seeds = [s for s in seeds if test(seed=s)]
        except jinja2.UndefinedError as exc:
            fields = ", ".join(sorted(seeds[0]))
            raise ConfigError(
                seeds_cfg.template_message("seeds.where", f"{exc.message} (seed fields: {fields})")
            ) from None
        except JINJA.render_errors as exc:
            raise ConfigError(seeds_cfg.template_message("seeds.where", exc, "expression")) from None
    # Several identical records (a product listed twice) are one seed.
    seeds = list({s["id"]: s for s in seeds}.values())
    rng = random.Random(f"{cfg.seed}:seeds")
    rng.shuffle(seeds)
    if seeds_cfg.limit is not None:
        seeds = seeds[: seeds_cfg.limit]
    if not seeds:
        where = f" matching seeds.where {seeds_cfg.where!r}" if seeds_cfg.where else ""
        raise ConfigError(f"seeds: no seed records{where} in {origin['from']}")
    if seeds_cfg.others and len(seeds) <= seeds_cfg.others:
        raise ConfigError(f"seeds.others: {seeds_cfg.others} other seeds per prompt, but only {len(seeds)} seeds")
    origin.update(read=read, used=len(seeds), where=seeds_cfg.where, split=seeds_cfg.split)
    return seeds, origin


def _task_records(cfg: GenerateConfig, splits: list[str]) -> tuple[list[Record], dict[str, Any]]:
    from shoptune.data.build import BuildConfig, RowCache, build_task, read_manifest
    from shoptune.data.store import load_records
    from shoptune.tasks.registry import load_tasks

    seeds_cfg = cfg.seeds
    name = seeds_cfg.task or ""
    if seeds_cfg.data is not None:
        manifest = read_manifest(seeds_cfg.data)
        if name not in manifest["tasks"]:
            raise ConfigError(f"seeds.task: {name!r} is not in the data build {seeds_cfg.data}")
        records = [r for split in splits for r in load_records(seeds_cfg.data, name, split)]
        return records, {"from": f"task {name} of the data build {seeds_cfg.data}", "task": name}
    registry = load_tasks(seeds_cfg.task_dirs)
    if name not in registry:
        raise ConfigError(f"seeds.task: unknown task {name!r} (see `shoptune tasks list`)")
    spec = registry[name]
    missing = [p for p in spec.source.all_paths() if not (Path(seeds_cfg.data_root) / p).exists()]
    if missing:
        raise ConfigError(f"seeds.task: {name}'s source file {missing[0]} is not under data_root {seeds_cfg.data_root}")
    build_cfg = BuildConfig(data_root=seeds_cfg.data_root, seed=cfg.seed, tasks=[name])
    built, _ = build_task(spec, build_cfg, RowCache(build_cfg.on_error))
    records = [r for split in splits for r in built[split]]
    return records, {"from": f"task {name} built from {seeds_cfg.data_root}", "task": name}


def _source_records(cfg: GenerateConfig, splits: list[str]) -> tuple[list[Record], dict[str, Any]]:
    from shoptune.data.sources import get_source
    from shoptune.data.sources.base import ViewContext

    source = cfg.seeds.source
    assert source is not None
    try:
        adapter = get_source(source.adapter)
    except KeyError as exc:
        raise ConfigError(f"seeds.source.adapter: {exc.args[0]}") from None
    if source.view not in adapter.views:
        raise ConfigError(
            f"seeds.source.view: source '{source.adapter}' has no view {source.view!r} "
            f"(views: {', '.join(sorted(adapter.views))})"
        )
    if source.path is not None:
        paths = [source.path]
    else:
        files = source.files or {}
        paths = [p for s in splits for v in [files.get(s, [])] for p in ([v] if isinstance(v, str) else v)]
    root = Path(cfg.seeds.data_root)
    records: list[Record] = []
    for rel in paths:
        rows = adapter.read(root / rel, ErrorLog())
        ctx = ViewContext(
            task=f"seeds:{source.adapter}",
            capability=cfg.task.capability or "seeds",
            language=cfg.task.language or "en",
            params=source.params,
            rng=random.Random(f"{cfg.seed}:{rel}"),
        )
        records.extend(adapter.records(rows, source.view, ctx))
    where = ", ".join(str(root / p) for p in paths)
    return records, {"from": f"source {source.adapter} view {source.view} over {where}", "source": source.adapter}
