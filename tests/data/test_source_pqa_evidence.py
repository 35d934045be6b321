"""pqa_evidence adapter: ePQA (comma, quoted multi-line, 0/1/2), hetPQA and semiPQA (TAB, 0/1) files."""

from shoptune.data.errorlog import ErrorLog
from shoptune.data.sources import get_source
from shoptune.data.sources.pqa_evidence import detect_format

from .helpers import assert_skips, bad_input_test, context, every_view, write

Q18 = '"my frigidaire model # is frs20qrb.  ""not found"" on pop-up list.  will this one fit?"'
EPQA_HEADER = "qid,question,ASIN,candidate,source,qa_pair_id,title,label,answer\n"
EPQA = EPQA_HEADER + (
    f'18,{Q18},B00545ATZW,"if your frig calls for the 240337103 drawer, it should fit.",cqa,141,'
    "Frigidaire 240337103 Crisper Pan,2,The drawer will fit if your frig calls for the 240337103 drawer.\n"
    f'18,{Q18},B00545ATZW,"compatible models:\n\nverizon i545\nsprint l720",description,142,'
    "Frigidaire 240337103 Crisper Pan,1,It fits some models.\n"
    f"18,{Q18},B00545ATZW,im not sure but google it,cqa,143,Frigidaire 240337103 Crisper Pan,0,\n"
    f"18,{Q18},B00545ATZW,,description,144,Frigidaire 240337103 Crisper Pan,0,\n"
    "554,will this work on my phone?,B00CTPWSW2,great screen,review,5424,NovaMass LCD,0,\n"
    "554,will this work on my phone?,B00CTPWSW2,fast shipping,review,5425,NovaMass LCD,0,\n"
)
HET_HEADER = "qid\tASIN\tqa_pair_id\tquestion\tcandidate\tlabel\tsource\tconfidence\n"
HET = HET_HEADER + (
    "28492\tB0072BKZOQ\t80005\tit works with ipad air?\tis_electric:  { value:false }\t0\tattribute\thigh\n"
    '28492\tB0072BKZOQ\t80008\tit works with ipad air?\t"compatible_phone_models:  { value:""ipad air"" }"'
    "\t1\tattribute\thigh\n"
    '28492\tB0072BKZOQ\t80009\tit works with ipad air?\t"compatible_devices:  { value:""apple ipad air"" }"'
    "\t1\tattribute\tmid\n"
    "28492\tB0072BKZOQ\t80010\tit works with ipad air?\tfits nintendo 3ds\t0\tbullet\tmid\n"
)
SEMI_HEADER = "qid\tqa_pair_id\tquestion\tcandidate\tlabel\n"
SEMI = SEMI_HEADER + (
    '366\t6465\twhat\'s the age range for these shoes?\t"age_range_description:  { value:""little kid"" }"\t1\n'
    "366\t6467\twhat's the age range for these shoes?\tbatteries_included:  { value:false }\t0\n"
    '366\t6469\twhat\'s the age range for these shoes?\t"brand:  { value:""and1"" }"\t0\n'
    "367\t6480\tis it waterproof?\tbatteries_required:  { value:false }\t0\n"
)


def _read(tmp_path, text, name="dev.csv"):
    return get_source("pqa_evidence").read(write(tmp_path / name, text), ErrorLog())


def test_detects_the_three_formats():
    assert detect_format(EPQA_HEADER) == ("epqa", ",")
    assert detect_format(HET_HEADER) == ("hetpqa", "\t")
    assert detect_format(SEMI_HEADER) == ("semipqa", "\t")


def test_epqa_multiline_fields_and_blank_candidate(tmp_path):
    rows = _read(tmp_path, EPQA)
    assert len(rows) == 5  # the blank candidate is dropped
    assert rows[0]["question"].count('"not found"') == 1
    assert rows[1]["candidate"] == "compatible models:\n\nverizon i545\nsprint l720"
    assert [r["label"] for r in rows] == [2, 1, 0, 0, 0]


