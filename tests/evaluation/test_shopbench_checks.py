"""ShopBench rows are checked when the file is read: a bad row stops with one line naming the file, the row and
the field, before any model is loaded or any row is scored; valid rows of the real format still load."""

import json
from pathlib import Path

import pytest

from shoptune.errors import DataError
from shoptune.evaluation.collect import collect_items
from shoptune.evaluation.items import load_shopbench

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BAD = FIXTURES / "shopbench_bad"

# Each bad file holds one valid row, then the bad row (row 2).
CASES = [
    ("mc_answer_not_a_number", "output_field", "must be an option number (an integer), got 'zero'"),
    ("unknown_metric", "metric", "unknown metric 'f1-score'"),
    ("retrieval_int_target", "output_field", "retrieval expects a non-empty list of item numbers, got 3"),
    ("mc_answer_outside_options", "output_field", "answer 7 is not one of the options listed in input_field (0-3)"),
    ("mc_no_options", "input_field", "multiple-choice prompt lists no options"),
    ("metric_for_other_task_type", "metric", "metric 'ndcg' does not fit a retrieval row (use hit rate@3)"),
]


@pytest.mark.parametrize(("name", "field", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_shopbench_row_names_file_row_and_field(name, field, message):
    path = BAD / f"{name}.jsonl"
    with pytest.raises(DataError) as info:
        load_shopbench(path)
    err = info.value
    assert (err.row, err.field) == (2, field)
    assert message in err.message
    assert str(err).startswith(f"{path}: row 2, field '{field}': ")
    assert "\n" not in str(err)


def test_bad_shopbench_row_fails_in_collect_items_before_any_model(tmp_path):
    # collect_items is what `shoptune eval` runs before it loads the model.
    with pytest.raises(DataError, match=r"row 2, field 'metric': unknown metric 'f1-score'"):
        collect_items([f"shopbench:{BAD / 'unknown_metric.jsonl'}"])


def test_bad_shopbench_row_fails_through_the_cli_before_the_model_loads(cli, tmp_path):
    # A model name that does not resolve: the data error must come first.
    code, _, err = cli(
        "eval", "--model", "no-such-model", "--tasks", f"shopbench:{BAD / 'mc_no_options.jsonl'}", "--out", tmp_path
    )
    assert code == 2
    assert err.strip().count("\n") == 0
    assert "mc_no_options.jsonl: row 2, field 'input_field': multiple-choice prompt lists no options" in err


def _row(**changes):
    base = {
        "input_field": "Pick one.\n0. a\n1. b\n2. c\nAnswer: ",
        "output_field": 2,
        "task_name": "t",
        "task_type": "multiple-choice",
        "metric": "accuracy",
        "is_multiple_choice": True,
        "track": "x",
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (_row(output_field=True), "output_field"),
        (_row(output_field=2.5), "output_field"),
        (_row(output_field=None), "output_field"),
        (_row(metric=3), "metric"),
        (_row(input_field=""), "input_field"),
        (_row(task_type="retrieval", is_multiple_choice=False, metric="hit rate@3", output_field=[]), "output_field"),
        (
            _row(task_type="retrieval", is_multiple_choice=False, metric="hit rate@3", output_field=["1"]),
            "output_field",
        ),
        (_row(task_type="ranking", is_multiple_choice=False, metric="ndcg", output_field=["E", "S"]), "output_field"),
        (
            _row(task_type="named_entity_recognition", is_multiple_choice=False, metric="micro f1", output_field="x"),
            "output_field",
        ),
        (_row(task_type="generation", is_multiple_choice=False, metric="rougel", output_field=3), "output_field"),
    ],
)
def test_targets_that_a_metric_would_crash_on_are_rejected_at_load(tmp_path, row, field):
    path = tmp_path / "dev.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(DataError) as info:
        load_shopbench(path)
    assert (info.value.row, info.value.field) == (1, field)


def test_valid_rows_of_the_real_format_load(tmp_path):
    # Shapes seen in the KDD Cup 2024 development file: a 1-to-5 rating question with no listed options, options
    # after a description that itself holds numbered lines, a string answer number, a one-item retrieval target.
    rows = [
        _row(
            input_field="Instructions: Evaluate the review on a scale of 1 to 5, with 1 being very negative.\n"
            "Input: Great kettle.\nOutput:\nAnswer: ",
            output_field=5,
        ),
        _row(
            input_field="Features:\n1. light\n2. strong\n\n0. tent\n1. mug\n2. sock\n3. hat\nAnswer: ", output_field=3
        ),
        _row(output_field="1"),
        _row(task_type="retrieval", is_multiple_choice=False, metric="hit rate@3", output_field=[4]),
        _row(task_type="generation", is_multiple_choice=False, metric="jp-bleu", output_field="綿のタオル"),
    ]
    path = tmp_path / "dev.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    items = load_shopbench(path)
    assert items[0].choices == ["1", "2", "3", "4", "5"] and items[0].target == 5
    assert items[1].choices == ["0", "1", "2", "3"] and items[1].target == 3
    assert items[2].target == 1
    assert items[3].target == [4]


@pytest.mark.parametrize("name", ["shopbench_sample.jsonl", "shopbench_mixed_metrics.jsonl"])
def test_fixture_files_load(name):
    items = load_shopbench(FIXTURES / name)
    assert len(items) == len((FIXTURES / name).read_text(encoding="utf-8").splitlines())


def _looks_like_shopbench(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(4096)
    return b'"output_field"' in head and b'"task_type"' in head


@pytest.mark.shared_data
def test_real_shopbench_files_in_shared_data_load(shared_data):
    # ../shared/data ships no ShopBench rows today (its README says so); any file of the format added there
    # must keep loading.
    found = [p for p in shared_data.rglob("*.json*") if p.suffix in (".json", ".jsonl") and _looks_like_shopbench(p)]
    if not found:
        pytest.skip("no ShopBench-format file in ../shared/data")
    for path in found:
        assert load_shopbench(path)
