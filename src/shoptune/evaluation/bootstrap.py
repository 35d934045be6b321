"""Percentile bootstrap intervals over examples, seeded and vectorised with numpy.

The statistic sees the examples on one axis. A statistic that takes an ``axis`` argument (``np.mean``,
``np.median``, the pooled-F1 statistics in :mod:`shoptune.evaluation.metrics`) is evaluated on a whole
batch of resamples at once, shaped ``(resamples, examples, *row)``, with ``axis=1``; any other callable is
called once per resample with an array shaped ``(examples, *row)``.

Example:
    >>> lo, hi = bootstrap_ci([0, 1, 1, 0, 1, 1, 1, 0], n_resamples=200, seed=0)
    >>> bool(lo <= 0.625 <= hi)
    True
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Statistic = Callable[..., Any]

# Elements of the gathered (resamples, examples, *row) array held in memory at once (~64 MB of float64).
_CHUNK_ELEMENTS = 8_000_000


def _takes_axis(statistic: Statistic) -> bool:
    try:
        return "axis" in inspect.signature(statistic).parameters
    except (TypeError, ValueError):  # builtins and some C callables have no signature
        return False


def bootstrap_distribution(
    values: Sequence[Any] | np.ndarray,
    statistic: Statistic = np.mean,
    n_resamples: int = 1000,
    seed: int = 0,
    vectorized: bool | None = None,
) -> np.ndarray:
    """The statistic on ``n_resamples`` resamples (with replacement) of the examples (first axis of
    ``values``). Deterministic for a given seed. ``vectorized`` defaults to whether ``statistic`` takes
    ``axis``."""
    data = np.asarray(values)
    n = data.shape[0] if data.ndim else 0
    if n == 0:
        raise ValueError("bootstrap needs at least one example")
    if n_resamples < 1:
        raise ValueError("n_resamples must be at least 1")
    if vectorized is None:
        vectorized = _takes_axis(statistic)
    rng = np.random.default_rng(seed)
    row_size = int(np.prod(data.shape[1:], dtype=np.int64))
    # Only the index matrix is held per chunk when looping, the gathered rows too when vectorised.
    chunk = max(1, _CHUNK_ELEMENTS // (n * (row_size if vectorized else 1)))
    out = np.empty(n_resamples, dtype=np.float64)
    for start in range(0, n_resamples, chunk):
        stop = min(start + chunk, n_resamples)
        indices = rng.integers(0, n, size=(stop - start, n))
        if vectorized:
            out[start:stop] = np.asarray(statistic(data[indices], axis=1), dtype=np.float64).reshape(-1)
        else:
            out[start:stop] = [float(statistic(data[row])) for row in indices]
    return out


def bootstrap_ci(
    values: Sequence[Any] | np.ndarray,
    statistic: Statistic = np.mean,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    vectorized: bool | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap interval ``(lo, hi)`` of ``statistic`` over the examples in ``values``.

    ``values`` is a 1-D array of per-example scores, or a 2-D array of per-example rows (for example
    (tp, fp, fn) counts with ``statistic=micro_f1_statistic``).

    >>> from shoptune.evaluation.metrics import micro_f1_statistic
    >>> rows = [(1, 0, 0), (0, 1, 1), (2, 0, 1), (1, 1, 0)]
    >>> lo, hi = bootstrap_ci(rows, micro_f1_statistic, n_resamples=300, seed=1)
    >>> bool(0.0 <= lo <= hi <= 1.0)
    True
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be between 0 and 1")
    distribution = bootstrap_distribution(values, statistic, n_resamples, seed, vectorized)
    tail = (1.0 - confidence) / 2.0 * 100.0
    lo, hi = np.percentile(distribution, [tail, 100.0 - tail])
    return float(lo), float(hi)
