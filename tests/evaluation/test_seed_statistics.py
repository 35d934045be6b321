"""Seed-aware statistics: the hierarchical bootstrap's coverage, Holm and BH, and the power plan's MDE, each
checked against a known answer (a simulation with a known effect and seed variance, or a textbook table)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shoptune.evaluation.power import design_for_effect, minimum_detectable_effect
from shoptune.evaluation.statistics import TaskRows, benjamini_hochberg, holm, seed_item_contrast

TASKS = ["t0", "t1"]


def simulate(rng, *, seeds: int, items: int, seed_sd: float, item_sd: float, delta: float, noise: float = 0.0):
    """Two arms x ``seeds`` x two tasks. Every per-seed contrast has SD ``seed_sd`` (a training seed's luck, the
    same on every task), every item's paired difference SD ``item_sd`` (shared item difficulty cancels)."""
    runs: list[list[dict[str, TaskRows]]] = [[{} for _ in range(seeds)] for _ in range(2)]
    luck = rng.normal(0.0, seed_sd / math.sqrt(2), size=(2, seeds))
    for task in TASKS:
        difficulty = rng.normal(0.0, 1.0, items)
        arm_items = rng.normal(0.0, item_sd / math.sqrt(2), size=(2, items))
        for arm, shift in enumerate((delta, 0.0)):
            for s in range(seeds):
                y = difficulty + shift + arm_items[arm] + luck[arm, s] + rng.normal(0.0, noise, items)
                runs[arm][s][task] = TaskRows("score", y, np.mean)
    return runs


@pytest.mark.parametrize(
    ("seeds", "seed_sd", "item_sd"),
    [(3, 0.10, 0.40), (4, 0.15, 0.10), (5, 0.0, 0.60)],  # seed-dominated, item-dominated, no seed variance at all
)
def test_hierarchical_intervals_cover_the_true_effect_95_percent_of_the_time(seeds, seed_sd, item_sd):
    rng = np.random.default_rng(seeds)
    trials, truth = 300, 0.05
    covered = 0
    for k in range(trials):
        runs = simulate(rng, seeds=seeds, items=100, seed_sd=seed_sd, item_sd=item_sd, delta=truth, noise=0.3)
        lo, hi = seed_item_contrast(runs, [1, -1], TASKS, n_resamples=300, seed=k)["ci95"]
        covered += lo <= truth <= hi
    assert 0.91 <= covered / trials <= 0.99


def test_an_item_only_interval_misses_seed_variance_the_hierarchical_one_keeps():
    """Where seeds dominate, the old item-level interval (seeds averaged inside) covers far too rarely."""
    from shoptune.evaluation.statistics import paired_runs_contrast

    rng = np.random.default_rng(7)
    item_only = hierarchical = 0
    for k in range(200):
        runs = simulate(rng, seeds=4, items=100, seed_sd=0.2, item_sd=0.1, delta=0.05)
        lo, hi = seed_item_contrast(runs, [1, -1], TASKS, n_resamples=200, seed=k)["ci95"]
        hierarchical += lo <= 0.05 <= hi
        flat = [runs[a][s] for a in range(2) for s in range(4)]
        lo, hi = paired_runs_contrast(flat, [0.25] * 4 + [-0.25] * 4, TASKS, n_resamples=200, seed=k)["ci95"]
        item_only += lo <= 0.05 <= hi
    assert hierarchical / 200 >= 0.9
    assert item_only / 200 <= 0.5


def test_fewer_than_three_seeds_make_no_seed_level_inference():
    rng = np.random.default_rng(0)
    out = seed_item_contrast(
        simulate(rng, seeds=2, items=50, seed_sd=0.1, item_sd=0.3, delta=0.1), [1, -1], TASKS, n_resamples=100
    )
    assert out["seed_inference"] is False and out["df"] is None
    assert len(out["per_seed"]) == 2 and out["seed_sd"] is not None


