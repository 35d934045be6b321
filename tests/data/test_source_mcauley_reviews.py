"""mcauley_reviews adapter: McAuley 5-core review JSON lines (`overall` 1-5 stars)."""

import json

from shoptune.data.errorlog import ErrorLog
from shoptune.data.sources import get_source

from .helpers import assert_skips, bad_input_test, context, every_view, jsonl, write


def _review(**changes):
    review = {
        "reviewerID": "A2IBPI20UZIR0U",
        "asin": "1384719342",
        "reviewerName": 'cassandra tu "Yeah"',
        "helpful": [0, 0],
        "reviewText": "Not much to write about here, but it does what it's supposed to.",
        "overall": 5.0,
        "summary": "good",
        "unixReviewTime": 1393545600,
        "reviewTime": "02 28, 2014",
    }
    review.update(changes)
    return {k: v for k, v in review.items() if v is not ...}


GOOD = jsonl(
    [
        _review(),
        _review(reviewerID="A14VAT5EAX3D9S", overall=2.0, summary="meh"),
        _review(reviewerID="A195EZSQDW3E21", reviewText="", summary="Works great", overall=4),
    ]
)


def test_reads_reviews_and_builds_star_records(tmp_path):
    src = get_source("mcauley_reviews")
    rows = src.read(write(tmp_path / "Musical_Instruments_5.json", GOOD), ErrorLog())
    recs = list(src.records(rows, "rating_cls", context()))
    assert [r.output for r in recs] == ["5", "2", "4"] and recs[0].options == ["1", "2", "3", "4", "5"]
    assert recs[0].input.startswith("Title: good\nReview: Not much")
    assert "Review: Works great" in recs[2].input  # blank text falls back to the summary
    assert recs[1].metadata["groups"] == ["r:A14VAT5EAX3D9S|1384719342"]


def test_demo_subset_runs_every_view(demo_data):
    src = get_source("mcauley_reviews")
    rows = src.read(demo_data / "amazon_review_sentiment_small" / "Musical_Instruments_5_sample50.jsonl", ErrorLog())
    for records in every_view(src, rows).values():
        assert len(records) == 50


BAD_CASES = {
    "missing file": (None, "file, field '-': file not found"),
    "empty file": ("", "file, field '-': file is empty"),
    "missing field": (GOOD + json.dumps(_review(overall=...)) + "\n", "row 4, field 'overall': empty value"),
    "unknown label": (GOOD + json.dumps(_review(overall=4.5)) + "\n", "row 4, field 'overall': unknown label 4.5"),
    "not a number": (GOOD + json.dumps(_review(overall="five")) + "\n", "row 4, field 'overall': not a number"),
    "no text": (GOOD + json.dumps(_review(reviewText="", summary="")) + "\n", "row 4, field 'reviewText'"),
    "cut off mid-field": (GOOD + json.dumps(_review())[:60], "row 4, field '-': invalid JSON"),
    "wrong encoding": (GOOD.replace("Not much", "N\xf6t much").encode("latin-1"), "row 1, field '-': wrong encoding"),
}


test_bad_input_raises_data_error = bad_input_test("mcauley_reviews", "bad.jsonl", BAD_CASES)


def test_skip_drops_and_counts_bad_rows(tmp_path):
    path = write(tmp_path / "Musical_Instruments_5.json", GOOD + jsonl([_review(overall=0)]))
    assert_skips("mcauley_reviews", path, 3, "unknown label")