def test_epqa_ranking_gains_and_retrieval_threshold(tmp_path):
    src = get_source("pqa_evidence")
    rows = _read(tmp_path, EPQA)
    (rank,) = src.records(rows, "ranking", context(candidates=5))  # question 554 has nothing to rank
    gains = rank.metadata["gains"]
    assert sorted(gains, reverse=True) == [1.0, 0.1, 0.0]
    assert [gains[int(i)] for i in rank.output] == [1.0, 0.1, 0.0]
    assert "Product: Frigidaire" in rank.input and rank.metadata["groups"][0] == "q:epqa:18"
    (top,) = src.records(rows, "retrieval", context())
    assert [top.options[int(i)] for i in top.output] == ["if your frig calls for the 240337103 drawer, it should fit."]
    (loose,) = src.records(rows, "retrieval", context(min_label=1))
    assert len(loose.output) == 2


def test_hetpqa_and_semipqa_retrieval(tmp_path):
    src = get_source("pqa_evidence")
    het = _read(tmp_path, HET)
    (rec,) = src.records(het, "retrieval", context(candidates=3))
    assert len(rec.options) == 3 and 1 <= len(rec.output) <= 2
    assert all(rec.metadata["labels"][int(i)] == 1 for i in rec.output)
    assert rec.metadata["groups"] == ["q:hetpqa:28492", "qt:it works with ipad air?"]
    semi = _read(tmp_path, SEMI, "testseen.csv")
    recs = list(src.records(semi, "retrieval", context()))
    assert len(recs) == 1  # qid 367 has no positive
    assert (
        recs[0].options[int(recs[0].output[0])] == 'age_range_description: { value:"little kid" }'
    )  # whitespace collapsed
    (ranked,) = src.records(semi, "ranking", context())
    assert ranked.metadata["gains"][int(ranked.output[0])] == 1.0


def test_demo_subset_runs_every_view(demo_data):
    src = get_source("pqa_evidence")
    folder = demo_data / "amazon_contextual_pqa"
    for rel in (
        "ePQA/dev.csv",
        "hetPQA/evidence_ranking/dev.csv",
        "semiPQA/attribute_ranking/dev.csv",
        "semiPQA/attribute_ranking/testseen.csv",
        "semiPQA/attribute_ranking/testunseen.csv",
    ):
        rows = src.read(folder / rel, ErrorLog())
        for name, records in every_view(src, rows).items():
            assert len(records) >= 5, (rel, name)


BAD_CASES = {
    "missing file": (None, "file, field '-': file not found"),
    "empty file": ("", "file, field '-': file is empty"),
    "epqa missing column": (EPQA.replace(",label,answer", ",answer"), "field 'label': missing column"),
    "hetpqa missing column": (
        HET.replace("\tcandidate\t", "\tevidence\t"),
        "field 'candidate': missing column",
    ),
    "semipqa missing column": (
        SEMI.replace("qid\tqa_pair_id", "id\tqa_pair_id"),
        "field 'qid': missing column",
    ),
    "epqa unknown label": (
        EPQA_HEADER + "9,q?,B1,cand,cqa,1,title,3,\n",
        "row 1, field 'label': unknown label '3'",
    ),
    "hetpqa unknown label": (
        HET + "1\tB1\t2\tq?\tcand\t2\tbullet\thigh\n",
        "row 5, field 'label': unknown label '2'",
    ),
    "cut off mid-field": (EPQA + '19,"will it fit my', "row 7, field '-': row cut off mid-field"),
    "row cut off": (SEMI + "368\t6490\tdoes it\n", "row 5, field 'candidate': row cut off"),
    "wrong encoding": (
        SEMI.encode("utf-8").replace(b"batteries", b"batter\xe9s", 1),
        "row 3, field '-': wrong encoding",
    ),
}


test_bad_input_raises_data_error = bad_input_test("pqa_evidence", "dev.csv", BAD_CASES)


def test_skip_drops_and_counts_bad_rows(tmp_path):
    path = write(tmp_path / "dev.csv", HET + "1\tB1\t2\tq?\tcand\t7\tbullet\thigh\n")
    assert_skips("pqa_evidence", path, 4, "unknown label '7'")
