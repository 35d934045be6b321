"""Sweeps are safe with a stranger's sweep file and with damaged sweep folders: every name that becomes a folder is
one path component, budgets and grids are checked when the sweep is loaded (nothing written), and `experiment
status | analyze | run --resume` on damaged or foreign folders print one line naming the file, never a traceback.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import run_cli
from experiments.conftest import make_sweep_world
from shoptune.errors import ConfigError
from shoptune.io import OutputError, read_marker


@pytest.fixture(scope="module")
def world(tmp_path_factory, demo_data):
    return make_sweep_world(tmp_path_factory.mktemp("sweep-safety"), demo_data, cap=4)


def _sweep(root: Path, name: str, body: dict) -> Path:
    path = root / f"{name}.yaml"
    head = {"base": "base.yaml", "seeds": [1], "eval": {"limit": 2, "bf16": False}}
    path.write_text(yaml.safe_dump({**head, **body}, sort_keys=False))
    return path


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _one_line(code: int, err: str, logged: int = 0) -> str:
    """The one error line (after at most ``logged`` progress lines, which `analyze` prints before reading)."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert 1 <= len(lines) <= 1 + logged and lines[-1].startswith("error: "), err
    assert not any(line.startswith("error") for line in lines[:-1]), err
    assert "Traceback" not in err and "unexpected" not in err, err
    return lines[-1]


# ---------------------------------------------------------------------------------------- names and load checks
LONG = "x" * 150
BAD_SWEEPS = {
    "dict-level-escapes": (
        {"grid": {"rank": {"r1": {"lora.r": 1}, "../../../escaped": {"lora.r": 2}}}},
        ["grid.rank", "'../../../escaped'", "not usable as a folder name"],
    ),
    "list-level-dotdot": ({"grid": {"optim.lr": [0.001, ".."]}}, ["grid.optim.lr[1]", "'..'"]),
    "list-level-hidden": ({"grid": {"optim.lr": [".hidden"]}}, ["grid.optim.lr[0]", "'.hidden'"]),
    "list-levels-same-folder": (
        {"grid": {"data.tasks": [["hd_relevance_mc"], "hd_relevance_mc"]}},
        ["grid.data.tasks[1]", "both make the folder name 'hd_relevance_mc'"],
    ),
    "grid-arm-name-too-long": (
        {"grid": {"a": {LONG: {}}, "b": {LONG: {}}}},
        ["key 'grid'", "over 200 bytes"],
    ),
    "grid-arm-name-twice": (
        {"grid": {"a": {"p__q": {}, "p": {}}, "b": {"r": {}, "q__r": {}}}},
        ["key 'grid'", "'p__q__r'"],
    ),
    "arm-name-too-long": ({"arms": [{"name": "a" * 201}]}, ["arms[0].name", "over 200 bytes"]),
    "sequence-name-escapes": (
        {"arms": [{"name": "a"}, {"name": "b"}], "compare": {"sequences": {"../../seq": ["a", "b"]}}},
        ["compare.sequences", "'../../seq'"],
    ),
    "sequence-empty": (
        {"arms": [{"name": "a"}], "compare": {"sequences": {"s": []}}},
        ["compare.sequences.s", "no arms"],
    ),
    "empty-grid-level-list": ({"grid": {"rank": []}}, ["grid.rank", "no levels"]),
    "empty-grid-level-map": ({"grid": {"rank": {}}}, ["grid.rank", "no levels"]),
    "per-task-zero": ({"set": {"budget.per_task": 0}, "arms": [{"name": "a"}]}, ["set.budget.per_task", "0"]),
    "total-lots": ({"set": {"budget.total": "lots"}, "arms": [{"name": "a"}]}, ["set.budget.total", "'lots'"]),
    "total-fraction": ({"arms": [{"name": "a", "set": {"budget.total": 1.5}}]}, ["arms[0].set.budget.total"]),
    "total-bool": ({"arms": [{"name": "a", "set": {"budget.total": True}}]}, ["arms[0].set.budget.total"]),
    "grid-budget-level": ({"grid": {"budget.total": [8, "x"]}}, ["grid.budget.total[1]", "'x'"]),
    "grid-level-budget": (
        {"grid": {"size": {"small": {"budget.per_task": -1}}}},
        ["grid.size.small.budget.per_task", "-1"],
    ),
    "tasks-not-a-list": ({"set": {"tasks": 5}, "arms": [{"name": "a"}]}, ["set.tasks", "list of task names"]),
    "capabilities-empty": (
        {"arms": [{"name": "a", "set": {"capabilities": []}}]},
        ["arms[0].set.capabilities", "capabilities"],
    ),
    "interaction-same-factor": (
        {"grid": {"a": [1, 2], "b": [3, 4]}, "compare": {"interaction": {"rows": "a", "cols": "a"}}},
        ["compare.interaction", "same factor"],
    ),
}


