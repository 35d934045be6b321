"""ECInstruct QPR labels: validation of the ESCI letter lists and the gains helper."""

import json

import pytest

from shoptune.data.errorlog import ErrorLog
from shoptune.data.sources import get_source
from shoptune.data.sources.esci_labels import esci_gain
from shoptune.errors import DataError


def _write(tmp_path, data, name="label.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=4), encoding="utf-8")
    return path


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
    path = _write(tmp_path, data)
    with pytest.raises(DataError) as info:
        get_source("esci_labels").read(path, ErrorLog())
    assert str(path) in str(info.value) and expected in str(info.value)


def test_demo_subset_reads(demo_data):
    rows = get_source("esci_labels").read(demo_data / "ecinstruct_qpr_test_labels" / "label.json", ErrorLog())
    assert len(rows) == 100 and all(r["gains"] for r in rows)
