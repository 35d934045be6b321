"""pqa_answer_generation adapter: hetPQA answer_generation TSVs (question + evidence -> answer)."""

from shoptune.data.errorlog import ErrorLog
from shoptune.data.sources import get_source

from .helpers import assert_skips, bad_input_test, context, every_view, write

HEADER = "ASIN\tquestion\tcandidate\tanswer\tsource\n"
GOOD = HEADER + (
    "B002U2UFB0\tis this a standard-size lego figurine?\tyes, this is a standard size minifigure , official "
    "lego product.\tthis is standard size official lego.\tCQA\n"
    'B0085Y3YV0\thow many pieces are there?\t"two 9.84\\"" square green plates for creating landscapes"\t'
    "it comes with two square green plates.\tbullet\n"
    "B00B1Z6EPS\thow heavy is the pair of binoculars?\titem_weight:  { unit:ounces, normalized_value:{ "
    "unit:pounds, value:0.53 }, value:8.48 }\tit weighs 0.53 pound.\tattribute\n"
    "B00ZZZZZZZ\tHow heavy is the pair of binoculars?\tweighs half a pound\tabout half a pound.\treview\n"
)


def test_reads_quoted_tsv_and_builds_generation_records(tmp_path):
    src = get_source("pqa_answer_generation")
    rows = src.read(write(tmp_path / "train.csv", GOOD), ErrorLog())
    assert len(rows) == 4 and rows[1]["candidate"] == 'two 9.84\\" square green plates for creating landscapes'
    recs = list(src.records(rows, "answer_generation", context()))
    assert recs[0].output == "this is standard size official lego." and not recs[0].options
    assert recs[2].input.startswith("Question: how heavy") and "Evidence (attribute): item_weight:" in recs[2].input
    # The same question about two products is one split group.
    assert recs[2].metadata["groups"] == recs[3].metadata["groups"] == ["q:how heavy is the pair of binoculars?"]
    clipped = list(src.records(rows, "answer_generation", context(max_evidence_chars=20)))
    assert len(clipped[2].input.split("Evidence (attribute): ")[1]) <= 22


def test_demo_subset_runs_every_view(demo_data):
    src = get_source("pqa_answer_generation")
    for split, least in (("train", 30), ("dev", 5), ("test", 5)):
        rows = src.read(demo_data / "amazon_contextual_pqa/hetPQA/answer_generation" / f"{split}.csv", ErrorLog())
        for name, records in every_view(src, rows).items():
            assert len(records) >= least, (split, name)


BAD_CASES = {
    "missing file": (None, "file, field '-': file not found"),
    "empty file": ("", "file, field '-': file is empty"),
    "missing column": (GOOD.replace("\tanswer\t", "\treply\t"), "field 'answer': missing column"),
    "empty answer": (HEADER + "B1\tq?\tevidence\t\tCQA\n", "row 1, field 'answer': empty value"),
    "cut off mid-field": (GOOD + 'B1\tq?\t"cut off evid', "row 5, field '-': row cut off mid-field"),
    "row cut off": (GOOD + "B1\tq?\tevidence\n", "row 5, field 'answer': row cut off"),
    "wrong encoding": (
        GOOD.replace("lego figurine", "l\xe9go figurine").encode("latin-1"),
        "row 2, field '-': wrong encoding",
    ),
}


test_bad_input_raises_data_error = bad_input_test("pqa_answer_generation", "bad.csv", BAD_CASES)


def test_skip_drops_and_counts_bad_rows(tmp_path):
    assert_skips("pqa_answer_generation", write(tmp_path / "train.csv", GOOD + "B1\tq?\tevidence\n"), 4, "row cut off")