@pytest.mark.parametrize("case", BAD_SWEEPS)
def test_a_bad_sweep_is_one_line_at_load_and_writes_nothing(world, tmp_path, case):
    body, expected = BAD_SWEEPS[case]
    sweep = _sweep(world, f"bad-{case}", body)
    out = tmp_path / "deep" / "a" / "b" / "out"
    out.parent.mkdir(parents=True)
    before, world_before = _tree(tmp_path), _tree(world)
    code, _, err = run_cli("experiment", "run", sweep, "--out", out, "--threads", "1")
    line = _one_line(code, err)
    assert str(sweep) in line, line
    for part in expected:
        assert part in line, (part, line)
    assert _tree(tmp_path) == before  # nothing written: not --out, not beside it, not above it
    assert _tree(world) == world_before


def test_set_overrides_are_checked_at_load_and_named(world, tmp_path):
    sweep = _sweep(world, "set-ok", {"arms": [{"name": "a"}]})
    out = tmp_path / "out"
    code, _, err = run_cli("experiment", "run", sweep, "--out", out, "--set", "set.budget.total=abc")
    line = _one_line(code, err)
    assert "--set set.budget.total" in line and "'abc'" in line, line
    code, _, err = run_cli("experiment", "run", sweep, "--out", out, "--set", "grid.rank=[]", "--set", "arms=[]")
    line = _one_line(code, err)
    assert "--set grid.rank: key 'grid.rank': no levels" in line, line
    assert not out.exists()


def test_python_sweep_configs_and_the_layout_refuse_escaping_names(world, tmp_path):
    from shoptune.api import run_sweep
    from shoptune.experiments.sweep import SweepConfig, SweepLayout

    cfg = SweepConfig.model_validate(
        {"base": str(world / "base.yaml"), "seeds": [1], "grid": {"rank": {"../../x": {"lora.r": 1}}}}
    )
    with pytest.raises(ConfigError, match=r"sweep config: key 'grid.rank': level '\.\./\.\./x'"):
        run_sweep(cfg, tmp_path / "out", log=lambda m: None)
    assert not (tmp_path / "out").exists()
    layout = SweepLayout(tmp_path / "out")
    for bad in ("..", "../x", "a/b", ".marker", ""):
        with pytest.raises(OutputError):
            layout.run(bad, 1)
        with pytest.raises(OutputError):
            layout.eval(bad, 1)
    with pytest.raises(OutputError, match="model"):
        layout.base_eval("..")
    assert layout.run("a", 1) == tmp_path / "out" / "arms" / "a" / "seed-1" / "run"


# ---------------------------------------------------------------------------------------- damaged sweep folders
@pytest.fixture(scope="module")
def done(world):
    """A finished sweep of two arms, one seed: copied per test and then damaged."""
    from shoptune.experiments.sweep import load_sweep, run_sweep

    body = {"arms": [{"name": "a"}, {"name": "b", "set": {"lora.r": 4}}]}
    out = world / "done"
    run_sweep(load_sweep(_sweep(world, "done", body)), out, log=lambda m: None)
    return out


@pytest.fixture
def sweep_dir(done, tmp_path):
    out = tmp_path / "sweep"
    shutil.copytree(done, out)
    return out


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


