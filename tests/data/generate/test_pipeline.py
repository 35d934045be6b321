"""A generation end to end against the loopback server: quality control drops what it should and says why, the
output is a task `data build` reads, the judge grades, a resume reuses every reply, and bad input is one line."""

from __future__ import annotations

import json
import random

import pytest

from data.generate.conftest import PRODUCTS, make_config, seed_row, task_spec, write_config, write_seeds
from shoptune.data.build import BuildConfig, build, read_manifest
from shoptune.data.generate.assemble import Checks, Reject, assemble, extract_json_object, parse_reply
from shoptune.data.generate.config import FiltersConfig, ParseConfig, RecordConfig, load_generate_config
from shoptune.data.generate.quality import Contamination, Deduplicator
from shoptune.data.generate.runner import run_generation
from shoptune.data.store import load_records
from shoptune.errors import ConfigError, ShoptuneError
from shoptune.io import OutputError


def _run(tmp_path, llm, seeds, name="out", resume=False, **over):
    cfg = load_generate_config(write_config(tmp_path / f"{name}.yaml", make_config(llm.url, seeds, **over)))
    return run_generation(cfg, tmp_path / name, resume=resume, log=lambda m: None)


def _echo(instruction="Which product fits the shopper's need?", need="Shopper: a warm coat", options=None, output=None):
    options = ["Wool winter coat", "Garden hose"] if options is None else options
    data = {
        "instruction": instruction,
        "input": need,
        "options": options,
        "output": options[0] if output is None else output,
    }
    return json.dumps(data)


# ------------------------------------------------------------------------------------------ units
def test_replies_parse_into_the_record_schema_or_name_the_cause():
    assert extract_json_object('Here you go:\n```json\n{"output": "a", "options": ["a", "b"]}\n```') == {
        "output": "a",
        "options": ["a", "b"],
    }
    for text, cause in [
        ("no json here", "malformed_json"),
        ('{"output": "a", ', "malformed_json"),
        ("[1, 2]", "not_an_object"),
    ]:
        with pytest.raises(Reject) as err:
            parse_reply(text, ParseConfig())
        assert (err.value.stage, err.value.cause) == ("parse", cause)
    with pytest.raises(Reject, match="no_match"):
        parse_reply("Sure!", ParseConfig(format="text", pattern=r"^Query: (?P<query>.+)"))
    assert parse_reply("Query: red shoes\n", ParseConfig(format="text", pattern=r"^Query: (?P<query>[^\n]+)")) == {
        "query": "red shoes"
    }
    rng = random.Random(0)
    fields = assemble({}, {"instruction": "Pick.", "options": ["a", "b"], "output": 1}, "", RecordConfig(), rng)
    assert fields == {"instruction": "Pick.", "input": "", "options": ["a", "b"], "output": "b"}  # index -> option
    for response, cause in [
        ({"options": ["a"], "output": "a"}, "missing_field"),
        ({"instruction": "Pick.", "output": ""}, "empty_output"),
        ({"instruction": "Pick.", "options": "a, b", "output": "a"}, "options_not_a_list_of_text"),
        ({"instruction": ["x"], "output": "a"}, "instruction_not_text"),
    ]:
        with pytest.raises(Reject) as err:
            assemble({}, response, "", RecordConfig(), rng)
        assert err.value.cause == cause
    record = RecordConfig(
        instruction="Find it.", input="Query: {{ response.q }}", options=["{{ seed.p }}", "x"], output="{{ seed.p }}"
    )
    fields = assemble({"seed": {"p": "red shoes"}}, {"q": "shoes"}, "", record, rng)
    assert fields == {
        "instruction": "Find it.",
        "input": "Query: shoes",
        "options": ["red shoes", "x"],
        "output": "red shoes",
    }


