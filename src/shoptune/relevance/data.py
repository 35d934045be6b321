"""Pairs for the relevance models: built task splits, raw source files, and plain pair files.

Example:
    >>> tasks = pair_tasks("runs/data")  # doctest: +SKIP
    >>> pairs = load_split("runs/data", "hd_query_product", "test")  # doctest: +SKIP
    >>> pairs[0].task, pairs[0].label  # doctest: +SKIP
    ('hd_query_product', 'exact')
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shoptune.data.errorlog import ErrorLog
from shoptune.errors import ConfigError, DataError, ShoptuneError
from shoptune.records import LABELS, PairExample


@dataclass(frozen=True)
class Pair:
    """One pair to score; ``label`` is None when unknown (predict), ``id`` is stable within its file/split."""

    id: str
    task: str
    left: str
    right: str
    label: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


# --------------------------------------------------------------------------------------------- built data
def read_build_manifest(root: str | Path) -> dict[str, Any]:
    """The ``manifest.json`` of a built data folder (``{"tasks": {}}`` when there is none).

    A manifest that is not UTF-8 JSON, or lacks the ``tasks`` object, is a DataError naming the file.
    """
    from shoptune.data.readers import read_json

    path = Path(root) / "manifest.json"
    if not path.is_file():
        return {"tasks": {}}
    try:
        manifest = read_json(path)
    except DataError as error:
        raise DataError(
            path, error.row, error.field, f"{error.message}; rebuild it with `shoptune data build`"
        ) from None
    if not isinstance(manifest, dict):
        raise DataError(path, 0, "-", f"expected a JSON object, got {type(manifest).__name__}")
    tasks = manifest.get("tasks")
    if not isinstance(tasks, dict) or not all(isinstance(info, dict) for info in tasks.values()):
        what = "missing key" if tasks is None else "expected an object of task name -> task info"
        raise DataError(path, 0, "tasks", f"{what}; rebuild it with `shoptune data build`")
    from shoptune.data.build import check_manifest  # task names become module keys and folders: the one check

    return check_manifest(manifest, path)


def pair_tasks(root: str | Path) -> list[str]:
    """Pair tasks present in a built data folder (from its manifest, else from its folders), sorted."""
    root = Path(root)
    manifest = read_build_manifest(root)
    if manifest["tasks"]:
        return sorted(t for t, info in manifest["tasks"].items() if info.get("record_type") == "pair")
    folder = root / "tasks"
    if not folder.is_dir():
        raise ShoptuneError(f"{root}: not a built data folder (no tasks/; run `shoptune data build`)")
    return sorted(p.name for p in folder.iterdir() if (p / "train.parquet").is_file() and _is_pair_split(p))


def _is_pair_split(task_dir: Path) -> bool:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from shoptune.data.store import parquet_error

    path = task_dir / "train.parquet"
    try:
        return "left" in pq.read_schema(str(path)).names
    except (pa.ArrowException, OSError) as exc:
        raise parquet_error(path, exc) from None


def select_tasks(root: str | Path, wanted: Sequence[str] | str, exclude: Sequence[str] = ()) -> list[str]:
    """The configured tasks (``"all"`` = every pair task of the build), checked against the build."""
    present = pair_tasks(root)
    if wanted == "all":
        chosen = present
    else:
        missing = [t for t in wanted if t not in present]
        if missing:
            raise ConfigError(f"task(s) not in the pair tasks of {root}: {', '.join(missing)} (present: {present})")
        chosen = list(wanted)
    chosen = [t for t in chosen if t not in set(exclude)]
    if not chosen:
        raise ConfigError(f"no pair tasks selected from {root}")
    return chosen


def task_sources(root: str | Path, tasks: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Adapter, view and view params of each task (manifest first, the task registry for params)."""
    from shoptune.tasks import load_tasks

    manifest = read_build_manifest(root)["tasks"]
    try:
        registry = load_tasks()
    except ShoptuneError:
        registry = {}
    out: dict[str, dict[str, Any]] = {}
    for task in tasks:
        info = manifest.get(task, {})
        spec = registry.get(task)
        adapter = info.get("adapter") or (spec.source.adapter if spec else None)
        view = info.get("view") or (spec.source.view if spec else None)
        if adapter is None:
            continue
        params = spec.source.params if spec and spec.source.adapter == adapter else {}
        out[task] = {"adapter": adapter, "view": view, "params": dict(params)}
    return out


