"""Task-balanced epochs (the SFT mixture options) and length-sorted dynamic batching."""

from __future__ import annotations

import random
from collections import Counter

from shoptune.relevance.config import RelevanceConfig
from shoptune.relevance.recipe import plan_epochs
from shoptune.relevance.sampling import draw_epoch
from shoptune.training.batching import length_grouped
from shoptune.training.mixture import MixtureConfig

SIZES = {"big": 900, "mid": 400, "small": 100}


def test_each_mixture_option_sets_the_task_counts() -> None:
    def counts(**kw: object) -> dict[str, int]:
        return {t: len(v) for t, v in draw_epoch(SIZES, MixtureConfig(**kw), seed=0, epoch=0).items()}

    assert counts(strategy="proportional") == SIZES
    assert counts(strategy="temperature", temperature=2.0) == {"big": 700, "mid": 467, "small": 233}  # 30:20:10
    assert counts(strategy="cap", cap=300) == {"big": 300, "mid": 300, "small": 100}
    assert counts(strategy="weights", weights={"big": 1, "small": 3}, examples_per_epoch=400) == {
        "big": 100,
        "mid": 0,
        "small": 300,
    }


def test_draws_are_seeded_resampled_per_epoch_and_upsample_whole_passes() -> None:
    mix = MixtureConfig(strategy="temperature", temperature=1e6)  # ~uniform: small drawn 4.67x its size
    a = draw_epoch(SIZES, mix, seed=1, epoch=0)
    assert a == draw_epoch(SIZES, mix, seed=1, epoch=0)
    assert a["big"] != draw_epoch(SIZES, mix, seed=1, epoch=1)["big"]
    assert len(set(a["big"])) == len(a["big"])  # no repeats while the pool lasts
    assert set(Counter(a["small"]).values()) == {4, 5}  # 467 draws = 4 whole passes over the pool + 67


def test_length_grouped_batches_respect_the_token_budget_and_cover_every_draw() -> None:
    rng = random.Random(0)
    lengths = [rng.randint(3, 120) for _ in range(500)]
    drawn = [*range(500), *range(0, 500, 5)]  # an epoch's draws: a task drawn more than its pool repeats pairs
    batches = length_grouped(lengths, indices=drawn, batch_tokens=512, max_batch=32, window=4 * 32, seed=1)
    assert sorted(i for b in batches for i in b) == sorted(drawn)
    assert all(len(b) <= 32 and len(b) * max(lengths[i] for i in b) <= 512 for b in batches)
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    assert padded < 1.3 * sum(lengths[i] for i in drawn)  # sorting inside windows keeps padding low


def test_epoch_plans_are_task_homogeneous_and_record_realised_counts() -> None:
    cfg = RelevanceConfig.model_validate(
        {"data": {"path": "x"}, "mixture": {"strategy": "cap", "cap": 50}, "train": {"epochs": 2, "max_batch": 8}}
    )
    lengths = {"a": [10] * 120, "b": [20] * 30}
    plans, realised = plan_epochs(cfg, lengths)
    assert realised[0]["tasks"]["a"] == {"pool": 120, "drawn": 50, "distinct": 50, "batches": 7}
    assert realised[1]["tasks"]["b"]["drawn"] == 30
    assert sum(len(b.indices) for b in plans[0] if b.task == "a") == 50
    assert [b.indices for b in plans[0]] != [b.indices for b in plans[1]]
