"""Google Product Taxonomy adapter: the tree-distance labels, split safety, parent MC and bad input."""

from shoptune.data.errorlog import ErrorLog
from shoptune.data.sources.google_taxonomy import GoogleTaxonomy
from shoptune.data.splits import pooled_split

from .helpers import assert_skips, assert_splits_fill, bad_input_test, context, every_view, write

# Real rows of the 2021-09-21 file; like the original, no newline after the last row.
GOOD = "\n".join(
    [
        "# Google_Product_Taxonomy_Version: 2021-09-21",
        "1 - Animals & Pet Supplies",
        "3237 - Animals & Pet Supplies > Live Animals",
        "2 - Animals & Pet Supplies > Pet Supplies",
        "3 - Animals & Pet Supplies > Pet Supplies > Bird Supplies",
        "4989 - Animals & Pet Supplies > Pet Supplies > Bird Supplies > Bird Cages & Stands",
        "4990 - Animals & Pet Supplies > Pet Supplies > Bird Supplies > Bird Food",
        "4992 - Animals & Pet Supplies > Pet Supplies > Bird Supplies > Bird Toys",
        "4 - Animals & Pet Supplies > Pet Supplies > Cat Supplies",
        "4433 - Animals & Pet Supplies > Pet Supplies > Cat Supplies > Cat Beds",
        "3367 - Animals & Pet Supplies > Pet Supplies > Cat Supplies > Cat Food",
        "412 - Food, Beverages & Tobacco",
        "413 - Food, Beverages & Tobacco > Beverages",
        "1868 - Food, Beverages & Tobacco > Beverages > Coffee",
        "2887 - Food, Beverages & Tobacco > Beverages > Juice",
        "2073 - Food, Beverages & Tobacco > Beverages > Tea & Infusions",
        "",
        "436 - Furniture",
        "554 - Furniture > Baby & Toddler Furniture",
        "6393 - Furniture > Baby & Toddler Furniture > Bassinets & Cradles",
        "558 - Furniture > Baby & Toddler Furniture > Changing Tables",
        "559 - Furniture > Baby & Toddler Furniture > High Chairs & Booster Seats",
        "6433 - Furniture > Beds & Accessories",
        "505764 - Furniture > Beds & Accessories > Beds & Bed Frames",
        "451 - Furniture > Beds & Accessories > Headboards & Footboards",
    ]
)


def _write(tmp_path, text):
    return write(tmp_path / "taxonomy-with-ids.en-US.txt", text)


def test_reads_rows_skipping_header_and_blank_lines(tmp_path):
    rows = GoogleTaxonomy().read(_write(tmp_path, GOOD), ErrorLog())
    assert len(rows) == 23
    assert rows[0]["id"] == "1" and rows[0]["path"] == ("Animals & Pet Supplies",)
    assert rows[11]["path"] == ("Food, Beverages & Tobacco", "Beverages")  # a comma inside a name
    assert rows[-1]["_row"] == 25  # file lines: the header is line 1, a blank line is skipped


def test_type_similarity_labels_follow_tree_distance(tmp_path):
    src = GoogleTaxonomy()
    rows = src.read(_write(tmp_path, GOOD), ErrorLog())
    pairs = list(src.records(rows, "type_similarity", context(unit_nodes=40, units_per_block=2)))
    assert {p.label.value for p in pairs} == {"exact", "partial", "irrelevant"}
    for p in pairs:
        a, b = (tuple(x.split(" > ")) for x in (p.metadata["left_path"], p.metadata["right_path"]))
        assert p.left == a[-1] and p.right == b[-1]  # names only: the paths would give the answer away
        if p.label == "exact":
            assert (a[:-1] == b or b[:-1] == a) and min(len(a), len(b)) >= 2
        elif p.label == "partial":
            assert a[:2] == b[:2] and a[: len(b)] != b and b[: len(a)] != a
        else:
            assert a[0] != b[0]
    assert len({frozenset((p.left, p.right)) for p in pairs}) == len(pairs)  # no pair twice


def test_type_similarity_never_puts_a_category_in_two_splits(tmp_path):
    src = GoogleTaxonomy()
    rows = src.read(_write(tmp_path, GOOD), ErrorLog())
    pairs = list(src.records(rows, "type_similarity", context(unit_nodes=3)))
    split_of = {}
    # the task's unit key alone (its first group) keeps a category on one side, before any pooling
    first = [p.model_copy(update={"metadata": {**p.metadata, "groups": p.metadata["groups"][:1]}}) for p in pairs]
    for name, records in pooled_split({"t": first}, seed=1, ratios=(0.5, 0.25, 0.25)).splits["t"].items():
        for p in records:
            for category in (p.left, p.right):
                assert split_of.setdefault(category, name) == name, category


def test_parent_mc(tmp_path):
    src = GoogleTaxonomy()
    rows = src.read(_write(tmp_path, GOOD), ErrorLog())
    items = list(src.records(rows, "parent_mc", context(options=4)))
    assert len(items) == 20  # every non-top-level category
    by_input = {i.input: i for i in items}
    cats = by_input["Category: Cat Beds"]
    assert cats.output == "Cat Supplies" and cats.output in cats.options
    assert "Bird Supplies" in cats.options  # a sibling of the parent is the hard distractor
    assert not {"Pet Supplies", "Animals & Pet Supplies", "Cat Beds"} & set(cats.options)
    for item in items:
        assert 2 <= len(item.options) <= 4 and len(set(item.options)) == len(item.options)
    assert by_input["Category: Beverages"].output == "Food, Beverages & Tobacco"


def test_demo_subset_runs_every_view(demo_data):
    src = GoogleTaxonomy()
    rows = src.read(demo_data / "google_product_taxonomy" / "taxonomy-with-ids.en-US.txt", ErrorLog())
    for name, records in every_view(src, rows, seed=13).items():
        assert_splits_fill(records, (0.8, 0.1, 0.1), name)


BAD_CASES = {
    "missing file": (None, "file, field '-': file not found"),
    "empty file": ("", "file, field '-': file is empty"),
    "only the header": ("# Google_Product_Taxonomy_Version: 2021-09-21\n", "file, field '-': no category rows"),
    "wrong encoding": (
        GOOD.replace("Bird Supplies", "Bird Suppliés", 1).encode("latin-1"),
        "row 5, field '-': wrong encoding",
    ),
    "no id separator": (GOOD + "\n5000 Animals & Pet Supplies > Toys", "row 26, field 'id': row cut off or malformed"),
    "id not a number": (GOOD + "\nx12 - Furniture > Sofas", "row 26, field 'id': not a number: 'x12'"),
    "row cut off mid-path": (GOOD + "\n5001 - Furniture > ", "row 26, field 'path': empty category name"),
    "row cut off after id": (GOOD + "\n5001 -", "row 26, field 'id': row cut off or malformed"),
    "duplicate id": (GOOD + "\n436 - Furniture > Sofas", "row 26, field 'id': duplicate id 436"),
    "duplicate category": (GOOD + "\n9999 - Furniture", "row 26, field 'path': duplicate category 'Furniture'"),
}


test_bad_input_raises_data_error = bad_input_test(GoogleTaxonomy(), "bad.txt", BAD_CASES)


def test_skip_mode_skips_and_counts_bad_rows(tmp_path):
    path = _write(tmp_path, GOOD + "\nx12 - Furniture > Sofas\n5001 - Furniture > ")
    assert_skips(GoogleTaxonomy(), path, 23, "row 26", "row 27")
