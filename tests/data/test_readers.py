"""Each bad-input case gives a DataError naming the file, the row and the field."""

import functools
import gzip
import hashlib
import zlib
from pathlib import Path

import pytest

from conftest import gzip_damaged_by_zlib
from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import (
    as_choice,
    describe_encoding,
    iter_csv,
    iter_jsonl,
    read_bytes,
    read_json,
    stream_lines,
)
from shoptune.errors import DataError

from .helpers import write


def _rows(path, **kw):
    return list(iter_csv(path, log=kw.pop("log", ErrorLog()), **kw))


#: case -> (file name, its content (None: no file), iter_csv keywords, the error it must raise)
BAD_CSV = {
    "missing file": ("nope.csv", None, {}, r"nope\.csv: file, field '-': file not found"),
    "empty file": ("e.csv", "\n\n", {}, r"e\.csv: file, field '-': file is empty"),
    "missing column": ("m.csv", "a,b\n1,2\n", {"required": ["a", "c"]}, r"m\.csv: file, field 'c': missing column"),
    "latin-1 in utf-8": (
        "w.csv",
        "a,b\n1,ok\n2,caf\xe9\n".encode("latin-1"),
        {},
        r"w\.csv: row 3, field '-': wrong encoding: line 3",
    ),
    "utf-16 read as latin-1": (
        "u.csv",
        "a,b\n1,2\n".encode("utf-16"),
        {"encoding": "latin-1"},
        r"u\.csv: file, field '-': wrong encoding: looks like UTF-16 text",
    ),
    "stray NUL in latin-1": (
        "n.csv",
        b"a,b\n1,2\n3,x\x00y\n",
        {"encoding": "latin-1"},
        r"n\.csv: row 3, field '-': wrong encoding: NUL bytes at line 3",
    ),
    "unterminated quote": (
        "c.csv",
        'a,b\n1,"x"\n2,"cut off here',
        {"required": ["a", "b"]},
        r"c\.csv: row 2, field '-': row cut off mid-field",
    ),
    "too few fields": ("f.csv", "a,b,c\n1,2,3\n4,5\n", {}, r"f\.csv: row 2, field 'c': row cut off: 2 of 3 fields"),
}


@pytest.mark.parametrize("case", sorted(BAD_CSV))
def test_bad_csv_names_file_row_and_field(tmp_path, case):
    name, content, keywords, error = BAD_CSV[case]
    path = write(tmp_path / name, content)
    with pytest.raises(DataError, match=error):
        _rows(path, **{"required": ["a"], **keywords})


def test_unknown_label_names_row_and_field(tmp_path):
    (tmp_path / "l.csv").write_text("text,label\nhi,1\nyo,maybe\n")
    rows = _rows(tmp_path / "l.csv", required=["label"])
    assert as_choice(rows[0], "label", {"0": 0, "1": 1}) == 1
    with pytest.raises(DataError, match=r"l\.csv: row 2, field 'label': unknown label 'maybe'"):
        as_choice(rows[1], "label", {"0": 0, "1": 1})


def test_skip_policy_counts_bad_rows(tmp_path):
    (tmp_path / "s.csv").write_text("a,b,c\n1,2,3\n4,5\n6,7,8\n")
    log = ErrorLog(on_error="skip")
    rows = _rows(tmp_path / "s.csv", required=["a"], log=log)
    assert [r["a"] for r in rows] == ["1", "6"]
    assert log.skipped == 1 and "row 2" in log.examples[0]


def test_jsonl_truncated_last_line(tmp_path):
    path = tmp_path / "d.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"a": 1}\n{"a": 2, "b": "cut'))
    with pytest.raises(DataError, match=r"d\.jsonl\.gz: row 2, field '-': invalid JSON"):
        list(iter_jsonl(path, log=ErrorLog()))
    log = ErrorLog(on_error="skip")
    assert [r["a"] for r in iter_jsonl(path, log=log)] == [1] and log.skipped == 1


def test_csv_rows_carry_row_numbers_and_multiline_fields(tmp_path):
    (tmp_path / "q.csv").write_text('a,b\n1,"line one\nline two"\n2,x\n')
    rows = _rows(tmp_path / "q.csv", required=["a", "b"])
    assert [(r["_row"], r["b"]) for r in rows] == [(1, "line one\nline two"), (2, "x")]


