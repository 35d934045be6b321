"""Shopee adapter: title decoding, mined exact/partial/irrelevant pairs, the MC view and bad inputs."""

import pytest

from shoptune.data.errorlog import ErrorLog
from shoptune.data.sources import get_source
from shoptune.data.sources.shopee import decode_title, jaccard, tokens

from .helpers import assert_skips, bad_input_test, context, every_view, write

HEADER = "posting_id,image,image_phash,title,label_group\n"
ROWS = [
    # group 1: a doormat, three listings
    "train_1,a.jpg,94974f937d4c2433,Keset Microfiber / Keset kaki Cendol,100",
    "train_2,b.jpg,94974f937d4c2434,[220gr] H015 | Keset Cendol Mikrofiber Premium Quality,100",
    'train_3,c.jpg,94974f937d4c2435,"Keset kaki cendol microfiber, anti slip",100',
    # group 2: a look-alike doormat of another group (Jaccard with train_1 >= 0.5) -> partial
    "train_4,d.jpg,af3f9460c2838f0f,KESET CENDOL MICROFIBER + ANTI SLIP,200",
    "train_5,e.jpg,af3f9460c2838f00,Keset anti slip cendol jumbo,200",
    # group 3: coffee, with a literal UTF-8 byte escape and an HTML entity
    "train_6,f.jpg,b94cb00ed3e50f78,Nescafe \\xc3\\x89clair Latte 220ml &amp; Free,300",
    "train_7,g.jpg,b94cb00ed3e50f79,NESCAFE Eclair latte kaleng 220 ml,300",
    # group 4: a title stored as a Python bytes literal (it has an apostrophe)
    'train_8,h.jpg,bbd097a7870f4a50,"b""JOHNSON\'S Baby Powder Blossom 300 gr""",400',
    "train_9,i.jpg,bbd097a7870f4a51,Johnsons baby powder 300gr blossom,400",
    # group 5: a dress
    "train_10,j.jpg,e1ce953d1a70618f,Daster Batik Lengan pendek Motif Acak,500",
    "train_11,k.jpg,e1ce953d1a706180,DASTER BATIK LENGAN PENDEK MOTIF CAMPUR,500",
]
GOOD = HEADER + "\n".join(ROWS) + "\n"
ONE_BUCKET = {"min_buckets": 1, "components_per_bucket": 100}


def _ctx(**params):
    return context(task_language="id", **params)


def test_decode_title_and_tokens():
    assert decode_title("Nescafe \\xc3\\x89clair &amp; Co") == "Nescafe \u00c9clair & Co"
    assert decode_title("bad \\xff\\xfe bytes") == "bad \\xff\\xfe bytes"  # not UTF-8: left alone
    assert decode_title('b"JOHNSON\'S Baby"') == "JOHNSON'S Baby"
    assert tokens("Tas / TAS ransel A") == frozenset({"tas", "ransel"})
    assert jaccard(frozenset("ab"), frozenset("bc")) == pytest.approx(1 / 3)


def test_reads_and_decodes(tmp_path):
    rows = get_source("shopee").read(write(tmp_path / "train.csv", GOOD), ErrorLog())
    assert len(rows) == 11
    titles = {r["posting_id"]: r["title"] for r in rows}
    assert titles["train_6"] == "Nescafe \u00c9clair Latte 220ml & Free"
    assert titles["train_8"] == "JOHNSON'S Baby Powder Blossom 300 gr"
    assert titles["train_3"] == "Keset kaki cendol microfiber, anti slip"