def load_split(root: str | Path, task: str, split: str, limit: int | None = None, seed: int = 0) -> list[Pair]:
    """One built split as pairs; ``limit`` keeps a seeded subsample (in file order) so caps are reproducible."""
    from shoptune.data.store import load_dataset_split, split_path

    try:
        rows = load_dataset_split(root, task, split)
    except FileNotFoundError as exc:
        raise ShoptuneError(str(exc)) from None
    missing = [c for c in ("left", "right", "label") if c not in rows.column_names]
    if missing:
        raise DataError(split_path(root, task, split), 0, missing[0], "missing column: not a pair task's split")
    index = list(range(len(rows)))
    if limit is not None and len(index) > limit:
        index = sorted(random.Random(f"{seed}:{task}:{split}").sample(index, limit))
    lefts, rights, labels = rows["left"], rows["right"], rows["label"]
    metadata = rows["metadata"] if "metadata" in rows.column_names else [None] * len(rows)
    return [
        Pair(f"{task}:{split}:{i}", task, lefts[i], rights[i], labels[i], _eval_meta(_json_object(metadata[i])))
        for i in index
    ]


def _json_object(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}  # metadata is informational; a damaged cell only loses the ranking keys
    return value if isinstance(value, dict) else {}


def _eval_meta(metadata: dict[str, Any]) -> dict[str, Any]:
    """What evaluation uses of a record's metadata: the query group (ranking per query) and a raw rating.

    >>> _eval_meta({"groups": ["q:deck paint", "p:100002"], "rating": 2.0, "source_row": 3})
    {'query': 'q:deck paint', 'rating': 2.0}
    """
    out: dict[str, Any] = {}
    groups = metadata.get("groups")
    if isinstance(groups, list):
        query = next((g for g in groups if isinstance(g, str) and g.startswith("q:")), None)
        if query is not None:
            out["query"] = query
    rating = metadata.get("rating")
    if isinstance(rating, int | float) and not isinstance(rating, bool):
        out["rating"] = float(rating)
    return out


# --------------------------------------------------------------------------------------------- raw sources
def read_source_pairs(
    source: str,
    path: str | Path,
    task: str,
    *,
    view: str | None = None,
    params: dict[str, Any] | None = None,
    on_error: str = "raise",
    seed: int = 13,
    log: ErrorLog | None = None,
) -> list[Pair]:
    """Read a raw file with a source adapter, unchanged, and derive pairs with its (default) pair view.

    Pass ``log`` to learn which rows ``on_error="skip"`` skipped (``log.skipped``, ``log.examples``).

    Example:
        >>> pairs = read_source_pairs("home_depot", "train.csv", "hd_query_product")  # doctest: +SKIP
    """
    from shoptune.data.sources import get_source
    from shoptune.data.sources.base import ViewContext

    try:
        adapter = get_source(source)
    except KeyError as exc:
        raise ShoptuneError(exc.args[0]) from None
    view_name = view or adapter.default_view
    info = adapter.views.get(view_name)
    if info is None:
        raise ShoptuneError(f"source {source!r} has no view {view_name!r} (views: {', '.join(sorted(adapter.views))})")
    if info.record_type != "pair":
        pair_views = sorted(v for v, i in adapter.views.items() if i.record_type == "pair")
        raise ShoptuneError(f"view {source}:{view_name} yields {info.record_type} records; pair views: {pair_views}")
    if log is None:
        log = ErrorLog(on_error="skip" if on_error == "skip" else "raise")
    rows = adapter.read(Path(path), log)
    ctx = ViewContext(
        task=task,
        capability="relevance",
        language="en",
        params=dict(params or {}),
        rng=random.Random(f"{seed}:{task}:{path}"),
        log=log,
    )
    pairs = []
    for i, record in enumerate(adapter.records(rows, view_name, ctx)):
        if isinstance(record, PairExample):
            pairs.append(
                Pair(
                    f"{Path(path).name}:{i}",
                    task,
                    record.left,
                    record.right,
                    record.label.value,
                    {"source_row": record.metadata.get("source_row"), **_eval_meta(record.metadata)},
                )
            )
    if not pairs:
        raise ShoptuneError(f"{path}: no pairs derived with {source}:{view_name}")
    return pairs


# --------------------------------------------------------------------------------------------- pair files
#: Pair-file formats ``iter_pair_file`` reads (by the file name's last one or two suffixes).
PAIR_FORMATS = (".jsonl", ".json", ".jsonl.gz", ".json.gz", ".csv", ".csv.gz", ".parquet")


#: The longest line (JSONL / CSV record; for Parquet the characters of a row's texts) ``iter_pair_file`` reads by
#: default: 1 MiB, some thousand times a long product description. A longer one is a DataError naming the file and
#: the row, found after reading at most this much of it (a pair model keeps a few hundred tokens of a text anyway).
MAX_LINE_BYTES = 1 << 20
#: Where a user raises the limit (``shoptune relevance predict --max-line-bytes``).
MAX_LINE_OPTION = "--max-line-bytes"


