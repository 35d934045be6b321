"""Task-balanced epochs, seeded and re-drawn every epoch (batching is the SFT recipe's ``length_grouped``).

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

from collections.abc import Mapping

from shoptune.training.mixture import MixtureConfig, epoch_plan


def draw_epoch(sizes: Mapping[str, int], mixture: MixtureConfig, seed: int, epoch: int) -> dict[str, list[int]]:
    """Indices into each task's pool for one epoch (the SFT mixture's draw, grouped by task, in drawn order).

    A task drawn more often than its size cycles through whole reshuffled passes of its pool.
    """
    drawn: dict[str, list[int]] = {task: [] for task in sorted(sizes)}
    for task, index in epoch_plan(dict(sizes), mixture, seed=seed, epoch=epoch):
        drawn[task].append(index)
    return drawn
