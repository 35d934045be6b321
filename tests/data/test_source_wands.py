"""WANDS adapter: TAB query file + silver enriched paths, class placement, the two views and bad input."""

import pytest

from shoptune.data.errorlog import ErrorLog
from shoptune.data.sources.wands import Wands, class_paths, content_words

from .helpers import assert_read_error, assert_skips, assert_splits_fill, context, every_view, write

HEADER = "query_id\tquery\tquery_class\n"
QUERIES = HEADER + (
    "0\tsalon chair\tMassage Chairs\n"
    "3\tturquoise pillows\tAccent Pillows\n"
    "4\tchair and a half recliner\tRecliners\n"
    "11\tombre rug\tArea Rugs\n"
    "26\tleather chairs\tAccent Chairs\n"
    "81\torren ellis l shape desk\tDesks\n"
    "197\tdesk for kids tjat ate 10 year old\t\n"  # an empty class, as in the real file
    "2\tdinosaur\tKids Wall Décor\n"
)
# Real rows (query_classification shortened to fewer paths), with the real quirks: trailing spaces in the
# category columns, quoted fields with commas, "unknown" placeholders, a query without silver paths.
ENRICHED = (
    "query,room,item_type_same,branded_terms,category hierarchy,product_class,category,sub_category,materials,"
    "item_type_unconstrained,query_classification,corrected_query\n"
    "chair and a half recliner,living room,recliner,unknown,Furniture / Living Room Furniture / Chairs & Seating"
    " / Recliners,Recliners,Furniture , Living Room Furniture ,unknown,No Category Fits,Furniture / Living Room "
    "Furniture / Chairs & Seating / Recliners sep Furniture / Living Room Furniture / Sectionals,"
    "chair and a half recliner\n"
    "leather chairs,unknown,unknown,unknown,unknown,unknown,Furniture ,unknown,unknown,No Category Fits,Furniture "
    "/ Living Room Furniture / Chairs & Seating / Chaise Lounge Chairs sep Furniture / Living Room Furniture / "
    "Chairs & Seating / Accent Chairs,leather chairs\n"
    "ombre rug,unknown,area rug,unknown,unknown,Area Rugs,Rugs ,unknown,unknown,area rug,Rugs / Area Rugs sep Rugs"
    " / Doormats sep Rugs / Area Rugs / 3' x 5' Area Rugs,ombre rug\n"
    "orren ellis l shape desk,office,desk,unknown,Furniture / Office Furniture / Desks,Desks,Furniture , Office "
    "Furniture ,unknown,No Category Fits,Furniture / Office Furniture / Desks sep Furniture / Office Furniture / "
    "Chair Mats,orren ellis l shaped desk\n"
    "salon chair,unknown,unknown,unknown,unknown,unknown,unknown,unknown,unknown,No Category Fits,Furniture / "
    "Living Room Furniture / Chairs & Seating / Massage Chairs sep Furniture / Office Furniture / Desks,salon chair\n"
    "turquoise pillows,unknown,unknown,unknown,unknown,Accent Pillows,Décor & Pillows , Decorative Pillows & "
    "Blankets ,unknown,No Category Fits,Décor & Pillows / Decorative Pillows & Blankets / Throw Pillows sep Décor "
    "& Pillows / Wall Décor / Wall Accents,turquoise pillows\n"
    'dinosaur,kids room,unknown,unknown,unknown,unknown,unknown,unknown,unknown,"Wall Art, Kids",,dinosaur\n'
)


def _folder(tmp_path, queries=QUERIES, enriched=ENRICHED):
    """query.csv and its enriched file (text, bytes, or None to leave one out) in ``tmp_path/wands``."""
    folder = tmp_path / "wands"
    folder.mkdir(exist_ok=True)
    write(folder / "query.csv", queries)
    write(folder / "query_attributes_llm_enriched.csv", enriched)
    return folder


def test_reads_tab_file_with_silver_paths(tmp_path):
    folder = _folder(tmp_path)
    rows = Wands().read(folder, ErrorLog())
    assert len(rows) == 8 and rows[7]["query_class"] == "Kids Wall Décor"
    assert rows[6]["query_class"] is None  # empty class kept, left out by the views
    assert rows[3]["paths"][0] == ("Rugs", "Area Rugs") and rows[7]["paths"] == []
    again = Wands().read(folder / "query.csv", ErrorLog())  # the query file itself: enriched file beside it
    assert [r["paths"] for r in again] == [r["paths"] for r in rows]


