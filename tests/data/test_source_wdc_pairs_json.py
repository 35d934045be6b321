"""wdc_pairs_json adapter: the WDC gold-standard format in JSON lines / gzip / array / CSV, labels, bad inputs."""

import gzip
import json

import pytest

from shoptune.data.errorlog import ErrorLog
from shoptune.data.sources import get_source
from shoptune.data.sources.wdc_pairs_json import label_of, split_sides
from shoptune.records import Label

from .helpers import assert_read_error, assert_skips, context, every_view, jsonl, write


def _offer(side, ident, title, brand=None, description=None, price=None, currency=None, cluster=1):
    return {
        f"id_{side}": ident,
        f"brand_{side}": brand,
        f"title_{side}": title,
        f"description_{side}": description,
        f"price_{side}": price,
        f"priceCurrency_{side}": currency,
        f"cluster_id_{side}": cluster,
    }


RECORDS = [  # WDC Products test-set shape: nulls everywhere, numbers as strings, is_hard_negative
    {
        **_offer(
            "left", 61830419, "MultiPlus C 12/2000/80-30", description="CMP122200000", price="1720.26", currency="AUD"
        ),
        **_offer("right", 18905357, "DDR4 16GB 3200 Kingston Fury Black", price="66.98"),
        "label": 0,
        "pair_id": "61830419#18905357",
        "is_hard_negative": False,
    },
    {
        **_offer("left", 9932421, "Fenix 21700 5000 mAh Li-ion Battery", brand="Fenix", price="25.95", currency="GBP"),
        **_offer("right", 26952087, "Fenix 21700 4000 mAh Li-ion Battery", brand="Fenix"),
        "label": 0,
        "pair_id": "9932421#26952087",
        "is_hard_negative": True,
    },
    {
        **_offer("left", 1, None, brand="Seagate", description="IronWolf Pro 4TB NAS ST4000NE001"),
        **_offer("right", 2, "HD 3,5 4TB IRONWOLF PRO SEAGATE", price=129.0),
        "label": 1,
        "pair_id": "1#2",
        "is_hard_negative": False,
    },
]
GOOD = jsonl(RECORDS)


