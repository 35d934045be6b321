"""Entity-level decontamination (issue #21, point 7): a generated example carries the ids of the entities it was
built from and is dropped when any of them sits in a dev or test split of the build it decontaminates against;
the n-gram check compares only the example's variable content; an unbuilt build names the command that builds it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from data.generate.conftest import PRODUCTS, make_config, seed_row, write_config, write_seeds
from shoptune.data.build import BuildConfig, build
from shoptune.data.generate.config import DecontamConfig, RecordConfig, load_generate_config
from shoptune.data.generate.quality import Contamination, example_text, fixed_fields, variable_text
from shoptune.data.generate.runner import run_generation
from shoptune.data.store import load_records
from shoptune.errors import ConfigError

TASK = "ic_aisle_mc"
INSTRUCTION = (
    "A shopper searched an online grocery store for the query below. Which product is the shopper most likely "
    "looking for?"
)
#: The fake model writes "looking for <product>" as the shopper's query.
QUERY_PROMPT = "ECHO: {{ {'query': 'looking for ' ~ (input | replace('Product: ', ''))} | tojson }}"
QUERY_RECORD = {
    "instruction": INSTRUCTION,
    "input": "Query: {{ response.query }}",
    "options": [
        '{{ input | replace("Product: ", "") }}',
        '{{ others[0].input | replace("Product: ", "") }}',
        '{{ others[1].input | replace("Product: ", "") }}',
    ],
    "output": '{{ input | replace("Product: ", "") }}',
    "shuffle_options": True,
}


@pytest.fixture(scope="module")
def eval_build(tmp_path_factory, demo_data) -> Path:
    """A small data build from the demo data: the Instacart aisle task, split by product."""
    out = tmp_path_factory.mktemp("eval") / "data"
    build(BuildConfig(data_root=str(demo_data), tasks=[TASK]), out)
    return out


def _generate(tmp_path, llm, eval_build, seeds_cfg, n, *, name="out", decontam=None, **over):
    cfg = make_config(
        llm.url,
        tmp_path / "unused.jsonl",
        prompt={"user": QUERY_PROMPT},
        record=QUERY_RECORD,
        filters={
            "language": None,
            "dedup": {"fields": ["input"]},
            "decontam": decontam or {"builds": [str(eval_build)]},
        },
        target=n,
        max_requests=n,
        **over,
    )
    cfg["seeds"] = seeds_cfg
    config = load_generate_config(write_config(tmp_path / f"{name}.yaml", cfg))
    report = run_generation(config, tmp_path / name, log=lambda m: None)
    out = tmp_path / name
    examples = [json.loads(line) for line in (out / "examples.jsonl").read_text().splitlines()]
    dropped = [json.loads(line) for line in (out / "dropped.jsonl").read_text().splitlines()]
    return report, examples, dropped


def _keys(build_dir: Path, splits: tuple[str, ...]) -> set[str]:
    return {k for s in splits for r in load_records(build_dir, TASK, s) for k in r.metadata["groups"]}


def test_records_built_from_test_products_are_dropped_as_contaminated_entity(llm, tmp_path, eval_build):
    seeds = {"task": TASK, "data": str(eval_build), "split": "test", "limit": 12, "others": 2}
    report, examples, dropped = _generate(tmp_path, llm, eval_build, seeds, 12)
    assert report["kept"] == 0 and not examples
    # every example that reached decontamination was caught by its entities, none by n-grams (whose share of a
    # product name's few words is far below the threshold: why entity ids are needed at all)
    assert report["dropped"]["contamination"] == {
        "contaminated_entity": 12
        - sum(n for stage, causes in report["dropped"].items() if stage != "contamination" for n in causes.values())
    }
    assert report["dropped"]["contamination"]["contaminated_entity"] >= 10
    caught = [d for d in dropped if d["cause"] == "contaminated_entity"]
    assert all(d["detail"].startswith("p:") and f"{TASK}:test" in d["detail"] for d in caught)
    assert report["decontamination"]["entity_keys"] == len(_keys(eval_build, ("dev", "test")))
    text = (tmp_path / "out" / "report.md").read_text()
    assert f"| contamination | contaminated_entity | {len(caught)} |" in text and "entity decontamination" in text


def test_records_built_from_train_products_survive_and_carry_their_source_entities(llm, tmp_path, eval_build):
    seeds = {"task": TASK, "data": str(eval_build), "split": "train", "limit": 12, "others": 2}
    report, examples, _ = _generate(tmp_path, llm, eval_build, seeds, 12)
    assert "contamination" not in report["dropped"]
    assert report["kept"] == len(examples) >= 10
    train = _keys(eval_build, ("train",))
    for example in examples:
        entities = example["metadata"]["source_entities"]
        # the seed's own keys first (also its split groups), then those of the two other products shown
        assert entities[: len(example["groups"]) - 1] == example["groups"][:-1] and len(entities) == 3
        assert set(entities) <= train


def test_a_source_whose_products_overlap_a_test_split_is_caught_by_seed_and_by_shown_other(llm, tmp_path, eval_build):
    """Seeds from another source: keys, not texts, decide. A seed whose product is a test product (its text
    reworded) is dropped, and so is every example whose prompt showed it as another option."""
    test_product = load_records(eval_build, TASK, "test")[0].metadata["groups"][0]
    rows = [seed_row(need, product, group=f"p:elsewhere {i}") for i, (need, product) in enumerate(PRODUCTS[:6])]
    rows.append(seed_row("coffee filters for my drip machine", "Paper coffee filters, size 2", group=test_product))
    path = write_seeds(tmp_path / "seeds" / "seeds.jsonl", rows)
    seeds = {
        "source": {"adapter": "generated", "path": path.name, "view": "instructions"},
        "data_root": str(path.parent),
        "others": 2,
    }
    record = {**QUERY_RECORD, "options": ["{{ output }}", "{{ others[0].output }}", "{{ others[1].output }}"]}
    cfg = make_config(
        llm.url,
        path,
        record={**record, "input": "Query: {{ response.query }}", "output": "{{ output }}"},
        prompt={"user": "ECHO: {{ {'query': input} | tojson }}"},
        filters={"language": None, "dedup": {"fields": ["input"]}, "decontam": {"builds": [str(eval_build)]}},
        target=7,
        max_requests=7,
    )
    cfg["seeds"] = seeds
    config = load_generate_config(write_config(tmp_path / "src.yaml", cfg))
    report = run_generation(config, tmp_path / "src", log=lambda m: None)
    examples = [json.loads(line) for line in (tmp_path / "src" / "examples.jsonl").read_text().splitlines()]
    caught = report["dropped"]["contamination"]["contaminated_entity"]
    assert caught >= 2  # the test product's own request, and at least one that showed it as an option
    assert report["kept"] == len(examples) == 7 - caught
    assert all(test_product not in e["metadata"]["source_entities"] for e in examples)
    assert all("coffee filters" not in " ".join(e["options"]).lower() for e in examples)


def test_the_entity_check_can_be_turned_off(llm, tmp_path, eval_build):
    seeds = {"task": TASK, "data": str(eval_build), "split": "test", "limit": 6, "others": 2}
    decontam = {"builds": [str(eval_build)], "entity_splits": []}
    report, examples, _ = _generate(tmp_path, llm, eval_build, seeds, 6, decontam=decontam)
    assert "contaminated_entity" not in report["dropped"].get("contamination", {})
    assert report["kept"] == len(examples) >= 1 and report["decontamination"]["entity_keys"] == 0


# ------------------------------------------------------------------------------------------ variable content only
def test_ngram_check_compares_the_variable_fields_not_the_fixed_instruction(llm, tmp_path, eval_build):
    """A seed that copies an evaluation text under a long fixed instruction: over the whole record its share of
    leaked 8-grams is under the threshold (so the old check kept it); over its variable content it is caught."""
    leaked = "a sturdy aluminium ladder that reaches my second floor gutters safely without wobbling at all"
    bench = tmp_path / "benchmark.jsonl"
    bench.write_text(json.dumps({"question": leaked}) + "\n")
    long_instruction = (
        "Read the message a shopper sent to the customer service team of an online store below, think about "
        "what the shopper will use the item for, where and how often, which size, material and price would suit "
        "that use, and then choose the single product from the numbered list of options that fits the need best"
    )
    rows = [seed_row(need, product, group=f"p:own {i}") for i, (need, product) in enumerate(PRODUCTS[:4])]
    rows.append(seed_row(leaked, "Extension ladder", group="p:own ladder"))
    path = write_seeds(tmp_path / "seeds.jsonl", rows)
    decontam = {"builds": [str(eval_build)], "files": [str(bench)], "ngram": 8, "threshold": 0.2}
    cfg = make_config(
        llm.url,
        path,
        record={"instruction": long_instruction, "shuffle_options": True},
        filters={"language": None, "dedup": {"fields": ["input"]}, "decontam": decontam},
        target=5,
        max_requests=5,
    )
    config = load_generate_config(write_config(tmp_path / "ngram.yaml", cfg))
    report = run_generation(config, tmp_path / "ngram", log=lambda m: None)
    assert report["dropped"] == {"contamination": {"ngram_overlap": 1}} and report["kept"] == 4
    assert "fixed instruction" in report["decontamination"]["ngram_fields"]
    dropped = [json.loads(line) for line in (tmp_path / "ngram" / "dropped.jsonl").read_text().splitlines()]
    assert float(dropped[0]["detail"]) > 0.2
    # the same example over the whole record, as the check ran before: under the threshold
    index = Contamination(DecontamConfig.model_validate(decontam))
    fields = {
        "instruction": long_instruction,
        "input": f"Shopper: {leaked}",
        "options": ["Extension ladder", PRODUCTS[0][1], PRODUCTS[1][1]],
        "output": "Extension ladder",
    }
    whole = index.overlap(example_text(fields, ("instruction", "input", "options", "output")))
    variable = index.overlap(variable_text(fields, fixed_fields(config.record)))
    assert whole < 0.2 < variable


def test_fixed_fields_are_the_templates_without_variables():
    record = RecordConfig(
        instruction="Which product is it?",
        input="Query: {{ response.query }}",
        options=["{{ input }}", "None of these", "{{ others[0].input }}"],
        output="{{ input }}",
    )
    assert fixed_fields(record) == {"instruction": ["Which product is it?"], "options": ["None of these"]}
    assert fixed_fields(RecordConfig()) == {}  # every field from the model's reply: all variable
    fields = {"instruction": "Which product is it?", "input": "Query: drill", "options": ["None of these", "Drill"]}
    assert variable_text({**fields, "output": "Drill"}, fixed_fields(record)) == "Query: drill\nDrill\nDrill"


# ------------------------------------------------------------------------------------------ unbuilt build
def _fresh_clone(tmp_path: Path, repo: Path, monkeypatch) -> Path:
    """The repository's configs in a folder with no runs/, as in a fresh clone; the working folder is its root."""
    clone = tmp_path / "clone"
    shutil.copytree(repo / "configs", clone / "configs")
    monkeypatch.chdir(clone)
    return clone


