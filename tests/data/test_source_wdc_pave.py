"""WDC PAVE adapter: attribute values (raw / normalised), category classification, bad input."""

import pytest

from shoptune.data.errorlog import ErrorLog
from shoptune.data.sources import get_source
from shoptune.data.sources.wdc_pave import CATEGORIES
from shoptune.errors import DataError

from .helpers import assert_read_error, assert_skips, context, every_view, jsonl, write

HP = {
    "id": 7230884,
    "cluster_id": 14208681.0,
    "category": "Computers And Accessories",
    "input_title": '435952-B21 HP Xeon E5335 2.0GHz DL360 G5" Null',
    "input_description": "Description:Intel Xeon E5335 DL360 G5(2.0GHz/4-core/8MB-2x4MB/80W)Full Processor Option Kit"
    + " Part# 435952-B21" * 60,
    "target_scores": {
        "Generation": {"G5": {"pid": [0, 1], "score": 1}},
        "Processor Type": {"Xeon E5335": {"pid": [0], "score": 1}, "Intel Xeon E5335": {"pid": [1], "score": 1}},
        "Bus Speed": {"n/a": 1},
    },
    "url": "www.harddrivesdirect.com",
}
WIPES = {
    "id": 12085629,
    "cluster_id": 10249752.0,
    "category": "Office Products",
    "input_title": "Dry Erase Cleaning Wet Wipes, 5 x 10, 50/Pack Wipes by Universal UNV43660",
    "input_description": "",
    "target_scores": {"Manufacturer Stock Number": {"UNV43660": {"pid": [0], "score": 1}}, "Height": {"n/a": 1}},
    "url": "www.ontimesupplies.com",
}
SAME_PRODUCT = {**HP, "id": 1, "input_title": "HP 435952-B21 Xeon E5335 kit", "url": "other.shop"}


def _write(tmp_path, rows=(HP, WIPES, SAME_PRODUCT), tail=""):
    return write(tmp_path / "test.jsonl", jsonl(rows) + tail)


def test_attribute_value_records(tmp_path):
    src = get_source("wdc_pave")
    rows = src.read(_write(tmp_path), ErrorLog())
    recs = list(src.records(rows, "attribute_value", context()))
    assert [r.output for r in recs[:5]] == ["G5", "Xeon E5335", "n/a", "UNV43660", "n/a"]
    first = recs[0]
    assert first.input.startswith("Title: 435952-B21 HP Xeon") and "\nDescription: Description:Intel" in first.input
    assert len(first.input) < 700 and first.input.endswith("…")  # the long description is clipped
    assert recs[1].metadata["acceptable"] == ["Xeon E5335", "Intel Xeon E5335"]
    assert recs[1].metadata["where"] == {"Xeon E5335": [0], "Intel Xeon E5335": [1]}
    assert recs[3].input == "Title: Dry Erase Cleaning Wet Wipes, 5 x 10, 50/Pack Wipes by Universal UNV43660"
    # Offers of one product cluster share their primary split key.
    assert first.metadata["groups"][0] == "p:14208681" == recs[5].metadata["groups"][0]
    assert "normalised" not in first.instruction
    normalized = list(src.records(rows, "attribute_value", context(normalized=True, include_na=False)))
    assert len(normalized) == 5 and "normalised form" in normalized[0].instruction


def test_category_cls(tmp_path):
    src = get_source("wdc_pave")
    recs = list(src.records(src.read(_write(tmp_path), ErrorLog()), "category_cls", context()))
    assert [r.output for r in recs] == ["Computers And Accessories", "Office Products", "Computers And Accessories"]
    assert recs[0].options == sorted(CATEGORIES)  # the full label set even when a file lacks some categories


BAD = {
    "missing title": ({**WIPES, "input_title": ""}, "row 1, field 'input_title'"),
    "missing id": ({k: v for k, v in WIPES.items() if k != "id"}, "row 1, field 'id'"),
    "missing category": ({k: v for k, v in WIPES.items() if k != "category"}, "row 1, field 'category'"),
    "bad pid": (
        {**WIPES, "target_scores": {"Height": {"10": {"pid": "title", "score": 1}}}},
        "row 1, field 'target_scores.Height.10.pid'",
    ),
    "score missing": (
        {**WIPES, "target_scores": {"Height": {"10": {"pid": [0]}}}},
        "row 1, field 'target_scores.Height.10.score'",
    ),
    "description not text": ({**WIPES, "input_description": 5}, "row 1, field 'input_description'"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_rows_raise(tmp_path, case):
    row, expected = BAD[case]
    assert_read_error("wdc_pave", _write(tmp_path, [row]), expected)


def test_cut_off_row_empty_file_and_skip(tmp_path):
    src = get_source("wdc_pave")
    path = _write(tmp_path, tail='{"id": 5, "cluster_id": 3.0, "category": "Jewelry", "input_title": "Benchmark ban')
    with pytest.raises(DataError, match="row 4, field '-': invalid JSON"):
        src.read(path, ErrorLog())
    assert_skips(src, path, 3, "row 4")
    assert_read_error(src, write(tmp_path / "empty.jsonl", ""), "empty.jsonl: file, field '-': file is empty")


def test_demo_subset_runs_every_view(demo_data):
    src = get_source("wdc_pave")
    root = demo_data / "wdc_pave" / "processed_datasets"
    for variant in ("wdc_with_all_attributes", "wdc_normalized"):
        for name, least in (("train_large.jsonl", 30), ("test.jsonl", 5)):
            rows = src.read(root / variant / name, ErrorLog())
            for view, records in every_view(src, rows).items():
                assert len(records) >= least, (variant, name, view)
