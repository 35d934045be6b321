"""Readers for raw files exactly as the sources ship them (CSV/TSV in any encoding, JSON lines, gzip).

Every problem becomes a :class:`~shoptune.errors.DataError` naming the file, the row and the field.
File-level problems (missing, empty, missing column, not text at all) always raise; row-level problems (bad
bytes, a row cut off, a bad value) go through the :class:`ErrorLog`, so `--on-error skip` can skip them.

A file that is not text in the expected encoding says what it looks like instead: UTF-16 (with or without
a byte order mark), gzip-compressed data under a plain name, a ZIP archive or a Parquet file
(:func:`describe_encoding`); an undecodable line names its line and byte (:func:`decode_error`); a damaged
gzip file names the line where the damage starts. :func:`stream_lines` gives the same errors while
streaming, for readers that must not hold the whole file in memory.

Example:
    >>> from shoptune.data.errorlog import ErrorLog
    >>> for row in iter_csv("train.csv", required=["id"], log=ErrorLog()):  # doctest: +SKIP
    ...     print(row["_row"], row["id"])
    >>> describe_encoding("a,b\\n".encode("utf-16"))
    'looks like UTF-16 text (byte order mark FF FE)'
"""

from __future__ import annotations

import codecs
import csv
import gzip
import json
import sys
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from shoptune.data.errorlog import ErrorLog
from shoptune.errors import DataError

# Long product descriptions exceed csv's default 128 KiB field limit.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

Row = dict[str, Any]

#: What a damaged gzip stream raises: a bad header or CRC (BadGzipFile), a bad deflate block (zlib.error),
#: or a stream cut off before its end marker (EOFError).
GZIP_ERRORS = (gzip.BadGzipFile, zlib.error, EOFError)
#: Bytes sniffed at the start of a file to tell what it holds.
HEAD_BYTES = 4096

_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),  # before UTF-16 LE: FF FE 00 00 starts with FF FE
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
_MAGIC = (
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"PK\x03\x04", "a ZIP archive (unzip it first)"),
    (b"PAR1", "a Parquet file"),
)
_SINGLE_BYTE = {"latin-1", "latin1", "iso-8859-1", "cp1252", "windows-1252"}


def _norm(encoding: str) -> str:
    return encoding.replace("_", "-").lower()


def describe_encoding(head: bytes, *, name: str | Path | None = None) -> str | None:
    """What the first bytes of a file say it holds, when that is clearly not ASCII-compatible text; else None.

    ``name`` (the file name) turns gzip magic under a plain name into advice to name it ``.gz``.

    >>> describe_encoding(b"\\x1f\\x8b\\x08\\x00", name="pairs.jsonl")
    'looks like gzip-compressed data; name it pairs.jsonl.gz'
    >>> describe_encoding("left,right\\n".encode("utf-16-le"))
    'looks like UTF-16 text without a byte order mark (every other byte is NUL)'
    >>> describe_encoding(b"left,right\\n") is None
    True
    """
    for bom, label in _BOMS:
        if head.startswith(bom):
            return f"looks like {label} text (byte order mark {bom.hex(' ').upper()})"
    for magic, label in _MAGIC:
        # ZIP and Parquet headers hold binary fields: without a NUL nearby, "PK.."/"PAR1" is just text.
        if head.startswith(magic) and (magic == b"\x1f\x8b" or b"\x00" in head[:256]):
            if magic == b"\x1f\x8b" and name is not None and not str(name).endswith(".gz"):
                return f"looks like {label}; name it {Path(name).name}.gz"
            return f"looks like {label}"
    sample = head[: HEAD_BYTES - HEAD_BYTES % 2]
    if len(sample) >= 4:
        even, odd = sample[0::2], sample[1::2]
        # ASCII-range text in UTF-16 has a NUL in every other byte; real UTF-8/Latin-1 text has none.
        if max(even.count(0) / len(even), odd.count(0) / len(odd)) >= 0.4:
            return "looks like UTF-16 text without a byte order mark (every other byte is NUL)"
    return None


def check_text_head(path: str | Path, head: bytes, encoding: str = "utf-8") -> None:
    """Raise a file-level DataError when ``head`` (a file's first bytes) is not text in ``encoding``."""
    if _norm(encoding).startswith(("utf-16", "utf-32")):
        return
    what = describe_encoding(head, name=path)
    if what is None:
        return
    if what.startswith("looks like UTF"):
        fix = "UTF-8" if _norm(encoding) in {"utf-8", "utf8", "utf-8-sig"} else encoding
        raise DataError(path, 0, "-", f"wrong encoding: {what}, expected {encoding} text; save it as {fix}")
    raise DataError(path, 0, "-", f"not {encoding} text: {what}")