def test_cheap_checks_length_language_consistency_and_rules():
    filters = FiltersConfig.model_validate(
        {"length": {"input": [5, 60]}, "rules": {"short_query": "words(input) | length <= 8"}}
    )
    checks = Checks(filters, task_spec("multiple_choice"))
    good = {
        "instruction": "Which product fits the shopper?",
        "input": "Shopper: a warm coat for winter",
        "options": ["Wool coat", "Hose"],
        "output": "Wool coat",
    }
    checks.run(good, {})
    cases = [
        ({"input": "Hi"}, ("length", "input_too_short")),
        ({"input": "Shopper: " + "very " * 20}, ("length", "input_too_long")),
        (
            {
                "instruction": "Welches Produkt passt zu dem, was der Kunde sucht?",
                "input": "Kunde: ein warmer Mantel für den Winter",
            },
            ("language", "detected_de"),
        ),
        ({"output": "Fleece"}, ("consistency", "answer_not_in_options")),
        ({"options": ["Wool coat", "wool  COAT!"], "output": "Wool coat"}, ("consistency", "duplicate_options")),
        ({"options": ["Wool coat"]}, ("consistency", "too_few_options")),
        ({"input": "Shopper: a coat a coat a coat a coat a coat"}, ("rule", "short_query")),
    ]
    for change, (stage, cause) in cases:
        with pytest.raises(Reject) as err:
            checks.run({**good, **change}, {})
        assert (err.value.stage, err.value.cause) == (stage, cause), change
    span = Checks(FiltersConfig(), task_spec("extraction"))
    span.run(
        {"instruction": "Extract the brand.", "input": "Acme red running shoes", "options": [], "output": "Acme"}, {}
    )
    with pytest.raises(Reject, match="answer_not_in_input"):
        span.run(
            {"instruction": "Extract the brand.", "input": "Acme red running shoes", "options": [], "output": "Acm"}, {}
        )


def test_exact_and_near_duplicates_keep_the_first():
    from shoptune.data.generate.config import DedupConfig

    dedup = Deduplicator(DedupConfig(near="minhash", threshold=0.7))
    texts = [
        "a waterproof jacket for hiking in the mountains when it rains hard",
        "A waterproof jacket, for hiking in the mountains when it rains HARD!",  # exact after normalising
        "a waterproof jacket for hiking in the mountains when it rains very hard",  # near
        "a cordless drill for putting up kitchen shelves",
    ]
    assert [dedup.check(t) for t in texts] == [None, "exact", "near", None]
    off = Deduplicator(DedupConfig(exact=False, near="none"))
    assert [off.check(t) for t in texts[:2]] == [None, None]


def test_embedding_near_duplicates(tmp_path):
    from shoptune.data.generate.config import DedupConfig
    from shoptune.data.generate.quality import Embedder
    from shoptune.testing import build_tiny_encoder

    model = build_tiny_encoder(tmp_path / "enc")
    embedder = Embedder(str(model))
    dedup = Deduplicator(DedupConfig(near="embedding", embedding_threshold=0.999, embedding_model=str(model)), embedder)
    assert dedup.check("red cotton shirt for women") is None
    assert dedup.check("red cotton shirt for women.") == "exact"
    assert dedup.check("Red cotton shirt for women!!") == "exact"
    embedder.cache["a wholly different text"] = embedder("red cotton shirt for women")  # same vector, other words
    assert dedup.check("a wholly different text") == "near"


def test_contamination_index_skips_boilerplate(tmp_path):
    from shoptune.data.generate.config import DecontamConfig

    items = [
        f"Which aisle sells this product? Item number {i}: a {w} thing"
        for i, w in enumerate("abcdefghijklmnopqrstuvwxyz")
    ]
    items.append("organic blueberry greek yogurt with honey and granola topping, family size")
    path = tmp_path / "eval.txt"
    path.write_text("\n".join(items))
    index = Contamination(DecontamConfig(files=[str(path)], ngram=4, max_df=3))
    # 13 words, 10 four-grams: all but the two that start with "Try our" are in the evaluation item
    assert index.overlap("Try our organic blueberry greek yogurt with honey and granola topping, family size!") == 0.8
    # the instruction repeated in 26 evaluation items is boilerplate, not a leak
    assert index.overlap("Which aisle sells this product? A pack of pencils") == 0.0
    assert index.documents == 27


