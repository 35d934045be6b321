"""subjqa adapter: SubjQA CSVs (quoted multi-line reviews ending in ANSWERNOTFOUND, several annotators)."""

import csv
import io
import random

from shoptune.data.errorlog import ErrorLog
from shoptune.data.sources import get_source
from shoptune.data.sources.subjqa import locate, parse_indices, window

from .helpers import assert_skips, bad_input_test, context, every_view, write

HEADER = [
    "item_id",
    "domain",
    "nn_mod",
    "nn_asp",
    "query_mod",
    "query_asp",
    "q_review_id",
    "q_reviews_id",
    "question",
    "question_subj_level",
    "ques_subj_score",
    "is_ques_subjective",
    "review_id",
    "review",
    "human_ans_spans",
    "human_ans_indices",
    "answer_subj_level",
    "ans_subj_score",
    "is_ans_subjective",
]
REVIEW_A = 'Great "slim" case.\nThe keyboard is easy to setup and connect. ANSWERNOTFOUND'
REVIEW_B = "Wonderful coffee, excellent service. ANSWERNOTFOUND"
REVIEW_C = "I was fascinated by Bill O'Reilly's book on Jesus's life. ANSWERNOTFOUND"
LONG = " ".join(f"word{i}" for i in range(300)) + " the battery lasts two days " + "filler " * 50


def _row(item, pair, question, review, span, start, end):
    return [
        item,
        "electronics",
        "slim",
        "profile",
        "good",
        "setup",
        pair,
        "x" + pair,
        question,
        "1",
        "0.0",
        "False",
        "r" + pair,
        review,
        span,
        f"({start}, {end})",
        "1",
        "0.0",
        "False",
    ]


def _rows():
    a = REVIEW_A.index("easy to setup")
    c = REVIEW_C.index("Bill")
    d = LONG.index("the battery")
    return [
        _row("B005HMO6A6", "pa", "How is the setup?", REVIEW_A, "easy to setup and connect", a, a + 25),
        _row("B005HMO6A6", "pa", "How is the setup?", REVIEW_A, "ANSWERNOTFOUND", 63, 77),
        _row("B007Y59HVM", "pb", "What do you think about price?", REVIEW_B, "ANSWERNOTFOUND", 37, 51),
        _row("B00C", "pc", "How is the book?", REVIEW_C, "Bill O'Reilly 's book on Jesus 's life", c, c + 36),
        _row("B00D", "pd", "How is the battery?", LONG + " ANSWERNOTFOUND", "the battery lasts two days", d, d + 26),
    ]


def _csv(rows, header=HEADER):
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    return out.getvalue()


def test_helpers():
    assert parse_indices("(408, 456)") == (408, 456) and parse_indices("408-456") is None
    assert parse_indices("(5, 2)") is None
    assert locate("ab cd ab", "ab", 6, 8).start == 6  # the occurrence nearest the annotation
    assert locate("Jesus's life", "Jesus 's life", 0, 12).text == "Jesus's life"  # re-tokenised span
    text = "x " * 500 + "ANSWER here " + "y " * 500
    start = text.index("ANSWER")
    for seed in range(20):
        assert "ANSWER here" in window(text, start, start + 11, 100, random.Random(seed))
    assert len(window(text, None, None, 100, random.Random(0))) <= 104


def test_reads_multiline_reviews_and_strips_the_sentinel(tmp_path):
    rows = get_source("subjqa").read(write(tmp_path / "train.csv", _csv(_rows())), ErrorLog())
    assert len(rows) == 5
    assert rows[0]["review_text"] == 'Great "slim" case.\nThe keyboard is easy to setup and connect.'
    assert rows[1]["answer"] is None and rows[3]["answer"].text == "Bill O'Reilly's book on Jesus's life"


def test_views(tmp_path):
    src = get_source("subjqa")
    rows = src.read(write(tmp_path / "train.csv", _csv(_rows())), ErrorLog())
    ext = list(src.records(rows, "answer_extraction", context(max_review_chars=200)))
    assert [r.output for r in ext] == [
        "easy to setup and connect",
        "Bill O'Reilly's book on Jesus's life",
        "the battery lasts two days",
    ]
    assert all(r.output in r.input for r in ext)
    assert ext[2].input.count("…") >= 1 and len(ext[2].input) < 260  # a window of the long review
    assert ext[0].metadata["groups"] == ["p:B005HMO6A6"] and "ANSWERNOTFOUND" not in ext[0].input
    ans = list(src.records(rows, "answerability", context()))
    # The pair with one span and one ANSWERNOTFOUND annotation counts as answerable.
    assert [r.output for r in ans] == ["answerable", "unanswerable", "answerable", "answerable"]
    assert ans[0].options == ["answerable", "unanswerable"]


def test_reads_a_folder(tmp_path):
    (tmp_path / "books" / "splits").mkdir(parents=True)
    write(tmp_path / "books" / "splits" / "dev.csv", _csv(_rows()[:2]))
    write(tmp_path / "books" / "splits" / "test.csv", _csv(_rows()[2:]))
    rows = get_source("subjqa").read(tmp_path / "books", ErrorLog())
    assert len(rows) == 5


def test_demo_subset_runs_every_view(demo_data):
    src = get_source("subjqa")
    root = demo_data / "subjqa_amazon_reviews_qa"
    for split, least in (("train", 30), ("dev", 5), ("test", 5)):
        paths = [root / domain / "splits" / f"{split}.csv" for domain in ("electronics", "grocery")]
        rows = [row for path in paths for row in src.read(path, ErrorLog())]
        for name, records in every_view(src, rows).items():
            assert len(records) >= least, (split, name)
    rows = src.read(root / "books", ErrorLog())  # a domain without a train file, read as a folder
    assert all(every_view(src, rows).values())


def _bad_row(**changes):
    row = _rows()[0]
    for key, value in changes.items():
        row[HEADER.index(key)] = value
    return row


BAD_CASES = {
    "missing file": (None, "file, field '-': file not found"),
    "empty file": ("", "file, field '-': file is empty"),
    "missing column": (
        _csv([r[:-5] + r[-4:] for r in _rows()], [h for h in HEADER if h != "human_ans_spans"]),
        "field 'human_ans_spans': missing column",
    ),
    "bad indices": (_csv([*_rows(), _bad_row(human_ans_indices="408-456")]), "row 6, field 'human_ans_indices'"),
    "empty question": (_csv([*_rows(), _bad_row(question=" ")]), "row 6, field 'question': empty value"),
    "cut off mid-field": (
        _csv(_rows()) + 'B1,electronics,slim,profile,good,setup,pe,xpe,"How is',
        "row 6, field '-': row cut off mid-field",
    ),
    "row cut off": (_csv(_rows()) + "B1,electronics,slim\n", "row 6, field 'nn_asp': row cut off"),
    "wrong encoding": (
        _csv(_rows()).replace("Wonderful", "W\xf6nderful").encode("latin-1"),
        "field '-': wrong encoding",
    ),
}


test_bad_input_raises_data_error = bad_input_test("subjqa", "bad.csv", BAD_CASES)


def test_skip_drops_and_counts_bad_rows(tmp_path):
    text = _csv([*_rows(), _bad_row(human_ans_indices="(9, 1)")])
    assert_skips("subjqa", write(tmp_path / "train.csv", text), 5, "human_ans_indices")