def decode_error(
    path: str | Path, exc: UnicodeDecodeError, *, line: int = 0, encoding: str = "utf-8", data: bytes | None = None
) -> DataError:
    """One-line DataError for bytes that do not decode, naming the line and the bad byte.

    Either ``exc`` came from decoding one line (pass its number as ``line``) or from decoding all of ``data``
    (the line is counted). When the bytes read as Windows-1252 text the message says so: that is what
    non-UTF-8 CSV exports usually are.

    >>> data = b"ok\\ncaf\\xe9\\n"
    >>> try:
    ...     data.decode("utf-8")
    ... except UnicodeDecodeError as exc:
    ...     error = decode_error("w.csv", exc, data=data)
    >>> error.row, error.message.split("; ")
    (2, ['wrong encoding: line 2 is not valid utf-8 (byte 0xe9: invalid continuation byte)', \
'looks like Latin-1 / Windows-1252 text', 'save it as UTF-8'])
    """
    if data is None:
        raw = bytes(exc.object)
        byte = raw[exc.start : exc.start + 1]
    else:
        line = data[: exc.start].count(b"\n") + 1
        begin = data.rfind(b"\n", 0, exc.start) + 1
        finish = data.find(b"\n", exc.start)
        raw = data[begin : finish if finish >= 0 else len(data)]
        byte = data[exc.start : exc.start + 1]
    where = f"line {line}" if line else "the file"
    message = f"wrong encoding: {where} is not valid {encoding} (byte 0x{byte.hex()}: {exc.reason})"
    what = describe_encoding(raw[:HEAD_BYTES]) if line <= 1 else None
    if what is not None:
        message += f"; {what}"
    elif _norm(encoding) in {"utf-8", "utf8", "utf-8-sig"} and _is_single_byte_text(raw):
        message += "; looks like Latin-1 / Windows-1252 text; save it as UTF-8"
    return DataError(path, line, "-", message)


def _is_single_byte_text(raw: bytes) -> bool:
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return not any(ord(ch) < 32 and ch not in "\t\r\n" for ch in text)


def gzip_error(path: str | Path, exc: BaseException, line: int) -> DataError:
    """One-line DataError for a damaged gzip stream; ``line`` = the first line that could not be read (1 = none).

    A stream cut off (EOFError) or a bad deflate block (zlib.error) is found where it is, so the message names
    that line. A wrong checksum or length (BadGzipFile at the end) says the data decompressed wrongly somewhere
    before: the file, not a line, is named.
    """
    reason = str(exc) or type(exc).__name__
    if line <= 1:
        return DataError(path, 0, "-", f"not a valid gzip file ({reason})")
    if isinstance(exc, gzip.BadGzipFile):
        return DataError(path, 0, "-", f"corrupt gzip data ({reason}); the file is damaged")
    return DataError(
        path, line, "-", f"corrupt gzip data from line {line} on ({reason}); the file is damaged or cut off"
    )


def gzip_damage(path: str | Path, line: int) -> DataError | None:
    """For a ``*.gz`` file whose line ``line`` did not parse: the gzip error when the file is damaged, else None.

    Damage in the middle of a deflate stream often decompresses to garbage that is only caught by the CRC at
    the end, so a streaming reader meets a bad line (invalid JSON, undecodable bytes) first. This decompresses
    the whole file to tell which it is (on the error path only).
    """
    if Path(path).suffix != ".gz":
        return None
    try:
        with gzip.open(path, "rb") as fh:
            while fh.read(1 << 20):
                pass
    except GZIP_ERRORS as exc:
        reason = str(exc) or type(exc).__name__
        return DataError(
            path, line, "-", f"corrupt gzip data: garbage from line {line} on ({reason}); the file is damaged"
        )
    return None


def open_binary(path: str | Path) -> IO[bytes]:
    """Open a file for reading bytes, gunzipping ``*.gz`` on the fly (errors surface while reading)."""
    path = Path(path)
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def check_file(path: str | Path) -> Path:
    """A path that must be an existing file: DataError (row 0) when it is missing or a folder."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, 0, "-", "file not found")
    if path.is_dir():
        raise DataError(path, 0, "-", "expected a file, got a directory")
    return path


class LineTooLong(DataError):
    """A line longer than the reader's ``max_line_bytes`` (raised before the line is read whole)."""

    def __init__(self, file: str | Path, row: int, limit: int) -> None:
        self.limit = limit
        super().__init__(file, row, "-", f"line longer than {limit:,} bytes, the most one line may hold")


