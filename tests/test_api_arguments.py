"""The public functions left out of the first validation pass: a path may be ``str`` or ``Path`` everywhere, a wrong
type is a TypeError naming the argument (never a raw one from deep inside), and a bad value a ValueError, also
where the value is a name the library looks up (an unknown task or source adapter)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import shoptune
from conftest import run_cli
from shoptune import relevance
from shoptune.errors import ArgumentError, ArgumentTypeError, ShoptuneError

REPO = Path(__file__).resolve().parents[1]
DATA_YAML = REPO / "configs" / "data_demo.yaml"


def _raises(kind: type[Exception], call, *parts: str) -> str:
    """``call`` raises a ShoptuneError that is also ``kind``; its one line holds ``parts`` and no option."""
    with pytest.raises(ShoptuneError) as caught:
        call()
    message = str(caught.value)
    assert isinstance(caught.value, kind), (type(caught.value), message)
    assert "--" not in message and "\n" not in message, message
    for part in parts:
        assert part in message, (part, message)
    return message


# ---------------------------------------------------------------------------------------------- sweeps
def _sweep_folder(root: Path) -> Path:
    """A sweep folder as `experiment run` starts it: sweep.json, no arm trained yet."""
    root.mkdir()
    config = {"base": "base.yaml", "seeds": [1], "arms": [{"name": "a"}, {"name": "b"}]}
    (root / "sweep.json").write_text(json.dumps({"key": {}, "config": config}))
    return root


def test_sweep_status_takes_a_str_path(tmp_path) -> None:
    folder = _sweep_folder(tmp_path / "sw")
    rows = shoptune.sweep_status(str(folder))
    assert [(r["arm"], r["state"]) for r in rows] == [("a", "pending"), ("b", "pending")]
    assert shoptune.sweep_status(folder) == rows


def test_analyze_sweep_takes_a_str_path(tmp_path) -> None:
    _raises(ShoptuneError, lambda: shoptune.analyze_sweep(str(tmp_path / "nope")), "not a sweep folder")
    _raises(ShoptuneError, lambda: shoptune.sweep_status(str(tmp_path / "nope")), "not a sweep folder")


@pytest.mark.parametrize("value", [None, 123, b"sw", ""])
def test_sweep_functions_check_their_folder(value) -> None:
    kind = ValueError if value == "" else TypeError
    for call in (shoptune.sweep_status, shoptune.analyze_sweep):
        message = _raises(kind, lambda c=call: c(value), "out")
        assert message.startswith("out="), message


def test_analyze_sweep_checks_its_log(tmp_path) -> None:
    folder = _sweep_folder(tmp_path / "sw")
    _raises(TypeError, lambda: shoptune.analyze_sweep(folder, log=5), "log=5", "callable")


# ---------------------------------------------------------------------------------------------- report, demo
def test_build_report_checks_its_arguments(tmp_path) -> None:
    _raises(TypeError, lambda: shoptune.build_report(123), "path=123", "must be a path")
    _raises(TypeError, lambda: shoptune.build_report(None), "path=None")
    _raises(TypeError, lambda: shoptune.build_report(tmp_path, out=5), "out=5", "must be a path")
    _raises(TypeError, lambda: shoptune.build_report(tmp_path, overwrite="yes"), "overwrite='yes'")
    _raises(ShoptuneError, lambda: shoptune.build_report(str(tmp_path)), "not a shoptune output folder")


def test_run_demo_checks_its_arguments(tmp_path) -> None:
    _raises(TypeError, lambda: shoptune.run_demo(out=5), "out=5", "must be a path")
    _raises(ValueError, lambda: shoptune.run_demo(out=""), "out=''")
    _raises(TypeError, lambda: shoptune.run_demo(tmp_path / "d", config=3), "config=3")
    _raises(TypeError, lambda: shoptune.run_demo(tmp_path / "d", skip_training=1), "skip_training=1")
    _raises(TypeError, lambda: shoptune.run_demo(tmp_path / "d", bars=5), "bars=5")
    assert not (tmp_path / "d").exists()


# ---------------------------------------------------------------------------------------------- names looked up
def test_an_unknown_task_is_a_value_error_naming_the_argument(tmp_path) -> None:
    message = _raises(ValueError, lambda: shoptune.evaluate("m", ["no_such_task"], tmp_path / "e"), "tasks")
    assert message.startswith("tasks: unknown task 'no_such_task'"), message
    _raises(ValueError, lambda: shoptune.build_data(DATA_YAML, tmp_path / "b", tasks=["nope", "nada"]), "'nada'")
    message = _raises(ValueError, lambda: shoptune.get_task("no_such_task"), "name='no_such_task'", "unknown task")
    assert isinstance(pytest.raises(ArgumentError, shoptune.get_task, "nope").value, ArgumentError), message
    assert not (tmp_path / "e").exists() and not (tmp_path / "b").exists()


def test_a_missing_task_folder_is_a_bad_argument(tmp_path) -> None:
    _raises(ValueError, lambda: shoptune.list_tasks(tmp_path / "nope"), "task_dirs=", "no such folder")
    _raises(ValueError, lambda: shoptune.get_task("hd_relevance_mc", [tmp_path / "nope"]), "task_dirs=")
    out = tmp_path / "e"
    _raises(ValueError, lambda: shoptune.evaluate("m", "hd_relevance_mc", out, task_dirs=str(tmp_path / "nope")))
    assert not out.exists()


def test_an_unknown_source_adapter_is_a_value_error_naming_source(tmp_path) -> None:
    csv = tmp_path / "train.csv"
    csv.write_text("x\n")
    message = _raises(ValueError, lambda: shoptune.validate_source(csv, "nope"), "source='nope'", "home_depot")
    assert message.startswith("source='nope': unknown source adapter (known: ")
    _raises(TypeError, lambda: shoptune.validate_source(csv, None), "source=None")


# ---------------------------------------------------------------------------------------------- relevance
def test_predict_max_line_bytes_0_is_no_limit_as_on_the_command_line(tmp_path) -> None:
    """One rule: 0 means no limit for ``max_line_bytes`` and ``--max-line-bytes`` alike (checked before the model
    loads, so the missing model is what stops both)."""
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"left": "a", "right": "b", "task": "alpha"}\n')
    model = tmp_path / "model"  # not a model: the line limit is checked first
    for limit in (0, None, 1):
        _raises(ShoptuneError, lambda n=limit: relevance.predict(model, pairs, tmp_path / "o.jsonl", max_line_bytes=n))
    _raises(ValueError, lambda: relevance.predict(model, pairs, tmp_path / "o.jsonl", max_line_bytes=-1), "at least 0")
    message = _raises(ShoptuneError, lambda: relevance.predict(model, pairs, tmp_path / "o.jsonl", max_line_bytes=0))
    assert "not a relevance model" in message and "max_line_bytes=" not in message, message
    code, _, err = run_cli(
        "relevance", "predict", "--model", model, "--input", pairs, "--out", tmp_path / "o.jsonl", "--max-line-bytes", 0
    )
    assert code == 2 and "--max-line-bytes" not in err and "not a relevance model" in err, err


def test_the_command_lines_default_line_limit_is_the_apis() -> None:
    import inspect

    from shoptune.cli import relevance as cli_relevance
    from shoptune.relevance.data import MAX_LINE_BYTES

    assert cli_relevance.MAX_LINE_BYTES == MAX_LINE_BYTES
    assert inspect.signature(relevance.predict).parameters["max_line_bytes"].default == MAX_LINE_BYTES


def test_load_predictor_checks_its_arguments(tmp_path) -> None:
    _raises(TypeError, lambda: relevance.load_predictor(5), "path=5")
    _raises(TypeError, lambda: relevance.load_predictor(None), "path=None")
    _raises(TypeError, lambda: relevance.load_predictor(tmp_path, max_tokens="x"), "max_tokens='x'")
    _raises(ValueError, lambda: relevance.load_predictor(tmp_path, max_tokens=0), "max_tokens=0")
    _raises(TypeError, lambda: relevance.load_predictor(tmp_path, bf16="yes"), "bf16='yes'", "'auto'")
    _raises(ShoptuneError, lambda: relevance.load_predictor(str(tmp_path)), "not a relevance model folder")


def test_a_task_the_data_build_lacks_is_a_bad_tasks_argument(tmp_path) -> None:
    from relevance.conftest import write_build

    build = write_build(tmp_path / "build", {"alpha": (3, 3, 3)})
    message = _raises(
        ValueError, lambda: relevance.evaluate(tmp_path, tmp_path / "o", data=build, tasks=["shade"]), "tasks"
    )
    assert "'shade'" in message and "present: alpha" in message
    assert not (tmp_path / "o").exists()


def test_errors_are_still_argument_errors() -> None:
    assert issubclass(ArgumentError, ValueError) and issubclass(ArgumentTypeError, TypeError)
