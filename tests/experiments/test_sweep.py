"""The sweep engine on a tiny random model: arms and grids, sweep keys, cached evals, status, the results table,
comparisons, and resume after a real SIGKILL between arms and inside one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from experiments.conftest import TASKS, make_sweep_world
from shoptune.errors import ConfigError, ShoptuneError
from shoptune.experiments.sweep import expand_arms, load_sweep, run_sweep, sweep_status


@pytest.fixture(scope="module")
def world(tmp_path_factory, demo_data):
    return make_sweep_world(tmp_path_factory.mktemp("sweep"), demo_data, cap=8)


def _sweep(root: Path, name: str, body: dict) -> Path:
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"base": "base.yaml", "eval": {"limit": 4, "bf16": False}, **body}, sort_keys=False))
    return path


ARMS = {
    "seeds": [1, 2],
    "arms": [
        {"name": "behaviour", "set": {"capabilities": ["user_behavior_alignment"]}},
        {"name": "both", "set": {"capabilities": "all"}},
    ],
}


def test_grid_expands_to_named_arms_and_sweep_keys_resolve(world):
    path = _sweep(
        world,
        "grid",
        {
            "seeds": [1],
            "set": {"budget.total": 12},
            "grid": {
                "rank": {"r1": {"lora.r": 1}, "r4": {"lora.r": 4, "lora.alpha": 8}},
                "diversity": {"one": {"tasks": ["hd_relevance_mc"]}, "two": {"capabilities": "all"}},
            },
        },
    )
    cfg = load_sweep(path)
    arms = expand_arms(cfg)
    assert [a.name for a in arms] == ["r1__one", "r1__two", "r4__one", "r4__two"]
    assert arms[3].levels == {"rank": "r4", "diversity": "two"}
    from shoptune.experiments.sweep import arm_config

    sft = arm_config(cfg, arms[3], 1, world / "data")
    assert sft.lora.r == 4 and sft.lora.alpha == 8 and sft.data.tasks == TASKS[:2]
    assert sft.mixture.strategy == "cap" and sft.mixture.cap == 6  # 12 examples over 2 tasks
    assert arm_config(cfg, arms[0], 1, world / "data").mixture.cap == 12


def test_bad_sweeps_are_one_line_naming_the_key(world):
    with pytest.raises(ConfigError, match="either 'arms'"):
        load_sweep(_sweep(world, "bad1", {}))
    with pytest.raises(ConfigError, match="compare.sequences.s"):
        load_sweep(_sweep(world, "bad2", {**ARMS, "compare": {"sequences": {"s": ["behaviour", "nope"]}}}))
    cfg = load_sweep(_sweep(world, "bad3", {"arms": [{"name": "x", "set": {"capabilities": ["nope_cap"]}}]}))
    from shoptune.experiments.sweep import arm_config

    with pytest.raises(ConfigError, match="nope_cap"):
        arm_config(cfg, expand_arms(cfg)[0], 1, world / "data")


def test_an_atomic_arm_on_a_build_without_atomic_tasks_stops_before_any_training(world):
    """Found by the issue-22 rerun: the plain arm trained 4 seeds before the atomic arm failed on a build made
    without --atomic. Now the sweep stops first, with one line saying how to build the data."""
    body = {"seeds": [1], "arms": [{"name": "plain", "set": {}}, {"name": "atomic", "set": {"data.atomic": True}}]}
    out = world / "run-atomic"
    with pytest.raises(ConfigError, match=r"arm 'atomic': data.atomic: .* no atomic tasks.*--atomic"):
        run_sweep(load_sweep(_sweep(world, "atomic", body)), out, log=lambda m: None)
    assert not (out / "arms").exists()


def test_sweep_runs_caches_reports_and_compares(world):
    out = world / "run-arms"
    cfg = load_sweep(_sweep(world, "arms", ARMS))
    report = run_sweep(cfg, out, log=lambda m: None)
    assert [r["state"] for r in sweep_status(out)] == ["done"] * 4
    table = pq.read_table(out / "results.parquet").to_pylist()
    arm_rows = [r for r in table if not r["arm"].startswith("base:")]
    # every arm x seed scored on the same tasks (held-in of all arms + held-out), 4 items each
    assert {(r["arm"], r["seed"]) for r in arm_rows} == {(a, s) for a in ("behaviour", "both") for s in (1, 2)}
    assert {r["task"] for r in arm_rows} == set(TASKS) and {r["n"] for r in arm_rows} == {4}
    assert {r["group"] for r in arm_rows if r["task"] == "hd_query_ranking"} == {"held-out"}
    assert any(r["arm"].startswith("base:") for r in table)
    seq = report["sequences"]["arms"]["all"]
    step = seq["contrasts"][0]["vs_previous"]
    assert step["delta"] == pytest.approx(seq["curve"][1]["score"] - seq["curve"][0]["score"])
    assert len(step["per_seed"]) == 2 and step["seed_sd"] is not None
    assert "held-in: user_behavior_alignment" in report["groups"]
    assert (out / "sequence_arms.png").stat().st_size > 1000
    md = (out / "comparisons.md").read_text()
    assert "Sequence arms" in md and "Slope per step" in md
    # issue 21, point 6: the results table puts the majority answer's score beside the arms and counts, per seed,
    # the tasks each model answered with one answer
    results = (out / "results.md").read_text()
    assert "| majority answer | " in results and "one-answer tasks" in results
    arm_line = next(line for line in results.splitlines() if line.startswith("| behaviour |"))
    assert f"of {len(TASKS)} |" in arm_line and arm_line.count(",") >= 1  # two seeds
    # issue 22: how far each arm's answers moved from the zero-shot model's
    moved = report["baselines"]["answers_moved"]["behaviour"]
    assert 0.0 <= moved["share"] <= 1.0 and 0 <= moved["tasks_moved"] <= len(TASKS)
    assert "answers ≠ zero-shot" in results and arm_line.rstrip(" |").endswith(f"of {len(TASKS)} tasks)")
    # a second run reuses every cached eval and retrains nothing
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("arms/*/seed-*/eval/predictions.jsonl")}
    with pytest.raises(ShoptuneError, match="--resume"):
        run_sweep(cfg, out, log=lambda m: None)
    messages: list[str] = []
    run_sweep(cfg, out, resume=True, log=messages.append)
    assert not any(m.startswith(("training", "scoring")) for m in messages)
    assert stamps == {p: p.stat().st_mtime_ns for p in stamps}
    # a changed sweep is refused on resume, naming the key
    changed = load_sweep(_sweep(world, "arms", ARMS), {"eval.limit": 5})
    with pytest.raises(ConfigError, match="eval.limit"):
        run_sweep(changed, out, resume=True, log=lambda m: None)


def test_grid_sweep_reports_the_interaction(world):
    body = {
        "seeds": [1],
        "grid": {
            "rank": {"r1": {"lora.r": 1}, "r4": {"lora.r": 4}},
            "diversity": {"one": {"tasks": ["hd_relevance_mc"]}, "two": {"capabilities": "all"}},
        },
        "compare": {"interaction": {"rows": "rank", "cols": "diversity"}},
    }
    out = world / "run-grid"
    report = run_sweep(load_sweep(_sweep(world, "grid2", body)), out, log=lambda m: None)
    inter = report["interaction"]["all"]
    cells = {k: v["score"] for k, v in inter["cells"].items()}
    expected = (cells["r4|two"] - cells["r4|one"]) - (cells["r1|two"] - cells["r1|one"])
    assert inter["interaction"]["delta"] == pytest.approx(expected)
    assert inter["interaction"]["seed_sd"] is None  # one seed: no spread to show ...
    assert not inter["interaction"]["finding"]  # ... so nothing is called a finding
    assert (out / "grid.png").stat().st_size > 1000 and "Interaction" in (out / "comparisons.md").read_text()


def _launch(sweep: Path, out: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    argv = [sys.executable, "-m", "shoptune", "experiment", "run", str(sweep), "--out", str(out), "--threads", "1"]
    return subprocess.Popen([*argv, *extra], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for(proc: subprocess.Popen, condition, timeout: float = 120.0) -> None:
    start = time.time()
    while not condition():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.time() - start < timeout, "timed out"
        time.sleep(0.02)


def test_sigkill_inside_an_arm_and_between_arms_then_resume(world):
    """A real SIGKILL: once while the first arm trains (it continues from its checkpoint), once after it was
    scored (it is skipped); the resumed sweep ends with the same scores as an uninterrupted one."""
    body = {
        "seeds": [1],
        "set": {"optim.epochs": 3, "mixture.cap": 24},
        "arms": [{"name": "a", "set": {}}, {"name": "b", "set": {"lora.r": 4}}],
    }
    sweep = _sweep(world, "kill", body)
    out = world / "run-kill"
    proc = _launch(sweep, out)
    first_ckpt = out / "arms" / "a" / "seed-1" / "run" / "checkpoints"
    _wait_for(proc, lambda: first_ckpt.is_dir() and any(first_ckpt.glob("step-*")))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    states = {r["arm"]: r["state"] for r in sweep_status(out)}
    assert states["a"] in ("training", "started") and states["b"] == "pending"
    proc = _launch(sweep, out, "--resume")
    _wait_for(proc, lambda: (out / "arms" / "a" / "seed-1" / "eval" / "eval.json").is_file())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert {r["arm"]: r["state"] for r in sweep_status(out)}["a"] == "done"
    stamp = (out / "arms" / "a" / "seed-1" / "eval" / "eval.json").stat().st_mtime_ns
    proc = _launch(sweep, out, "--resume")
    assert proc.wait(timeout=600) == 0, proc.stderr.read() if proc.stderr else ""
    assert (out / "arms" / "a" / "seed-1" / "eval" / "eval.json").stat().st_mtime_ns == stamp  # not rescored
    clean = world / "run-clean"
    run_sweep(load_sweep(sweep), clean, log=lambda m: None)
    for arm in ("a", "b"):
        killed = json.loads((out / "arms" / arm / "seed-1" / "eval" / "metrics.json").read_text())
        fresh = json.loads((clean / "arms" / arm / "seed-1" / "eval" / "metrics.json").read_text())
        assert killed["tasks"].keys() == fresh["tasks"].keys()
        for task in killed["tasks"]:
            assert killed["tasks"][task]["score"] == pytest.approx(fresh["tasks"][task]["score"], abs=1e-6), task


def test_mlflow_tracking_logs_each_run(world):
    mlflow = pytest.importorskip("mlflow")
    body = {"seeds": [1], "arms": [{"name": "solo", "set": {}}], "tracking": {"mlflow": True}}
    out = world / "run-mlflow"
    run_sweep(load_sweep(_sweep(world, "mlflow", body)), out, log=lambda m: None)
    mlflow.set_tracking_uri((out / "mlruns").resolve().as_uri())
    runs = mlflow.search_runs(experiment_names=[out.name])
    assert len(runs) == 1 and runs.iloc[0]["params.arm"] == "solo"
    assert "metrics.overall" in runs.columns and runs.iloc[0]["params.lora.r"] == "2"


def test_tracking_without_mlflow_is_one_line(world, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_mlflow(name, *args, **kwargs):
        if name == "mlflow":
            raise ImportError("no mlflow")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mlflow)
    body = {"seeds": [1], "arms": [{"name": "solo", "set": {}}], "tracking": {"mlflow": True}}
    with pytest.raises(ConfigError, match="shoptune\\[tracking\\]"):
        run_sweep(load_sweep(_sweep(world, "nomlflow", body)), world / "run-nomlflow", log=lambda m: None)


def test_set_overrides_flat_sweep_keys_and_nested_ones(world):
    path = _sweep(world, "over", {"seeds": [1], "set": {"budget.total": 12}, "arms": [{"name": "a", "set": {}}]})
    cfg = load_sweep(path, {"set.budget.total": 40, "eval.limit": 2, "set.lora.r": 4})
    assert cfg.set == {"budget.total": 40, "lora.r": 4} and cfg.eval.limit == 2


def test_a_bad_sweep_leaves_no_sweep_folder_behind(world):
    body = {"seeds": [1], "data": "no-such-build", "arms": [{"name": "a", "set": {}}]}
    out = world / "run-bad-data"
    with pytest.raises(ConfigError, match="not a data build"):
        run_sweep(load_sweep(_sweep(world, "baddata", body)), out, log=lambda m: None)
    assert not out.exists()


def test_analyze_reports_the_finished_arms_of_a_running_sweep(world):
    import shutil

    from shoptune.experiments.sweep import analyze_sweep

    done = world / "run-grid"
    if not (done / "comparisons.json").is_file():
        pytest.skip("needs the grid sweep of the test above")
    out = world / "run-grid-partial"
    shutil.copytree(done, out)
    (out / "arms" / "r4__two" / "seed-1" / "eval" / "eval.json").unlink()  # this arm is "still scoring"
    messages: list[str] = []
    report = analyze_sweep(out, log=messages.append)
    assert set(report["arms"]) == {"r1__one", "r1__two", "r4__one"}
    assert report["interaction"] is None  # a grid's interaction needs every cell
    assert "3 of 4 arms" in messages[0]
    rows = pq.read_table(out / "results.parquet").to_pylist()
    assert "r4__two" not in {r["arm"] for r in rows}
    for arm in ("r1__one", "r1__two", "r4__one", "r4__two"):
        (out / "arms" / arm / "seed-1" / "eval" / "eval.json").unlink(missing_ok=True)
    with pytest.raises(ShoptuneError, match="no arm has finished"):
        analyze_sweep(out, log=lambda m: None)