# ------------------------------------------------------------------------------------------ end to end
def test_generation_drops_by_cause_and_writes_a_task_data_build_reads(llm, tmp_path, demo_data):
    # Evaluation data: a built test split, and a file; one seed copies a test item, another the file's text.
    eval_build = tmp_path / "eval_build"
    build(BuildConfig(data_root=str(demo_data), tasks=["hd_relevance_mc"]), eval_build)
    test_item = load_records(eval_build, "hd_relevance_mc", "test")[0]
    leaked_file = tmp_path / "benchmark.jsonl"
    leaked_file.write_text(
        json.dumps({"input_field": "a sturdy ladder that reaches my second floor gutters safely", "output_field": 0})
        + "\n"
    )
    rows = [seed_row(need, product) for need, product in PRODUCTS[:6]]
    rows += [
        seed_row(PRODUCTS[0][0], "Trail shoes, waterproof"),  # same need as seed 0: an exact duplicate input
        seed_row(PRODUCTS[1][0] + " please", "Vacuum flask"),  # near duplicate of seed 1's input
        seed_row(test_item.input, test_item.options[0]),  # copies an evaluation item
        seed_row("a sturdy ladder that reaches my second floor gutters safely", "Extension ladder"),
        seed_row("x", "y1", echo="Sure! Here is an example for you."),  # malformed JSON
        seed_row("x", "y2", echo=_echo(output="Fleece jacket")),  # answer not among the options
        seed_row("x", "y3", echo=_echo(need="Kunde: ich brauche einen warmen Mantel für den kalten Winter")),
        seed_row("x", "y4", echo=_echo(options=["Coat", "coat"])),  # duplicate options
        seed_row("x", "y5", echo='{"instruction": "Which one?", "options": ["a", "b"]}'),  # no output
    ]
    seeds = write_seeds(tmp_path / "seeds.jsonl", rows)
    filters = {
        "dedup": {"fields": ["input"], "threshold": 0.6},
        "decontam": {"builds": [str(eval_build)], "files": [str(leaked_file)], "ngram": 5, "threshold": 0.15},
    }
    report = _run(tmp_path, llm, seeds, filters=filters, max_requests=len(rows))
    assert report["dropped"] == {
        "parse": {"malformed_json": 1, "missing_field": 1},
        "language": {"detected_de": 1},
        "consistency": {"answer_not_in_options": 1, "duplicate_options": 1},
        "duplicate": {"exact": 1, "near": 1},
        "contamination": {"ngram_overlap": 2},
    }
    assert report["kept"] == 6 and report["kept"] + report["dropped_total"] == report["requests"]["issued"] == len(rows)
    out = tmp_path / "out"
    dropped = [json.loads(line) for line in (out / "dropped.jsonl").read_text().splitlines()]
    assert {(d["stage"], d["cause"]) for d in dropped} >= {("parse", "malformed_json"), ("duplicate", "exact")}
    examples = [json.loads(line) for line in (out / "examples.jsonl").read_text().splitlines()]
    first = examples[0]["metadata"]["generation"]
    assert first["backend"] == "openai" and first["model"] == "fake-model" and len(first["prompt_hash"]) == 16
    assert {"seed_id", "time", "request_id"} <= set(first) and examples[0]["groups"][-1] == f"seed:{first['seed_id']}"
    for name in ("report.md", "SOURCE.md"):
        text = (out / name).read_text()
        assert "gen_test_mc" in text
    assert "| contamination | ngram_overlap | 2 |" in (out / "report.md").read_text()
    assert "fake-model" in (out / "SOURCE.md").read_text() and "ECHO" in (out / "SOURCE.md").read_text()

    # The output is a task: a build with its folder in task_dirs builds it like any other.
    data = tmp_path / "data"
    manifest = build(BuildConfig(data_root=str(tmp_path), tasks=["gen_test_mc"], task_dirs=[str(out / "task")]), data)
    counts = manifest["tasks"]["gen_test_mc"]["counts"]
    assert sum(counts.values()) == 6 and read_manifest(data)["tasks"]["gen_test_mc"]["adapter"] == "generated"
    built = [r for split, n in counts.items() if n for r in load_records(data, "gen_test_mc", split)]
    assert {r.output for r in built} == {e["output"] for e in examples}
    assert all(
        r.capability == "user_behavior_alignment" and r.metadata["generation"]["model"] == "fake-model" for r in built
    )


