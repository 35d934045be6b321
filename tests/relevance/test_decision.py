"""Decision rules for rare grades, ECE and temperature scaling, on synthetic scores with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shoptune.errors import DataError
from shoptune.evaluation.metrics import macro_f1
from shoptune.records import LABELS
from shoptune.relevance.calibration import (
    apply_temperature,
    calibration_rows,
    ece_statistic,
    expected_calibration_error,
    fit_temperature,
    softmax,
)
from shoptune.relevance.config import RelevanceConfig
from shoptune.relevance.data import Pair
from shoptune.relevance.decision import DecisionRules, TaskRule, fit_bias, fit_rules
from shoptune.relevance.predictor import EnsemblePredictor, Prediction

PRIOR = np.array([0.75, 0.20, 0.05])  # exact, partial, irrelevant: irrelevant is the rare grade


def skewed(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A model trained on skewed grades: logits = log prior + a weak signal for the true grade + noise."""
    rng = np.random.default_rng(seed)
    gold = rng.choice(3, size=n, p=PRIOR)
    logits = np.log(PRIOR) + 1.0 * np.eye(3)[gold] + rng.normal(0.0, 0.3, (n, 3))
    return softmax(logits).astype(np.float32), gold


def names(indices: np.ndarray) -> list[str]:
    return [LABELS[i] for i in indices]


# ------------------------------------------------------------------------------------------------ decision rule
def test_fitted_rule_predicts_the_rare_grade_that_argmax_never_does() -> None:
    dev_probs, dev_gold = skewed(1500, seed=1)
    test_probs, test_gold = skewed(1500, seed=2)
    rare = LABELS.index("irrelevant")
    assert (dev_gold == rare).sum() > 50 and (test_gold == rare).sum() > 50
    assert (dev_probs.argmax(-1) == rare).sum() == 0 and (test_probs.argmax(-1) == rare).sum() == 0

    rules = fit_rules(dev_probs, ["t"] * len(dev_gold), names(dev_gold), temperature=False, min_pairs=50)
    rule = rules.tasks["t"]
    assert rule.rule == "bias" and rule.bias["exact"] == 0.0 and rule.bias["irrelevant"] > 0.5
    assert rule.fit["predicted_counts"]["irrelevant"] == 0 and rule.fit["predicted_counts_rule"]["irrelevant"] > 0
    assert rule.fit["macro_f1_rule"] > rule.fit["macro_f1"]

    # Held out: the rule now predicts the rare grade, and macro-F1 rises clearly.
    probs, labels = rules.apply(test_probs, ["t"] * len(test_gold))
    np.testing.assert_array_equal(probs, test_probs)  # no temperature: probabilities untouched
    assert (labels == rare).sum() > 20
    argmax_f1 = macro_f1(names(test_probs.argmax(-1)), names(test_gold))
    rule_f1 = macro_f1(names(labels), names(test_gold))
    assert rule_f1 > argmax_f1 + 0.1, (argmax_f1, rule_f1)
    # The rare grade's own F1 goes from 0 to something real.
    from shoptune.evaluation.metrics import per_label_f1

    assert per_label_f1(names(test_probs.argmax(-1)), names(test_gold), LABELS)["irrelevant"] == 0.0
    assert per_label_f1(names(labels), names(test_gold), LABELS)["irrelevant"] > 0.3


def test_rule_stays_argmax_where_argmax_is_already_best() -> None:
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 3, 300)
    logits = 6.0 * np.eye(3)[gold] + rng.normal(0, 0.3, (300, 3))  # separable: argmax is perfect
    assert fit_bias(logits, gold).tolist() == [0.0, 0.0, 0.0]


def test_rule_maximises_the_configured_metric_and_skips_small_tasks() -> None:
    probs, gold = skewed(400, seed=3)
    tasks = ["big"] * 400 + ["small"] * 20
    small_probs, small_gold = skewed(20, seed=4)
    all_probs = np.concatenate([probs, small_probs])
    rules = fit_rules(all_probs, tasks, names(np.concatenate([gold, small_gold])), metric="accuracy", min_pairs=50)
    assert set(rules.tasks) == {"big"}  # "small" keeps argmax
    fit = rules.tasks["big"].fit
    assert fit["metric"] == "accuracy" and fit["accuracy_rule"] >= fit["accuracy"]
    _, labels = rules.apply(all_probs, tasks)
    np.testing.assert_array_equal(labels[400:], small_probs.argmax(-1))


def test_decision_rules_round_trip_through_json(tmp_path) -> None:
    probs, gold = skewed(300, seed=5)
    rules = fit_rules(probs, ["t"] * 300, names(gold), fitted_on="dev")
    again = DecisionRules.from_json(json.loads(json.dumps(rules.to_json())))
    assert again.tasks["t"].bias == rules.tasks["t"].bias and again.fitted_on == "dev"
    a, b = rules.apply(probs, ["t"] * 300), again.apply(probs, ["t"] * 300)
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_allclose(a[0], b[0], rtol=1e-5)
    with pytest.raises(DataError, match=r"decision\.tasks\.t\.rule': expected 'bias' or 'argmax'"):
        DecisionRules.from_json({"tasks": {"t": {"rule": "threshold"}}}, tmp_path / "relevance.json")


