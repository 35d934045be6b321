"""EcomInstruct adapter: EcomGPT's exact prompts and gold answers per task type, and every bad input."""

import gzip
import json

import pytest

from shoptune.data.errorlog import ErrorLog
from shoptune.data.sources import get_source
from shoptune.data.sources.ecominstruct import HEAD, parse_ner_answer
from shoptune.errors import DataError

from .helpers import assert_read_error, context, every_view, jsonl, run_shoptune, write

LENOVO_META = {
    "task": "EN-Lenovo-NER-NER",
    "defi": "named entity recognition",
    "version": "1",
    "label_set": {
        "en": ["Attribute", "Brand", "Component", "Product"],
        "cn": ["商品属性", "商品品牌", "组件", "商品名"],
    },
    "label_key": "en",
    "label_sep": ", ",
    "test_prompt": {
        "instruction": "### Instruction:\n{sentences}\nExtract all named entity with type about {label_set} in the "
        "sentence. \n### Response:"
    },
}
LENOVO_ROWS = [
    {
        "sentences": "The expert in mobile technology , Toshiba builds laptops to help you think , "
        "collaborate and learn ; in rockstar style .",
        "spans": [{"start": 34, "end": 41, "type": "Brand", "term": "Toshiba"}],
    },
    {
        "sentences": "In summary , the Pentium 4 processor supporting HT Technology delivers a new level of "
        "performance .",
        "spans": [
            {"start": 17, "end": 36, "type": "Product", "term": "Pentium 4 processor"},
            {"start": 48, "end": 61, "type": "Attribute", "term": "HT Technology"},
            {"start": 0, "end": 0, "type": "Product", "term": "Pentium 4"},
        ],
    },
    {"sentences": "Nothing to see here .", "spans": []},
]
CONDITION_META = {
    **LENOVO_META,
    "task": "EN-Lenovo-Condition_Extract-Condition_Extract",
    "defi": "entity span detection",
    "test_prompt": {
        "instruction": "### Instruction:\n{sentences}\nDetect all named entity about "
        "{label_set} in the sentence. \n### Response:"
    },
}
# The held-out ABSA task's format (multi-label gold under labels.default), with made-up rows.
ABSA_META = {
    "task": "EN-ABSA-CLS-review_topic_category",
    "defi": "review topic category",
    "test_prompt1": {"instruction": "输入: {sentences}\n分类: {label_set}\n输出:"},
    "test_prompt": {
        "instruction": "### Instruction:\n{sentences}\nSelect category for the above sentences from the "
        "following topics: {label_set}. \n### Response:"
    },
    "label_set": {"default": ["Food", "Service", "Price", "Ambience", "Anecdotes/Miscellaneous"]},
    "label_key": "default",
    "label_sep": ", ",
}
ABSA_ROWS = [
    {"sentences": "The soup was cold and the waiter ignored us.", "labels": {"default": ["Food", "Service"]}},
    {"sentences": "Way too expensive for what you get.", "labels": {"default": ["Price"]}},
]
CPR_META = {
    "task": "ZH-Multi_CPR-CLS-query_item_matching",
    "defi": "query item matching",
    "test_prompt": {
        "instruction": "### Instruction:\n{sentences}\nDetermine if query and doc match. Candidate: "
        "{label_set}. \n### Response:"
    },
    "version": "1",
    "label_set": {"en": ["not match", "match"], "zh": ["不匹配", "匹配"]},
    "label_key": "en",
    "label_sep": ", ",
}
CPR_ROWS = [
    {
        "sentences": "Query: 大落地窗\nDoc: 新豪轩门窗 斯图加特78系统 铝合金窗内开内倒落地窗断桥铝平开窗",
        "labels": {"en": ["match"], "zh": ["匹配"]},
    },
    {
        "sentences": "Query: 大落地窗\nDoc: 代驾折叠电动车手机机支架电动车手机架导航支架外卖摩托自行车外",
        "labels": {"en": ["not match"], "zh": ["不匹配"]},
    },
]
# The held-out Reddit QA task's format (Extract, trace_id, label_set [""], no label_set in meta), made-up rows.
QA_META = {
    "task": "EN-Reddit_QA-Extract-Extract_QA",
    "defi": "extractive question answering",
    "test_prompt": {
        "instruction": "### Instruction:\n{sentences}\nExtract spans from context to answer the question. "
        "\n### Response:"
    },
    "label_sep": ", ",
}
QA_ROWS = [
    {
        "trace_id": "5d9b0001",
        "sentences": "Context: My laptop fan is loud. I cleaned it with compressed air.\n"
        "Question: How did the author clean the fan?",
        "label_set": [""],
        "spans": [{"term": "with compressed air", "start": 44, "end": 63}],
    },
    {
        "trace_id": "5d9b0002",
        "sentences": "Context: My laptop fan is loud. I cleaned it with compressed air.\nQuestion: What is loud?",
        "label_set": [""],
        "spans": [{"term": "My laptop fan", "start": 9, "end": 22}],
    },
]
GEN_META = {
    "task": "ZH-OpenBG_Align-Generate-title_generate",
    "defi": "product title generation",
    "test_prompt": {
        "instruction": "{sentences}\nGenerate a product title based on the above attribute information. \n### Response:"
    },
    "label_sep": ", ",
}
GEN_ROWS = [
    {
        "sentences": "颜色分类#:#图片色#;#裤长#:#长裤#;#腰型#:#高腰#;#款式#:#铅笔裤",
        "label_set": [""],
        "spans": [{"term": "韩国东大门2021秋季新款高腰显瘦小脚牛仔裤", "start": 0, "end": 0}],
    },
]


