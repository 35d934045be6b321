"""`relevance predict` at file scale: predictions written chunk by chunk, each chunk a part file put in place
atomically, so a killed run resumes after the last chunk written (``--resume``) instead of starting over.

Parts live in ``.NAME.parts/`` beside the output (a folder marked as shoptune's): ``part-NNNNNN.jsonl`` or
``.parquet`` and ``progress.json`` (rows done, and what they were computed from: the input file's size, time and
first MiB, the model's manifest). A resume with another input or model is refused. When the input is done the parts
are joined into the output (a temp file renamed into place) and the folder is removed.

Example:
    >>> predict(model, "pairs.jsonl", "scored.parquet", resume=True)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from shoptune.errors import ShoptuneError
from shoptune.io import atomic_path, atomic_write_json, open_folder, read_json, read_marker

PARTS_KIND = "predict-parts"
PROGRESS = "progress.json"


def parts_dir(out: Path) -> Path:
    return out.with_name(f".{out.name}.parts")


def fingerprint(input_path: Path, artifact: Path) -> dict[str, Any]:
    """What a resume must share with the first start: the input file (size, mtime, first MiB) and the model."""
    from shoptune.relevance.model import ARTIFACT_FILE

    stat = input_path.stat()
    with input_path.open("rb") as fh:
        head = hashlib.sha256(fh.read(1 << 20)).hexdigest()
    model = hashlib.sha256((artifact / ARTIFACT_FILE).read_bytes()).hexdigest()
    return {"input": str(input_path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "head": head,
            "model": str(artifact.resolve()), "model_manifest": model}  # fmt: skip


def start_parts(out: Path, key: dict[str, Any], resume: bool) -> tuple[Path, dict[str, Any]]:
    """The parts folder and its progress: resumed when ``resume`` and it matches ``key``; else started afresh."""
    parts = parts_dir(out)
    progress_file = parts / PROGRESS
    if resume and progress_file.is_file():
        progress = read_json(progress_file, expect=dict)
        if progress.get("key") != key:
            changed = sorted(k for k in key if progress.get("key", {}).get(k) != key[k])
            raise ShoptuneError(
                f"--resume: {out} was started from another input or model ({', '.join(changed)} changed); "
                "run without --resume to start over"
            )
        return parts, progress
    if parts.exists() and read_marker(parts) is not None:
        from shoptune.io import remove_owned

        remove_owned(parts, PARTS_KIND)  # an earlier, unfinished run of ours: its parts are stale
    open_folder(parts, PARTS_KIND)
    progress = {"key": key, "rows": 0, "parts": []}
    atomic_write_json(progress_file, progress)
    return parts, progress


def write_parts(
    rows: Iterator[Any],
    out: Path,
    parts: Path,
    progress: dict[str, Any],
    score: Callable[[Iterator[list[Any]]], Iterator[Iterable[dict[str, Any]]]],
    *,
    chunk: int,
    advance: Callable[[int], None] | None = None,
) -> int:
    """Score the rows not done yet, ``chunk`` at a time, each chunk a part file, then join the parts into ``out``.

    ``score`` maps the stream of chunks to the stream of their prediction rows, in order (chunk by chunk in this
    process, or spread over Ray actors: :func:`shoptune.parallel.ordered_map`)."""
    done = int(progress["rows"])
    rows = itertools.islice(rows, done, None)  # the rows a killed run had already written
    if advance and done:
        advance(done)
    chunks = iter(lambda: list(itertools.islice(rows, chunk)), [])
    for scored in score(chunks):
        name = f"part-{len(progress['parts']):06d}{out.suffix}"
        with atomic_path(parts / name) as tmp:
            written = write_rows(scored, tmp, out.suffix)
        progress["parts"].append({"file": name, "rows": written})
        progress["rows"] = done = done + written
        atomic_write_json(parts / PROGRESS, progress)  # after the part: a part not listed here is redone
        if advance:
            advance(written)
    join(out, parts, progress)
    shutil.rmtree(parts)
    return done


def join(out: Path, parts: Path, progress: dict[str, Any]) -> None:
    files = [parts / p["file"] for p in progress["parts"]]
    with atomic_path(out) as tmp:
        if out.suffix == ".jsonl":
            with tmp.open("wb") as target:
                for file in files:
                    with file.open("rb") as source:
                        shutil.copyfileobj(source, target)
            return
        import pyarrow.parquet as pq

        with pq.ParquetWriter(str(tmp), parquet_schema()) as writer:
            for file in files:
                writer.write_table(pq.read_table(str(file)))


#: The flat columns of a Parquet prediction file (the class probabilities follow as ``p_<label>``).
PARQUET_KEYS = ("id", "task", "left", "right", "label", "prediction", "prediction_argmax")


def parquet_schema() -> Any:
    import pyarrow as pa

    from shoptune.records import LABELS

    fields = [*((k, pa.string()) for k in PARQUET_KEYS), *((f"p_{label}", pa.float32()) for label in LABELS)]
    return pa.schema(fields)


def write_rows(rows: Iterable[dict[str, Any]], path: Path, suffix: str, batch: int = 4096) -> int:
    """Prediction rows into ``path`` (callers pass a temp file) as JSON lines (``suffix`` ".jsonl") or Parquet;
    the number written."""
    if suffix == ".jsonl":
        n = 0
        with path.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
        return n
    return _write_parquet(rows, path, batch)


def _write_parquet(rows: Iterable[dict[str, Any]], path: Path, batch: int) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from shoptune.records import LABELS

    schema = parquet_schema()
    n = 0
    with pq.ParquetWriter(str(path), schema) as writer:
        buffer: list[dict[str, Any]] = []
        for row in rows:
            flat = {k: row.get(k) for k in PARQUET_KEYS}
            flat.update({f"p_{label}": row["probs"][label] for label in LABELS})
            buffer.append(flat)
            n += 1
            if len(buffer) >= batch:
                writer.write_table(pa.Table.from_pylist(buffer, schema=schema))
                buffer = []
        if buffer or n == 0:
            writer.write_table(pa.Table.from_pylist(buffer, schema=schema))
    return n
