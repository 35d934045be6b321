"""review_sentiment adapter: UCI labelled sentences, `sentence<TAB>0|1`, no header."""

import pytest

from shoptune.data.errorlog import ErrorLog
from shoptune.data.sources import get_source
from shoptune.data.sources.base import ViewContext
from shoptune.data.sources.review_sentiment import split_line
from shoptune.errors import DataError

GOOD = (
    "So there is no way for me to plug it in here in the US unless I go by a converter.\t0\n"
    "Good case, Excellent value.\t1\n"
    "\n"
    "Tied to charger for conversations lasting more than 45 minutes.MAJOR PROBLEMS!!\t0\n"
    "Great for the jawbone.\t1\n"
    "great for the  jawbone.\t1\n"
)


def _write(tmp_path, text, name="amazon_cells_labelled.txt"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def _ctx(**params):
    return ViewContext(task="t", capability="user_behavior_alignment", language="en", params=params)


def test_split_line():
    assert split_line("a\tb\t1\n") == ("a\tb", "1") and split_line("no label\n") is None


def test_reads_headerless_lines_and_builds_records(tmp_path):
    src = get_source("review_sentiment")
    rows = src.read(_write(tmp_path, GOOD), ErrorLog())
    assert len(rows) == 5 and [r["_row"] for r in rows] == [1, 2, 3, 4, 5]  # the blank line is not a row
    recs = list(src.records(rows, "sentiment_cls", _ctx()))
    assert [r.output for r in recs] == ["negative", "positive", "negative", "positive", "positive"]
    assert recs[0].options == ["positive", "negative"]
    assert recs[3].metadata["groups"] == recs[4].metadata["groups"]  # duplicate sentences share a group


def test_demo_subset_runs_every_view(demo_data):
    src = get_source("review_sentiment")
    rows = src.read(demo_data / "amazon_review_sentiment_small" / "amazon_cells_labelled.txt", ErrorLog())
    for name in src.views:
        recs = list(src.records(rows, name, _ctx()))
        assert len(recs) >= 100 and {r.output for r in recs} == {"positive", "negative"}


BAD_CASES = {
    "missing file": (None, "file, field '-': file not found"),
    "empty file": ("\n", "file, field '-': file is empty"),
    "header line": ("sentence\tlabel\n" + GOOD, "row 1, field 'label': unknown label 'label'"),
    "unknown label": (GOOD + "Meh.\t2\n", "row 6, field 'label': unknown label '2'"),
    "row cut off": (GOOD + "Works well but\n", "row 6, field 'label': row cut off"),
    "empty sentence": (GOOD + "\t1\n", "row 6, field 'sentence': empty value"),
    "wrong encoding": ("latin-1", "row 2, field '-': wrong encoding"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_raises_data_error(tmp_path, case):
    text, expected = BAD_CASES[case]
    path = tmp_path / "bad.txt"
    if text == "latin-1":
        path.write_bytes(GOOD.replace("Excellent", "Excell\xe9nt").encode("latin-1"))
    elif text is not None:
        _write(tmp_path, text, "bad.txt")
    with pytest.raises(DataError) as info:
        get_source("review_sentiment").read(path, ErrorLog())
    assert str(path) in str(info.value) and expected in str(info.value)


def test_skip_drops_and_counts_bad_rows(tmp_path):
    log = ErrorLog("skip")
    rows = get_source("review_sentiment").read(_write(tmp_path, GOOD + "Works well but\n"), log)
    assert len(rows) == 5 and log.skipped == 1 and "row cut off" in log.examples[0]
