"""pqa_data_to_text adapter: semiPQA data-to-text TSVs (attribute notation -> sentence)."""

from shoptune.data.errorlog import ErrorLog
from shoptune.data.sources import get_source
from shoptune.data.sources.pqa_data_to_text import attribute_name

from .helpers import assert_skips, bad_input_test, context, every_view, write

HEADER = "data\ttext\n"
GOOD = HEADER + (
    '"brand: { value:""CHANEL"" }"\tThe brand is Chanel.\n'
    "audio_sensitivity: { unit:decibels, value:121.0 }\tThe product has an audio sensitivity of 121 decibels.\n"
    'item_package_dimensions: { length:{ unit:centimeters, value:10.16 } }\t"The package is 4.0"" long."\n'
    "lens: { }\t\n"
)


def test_attribute_name():
    assert attribute_name('brand: { value:"Nike" }') == "brand"


def test_reads_rows_and_skips_empty_attribute(tmp_path):
    src = get_source("pqa_data_to_text")
    rows = src.read(write(tmp_path / "train.csv", GOOD), ErrorLog())
    assert len(rows) == 3  # `lens: { }` with no sentence has nothing to verbalise
    recs = list(src.records(rows, "data_to_text", context()))
    assert recs[0].input == 'brand: { value:"CHANEL" }' and recs[0].output == "The brand is Chanel."
    assert recs[2].output == 'The package is 4.0" long.' and recs[2].metadata["attribute"] == "item_package_dimensions"
    assert recs[1].metadata["groups"] == ["d:audio_sensitivity: { unit:decibels, value:121.0 }"]


def test_demo_subset_runs_every_view(demo_data):
    src = get_source("pqa_data_to_text")
    for split, least in (("train", 30), ("dev", 5), ("test_seen", 5), ("test_unseen", 5)):
        rows = src.read(demo_data / "amazon_contextual_pqa/semiPQA/data-to-text" / f"{split}.csv", ErrorLog())
        for name, records in every_view(src, rows).items():
            assert len(records) >= least, (split, name)


BAD_CASES = {
    "missing file": (None, "file, field '-': file not found"),
    "empty file": ("", "file, field '-': file is empty"),
    "missing column": ("data\tsentence\nbrand: { value:x }\tIt is x.\n", "field 'text': missing column"),
    "blank sentence": (HEADER + "fan_count: { value:6 }\t \n", "row 1, field 'text': empty value"),
    "cut off mid-field": (GOOD + '"brand: { value:""Ni', "row 5, field '-': row cut off mid-field"),
    "row cut off": (GOOD + "fan_count: { value:6 }\n", "row 5, field 'text': row cut off"),
    "wrong encoding": (
        GOOD.replace("121 decibels", "121 d\xe9cibels").encode("latin-1"),
        "row 3, field '-': wrong encoding",
    ),
}


test_bad_input_raises_data_error = bad_input_test("pqa_data_to_text", "bad.csv", BAD_CASES)


def test_skip_drops_and_counts_bad_rows(tmp_path):
    path = write(tmp_path / "train.csv", GOOD + "fan_count: { value:6 }\t\n")
    assert_skips("pqa_data_to_text", path, 3, "field 'text': empty value")