def _write(tmp_path, text, name="test_gs.json"):
    """A gold-standard file; gzip-compressed when its name ends in .gz."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return write(tmp_path / name, gzip.compress(data) if name.endswith(".gz") else data)


def test_label_mapping_and_sides():
    assert label_of(1, None) is Label.exact and label_of(1, True) is Label.exact
    assert label_of(0, True) is Label.partial and label_of(0, False) is Label.irrelevant
    left, right = split_sides({"id_left": 3, "name_left": "A", "price_left": 0.5, "name_right": "", "pair_id": "x"})
    assert left == {"name": "A", "price": "0.5"} and right == {"name": ""}


@pytest.mark.parametrize("name", ["test_gs.json", "test_gs.json.gz", "test_gs.jsonl"])
def test_pairs_from_json_lines(tmp_path, name):
    src = get_source("wdc_pairs_json")
    rows = src.read(_write(tmp_path, GOOD, name), ErrorLog())
    pairs = list(src.records(rows, "pairs", context()))
    assert [p.label.value for p in pairs] == ["irrelevant", "partial", "exact"]
    assert pairs[0].left == "MultiPlus C 12/2000/80-30 | price: 1720.26 AUD | description: CMP122200000"
    assert pairs[2].left == "brand: Seagate | description: IronWolf Pro 4TB NAS ST4000NE001"  # null title
    assert pairs[2].right == "HD 3,5 4TB IRONWOLF PRO SEAGATE | price: 129"
    assert pairs[1].metadata["groups"] == ["p:9932421", "p:26952087"]
    assert pairs[1].metadata["pair_id"] == "9932421#26952087" and pairs[1].metadata["is_hard_negative"] is True
    yn = list(src.records(rows, "match_yes_no", context()))
    assert [r.output for r in yn] == ["no", "no", "yes"] and all(r.options == ["yes", "no"] for r in yn)


def test_json_array_and_csv_forms(tmp_path):
    src = get_source("wdc_pairs_json")
    rows = src.read(_write(tmp_path, json.dumps(RECORDS), "gs_array.json"), ErrorLog())
    assert [r["label"].value for r in rows] == ["irrelevant", "partial", "exact"]
    csv_text = (
        "id_left,title_left,category_left,brand_left,modelno_left,price_left,cluster_id_left,id_right,title_right,"
        "category_right,brand_right,modelno_right,price_right,cluster_id_right,label,pair_id\n"
        "walmart_309,lenovo performance back pack,electronics - general,lenovo,41u5254,31.51,539,amazon_19291,"
        '"lenovo backpack - 15.4, black",,lenovo,41u5254,24.98,539,1,walmart_309#amazon_19291\n'
    )
    rows = src.read(_write(tmp_path, csv_text, "walmart-amazon-valid.csv"), ErrorLog())
    pair = next(src.records(rows, "pairs", context()))
    assert (
        pair.label is Label.exact
        and pair.right == "lenovo backpack - 15.4, black | brand: lenovo | modelno: 41u5254 | price: 24.98"
    )


def test_pair_id_and_groups_without_ids(tmp_path):
    line = json.dumps({"title_left": "USB Cable 1m", "title_right": "usb  cable 1M", "label": "1"}) + "\n"
    rows = get_source("wdc_pairs_json").read(_write(tmp_path, line), ErrorLog())
    assert rows[0]["groups"] == ["p:usb cable 1m", "p:usb cable 1m"] and rows[0]["pair_id"] == ""


def test_demo_subset_runs_every_view(demo_data):
    src = get_source("wdc_pairs_json")
    rows = src.read(demo_data / "tailormatch_wdcproducts_em/walmart-amazon/walmart-amazon-gs.json.gz", ErrorLog())
    views = every_view(src, rows)
    for name, records in views.items():
        assert len(records) == len(rows) >= 50, name
    assert {p.label.value for p in views["pairs"]} == {"exact", "irrelevant"}


BAD_CASES = {
    "missing file": (None, "file, field '-': file not found"),
    "empty file": ("", "file, field '-': file is empty"),
    "not gzip": (b"not gzip", "file, field '-': not a valid gzip file"),
    "no attributes": (jsonl([{"id": 1, "label": 1}]), "field '<attr>_left/<attr>_right': missing column"),
    "unknown label": (jsonl([*RECORDS, {**RECORDS[0], "label": 2}]), "row 4, field 'label': unknown label 2"),
    "missing label": (
        jsonl([*RECORDS, {k: v for k, v in RECORDS[0].items() if k != "label"}]),
        "row 4, field 'label': empty value",
    ),
    "bad hard-negative flag": (
        jsonl([*RECORDS, {**RECORDS[0], "is_hard_negative": "maybe"}]),
        "row 4, field 'is_hard_negative': not a boolean",
    ),
    "empty offer": (
        jsonl([*RECORDS, {**RECORDS[0], **_offer("right", 5, None)}]),
        "row 4, field 'title_right': every attribute of this offer is empty",
    ),
    "cut off line": (GOOD + json.dumps(RECORDS[0])[:60], "row 4, field '-': invalid JSON"),
    "not an object": (GOOD + "[1, 2]\n", "row 4, field '-': expected a JSON object"),
    "wrong encoding": (
        GOOD.encode() + '{"title_left": "caf\xe9"}\n'.encode("latin-1"),
        "row 4, field '-': wrong encoding",
    ),
    "csv missing label": ("title_left,title_right\na,b\n", "field 'label': missing column"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_raises_data_error(tmp_path, case):
    content, expected = BAD_CASES[case]
    name = {"not gzip": "bad.json.gz", "csv missing label": "bad.csv"}.get(case, "bad.json")
    assert_read_error("wdc_pairs_json", write(tmp_path / name, content), expected)  # "not gzip": not compressed


def test_skip_counts_bad_rows(tmp_path):
    text = jsonl([RECORDS[0], {**RECORDS[1], "label": "x"}, RECORDS[2]]) + '{"title_left": '
    assert_skips("wdc_pairs_json", _write(tmp_path, text, "gs.json.gz"), 2, "row 2, field 'label'", "row 4")
