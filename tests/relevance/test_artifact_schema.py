"""A stranger's model artifact: every key of a kind ``model`` relevance.json is checked strictly, and weights that do
not fit it are one line naming the folder ("damaged model"), never an unexpected error or silently other scores.

Before these checks: ``max_length: -1`` raised OverflowError, ``labels: []`` a RuntimeError from load_state_dict,
``tasks: ["a.b"]`` a KeyError from torch; ``task_prefix: "yes"`` was taken as true, ``private_layers: 99`` and
``max_length: 10**12`` were accepted, and a decoder family over an encoder backbone was served.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import run_cli
from relevance.test_inputs import GOOD_MODEL  # the keys a model's relevance.json must have
from shoptune.errors import DataError, ShoptuneError
from shoptune.relevance.predictor import load_predictor, read_artifact_checked

PAIRS = json.dumps({"left": "red shirt", "right": "red shirt", "task": "alpha"}) + "\n"

#: name -> (relevance.json changes, field named in the error, substring of the error)
BAD_KEYS: dict[str, tuple[dict, str, str]] = {
    "max-length-negative": ({"max_length": -1}, "max_length", "expected a number from 8 to 8192, got -1"),
    "max-length-huge": ({"max_length": 10**12}, "max_length", "from 8 to 8192"),
    "max-length-string": ({"max_length": "128"}, "max_length", "expected a whole number, got '128'"),
    "max-length-bool": ({"max_length": True}, "max_length", "expected a whole number, got True"),
    "max-length-float": ({"max_length": 128.0}, "max_length", "expected a whole number"),
    "labels-empty": ({"labels": []}, "labels", "expected ['exact', 'partial', 'irrelevant']"),
    "labels-one": ({"labels": ["a"]}, "labels", "got ['a']"),
    "labels-reordered": ({"labels": ["partial", "exact", "irrelevant"]}, "labels", "the labels shoptune scores"),
    "task-with-dot": ({"tasks": ["a.b"]}, "tasks", "'a.b' is not a task name"),
    "task-upper-case": ({"tasks": ["Alpha"]}, "tasks", "'Alpha' is not a task name"),
    "task-path": ({"tasks": ["../x"]}, "tasks", "is not a task name"),
    "task-not-string": ({"tasks": [3]}, "tasks", "3 is not a task name"),
    "task-twice": ({"tasks": ["alpha", "alpha"]}, "tasks", "lists a task twice"),
    "task-prefix-yes": ({"task_prefix": "yes"}, "task_prefix", "expected true or false, got 'yes'"),
    "task-prefix-1": ({"task_prefix": 1}, "task_prefix", "expected true or false, got 1"),
    "task-prefix-without-prefix-routing": ({"task_prefix": True}, "task_prefix", "expected false for multihead"),
    "prefix-routing-without-task-prefix": ({"routing": "prefix"}, "task_prefix", "expected true for prefix"),
    "private-layers-99": ({"private_layers": 99}, "private_layers", "expected a number from 0 to 64, got 99"),
    "private-layers-negative": ({"private_layers": -1}, "private_layers", "from 0 to 64"),
    "private-layers-without-mhp": ({"private_layers": 2}, "private_layers", "expected 0 for multihead routing"),
    "mhp-without-private-layers": ({"routing": "mhp"}, "private_layers", "mhp routing needs at least 1"),
    "base-model-blank": ({"base_model": " "}, "base_model", "expected a model name"),
    "task-sources-list": ({"task_sources": [1]}, "task_sources", "expected an object of task name -> source"),
    "task-source-not-object": ({"task_sources": {"alpha": 3}}, "task_sources.alpha", "expected an object"),
    "task-source-adapter-number": (
        {"task_sources": {"alpha": {"adapter": 5}}},
        "task_sources.alpha.adapter",
        "expected a string, got 5",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_KEYS))
def test_a_bad_key_of_a_model_artifact_is_one_line_naming_it(tmp_path: Path, case: str) -> None:
    change, field, expected = BAD_KEYS[case]
    (tmp_path / "relevance.json").write_text(json.dumps({**GOOD_MODEL, **change}))
    for read in (read_artifact_checked, load_predictor):
        with pytest.raises(DataError) as info:
            read(tmp_path)
        message = str(info.value)
        assert info.value.field == field, message
        assert message.startswith(f"{tmp_path / 'relevance.json'}: file, field '{field}': "), message
        assert expected in message and "\n" not in message, message


def test_the_keys_a_trained_model_writes_pass(tmp_path: Path) -> None:
    """What save_model writes for each routing (defaults: argmax, 128 tokens) is what the check accepts."""
    for routing, extra in (
        ("multihead", {}),
        ("none", {}),
        ("prefix", {"task_prefix": True}),
        ("mhp", {"private_layers": 1}),
    ):
        meta = {**GOOD_MODEL, "routing": routing, "max_length": 128, "labels": ["exact", "partial", "irrelevant"]}
        meta.update({"private_layers": 0, "task_prefix": False, "task_sources": {}, "decision": None, **extra})
        (tmp_path / "relevance.json").write_text(json.dumps(meta))
        with pytest.raises(DataError, match="backbone/config.json: file, field '-': file not found"):
            read_artifact_checked(tmp_path)  # every key passed: only the weights are missing


# --------------------------------------------------------------------------------------------- real artifacts
@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory, tiny_encoder: Path, make_config) -> dict[str, Path]:
    """Untrained tiny two-task models (a 2-layer encoder): multihead, mhp (1 private layer) and prefix routing."""
    from shoptune.relevance.model import build_model, save_model

    root = tmp_path_factory.mktemp("schema")
    out = {}
    for routing in ("multihead", "mhp", "prefix"):
        cfg = make_config(root, tiny_encoder, "cross_encoder", routing)
        model, tok = build_model(cfg.model, ["alpha", "shade"])
        out[routing] = save_model(model, tok, root / routing)
    return out


def _edit_json(path: Path, change: dict) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))


def _heads_of_wrong_shape(model: Path) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    file = model / "heads_and_private.safetensors"
    tensors = load_file(str(file))
    tensors["heads.alpha.weight"] = torch.zeros(3, 7)
    save_file(tensors, str(file))


#: name -> (artifact, damage, substrings of the one error line)
DAMAGED: dict[str, tuple[str, Callable[[Path], None], tuple[str, ...]]] = {
    **{
        f"json-{case}": (
            "multihead",
            lambda m, c=change: _edit_json(m / "relevance.json", c),
            ("relevance.json", f"field '{field}'", expected),
        )
        for case, (change, field, expected) in BAD_KEYS.items()
        if case in ("max-length-negative", "max-length-huge", "labels-empty", "labels-one", "task-with-dot")
        or case in ("task-prefix-yes", "private-layers-99")
    },
    "heads-of-the-wrong-shape": (
        "multihead",
        _heads_of_wrong_shape,
        ("damaged model", "heads_and_private.safetensors does not match relevance.json", "heads.alpha.weight"),
    ),
    "decoder-family-over-an-encoder": (
        "multihead",
        lambda m: _edit_json(m / "relevance.json", {"family": "decoder"}),
        ("relevance.json", "field 'family'", "backbone/config.json is an encoder"),
    ),
    "mhp-as-deep-as-the-backbone": (
        "mhp",
        lambda m: _edit_json(m / "relevance.json", {"private_layers": 2}),
        ("field 'private_layers'", "the backbone has 2 layers"),
    ),
    "backbone-config-field-of-wrong-type": (
        "multihead",
        lambda m: _edit_json(m / "backbone" / "config.json", {"hidden_size": "x"}),
        ("damaged model", "hidden_size"),
    ),
    "backbone-config-not-its-weights": (
        "multihead",
        lambda m: _edit_json(m / "backbone" / "config.json", {"vocab_size": 10}),
        ("damaged model", "do not match backbone/config.json"),
    ),
    "backbone-config-not-an-object": (
        "multihead",
        lambda m: (m / "backbone" / "config.json").write_text("[]"),
        ("backbone/config.json", "expected a JSON object"),
    ),
}


@pytest.mark.parametrize("case", sorted(DAMAGED))
def test_predict_with_a_damaged_artifact_is_one_line_exit_2(artifacts, tmp_path: Path, case: str) -> None:
    base, damage, expected = DAMAGED[case]
    model = Path(shutil.copytree(artifacts[base], tmp_path / "model"))
    damage(model)
    (tmp_path / "pairs.jsonl").write_text(PAIRS)
    out = tmp_path / "o.jsonl"
    code, _, err = run_cli("relevance", "predict", "--model", model, "--input", tmp_path / "pairs.jsonl", "--out", out)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, err
    assert "Traceback" not in err and "unexpected" not in err, err
    assert lines[0].startswith(f"error: {model}"), lines[0]
    for part in expected:
        assert part in lines[0], (part, lines[0])
    assert not out.exists()
    with pytest.raises(ShoptuneError):  # the Python API: the same line
        load_predictor(model)


def test_the_undamaged_artifacts_serve(artifacts, tmp_path: Path) -> None:
    (tmp_path / "pairs.jsonl").write_text(PAIRS)
    for routing, model in artifacts.items():
        out = tmp_path / f"{routing}.jsonl"
        code, _, err = run_cli(
            "relevance", "predict", "--model", model, "--input", tmp_path / "pairs.jsonl", "--out", out
        )
        assert code == 0, (routing, err)
        assert len(out.read_text().splitlines()) == 1


def test_max_line_bytes_0_is_no_limit_in_python_and_on_the_command_line(artifacts, tmp_path: Path) -> None:
    from shoptune import relevance

    long = json.dumps({"left": "red " * 300_000, "right": "red shirt", "task": "alpha"}) + "\n"  # 1.2 MB
    (tmp_path / "long.jsonl").write_text(long)
    model = artifacts["multihead"]
    with pytest.raises(DataError, match="max_line_bytes"):  # the default limit: 1 MiB
        relevance.predict(model, tmp_path / "long.jsonl", tmp_path / "default.jsonl")
    assert relevance.predict(model, tmp_path / "long.jsonl", tmp_path / "api.jsonl", max_line_bytes=0) == 1
    argv = ["relevance", "predict", "--model", model, "--input", tmp_path / "long.jsonl", "--out", tmp_path / "c.jsonl"]
    code, _, err = run_cli(*argv, "--max-line-bytes", "0")
    assert code == 0, err
    code, _, err = run_cli(*argv[:-1], tmp_path / "c2.jsonl")
    assert code == 2 and "--max-line-bytes" in err, err
