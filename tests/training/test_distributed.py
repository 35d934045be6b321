"""Data-parallel SFT under `accelerate launch` (2 CPU processes, gloo): the weights equal one process with the
same global batch (grad_accum x 2), only rank 0 writes, and a run killed after a checkpoint resumes on 2
processes to the same weights (issue 25, part 1)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml
from safetensors.torch import load_file

from shoptune.data.build import BuildConfig, build
from shoptune.testing import build_tiny_causal_lm
from shoptune.training.config import load_sft_config
from shoptune.training.sft import run_sft

REPO = Path(__file__).resolve().parents[2]
ACCELERATE_CONFIG = REPO / "configs" / "accelerate" / "cpu_ddp.yaml"
TASKS = ["hd_relevance_mc", "hd_query_product"]


def launch(*args: object, cwd: Path) -> subprocess.Popen:
    """`accelerate launch` of the shoptune CLI on 2 CPU processes (one thread each), as a user would type it."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(ACCELERATE_CONFIG)]
    cmd += ["--main_process_port", "0", "-m", "shoptune", *map(str, args)]
    return subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


def finish(proc: subprocess.Popen) -> str:
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output[-3000:]
    return output


@pytest.fixture(scope="module")
def setup(tmp_path_factory, demo_data) -> Path:
    root = tmp_path_factory.mktemp("dist")
    model = build_tiny_causal_lm(root / "tiny", seed=0)
    build(BuildConfig(data_root=str(demo_data), tasks=TASKS), root / "data")
    for name, accum, epochs in (("one.yaml", 2, 1), ("two.yaml", 1, 1), ("long2.yaml", 1, 20)):
        cfg = {
            "model": str(model),
            "data": {"path": str(root / "data"), "tasks": TASKS, "max_length": 128},
            "mixture": {"strategy": "cap", "cap": 16},
            # no dropout: each rank draws its own dropout masks, one process draws them in another order
            "lora": {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]},
            "optim": {"epochs": epochs, "lr": 5e-3, "batch_tokens": 256, "grad_accum": accum, "bf16": False}
            | {"checkpoint_every": 2, "log_every": 1},
        }
        (root / name).write_text(yaml.safe_dump(cfg))
    return root


def adapter(run: Path) -> dict:
    return load_file(run / "adapter" / "adapter_model.safetensors")


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert (a[key] - b[key]).abs().max().item() <= 1e-6, key


def test_two_processes_train_the_weights_one_process_trains_with_the_same_global_batch(setup) -> None:
    single = run_sft(load_sft_config(setup / "one.yaml"), setup / "single", log=lambda m: None)
    output = finish(launch("train", "sft", "two.yaml", "--out", "ddp", cwd=setup))
    ddp = json.loads((setup / "ddp" / "summary.json").read_text())
    assert_same_weights(adapter(setup / "single"), adapter(setup / "ddp"))
    assert ddp["steps"] == single["steps"] and ddp["train_tokens"] == single["train_tokens"]
    assert ddp["examples"] == single["examples"]
    # Only rank 0 printed and wrote: one summary on stdout, one log line per step, no file written twice.
    assert output.count('"train_tokens"') == 1
    log = [json.loads(line) for line in (setup / "ddp" / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, ddp["steps"] + 1))


def test_a_killed_two_process_run_resumes_to_the_uninterrupted_weights(setup) -> None:
    finish(launch("train", "sft", "long2.yaml", "--out", "whole", cwd=setup))
    proc = launch("train", "sft", "long2.yaml", "--out", "killed", cwd=setup)
    deadline = time.monotonic() + 240
    while not list((setup / "killed" / "checkpoints").glob("step-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    # The launcher and both workers (torch's elastic agent starts the workers in sessions of their own), as a lost
    # machine would.
    for child in [*psutil.Process(proc.pid).children(recursive=True), psutil.Process(proc.pid)]:
        child.send_signal(signal.SIGKILL)
    proc.communicate()
    steps = json.loads((setup / "whole" / "summary.json").read_text())["steps"]
    assert not (setup / "killed" / "summary.json").exists(), "the run ended before the kill: make it longer"
    finish(launch("train", "sft", "long2.yaml", "--out", "killed", "--resume", cwd=setup))
    assert json.loads((setup / "killed" / "summary.json").read_text())["steps"] == steps
    assert_same_weights(adapter(setup / "whole"), adapter(setup / "killed"))
