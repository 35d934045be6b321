"""`shoptune eval` end to end with the bundled SmolLM2-135M on a ShopBench-format file (real model, offline)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "shopbench_sample.jsonl"


@pytest.mark.real_model
def test_eval_smollm2_on_shopbench_file(tmp_path):
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "shoptune",
            "eval",
            "--model",
            "smollm2-135m-instruct",
            "--tasks",
            f"shopbench:{FIXTURE}",
            "--out",
            str(tmp_path),
            "--batch-size",
            "4",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    rows = [json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == sum(1 for _ in FIXTURE.open())
    assert set(metrics["groups"]) == {json.loads(line)["track"] for line in FIXTURE.open()}
    assert 0.0 <= metrics["overall"] <= 1.0
    # Multiple choice is scored by option likelihood, so it always parses.
    assert all(r["parsed_ok"] for r in rows if r["kind"] == "multiple_choice")