# --- files that are not what their name says: damaged gzip, other encodings, compressed data -----------------


def _lines(n: int = 4000) -> bytes:
    # Varied text, so the deflate stream has many blocks and damage in its middle is found mid-file.
    return "".join(f'{{"id": {i}, "text": "{hashlib.sha1(str(i).encode()).hexdigest()}"}}\n' for i in range(n)).encode()


def corrupt_gzip(path: Path, n: int = 4000) -> Path:
    """A gzip file whose deflate body is damaged half way into garbage that only the final CRC check catches."""
    data = bytearray(gzip.compress(_lines(n), mtime=0))
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(range(64))
    path.write_bytes(bytes(data))
    return path


@functools.cache
def _zlib_damaged(n: int) -> bytes:
    return gzip_damaged_by_zlib(gzip.compress(_lines(n), mtime=0))


def zlib_damaged_gzip(path: Path, n: int = 4000) -> Path:
    """A gzip file with one byte flipped after its middle where deflate itself fails (zlib.error mid-stream)."""
    path.write_bytes(_zlib_damaged(n))
    return path


def test_corrupt_gzip_raw_errors(tmp_path):
    # The failures this guards against: without conversion the user sees zlib.error or BadGzipFile.
    with pytest.raises(zlib.error):
        gzip.decompress(zlib_damaged_gzip(tmp_path / "z.jsonl.gz").read_bytes())
    with pytest.raises(gzip.BadGzipFile, match="CRC check failed"):
        gzip.decompress(corrupt_gzip(tmp_path / "c.jsonl.gz").read_bytes())


READERS = {
    "jsonl": lambda path: list(iter_jsonl(path, log=ErrorLog("skip"))),  # not skippable: the rest is lost
    "csv": lambda path: list(iter_csv(path, required=[], log=ErrorLog())),
    "bytes": read_bytes,
    "stream": lambda path: list(stream_lines(path)),
}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_gzip_body_failing_mid_stream_names_file_and_line(tmp_path, reader):
    path = zlib_damaged_gzip(tmp_path / ("c.csv.gz" if reader == "csv" else "c.jsonl.gz"))
    with pytest.raises(DataError) as info:
        READERS[reader](path)
    error = info.value
    assert error.file == str(path) and error.row > 1 and "\n" not in str(error)
    assert error.message == (
        f"corrupt gzip data from line {error.row} on (Error -3 while decompressing data: "
        f"{error.message.split('data: ')[1].split(')')[0]}); the file is damaged or cut off"
    )


@pytest.mark.parametrize("reader", sorted(READERS))
def test_gzip_body_failing_its_checksum_names_the_file(tmp_path, reader):
    path = corrupt_gzip(tmp_path / ("c.csv.gz" if reader == "csv" else "c.jsonl.gz"))
    with pytest.raises(DataError) as info:
        READERS[reader](path)
    assert str(info.value).startswith(f"{path}: file, field '-': corrupt gzip data (CRC check failed 0x")
    assert str(info.value).endswith("); the file is damaged")


def test_streamed_gzip_error_surfaces_lazily_after_good_lines(tmp_path):
    path = zlib_damaged_gzip(tmp_path / "c.jsonl.gz")
    seen = 0
    with pytest.raises(DataError, match=r"c\.jsonl\.gz: row \d+, field '-': corrupt gzip data from line") as info:
        for seen, _ in stream_lines(path):  # noqa: B007
            pass
    assert seen > 100 and info.value.row == seen + 1  # good lines streamed first; the damage surfaced while iterating


