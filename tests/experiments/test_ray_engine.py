"""`--engine ray` on a local 2-worker Ray: a sweep's arms x seeds run on Ray workers and give the serial run's
results at one thread; `relevance predict` spread over 2 Ray actors writes the same rows in the same order as
one process (issue 25, parts 1 and 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from experiments.conftest import make_sweep_world
from shoptune.experiments.sweep import load_sweep, run_sweep

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    from shoptune.parallel import start_ray

    start_ray(2)
    yield
    ray.shutdown()


def _rows(out: Path) -> list[dict]:
    rows = pq.read_table(out / "results.parquet").to_pylist()
    return sorted(rows, key=lambda r: (r["arm"], r["seed"], r["task"]))


def test_a_sweep_on_two_ray_workers_equals_the_serial_run(tmp_path, demo_data, local_ray) -> None:
    world = make_sweep_world(tmp_path, demo_data, cap=6)
    body = {
        "base": "base.yaml",
        "eval": {"limit": 4, "bf16": False},
        "seeds": [1, 2],
        "arms": [{"name": "behaviour", "set": {"capabilities": ["user_behavior_alignment"]}}, {"name": "all"}],
    }
    (world / "sweep.yaml").write_text(yaml.safe_dump(body, sort_keys=False))
    cfg = load_sweep(world / "sweep.yaml")
    run_sweep(cfg, world / "serial", log=lambda m: None)
    messages: list[str] = []
    run_sweep(cfg, world / "ray", log=messages.append, engine="ray", workers=2)
    assert _rows(world / "serial") == _rows(world / "ray")
    for run in ("behaviour/seed-1", "all/seed-2"):
        serial = (world / "serial" / "arms" / run / "eval" / "predictions.jsonl").read_text()
        assert serial == (world / "ray" / "arms" / run / "eval" / "predictions.jsonl").read_text()
    # the Ray workers trained and scored every run; this process only planned and wrote the analysis
    assert not any(m.startswith(("training", "scoring")) for m in messages)


def test_relevance_predict_on_two_ray_actors_writes_the_local_rows_in_order(tmp_path, local_ray) -> None:
    from relevance.conftest import tiny_config, write_build
    from shoptune.relevance.api import predict
    from shoptune.relevance.recipe import train
    from shoptune.testing import build_tiny_encoder

    data = write_build(tmp_path / "data", {"alpha": (24, 6, 6), "shade": (24, 6, 6)})
    cfg = tiny_config(data, build_tiny_encoder(tmp_path / "encoder", sentence_transformers=False), epochs=1)
    cfg.eval.splits = []
    model = train(cfg, tmp_path / "run", quiet=True)
    rows = [{"id": str(i), "task": ("alpha", "shade")[i % 2], "left": f"red mug {i}", "right": "blue cup" * (i % 5 + 1)}
            for i in range(101)]  # fmt: skip
    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    local = predict(model, tmp_path / "pairs.jsonl", tmp_path / "local.jsonl", chunk=16)
    spread = predict(model, tmp_path / "pairs.jsonl", tmp_path / "ray.jsonl", chunk=16, engine="ray", workers=2)
    assert local == spread == 101
    assert (tmp_path / "local.jsonl").read_bytes() == (tmp_path / "ray.jsonl").read_bytes()
