"""The shipped generation configs and the sweep that compares a mixture with and without a generated task are
valid as written (paths that only exist after a run, such as the data build to decontaminate against, aside)."""

from __future__ import annotations

import pytest

from shoptune.data.generate.config import load_generate_config, task_spec
from shoptune.experiments.sweep import expand_arms, load_sweep
from shoptune.tasks import load_tasks


@pytest.mark.parametrize("name", ["grocery_search", "grocery_search_openai"])
def test_generation_configs_validate(repo, name):
    cfg = load_generate_config(repo / "configs" / "generate" / f"{name}.yaml", {"filters.decontam": None})
    spec = task_spec(cfg, load_tasks(), "/tmp/examples.jsonl")
    assert spec.capability == "user_behavior_alignment" and spec.source.adapter == "generated"
    assert cfg.seeds.task == "ic_aisle_mc" and cfg.record.options and len(cfg.record.options) == 1 + cfg.seeds.others


def test_sweep_compares_the_mixture_with_and_without_the_generated_task(repo):
    cfg = load_sweep(repo / "configs" / "experiments" / "generated_data.yaml")
    arms = {arm.name: arm.overrides for arm in expand_arms(cfg)}
    without, with_generated = arms["without"]["tasks"], arms["with_generated"]["tasks"]
    assert with_generated == [*without, "gen_grocery_search_mc"]
    assert "gen_grocery_search_mc" in cfg.eval.exclude  # scored on the real tasks only