def test_class_placement_uses_the_segment_naming_the_class(tmp_path):
    placed = class_paths(Wands().read(_folder(tmp_path), ErrorLog()))
    assert placed["Massage Chairs"] == ("Furniture", "Living Room Furniture", "Chairs & Seating", "Massage Chairs")
    assert placed["Desks"] == ("Furniture", "Office Furniture", "Desks")
    assert placed["Area Rugs"] == ("Rugs", "Area Rugs")
    assert "Kids Wall Décor" not in placed  # its only query has no silver paths
    assert content_words("Cabinet and Drawer Pulls") == content_words("cabinet & drawer pull")


def test_query_class_labels(tmp_path):
    src = Wands()
    rows = src.read(_folder(tmp_path), ErrorLog())
    pairs = list(src.records(rows, "query_class", context()))
    by_query = {}
    for p in pairs:
        by_query.setdefault(p.left, {})[p.label.value] = p.right
    assert "desk for kids tjat ate 10 year old" not in by_query
    assert by_query["salon chair"]["exact"] == "Massage Chairs"
    assert by_query["salon chair"]["partial"] in {"Recliners", "Accent Chairs"}  # same department / category
    assert by_query["salon chair"]["irrelevant"] in {"Area Rugs", "Accent Pillows", "Kids Wall Décor"}
    assert by_query["leather chairs"]["irrelevant"] in {"Area Rugs", "Kids Wall Décor"}  # not "Accent Pillows"
    assert "partial" not in by_query["ombre rug"]  # no other class under Rugs / Area Rugs
    assert all(p.metadata["groups"] == [f"q:{p.left}"] for p in pairs)


def test_query_class_without_enriched_file_has_no_partials(tmp_path):
    src = Wands()
    rows = src.read(_folder(tmp_path, enriched=None), ErrorLog())
    labels = {p.label.value for p in src.records(rows, "query_class", context())}
    assert labels == {"exact", "irrelevant"}


def test_query_class_cls(tmp_path):
    src = Wands()
    rows = src.read(_folder(tmp_path), ErrorLog())
    items = list(src.records(rows, "query_class_cls", context(options=3)))
    assert len(items) == 7
    for item in items:
        assert item.output in item.options and 2 <= len(item.options) <= 3
    salon = next(i for i in items if i.input == "Query: salon chair")
    assert not {"Recliners", "Accent Chairs", "Desks"} & set(salon.options)  # no second plausible answer


def test_demo_subset_runs_every_view(demo_data):
    src = Wands()
    rows = src.read(demo_data / "wands_queries", ErrorLog())
    for name, records in every_view(src, rows, seed=13).items():
        assert_splits_fill(records, (0.6, 0.2, 0.2), name)


BAD_CASES = {
    "missing file": ({"queries": None}, "query.csv: file, field '-': file not found"),
    "empty file": ({"queries": ""}, "query.csv: file, field '-': file is empty"),
    "missing column": ({"queries": "query_id\tquery\n0\tsalon chair\n"}, "field 'query_class': missing column"),
    "comma-separated": ({"queries": QUERIES.replace("\t", ",")}, "field 'query_id': missing column"),
    "row cut off": ({"queries": QUERIES + "5\tfloor lamp\n"}, "row 9, field 'query_class': row cut off"),
    "empty query": ({"queries": QUERIES + "5\t\tTable Lamps\n"}, "row 9, field 'query': empty value"),
    "duplicate id": ({"queries": QUERIES + "0\tfloor lamp\tFloor Lamps\n"}, "row 9, field 'query_id': duplicate"),
    "wrong encoding": ({"queries": QUERIES.encode("latin-1")}, "query.csv: row 9, field '-': wrong encoding"),
    "enriched missing column": (
        {"enriched": "query,room\nsalon chair,unknown\n"},
        "query_attributes_llm_enriched.csv: file, field 'query_classification'",
    ),
    "enriched cut off": (
        {"enriched": ENRICHED + 'salon chair,"unknown'},
        "query_attributes_llm_enriched.csv: row 8, field '-': row cut off",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_raises_data_error(tmp_path, case):
    change, expected = BAD_CASES[case]
    assert_read_error(Wands(), _folder(tmp_path, **change), expected)


def test_skip_mode_skips_and_counts_bad_rows(tmp_path):
    folder = _folder(tmp_path, QUERIES + "5\tfloor lamp\n6\tfloor lamps\tFloor Lamps\n")
    assert_skips(Wands(), folder, 9, "row 9, field 'query_class'")
