"""Decision rules for rare grades: a per-task temperature and per-label logit biases fitted on held-out pairs.

Argmax over exact / partial / irrelevant, trained on skewed data, almost never predicts the rare grade: its
logit has to beat the majority's, and the training prior pushes it down. A decision rule moves the threshold
instead of the model: the label is ``argmax_c(log p_c / T + b_c)``, with the temperature ``T`` (calibration,
:mod:`.calibration`; it never changes the argmax) and the biases ``b`` fitted per task on the dev split.

The biases are fitted by coordinate ascent: with the first label's bias fixed at 0 (only differences matter),
each other label's bias is set in turn to the value of a grid that maximises the task's metric (macro-F1 by
default) with the other biases fixed, until a full round changes nothing. The grid is the data's own: the 101
quantiles of the bias each pair would need to switch to that label (so it suits logits of any scale). Ties go
to the bias closest to 0, so a task on which argmax is already best keeps zero biases (argmax). Starting from
zero biases, the fitted rule is never worse than argmax on the pairs it was fitted on; on new pairs it can be,
which is why a task needs ``min_pairs`` labelled dev pairs to get a rule at all.

The rules live in the model artifact (``relevance.json``, key ``decision``), so every loader (``relevance eval``,
``relevance predict``, an ensemble voting with its members' rules, a server calling
:func:`shoptune.relevance.predictor.load_predictor`) applies them; a model without one is served by argmax.

Example:
    >>> rng = np.random.default_rng(0)
    >>> gold = rng.choice(3, size=600, p=[0.8, 0.15, 0.05])
    >>> logits = np.log([0.8, 0.15, 0.05]) + 1.5 * np.eye(3)[gold] + rng.normal(0, 0.5, (600, 3))
    >>> int((logits.argmax(-1) == 2).sum())  # argmax never says the rare grade
    0
    >>> bias = fit_bias(logits, gold)
    >>> int(((logits + bias).argmax(-1) == 2).sum()) > 0
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from shoptune import validate
from shoptune.errors import ArgumentTypeError, DataError, ShoptuneError, python_api
from shoptune.evaluation.metrics import label_accuracy_statistic, label_macro_f1_statistic
from shoptune.records import LABELS
from shoptune.relevance.calibration import (
    apply_temperature,
    expected_calibration_error,
    fit_temperature,
    log_probs,
)
from shoptune.validate import is_number

#: The metrics a rule can maximise (and evaluation reports), as vectorised statistics of (gold, predicted) codes.
METRICS: dict[str, Callable[..., np.ndarray]] = {
    "macro_f1": label_macro_f1_statistic,
    "accuracy": label_accuracy_statistic,
}
Rule = Literal["bias", "argmax"]
#: Bias values tried per label and round: quantiles of the bias each pair needs to switch to the label.
GRID_POINTS = 101
MAX_ROUNDS = 10
DECISION_VERSION = 1


# ============================================================================================ fitting
def fit_bias(
    logits: np.ndarray,
    gold: np.ndarray,
    metric: str = "macro_f1",
    *,
    points: int = GRID_POINTS,
    rounds: int = MAX_ROUNDS,
) -> np.ndarray:
    """Per-label biases maximising ``metric`` of ``argmax(logits + bias)`` (coordinate ascent, see the module).

    The grid of one label's bias is scale-free: the quantiles (``points`` of them) of the bias each pair would
    need for that label to win, just past each, plus 0 and the current value. It therefore fits overconfident
    logits (wide gaps) and underconfident ones (narrow gaps) alike.
    """
    statistic = METRICS[metric]
    logits = np.asarray(logits, dtype=np.float64)
    gold = np.asarray(gold, dtype=np.int64)
    n_labels = logits.shape[-1]

    def scores(candidates: np.ndarray) -> np.ndarray:  # (m, labels) -> (m,)
        predicted = (logits[None, :, :] + candidates[:, None, :]).argmax(axis=-1)
        codes = np.stack([np.broadcast_to(gold, predicted.shape), predicted], axis=-1)
        return np.asarray(statistic(codes, axis=1), dtype=np.float64)

    bias = np.zeros(n_labels)
    best = float(scores(bias[None])[0])
    for _ in range(rounds):
        improved = False
        for label in range(1, n_labels):
            others = np.delete(logits + bias, label, axis=1).max(axis=1)
            needed = others - logits[:, label]  # the bias at which each pair would switch to ``label``
            grid = np.quantile(needed, np.linspace(0.0, 1.0, points)) + 1e-6
            grid = np.unique(np.round(np.concatenate([grid, [0.0, bias[label], needed.min() - 1.0]]), 6))
            candidates = np.repeat(bias[None], len(grid), axis=0)
            candidates[:, label] = grid
            values = scores(candidates)
            top = values.max()
            if top > best + 1e-12:
                # Among the best values, the bias closest to zero (the least departure from argmax).
                choice = int(np.argmin(np.where(values >= top - 1e-12, np.abs(grid), np.inf)))
                bias, best, improved = candidates[choice], float(values[choice]), True
        if not improved:
            break
    return bias


@dataclass
class TaskRule:
    """One task's decision: its temperature and label biases (zeros = argmax), and what the fit saw."""

    rule: Rule = "argmax"
    temperature: float = 1.0
    bias: dict[str, float] = field(default_factory=lambda: dict.fromkeys(LABELS, 0.0))
    #: Labelled pairs it was fitted on, and the scores there (argmax vs rule, ECE before/after temperature).
    n: int = 0
    fit: dict[str, Any] = field(default_factory=dict)

    def bias_vector(self) -> np.ndarray:
        return np.array([self.bias.get(label, 0.0) for label in LABELS], dtype=np.float64)

    def apply(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities after the temperature, label indices under the rule) of raw probability rows."""
        probs = apply_temperature(raw, self.temperature)
        if self.rule == "argmax" or not self.bias_vector().any():
            return probs, np.asarray(probs).argmax(axis=-1)
        return probs, (log_probs(probs) + self.bias_vector()).argmax(axis=-1)


def label_indices(labels: Sequence[str]) -> np.ndarray:
    index = {label: i for i, label in enumerate(LABELS)}
    return np.array([index[label] for label in labels], dtype=np.int64)


def fit_task_rule(
    raw: np.ndarray,
    gold: np.ndarray,
    *,
    rule: Rule = "bias",
    metric: str = "macro_f1",
    temperature: bool = True,
) -> TaskRule:
    """Fit one task's temperature (optional) and then its biases on the temperature-scaled logits."""
    gold = np.asarray(gold, dtype=np.int64)
    t = round(fit_temperature(raw, gold), 6) if temperature else 1.0  # as stored, so the fit report reproduces
    probs = apply_temperature(raw, t)
    bias = fit_bias(log_probs(probs), gold, metric) if rule == "bias" else np.zeros(len(LABELS))
    task_rule = TaskRule(
        rule=rule,
        temperature=t,
        bias={label: float(b) for label, b in zip(LABELS, bias, strict=True)},
        n=len(gold),
    )
    _, decided = task_rule.apply(raw)
    argmax = np.asarray(raw).argmax(axis=-1)
    statistic = METRICS[metric]
    task_rule.fit = {
        "metric": metric,
        metric: float(statistic(np.stack([gold, argmax], axis=-1), axis=0)),
        f"{metric}_rule": float(statistic(np.stack([gold, decided], axis=-1), axis=0)),
        "ece": expected_calibration_error(raw, gold),
        "ece_temperature": expected_calibration_error(probs, gold),
        "predicted_counts": label_counts(argmax),
        "predicted_counts_rule": label_counts(decided),
        "gold_counts": label_counts(gold),
    }
    return task_rule


