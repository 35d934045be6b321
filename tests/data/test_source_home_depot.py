"""Home Depot adapter: the views, the label mapping and every bad-input case through the CLI."""

import subprocess
import sys

import pytest

from shoptune.data.errorlog import ErrorLog
from shoptune.data.sources import get_source
from shoptune.data.sources.base import ViewContext
from shoptune.data.sources.home_depot import grade
from shoptune.errors import DataError
from shoptune.records import Label

HEADER = '"id","product_uid","product_title","search_term","relevance"\r\n'
GOOD = HEADER + (
    '"2","100001","Simpson Strong-Tie 12-Gauge Angle","angle bracket","3"\r\n'
    '"3","100001","Simpson Strong-Tie 12-Gauge Angle","l bracket","2.5"\r\n'
    '"9","100002","BEHR Premium Textured DeckOver 1-gal. #SC-141 Tugboat","deck over","2"\r\n'
    '"16","100005","Delta Vero 1-Handle Shower Only Faucet Trim Kit in Chrome","l bracket","1.33"\r\n'
    '"17","100006","Whirlpool 1.9 cu. ft. Over the Range Convection Microwave \xbd price","l bracket","1.67"\r\n'
)


def _write(tmp_path, text, name="train.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode("latin-1"))
    return path


def _ctx(**params):
    return ViewContext(task="t", capability="user_behavior_alignment", language="en", params=params)


def test_grade_boundaries():
    assert grade(3) is Label.exact and grade(2.5) is Label.exact
    assert grade(2.49) is Label.partial and grade(1.75) is Label.partial
    assert grade(1.67) is Label.irrelevant


def test_reads_latin1_and_derives_pairs(tmp_path):
    src = get_source("home_depot")
    rows = src.read(_write(tmp_path, GOOD), ErrorLog())
    assert len(rows) == 5 and "\xbd" in rows[4]["product_title"]
    pairs = list(src.records(rows, "query_product", _ctx()))
    assert [p.label.value for p in pairs] == ["exact", "exact", "partial", "irrelevant", "irrelevant"]
    assert pairs[0].metadata["groups"] == ["q:angle bracket", "p:100001"]


def test_instruction_views(tmp_path):
    src = get_source("home_depot")
    rows = src.read(_write(tmp_path, GOOD), ErrorLog())
    mc = list(src.records(rows, "relevance_mc", _ctx()))
    assert mc[0].output == "exact match" and mc[0].output in mc[0].options
    ranking = list(src.records(rows, "query_ranking", _ctx(candidates=5)))
    assert len(ranking) == 1  # only "l bracket" has >= 3 products with different grades
    r = ranking[0]
    gains = r.metadata["gains"]
    assert [gains[int(i)] for i in r.output] == sorted(gains, reverse=True)


def test_demo_subset_runs_every_view(demo_data):
    src = get_source("home_depot")
    rows = src.read(demo_data / "home_depot_search_relevance" / "train.csv", ErrorLog())
    for name in src.views:
        assert list(src.records(rows, name, _ctx())), name


BAD_CASES = {
    "missing file": (None, "file, field '-': file not found"),
    "wrong encoding": ("utf16", "wrong encoding"),
    "missing column": (HEADER.replace(',"relevance"', "") + '"2","1","t","q"\r\n', "field 'relevance': missing column"),
    "unknown label": (HEADER + '"2","1","t","q","7"\r\n', "row 1, field 'relevance': unknown label 7.0"),
    "not a number": (HEADER + '"2","1","t","q","high"\r\n', "row 1, field 'relevance': not a number"),
    "cut off mid-field": (GOOD + '"18","100007","Half a ti', "row 6, field '-': row cut off mid-field"),
    "cut off row": (GOOD + '"18","100007"\r\n', "row 6, field 'product_title': row cut off"),
    "empty file": ("", "file, field '-': file is empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_raises_data_error(tmp_path, case):
    text, expected = BAD_CASES[case]
    path = tmp_path / "bad.csv"
    if text == "utf16":
        path.write_bytes(GOOD.encode("utf-16"))
    elif text is not None:
        _write(tmp_path, text, "bad.csv")
    with pytest.raises(DataError) as info:
        get_source("home_depot").read(path, ErrorLog())
    assert str(path) in str(info.value) and expected in str(info.value)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "shoptune", *args], capture_output=True, text=True, timeout=120)


def test_cli_validate_accepts_good_and_rejects_bad_without_traceback(tmp_path):
    good = _write(tmp_path, GOOD)
    ok = _cli("data", "validate", "--source", "home_depot", str(good))
    assert ok.returncode == 0, ok.stderr
    assert "rows read" in ok.stdout and "5" in ok.stdout and "valid" in ok.stdout
    bad = _write(tmp_path, GOOD + '"18","100007","Half a ti', "broken.csv")
    res = _cli("data", "validate", "--source", "home_depot", str(bad))
    assert res.returncode != 0
    assert "broken.csv" in res.stderr and "row 6" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    skip = _cli("data", "validate", "--source", "home_depot", "--on-error", "skip", str(bad))
    assert skip.returncode == 0 and "rows skipped" in skip.stdout


def test_cli_validate_on_real_file(shared_data):
    res = _cli("data", "validate", "--source", "home_depot", str(shared_data / "home_depot_search_relevance/train.csv"))
    assert res.returncode == 0, res.stderr
