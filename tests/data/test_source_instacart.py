"""Instacart adapter: folder and file paths, aisle/department labels, the four views and bad input."""

from collections import Counter

import pytest

from shoptune.data.errorlog import ErrorLog
from shoptune.data.sources.instacart import Instacart

from .helpers import assert_read_error, assert_skips, assert_splits_fill, context, every_view, write

AISLES = (
    '"aisle_id","aisle"\n1,"prepared soups salads"\n3,"energy granola bars"\n31,"refrigerated"\n'
    '61,"cookies cakes"\n100,"missing"\n107,"chips pretzels"\n115,"water seltzer sparkling water"\n'
)
DEPARTMENTS = '"department_id","department"\n7,"beverages"\n19,"snacks"\n20,"deli"\n21,"missing"\n'
HEADER = '"product_id","product_name","aisle_id","department_id"\n'
PRODUCTS = HEADER + (
    '1,"Chocolate Sandwich Cookies",61,19\n'
    '10,"Sparkling Orange Juice & Prickly Pear Beverage",115,7\n'
    '11,"Peach Mango Juice",31,7\n'
    '38,"Ultra Antioxidant Water",115,7\n'
    '45,"European Cucumber",100,21\n'  # the placeholder aisle: read, but left out of the views
    '60,"Cheesy Creations Roasted Garlic Parmesan Sauce",1,20\n'
    '79,"Wild Albacore Tuna No Salt Added, ""Dolphin Safe""",1,20\n'  # comma and doubled quotes
    '102,"Danish Butter Cookies",61,19\n'
    '125,"Organic Crème Fraîche",31,7\n'
    '160,"Honey Nut Granola Bar",3,19\n'
    '170,"Sea Salt Kettle Chips",107,19\n'
)


def _folder(tmp_path, products=PRODUCTS, aisles=AISLES, departments=DEPARTMENTS):
    """The three Instacart files (text, bytes, or None to leave one out) in ``tmp_path/instacart``."""
    folder = tmp_path / "instacart"
    folder.mkdir(exist_ok=True)
    for name, content in (("products.csv", products), ("aisles.csv", aisles), ("departments.csv", departments)):
        write(folder / name, content)
    return folder


def test_reads_folder_or_products_file_alike(tmp_path):
    folder = _folder(tmp_path)
    rows = Instacart().read(folder, ErrorLog())
    assert len(rows) == 11
    assert rows[0]["aisle"] == "cookies cakes" and rows[0]["department"] == "snacks"
    assert rows[6]["name"] == 'Wild Albacore Tuna No Salt Added, "Dolphin Safe"'
    assert rows[8]["name"] == "Organic Crème Fraîche"
    again = Instacart().read(folder / "products.csv", ErrorLog())
    assert [r["product_id"] for r in again] == [r["product_id"] for r in rows]


def test_product_aisle_labels(tmp_path):
    src = Instacart()
    rows = src.read(_folder(tmp_path), ErrorLog())
    pairs = list(src.records(rows, "product_aisle", context()))
    department_of = {
        "cookies cakes": "snacks",
        "energy granola bars": "snacks",
        "chips pretzels": "snacks",
        "refrigerated": "beverages",
        "water seltzer sparkling water": "beverages",
        "prepared soups salads": "deli",
    }
    own = {r["name"]: r for r in rows}
    assert "European Cucumber" not in {p.left for p in pairs}  # 'missing' is not a category
    assert "missing" not in {p.right for p in pairs}
    for p in pairs:
        row = own[p.left]
        if p.label == "exact":
            assert p.right == row["aisle"]
        elif p.label == "partial":
            assert p.right != row["aisle"] and department_of[p.right] == row["department"]
        else:
            assert department_of[p.right] != row["department"]
    labels = Counter(p.label.value for p in pairs)
    assert labels == {"exact": 10, "irrelevant": 10, "partial": 8}  # deli has one aisle: no partial
    cookies = next(p for p in pairs if p.left == "Chocolate Sandwich Cookies")
    assert cookies.metadata["groups"] == ["p:chocolate sandwich cookies"]


