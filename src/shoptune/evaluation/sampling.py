"""Representative evaluation samples: ``--limit N`` is a seeded sample of a task's split, stratified by label and
spread over the split's groups, never the first N rows of a file (which cluster by source order: the first 50
``hd_query_product`` test items were 70% ``exact`` against 47% in the whole split).

The sample depends only on the records, the task name, ``limit`` and ``seed``, so every model compared on a task
scores the same items. They keep their file order.

Example:
    >>> from shoptune.records import PairExample
    >>> recs = [PairExample(task="t", left=f"q{i}", right="p", label="exact" if i < 70 else "irrelevant",
    ...                     metadata={"groups": [f"q:{i // 5}"]}) for i in range(100)]
    >>> picked = sample_records(recs, 10, seed=13, task="t")
    >>> sorted(r.label.value for r in picked)
    ['exact', 'exact', 'exact', 'exact', 'exact', 'exact', 'exact', 'irrelevant', 'irrelevant', 'irrelevant']
    >>> len({r.metadata["groups"][0] for r in picked})  # ten items from ten different queries
    10
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

from shoptune.records import InstructionExample, PairExample, Record

T = TypeVar("T")


def label_of(record: Record) -> str | None:
    """The label a sample is stratified by: a pair's grade, a choice question's answer; None for the rest."""
    if isinstance(record, PairExample):
        return record.label.value
    if isinstance(record, InstructionExample) and record.options and isinstance(record.output, str):
        return record.output
    return None


def cluster_of(record: Record) -> str | None:
    """The group a record belongs to (its first split key: a query, a product), for spreading and the bootstrap."""
    groups = record.metadata.get("groups") or []
    return str(groups[0]) if groups else None


def sample_records(records: Sequence[Record], limit: int | None, *, seed: int, task: str) -> list[Record]:
    """At most ``limit`` records: all of them when there are that few, else a stratified, group-spread sample."""
    return stratified_sample(records, limit, seed=f"{seed}:{task}:limit", label=label_of, cluster=cluster_of)


def stratified_sample(
    items: Sequence[T],
    limit: int | None,
    *,
    seed: Hashable,
    label: Callable[[T], Any],
    cluster: Callable[[T], Any] = lambda _: None,
) -> list[T]:
    """``limit`` items of ``items``, in their order: each label gets its share by largest remainder, and within a
    label the items are drawn one group at a time, so a sample covers as many groups as it can."""
    if limit is None or len(items) <= limit:
        return list(items)
    rng = random.Random(str(seed))
    strata: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(items):
        strata[str(label(item))].append(index)
    chosen: list[int] = []
    for name, quota in _quotas({k: len(v) for k, v in strata.items()}, limit).items():
        chosen += _spread(strata[name], quota, rng, lambda i: cluster(items[i]))
    return [items[i] for i in sorted(chosen)]


def _quotas(sizes: dict[str, int], limit: int) -> dict[str, int]:
    """Proportional shares of ``limit`` (largest remainder; ties by label name)."""
    total = sum(sizes.values())
    exact = {name: limit * n / total for name, n in sizes.items()}
    quotas = {name: int(share) for name, share in exact.items()}
    left = limit - sum(quotas.values())
    for name in sorted(exact, key=lambda k: (quotas[k] - exact[k], k))[:left]:
        quotas[name] += 1
    return quotas


def _spread(indices: list[int], quota: int, rng: random.Random, cluster: Callable[[int], Any]) -> list[int]:
    """``quota`` of ``indices``, taking one from each group (in a seeded order) before a second from any."""
    by_group: dict[str, list[int]] = defaultdict(list)
    for index in indices:
        key = cluster(index)
        by_group[f"#{index}" if key is None else str(key)].append(index)
    groups = sorted(by_group)
    rng.shuffle(groups)
    for name in groups:
        rng.shuffle(by_group[name])
    picked: list[int] = []
    depth = 0
    while len(picked) < quota:
        for name in groups:
            if depth < len(by_group[name]):
                picked.append(by_group[name][depth])
                if len(picked) == quota:
                    break
        depth += 1
    return picked
