"""Task-balanced epochs and length-sorted dynamic batching, both seeded and re-drawn every epoch.

The task mix reuses the SFT mixtures (:mod:`shoptune.training.mixture`: proportional, temperature
p ∝ n^(1/T), cap, explicit weights), so both recipes take the same ``mixture:`` options; the relevance recipe
only regroups an epoch's draws by task, because its batches are task-homogeneous.

Example:
    >>> from shoptune.training.mixture import MixtureConfig
    >>> drawn = draw_epoch({"big": 900, "small": 100}, MixtureConfig(strategy="temperature"), seed=0, epoch=0)
    >>> {t: len(v) for t, v in drawn.items()}  # sqrt weighting: 30 : 10 of 1000
    {'big': 750, 'small': 250}
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from shoptune.training.mixture import MixtureConfig, epoch_plan


def draw_epoch(sizes: Mapping[str, int], mixture: MixtureConfig, seed: int, epoch: int) -> dict[str, list[int]]:
    """Indices into each task's pool for one epoch (the SFT mixture's draw, grouped by task, in drawn order).

    A task drawn more often than its size cycles through whole reshuffled passes of its pool.
    """
    drawn: dict[str, list[int]] = {task: [] for task in sorted(sizes)}
    for task, index in epoch_plan(dict(sizes), mixture, seed=seed, epoch=epoch):
        drawn[task].append(index)
    return drawn


def length_batches(
    indices: Sequence[int],
    lengths: Sequence[int],
    *,
    max_tokens: int,
    max_batch_size: int,
    window: int | None = None,
    rng: random.Random | None = None,
) -> list[list[int]]:
    """Group ``indices`` into batches of similar length whose padded size (pairs x longest) fits ``max_tokens``.

    With ``window`` (in batches of ``max_batch_size``), sorting happens inside consecutive windows of the given
    order, so training batches stay random while padding stays low; without it, everything is sorted (inference).

    >>> length_batches([0, 1, 2, 3], [5, 50, 6, 49], max_tokens=100, max_batch_size=8)
    [[0, 2], [3, 1]]
    """
    if not indices:
        return []
    span = len(indices) if window is None else max(1, window * max_batch_size)
    batches: list[list[int]] = []
    for start in range(0, len(indices), span):
        chunk = sorted(indices[start : start + span], key=lambda i: (lengths[i], i))
        batch: list[int] = []
        longest = 0
        for i in chunk:
            longest_if = max(longest, lengths[i])
            if batch and (len(batch) + 1 > max_batch_size or longest_if * (len(batch) + 1) > max_tokens):
                batches.append(batch)
                batch, longest_if = [], lengths[i]
            batch.append(i)
            longest = longest_if
        if batch:
            batches.append(batch)
    if rng is not None:
        rng.shuffle(batches)
    return batches
