"""Turn `--tasks` specs (registered names, `shopbench:PATH`, `ecominstruct:DIR`) into evaluation items.

Example:
    >>> items = collect_items(["shopbench:dev.jsonl", "hd_relevance_mc"], limit=50)  # doctest: +SKIP
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path

from shoptune import validate
from shoptune.data.build import BuildConfig, RowCache, build_task
from shoptune.data.store import load_records
from shoptune.errors import ConfigError
from shoptune.evaluation.items import EvalItem, items_from_records, load_ecominstruct, load_shopbench
from shoptune.evaluation.metrics import get_metric
from shoptune.evaluation.sampling import sample_records, stratified_sample
from shoptune.records import Record
from shoptune.tasks import SPLITS, load_tasks


def default_data_root() -> Path:
    """../shared/data beside the checkout when present, else the bundled demo data."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "demo" / "data").is_dir():
            shared = parent.parent / "shared" / "data"
            return shared if shared.is_dir() else parent / "demo" / "data"
    return Path("demo/data")


def _limit(items: list[EvalItem], limit: int | None, seed: int) -> list[EvalItem]:
    """At most ``limit`` items of each task of a benchmark file: a seeded sample stratified by the gold answer of
    choice questions (:mod:`shoptune.evaluation.sampling`), in file order."""
    if limit is None:
        return items
    by_task: dict[str, list[EvalItem]] = {}
    for item in items:
        by_task.setdefault(item.task, []).append(item)
    kept = {
        id(item)
        for task, members in by_task.items()
        for item in stratified_sample(
            members, limit, seed=f"{seed}:{task}:limit", label=lambda it: str(it.target) if it.choices else None
        )
    }
    return [item for item in items if id(item) in kept]


def collect_items(
    specs: Sequence[str],
    *,
    data: Path | None = None,
    data_root: Path | None = None,
    split: str = "test",
    limit: int | None = None,
    shots: int = 0,
    seed: int = 13,
    task_dirs: Sequence[Path] = (),
    group_of: Callable[[str], str] | None = None,
) -> list[EvalItem]:
    """All items, in the order the specs were given and, within a spec, in file order; with ``limit``, a seeded
    sample of each task stratified by label and spread over its groups (the same items for every model).

    ``group_of(task)`` overrides the aggregation group (e.g. "held-in" / "held-out" for a tuned model).
    Bad options, bad rows and metrics that cannot run here all fail now, before any model is loaded.
    """
    check_options(split=split, limit=limit, shots=shots)
    registry = None
    cache = None
    items: list[EvalItem] = []
    for spec in specs:
        if spec.startswith("shopbench:"):
            items += _limit(load_shopbench(spec.split(":", 1)[1]), limit, seed)
            continue
        if spec.startswith("ecominstruct:"):
            items += _limit(load_ecominstruct(spec.split(":", 1)[1]), limit, seed)
            continue
        registry = registry or load_tasks(task_dirs)
        if spec not in registry:
            raise ConfigError(f"unknown task {spec!r}: give a registered name, shopbench:PATH or ecominstruct:DIR")
        task = registry[spec]
        if data is not None:
            records: dict[str, list[Record]] = {s: load_records(data, spec, s) for s in {split, "train"}}
        else:
            cfg = BuildConfig(data_root=str(data_root or default_data_root()), seed=seed, tasks=[spec])
            cache = cache or RowCache(cfg.on_error)
            records, _ = build_task(task, cfg, cache)
        chosen = sample_records(records[split], limit, seed=seed, task=spec)
        shot_pool = records.get("train", [])
        shot_examples = (
            random.Random(f"{seed}:{spec}:shots").sample(shot_pool, min(shots, len(shot_pool))) if shots else []
        )
        items += items_from_records(task, chosen, shots=shot_examples, group=group_of(spec) if group_of else None)
    if not items:
        raise ConfigError("nothing to evaluate: the given tasks have no examples in that split")
    for name in dict.fromkeys(name for item in items for name in item.metrics):
        get_metric(name).check()  # e.g. jp-bleu without MeCab: say so now, not after scoring every row
    return items


def check_options(*, split: str, limit: int | None, shots: int) -> None:
    """The same rules as the CLI and the Python API (``shoptune.validate``): one line naming the argument."""
    validate.optional(validate.positive_int, limit, "limit")
    validate.non_negative_int(shots, "shots")
    validate.choice(split, "split", SPLITS)