def label_counts(indices: np.ndarray) -> dict[str, int]:
    counts = np.bincount(np.asarray(indices, dtype=np.int64), minlength=len(LABELS))
    return {label: int(c) for label, c in zip(LABELS, counts, strict=True)}


# ============================================================================================ the rules
@dataclass
class DecisionRules:
    """The fitted rules of a model's tasks (tasks without one are served by argmax)."""

    tasks: dict[str, TaskRule] = field(default_factory=dict)
    metric: str = "macro_f1"
    #: What the rules were fitted on (a split of a data build, or an input file), for the record.
    fitted_on: str = ""

    def apply(self, raw: np.ndarray, tasks: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(served probabilities, label indices) of raw probability rows of the given tasks."""
        raw = np.asarray(raw)
        probs = raw.copy()
        labels = raw.argmax(axis=-1) if raw.size else np.zeros(0, dtype=np.int64)
        names = np.asarray(tasks, dtype=object)
        for task, rule in self.tasks.items():
            rows = np.flatnonzero(names == task)
            if rows.size:
                probs[rows], labels[rows] = rule.apply(raw[rows])
        return probs, labels

    def to_json(self) -> dict[str, Any]:
        return {
            "version": DECISION_VERSION,
            "metric": self.metric,
            "fitted_on": self.fitted_on,
            "tasks": {
                task: {"rule": r.rule, "temperature": r.temperature, "bias": r.bias, "n": r.n, "fit": r.fit}
                for task, r in self.tasks.items()
            },
        }

    @classmethod
    def from_json(cls, data: Any, file: str | Path = "relevance.json") -> DecisionRules:
        """Parse the ``decision`` block of an artifact; anything malformed is one DataError naming the file."""

        def bad(key: str, message: str) -> DataError:
            return DataError(file, 0, f"decision{key}", message)

        if not isinstance(data, dict) or not isinstance(data.get("tasks"), dict):
            raise bad(".tasks", "expected an object with a 'tasks' object of task name -> rule")
        rules: dict[str, TaskRule] = {}
        for task, entry in data["tasks"].items():
            key = f".tasks.{task}"
            if not isinstance(entry, dict):
                raise bad(key, f"expected an object, got {entry!r:.60}")
            rule = entry.get("rule", "bias")
            if rule not in ("bias", "argmax"):
                raise bad(f"{key}.rule", f"expected 'bias' or 'argmax', got {rule!r:.60}")
            t = entry.get("temperature", 1.0)
            if not is_number(t, finite=True) or t <= 0:
                raise bad(f"{key}.temperature", f"expected a positive number, got {t!r:.60}")
            bias = entry.get("bias", {})
            numbers = isinstance(bias, dict) and all(is_number(v, finite=True) for v in bias.values())
            if not numbers or set(bias) - set(LABELS):
                raise bad(f"{key}.bias", f"expected an object of {'/'.join(LABELS)} -> number, got {bias!r:.60}")
            fit = entry.get("fit", {})
            rules[task] = TaskRule(
                rule=rule,
                temperature=float(t),
                bias={label: float(bias.get(label, 0.0)) for label in LABELS},
                n=int(entry.get("n", 0)) if is_number(entry.get("n", 0), finite=True) else 0,
                fit=fit if isinstance(fit, dict) else {},
            )
        return cls(rules, str(data.get("metric", "macro_f1")), str(data.get("fitted_on", "")))


def fit_rules(
    raw: np.ndarray,
    tasks: Sequence[str],
    gold: Sequence[str],
    *,
    rule: Rule = "bias",
    metric: str = "macro_f1",
    temperature: bool = True,
    min_pairs: int = 50,
    fitted_on: str = "",
) -> DecisionRules:
    """A rule per task of labelled pairs (raw probabilities in pair order); tasks under ``min_pairs`` get none."""
    if metric not in METRICS:
        raise ShoptuneError(f"unknown decision metric {metric!r} (expected one of: {', '.join(METRICS)})")
    names = np.asarray(tasks, dtype=object)
    gold_idx = label_indices(gold)
    rules: dict[str, TaskRule] = {}
    for task in sorted(set(tasks)):
        rows = np.flatnonzero(names == task)
        if len(rows) < min_pairs:
            continue  # too few pairs to fit on without overfitting: argmax
        rules[task] = fit_task_rule(raw[rows], gold_idx[rows], rule=rule, metric=metric, temperature=temperature)
    return DecisionRules(rules, metric, fitted_on)


# ============================================================================================ artifacts
def write_decision(artifact: str | Path, rules: DecisionRules | None) -> None:
    """Store ``rules`` in a model artifact's ``relevance.json`` (atomically; None removes them: argmax)."""
    from shoptune.io import atomic_write_json
    from shoptune.relevance.model import ARTIFACT_FILE
    from shoptune.relevance.predictor import read_artifact_checked

    meta = read_artifact_checked(artifact)
    if meta["kind"] != "model":
        raise ShoptuneError(f"{artifact}: a {meta['kind']} artifact; decision rules are stored in single models")
    meta["decision"] = rules.to_json() if rules is not None else None
    atomic_write_json(Path(artifact) / ARTIFACT_FILE, meta)


@python_api
def fit_decision(
    artifact: str | Path,
    pairs: Sequence[Any],
    *,
    rule: Rule = "bias",
    metric: str = "macro_f1",
    temperature: bool = True,
    min_pairs: int = 50,
    fitted_on: str = "",
    max_tokens: int = 2048,
    bf16: bool | Literal["auto"] = "auto",
    progress: Callable[[int], None] | None = None,
) -> tuple[dict[str, DecisionRules], np.ndarray]:
    """Fit decision rules onto an existing artifact from labelled ``pairs`` (its dev split, say) and store them.

    A single model stores its rules in its ``relevance.json``; a per-task collection (the single-task baselines)
    stores each task's rule in that task's member. Ensembles vote with their members' rules: fit the members.
    Returns the rules per artifact folder written, and the pairs' raw probabilities (before any temperature;
    pair order), so a caller can reuse the scores. Any existing rule is replaced; with ``rule="argmax"`` and
    ``temperature=False`` the stored rule becomes plain argmax.

    Example:
        >>> from shoptune.relevance.data import load_split
        >>> dev = load_split("runs/rel/data", "hd_query_product", "dev")  # doctest: +SKIP
        >>> rules, _ = fit_decision("runs/rel/model", dev)  # doctest: +SKIP
    """
    from shoptune.relevance.predictor import load_predictor, member_path, read_artifact_checked

    artifact = validate.path_arg(artifact, "artifact")
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence):
        raise ArgumentTypeError("pairs", f"must be a list of labelled pairs, not {type(pairs).__name__}", pairs)
    rule = validate.choice(rule, "rule", validate.DecisionRuleChoice)  # type: ignore[assignment]
    temperature = validate.flag(temperature, "temperature")
    min_pairs = validate.positive_int(min_pairs, "min_pairs")
    meta = read_artifact_checked(artifact)
    if meta["kind"] == "ensemble":
        raise ShoptuneError(
            f"{artifact}: an ensemble votes with its members' rules; fit each member (relevance calibrate --model M)"
        )
    if meta["kind"] == "exported":
        raise ShoptuneError(
            f"{artifact}: an export serves the rules of the model it was exported from; fit them there "
            f"({meta.get('source', 'the model folder')}), then export again"
        )
    if metric not in METRICS:
        raise ShoptuneError(f"unknown decision metric {metric!r} (expected one of: {', '.join(METRICS)})")
    if not pairs:
        raise ShoptuneError("no pairs to fit a decision rule on")
    if any(p.label is None for p in pairs):
        raise ShoptuneError("fitting a decision rule needs a gold label on every pair")
    known = set(meta["tasks"]) if meta["kind"] == "model" else set(meta["members"])
    unknown = sorted({p.task for p in pairs} - known)
    if unknown:
        raise ShoptuneError(
            f"the model does not know task(s) {', '.join(unknown)} (it knows: {', '.join(sorted(known))})"
        )
    targets = (
        {artifact: list(pairs)}
        if meta["kind"] == "model"
        else {
            member_path(artifact, meta["members"][task]): [p for p in pairs if p.task == task]
            for task in sorted({p.task for p in pairs})
        }
    )
    written: dict[str, DecisionRules] = {}
    raw = np.zeros((len(pairs), len(LABELS)), dtype=np.float32)
    order = {id(p): i for i, p in enumerate(pairs)}
    for folder, members in targets.items():
        predictor = load_predictor(folder, max_tokens=max_tokens, bf16=bf16)
        member_raw = predictor.predict(members, progress).raw
        raw[[order[id(p)] for p in members]] = member_raw
        rules = fit_rules(
            member_raw,
            [p.task for p in members],
            [p.label for p in members],
            rule=rule,
            metric=metric,
            temperature=temperature,
            min_pairs=min_pairs,
            fitted_on=fitted_on,
        )
        write_decision(folder, rules)
        written[str(folder)] = rules
    return written, raw
