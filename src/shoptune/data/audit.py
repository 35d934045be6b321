"""`shoptune data audit`: prove that a build's splits do not leak.

For every task it counts the dev and test records that share a group key (a query, product, offer, ...) with its
own train split, and with the train split of every other task read from the same source (the same adapter and a
common file); and the dev and test records whose text is an exact or a near duplicate (MinHash, Jaccard >= 0.9 over
word 3-grams) of a train record of that source. A shared key in a split the build made (not one the source ships)
is a *leak*: ``data build`` fails on it unless ``allow_leaks`` is set. Shipped splits that overlap by the
benchmark's design (Ditto, SubjQA) are recorded under ``shipped_overlap`` instead.

Example:
    >>> from shoptune.records import PairExample
    >>> def pair(q, p):
    ...     return PairExample(task="t", left=q, right=p, label="exact", metadata={"groups": [f"q:{q}", f"p:{p}"]})
    >>> splits = {"t": {"train": [pair("drill", "p1")], "dev": [], "test": [pair("drill", "p2"), pair("saw", "p3")]}}
    >>> report = audit_splits(splits, {"t": {"adapter": "home_depot", "files": ["train.csv"], "split": "grouped"}})
    >>> report["leaks"], report["tasks"]["t"]["shared_with_own_train"]
    ({'t': 1}, {'dev': 0, 'test': 1})
"""

from __future__ import annotations

import functools
import re
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from shoptune.records import InstructionExample, PairExample, Record

T = TypeVar("T")

EVAL_SPLITS = ("dev", "test")
NEAR_THRESHOLD = 0.9
NUM_PERM = 64


def record_keys(record: Record) -> list[str]:
    """The group keys a record carries (none for an ungrouped record)."""
    return list(record.metadata.get("groups") or [])


def keys_of(records: Iterable[Record]) -> set[str]:
    return {k for rec in records for k in record_keys(rec)}


def record_text(record: Record) -> str:
    """The variable content of a record (not its instruction template), normalised for duplicate checks."""
    if isinstance(record, PairExample):
        text = f"{record.left} || {record.right}"
    elif isinstance(record, InstructionExample):
        text = record.input or record.instruction  # the options are mostly a fixed list: not content
    else:  # pragma: no cover - every record type is one of the two
        text = str(record)
    return re.sub(r"\s+", " ", text.lower()).strip()


def source_of(name: str, infos: Mapping[str, Mapping[str, Any]]) -> tuple[str, frozenset[str]]:
    info = infos[name]
    parent = info.get("derived_from")
    if parent and parent in infos:
        return source_of(parent, infos)
    return str(info.get("adapter", f"#{name}")), frozenset(info.get("files") or [f"#{name}"])


def group_by_source(entries: Iterable[tuple[T, str, Iterable[str]]]) -> list[list[T]]:
    """Source pools: entries ``(item, adapter, files)`` joined when they share the adapter and at least one file,
    transitively; each pool keeps the order given. The one rule the build splits by and the audit checks by.

    >>> group_by_source([("a", "csv", ["x"]), ("b", "csv", ["y"]), ("c", "csv", ["x", "y"]), ("d", "json", ["x"])])
    [['a', 'b', 'c'], ['d']]
    """
    pools: list[tuple[str, set[str], list[T]]] = []
    for item, adapter, files in entries:
        files = set(files)
        joined = [p for p in pools if p[0] == adapter and p[1] & files]
        merged = (adapter, files.union(*(p[1] for p in joined)), [t for p in joined for t in p[2]] + [item])
        pools = [p for p in pools if p not in joined] + [merged]
    return [p[2] for p in pools]


