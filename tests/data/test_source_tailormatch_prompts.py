"""tailormatch_prompts adapter: prompt/completion CSV and chat JSONL, offer extraction, bad inputs."""

import json

from shoptune.data.errorlog import ErrorLog
from shoptune.data.sources import get_source
from shoptune.data.sources.tailormatch_prompts import answer_label, split_prompt
from shoptune.records import Label

from .helpers import assert_skips, bad_input_test, context, every_view, write

Q = "Do the two product descriptions refer to the same real-world product? "
CSV_GOOD = (
    "prompt,completion\n"
    f"{Q}Entity 1: 'WD Blue SN550 1TB M.2 SSD'. Entity 2: 'WD SSD 1TB BLUE SATA3 WDS100T2B0A'.,No\n"
    f"\"{Q}Entity 1: 'Maxxis High Roller II, Tire, 27.5''x2.50'. Entity 2: 'Maxxis HR2 27.5 x 2.5'.\",Yes\n"
    f"{Q}Entity 1: 'TP-Link AC600 Nano'. Entity 2: 'ADATT. WIFI TP-LINK AC600 NANO'.,yes.\n"
)


def _chat(user, answer, system=None):
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user},
        {"role": "assistant", "content": answer},
    ]
    return json.dumps({"messages": messages}) + "\n"


JSONL_GOOD = _chat(
    "Do the two entity descriptions refer to the same real-world entity? Entity 1: 'lenovo performance back "
    "pack'. Entity 2: 'lenovo performance backpack - 15.4'.",
    "Yes",
) + _chat(
    "Same entity?  Entity 1: 'energizer max aaa 6pk'. Entity 2: 'energizer max alkaline batteries'.",
    "No",
    system="You are an entity matcher.",
)


def test_split_prompt_and_answers():
    assert split_prompt("Q? Entity 1: 'a 27.5'' tire'. Entity 2: 'b'.") == ("a 27.5'' tire", "b")
    assert split_prompt("Q? Product 1: 'x'\nProduct 2: 'y'") == ("x", "y")
    assert split_prompt("Is 'a' the same as 'b'?") is None
    assert answer_label(" Yes.") is Label.exact and answer_label("NO") is Label.irrelevant
    assert answer_label("maybe") is None


def test_csv_pairs_and_yes_no(tmp_path):
    src = get_source("tailormatch_prompts")
    rows = src.read(write(tmp_path / "train.csv", CSV_GOOD), ErrorLog())
    pairs = list(src.records(rows, "pairs", context()))
    assert [p.label.value for p in pairs] == ["irrelevant", "exact", "exact"]
    assert pairs[1].left == "Maxxis High Roller II, Tire, 27.5''x2.50" and pairs[1].right == "Maxxis HR2 27.5 x 2.5"
    assert pairs[0].metadata["groups"] == ["p:wd blue sn550 1tb m.2 ssd", "p:wd ssd 1tb blue sata3 wds100t2b0a"]
    yn = list(src.records(rows, "match_yes_no", context()))
    assert [r.output for r in yn] == ["no", "yes", "yes"] and yn[0].input.startswith("Offer 1: WD Blue")


def test_chat_jsonl(tmp_path):
    src = get_source("tailormatch_prompts")
    rows = src.read(write(tmp_path / "valid_gpt.jsonl", JSONL_GOOD), ErrorLog())
    assert [(r["left"], r["label"].value) for r in rows] == [
        ("lenovo performance back pack", "exact"),
        ("energizer max aaa 6pk", "irrelevant"),
    ]


def test_demo_subset_runs_every_view(demo_data):
    src = get_source("tailormatch_prompts")
    folder = demo_data / "tailormatch_wdcproducts_em" / "wdc_products"
    files = sorted(folder.glob("*.csv")) + sorted(folder.glob("*.jsonl"))
    assert len(files) == 3
    for path in files:
        rows = src.read(path, ErrorLog())
        views = every_view(src, rows)
        for name, records in views.items():
            assert len(records) == len(rows) >= 30, (path.name, name)
        assert {p.label.value for p in views["pairs"]} == {"exact", "irrelevant"}


BAD_CSV = {
    "missing file": (None, "file, field '-': file not found"),
    "empty file": ("", "file, field '-': file is empty"),
    "missing column": ("prompt\nx\n", "field 'completion': missing column"),
    "unknown label": (
        CSV_GOOD + f"{Q}Entity 1: 'a'. Entity 2: 'b'.,Maybe\n",
        "row 4, field 'completion': unknown label 'Maybe'",
    ),
    "no entities": (CSV_GOOD + "Are these the same?,Yes\n", "row 4, field 'prompt': no \"Entity 1"),
    "cut off mid-field": (CSV_GOOD + f"\"{Q}Entity 1: 'a", "row 4, field '-': row cut off mid-field"),
    "cut off row": (CSV_GOOD + f"{Q}Entity 1: 'a'. Entity 2: 'b'.\n", "row 4, field 'completion': row cut off"),
}
BAD_CHAT = {
    "no assistant turn": (
        JSONL_GOOD + json.dumps({"messages": [{"role": "user", "content": "Q"}]}) + "\n",
        "row 3, field 'messages': no assistant turn",
    ),
    "no messages": (JSONL_GOOD + '{"prompt": "x"}\n', "row 3, field 'messages': missing"),
    "chat unknown label": (
        JSONL_GOOD + _chat("Entity 1: 'a'. Entity 2: 'b'.", "Probably"),
        "row 3, field 'messages.assistant.content': unknown label",
    ),
    "truncated json": (JSONL_GOOD + '{"messages": [{"role": "user", "con', "row 3, field '-': invalid JSON"),
    "wrong encoding": (
        JSONL_GOOD.encode() + '{"messages": "caf\xe9"}\n'.encode("latin-1"),
        "row 3, field '-': wrong encoding",
    ),
}

test_bad_csv_raises_data_error = bad_input_test("tailormatch_prompts", "bad.csv", BAD_CSV)
test_bad_chat_raises_data_error = bad_input_test("tailormatch_prompts", "bad.jsonl", BAD_CHAT)


def test_skip_counts_bad_rows(tmp_path):
    text = CSV_GOOD + "Are these the same?,Yes\n" + f"{Q}Entity 1: 'a'. Entity 2: 'b'.,No\n"
    assert_skips("tailormatch_prompts", write(tmp_path / "s.csv", text), 4, "row 4, field 'prompt'")
