"""ExtractGPT adapter (AE-110k / OA-Mine): per-attribute and whole-JSON records, n/a handling, bad input."""

import json

import pytest

from shoptune.data.errorlog import ErrorLog
from shoptune.data.sources import get_source
from shoptune.errors import DataError

from .helpers import assert_read_error, assert_skips, context, every_view, jsonl, write

# Real rows' shapes: an n/a slot, an HTML entity left in the title, n/a listed next to a value (AE-110k).
ROWS = [
    {
        "input": "YTQHXY Metal Spinner Spoon Fishing Lure Hard Baits 85mm 20g Crankbait YE-409",
        "category": "Lure",
        "target_scores": {"Model Number": {"n/a": 1}, "Brand Name": {"YTQHXY": 1}, "Material": {"Metal": 1}},
    },
    {
        "input": "UPF50+ Girl&#39;s Swimwear Stripes Polka Dot Two Pieces Swimsuits for Girls",
        "category": "Swimwear",
        "target_scores": {"Feature": {"Girl&#39;s Swimwear": 1, "UPF50": 1, "n/a": 1}},
    },
    {
        "input": "Diesel Men's Exposure High-Top Sneaker",
        "category": "Shoes",
        "target_scores": {"Brand": {"Diesel": 1}, "Gender": {"Men's": 1}, "Shoe type": {"High-Top Sneaker": 1}},
    },
]


def _write(tmp_path, rows=ROWS, tail=""):
    return write(tmp_path / "test.jsonl", jsonl(rows) + tail)


def test_attribute_value_records(tmp_path):
    src = get_source("extractgpt")
    rows = src.read(_write(tmp_path), ErrorLog())
    recs = list(src.records(rows, "attribute_value", context()))
    assert [r.output for r in recs] == [
        "n/a",
        "YTQHXY",
        "Metal",
        "Girl&#39;s Swimwear",
        "Diesel",
        "Men's",
        "High-Top Sneaker",
    ]
    first = recs[0]
    assert "'Model Number'" in first.instruction and "Lure product" in first.instruction
    assert first.input.startswith("Product title: YTQHXY") and first.metadata["acceptable"] == ["n/a"]
    # n/a next to values: the first value is the target, every listed answer stays acceptable.
    assert recs[3].metadata["acceptable"] == ["Girl&#39;s Swimwear", "UPF50", "n/a"]
    assert recs[0].metadata["groups"] == recs[2].metadata["groups"] != recs[4].metadata["groups"]
    assert len(list(src.records(rows, "attribute_value", context(include_na=False)))) == 6


def test_attribute_json_records(tmp_path):
    src = get_source("extractgpt")
    recs = list(src.records(src.read(_write(tmp_path), ErrorLog()), "attribute_json", context()))
    assert len(recs) == 3
    assert json.loads(recs[0].output) == {"Model Number": "n/a", "Brand Name": "YTQHXY", "Material": "Metal"}
    assert '"Model Number", "Brand Name", "Material"' in recs[0].instruction


BAD = {
    "missing title": ([{"category": "Lure", "target_scores": {"Brand": {"X": 1}}}], "row 1, field 'input'"),
    "missing targets": ([{"input": "t", "category": "Lure"}], "row 1, field 'target_scores': missing field"),
    "empty attribute": (
        [{"input": "t", "category": "Lure", "target_scores": {"Brand": {}}}],
        "row 1, field 'target_scores.Brand'",
    ),
    "bad score": (
        [{"input": "t", "category": "Lure", "target_scores": {"Brand": {"X": "high"}}}],
        "row 1, field 'target_scores.Brand.X'",
    ),
    "targets not an object": (
        [{"input": "t", "category": "Lure", "target_scores": ["Brand"]}],
        "row 1, field 'target_scores'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_rows_raise(tmp_path, case):
    rows, expected = BAD[case]
    assert_read_error("extractgpt", _write(tmp_path, rows), expected)


def test_cut_off_row_empty_file_missing_file_and_skip(tmp_path):
    src = get_source("extractgpt")
    path = _write(tmp_path, tail='{"input": "Florsheim Men\'s Milano Slip-On Loafer", "categ')
    with pytest.raises(DataError, match="row 4, field '-': invalid JSON"):
        src.read(path, ErrorLog())
    assert_skips(src, path, 3, "row 4")
    assert_read_error(src, write(tmp_path / "empty.jsonl", "\n"), "empty.jsonl: file, field '-': file is empty")
    assert_read_error(src, tmp_path / "missing.jsonl", "file not found")
    latin = '{"input": "Caf\xe9", "category": "x", "target_scores": {}}\n'.encode("latin-1")
    assert_read_error(src, write(tmp_path / "latin.jsonl", latin), "latin.jsonl: row 1, field '-': wrong encoding")


def test_demo_subset_runs_every_view(demo_data):
    src = get_source("extractgpt")
    for dataset in ("ae-110k", "oa-mine"):
        for name, least in (("train.jsonl", 30), ("test.jsonl", 5)):
            rows = src.read(demo_data / "ae110k_oamine_extractgpt" / dataset / name, ErrorLog())
            for view, records in every_view(src, rows).items():
                assert len(records) >= least, (dataset, name, view)