def stream_lines(
    path: str | Path, *, encoding: str = "utf-8", max_line_bytes: int | None = None
) -> Iterator[tuple[int, str]]:
    """Stream (line number, text line with its newline) without reading the whole file, gunzipping ``*.gz``.

    Every failure while streaming becomes a DataError naming the file and the line: a damaged gzip body
    (found only when the reader gets there), bytes that do not decode, a file that is not text at all.

    With ``max_line_bytes``, a line longer than that (newline not counted) raises :class:`LineTooLong` naming it,
    having read at most ``max_line_bytes + 1`` bytes of it: one huge line never sits in memory whole.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "p.jsonl"
    >>> _ = path.write_bytes(b'{"a": 1}\\n{"b": "caf\\xe9"}\\n')
    >>> try:
    ...     list(stream_lines(path))
    ... except DataError as error:
    ...     print(error.row, error.message.split(" (")[0])
    2 wrong encoding: line 2 is not valid utf-8
    """
    path = check_file(path)
    codec = "utf-8-sig" if _norm(encoding) in {"utf-8", "utf8"} else encoding
    number = 0
    try:
        with open_binary(path) as fh:
            head = fh.read(HEAD_BYTES)
        check_text_head(path, head, encoding)
        limit = -1 if max_line_bytes is None else max(0, max_line_bytes) + 1
        with open_binary(path) as fh:
            while raw := fh.readline(limit):
                number += 1
                if len(raw) == limit and not raw.endswith(b"\n"):
                    raise LineTooLong(path, number, limit - 1)
                try:
                    text = raw.decode(codec if number == 1 else encoding)
                except UnicodeDecodeError as exc:
                    raise (
                        gzip_damage(path, number) or decode_error(path, exc, line=number, encoding=encoding)
                    ) from None
                yield number, text
    except GZIP_ERRORS as exc:
        raise gzip_error(path, exc, number + 1) from None
    except OSError as exc:
        raise DataError(
            path, number + 1 if number else 0, "-", f"cannot read the file ({exc.strerror or exc})"
        ) from None


def read_bytes(path: str | Path) -> bytes:
    """Read a whole file (transparently gunzipping `*.gz`), rejecting missing and empty files.

    A damaged gzip file is a DataError naming the line where the damage starts.
    """
    path = check_file(path)
    data = _gunzip(path) if path.suffix == ".gz" else path.read_bytes()
    if not data.strip():
        raise DataError(path, 0, "-", "file is empty")
    return data


def _gunzip(path: Path) -> bytes:
    chunks: list[bytes] = []
    try:
        with gzip.open(path, "rb") as fh:
            while chunk := fh.read(1 << 16):  # small enough to place the damage within a few lines
                chunks.append(chunk)
    except GZIP_ERRORS as exc:
        # Whatever decompressed before the damage tells on which line it starts.
        raise gzip_error(path, exc, sum(c.count(b"\n") for c in chunks) + 1) from None
    return b"".join(chunks)


def decode_lines(path: str | Path, encoding: str, log: ErrorLog) -> Iterator[tuple[int, str]]:
    """Yield (line number, text line with its newline), decoding one line at a time.

    Decoding per line lets a wrong-encoding error name the line, and lets `skip` drop only that line.
    Splitting bytes on b"\\n" is safe for UTF-8 and single-byte encodings; a file that is not such text at all
    (UTF-16, gzip under a plain name, ...) is a file-level error that says what the file looks like.
    """
    data = read_bytes(path)
    check_text_head(path, data[:HEAD_BYTES], encoding)
    if _norm(encoding) in _SINGLE_BYTE and b"\x00" in data:
        # Latin-1 decodes any byte, so a UTF-16 file would be read as garbage: NUL bytes give it away.
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise DataError(path, line, "-", f"wrong encoding: NUL bytes at line {line}; expected {encoding} text")
    codec = "utf-8-sig" if _norm(encoding) in {"utf-8", "utf8"} else encoding
    for number, raw in enumerate(data.splitlines(keepends=True), start=1):
        try:
            yield number, raw.decode(codec if number == 1 else encoding)
        except UnicodeDecodeError as exc:
            log.handle(decode_error(path, exc, line=number, encoding=encoding))


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
    """Read one JSON document (e.g. a `meta-info.json`); bad bytes or bad JSON name the file and line."""
    data = read_bytes(path)
    check_text_head(path, data[:HEAD_BYTES])
    try:
        text = data.decode("utf-8-sig", errors="strict")
    except UnicodeDecodeError as exc:
        raise decode_error(path, exc, data=data) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(path, exc.lineno, "-", f"invalid JSON ({exc.msg})") from None
    except RecursionError:
        raise DataError(path, 0, "-", "invalid JSON (nested too deeply)") from None


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