DAMAGE = {
    # name: (damage(out), commands that must fail, expected parts of the line)
    "sweep.json not JSON": (
        lambda out: _write(out / "sweep.json", "{"),
        ("status", "analyze"),
        ["sweep.json", "not valid JSON"],
    ),
    "sweep.json a list": (lambda out: _write(out / "sweep.json", "[]"), ("status", "analyze"), ["sweep.json"]),
    "sweep.json without config": (
        lambda out: _write(out / "sweep.json", '{"key": {}}'),
        ("status", "analyze"),
        ["sweep.json", "'config'"],
    ),
    "sweep.json with a bad config": (
        lambda out: _write(out / "sweep.json", json.dumps({"key": {}, "config": {"base": 3, "arms": 1}})),
        ("status", "analyze"),
        ["sweep.json", "key '"],
    ),
    "sweep.json with an escaping arm": (
        lambda out: _edit_config(out, lambda c: c.update(arms=[], grid={"rank": {"../../x": {}}})),
        ("status", "analyze"),
        ["sweep.json", "grid.rank", "'../../x'"],
    ),
    "metrics.json not JSON": (
        lambda out: _write(out / "arms" / "a" / "seed-1" / "eval" / "metrics.json", "\xff{oops"),
        ("status",),
        ["a/seed-1/eval/metrics.json", "not valid JSON"],
    ),
    "metrics.json overall a string": (
        lambda out: _write(out / "arms" / "b" / "seed-1" / "eval" / "metrics.json", '{"overall": "high"}'),
        ("status",),
        ["b/seed-1/eval/metrics.json", "'overall'"],
    ),
    "summary.json damaged": (
        lambda out: (
            (out / "arms" / "a" / "seed-1" / "eval" / "eval.json").unlink(),
            _write(out / "arms" / "a" / "seed-1" / "run" / "summary.json", '{"steps": null}'),
        ),
        ("status",),
        ["a/seed-1/run/summary.json", "'steps'"],
    ),
    "summary.json binary": (
        lambda out: (
            (out / "arms" / "a" / "seed-1" / "eval" / "eval.json").unlink(),
            (out / "arms" / "a" / "seed-1" / "run" / "summary.json").write_bytes(b"\x80\x81"),
        ),
        ("status",),
        ["a/seed-1/run/summary.json", "not valid JSON"],
    ),
    "predictions.jsonl row not JSON": (
        lambda out: _damage_row(out / "arms" / "a" / "seed-1" / "eval" / "predictions.jsonl", 2, '{"task": '),
        ("analyze",),
        ["a/seed-1/eval/predictions.jsonl", "row 2", "not valid JSON"],
    ),
    "predictions.jsonl row not an object": (
        lambda out: _damage_row(out / "arms" / "b" / "seed-1" / "eval" / "predictions.jsonl", 3, "[1, 2]"),
        ("analyze",),
        ["b/seed-1/eval/predictions.jsonl", "row 3", "JSON object"],
    ),
    "predictions.jsonl row without task": (
        lambda out: _edit_row(out / "arms" / "a" / "seed-1" / "eval" / "predictions.jsonl", 1, "task", None),
        ("analyze",),
        ["predictions.jsonl", "row 1", "field 'task'"],
    ),
    "predictions.jsonl unknown metric": (
        lambda out: _edit_row(out / "arms" / "a" / "seed-1" / "eval" / "predictions.jsonl", 4, "metric", "vibes"),
        ("analyze",),
        ["predictions.jsonl", "row 4", "field 'metric'", "'vibes'"],
    ),
    "predictions.jsonl row value garbage": (
        lambda out: _edit_row(out / "arms" / "a" / "seed-1" / "eval" / "predictions.jsonl", 1, "row", {"x": []}),
        ("analyze",),
        ["a/seed-1/eval/predictions.jsonl"],
    ),
    "predictions.jsonl a task missing": (
        lambda out: _drop_task(out / "arms" / "b" / "seed-1" / "eval" / "predictions.jsonl", "hd_query_ranking"),
        ("analyze",),
        ["b/seed-1/eval/predictions.jsonl", "'hd_query_ranking'"],
    ),
    "predictions.jsonl a row missing": (
        lambda out: _write(
            out / "arms" / "b" / "seed-1" / "eval" / "predictions.jsonl",
            "\n".join(_lines(out / "arms" / "b" / "seed-1" / "eval" / "predictions.jsonl")[1:]) + "\n",
        ),
        ("analyze",),
        ["b/seed-1/eval/predictions.jsonl", "not scored on the same items"],
    ),
    "base predictions.jsonl missing": (
        lambda out: next((out / "base").glob("*/predictions.jsonl")).unlink(),
        ("analyze",),
        ["predictions.jsonl", "missing"],
    ),
}


def _edit_config(out: Path, change) -> None:
    saved = json.loads((out / "sweep.json").read_text())
    change(saved["config"])
    _write(out / "sweep.json", json.dumps(saved))


def _damage_row(path: Path, number: int, text: str) -> None:
    lines = _lines(path)
    lines[number - 1] = text
    _write(path, "\n".join(lines) + "\n")


def _edit_row(path: Path, number: int, key: str, value) -> None:
    lines = _lines(path)
    row = json.loads(lines[number - 1])
    if value is None:
        row.pop(key)
    else:
        row[key] = value
    lines[number - 1] = json.dumps(row)
    _write(path, "\n".join(lines) + "\n")


def _drop_task(path: Path, task: str) -> None:
    kept = [line for line in _lines(path) if json.loads(line)["task"] != task]
    _write(path, "\n".join(kept) + "\n")


@pytest.mark.parametrize("case", DAMAGE)
def test_status_and_analyze_of_a_damaged_sweep_are_one_line(sweep_dir, case):
    damage, commands, expected = DAMAGE[case]
    damage(sweep_dir)
    for command in commands:
        code, _, err = run_cli("experiment", command, sweep_dir)
        line = _one_line(code, err, logged=1 if command == "analyze" else 0)
        for part in expected:
            assert part in line, (command, part, line)


