"""Readers for raw files exactly as the sources ship them (CSV/TSV in any encoding, JSON lines, gzip).

Every problem becomes a :class:`~shoptune.errors.DataError` naming the file, the row and the field.
File-level problems (missing, empty, missing column) always raise; row-level problems (bad bytes, a
row cut off, a bad value) go through the :class:`ErrorLog`, so `--on-error skip` can skip them.

Example:
    >>> from shoptune.data.errorlog import ErrorLog
    >>> for row in iter_csv("train.csv", required=["id"], log=ErrorLog()):  # doctest: +SKIP
    ...     print(row["_row"], row["id"])
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from shoptune.data.errorlog import ErrorLog
from shoptune.errors import DataError

# Long product descriptions exceed csv's default 128 KiB field limit.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

Row = dict[str, Any]


def read_bytes(path: str | Path) -> bytes:
    """Read a whole file (transparently gunzipping `*.gz`), rejecting missing and empty files."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, 0, "-", "file not found")
    if path.is_dir():
        raise DataError(path, 0, "-", "expected a file, got a directory")
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise DataError(path, 0, "-", f"not a valid gzip file ({exc})") from None
    if not data.strip():
        raise DataError(path, 0, "-", "file is empty")
    return data


def decode_lines(path: str | Path, encoding: str, log: ErrorLog) -> Iterator[tuple[int, str]]:
    """Yield (line number, text line with its newline), decoding one line at a time.

    Decoding per line lets a wrong-encoding error name the line, and lets `skip` drop only that line.
    Splitting bytes on b"\\n" is safe for UTF-8 and single-byte encodings.
    """
    data = read_bytes(path)
    if encoding.replace("_", "-").lower() in {"latin-1", "latin1", "iso-8859-1", "cp1252"} and b"\x00" in data:
        # Latin-1 decodes any byte, so a UTF-16 file would be read as garbage: NUL bytes give it away.
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise DataError(path, line, "-", f"wrong encoding: NUL bytes at line {line}; expected {encoding} text")
    codec = "utf-8-sig" if encoding.lower() in {"utf-8", "utf8"} else encoding
    for number, raw in enumerate(data.splitlines(keepends=True), start=1):
        try:
            yield number, raw.decode(codec if number == 1 else encoding)
        except UnicodeDecodeError as exc:
            log.handle(
                DataError(path, number, "-", f"wrong encoding: line {number} is not valid {encoding} ({exc.reason})")
            )


def iter_csv(
    path: str | Path,
    *,
    required: Sequence[str],
    log: ErrorLog,
    encoding: str = "utf-8",
    delimiter: str = ",",
    quoting: int = csv.QUOTE_MINIMAL,
) -> Iterator[Row]:
    """Yield CSV/TSV rows as dicts with `_row` (1-based data row) and `_file`, checking the header.

    A row with too few fields (a row cut off mid-field) or an unterminated quote is a row error.
    """
    lines = (text for _, text in decode_lines(path, encoding, log))
    reader = csv.reader(lines, delimiter=delimiter, quoting=quoting, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(path, 0, "-", "file is empty") from None
    except csv.Error as exc:
        raise DataError(path, 0, "header", f"unreadable header ({exc})") from None
    header = [name.strip() for name in header]
    for name in required:
        if name not in header:
            raise DataError(path, 0, name, f"missing column (found: {', '.join(header)})")
    row_number = 0
    while True:
        row_number += 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # csv in strict mode reports an unterminated quote at end of file: the row was cut off.
            log.handle(DataError(path, row_number, "-", f"row cut off mid-field ({exc})"))
            return
        if not values or (len(values) == 1 and not values[0].strip()):
            row_number -= 1  # blank line, not a data row
            continue
        if len(values) < len(header):
            missing = header[len(values)]
            log.handle(DataError(path, row_number, missing, f"row cut off: {len(values)} of {len(header)} fields"))
            continue
        if len(values) > len(header):
            log.handle(DataError(path, row_number, "-", f"{len(values)} fields, header has {len(header)}"))
            continue
        row: Row = dict(zip(header, values, strict=True))
        row["_row"] = row_number
        row["_file"] = str(path)
        yield row


def iter_jsonl(path: str | Path, *, log: ErrorLog, encoding: str = "utf-8") -> Iterator[Row]:
    """Yield JSON-lines objects as dicts with `_row` and `_file`. A truncated line is a row error."""
    row_number = 0
    for _, text in decode_lines(path, encoding, log):
        if not text.strip():
            continue
        row_number += 1
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            log.handle(DataError(path, row_number, "-", f"invalid JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(obj, dict):
            log.handle(DataError(path, row_number, "-", f"expected a JSON object, got {type(obj).__name__}"))
            continue
        obj["_row"] = row_number
        obj["_file"] = str(path)
        yield obj


def read_json(path: str | Path) -> Any:
    """Read one JSON document (e.g. a `meta-info.json`)."""
    text = read_bytes(path).decode("utf-8-sig", errors="strict")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(path, exc.lineno, "-", f"invalid JSON ({exc.msg})") from None


def require(row: Row, field: str) -> str:
    """Return a non-empty string field, or raise a DataError naming the row and field."""
    value = row.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DataError(row.get("_file", "?"), row.get("_row", 0), field, "empty value")
    return value if isinstance(value, str) else str(value)


def as_float(row: Row, field: str) -> float:
    """Parse a numeric field, or raise a DataError naming the row and field."""
    value = require(row, field)
    try:
        return float(value)
    except ValueError:
        raise DataError(row.get("_file", "?"), row.get("_row", 0), field, f"not a number: {value!r}") from None


def as_choice(row: Row, field: str, mapping: dict[str, Any]) -> Any:
    """Map a label field through `mapping`; an unknown label is a DataError listing the known ones."""
    value = require(row, field).strip()
    if value not in mapping:
        known = ", ".join(sorted(map(str, mapping)))
        raise DataError(
            row.get("_file", "?"), row.get("_row", 0), field, f"unknown label {value!r} (expected one of: {known})"
        )
    return mapping[value]
