"""Power of a design: the smallest effect a contrast can detect, and the seeds and items it needs for a given one.

A contrast's standard error has a seed part and an item part (what :func:`~shoptune.evaluation.statistics.
seed_item_contrast` measures): ``SE² = seed_sd² / seeds + item_sd² / items``, with ``seed_sd`` the spread of the
per-seed contrast and ``item_sd`` the per-item spread of the paired difference (``item_se · sqrt(items)``). The
test is the same t test that function makes (Welch–Satterthwaite degrees of freedom), so the minimum detectable
effect at power 1 - β and two-sided level α is ``(t_{1-α/2, df} + t_{1-β, df}) · SE``, the usual normal-theory
formula with t quantiles.

Example:
    >>> round(minimum_detectable_effect(seed_sd=0.05, item_sd=0.4, seeds=4, items=400), 3)
    0.102
    >>> design_for_effect(0.1, seed_sd=0.05, item_sd=0.4, seeds=4, items=400)["seeds_at_items"]
    5
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from shoptune.evaluation.statistics import MIN_SEEDS, welch_df

#: The most seeds :func:`design_for_effect` looks at before it says the effect is out of reach.
MAX_SEEDS = 64


def contrast_se(*, seed_sd: float, item_sd: float, seeds: int, items: float) -> tuple[float, float]:
    """The standard error of a seed-averaged contrast over ``items`` scored items, and its degrees of freedom."""
    if seeds < 1 or items < 1:
        raise ValueError("seeds and items must be at least 1")
    seed_var = seed_sd**2 / seeds
    item_var = item_sd**2 / items
    return math.sqrt(seed_var + item_var), welch_df(seed_var, item_var, seeds)


def minimum_detectable_effect(
    *, seed_sd: float, item_sd: float, seeds: int, items: float, alpha: float = 0.05, power: float = 0.8
) -> float:
    """The smallest true contrast the two-sided level-``alpha`` test detects with probability ``power``.

    Infinite below :data:`~shoptune.evaluation.statistics.MIN_SEEDS` seeds, where no seed-level test is made.
    """
    from scipy import stats

    if seeds < MIN_SEEDS:
        return math.inf
    se, df = contrast_se(seed_sd=seed_sd, item_sd=item_sd, seeds=seeds, items=items)
    return float((stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) * se)


def design_for_effect(
    effect: float,
    *,
    seed_sd: float,
    item_sd: float,
    seeds: int,
    items: int,
    alpha: float = 0.05,
    power: float = 0.8,
) -> dict[str, Any]:
    """What it takes to detect ``effect``, from a planned design of ``seeds`` x ``items``:

    - ``seeds_at_items``: the fewest seeds at the planned items;
    - ``items_at_seeds``: the fewest items at the planned seeds;
    - ``min_seeds``: the fewest seeds with as many items as needed (the seed spread alone sets this floor).

    ``None`` where nothing up to :data:`MAX_SEEDS` seeds (or no number of items) gets there.
    """
    if effect <= 0:
        raise ValueError("effect must be positive")

    def mde(n_seeds: int, n_items: float) -> float:
        return minimum_detectable_effect(
            seed_sd=seed_sd, item_sd=item_sd, seeds=n_seeds, items=n_items, alpha=alpha, power=power
        )

    seed_range = range(MIN_SEEDS, MAX_SEEDS + 1)
    return {
        "effect": effect,
        "seeds_at_items": next((s for s in seed_range if mde(s, items) <= effect), None),
        "items_at_seeds": _fewest_items(lambda n: mde(seeds, n) <= effect),
        "min_seeds": next((s for s in seed_range if mde(s, 10**9) <= effect), None),
    }


def _fewest_items(enough: Callable[[int], bool], ceiling: int = 10**7) -> int | None:
    """The smallest n in [1, ceiling] with enough(n), or None. Nearly monotone: where seeds dominate, more items
    also lower the Welch degrees of freedom towards seeds - 1, which can raise the MDE by a hair."""
    if not enough(ceiling):
        return None
    lo, hi = 1, ceiling
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if enough(mid) else (mid + 1, hi)
    return lo
