"""Data-parallel relevance training under `accelerate launch` (2 CPU processes, gloo): the weights of an mhp model
(whose per-task private layers and heads go unused by a rank whose batch is of another task) equal one process
accumulating the same batches (``train.grad_accum: 2``); only rank 0 writes (issue 25, part 1)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from shoptune.relevance.model import load_model
from shoptune.relevance.recipe import train

REPO = Path(__file__).resolve().parents[2]


def test_two_processes_train_the_weights_one_process_trains_with_the_same_global_batch(
    tiny_encoder, tiny_data, make_config, tmp_path
) -> None:
    # No dropout: each rank draws its own dropout masks, one process draws them in another order.
    encoder = tmp_path / "encoder"
    shutil.copytree(tiny_encoder, encoder)
    config = json.loads((encoder / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (encoder / "config.json").write_text(json.dumps(config))
    cfg = make_config(tiny_data, encoder, "cross_encoder", "mhp", epochs=2, grad_accum=1, max_batch=8)
    cfg.eval.splits = []
    (tmp_path / "two.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    single = train(cfg.model_copy(update={"train": cfg.train.model_copy(update={"grad_accum": 2})}),
                   tmp_path / "single", quiet=True)  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file"]
    cmd += [str(REPO / "configs/accelerate/cpu_ddp.yaml"), "--main_process_port", "0", "-m", "shoptune"]
    cmd += ["train", "relevance", "two.yaml", "--out", "ddp"]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    a, _ = load_model(single)
    b, _ = load_model(tmp_path / "ddp" / "model")
    weights_a, weights_b = a.state_dict(), b.state_dict()
    assert weights_a.keys() == weights_b.keys()
    for key in weights_a:
        assert (weights_a[key] - weights_b[key]).abs().max().item() <= 1e-5, key
    runs = [json.loads((p / "run.json").read_text()) for p in (tmp_path / "single", tmp_path / "ddp")]
    assert runs[0]["steps"] == runs[1]["steps"] and runs[0]["pairs_seen"] == runs[1]["pairs_seen"]
    # Only rank 0 wrote its log: one line per step (log_every 1), not one per rank.
    log = [json.loads(line) for line in (tmp_path / "ddp" / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, runs[1]["steps"] + 1))