def test_judge_grades_and_drops_below_threshold(llm, tmp_path):
    rows = [
        seed_row(f"{need} {'good' if i % 2 == 0 else 'meh'}", product) for i, (need, product) in enumerate(PRODUCTS[:8])
    ]
    seeds = write_seeds(tmp_path / "seeds.jsonl", rows)
    judge_prompt = (
        "Grade this example from 1 to 5.\n{{ input }}\n"
        "ECHO: {{ '5' if 'good' in input else ('2' if 'meh' in input else 'no idea') }}"
    )
    backend = make_config(llm.url, seeds)["backend"]
    filters = {
        "dedup": {"fields": ["input"]},
        "judge": {"backend": backend, "prompt": {"user": judge_prompt}, "threshold": 4},
    }
    report = _run(tmp_path, llm, seeds, filters=filters, target=3, max_requests=8)
    assert report["kept"] == 3 and report["stopped"] == "target reached"
    assert report["dropped"]["judge"]["below_threshold"] >= 2
    examples = [json.loads(line) for line in (tmp_path / "out" / "examples.jsonl").read_text().splitlines()]
    assert all("good" in e["input"] and e["metadata"]["generation"]["judge"]["score"] == 5.0 for e in examples)
    judged = report["requests"]["judge_requests"]
    # a resume re-grades nothing: judge replies are checkpointed under the example's content
    before = len(llm.arrivals)
    again = _run(tmp_path, llm, seeds, resume=True, filters=filters, target=3, max_requests=8)
    assert len(llm.arrivals) == before and again["kept"] == 3 and again["requests"]["judge_requests"] == judged


def test_resume_reuses_every_reply_and_refuses_a_changed_prompt(llm, tmp_path, seeds):
    first = _run(tmp_path, llm, seeds, target=4)
    sent = len(llm.arrivals)
    assert first["kept"] == 4
    with pytest.raises(ShoptuneError, match="--resume"):
        _run(tmp_path, llm, seeds, target=4)
    # a larger target continues where the run stopped: the first requests are not sent again
    more = _run(tmp_path, llm, seeds, resume=True, target=8, max_requests=12)
    assert more["kept"] == 8
    prompts = [b["messages"][-1]["content"] for b in llm.bodies]
    assert len(prompts) == len(set(prompts)) and len(llm.arrivals) > sent
    # filters may change on resume (quality control reruns over the saved replies) ...
    stricter = {"dedup": {"fields": ["input"]}, "length": {"input": [0, 40]}}
    before = len(llm.arrivals)
    strict = _run(tmp_path, llm, seeds, resume=True, target=8, max_requests=12, filters=stricter)
    assert "length" in strict["dropped"] and len(llm.arrivals) >= before
    # ... what defines the requests may not
    changed = make_config(llm.url, seeds, target=8, max_requests=12)
    changed["prompt"] = {"user": changed["prompt"]["user"] + " "}
    cfg = load_generate_config(write_config(tmp_path / "changed.yaml", changed))
    with pytest.raises(ConfigError, match="prompt.user"):
        run_generation(cfg, tmp_path / "out", resume=True, log=lambda m: None)


