"""Task-balanced sampling and length-sorted dynamic batching, both seeded and re-drawn every epoch.

Example:
    >>> from shoptune.relevance.config import MixtureSpec
    >>> spec = MixtureSpec(strategy="temperature", temperature=2.0)
    >>> probs = mixture_probabilities({"big": 10000, "small": 100}, spec)
    >>> round(probs["small"], 3)  # sqrt(100) / (sqrt(10000) + sqrt(100))
    0.091
    >>> counts = epoch_counts({"big": 10000, "small": 100}, spec)
    >>> counts, sum(counts.values())
    ({'big': 9191, 'small': 909}, 10100)
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import numpy as np

from shoptune.relevance.config import MixtureSpec


def mixture_probabilities(sizes: Mapping[str, int], spec: MixtureSpec) -> dict[str, float]:
    """Each task's share of an epoch under the mixture ``spec`` (sums to 1).

    >>> mixture_probabilities({"a": 300, "b": 100}, MixtureSpec(strategy="proportional", cap=100))
    {'a': 0.5, 'b': 0.5}
    """
    capped = {t: min(n, spec.cap) if spec.cap else n for t, n in sizes.items()}
    if spec.strategy == "proportional":
        raw = {t: float(n) for t, n in capped.items()}
    elif spec.strategy == "temperature":
        raw = {t: float(n) ** (1.0 / spec.temperature) if n > 0 else 0.0 for t, n in capped.items()}
    else:
        unknown = sorted(set(spec.weights) - set(sizes))
        if unknown:
            raise ValueError(f"mixture weights for unknown task(s): {', '.join(unknown)}")
        raw = {t: float(spec.weights.get(t, spec.default_weight)) if capped[t] > 0 else 0.0 for t in capped}
    total = sum(raw.values())
    if total <= 0:
        raise ValueError("the mixture gives every task a weight of 0: nothing to train on")
    return {t: v / total for t, v in raw.items()}


def epoch_counts(sizes: Mapping[str, int], spec: MixtureSpec) -> dict[str, int]:
    """Pairs drawn per task in one epoch: shares of the epoch size, rounded by largest remainder.

    The epoch size defaults to the total of the capped pools, so the mix changes but an epoch stays one pass.
    """
    probs = mixture_probabilities(sizes, spec)
    total = spec.epoch_size or sum(min(n, spec.cap) if spec.cap else n for n in sizes.values())
    exact = {t: p * total for t, p in probs.items()}
    counts = {t: int(np.floor(v)) for t, v in exact.items()}
    # Largest remainder; ties broken by task name so the result never depends on dict order.
    left = total - sum(counts.values())
    for t in sorted(exact, key=lambda t: (-(exact[t] - counts[t]), t))[:left]:
        counts[t] += 1
    return counts


def draw_epoch(pools: Mapping[str, int], counts: Mapping[str, int], seed: int, epoch: int) -> dict[str, list[int]]:
    """Indices into each task's pool for one epoch: without replacement up to the pool size, whole passes
    over the pool (each reshuffled) when a task is upsampled. Seeded by (seed, epoch, task).

    >>> draw_epoch({"a": 3}, {"a": 5}, seed=0, epoch=0)["a"].__len__()
    5
    """
    out: dict[str, list[int]] = {}
    for task in sorted(counts):
        rng = random.Random(f"{seed}:{epoch}:{task}")
        n, want = pools[task], counts[task]
        picked: list[int] = []
        while len(picked) < want and n > 0:
            order = list(range(n))
            rng.shuffle(order)
            picked.extend(order[: want - len(picked)])
        out[task] = picked
    return out


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