def _folder(tmp_path, name, meta, rows, raw_rows=None):
    folder = tmp_path / name
    folder.mkdir(parents=True)
    write(folder / "meta-info.json", json.dumps(meta, ensure_ascii=False, indent=4))
    write(folder / "test.json", raw_rows if raw_rows is not None else jsonl(rows, ensure_ascii=False))
    return folder


def _records(folder, **params):
    src = get_source("ecominstruct")
    return list(src.records(src.read(folder, ErrorLog()), "instructions", context(**params)))


def test_ner_prompt_and_answer_exactly_as_ecomgpt(tmp_path):
    recs = _records(_folder(tmp_path, "EN-Lenovo-NER-NER", LENOVO_META, LENOVO_ROWS))
    head = HEAD.format(defi="named entity recognition")
    assert recs[0].instruction == (
        head + "### Instruction:\n" + LENOVO_ROWS[0]["sentences"] + "\nExtract all named entity with type about "
        "Attribute, Brand, Component, Product in the sentence. \n### Response:"
    )
    assert recs[0].input == "" and recs[0].options == [] and recs[0].language == "en"
    assert recs[0].output == "Attribute: None\nBrand: Toshiba\nComponent: None\nProduct: None"
    # Several spans of one type are joined with label_sep, in file order; a row without spans is all None.
    assert recs[1].output.splitlines()[3] == "Product: Pentium 4 processor, Pentium 4"
    assert recs[2].output == "Attribute: None\nBrand: None\nComponent: None\nProduct: None"
    meta = recs[1].metadata
    assert meta["ecom_task_type"] == "NER" and meta["ecom_kind"] == "ner" and meta["label_sep"] == ", "
    assert meta["gold"] == ["Pentium 4 processor", "HT Technology", "Pentium 4"]
    assert meta["gold_spans"][1] == ["Attribute", "HT Technology"] and meta["source_row"] == 2
    assert parse_ner_answer(recs[1].output)["Product"] == {"Pentium 4 processor", "Pentium 4"}
    listed = _records(tmp_path / "EN-Lenovo-NER-NER", output_format="list")
    assert listed[1].output == ["Pentium 4 processor", "HT Technology", "Pentium 4"] and listed[2].output == []


def test_condition_extract_joins_terms_and_shares_split_keys_with_ner(tmp_path):
    ner = _records(_folder(tmp_path, "EN-Lenovo-NER-NER", LENOVO_META, LENOVO_ROWS))
    spans = _records(_folder(tmp_path, "EN-Lenovo-Condition_Extract-Condition_Extract", CONDITION_META, LENOVO_ROWS))
    assert "Detect all named entity about Attribute, Brand, Component, Product in the sentence." in spans[1].instruction
    assert spans[1].output == "Pentium 4 processor, HT Technology, Pentium 4" and spans[2].output == ""
    assert [r.metadata["groups"] for r in ner] == [r.metadata["groups"] for r in spans]