def pools_of(infos: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """Each task -> the tasks of its source pool (the same adapter reading at least one common file)."""
    pools = group_by_source((name, *source_of(name, infos)) for name in infos)
    return {name: sorted(pool) for pool in pools for name in pool}


def _shingles(text: str) -> list[bytes]:
    words = text.split()
    if len(words) >= 3:
        grams = [" ".join(words[i : i + 3]) for i in range(len(words) - 2)]
    else:  # short text, or a language written without spaces: character 4-grams
        grams = [text[i : i + 4] for i in range(max(1, len(text) - 3))]
    return [g.encode("utf-8") for g in grams]


def _crc(data: bytes) -> int:
    return zlib.crc32(data)


@functools.cache
def _permutations() -> tuple[Any, Any]:
    """The MinHash permutations, drawn once: datasketch would draw them anew for every text (most of its cost)."""
    from datasketch import MinHash

    reference = MinHash(num_perm=NUM_PERM, seed=1, hashfunc=_crc)
    return reference.permutations, reference.scheme


def _minhash(text: str) -> Any:
    from datasketch import MinHash

    permutations, scheme = _permutations()
    m = MinHash(num_perm=NUM_PERM, seed=1, hashfunc=_crc, permutations=permutations, scheme=scheme)
    m.update_batch(_shingles(text))
    return m


def audit_splits(
    tasks: Mapping[str, Mapping[str, Sequence[Record]]],
    infos: Mapping[str, Mapping[str, Any]],
    *,
    near_duplicates: bool = True,
) -> dict[str, Any]:
    """The audit of a build's splits (``tasks``: task -> split -> records; ``infos``: its manifest entries)."""
    pools = pools_of({name: infos[name] for name in tasks})
    train_keys = {name: keys_of(splits.get("train", [])) for name, splits in tasks.items()}
    report: dict[str, Any] = {"tasks": {}, "leaks": {}, "shipped_overlap": {}}
    texts_done: dict[tuple[str, ...], tuple[set[str], Any, dict[str, Any]]] = {}
    for name, splits in tasks.items():
        info = infos[name]
        pool = tuple(pools[name])
        shipped = set(info.get("shipped_splits", [])) if info.get("split") == "shipped" else set()
        if pool not in texts_done:
            texts_done[pool] = _train_index(pool, tasks, near_duplicates)
        exact_index, lsh, signatures = texts_done[pool]
        entry: dict[str, Any] = {
            "split": info.get("split", "grouped"),
            "source_pool": list(pool),
            "records": {s: len(splits.get(s, [])) for s in EVAL_SPLITS},
            "shared_with_own_train": {},
            "shared_with_other_train": {},
            "exact_duplicates": {},
            "near_duplicates": {},
        }
        leaks = overlap = 0
        for split in EVAL_SPLITS:
            recs = splits.get(split, [])
            own = other_any = 0
            others: dict[str, int] = defaultdict(int)
            for rec in recs:
                keys = set(record_keys(rec))
                hit_own = bool(keys & train_keys[name])
                hit_other = False
                for other in pool:
                    if other != name and keys & train_keys[other]:
                        others[other] += 1
                        hit_other = True
                own += hit_own
                other_any += hit_other
                if hit_own or hit_other:
                    if split in shipped:
                        overlap += 1
                    else:
                        leaks += 1
            exact = near = 0
            for rec in recs:
                text = record_text(rec)
                if text in exact_index:
                    exact += 1
                elif lsh is not None and _near(_minhash(text), lsh, signatures):
                    near += 1
            entry["shared_with_own_train"][split] = own
            entry["shared_with_other_train"][split] = dict(sorted(others.items()))
            entry["exact_duplicates"][split] = exact
            entry["near_duplicates"][split] = near
        entry["leaks"] = leaks
        entry["shipped_overlap"] = overlap
        report["tasks"][name] = entry
        if leaks:
            report["leaks"][name] = leaks
        if overlap:
            report["shipped_overlap"][name] = overlap
    report["near_duplicate_threshold"] = NEAR_THRESHOLD if near_duplicates else None
    return report


def _train_index(
    pool: Sequence[str], tasks: Mapping[str, Mapping[str, Sequence[Record]]], near: bool
) -> tuple[set[str], Any, dict[str, Any]]:
    texts = {record_text(rec) for t in pool for rec in tasks[t].get("train", [])}
    lsh, signatures = None, {}
    if near and texts:
        from datasketch import MinHashLSH

        lsh = MinHashLSH(threshold=NEAR_THRESHOLD, num_perm=NUM_PERM)
        with lsh.insertion_session() as session:
            for i, text in enumerate(sorted(texts)):
                signatures[str(i)] = _minhash(text)
                session.insert(str(i), signatures[str(i)])
    return texts, lsh, signatures


def _near(signature: Any, lsh: Any, signatures: Mapping[str, Any]) -> bool:
    """LSH returns candidates, some below the threshold: a near duplicate is a candidate whose estimated Jaccard
    similarity reaches it (as the generator's Deduplicator confirms its candidates)."""
    return any(signature.jaccard(signatures[key]) >= NEAR_THRESHOLD for key in lsh.query(signature))


def audit_build(directory: str | Path, *, near_duplicates: bool = True) -> dict[str, Any]:
    """Audit a folder written by ``shoptune data build`` (see the module docstring)."""
    from shoptune.data.build import read_manifest
    from shoptune.data.store import load_records
    from shoptune.tasks.spec import SPLITS

    manifest = read_manifest(directory)
    infos = {name: dict(info) for name, info in manifest["tasks"].items()}
    _mark_shipped(infos)
    tasks = {name: {s: load_records(directory, name, s) for s in SPLITS} for name in infos}
    return audit_splits(tasks, infos, near_duplicates=near_duplicates)


def _mark_shipped(infos: dict[str, dict[str, Any]]) -> None:
    """A build made before the audit has no ``split`` entry: a registered ``predefined`` task ships its splits."""
    from shoptune.tasks import load_tasks

    registry = load_tasks()
    for name, info in infos.items():
        if "split" in info or name not in registry:
            continue
        spec = registry[name]
        if spec.split.policy == "predefined":
            info["split"] = "shipped"
            info["shipped_splits"] = [s for s in ("train", "dev", "test") if (spec.source.files or {}).get(s)]


def heldout_keys(test_splits: Mapping[str, Sequence[Record]]) -> set[str]:
    """The entity keys of the held-out tasks' test records."""
    return keys_of(rec for recs in test_splits.values() for rec in recs)


def remove_keys(records: Sequence[Record], keys: set[str]) -> tuple[list[Record], int]:
    """``records`` without those that carry one of ``keys``, and how many that removed."""
    kept = [rec for rec in records if not keys.intersection(record_keys(rec))]
    return kept, len(records) - len(kept)