def test_bad_input_is_one_line_before_any_request(llm, tmp_path, seeds, cli_generate):
    def fails(cfg_dict, match, out_name="out"):
        path = write_config(tmp_path / "bad.yaml", cfg_dict)
        code, _, err = cli_generate("data", "generate", path, "--out", tmp_path / out_name)
        assert code == 2, err
        assert err.startswith("error: ") and err.count("\n") == 1 and match in err, err

    base = make_config(llm.url, seeds)
    fails({**base, "prompt": {"user": "{{ nope.x }}"}}, "prompt: 'nope' is undefined")
    fails({**base, "prompt": {"user": "{% if %}"}}, "key 'prompt.user': Jinja syntax error")
    fails({**base, "record": {"input": "{{ seed.nothing_here }}"}}, "record.input")
    fails({**base, "target": 0}, "key 'target'")
    fails({**base, "task": {**base["task"], "name": "hd_relevance_mc"}}, "already a registered task")
    fails({**base, "task": {"name": "gen_x"}}, "give capability, kind, metric")
    fails({**base, "seeds": {**base["seeds"], "where": "seed.nope == 1"}}, "seeds.where")
    fails({**base, "filters": {"decontam": {"builds": ["missing_build"]}}}, "filters.decontam.builds")
    fails({**base, "parse": {"format": "text", "pattern": "(unclosed"}}, "key 'parse.pattern'")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("my own file")
    fails(base, "did not write", out_name="mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "my own file"
    assert not llm.arrivals
    # and a good run prints its report and how to use the task
    good = write_config(tmp_path / "good.yaml", {**base, "target": 2})
    code, out, err = cli_generate("data", "generate", good, "--out", tmp_path / "ok", "--set", "max_requests=4")
    assert code == 0, err
    assert "2 of 2 examples kept" in out and "task_dirs" in out


def test_task_like_an_existing_one(llm, tmp_path, seeds):
    task = {"name": "gen_hd_relevance_more", "like": "hd_relevance_mc"}
    report = _run(tmp_path, llm, seeds, task=task, target=2)
    spec = (tmp_path / "out" / "task" / "gen_hd_relevance_more.yaml").read_text()
    assert report["task"] == {
        "name": "gen_hd_relevance_more",
        "capability": "user_behavior_alignment",
        "kind": "multiple_choice",
    }
    assert "adapter: generated" in spec and "- generated" in spec
    with pytest.raises(OutputError):
        _run(tmp_path, llm, seeds, name="seeds", task=task, target=2)  # the seeds folder is the user's own


def test_the_generated_task_joins_an_sft_mixture_by_name(llm, tmp_path, seeds, demo_data):
    """A build of real tasks (data_root elsewhere) plus the generated one from task_dirs; an SFT config then adds
    the generated task to its mixture with one line in data.tasks. (Needs data/build.py to key files outside
    data_root by their full path and to keep a task_dirs task's spec in the manifest.)"""
    from shoptune.training.config import SFTConfig
    from shoptune.training.sft import prepare_data

    _run(tmp_path, llm, seeds, target=6)
    data = tmp_path / "data"
    build(
        BuildConfig(
            data_root=str(demo_data),
            tasks=["hd_relevance_mc", "gen_test_mc"],
            task_dirs=[str(tmp_path / "out" / "task")],
        ),
        data,
    )
    cfg = SFTConfig.model_validate(
        {"model": "unused", "data": {"path": str(data), "tasks": ["hd_relevance_mc", "gen_test_mc"]}}
    )
    train = prepare_data(cfg, tmp_path / "run", log=lambda m: None)
    assert train.specs["gen_test_mc"].source.adapter == "generated"
    assert sum(len(v) for v in train.train.values()) > len(train.train["hd_relevance_mc"])
