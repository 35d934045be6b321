"""One validation for the CLI and the API: the public functions check their arguments by the rules the command
line's options follow (:mod:`shoptune.validate`), before any work starts. A bad argument is a ShoptuneError that is
also a ValueError (bad value) or TypeError (wrong type), and its one line names the argument (``limit``), never a
command-line option (``--limit``); the command line still names its options."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import yaml

import shoptune
from conftest import run_cli
from shoptune import relevance, validate
from shoptune.errors import ArgumentError, ArgumentTypeError, ConfigError, ShoptuneError

REPO = Path(__file__).resolve().parents[1]
SFT_YAML = REPO / "configs" / "sft_demo.yaml"
RELEVANCE_YAML = REPO / "configs" / "relevance_minilm.yaml"
DATA_YAML = REPO / "configs" / "data_demo.yaml"


def _raises(kind: type[Exception], call, *names: str) -> str:
    """Run ``call``; it must raise a ShoptuneError that is also ``kind``, whose line names ``names`` and no option."""
    with pytest.raises(ShoptuneError) as caught:
        call()
    error, message = caught.value, str(caught.value)
    assert isinstance(error, kind), (type(error), message)
    assert "--" not in message, message
    for name in names:
        assert name in message, (name, message)
    return message


# ---------------------------------------------------------------------- wrong types: TypeError, not deep inside
def test_evaluate_without_a_model_is_a_type_error_naming_model(tmp_path) -> None:
    out = tmp_path / "eval"
    message = _raises(TypeError, lambda: shoptune.evaluate(None, ["hd_relevance_mc"], out), "model")
    assert message.startswith("model=None:")
    assert not out.exists()


def test_a_limit_given_as_a_string_is_a_type_error(tmp_path) -> None:
    out = tmp_path / "eval"
    message = _raises(TypeError, lambda: shoptune.evaluate("m", ["hd_relevance_mc"], out, limit="1"), "limit")
    assert message.startswith("limit='1': must be an integer")
    _raises(TypeError, lambda: shoptune.evaluate("m", ["hd_relevance_mc"], out, bf16="yes"), "bf16")
    assert not out.exists()


def test_predict_with_a_number_for_a_model_is_a_type_error(tmp_path) -> None:
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"left": "a", "right": "b", "task": "alpha"}\n')
    out = tmp_path / "scored.jsonl"
    message = _raises(TypeError, lambda: relevance.predict(123, pairs, out), "model")
    assert message.startswith("model=123: must be a path")
    assert not out.exists()


def test_an_unknown_keyword_of_the_pair_options_is_a_type_error(tmp_path) -> None:
    out = tmp_path / "eval"
    _raises(TypeError, lambda: relevance.evaluate(tmp_path, out, data=tmp_path, limt=3), "limt", "limit")
    assert not out.exists()


# ---------------------------------------------------------------------- bad values: ValueError, before any work
@pytest.mark.parametrize(
    ("argument", "value"), [("batch_size", 0), ("limit", 0), ("limit", -1), ("shots", -2), ("split", "nosuch")]
)
def test_evaluate_refuses_a_bad_option_before_any_work(tmp_path, argument: str, value) -> None:
    out = tmp_path / "eval"
    message = _raises(ValueError, lambda: shoptune.evaluate("m", "hd_relevance_mc", out, **{argument: value}))
    assert message.startswith(f"{argument}={value!r}:")
    assert not out.exists()


def test_predict_refuses_a_negative_chunk(tmp_path) -> None:
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"left": "a", "right": "b", "task": "alpha"}\n')
    out = tmp_path / "scored.jsonl"
    message = _raises(ValueError, lambda: relevance.predict(tmp_path, pairs, out, chunk=-5), "chunk")
    assert message == "chunk=-5: must be at least 1"
    assert not out.exists()


def test_relevance_options_follow_the_command_lines_rules(tmp_path) -> None:
    out = tmp_path / "o"
    _raises(ValueError, lambda: relevance.evaluate(tmp_path, out, data=tmp_path, bootstrap=0), "bootstrap")
    _raises(ValueError, lambda: relevance.evaluate(tmp_path, out, data=tmp_path, limit=0), "limit")
    _raises(ValueError, lambda: relevance.evaluate(tmp_path, out, data=tmp_path, split="nosuch"), "split")
    _raises(ValueError, lambda: relevance.evaluate(tmp_path, out, data=tmp_path, on_error="ignore"), "on_error")
    _raises(ValueError, lambda: relevance.calibrate(tmp_path, data=tmp_path, min_pairs=0), "min_pairs")
    _raises(ValueError, lambda: relevance.calibrate(tmp_path, data=tmp_path, rule="median"), "rule")
    _raises(ValueError, lambda: relevance.evaluate(tmp_path, out), "source", "input", "data")
    _raises(ValueError, lambda: relevance.evaluate(tmp_path, out, source="home_depot"), "source needs input")
    _raises(ValueError, lambda: relevance.compare("multitask", out), "multi=RUN", "single=RUN")
    _raises(ValueError, lambda: relevance.compare("routing", out, runs=[tmp_path], split="nosuch"), "split")
    _raises(ValueError, lambda: relevance.predict(tmp_path, tmp_path / "nope.jsonl", out / "p.jsonl"), "input")
    _raises(ValueError, lambda: relevance.predict(tmp_path, tmp_path, out / "p.txt"), "out", ".jsonl or .parquet")
    assert not out.exists()


def test_a_bad_on_error_is_refused_not_read_as_raise(tmp_path) -> None:
    csv = tmp_path / "train.csv"
    csv.write_text("x\n")
    _raises(ValueError, lambda: shoptune.validate_source(csv, "home_depot", on_error="continue"), "on_error")
    _raises(ValueError, lambda: shoptune.build_data(DATA_YAML, tmp_path / "b", on_error="ignore"), "on_error")
    assert not (tmp_path / "b").exists()


def test_compare_heldout_and_run_sweep_check_their_numbers(tmp_path) -> None:
    _raises(ValueError, lambda: shoptune.compare_heldout(tmp_path, limit=0), "limit")
    _raises(ValueError, lambda: shoptune.compare_heldout(tmp_path, batch_size=0), "batch_size")
    _raises(ValueError, lambda: shoptune.compare_heldout(tmp_path, only="both"), "only")
    _raises(ValueError, lambda: shoptune.run_sweep(tmp_path / "s.yaml", tmp_path / "o", threads=0), "threads")
    _raises(TypeError, lambda: shoptune.plan_experiment(tmp_path / "s.yaml", preset=3), "preset")
    _raises(TypeError, lambda: shoptune.plan_experiment(tmp_path / "s.yaml", priors=3), "priors")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- one task name, one path
def test_one_task_name_is_one_task_not_its_characters(tmp_path) -> None:
    manifest = shoptune.build_data(DATA_YAML, tmp_path / "data", tasks="hd_relevance_mc")
    assert list(manifest["tasks"]) == ["hd_relevance_mc"]
    with pytest.raises(ShoptuneError, match="unknown task 'no_such_task'"):
        shoptune.evaluate("m", "no_such_task", tmp_path / "eval", data=tmp_path / "data")
    _raises(ValueError, lambda: shoptune.evaluate("m", [], tmp_path / "e"), "tasks")
    _raises(ValueError, lambda: shoptune.evaluate("m", ["hd_relevance_mc", ""], tmp_path / "e"), "tasks")
    _raises(TypeError, lambda: shoptune.evaluate("m", [1], tmp_path / "e"), "tasks")


def test_one_path_is_one_path_where_a_list_is_expected(tmp_path) -> None:
    from shoptune.tasks.registry import builtin_task_dir

    spec = yaml.safe_load((builtin_task_dir() / "hd_relevance_mc.yaml").read_text(encoding="utf-8"))
    spec["name"] = "my_relevance_mc"
    mine = tmp_path / "my tasks"
    mine.mkdir()
    (mine / "mine.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    assert "my_relevance_mc" in [t.name for t in shoptune.list_tasks(str(mine))]
    assert shoptune.get_task("my_relevance_mc", mine).name == "my_relevance_mc"
    with pytest.raises(ShoptuneError, match="nope"):  # the whole path, not its first character
        relevance.compare("routing", tmp_path / "cmp", runs=str(tmp_path / "nope"))


def test_an_empty_path_is_refused_not_read_as_the_current_folder(tmp_path) -> None:
    _raises(ValueError, lambda: shoptune.build_data(DATA_YAML, "", tasks="hd_relevance_mc"), "out")
    _raises(TypeError, lambda: shoptune.build_data(DATA_YAML, b"out"), "out")


# ---------------------------------------------------------------------- config overrides: "overrides", not "--set"
def test_overrides_may_be_key_value_strings_and_errors_name_overrides(tmp_path) -> None:
    out = tmp_path / "run"
    message = _raises(ValueError, lambda: shoptune.train_sft(SFT_YAML, out, overrides=["optim.lr"]), "overrides")
    assert "'optim.lr'" in message and "KEY=VALUE" in message
    for overrides in (["optim.lrr=1"], {"optim.lrr": 1}, "optim.lrr=1"):
        message = _raises(ValueError, lambda o=overrides: shoptune.train_sft(SFT_YAML, out, overrides=o))
        assert message.startswith("overrides['optim.lrr']: key 'optim.lrr'"), message
    message = _raises(ValueError, lambda: shoptune.train_sft(SFT_YAML, out, overrides=["optim.lr.x=1"]))
    assert message.startswith("overrides['optim.lr.x']: 'optim.lr' is a value")
    # A list of strings is read as YAML, as --set reads it: "abc" reaches the config's float check.
    message = _raises(ValueError, lambda: shoptune.train_sft(SFT_YAML, out, overrides=["optim.lr=abc"]))
    assert message.startswith("overrides['optim.lr']: key 'optim.lr'")
    _raises(TypeError, lambda: shoptune.train_sft(SFT_YAML, out, overrides=5), "overrides")
    _raises(TypeError, lambda: shoptune.train_sft(SFT_YAML, out, overrides=[("optim.lr", 1)]), "overrides")
    _raises(ValueError, lambda: shoptune.train_sft(SFT_YAML, out, overrides={"optim..lr": 1}), "overrides")
    _raises(ValueError, lambda: relevance.train(RELEVANCE_YAML, out, overrides=["train.lr.x=1"]), "overrides")
    assert not out.exists()


def test_overrides_with_a_config_object_are_refused_not_dropped(tmp_path) -> None:
    from shoptune.training.config import load_sft_config

    config = load_sft_config(SFT_YAML)
    _raises(ValueError, lambda: shoptune.train_sft(config, tmp_path / "run", overrides={"optim.lr": 1.0}), "overrides")
    assert not (tmp_path / "run").exists()


def test_an_error_that_is_the_files_stays_a_config_error(tmp_path) -> None:
    bad = tmp_path / "sft.yaml"
    bad.write_text(SFT_YAML.read_text(encoding="utf-8") + "\nnot_a_section: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        shoptune.train_sft(bad, tmp_path / "run")
    assert not isinstance(caught.value, ValueError) and str(caught.value).startswith(str(bad))


# ---------------------------------------------------------------------- the command line keeps its option names
def test_the_command_line_names_its_options_and_python_its_arguments(tmp_path) -> None:
    code, _, err = run_cli(
        "eval", "--model", "m", "--tasks", "hd_relevance_mc", "--out", tmp_path / "e", "--limit", "0"
    )
    assert code == 2 and "error: --limit 0: must be at least 1" in err, err
    code, _, err = run_cli("train", "sft", SFT_YAML, "--out", tmp_path / "r", "--set", "optim.lrr=1")
    assert code == 2 and "error: --set optim.lrr: key 'optim.lrr'" in err, err
    code, _, err = run_cli("relevance", "compare", "multitask", "--out", tmp_path / "c")
    assert code == 2 and "--multi RUN and --single RUN" in err, err
    pairs = tmp_path / "p.jsonl"
    pairs.write_text('{"left": "a", "right": "b"}\n')
    argv = ["relevance", "predict", "--model", tmp_path, "--input", pairs, "--out", tmp_path / "o.jsonl"]
    code, _, err = run_cli(*argv, "--chunk", "0")
    assert code == 2 and "error: --chunk 0: must be at least 1" in err, err
    code, _, err = run_cli(*argv[:-2], "--out", tmp_path / "o.txt")
    assert code == 2 and f"error: --out {tmp_path / 'o.txt'}: must end in .jsonl or .parquet" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.jsonl"]
    # The command's naming ends with it: the next Python call names its arguments again.
    _raises(ValueError, lambda: shoptune.evaluate("m", "hd_relevance_mc", tmp_path / "e", limit=0), "limit=0")


# ---------------------------------------------------------------------- the helpers
def test_helpers_normalise_what_they_accept() -> None:
    assert validate.path_arg("a/b", "p") == Path("a/b") and validate.path_list(Path("a"), "p") == [Path("a")]
    assert validate.path_list(("a", Path("b")), "p") == [Path("a"), Path("b")] and validate.path_list(None, "p") == []
    assert validate.task_names(("a", "b"), "tasks") == ["a", "b"]
    assert validate.choice(validate.Split.dev, "split", validate.Split) == "dev"
    assert validate.model_name(Path("models/x"), "model") == "models/x"
    assert validate.optional(validate.positive_int, None, "limit") is None
    assert validate.config_overrides(None) == {} and validate.config_overrides(["a.b=[1, 2]"]) == {"a.b": [1, 2]}
    with pytest.raises(ArgumentTypeError):
        validate.positive_int(True, "limit")  # a bool is not a count
    with pytest.raises(ArgumentTypeError):
        validate.positive_int(1.0, "limit")


def test_the_choices_are_the_ones_the_library_knows() -> None:
    from shoptune.tasks.spec import SPLITS

    assert tuple(validate.Split) == SPLITS
    assert relevance.api.COMPARISONS == ("routing", "prefix-ablation", "multitask", "ensemble")


def test_argument_errors_survive_pickling_with_their_message() -> None:
    error = ArgumentError("limit", "must be at least 1", 0)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is ArgumentError and str(copy) == "limit=0: must be at least 1" and copy.argument == "limit"
