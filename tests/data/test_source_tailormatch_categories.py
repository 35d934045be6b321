"""tailormatch_categories adapter: category clean-up, related categories, both views and bad inputs."""

import pytest

from shoptune.data.errorlog import ErrorLog
from shoptune.data.sources import get_source
from shoptune.data.sources.tailormatch_categories import category_key, category_text, related
from shoptune.errors import DataError

from .helpers import assert_skips, bad_input_test, context, every_view, write

GOOD = (
    ",id,name,category\n"
    "0,abt_730,lg 24 ' lds4821ww semi integrated built in white dishwasher lds4821wh,Home_and_Garden\n"
    "1,abt_670,speck seethru clear hard shell case for macbook air mbaclrsee,Computers_and_Accessories\n"
    "2,abt_497,denon blu-ray disc dvd/cd player dvd3800bdci,'Other_Electronics'\n"
    "3,abt_464,sony silver minidv handycam camcorder dcrhc52,Camera_and_Photo\n"
    '4,buy_12,"garmin nuvi 350, portable gps",Automotive\n'
    "5,amazon_1229,adobe photoshop cs2 advanced techniques by julieanne kost,Books\n"
    "6,google_7,Adobe Photoshop CS2 Advanced Techniques  by Julieanne Kost,Computers_and_Accessories\n"
    "7,google_9,restricted area,Others\n"
    "8,buy_99,nintendo wii fit balance board,Video_Games\n"
    "9,buy_98,lego star wars the complete saga,Toys_and_Games\n"
)


def test_category_helpers():
    assert category_text("'Other_Electronics'") == "Other Electronics"
    assert category_key("Camera & Photo") == category_key("Camera_and_Photo") == "camera_and_photo"
    assert related("Home and Garden", "Tools_and_Home_Improvement")
    assert related("Toys and Games", "Video Games") and related("Books", "Video Games")
    assert not related("Books", "Automotive") and not related("Books", "Books")
    assert not related("Unknown Thing", "Books")


def test_product_category_labels(tmp_path):
    src = get_source("tailormatch_categories")
    rows = src.read(write(tmp_path / "complete.csv", GOOD), ErrorLog())
    assert len(rows) == 10 and rows[2]["category"] == "Other Electronics"
    pairs = list(src.records(rows, "product_category", context(negatives=2)))
    assert {p.label.value for p in pairs} == {"exact", "partial", "irrelevant"}
    assert "restricted area" not in {p.left for p in pairs} and "Others" not in {p.right for p in pairs}
    for p in pairs:
        own = {q.right for q in pairs if q.left == p.left and q.label.value == "exact"}
        if p.label.value == "partial":
            assert p.right not in own and any(related(p.right, o) for o in own)
        if p.label.value == "irrelevant":
            assert p.right not in own and not any(related(p.right, o) for o in own)
    # One product filed twice (Books / Computers) is one product with two exact categories.
    kost = [p for p in pairs if p.left.lower().startswith("adobe photoshop cs2")]
    assert sorted(p.right for p in kost if p.label.value == "exact") == ["Books", "Computers and Accessories"]
    assert len({p.left for p in kost}) == 1 and kost[0].metadata["groups"][0].startswith("p:adobe photoshop")


def test_category_mc(tmp_path):
    src = get_source("tailormatch_categories")
    rows = src.read(write(tmp_path / "complete.csv", GOOD), ErrorLog())
    mc = list(src.records(rows, "category_mc", context(options=4)))
    assert len(mc) == 7  # 10 rows - catch-all - the name filed under two categories (2 rows)
    for rec in mc:
        assert len(set(rec.options)) == 4 and rec.output in rec.options and "Others" not in rec.options
    assert {rec.options.index(rec.output) for rec in mc} != {0}  # shuffled


def test_folder_of_category_files(tmp_path):
    folder = tmp_path / "categories"
    folder.mkdir()
    write(folder / "a.csv", GOOD)
    write(folder / "b.csv", ",id,name,category\n0,x_1,usb hub 4 port,Computers_and_Accessories\n")
    rows = get_source("tailormatch_categories").read(folder, ErrorLog())
    assert len(rows) == 11
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="folder holds no"):
        get_source("tailormatch_categories").read(empty, ErrorLog())


def test_demo_subset_runs_every_view(demo_data):
    src = get_source("tailormatch_categories")
    for rel in ("abt-buy/categories/v2_complete.csv", "amazon-google/categories/complete.csv"):
        rows = src.read(demo_data / "tailormatch_wdcproducts_em" / rel, ErrorLog())
        views = every_view(src, rows)
        for name, records in views.items():
            assert len(records) >= 100, (rel, name)
        assert {p.label.value for p in views["product_category"]} == {"exact", "partial", "irrelevant"}


BAD_CASES = {
    "missing file": (None, "file, field '-': file not found"),
    "empty file": ("", "file, field '-': file is empty"),
    "missing column": (",id,name\n0,a,b\n", "field 'category': missing column"),
    "empty category": (GOOD + "10,x_1,usb hub,\n", "row 11, field 'category': empty value"),
    "quotes only": (GOOD + "10,x_1,usb hub,''\n", "row 11, field 'category': empty category"),
    "duplicate id": (GOOD + "10,abt_730,usb hub,Office_Products\n", "row 11, field 'id': duplicate id"),
    "empty name": (GOOD + "10,x_1,,Office_Products\n", "row 11, field 'name': empty value"),
    "cut off row": (GOOD + "10,x_1,usb hub\n", "row 11, field 'category': row cut off"),
    "cut off mid-field": (GOOD + '10,x_1,"usb hub', "row 11, field '-': row cut off mid-field"),
    "wrong encoding": (
        ",id,name,category\n0,a_1,caf\xe9 cr\xe8me maker,Home_and_Garden\n".encode("latin-1"),
        "row 2, field '-': wrong encoding",
    ),
}


test_bad_input_raises_data_error = bad_input_test("tailormatch_categories", "bad.csv", BAD_CASES)


def test_skip_counts_bad_rows(tmp_path):
    path = write(tmp_path / "complete.csv", GOOD + "10,abt_730,dup,Books\n")
    assert_skips("tailormatch_categories", path, 10, "row 11, field 'id'")
