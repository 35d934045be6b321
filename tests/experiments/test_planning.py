"""Studies that can answer their question (issue 22): primary contrasts named before a sweep runs, reported first
with a seed-aware CI, Holm-corrected p and the MDE of their design; exploratory ones BH-corrected; and the plan
(`experiment plan`) that prints wall time and MDE before any compute is spent."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from experiments.conftest import make_sweep_world
from shoptune.errors import ConfigError
from shoptune.evaluation.power import minimum_detectable_effect
from shoptune.experiments.planning import plan_design, plan_markdown, warning_lines
from shoptune.experiments.sweep import PLAN_FILE, load_sweep, run_sweep


@pytest.fixture(scope="module")
def world(tmp_path_factory, demo_data):
    return make_sweep_world(tmp_path_factory.mktemp("plan"), demo_data, cap=8)


PRIMARY = {
    "name": "both_vs_behaviour",
    "question": "Does adding the concept tasks help?",
    "weights": {"both": 1, "behaviour": -1},
    "group": "all",
    "expected_effect": 0.05,
}


def _sweep(root: Path, name: str, **body) -> Path:
    spec = {
        "base": "base.yaml",
        "eval": {"limit": 4, "bf16": False},
        "seeds": [1, 2, 3],
        "arms": [
            {"name": "behaviour", "set": {"capabilities": ["user_behavior_alignment"]}},
            {"name": "both", "set": {"capabilities": "all"}},
        ],
        "primary": [PRIMARY],
        "presets": {"big": {"eval.limit": 400, "seeds": [1, 2, 3, 4, 5, 6]}},
    } | body
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_the_plan_gives_items_wall_time_and_the_mde_of_every_primary_contrast(world):
    plan = plan_design(load_sweep(_sweep(world, "plan")))
    assert plan["runs"] == 6 and plan["tasks"] == 3 and plan["items"] == 12
    assert plan["hours"]["total"] > 0 and plan["throughput"]["train_tokens_per_s"] == 109.0
    (entry,) = plan["primary"]
    variance = plan["variance"]
    assert entry["items"] == 12
    assert entry["mde"] == pytest.approx(
        minimum_detectable_effect(seed_sd=variance["seed_sd"], item_sd=variance["item_sd"], seeds=3, items=12)
    )
    assert any("fewer than 400" in w for w in entry["warnings"])
    assert warning_lines(plan) and "MDE" in warning_lines(plan)[0]  # what `experiment run` warns in one line
    assert entry["needed"]["seeds_at_items"] is None or entry["needed"]["seeds_at_items"] >= 3
    text = plan_markdown(plan)
    assert "Expected wall time" in text and "both_vs_behaviour" in text


def test_a_preset_scales_the_design_and_lowers_the_mde(world):
    small = plan_design(load_sweep(_sweep(world, "preset")))["primary"][0]["mde"]
    big = plan_design(load_sweep(_sweep(world, "preset"), preset="big"))
    # the demo split has fewer than 400 test items per task: items are what the build holds
    assert big["runs"] == 12 and big["primary"][0]["mde"] < small
    with pytest.raises(ConfigError, match="--preset 'nope'.*has: big"):
        load_sweep(_sweep(world, "preset"), preset="nope")


def test_fewer_than_three_seeds_have_no_mde(world):
    plan = plan_design(load_sweep(_sweep(world, "two", seeds=[1, 2])))
    assert math.isinf(plan["primary"][0]["mde"])
    assert any("no seed-level inference" in w for w in plan["primary"][0]["warnings"])


def test_bad_primary_contrasts_are_one_line_naming_the_key(world):
    with pytest.raises(ConfigError, match=r"primary\[0\].weights.*nope"):
        load_sweep(_sweep(world, "bad1", primary=[PRIMARY | {"weights": {"both": 1, "nope": -1}}]))
    with pytest.raises(ConfigError, match="sum to 0"):
        load_sweep(_sweep(world, "bad2", primary=[PRIMARY | {"weights": {"both": 1}}]))
    with pytest.raises(ConfigError, match="interaction"):
        load_sweep(_sweep(world, "bad3", primary=[{"name": "x", "interaction": True}]))
    with pytest.raises(ConfigError, match=r"primary\[0\].group"):
        load_sweep(_sweep(world, "bad4", primary=[PRIMARY | {"group": "sideways"}]))


def test_a_sweep_reports_its_primary_contrast_first_then_corrected_exploratory_ones(world):
    out = world / "run"
    messages: list[str] = []
    from shoptune.api import run_sweep as api_run

    report = api_run(_sweep(world, "run"), out, log=messages.append)
    assert any(m.startswith("# Sweep plan") for m in messages)  # the plan is printed before any training
    assert any(m.startswith("warning: primary contrast") for m in messages)
    saved = json.loads((out / PLAN_FILE).read_text())
    assert saved["primary"][0]["name"] == "both_vs_behaviour" and "started" in saved
    (primary,) = report["primary"]
    result = primary["result"]
    assert result["seed_inference"] and result["seeds"] == 3 and result["items"] == 12
    assert result["correction"] == "Holm" and 0.0 <= result["p_adjusted"] <= 1.0
    assert math.isfinite(primary["mde"]) and primary["conclusion"].startswith("Does adding the concept tasks help?")
    step = report["sequences"]["arms"]["all"]["contrasts"][0]["vs_previous"]
    assert step["correction"] == "BH" and step["p_adjusted"] >= step["p_value"]
    text = (out / "comparisons.md").read_text()
    assert text.index("## Answer") < text.index("## Exploratory")
    # the eval stamps record scoring time, and the SFT summary the examples: a resumed plan reads them
    stamp = json.loads(next(out.glob("arms/*/seed-1/eval/eval.json")).read_text())
    assert stamp["scored"] == 12 and stamp["seconds"] > 0
    measured = plan_design(load_sweep(_sweep(world, "run")), out=out)["throughput"]
    assert "measured by 6 training run(s) and 6 eval(s)" in measured["source"]
    # an earlier sweep's measured variance replaces the file's
    priors = plan_design(load_sweep(_sweep(world, "run")), priors=out)["variance"]
    assert priors["seed_sd"] == pytest.approx(result["seed_sd"]) and priors["item_sd"] == pytest.approx(
        result["item_sd"]
    )


def test_a_sweep_without_primary_contrasts_says_everything_is_exploratory(world):
    out = world / "run-none"
    report = run_sweep(load_sweep(_sweep(world, "none", primary=[], seeds=[1])), out, log=lambda m: None)
    assert report["primary"] == []
    text = (out / "comparisons.md").read_text()
    assert "names no primary contrast" in text and "items only" in text


def test_experiment_plan_cli_prints_the_plan(world, tmp_path):
    from shoptune.cli import app

    target = tmp_path / "plan.json"
    result = CliRunner().invoke(app, ["experiment", "plan", str(_sweep(world, "cli")), "--json", str(target)])
    assert result.exit_code == 0, result.output
    assert "Expected wall time" in result.output and "both_vs_behaviour" in result.output
    assert json.loads(target.read_text())["runs"] == 6
    bad = subprocess.run(
        [sys.executable, "-m", "shoptune", "experiment", "plan", str(_sweep(world, "cli")), "--preset", "nope"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "no such preset" in bad.stderr and "Traceback" not in bad.stderr
