"""A stranger's files through the real entry point: a task prompt that divides by zero or asks for ten gigabytes,
a checkpoint whose state.json was edited, a model or adapter folder of pickled weights, a build manifest naming no
real task. Each ends in exit 2 and one line naming the file (or task) and the key; no traceback, nothing
"unexpected", no code run."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest

from conftest import DEMO_DATA, one_error_line, run_cli

TASK = """name: my_task
capability: user_behavior_alignment
kind: multiple_choice
metric: accuracy
source: {{adapter: home_depot, path: home_depot_search_relevance/train.csv, view: relevance_mc}}
split: {{max_examples: {{train: 20, dev: 5, test: 5}}}}
prompt: {prompt}
"""


class Payload:
    """Unpickling this runs a shell command."""

    def __reduce__(self):
        import os

        return (os.system, ("touch PWNED",))


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a payload that ran would leave PWNED here
    yield
    assert not (tmp_path / "PWNED").exists()


# ------------------------------------------------------------------------------------------ F3: task prompts
@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("{{ 1/0 }}", "ZeroDivisionError"),
        ("{{ instruction + 5 }}", "TypeError"),
        ("{{ 9**99999 }}", "template limit"),
        ("{{ 'a' * 10**10 }}", "template limit"),
    ],
)
def test_eval_of_a_task_whose_prompt_fails_isone_error_line(world, tmp_path, prompt, expected):
    folder = tmp_path / "tasks"
    folder.mkdir()
    (folder / "mine.yaml").write_text(TASK.format(prompt=json.dumps(prompt)), encoding="utf-8")
    line = one_error_line(
        *run_cli(
            "eval", "--model", world["lm"], "--tasks", "my_task", "--task-dir", folder,
            "--data-root", DEMO_DATA, "--limit", "2", "--out", tmp_path / "o",
        )
    )  # fmt: skip
    assert "my_task" in line and "key 'prompt'" in line and expected in line, line


# ------------------------------------------------------------------------------------------ F5a: state.json
@pytest.mark.parametrize(
    ("run", "state", "expected"),
    [
        ("sft_killed", {"step": "x"}, "field 'step'"),
        ("sft_killed", {"step": 2, "epoch": -1}, "field 'epoch'"),
        ("sft_killed", {"step": 2, "tokens": "many"}, "field 'tokens'"),
        ("rel_killed", {"step": 1, "seconds": "soon"}, "field 'seconds'"),
        ("rel_killed", {"step": 1, "losses": "low"}, "field 'losses'"),
        ("rel_killed", {"step": 1, "mood": "good"}, "unknown field 'mood'"),
    ],
)
def test_resume_from_an_edited_state_json_isone_error_line(world, tmp_path, run, state, expected):
    folder = Path(shutil.copytree(world[run], tmp_path / "run"))
    step = sorted((folder / "checkpoints").glob("step-*"))[-1]
    saved = json.loads((step / "state.json").read_text())
    (step / "state.json").write_text(json.dumps({**saved, "state": state}))
    recipe, config = ("sft", world["sft_yaml"]) if run.startswith("sft") else ("relevance", world["rel_yaml"])
    code, out, err = run_cli("train", recipe, config, "--out", folder, "--resume")
    line = one_error_line(code, out, err)
    assert "damaged checkpoint" in line and step.name in line and expected in line, line
    assert "resumed from" not in out + err


# ------------------------------------------------------------------------------------------ F5b: pickled weights
def test_eval_of_a_model_folder_of_pickles_isone_error_line(world, tmp_path):
    model = Path(shutil.copytree(world["lm"], tmp_path / "model"))
    (model / "model.safetensors").unlink()
    (model / "pytorch_model.bin").write_bytes(pickle.dumps(Payload()))
    line = one_error_line(
        *run_cli("eval", "--model", model, "--tasks", "hd_relevance_mc", "--data", world["data"], "--out", "o")
    )
    assert f"{model}: only safetensors weights are loaded (found pytorch_model.bin)" in line, line


def test_export_of_an_adapter_of_pickles_isone_error_line(world, tmp_path):
    adapter = Path(shutil.copytree(world["adapter"], tmp_path / "adapter"))
    (adapter / "adapter_model.safetensors").unlink()
    (adapter / "adapter_model.bin").write_bytes(pickle.dumps(Payload()))
    line = one_error_line(*run_cli("export", adapter, "--out", tmp_path / "merged"))
    assert f"{adapter}: only safetensors weights are loaded (found adapter_model.bin)" in line, line
    assert not (tmp_path / "merged").exists()


def test_predict_with_a_backbone_of_pickles_isone_error_line(world, tmp_path):
    model = Path(shutil.copytree(world["rel"] / "model", tmp_path / "model"))
    (model / "backbone" / "model.safetensors").unlink()
    (model / "backbone" / "pytorch_model.bin").write_bytes(pickle.dumps(Payload()))
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"left": "red shirt", "right": "red shirt", "task": "alpha"}) + "\n")
    line = one_error_line(*run_cli("relevance", "predict", "--model", model, "--input", pairs, "--out", "p.jsonl"))
    assert "only safetensors weights are loaded (found pytorch_model.bin)" in line, line


# ------------------------------------------------------------------------------------------ F5c: manifest names
def test_sft_on_a_build_whose_manifest_names_no_real_task_isone_error_line(world, tmp_path):
    data = Path(shutil.copytree(world["data"], tmp_path / "data"))
    manifest = json.loads((data / "manifest.json").read_text())
    manifest["tasks"]["al.pha"] = manifest["tasks"]["hd_relevance_mc"]
    (data / "manifest.json").write_text(json.dumps(manifest))
    for argv in (
        ["data", "stats", data],
        ["train", "sft", world["sft_yaml"], "--out", "o", "--set", f"data.path={data}"],
    ):
        line = one_error_line(*run_cli(*argv))
        assert "manifest.json" in line and "'al.pha' is not a task name" in line, line