def iter_pair_file(
    path: str | Path, default_task: str | None = None, *, max_line_bytes: int | None = MAX_LINE_BYTES
) -> Iterator[Pair]:
    """Stream pairs from a .jsonl / .csv (gzip optional) or .parquet file: left, right[, task][, label][, id].

    Every bad input stops with one line naming the file and row: bytes that are not UTF-8 (saying what the file
    looks like: UTF-16, gzip under a plain name, ...), a damaged gzip or Parquet file, invalid JSON, a
    missing field, an unknown label, a line (a CSV record, a Parquet row's texts) longer than ``max_line_bytes``
    (None: no limit). Errors that only surface while streaming are converted the same way.
    """
    path = Path(path)
    if not path.is_file():
        raise ShoptuneError(f"{path}: input file not found")
    suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
    rows = _rows(path, suffix.lower(), max_line_bytes)
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise DataError(
                path, number, "-", f"expected a JSON object with 'left' and 'right', got {type(row).__name__}"
            )
        left, right = row.get("left"), row.get("right")
        if not isinstance(left, str) or not isinstance(right, str) or not left.strip() or not right.strip():
            raise ShoptuneError(f"{path}: row {number}: needs non-empty text fields 'left' and 'right'")
        if max_line_bytes is not None and len(left) + len(right) > max_line_bytes:  # Parquet: no line to measure
            field = "left" if len(left) >= len(right) else "right"
            raise _too_long(path, number, max_line_bytes, field, f"texts of {len(left) + len(right):,} characters")
        task = row.get("task") or default_task
        if not task:
            raise ShoptuneError(f"{path}: row {number}: no 'task' column and no --task given")
        label = row.get("label") or None
        if label is not None and label not in LABELS:
            raise ShoptuneError(f"{path}: row {number}, field 'label': {label!r} is not one of {list(LABELS)}")
        yield Pair(str(row.get("id") or number), str(task), left, right, label)


def _too_long(path: Path, row: int, limit: int, field: str = "-", what: str = "line") -> DataError:
    return DataError(
        path,
        row,
        field,
        f"{what} over the limit of {limit:,} bytes a row (raise it with {MAX_LINE_OPTION})",
    )


def _rows(path: Path, suffix: str, max_line_bytes: int | None = None) -> Iterator[Any]:
    from shoptune.data.readers import LineTooLong, gzip_damage, stream_lines

    if suffix in (".jsonl", ".json", ".jsonl.gz", ".json.gz"):
        try:
            for number, line in stream_lines(path, max_line_bytes=max_line_bytes):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        damage = gzip_damage(path, number)  # garbage from a damaged gzip body, not a bad line?
                        raise damage or DataError(
                            path, number, "-", f"invalid JSON ({exc.msg} at column {exc.colno})"
                        ) from None
                    except RecursionError:
                        raise DataError(path, number, "-", "invalid JSON (nested too deeply)") from None
        except LineTooLong as exc:
            raise _too_long(path, exc.row, exc.limit) from None
    elif suffix in (".csv", ".csv.gz"):
        import csv

        # A quoted field may span lines: a record is measured over all its lines (in characters, at most its bytes),
        # each line read with a bounded readline. Row 0 is the header.
        row, size = 0, 0

        def lines() -> Iterator[str]:
            nonlocal size
            try:
                for _, line in stream_lines(path, max_line_bytes=max_line_bytes):
                    size += len(line)
                    if max_line_bytes is not None and size > max_line_bytes + 2:  # + its newline
                        raise _too_long(path, row, max_line_bytes, what="record")
                    yield line
            except LineTooLong as exc:
                raise _too_long(path, row, exc.limit) from None

        reader = csv.DictReader(lines())
        try:
            if reader.fieldnames is not None:
                row, size = 1, 0
            for record in reader:
                yield record
                row, size = row + 1, 0
        except csv.Error as exc:
            damage = gzip_damage(path, reader.line_num)
            raise damage or DataError(path, reader.line_num, "-", f"unreadable CSV ({exc})") from None
    elif suffix == ".parquet":
        yield from _parquet_rows(path)
    else:
        raise ShoptuneError(f"{path}: unsupported input format {suffix!r} (use {', '.join(PAIR_FORMATS)})")


def _parquet_rows(path: Path) -> Iterator[dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    done = 0
    try:
        for batch in pq.ParquetFile(str(path)).iter_batches(batch_size=1024):
            rows = batch.to_pylist()
            done += len(rows)
            yield from rows
    except (pa.ArrowException, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(path, done + 1 if done else 0, "-", f"not a readable Parquet file ({reason})") from None