def test_clustered_items_widen_the_interval():
    rng = np.random.default_rng(3)
    runs = simulate(rng, seeds=3, items=120, seed_sd=0.0, item_sd=0.5, delta=0.0)
    plain = seed_item_contrast(runs, [1, -1], TASKS, n_resamples=400)["item_se"]
    for arm in runs:  # the items come in blocks of 20 that move together: 6 independent units per task
        for per_seed in arm:
            for task, rows in per_seed.items():
                blocks = np.repeat(rows.values[::20], 20)
                per_seed[task] = TaskRows("score", blocks, np.mean, clusters=[i // 20 for i in range(120)])
    clustered = seed_item_contrast(runs, [1, -1], TASKS, n_resamples=400)["item_se"]
    assert clustered > 2 * plain


def test_holm_matches_the_textbook_example():
    # Worked by hand: sorted p_(i) x (m - i + 1) = 0.05, 0.08, 0.09, 0.08, 0.05, then the running maximum.
    assert holm([0.01, 0.02, 0.03, 0.04, 0.05]) == [0.05, 0.08, 0.09, 0.09, 0.09]
    assert holm([0.04, 0.01, 0.03]) == [0.06, 0.03, 0.06]  # order of the input kept
    assert holm([0.5, 0.9]) == [1.0, 1.0]  # capped at 1


def test_benjamini_hochberg_matches_hand_computation():
    # sorted p 0.005, 0.01, 0.03, 0.04 -> p*m/rank 0.02, 0.02, 0.04, 0.04 (then the running minimum from the top)
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.005]) == [0.02, 0.04, 0.04, 0.02]
    assert benjamini_hochberg([]) == []


@pytest.mark.parametrize(("seeds", "seed_sd", "item_sd"), [(4, 0.08, 0.35), (5, 0.03, 0.42)])
def test_the_planned_mde_is_detected_with_80_percent_power_in_simulation(seeds, seed_sd, item_sd):
    items = 2 * 100
    mde = minimum_detectable_effect(seed_sd=seed_sd, item_sd=item_sd, seeds=seeds, items=items)
    rng = np.random.default_rng(11)
    trials = 400
    detected = 0
    for k in range(trials):
        runs = simulate(rng, seeds=seeds, items=100, seed_sd=seed_sd, item_sd=item_sd, delta=mde)
        detected += seed_item_contrast(runs, [1, -1], TASKS, n_resamples=200, seed=k)["p_value"] < 0.05
    assert 0.72 <= detected / trials <= 0.88


def test_mde_is_infinite_without_seed_inference_and_shrinks_with_seeds_and_items():
    assert minimum_detectable_effect(seed_sd=0.1, item_sd=0.4, seeds=2, items=400) == math.inf
    four = minimum_detectable_effect(seed_sd=0.1, item_sd=0.4, seeds=4, items=400)
    assert minimum_detectable_effect(seed_sd=0.1, item_sd=0.4, seeds=8, items=400) < four
    items_bound = minimum_detectable_effect(seed_sd=0.02, item_sd=0.4, seeds=4, items=400)
    assert minimum_detectable_effect(seed_sd=0.02, item_sd=0.4, seeds=4, items=1600) < items_bound


def test_design_for_effect_finds_the_smallest_design_that_reaches_it():
    plan = design_for_effect(0.1, seed_sd=0.05, item_sd=0.4, seeds=4, items=400)
    s, n = plan["seeds_at_items"], plan["items_at_seeds"]
    assert minimum_detectable_effect(seed_sd=0.05, item_sd=0.4, seeds=s, items=400) <= 0.1
    assert minimum_detectable_effect(seed_sd=0.05, item_sd=0.4, seeds=s - 1, items=400) > 0.1
    assert n is None or minimum_detectable_effect(seed_sd=0.05, item_sd=0.4, seeds=4, items=n) <= 0.1
    # the seed spread alone puts some effects out of reach of any number of items
    assert design_for_effect(0.01, seed_sd=0.2, item_sd=0.4, seeds=4, items=400)["min_seeds"] is None
