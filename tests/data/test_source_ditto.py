"""Ditto adapter: the COL/VAL parser, exact/irrelevant pairs, the yes/no view and bad inputs."""

from shoptune.data.errorlog import ErrorLog
from shoptune.data.sources import get_source
from shoptune.data.sources.ditto import clean_value, parse_entity

from .helpers import assert_skips, bad_input_test, context, every_view, write

STRUCTURED = (
    "COL title VAL microsoft visio standard 2007 COL manufacturer VAL microsoft COL price VAL 129.95 \t"
    "COL title VAL adobe cs3 design standard upgrade COL manufacturer VAL  COL price VAL 413.99 \t0\n"
    "COL title VAL sony 16gb class 4 sd card COL manufacturer VAL sony COL price VAL 0.0 \t"
    "COL title VAL sony sf16n4/tqp 16 gb sdhc COL manufacturer VAL  COL price VAL 19.99 \t1\n"
)
TEXTUAL = (  # a description containing the word COL that does not start an attribute
    "COL name VAL lg microwave lmvm2085wh COL description VAL fits COL 30 cabinets , COL price VAL  \t"
    "COL name VAL lg lmvm2085wh over-the-range microwave COL description VAL  COL price VAL 299.0 \t1\n"
)
WDC = (
    'COL title VAL  "GoPro HDMI Cable"@en Cable AHDMC-301 - Filmtools"@en\t'
    'COL title VAL  "GoPro Headstrap Plus Quickclip"@en-US Quickclip | Sportsman\'s Warehouse"@en\t0\n'
)
GOOD = STRUCTURED + TEXTUAL + WDC


def test_parse_entity():
    assert parse_entity("COL title VAL usb cable COL brand VAL  COL price VAL 4.99 ") == {
        "title": "usb cable",
        "brand": "",
        "price": "4.99",
    }
    assert parse_entity("COL name VAL hub COL description VAL 4 port COL blue , COL value") == {
        "name": "hub",
        "description": "4 port COL blue , COL value",
    }
    assert parse_entity("COL title VAL a COL title VAL b") == {"title": "a b"}
    assert parse_entity("COL title VAL ") == {"title": ""}
    assert parse_entity("title: usb cable") is None
    assert parse_entity("junk COL title VAL x") is None
    assert clean_value('"Nike Metcon 2"@en-GB " Nike Mens Shoes "@en') == "Nike Metcon 2 Nike Mens Shoes"


def test_reads_every_variant(tmp_path):
    rows = get_source("ditto").read(write(tmp_path / "train.txt", GOOD + "\n"), ErrorLog())  # a trailing blank line
    assert len(rows) == 4
    assert rows[0]["right"] == {"title": "adobe cs3 design standard upgrade", "manufacturer": "", "price": "413.99"}
    assert rows[2]["left"]["description"] == "fits COL 30 cabinets ,"
    assert rows[3]["left"]["title"] == "GoPro HDMI Cable Cable AHDMC-301 - Filmtools"
    assert [r["_row"] for r in rows] == [1, 2, 3, 4]


def test_pairs_and_yes_no(tmp_path):
    src = get_source("ditto")
    rows = src.read(write(tmp_path / "train.txt", GOOD), ErrorLog())
    pairs = list(src.records(rows, "pairs", context()))
    assert [p.label.value for p in pairs] == ["irrelevant", "exact", "exact", "irrelevant"]
    assert pairs[0].left == "microsoft visio standard 2007 | manufacturer: microsoft | price: 129.95"
    assert "price" not in pairs[1].left  # a 0.0 price means unknown
    assert pairs[0].metadata["groups"] == ["p:microsoft visio standard 2007", "p:adobe cs3 design standard upgrade"]
    yn = list(src.records(rows, "match_yes_no", context(max_chars=40)))
    assert [r.output for r in yn] == ["no", "yes", "yes", "no"] and yn[0].options == ["yes", "no"]
    assert all(len(line) <= len("Offer 1: ") + 42 for r in yn for line in r.input.splitlines())


def test_tab_inside_a_value_is_tolerated(tmp_path):
    line = "COL title VAL usb\tcable COL price VAL 1\tCOL title VAL usb cable\t1\n"
    rows = get_source("ditto").read(write(tmp_path / "train.txt", line), ErrorLog())
    assert rows[0]["left"]["title"] == "usb cable"


def test_demo_subset_runs_every_view(demo_data):
    src = get_source("ditto")
    files = sorted(p for p in (demo_data / "ditto_er_products").rglob("*.txt*") if "LICENSE" not in p.name)
    assert len(files) == 9
    for path in files:
        rows = src.read(path, ErrorLog())
        views = every_view(src, rows)
        for name, records in views.items():
            assert len(records) == len(rows) >= 15, (path, name)
        assert {p.label.value for p in views["pairs"]} == {"exact", "irrelevant"}


BAD_CASES = {
    "missing file": (None, "file, field '-': file not found"),
    "empty file": ("", "file, field '-': file is empty"),
    "unknown label": (STRUCTURED + "COL title VAL a\tCOL title VAL b\t2\n", "row 3, field 'label': unknown label '2'"),
    "cut off before label": (STRUCTURED + "COL title VAL a\tCOL title VAL b", "row 3, field 'label': row cut off"),
    "cut off before right": (STRUCTURED + "COL title VAL a\t1\n", "row 3, field 'right': row cut off"),
    "not COL/VAL": (STRUCTURED + "title: a\tCOL title VAL b\t1\n", "row 3, field 'left': not a 'COL <attr> VAL"),
    "all values empty": (
        STRUCTURED + "COL title VAL a\tCOL title VAL  COL price VAL \t1\n",
        "row 3, field 'right': every attribute value is empty",
    ),
    "too many fields": (
        STRUCTURED + "COL title VAL a\tCOL title VAL b\tCOL title VAL c\t1\n",
        "row 3, field '-': 4 tab-separated",
    ),
    "wrong encoding": (
        "COL title VAL caf\xe9 cr\xe8me\tCOL title VAL b\t0\n".encode("latin-1"),
        "row 1, field '-': wrong encoding",
    ),
}


test_bad_input_raises_data_error = bad_input_test("ditto", "bad.txt", BAD_CASES)


def test_skip_counts_bad_rows(tmp_path):
    path = write(tmp_path / "train.txt", STRUCTURED + "COL title VAL a\tCOL title VAL b\t7\n" + WDC)
    assert_skips("ditto", path, 3, "row 3, field 'label'")