def test_cls_multi_label_candidates_and_options(tmp_path):
    folder = _folder(tmp_path, "EN-ABSA-CLS-review_topic_category", ABSA_META, ABSA_ROWS)
    recs = _records(folder)
    assert recs[0].instruction.endswith(
        "from the following topics: Food, Service, Price, Ambience, Anecdotes/Miscellaneous. \n### Response:"
    )
    assert recs[0].output == "Food, Service" and recs[1].output == "Price"
    assert recs[0].metadata["gold"] == ["Food", "Service"] and recs[0].options == []
    with_options = _records(folder, with_options=True)
    # A two-label answer is no single option; the one-label row gets the candidates.
    assert with_options[0].options == [] and with_options[1].options == ABSA_META["label_set"]["default"]
    assert _records(folder, output_format="list")[0].output == ["Food", "Service"]


def test_cls_zh_query_key_language_and_label_sampling(tmp_path):
    folder = _folder(tmp_path, "ZH-Multi_CPR-CLS-query_item_matching", CPR_META, CPR_ROWS)
    recs = _records(folder)
    assert [r.output for r in recs] == ["match", "not match"] and recs[0].language == "zh"
    assert "Candidate: not match, match. \n### Response:" in recs[0].instruction
    assert recs[0].metadata["groups"] == recs[1].metadata["groups"] == ["s:query: 大落地窗"]
    many = {**ABSA_META, "label_set": {"default": [f"L{i}" for i in range(40)]}}
    rows = [{"sentences": f"review {i}", "labels": {"default": [f"L{i}"]}} for i in range(5)]
    sampled = _records(_folder(tmp_path, "EN-X-CLS-many", many, rows), max_labels=10)
    for rec in sampled:
        assert rec.output in rec.metadata["candidates"] and 2 <= len(rec.metadata["candidates"]) <= 10
        assert rec.metadata["label_set"] == many["label_set"]["default"]
    assert [r.metadata["candidates"] for r in sampled] == [
        r.metadata["candidates"] for r in _records(tmp_path / "EN-X-CLS-many", max_labels=10)
    ]


def test_extract_with_trace_id_and_generate_with_clipping(tmp_path):
    qa = _records(_folder(tmp_path, "EN-Reddit_QA-Extract-Extract_QA", QA_META, QA_ROWS))
    assert qa[0].output == "with compressed air" and qa[0].metadata["trace_id"] == "5d9b0001"
    assert qa[0].metadata["label_set"] == [] and qa[0].metadata["ecom_kind"] == "extraction"
    # Both questions share their context (the first line): one split group.
    assert qa[0].metadata["groups"] == qa[1].metadata["groups"]
    gen = _records(_folder(tmp_path, "ZH-OpenBG_Align-Generate-title_generate", GEN_META, GEN_ROWS))
    assert gen[0].instruction.startswith(HEAD.format(defi="product title generation") + "颜色分类#:#图片色")
    assert gen[0].output == GEN_ROWS[0]["spans"][0]["term"] and gen[0].metadata["ecom_task_type"] == "Generate"
    clipped = _records(tmp_path / "ZH-OpenBG_Align-Generate-title_generate", max_chars=24)[0]
    assert clipped.metadata["clipped"] is True and "腰型" not in clipped.instruction


def test_task_type_comes_from_the_folder_name_then_meta(tmp_path):
    # MEPAVE's NER folder ships a meta-info whose task says Condition_Extract: the folder wins, as in eval.py.
    meta = {**LENOVO_META, "task": "ZH-JAVE-Condition_Extract-attribute_value_detection"}
    recs = _records(_folder(tmp_path, "EN-Lenovo-NER-NER", meta, LENOVO_ROWS[:1]))
    assert recs[0].metadata["ecom_task_type"] == "NER"
    renamed = _records(_folder(tmp_path, "my_copy", CONDITION_META, LENOVO_ROWS[:1]))
    assert renamed[0].metadata["ecom_task_type"] == "Condition_Extract" and renamed[0].output == "Toshiba"
    # A test.json path stands for its folder.
    assert _records(tmp_path / "my_copy" / "test.json")[0].output == "Toshiba"


