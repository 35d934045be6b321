"""Deterministic, grouped train/dev/test splits.

Each record carries ``metadata["groups"]``: keys (a query, a product, ...) that must never sit on two
sides of a split. A group is placed by a seeded hash of its key, so the assignment does not depend on
row order and adding rows never moves existing groups.

Example:
    >>> from shoptune.records import PairExample
    >>> recs = [PairExample(task="t", left=f"q{i}", right="p", label="exact",
    ...                     metadata={"groups": [f"q:{i}"]}) for i in range(100)]
    >>> result = grouped_split(recs, seed=1, ratios=(0.8, 0.1, 0.1), group="first")
    >>> sum(len(v) for v in result.splits.values())
    100
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from shoptune.records import Record
from shoptune.tasks.spec import SPLITS


@dataclass
class SplitResult:
    splits: dict[str, list[Record]]
    #: Records dropped because one of their keys lives mainly in another split (policy `purge`).
    dropped_for_leakage: int = 0
    notes: list[str] = field(default_factory=list)


def bucket(key: str, seed: int, ratios: Sequence[float]) -> str:
    """The split a key belongs to: a seeded hash mapped to [0, 1) and cut at the cumulative ratios."""
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    edge = 0.0
    for name, ratio in zip(SPLITS, ratios, strict=True):
        edge += ratio
        if u < edge:
            return name
    return SPLITS[-1]


def _groups(record: Record, index: int) -> list[str]:
    groups = record.metadata.get("groups") or []
    return list(groups) if groups else [f"#row{index}"]  # ungrouped records split independently


def _components(records: Sequence[Record]) -> list[str]:
    """Union-find over all keys; returns each record's component representative (its smallest key)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, rec in enumerate(records):
        keys = _groups(rec, i)
        for other in keys[1:]:
            a, b = find(keys[0]), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return [find(_groups(rec, i)[0]) for i, rec in enumerate(records)]


def grouped_split(
    records: Sequence[Record],
    *,
    seed: int,
    ratios: Sequence[float],
    group: Literal["purge", "first", "all"] = "purge",
) -> SplitResult:
    """Split records so that no group key appears in two splits (see :class:`SplitSpec`)."""
    result = SplitResult({name: [] for name in SPLITS})
    if group == "all":
        reps = _components(records)
        for rec, rep in zip(records, reps, strict=True):
            result.splits[bucket(rep, seed, ratios)].append(rec)
        largest = max(Counter(reps).values(), default=0)
        if records and largest > 0.5 * len(records):
            result.notes.append(f"one connected group holds {largest}/{len(records)} records; consider group: purge")
        return result

    assigned = [bucket(_groups(rec, i)[0], seed, ratios) for i, rec in enumerate(records)]
    if group == "purge":
        # A secondary key (e.g. a product shown under queries of several splits) belongs to the split
        # where most of its records fell; records of that key elsewhere are dropped, not moved, so the
        # primary grouping stays intact.
        votes: dict[str, Counter[str]] = defaultdict(Counter)
        for i, rec in enumerate(records):
            for key in _groups(rec, i)[1:]:
                votes[key][assigned[i]] += 1
        home = {key: max(sorted(c), key=lambda s: (c[s], -SPLITS.index(s))) for key, c in votes.items()}
        for i, rec in enumerate(records):
            if all(home[key] == assigned[i] for key in _groups(rec, i)[1:]):
                result.splits[assigned[i]].append(rec)
            else:
                result.dropped_for_leakage += 1
        return result

    for rec, split in zip(records, assigned, strict=True):
        result.splits[split].append(rec)
    return result


def cap(records: list[Record], limit: int | None, seed: int, salt: str) -> list[Record]:
    """Keep at most `limit` records, chosen by a seeded hash (stable: raising the cap only adds records)."""
    if limit is None or len(records) <= limit:
        return records
    ranked = sorted(range(len(records)), key=lambda i: hashlib.sha256(f"{seed}\x00{salt}\x00{i}".encode()).digest())
    keep = sorted(ranked[:limit])
    return [records[i] for i in keep]
