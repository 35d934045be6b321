"""review_sentiment adapter: UCI labelled sentences, `sentence<TAB>0|1`, no header."""

from shoptune.data.errorlog import ErrorLog
from shoptune.data.sources import get_source
from shoptune.data.sources.review_sentiment import split_line

from .helpers import assert_skips, bad_input_test, context, every_view, write

GOOD = (
    "So there is no way for me to plug it in here in the US unless I go by a converter.\t0\n"
    "Good case, Excellent value.\t1\n"
    "\n"
    "Tied to charger for conversations lasting more than 45 minutes.MAJOR PROBLEMS!!\t0\n"
    "Great for the jawbone.\t1\n"
    "great for the  jawbone.\t1\n"
)


def test_split_line():
    assert split_line("a\tb\t1\n") == ("a\tb", "1") and split_line("no label\n") is None


def test_reads_headerless_lines_and_builds_records(tmp_path):
    src = get_source("review_sentiment")
    rows = src.read(write(tmp_path / "amazon_cells_labelled.txt", GOOD), ErrorLog())
    assert len(rows) == 5 and [r["_row"] for r in rows] == [1, 2, 3, 4, 5]  # the blank line is not a row
    recs = list(src.records(rows, "sentiment_cls", context()))
    assert [r.output for r in recs] == ["negative", "positive", "negative", "positive", "positive"]
    assert recs[0].options == ["positive", "negative"]
    assert recs[3].metadata["groups"] == recs[4].metadata["groups"]  # duplicate sentences share a group


def test_demo_subset_runs_every_view(demo_data):
    src = get_source("review_sentiment")
    rows = src.read(demo_data / "amazon_review_sentiment_small" / "amazon_cells_labelled.txt", ErrorLog())
    for recs in every_view(src, rows).values():
        assert len(recs) >= 100 and {r.output for r in recs} == {"positive", "negative"}


BAD_CASES = {
    "missing file": (None, "file, field '-': file not found"),
    "empty file": ("\n", "file, field '-': file is empty"),
    "header line": ("sentence\tlabel\n" + GOOD, "row 1, field 'label': unknown label 'label'"),
    "unknown label": (GOOD + "Meh.\t2\n", "row 6, field 'label': unknown label '2'"),
    "row cut off": (GOOD + "Works well but\n", "row 6, field 'label': row cut off"),
    "empty sentence": (GOOD + "\t1\n", "row 6, field 'sentence': empty value"),
    "wrong encoding": (GOOD.replace("Excellent", "Excell\xe9nt").encode("latin-1"), "row 2, field '-': wrong encoding"),
}


test_bad_input_raises_data_error = bad_input_test("review_sentiment", "bad.txt", BAD_CASES)


def test_skip_drops_and_counts_bad_rows(tmp_path):
    path = write(tmp_path / "amazon_cells_labelled.txt", GOOD + "Works well but\n")
    assert_skips("review_sentiment", path, 5, "row cut off")
