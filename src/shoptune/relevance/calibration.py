"""Calibration of relevance probabilities: expected calibration error and temperature scaling.

ECE (Guo et al., 2017, "On Calibration of Modern Neural Networks"): the pairs are put in 15 equal-width bins by
their confidence (the largest probability); ECE = sum over bins of (pairs in bin / all pairs) *
|accuracy of the argmax in the bin - mean confidence in the bin|. 0 is perfectly calibrated.

Temperature scaling divides the logits by one scalar T > 0 fitted to minimise the negative log-likelihood on
held-out pairs: T > 1 softens an overconfident model, T < 1 sharpens an underconfident one. It never changes the
argmax, so accuracy and argmax macro-F1 stay as they were; only the probabilities (and so ECE, and any rule or
ranking built on them) move. The logits are recovered from probabilities as log p (softmax is invariant to the
per-row constant that drops), so any predictor that returns probabilities can be calibrated.

Example:
    >>> probs = np.array([[0.9, 0.05, 0.05], [0.6, 0.3, 0.1]])
    >>> round(expected_calibration_error(probs, np.array([0, 1])), 3)  # bins: 0.9 right, 0.6 wrong
    0.35
"""

from __future__ import annotations

import numpy as np

#: Equal-width confidence bins of the ECE (the usual choice since Guo et al., 2017).
ECE_BINS = 15
#: Floor for log-probabilities recovered from float32 probabilities (a 0 would be -inf).
_LOG_FLOOR = 1e-30
#: Temperatures searched: log T in [-3, 3], i.e. T in [0.05, 20].
_LOG_T_BOUNDS = (-3.0, 3.0)


def log_probs(probs: np.ndarray) -> np.ndarray:
    """Logits (up to a per-row constant) from probabilities, in float64."""
    return np.log(np.clip(np.asarray(probs, dtype=np.float64), _LOG_FLOOR, None))


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities of the logits divided by ``temperature`` (1.0 returns ``probs`` unchanged).

    >>> apply_temperature(np.array([[0.8, 0.1, 0.1]]), 1e9).round(3).tolist()  # a huge T flattens
    [[0.333, 0.333, 0.333]]
    """
    if temperature == 1.0:
        return np.asarray(probs)
    return softmax(log_probs(probs) / temperature).astype(np.asarray(probs).dtype, copy=False)


def calibration_rows(probs: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """Per-pair rows (confidence, argmax correct) that :func:`ece_statistic` reduces (and the bootstrap resamples)."""
    probs = np.asarray(probs, dtype=np.float64)
    gold = np.asarray(gold)
    return np.stack([probs.max(axis=-1), (probs.argmax(axis=-1) == gold).astype(np.float64)], axis=-1)


def ece_statistic(rows: np.ndarray, axis: int = 0, bins: int = ECE_BINS) -> np.ndarray:
    """ECE of (confidence, correct) rows along ``axis`` (vectorised over bootstrap resamples).

    Bins are right-closed, (k/bins, (k+1)/bins]; a confidence of exactly 0 falls in the first bin.
    """
    rows = np.moveaxis(np.asarray(rows, dtype=np.float64), axis, -2)  # (..., examples, 2)
    lead, n = rows.shape[:-2], rows.shape[-2]
    flat = rows.reshape(-1, n, 2)  # (resamples, examples, 2)
    conf, correct = flat[..., 0], flat[..., 1]
    index = np.clip(np.ceil(conf * bins).astype(np.int64) - 1, 0, bins - 1)
    index += np.arange(flat.shape[0])[:, None] * bins  # one bin range per resample
    # Per bin: |sum(conf - correct)| / n = (n_b / n) * |mean confidence - accuracy| in the bin.
    gaps = np.bincount(index.ravel(), weights=(conf - correct).ravel(), minlength=flat.shape[0] * bins)
    return (np.abs(gaps.reshape(-1, bins)).sum(axis=-1) / n).reshape(lead)


def expected_calibration_error(probs: np.ndarray, gold: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE with ``bins`` equal-width bins on the max-probability confidence; ``gold`` holds label indices."""
    if len(gold) == 0:
        raise ValueError("ECE needs at least one pair")
    return float(ece_statistic(calibration_rows(probs, gold), axis=0, bins=bins))


def nll(probs: np.ndarray, gold: np.ndarray) -> float:
    """Mean negative log-likelihood of the gold labels."""
    rows = np.arange(len(gold))
    return float(-np.mean(log_probs(probs)[rows, np.asarray(gold)]))


def fit_temperature(probs: np.ndarray, gold: np.ndarray) -> float:
    """The temperature minimising the NLL of ``gold`` under softmax(log p / T) (bounded scalar search on log T).

    >>> rng = np.random.default_rng(0)
    >>> gold = rng.integers(0, 3, 2000)
    >>> x = rng.normal(size=(2000, 3)) + np.eye(3)[gold]  # the true posterior is softmax(x)
    >>> overconfident = softmax(3.0 * x)  # the calibrated logits, scaled up three times
    >>> 2.5 < fit_temperature(overconfident, gold) < 3.5
    True
    """
    from scipy.optimize import minimize_scalar

    if len(gold) == 0:
        raise ValueError("fitting a temperature needs at least one pair")
    logits = log_probs(probs)
    rows = np.arange(len(gold))
    gold = np.asarray(gold)

    def loss(log_t: float) -> float:
        z = logits / np.exp(log_t)
        z = z - z.max(axis=-1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=-1)) - z[rows, gold]))

    result = minimize_scalar(loss, bounds=_LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-4})
    temperature = float(np.exp(result.x))
    # The bounded search may stop a hair away from T = 1 on an already calibrated model: keep 1 unless it helps.
    return temperature if loss(float(result.x)) < loss(0.0) else 1.0