def test_an_unbuilt_build_names_the_command_that_builds_it(tmp_path, repo, monkeypatch, cli_generate):
    _fresh_clone(tmp_path, repo, monkeypatch)
    config = "configs/generate/grocery_search.yaml"
    code, _, err = cli_generate("data", "generate", config, "--out", "runs/generated/grocery_search")
    assert code == 2
    assert err == (
        f"error: {config}: key 'filters.decontam.builds': runs/data_full is not built; "
        "run `shoptune data build configs/data_full.yaml --out runs/data_full` first\n"
    )
    # a folder that is there but holds no build says so, with the same command
    (Path("runs") / "data_full").mkdir(parents=True)
    with pytest.raises(
        ConfigError,
        match=r"runs/data_full is not a data build \(no manifest.json\); run `shoptune "
        r"data build configs/data_full.yaml --out runs/data_full` first",
    ):
        load_generate_config(config)


def test_an_unbuilt_build_without_a_config_of_its_name_still_gives_the_command(llm, tmp_path, seeds, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = make_config(llm.url, seeds, filters={"decontam": {"builds": ["runs/my_eval"]}})
    with pytest.raises(
        ConfigError,
        match=r"runs/my_eval is not built; run `shoptune data build BUILD_CONFIG.yaml "
        r"--out runs/my_eval` first",
    ):
        load_generate_config(write_config(tmp_path / "gen.yaml", cfg))


def test_the_cli_fails_when_no_example_is_kept(llm, tmp_path, eval_build, cli_generate):
    """A generation whose every record is dropped (here: all built from test products) writes its report and
    fails (exit 2, as every error) with one line naming the folder and the commonest cause, instead of success."""
    cfg = make_config(
        llm.url,
        tmp_path / "unused.jsonl",
        prompt={"user": QUERY_PROMPT},
        record=QUERY_RECORD,
        filters={"language": None, "dedup": {"fields": ["input"]}, "decontam": {"builds": [str(eval_build)]}},
        target=6,
        max_requests=6,
    )
    cfg["seeds"] = {"task": TASK, "data": str(eval_build), "split": "test", "limit": 6, "others": 2}
    config = write_config(tmp_path / "all_test.yaml", cfg)
    code, _, err = cli_generate("data", "generate", str(config), "--out", str(tmp_path / "gen"))
    assert code == 2, err
    last = err.splitlines()[-1]  # after the progress log, one error line
    assert last.startswith(f"error: {tmp_path / 'gen'}: no examples kept (dropped: 6 contaminated_entity)")
    assert (tmp_path / "gen" / "report.md").is_file()
