"""Task-balanced sampling and length-sorted dynamic batching."""

from __future__ import annotations

import random

import pytest

from shoptune.relevance.config import MixtureSpec
from shoptune.relevance.sampling import draw_epoch, epoch_counts, length_batches, mixture_probabilities

SIZES = {"big": 900, "mid": 400, "small": 100}


def test_proportional_temperature_and_cap() -> None:
    prop = mixture_probabilities(SIZES, MixtureSpec(strategy="proportional"))
    assert prop == pytest.approx({"big": 9 / 14, "mid": 4 / 14, "small": 1 / 14})
    temp = mixture_probabilities(SIZES, MixtureSpec(strategy="temperature", temperature=2.0))
    assert temp == pytest.approx({"big": 30 / 60, "mid": 20 / 60, "small": 10 / 60})  # sqrt: 30, 20, 10
    uniform = mixture_probabilities(SIZES, MixtureSpec(strategy="temperature", temperature=1e9))
    assert uniform == pytest.approx({t: 1 / 3 for t in SIZES}, abs=1e-6)
    capped = mixture_probabilities(SIZES, MixtureSpec(strategy="proportional", cap=400))
    assert capped == pytest.approx({"big": 4 / 9, "mid": 4 / 9, "small": 1 / 9})  # 400, 400, 100


def test_explicit_weights_and_errors() -> None:
    spec = MixtureSpec(strategy="weights", weights={"big": 1.0, "small": 3.0})
    assert mixture_probabilities(SIZES, spec) == {"big": 0.25, "mid": 0.0, "small": 0.75}
    with pytest.raises(ValueError, match="unknown task"):
        mixture_probabilities(SIZES, MixtureSpec(strategy="weights", weights={"nope": 1.0}))
    with pytest.raises(ValueError, match="weight of 0"):
        mixture_probabilities(SIZES, MixtureSpec(strategy="weights"))


def test_epoch_counts_sum_to_the_epoch_size() -> None:
    counts = epoch_counts(SIZES, MixtureSpec(strategy="temperature", temperature=2.0))
    assert sum(counts.values()) == 1400 and counts == {"big": 700, "mid": 467, "small": 233}
    assert sum(epoch_counts(SIZES, MixtureSpec(epoch_size=101)).values()) == 101


def test_draws_are_seeded_resampled_per_epoch_and_upsample_whole_passes() -> None:
    counts = {"big": 50, "small": 250}
    a = draw_epoch({"big": 900, "small": 100}, counts, seed=1, epoch=0)
    assert a == draw_epoch({"big": 900, "small": 100}, counts, seed=1, epoch=0)
    assert a["big"] != draw_epoch({"big": 900, "small": 100}, counts, seed=1, epoch=1)["big"]
    assert len(set(a["big"])) == 50  # no repeats while the pool lasts
    assert sorted(a["small"][:100]) == list(range(100)) and len(a["small"]) == 250  # 2.5 passes


def test_length_batches_respect_the_token_budget_and_cover_everything() -> None:
    rng = random.Random(0)
    lengths = [rng.randint(3, 120) for _ in range(500)]
    batches = length_batches(
        list(range(500)), lengths, max_tokens=512, max_batch_size=32, window=4, rng=random.Random(1)
    )
    assert sorted(i for b in batches for i in b) == list(range(500))
    assert all(len(b) <= 32 and len(b) * max(lengths[i] for i in b) <= 512 for b in batches)
    # Sorting inside windows keeps padding low: short pairs travel in big batches.
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    assert padded < 1.3 * sum(lengths)
