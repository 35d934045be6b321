"""Home Depot adapter: the views, the label mapping and every bad-input case through the CLI."""

from shoptune.data.errorlog import ErrorLog
from shoptune.data.sources import get_source
from shoptune.data.sources.home_depot import grade
from shoptune.records import Label

from .helpers import bad_input_test, context, every_view, run_shoptune, write

HEADER = '"id","product_uid","product_title","search_term","relevance"\r\n'
GOOD = HEADER + (
    '"2","100001","Simpson Strong-Tie 12-Gauge Angle","angle bracket","3"\r\n'
    '"3","100001","Simpson Strong-Tie 12-Gauge Angle","l bracket","2.5"\r\n'
    '"9","100002","BEHR Premium Textured DeckOver 1-gal. #SC-141 Tugboat","deck over","2"\r\n'
    '"16","100005","Delta Vero 1-Handle Shower Only Faucet Trim Kit in Chrome","l bracket","1.33"\r\n'
    '"17","100006","Whirlpool 1.9 cu. ft. Over the Range Convection Microwave \xbd price","l bracket","1.67"\r\n'
)


def test_grade_boundaries():
    assert grade(3) is Label.exact and grade(2.5) is Label.exact
    assert grade(2.49) is Label.partial and grade(1.75) is Label.partial
    assert grade(1.67) is Label.irrelevant


def test_reads_latin1_and_derives_pairs(tmp_path):
    src = get_source("home_depot")
    rows = src.read(write(tmp_path / "train.csv", GOOD, "latin-1"), ErrorLog())
    assert len(rows) == 5 and "\xbd" in rows[4]["product_title"]
    pairs = list(src.records(rows, "query_product", context()))
    assert [p.label.value for p in pairs] == ["exact", "exact", "partial", "irrelevant", "irrelevant"]
    assert pairs[0].metadata["groups"] == ["q:angle bracket", "p:100001"]


def test_instruction_views(tmp_path):
    src = get_source("home_depot")
    rows = src.read(write(tmp_path / "train.csv", GOOD, "latin-1"), ErrorLog())
    mc = list(src.records(rows, "relevance_mc", context()))
    assert mc[0].output == "exact match" and mc[0].output in mc[0].options
    ranking = list(src.records(rows, "query_ranking", context(candidates=5)))
    assert len(ranking) == 1  # only "l bracket" has >= 3 products with different grades
    r = ranking[0]
    gains = r.metadata["gains"]
    assert [gains[int(i)] for i in r.output] == sorted(gains, reverse=True)


def test_demo_subset_runs_every_view(demo_data):
    rows = get_source("home_depot").read(demo_data / "home_depot_search_relevance" / "train.csv", ErrorLog())
    for name, records in every_view("home_depot", rows).items():
        assert records, name


BAD_CASES = {
    "missing file": (None, "file, field '-': file not found"),
    "wrong encoding": (GOOD.encode("utf-16"), "wrong encoding"),
    "missing column": (HEADER.replace(',"relevance"', "") + '"2","1","t","q"\r\n', "field 'relevance': missing column"),
    "unknown label": (HEADER + '"2","1","t","q","7"\r\n', "row 1, field 'relevance': unknown label 7.0"),
    "not a number": (HEADER + '"2","1","t","q","high"\r\n', "row 1, field 'relevance': not a number"),
    "cut off mid-field": (GOOD + '"18","100007","Half a ti', "row 6, field '-': row cut off mid-field"),
    "cut off row": (GOOD + '"18","100007"\r\n', "row 6, field 'product_title': row cut off"),
    "empty file": ("", "file, field '-': file is empty"),
}


test_bad_input_raises_data_error = bad_input_test("home_depot", "bad.csv", BAD_CASES, "latin-1")


def test_cli_validate_accepts_good_and_rejects_bad_without_traceback(tmp_path):
    good = write(tmp_path / "train.csv", GOOD, "latin-1")
    ok = run_shoptune("data", "validate", "--source", "home_depot", good)
    assert ok.returncode == 0, ok.stderr
    assert "rows read" in ok.stdout and "5" in ok.stdout and "valid" in ok.stdout
    bad = write(tmp_path / "broken.csv", GOOD + '"18","100007","Half a ti', "latin-1")
    res = run_shoptune("data", "validate", "--source", "home_depot", bad)
    assert res.returncode != 0
    assert "broken.csv" in res.stderr and "row 6" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    skip = run_shoptune("data", "validate", "--source", "home_depot", "--on-error", "skip", bad)
    assert skip.returncode == 0 and "rows skipped" in skip.stdout


def test_cli_validate_on_real_file(shared_data):
    path = shared_data / "home_depot_search_relevance" / "train.csv"
    res = run_shoptune("data", "validate", "--source", "home_depot", path)
    assert res.returncode == 0, res.stderr