def test_product_pairs_labels_and_groups(tmp_path):
    src = get_source("shopee")
    rows = src.read(write(tmp_path / "train.csv", GOOD), ErrorLog())
    pairs = list(src.records(rows, "product_pairs", _ctx(**ONE_BUCKET)))
    by_label = {label: [p for p in pairs if p.label.value == label] for label in ("exact", "partial", "irrelevant")}
    assert all(by_label.values()), {k: len(v) for k, v in by_label.items()}
    for p in pairs:
        bucket, *group_keys = p.metadata["groups"]
        assert bucket.startswith("b:") and all(g.startswith("g:") for g in group_keys)
    for p in by_label["exact"]:
        assert len(p.metadata["groups"]) == 2  # bucket + the one shared label_group
    partial_groups = {frozenset(p.metadata["groups"][1:]) for p in by_label["partial"]}
    assert frozenset({"g:100", "g:200"}) in partial_groups
    assert all(p.metadata["jaccard"] >= 0.5 for p in by_label["partial"])
    assert all(p.metadata["jaccard"] < 0.2 for p in by_label["irrelevant"])
    # Deterministic for a given rng seed and row order.
    again = list(src.records(list(reversed(rows)), "product_pairs", _ctx(**ONE_BUCKET)))
    assert [(p.left, p.right, p.label) for p in again] == [(p.left, p.right, p.label) for p in pairs]


def test_groups_of_a_pair_share_one_bucket_on_the_demo(demo_data):
    src = get_source("shopee")
    rows = src.read(demo_data / "shopee_product_matching" / "train.csv", ErrorLog())
    bucket_of: dict[str, str] = {}
    for rec in src.records(rows, "product_pairs", _ctx()):
        bucket, *keys = rec.metadata["groups"]
        for key in keys:
            assert bucket_of.setdefault(key, bucket) == bucket  # a label_group lives in exactly one bucket


def test_title_match_mc(tmp_path):
    src = get_source("shopee")
    rows = src.read(write(tmp_path / "train.csv", GOOD), ErrorLog())
    mc = list(src.records(rows, "title_match_mc", _ctx(options=3, **ONE_BUCKET)))
    assert mc and all(len(set(r.options)) == 3 and r.output in r.options for r in mc)
    assert all(r.language == "id" and r.input.startswith("Listing: ") for r in mc)


def test_demo_subset_runs_every_view(demo_data):
    src = get_source("shopee")
    rows = src.read(demo_data / "shopee_product_matching" / "train.csv", ErrorLog())
    views = every_view(src, rows, task_language="id")
    for name, records in views.items():
        assert len(records) >= 50, name
    assert {r.label.value for r in views["product_pairs"]} == {"exact", "partial", "irrelevant"}


BAD_CASES = {
    "missing file": (None, "file, field '-': file not found"),
    "empty file": ("", "file, field '-': file is empty"),
    "missing column": (HEADER.replace(",label_group", "") + "train_1,a,b,t\n", "field 'label_group': missing column"),
    "cut off mid-field": (GOOD + 'train_12,x.jpg,y,"Keset ka', "row 12, field '-': row cut off mid-field"),
    "cut off row": (GOOD + "train_12,x.jpg,y\n", "row 12, field 'title': row cut off"),
    "empty title": (GOOD + "train_12,x.jpg,y,,600\n", "row 12, field 'title': empty value"),
    "empty label_group": (GOOD + "train_12,x.jpg,y,Some title,\n", "row 12, field 'label_group': empty value"),
    "duplicate posting": (GOOD + "train_1,x.jpg,y,Some title,600\n", "row 12, field 'posting_id': duplicate"),
    "wrong encoding": (
        (HEADER.replace("posting_id", "posting_\xefd") + ROWS[0] + "\n").encode("latin-1"),
        "row 1, field '-': wrong encoding",
    ),
}


test_bad_input_raises_data_error = bad_input_test("shopee", "bad.csv", BAD_CASES)


def test_skip_counts_bad_rows(tmp_path):
    path = write(tmp_path / "train.csv", GOOD + "train_12,x.jpg,y,,600\ntrain_1,x.jpg,y,Dup,600\n")
    assert_skips("shopee", path, 11, "row 12, field 'title'", "row 13, field 'posting_id'")