def _bad(tmp_path, meta=None, rows=None, raw=None, name="EN-Lenovo-NER-NER"):
    return _folder(tmp_path, name, meta or LENOVO_META, rows or LENOVO_ROWS, raw)


BAD_META = {
    "no defi": ({k: v for k, v in LENOVO_META.items() if k != "defi"}, "meta-info.json: file, field 'defi'"),
    "no sentences placeholder": (
        {**LENOVO_META, "test_prompt": {"instruction": "x"}},
        "field 'test_prompt.instruction'",
    ),
    "bad placeholder": ({**LENOVO_META, "test_prompt": {"instruction": "{sentences} {foo}"}}, "cannot be filled"),
    "no label key": ({**LENOVO_META, "label_key": "de"}, "field 'label_set.de'"),
    "no label_sep": ({k: v for k, v in LENOVO_META.items() if k != "label_sep"}, "field 'label_sep'"),
}


@pytest.mark.parametrize("case", sorted(BAD_META))
def test_bad_meta_info_raises(tmp_path, case):
    meta, expected = BAD_META[case]
    with pytest.raises(DataError, match=expected.replace("(", r"\(")):
        get_source("ecominstruct").read(_bad(tmp_path, meta=meta), ErrorLog())


def test_unknown_task_type_and_broken_meta_json(tmp_path):
    meta = {**LENOVO_META, "task": "EN-Lenovo-Tagging-NER"}
    with pytest.raises(DataError, match="meta-info.json: file, field 'task': cannot tell the task type"):
        get_source("ecominstruct").read(_folder(tmp_path, "renamed", meta, LENOVO_ROWS), ErrorLog())
    folder = _bad(tmp_path)
    (folder / "meta-info.json").write_text('{"task": "EN-Lenovo-NER-NER", "defi": ', encoding="utf-8")
    with pytest.raises(DataError, match="meta-info.json: row 1, field '-': invalid JSON"):
        get_source("ecominstruct").read(folder, ErrorLog())