def test_aisle_type_similarity_uses_each_product_once(tmp_path):
    src = Instacart()
    rows = src.read(_folder(tmp_path), ErrorLog())
    pairs = list(src.records(rows, "aisle_type_similarity", context(seed=3)))
    assert pairs and {p.label.value for p in pairs} <= {"exact", "partial", "irrelevant"}
    for p in pairs:
        same_aisle = p.metadata["left_aisle"] == p.metadata["right_aisle"]
        assert same_aisle == (p.label == "exact")
    rights = [p.right for p in pairs]
    assert len(set(rights)) == len(rights) and not set(rights) & {p.left for p in pairs}


def test_instruction_views(tmp_path):
    src = Instacart()
    rows = src.read(_folder(tmp_path), ErrorLog())
    mc = list(src.records(rows, "aisle_mc", context(options=4)))
    assert len(mc) == 10 and all(m.output in m.options and len(set(m.options)) == len(m.options) for m in mc)
    cookies = next(m for m in mc if "Chocolate Sandwich" in m.input)
    assert cookies.output == "cookies cakes" and len(cookies.options) == 4
    cls = list(src.records(rows, "department_cls", context()))
    assert cls[0].options == ["beverages", "deli", "snacks"]  # the label set, without 'missing'
    assert {c.output for c in cls} == {"beverages", "deli", "snacks"}


def test_demo_subset_runs_every_view(demo_data):
    src = Instacart()
    rows = src.read(demo_data / "instacart_products_subset", ErrorLog())
    for name, records in every_view(src, rows, seed=13).items():
        assert_splits_fill(records, (0.8, 0.1, 0.1), name)


BAD_CASES = {
    "missing products file": ({"products": None}, "products.csv: file, field '-': file not found"),
    "missing aisles file": ({"aisles": None}, "aisles.csv: file, field '-': file not found"),
    "empty products file": ({"products": ""}, "products.csv: file, field '-': file is empty"),
    "aisles without rows": ({"aisles": '"aisle_id","aisle"\n'}, "aisles.csv: file, field 'aisle_id': no rows"),
    "missing column": (
        {"products": HEADER.replace(',"department_id"', "") + '1,"Cookies",61\n'},
        "products.csv: file, field 'department_id': missing column",
    ),
    "unknown aisle": (
        {"products": PRODUCTS + '200,"Kale Chips",999,19\n'},
        "products.csv: row 12, field 'aisle_id': unknown label '999'",
    ),
    "unknown department": (
        {"products": PRODUCTS + '200,"Kale Chips",107,42\n'},
        "products.csv: row 12, field 'department_id': unknown label '42'",
    ),
    "row cut off mid-field": ({"products": PRODUCTS + '200,"Kale Ch'}, "products.csv: row 12, field '-': row cut off"),
    "row cut off": (
        {"products": PRODUCTS + '200,"Kale Chips"\n'},
        "products.csv: row 12, field 'aisle_id': row cut off: 2 of 4 fields",
    ),
    "empty name": ({"products": PRODUCTS + '200,"",107,19\n'}, "products.csv: row 12, field 'product_name': empty"),
    "duplicate product": (
        {"products": PRODUCTS + '1,"Kale Chips",107,19\n'},
        "products.csv: row 12, field 'product_id': duplicate product_id 1",
    ),
    "duplicate aisle id": ({"aisles": AISLES + '61,"cookies"\n'}, "aisles.csv: row 8, field 'aisle_id': duplicate"),
    "wrong encoding": ({"products": PRODUCTS.encode("latin-1")}, "products.csv: row 10, field '-': wrong encoding"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_raises_data_error(tmp_path, case):
    change, expected = BAD_CASES[case]
    assert_read_error(Instacart(), _folder(tmp_path, **change), expected)


def test_skip_mode_skips_and_counts_bad_rows(tmp_path):
    folder = _folder(tmp_path, PRODUCTS + '200,"Kale Chips",999,19\n201,"Pita Chips",107,19\n')
    assert_skips(Instacart(), folder, 12, "row 12, field 'aisle_id'")