def test_ensemble_votes_with_each_members_rule() -> None:
    class Member:
        def __init__(self, probs: list[list[float]], labels: list[int]) -> None:
            self.tasks = ["a"]
            self.p = np.array(probs, dtype=np.float32)
            self.labels = np.array(labels)

        def predict_proba(self, pairs, progress=None):
            return self.p

        def predict(self, pairs, progress=None):
            return Prediction(self.p, self.p, self.p.argmax(-1), self.labels)

    pairs = [Pair("0", "a", "x", "y"), Pair("1", "a", "x", "z")]
    probs = [[0.6, 0.3, 0.1], [0.5, 0.3, 0.2]]
    # Two of three members' rules say irrelevant on the first pair, where every argmax says exact.
    members = [Member(probs, [2, 0]), Member(probs, [2, 0]), Member(probs, [0, 1])]
    prediction = EnsemblePredictor(members).predict(pairs)
    assert prediction.argmax.tolist() == [0, 0] and prediction.labels.tolist() == [2, 0]


# ------------------------------------------------------------------------------------------------ calibration
def test_ece_matches_a_hand_computed_value() -> None:
    probs = np.array([[0.95, 0.03, 0.02], [0.9, 0.05, 0.05], [0.5, 0.3, 0.2], [0.4, 0.35, 0.25]])
    gold = np.array([0, 1, 0, 1])
    # Bins of width 1/15: {0.95} and {0.9} fall in bins 14 and 13, {0.5} in bin 7, {0.4} in bin 5.
    # |0.95 - 1| + |0.9 - 0| + |0.5 - 1| + |0.4 - 0|, each weighted 1/4.
    assert expected_calibration_error(probs, gold) == pytest.approx((0.05 + 0.9 + 0.5 + 0.4) / 4)
    # Two pairs in one bin average before the absolute value: (0.9 + 0.95)/2 vs accuracy 1/2.
    same_bin = np.array([[0.93, 0.05, 0.02], [0.92, 0.05, 0.03]])
    assert expected_calibration_error(same_bin, np.array([0, 1])) == pytest.approx(abs(0.925 - 0.5))


def test_ece_statistic_is_vectorised_over_resamples() -> None:
    probs, gold = skewed(200, seed=6)
    rows = calibration_rows(probs, gold)
    idx = np.random.default_rng(0).integers(0, 200, (5, 200))
    batched = ece_statistic(rows[idx], axis=1)
    looped = [expected_calibration_error(probs[i], gold[i]) for i in idx]
    np.testing.assert_allclose(batched, looped)


def test_temperature_softens_an_overconfident_model_and_ece_drops() -> None:
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 3, 3000)
    x = rng.normal(size=(3000, 3)) + 1.2 * np.eye(3)[gold]  # unit Gaussians around 1.2 * one-hot(gold) ...
    logits = 1.2 * x  # ... whose true posterior is softmax(1.2 x): a calibrated model
    overconfident = softmax(3.0 * logits)
    t = fit_temperature(overconfident, gold)
    assert 2.5 < t < 3.5
    calibrated = apply_temperature(overconfident, t)
    before, after = expected_calibration_error(overconfident, gold), expected_calibration_error(calibrated, gold)
    assert before > 0.1 and after < before / 3, (before, after)
    np.testing.assert_array_equal(calibrated.argmax(-1), overconfident.argmax(-1))  # argmax unchanged
    assert fit_temperature(softmax(logits / 2.0), gold) < 1.0  # underconfident: sharpened
    assert fit_temperature(softmax(logits), gold) == pytest.approx(1.0, abs=0.1)


def test_rule_applies_temperature_before_the_bias() -> None:
    rule = TaskRule(rule="bias", temperature=2.0, bias={"exact": 0.0, "partial": 0.0, "irrelevant": 0.6})
    raw = np.array([[0.7, 0.1, 0.2]])
    probs, labels = rule.apply(raw)
    # log p / 2: exact -0.178, irrelevant -0.805 + 0.6 = -0.205 -> exact; on the raw logits it would flip.
    assert labels.tolist() == [0] and (np.log(raw) + [0, 0, 0.6]).argmax() == 0
    scaled = np.log(raw) / 2.0
    np.testing.assert_allclose(probs, softmax(scaled), rtol=1e-6)
    assert TaskRule(rule="bias", temperature=1.0, bias=rule.bias).apply(np.array([[0.5, 0.1, 0.4]]))[1].tolist() == [2]


# ------------------------------------------------------------------------------------------------ config
def test_decision_config_keys_are_checked() -> None:
    from pydantic import ValidationError

    from shoptune.relevance.recipe import _config_key

    cfg = RelevanceConfig.model_validate({"data": {"path": "x"}})
    assert (cfg.decision.rule, cfg.decision.metric, cfg.decision.temperature, cfg.decision.min_pairs) == (
        "bias",
        "macro_f1",
        True,
        50,
    )
    assert "decision" not in _config_key(cfg)  # changing the rule never blocks --resume
    for bad in ({"rule": "threshold"}, {"metric": "f2"}, {"min_pairs": 0}, {"bins": 10}):
        with pytest.raises(ValidationError):
            RelevanceConfig.model_validate({"data": {"path": "x"}, "decision": bad})