GOOD_LINE = json.dumps(LENOVO_ROWS[0]) + "\n"
BAD_ROWS = {
    "unknown NER type": (
        GOOD_LINE + json.dumps({"sentences": "x", "spans": [{"type": "Color", "term": "red"}]}),
        "row 2, field 'spans[0].type': unknown label 'Color'",
    ),
    "span without term": (
        GOOD_LINE + json.dumps({"sentences": "x", "spans": [{"type": "Brand"}]}),
        "row 2, field 'spans[0].term'",
    ),
    "no spans": (GOOD_LINE + json.dumps({"sentences": "x"}), "row 2, field 'spans': missing"),
    "no sentences": (GOOD_LINE + json.dumps({"spans": []}), "row 2, field 'sentences'"),
    "row cut off": (GOOD_LINE + '{"sentences": "The new Satellite U405 lapt', "row 2, field '-': invalid JSON"),
    "empty file": ("", "test.json: file, field '-': file is empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_bad_rows_raise_with_file_row_and_field(tmp_path, case):
    raw, expected = BAD_ROWS[case]
    folder = _bad(tmp_path, raw=raw)
    assert_read_error("ecominstruct", folder, expected, names=folder / "test.json")


def test_cls_unknown_or_missing_gold_label(tmp_path):
    rows = [
        *ABSA_ROWS,
        {"sentences": "Nice view.", "labels": {"default": ["View"]}},
        {"sentences": "Ok.", "labels": {}},
    ]
    folder = _folder(tmp_path, "EN-ABSA-CLS-review_topic_category", ABSA_META, rows)
    with pytest.raises(DataError, match=r"row 3, field 'labels.default': unknown label 'View'"):
        get_source("ecominstruct").read(folder, ErrorLog())
    log = ErrorLog("skip")
    assert len(get_source("ecominstruct").read(folder, log)) == 2 and log.skipped == 2
    assert "row 4, field 'labels.default'" in log.examples[1]


def test_wrong_encoding_and_missing_files(tmp_path):
    folder = _bad(tmp_path)
    (folder / "test.json").write_bytes(GOOD_LINE.encode() + '{"sentences": "Café", "spans": []}\n'.encode("latin-1"))
    with pytest.raises(DataError, match="row 2|line 2"):
        get_source("ecominstruct").read(folder, ErrorLog())
    log = ErrorLog("skip")
    assert len(get_source("ecominstruct").read(folder, log)) == 1 and log.skipped == 1
    (folder / "meta-info.json").unlink()
    with pytest.raises(DataError, match="meta-info.json: file, field '-': file not found"):
        get_source("ecominstruct").read(folder, ErrorLog())
    with pytest.raises(DataError, match="file not found"):
        get_source("ecominstruct").read(tmp_path / "nowhere", ErrorLog())
    # A dataset folder (not ONE task folder) names the task folders below it.
    _folder(tmp_path / "Lenovo" / "tasks", "EN-Lenovo-NER-NER", LENOVO_META, LENOVO_ROWS)
    with pytest.raises(DataError, match="ONE task folder; task folders below it: EN-Lenovo-NER-NER"):
        get_source("ecominstruct").read(tmp_path / "Lenovo", ErrorLog())


def test_demo_subset_runs_every_view(demo_data):
    src = get_source("ecominstruct")
    folders = sorted(p.parent for p in (demo_data / "ecominstruct_v1_test").glob("*/tasks/*/test.json"))
    assert len(folders) >= 5
    for folder in folders:
        rows = src.read(folder, ErrorLog())
        for name, recs in every_view(src, rows).items():
            assert len(recs) == len(rows) >= 60, (folder.name, name)
            assert all(r.instruction.endswith("### Response:") for r in recs)


def test_cli_validate_accepts_a_task_folder(tmp_path):
    folder = _folder(tmp_path, "EN-Lenovo-NER-NER", LENOVO_META, LENOVO_ROWS)
    res = run_shoptune("data", "validate", "--source", "ecominstruct", folder)
    assert res.returncode == 0, res.stderr
    assert "valid" in res.stdout


@pytest.mark.parametrize(
    ("encode", "expected"),
    [
        (
            lambda text: text.encode("cp1252"),
            "meta-info.json: row 3, field '-': wrong encoding: line 3 is not valid utf-8 (byte 0xe9",
        ),
        (
            lambda text: text.encode("utf-16"),
            "meta-info.json: file, field '-': wrong encoding: looks like UTF-16 text (byte order mark FF FE)",
        ),
        (
            lambda text: text.encode("utf-16-le"),
            "meta-info.json: file, field '-': wrong encoding: looks like UTF-16 text without a byte order mark",
        ),
        (
            lambda text: gzip.compress(text.encode()),
            "meta-info.json: file, field '-': not utf-8 text: looks like gzip-compressed data; "
            "name it meta-info.json.gz",
        ),
    ],
    ids=["cp1252", "utf16-bom", "utf16-nobom", "gzip"],
)
def test_meta_info_in_another_encoding_is_one_line(tmp_path, encode, expected):
    # Before: UnicodeDecodeError escaped read_json (cp1252, UTF-16 BOM, gzip) or misread as JSON (UTF-16 no BOM).
    folder = _bad(tmp_path)
    meta = {**LENOVO_META, "defi": "Named Entity Recognition, café"}
    text = json.dumps(meta, indent=4).replace("\\u00e9", "\u00e9")  # only the "é" is not ASCII
    (folder / "meta-info.json").write_bytes(encode(text))
    with pytest.raises(DataError) as info:
        get_source("ecominstruct").read(folder, ErrorLog("skip"))
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_test_json_in_utf16_says_so(tmp_path):
    folder = _bad(tmp_path)
    (folder / "test.json").write_bytes(GOOD_LINE.encode("utf-16"))
    with pytest.raises(DataError, match=r"test\.json: file, field '-': wrong encoding: looks like UTF-16 text"):
        get_source("ecominstruct").read(folder, ErrorLog("skip"))
