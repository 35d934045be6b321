"""ECInstruct QPR labels: validation of the ESCI letter lists and the gains helper."""

import gzip
import json

import pytest

from shoptune.data.errorlog import ErrorLog
from shoptune.data.sources import get_source
from shoptune.data.sources.esci_labels import esci_gain
from shoptune.errors import DataError

from .helpers import assert_read_error, write


def _write(tmp_path, data):
    """label.json holding ``data`` (text as it is, anything else as indented JSON, as the benchmark ships it)."""
    return write(tmp_path / "label.json", data if isinstance(data, str) else json.dumps(data, indent=4))


def test_reads_label_lists_and_gains(tmp_path):
    rows = get_source("esci_labels").read(_write(tmp_path, [["E", "S"], ["C", "S", "E"], ["I", "e"]]), ErrorLog())
    assert [r["labels"] for r in rows] == [["E", "S"], ["C", "S", "E"], ["I", "E"]]
    assert rows[1]["gains"] == [0.01, 0.1, 1.0] and rows[2]["_row"] == 3
    assert [esci_gain(x) for x in "ESCI"] == [1.0, 0.1, 0.01, 0.0]
    with pytest.raises(KeyError):
        esci_gain("X")
    assert get_source("esci_labels").views == {}


def test_unknown_letter_names_row_and_position(tmp_path):
    path = _write(tmp_path, [["E", "S"], ["S", "X", "E"]])
    with pytest.raises(DataError) as info:
        get_source("esci_labels").read(path, ErrorLog())
    assert str(info.value) == f"{path}: row 2, field '2': unknown label 'X' for option B (expected one of: E, S, C, I)"
    log = ErrorLog("skip")
    assert len(get_source("esci_labels").read(path, log)) == 1 and log.skipped == 1


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"E": 1}, "file, field '-': expected a JSON list"),
        ([], "file, field '-': file holds no label lists"),
        ([["E"], "E"], "row 2, field '-': expected a non-empty list"),
        ([["E"], []], "row 2, field '-': expected a non-empty list"),
        ([["E", 1]], "row 1, field '2': unknown label 1"),
        ('[\n    [\n        "E",\n        "S"\n    ],\n    [\n        "C"', "invalid JSON"),
        ("", "file, field '-': file is empty"),
    ],
)
def test_bad_files(tmp_path, data, expected):
    assert_read_error("esci_labels", _write(tmp_path, data), expected)


def test_demo_subset_reads(demo_data):
    rows = get_source("esci_labels").read(demo_data / "ecinstruct_qpr_test_labels" / "label.json", ErrorLog())
    assert len(rows) == 100 and all(r["gains"] for r in rows)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            '[["E", "S"],\n ["S", "é"]]'.encode("cp1252"),
            "row 2, field '-': wrong encoding: line 2 is not valid utf-8 (byte 0xe9: invalid continuation byte); "
            "looks like Latin-1 / Windows-1252 text; save it as UTF-8",
        ),
        (
            '[["E", "S"]]'.encode("utf-16"),
            "file, field '-': wrong encoding: looks like UTF-16 text (byte order mark FF FE), expected utf-8 text; "
            "save it as UTF-8",
        ),
        (
            '[["E", "S"]]'.encode("utf-16-be"),
            "file, field '-': wrong encoding: looks like UTF-16 text without a byte order mark (every other byte is "
            "NUL), expected utf-8 text; save it as UTF-8",
        ),
        (
            gzip.compress(b'[["E", "S"]]'),
            "file, field '-': not utf-8 text: looks like gzip-compressed data; name it label.json.gz",
        ),
    ],
    ids=["cp1252", "utf16-bom", "utf16-nobom", "gzip-named-json"],
)
def test_non_utf8_files_are_one_line(tmp_path, raw, expected):
    # Before: UnicodeDecodeError from read_json (or, for UTF-16 without a BOM, a misleading invalid-JSON error).
    path = write(tmp_path / "label.json", raw)
    with pytest.raises(DataError) as info:
        get_source("esci_labels").read(path, ErrorLog("skip"))
    assert str(info.value) == f"{path}: {expected}"


def test_gzipped_label_file_reads_and_a_corrupt_one_is_one_line(tmp_path):
    good = tmp_path / "label.json.gz"
    good.write_bytes(gzip.compress(json.dumps([["E", "S"]] * 3000).encode(), mtime=0))
    assert len(get_source("esci_labels").read(good, ErrorLog())) == 3000
    data = bytearray(good.read_bytes())
    data[len(data) // 2 :] = bytes(len(data) - len(data) // 2)
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(bytes(data))
    with pytest.raises(DataError) as info:
        get_source("esci_labels").read(bad, ErrorLog())
    assert str(info.value).startswith(f"{bad}: ") and "gzip" in str(info.value) and "\n" not in str(info.value)