def test_garbage_line_of_a_damaged_gzip_is_reported_as_damage(tmp_path):
    # Garbage that decodes to invalid UTF-8 before the CRC check: the gzip damage is named, not the encoding.
    path = tmp_path / "g.jsonl.gz"
    data = bytearray(gzip.compress(_lines(), mtime=0))
    middle = len(data) // 2
    data[middle : middle + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    try:
        for _ in stream_lines(path):
            pass
    except DataError as error:
        assert "corrupt gzip data" in error.message and "wrong encoding" not in error.message
    else:
        pytest.fail("no error")


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (lambda: gzip.compress(_lines(4000), mtime=0)[:60000], "corrupt gzip data from line"),  # cut off: EOFError
        (lambda: b"plain text, not gzip\n", "file, field '-': not a valid gzip file"),
        (lambda: gzip.compress(b'{"a": 1}\n', mtime=0)[:-8] + b"\0" * 8, "CRC check failed"),
    ],
    ids=["truncated", "not-gzip", "bad-crc"],
)
def test_other_broken_gzip_files(tmp_path, blob, message):
    path = tmp_path / "b.jsonl.gz"
    path.write_bytes(blob())
    for read in (lambda: list(iter_jsonl(path, log=ErrorLog())), lambda: list(stream_lines(path))):
        with pytest.raises(DataError, match=message):
            read()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            "a,b\n1,2\n".encode("utf-16"),
            "wrong encoding: looks like UTF-16 text (byte order mark FF FE), expected utf-8",
        ),
        ("a,b\n1,2\n".encode("utf-16-be"), "looks like UTF-16 text without a byte order mark"),
        ("a,b\n1,2\n".encode("utf-16-le"), "looks like UTF-16 text without a byte order mark"),
        ("a,b\n1,2\n".encode("utf-32"), "looks like UTF-32 text (byte order mark FF FE 00 00)"),
        (gzip.compress(b"a,b\n1,2\n"), "not utf-8 text: looks like gzip-compressed data; name it x.csv.gz"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00rest of a zip", "not utf-8 text: looks like a ZIP archive"),
    ],
    ids=["utf16-bom", "utf16be-nobom", "utf16le-nobom", "utf32", "gzip", "zip"],
)
def test_not_utf8_text_says_what_the_file_looks_like(tmp_path, data, message):
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    for read in (
        lambda: _rows(path, required=["a"], log=ErrorLog("skip")),  # file-level: raised even under skip
        lambda: read_json(path),
        lambda: list(stream_lines(path)),
    ):
        with pytest.raises(DataError) as info:
            read()
        assert info.value.row == 0 and info.value.file == str(path) and message in info.value.message


def test_latin1_bytes_in_utf8_file_name_line_and_byte(tmp_path):
    path = tmp_path / "w.jsonl"
    path.write_bytes(b'{"a": "ok"}\n{"a": "caf\xe9"}\n')
    expected = (
        f"{path}: row 2, field '-': wrong encoding: line 2 is not valid utf-8 (byte 0xe9: invalid continuation "
        "byte); looks like Latin-1 / Windows-1252 text; save it as UTF-8"
    )
    for read in (
        lambda: list(iter_jsonl(path, log=ErrorLog())),
        lambda: read_json(path),
        lambda: list(stream_lines(path)),
    ):
        with pytest.raises(DataError) as info:
            read()
        assert str(info.value) == expected


def test_read_json_non_utf8_raw_error_was_unicode_decode_error(tmp_path):
    path = tmp_path / "meta.json"
    path.write_bytes('{"defi": "caf\u00e9"}'.encode("cp1252"))
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8-sig")
    with pytest.raises(DataError, match=r"meta\.json: row 1, field '-': wrong encoding: line 1 is not valid utf-8"):
        read_json(path)


def test_describe_encoding():
    assert describe_encoding(b"\x1f\x8b\x08", name="p.jsonl") == "looks like gzip-compressed data; name it p.jsonl.gz"
    assert describe_encoding(b"\x1f\x8b\x08", name="p.jsonl.gz") == "looks like gzip-compressed data"
    assert describe_encoding("héllo wörld, ünïcode".encode()) is None
    assert describe_encoding("héllo".encode("cp1252")) is None
    assert describe_encoding(b"") is None
    assert describe_encoding(b"PAR1,PAR2\n1,2\n") is None  # a header that merely starts like Parquet
    assert describe_encoding(b"PAR1\x15\x04\x15\x00") == "looks like a Parquet file"


def test_stream_lines_reads_plain_and_gzip_alike(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(b"\xef\xbb\xbf" + _lines(3))
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(_lines(3)))
    plain, packed = list(stream_lines(tmp_path / "a.jsonl")), list(stream_lines(tmp_path / "a.jsonl.gz"))
    assert plain == packed and [n for n, _ in plain] == [1, 2, 3] and plain[0][1].startswith('{"id": 0')
    with pytest.raises(DataError, match="file not found"):
        list(stream_lines(tmp_path / "missing.jsonl"))
