"""Per-task sampling of a multi-task mixture, seeded and resampled each epoch.

Strategies (``MixtureConfig.strategy``):
- ``proportional``: every example once (p ∝ n);
- ``temperature``: p ∝ n^(1/T), so T > 1 up-weights small tasks (T = 1 is proportional, T -> inf uniform);
- ``cap``: proportional, but no task contributes more than ``cap`` examples per epoch;
- ``weights``: explicit relative weights per task (missing tasks get weight 0).
For ``temperature`` and ``weights`` the epoch size defaults to the total number of examples.

Example:
    >>> cfg = MixtureConfig(strategy="temperature", temperature=2.0)
    >>> plan = epoch_plan({"big": 900, "small": 100}, cfg, seed=0, epoch=0)
    >>> sum(1 for task, _ in plan if task == "small") > 100
    True
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Literal

from pydantic import Field, model_validator

from shoptune.config import StrictModel


class MixtureConfig(StrictModel):
    strategy: Literal["proportional", "temperature", "cap", "weights"] = "proportional"
    temperature: float = Field(default=2.0, gt=0)
    cap: int | None = Field(default=None, ge=1)
    weights: dict[str, float] = Field(default_factory=dict)
    #: Examples per epoch for temperature/weights sampling (default: all examples).
    examples_per_epoch: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _needs(self) -> MixtureConfig:
        if self.strategy == "cap" and self.cap is None:
            raise ValueError("strategy 'cap' needs 'cap'")
        if self.strategy == "weights" and not self.weights:
            raise ValueError("strategy 'weights' needs 'weights' (task: weight)")
        return self


def task_probabilities(sizes: dict[str, int], cfg: MixtureConfig) -> dict[str, float]:
    """The sampling probability of each task under the strategy."""
    if cfg.strategy == "temperature":
        raw = {t: n ** (1.0 / cfg.temperature) if n else 0.0 for t, n in sizes.items()}
    elif cfg.strategy == "weights":
        raw = {t: float(cfg.weights.get(t, 0.0)) if sizes[t] else 0.0 for t in sizes}
    elif cfg.strategy == "cap":
        raw = {t: float(min(n, cfg.cap or n)) for t, n in sizes.items()}
    else:
        raw = {t: float(n) for t, n in sizes.items()}
    total = sum(raw.values())
    if total <= 0:
        raise ValueError("the mixture is empty: every task has zero examples or zero weight")
    return {t: v / total for t, v in raw.items()}


def epoch_plan(sizes: dict[str, int], cfg: MixtureConfig, *, seed: int, epoch: int) -> list[tuple[str, int]]:
    """The (task, example index) pairs of one epoch, shuffled. Deterministic in (seed, epoch).

    Within a task, examples are drawn without replacement until the task is exhausted, then reshuffled,
    so a small up-weighted task cycles through all its examples rather than repeating a few.
    """
    rng = random.Random(f"mixture:{seed}:{epoch}")
    tasks = sorted(sizes)
    if cfg.strategy in ("proportional", "cap"):
        counts = {t: min(sizes[t], cfg.cap) if cfg.strategy == "cap" and cfg.cap else sizes[t] for t in tasks}
    else:
        probs = task_probabilities(sizes, cfg)
        total = cfg.examples_per_epoch or sum(sizes.values())
        counts = _largest_remainder({t: probs[t] * total for t in tasks})
    plan: list[tuple[str, int]] = []
    for task in tasks:
        plan.extend((task, i) for i in _draw(sizes[task], counts[task], rng))
    rng.shuffle(plan)
    return plan


def _largest_remainder(shares: dict[str, float]) -> dict[str, int]:
    """Round shares to integers that keep their sum (so the epoch size is exact)."""
    floors = {t: int(v) for t, v in shares.items()}
    left = round(sum(shares.values())) - sum(floors.values())
    for t in sorted(shares, key=lambda t: (shares[t] - floors[t], t), reverse=True)[: max(0, left)]:
        floors[t] += 1
    return floors


def _draw(size: int, count: int, rng: random.Random) -> list[int]:
    out: list[int] = []
    while len(out) < count and size:
        order = list(range(size))
        rng.shuffle(order)
        out.extend(order[: count - len(out)])
    return out


def realised_mixture(plan: list[tuple[str, int]], capability_of: dict[str, str]) -> dict[str, dict[str, int]]:
    """Counts per task and per capability of an epoch plan (written to the run directory)."""
    per_task = Counter(task for task, _ in plan)
    per_cap: Counter[str] = Counter()
    for task, n in per_task.items():
        per_cap[capability_of.get(task, "?")] += n
    return {"tasks": dict(sorted(per_task.items())), "capabilities": dict(sorted(per_cap.items()))}
