"""amcd adapter: AMCD TSVs read with QUOTE_NONE (literal quotes, CRLF, HTML entities), EN/DE/JP."""

import pytest

from shoptune.data.errorlog import ErrorLog
from shoptune.data.sources import get_source
from shoptune.data.sources.amcd import clean_sentence, file_language
from shoptune.errors import ConfigError

from .helpers import assert_skips, bad_input_test, context, every_view, write

HEADER = "sentence\tis_counterfactual\n"
EN_EXT = (
    "sentence\tis_counterfactual\r\n"
    '"There were so many intriguing parts, you just didn\'t know where it was going."\t0\r\n'
    '"""But oddly enough, the bottoms are a little too loose (37\\) and could have used another inch."""\t1\r\n'
)
DE = HEADER + (
    "Ich m&ouml;chte noch darauf hinweisen, Speichermedien sicher zu entfernen.\t0\n"
    "Die G13 hätte 5 Sterne verdient, wenn es einen Treiber für Linux geben würde.\t1\n"
    "Was ein bisschen fehlt ist ein Licht.\x1a\t0\n"
)
JP = HEADER + "長さはよかったのですが幅が少しきつかったようです。\t0\nもっと安ければ買ったのに。\t1\n"


def test_helpers():
    assert clean_sentence('"The ""best"" case."') == 'The "best" case.'
    assert clean_sentence("m&ouml;chte\xadn\x1a ok") == "möchten ok"
    assert [file_language(n) for n in ("EN_train.tsv", "EN-ext_valid.tsv", "DE_test.tsv", "JP_x.tsv", "x.tsv")] == [
        "en",
        "en",
        "de",
        "ja",
        None,
    ]


def test_reads_quote_none_crlf_and_cleans_text(tmp_path):
    src = get_source("amcd")
    rows = src.read(write(tmp_path / "EN-ext_test.tsv", EN_EXT), ErrorLog())
    assert rows[0]["sentence"].startswith('"There')  # raw text kept as shipped
    recs = list(src.records(rows, "counterfactual_cls", context()))
    assert recs[0].input.startswith("There were") and recs[0].output == "not counterfactual"
    assert recs[1].output == "counterfactual" and recs[1].options == ["counterfactual", "not counterfactual"]
    assert recs[0].language == "en"


def test_language_from_file_name_or_param_and_yes_no_labels(tmp_path):
    src = get_source("amcd")
    de = list(src.records(src.read(write(tmp_path / "DE_valid.tsv", DE), ErrorLog()), "counterfactual_cls", context()))
    assert [r.language for r in de] == ["de"] * 3
    assert de[0].input.startswith("Ich möchte") and de[2].input == "Was ein bisschen fehlt ist ein Licht."
    jp_rows = src.read(write(tmp_path / "sample.tsv", JP), ErrorLog())
    jp = list(src.records(jp_rows, "counterfactual_cls", context(language="ja", labels="yes_no")))
    assert [(r.language, r.output) for r in jp] == [("ja", "no"), ("ja", "yes")]
    assert jp[0].metadata["groups"] == ["s:長さはよかったのですが幅が少しきつかったようです。"]
    with pytest.raises(ConfigError, match="labels"):
        list(src.records(jp_rows, "counterfactual_cls", context(labels="binary")))


def test_demo_subset_runs_every_view(demo_data):
    src = get_source("amcd")
    for lang in ("EN", "EN-ext", "DE", "JP"):
        for split, least in (("train", 30), ("valid", 5), ("test", 5)):
            rows = src.read(demo_data / "amazon_multilingual_counterfactual" / f"{lang}_{split}.tsv", ErrorLog())
            for recs in every_view(src, rows).values():
                assert len(recs) >= least and {r.output for r in recs} == {"counterfactual", "not counterfactual"}


BAD_CASES = {
    "missing file": (None, "file, field '-': file not found"),
    "empty file": ("", "file, field '-': file is empty"),
    "missing column": ("sentence\tlabel\nGood.\t0\n", "field 'is_counterfactual': missing column"),
    "unknown label": (DE + "Gut.\t2\n", "row 4, field 'is_counterfactual': unknown label '2'"),
    "row cut off": (DE + "Gut, aber\n", "row 4, field 'is_counterfactual': row cut off"),
    "extra field": (DE + "Gut\tja\t1\n", "row 4, field '-': 3 fields, header has 2"),
    "empty sentence": (DE + "\t1\n", "row 4, field 'sentence': empty value"),
    "wrong encoding": (DE.replace("&ouml;", "\xf6").encode("latin-1"), "row 2, field '-': wrong encoding"),
}


test_bad_input_raises_data_error = bad_input_test("amcd", "DE_test.tsv", BAD_CASES)


def test_skip_drops_and_counts_bad_rows(tmp_path):
    assert_skips("amcd", write(tmp_path / "DE_train.tsv", DE + "Gut.\tx\n"), 3, "unknown label 'x'")