def test_the_undamaged_sweep_reports(sweep_dir):
    code, out, err = run_cli("experiment", "status", sweep_dir)
    assert code == 0 and "2 of 2 runs done" in " ".join(out.split()) and out.count("overall") == 2, err
    code, out, err = run_cli("experiment", "analyze", sweep_dir)
    assert code == 0, err


def test_status_shows_the_latest_checkpoint_and_skips_foreign_names(sweep_dir):
    from shoptune.experiments.sweep import sweep_status

    run = sweep_dir / "arms" / "b" / "seed-1" / "run"
    (sweep_dir / "arms" / "b" / "seed-1" / "eval" / "eval.json").unlink()
    (run / "summary.json").unlink()
    for name in ("step-9", "step-10", "step-x", "step-"):
        (run / "checkpoints" / name).mkdir(parents=True, exist_ok=True)
    states = {r["arm"]: (r["state"], r["detail"]) for r in sweep_status(sweep_dir)}
    assert states["b"] == ("training", "checkpoint at step 10")


def test_a_damaged_eval_stamp_is_scored_again(sweep_dir):
    from shoptune.experiments.sweep import cached_eval

    stamp = sweep_dir / "arms" / "a" / "seed-1" / "eval" / "eval.json"
    key = json.loads(stamp.read_text())["items"]
    assert cached_eval(stamp.parent, key)
    for text in ("[1]", "\xff", "{", '"x"'):
        _write(stamp, text)
        assert not cached_eval(stamp.parent, key)


def test_resume_with_a_damaged_sweep_json_is_one_line(world, sweep_dir):
    _write(sweep_dir / "sweep.json", "not json")
    sweep = _sweep(world, "done", {"arms": [{"name": "a"}, {"name": "b", "set": {"lora.r": 4}}]})
    code, _, err = run_cli("experiment", "run", sweep, "--out", sweep_dir, "--resume")
    line = _one_line(code, err)
    assert "sweep.json" in line and "not valid JSON" in line


# ---------------------------------------------------------------------------------------- foreign folders
def test_resume_into_a_data_build_is_refused(world, tmp_path):
    data = tmp_path / "build"
    shutil.copytree(world / "data", data)
    before = {p: p.stat().st_mtime_ns for p in data.rglob("*")}
    marker = read_marker(data)
    assert marker is not None and marker["kind"] == "build"
    sweep = _sweep(world, "resume-build", {"arms": [{"name": "a"}]})
    for extra in (["--resume"], []):
        code, _, err = run_cli("experiment", "run", sweep, "--out", data, *extra)
        line = _one_line(code, err)
        assert str(data) in line and "build folder, not a sweep folder" in line, line
    assert {p: p.stat().st_mtime_ns for p in data.rglob("*")} == before
    assert read_marker(data) == marker


def test_tracking_reads_metrics_and_summary_or_names_the_damaged_file(sweep_dir):
    from shoptune.errors import ShoptuneError
    from shoptune.experiments.tracking import _metrics, _train

    seed = sweep_dir / "arms" / "a" / "seed-1"
    metrics = json.loads((seed / "eval" / "metrics.json").read_text())
    values = _metrics(seed / "eval" / "metrics.json")
    assert values["overall"] == metrics["overall"] and set(values) == {
        "overall",
        *(f"task.{t}" for t in metrics["tasks"]),
        *(f"group.{g}" for g in metrics["groups"]),
    }
    assert set(_train(seed / "run" / "summary.json")) == {"steps", "train_tokens", "train_seconds", "tokens_per_s"}
    for text, match in (("{", "not valid JSON"), ('{"tasks": {"t": {}}, "groups": {}}', "field 'tasks'")):
        _write(seed / "eval" / "metrics.json", text)
        with pytest.raises(ShoptuneError, match=match):
            _metrics(seed / "eval" / "metrics.json")
    _write(seed / "run" / "summary.json", '{"steps": "many"}')
    with pytest.raises(ShoptuneError, match=r"summary.json: file, field 'steps'"):
        _train(seed / "run" / "summary.json")


def test_resume_ignores_what_changes_no_run(tmp_path) -> None:
    """The plan's assumptions, presets, primary contrasts and tracking are not part of a sweep's resume key: a
    sweep started before they were edited still resumes; a change to what the runs train on is still refused."""
    from shoptune.experiments.sweep import NOT_IN_KEY, _comparable

    key = {"seeds": [13], "set": {"optim.lr": 0.001}, "plan": {"throughput": {"score_items_per_s": 0.76}},
           "presets": {}, "primary": [], "tracking": {}}  # fmt: skip
    assert _comparable(key) == {"seeds": [13], "set": {"optim.lr": 0.001}}
    assert set(NOT_IN_KEY) == {"tracking", "plan", "presets", "primary"}
