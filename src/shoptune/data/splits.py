"""Deterministic, grouped train/dev/test splits.

Each record carries ``metadata["groups"]``: keys (a query, a product, ...) that must never sit on two
sides of a split. A group is placed by a seeded hash of its key, so the assignment does not depend on
row order and adding rows never moves existing groups.

Example:
    >>> from shoptune.records import PairExample
    >>> recs = [PairExample(task="t", left=f"q{i}", right="p", label="exact",
    ...                     metadata={"groups": [f"q:{i}"]}) for i in range(100)]
    >>> result = pooled_split({"t": recs}, seed=1, ratios=(0.8, 0.1, 0.1))
    >>> sum(len(v) for v in result.splits["t"].values())
    100
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from shoptune.records import Record
from shoptune.tasks.spec import SPLITS


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


def cap(records: list[Record], limit: int | None, seed: int, salt: str) -> list[Record]:
    """Keep at most `limit` records, chosen by a seeded hash (stable: raising the cap only adds records)."""
    if limit is None or len(records) <= limit:
        return records
    ranked = sorted(range(len(records)), key=lambda i: hashlib.sha256(f"{seed}\x00{salt}\x00{i}".encode()).digest())
    keep = sorted(ranked[:limit])
    return [records[i] for i in keep]


@dataclass
class PooledSplit:
    """The splits of every task of one source pool, and how many records each lost to straddling keys."""

    splits: dict[str, dict[str, list[Record]]]
    dropped_for_leakage: dict[str, int]
    notes: list[str] = field(default_factory=list)


def record_keys(record: Record, task: str, index: int) -> list[str]:
    """A record's group keys; an ungrouped record gets a key of its own (it splits independently)."""
    groups = record.metadata.get("groups") or []
    return list(dict.fromkeys(groups)) if groups else [f"#{task}:row{index}"]


def bounded_components(key_sets: Sequence[Sequence[str]], seed: int, max_size: int | None) -> dict[str, str]:
    """Union-find over the keys of every record, a record's keys merged all at once; each key -> its component.

    Records are merged in an order fixed by a seeded hash of their keys (not by row order). With ``max_size``, a
    record whose merge would make a component hold more than ``max_size`` keys is not merged: dense graphs (query-
    product logs) would otherwise collapse into one component. Its keys keep their own components, and
    :func:`pooled_split` drops the record when they land in different splits.
    """
    parent: dict[str, str] = {}
    size: dict[str, int] = {}

    def find(x: str) -> str:
        if x not in parent:
            parent[x], size[x] = x, 1
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    unique = {tuple(sorted(set(keys))) for keys in key_sets}
    order = sorted(unique, key=lambda ks: (len(ks), hashlib.sha256(f"{seed}\x00{chr(31).join(ks)}".encode()).digest()))
    for keys in order:
        roots = sorted({find(k) for k in keys})
        if len(roots) < 2:
            continue
        if max_size is not None and sum(size[r] for r in roots) > max_size:
            continue
        head = roots[0]
        for r in roots[1:]:
            parent[r] = head
            size[head] += size[r]
    return {k: find(k) for k in parent}


def pooled_split(
    tasks: dict[str, Sequence[Record]],
    *,
    seed: int,
    ratios: Sequence[float],
    max_component: float | None = 0.002,
) -> PooledSplit:
    """Split the records of several tasks read from one source so that no key sits in two splits of any of them.

    Every key gets exactly one home split: the seeded bucket of its connected component over the keys of all the
    tasks' records. A record is kept in its keys' home and dropped (counted in ``dropped_for_leakage``) only when
    its keys' homes differ, which happens only where ``max_component`` (a share of all keys, at least 16 keys; None
    for no bound) stopped a component from growing. Leak-free by construction: a query, product or offer is in one
    split for every task of the pool.

    >>> from shoptune.records import PairExample
    >>> def pair(task, q, p):
    ...     return PairExample(task=task, left=q, right=p, label="exact", metadata={"groups": [f"q:{q}", f"p:{p}"]})
    >>> a = [pair("a", f"q{i}", f"p{i}") for i in range(50)]
    >>> b = [pair("b", f"q{i}", f"p{i + 1}") for i in range(50)]  # chains a's pairs into larger components
    >>> result = pooled_split({"a": a, "b": b}, seed=1, ratios=(0.8, 0.1, 0.1))
    >>> homes = {}
    >>> for task in result.splits.values():
    ...     for split, recs in task.items():
    ...         for r in recs:
    ...             for key in r.metadata["groups"]:
    ...                 assert homes.setdefault(key, split) == split
    >>> sum(len(r) for t in result.splits.values() for r in t.values()) + sum(result.dropped_for_leakage.values())
    100
    """
    keyed = {name: [record_keys(rec, name, i) for i, rec in enumerate(recs)] for name, recs in tasks.items()}
    all_keys = {k for lists in keyed.values() for keys in lists for k in keys}
    bound = None if max_component is None else max(16, math.ceil(max_component * len(all_keys)))
    comp = bounded_components([keys for lists in keyed.values() for keys in lists], seed, bound)
    home_of_comp: dict[str, str] = {}

    def home(key: str) -> str:
        rep = comp.get(key, key)
        if rep not in home_of_comp:
            home_of_comp[rep] = bucket(rep, seed, ratios)
        return home_of_comp[rep]

    out = PooledSplit({name: {s: [] for s in SPLITS} for name in tasks}, {name: 0 for name in tasks})
    for name, recs in tasks.items():
        for rec, keys in zip(recs, keyed[name], strict=True):
            homes = {home(k) for k in keys}
            if len(homes) == 1:
                out.splits[name][homes.pop()].append(rec)
            else:
                out.dropped_for_leakage[name] += 1
    sizes = Counter(comp.values())
    largest = max(sizes.values(), default=0)
    if all_keys and largest > 0.2 * len(all_keys):
        out.notes.append(f"one connected group holds {largest}/{len(all_keys)} keys: the splits are uneven")
    return out
