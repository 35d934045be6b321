"""Baselines beside every relevance score: the majority label's accuracy / macro-F1, the model's own most frequent
label (its share and the scores of always giving it) and the constant-predictor flag at 90%, in metrics.json,
metrics.md and the report."""

from __future__ import annotations

import json
import re
from html import unescape

import numpy as np
import pytest

from shoptune.evaluation.runner import CONSTANT_SHARE
from shoptune.records import LABELS
from shoptune.relevance.data import Pair
from shoptune.relevance.predictor import Prediction
from shoptune.relevance.scoring import evaluate_pairs, label_baselines, pair_metrics

E, P, N = LABELS  # exact, partial, irrelevant (N: no match)


def test_numbers_on_a_hand_made_example():
    # gold: 3 exact, 1 partial, 6 irrelevant; the model answers irrelevant 7 times, exact 3 times.
    gold = [E, E, E, P, N, N, N, N, N, N]
    pred = [E, E, N, N, N, N, N, N, N, E]
    b = label_baselines(pred, gold)
    # Always "irrelevant": accuracy 6/10; F1(irrelevant) = 2*6 / (2*6 + 4) = 0.75, F1(exact) = F1(partial) = 0
    # (both occur as gold), so macro-F1 = 0.75 / 3.
    assert b["majority"] == {"answer": N, "accuracy": pytest.approx(0.6), "macro_f1": pytest.approx(0.25)}
    assert b["model_mode"] == {
        "answer": N,
        "share": pytest.approx(0.7),
        "accuracy": pytest.approx(0.6),
        "macro_f1": pytest.approx(0.25),
    }
    assert b["constant"] is False
    # A model whose mode is not the majority: always "exact" scores 3/10, F1(exact) = 6/13 over 3 present labels.
    b = label_baselines([E] * 8 + [N, P], gold)
    assert b["model_mode"]["answer"] == E and b["model_mode"]["share"] == pytest.approx(0.8)
    assert b["model_mode"]["accuracy"] == pytest.approx(0.3)
    assert b["model_mode"]["macro_f1"] == pytest.approx((6 / 13) / 3)
    # pair_metrics carries them, and the majority baseline is the score of a model that answers it.
    m = pair_metrics([N] * 10, gold, n_resamples=20)
    assert m["majority"]["accuracy"] == pytest.approx(m["accuracy"])
    assert m["majority"]["macro_f1"] == pytest.approx(m["macro_f1"])


def test_the_threshold_is_the_shared_one_at_ninety_percent():
    assert CONSTANT_SHARE == 0.9
    gold = [E] * 5 + [N] * 5
    assert label_baselines([N] * 9 + [E], gold)["constant"] is True  # 90%: flagged
    assert label_baselines([N] * 8 + [E] * 2, gold)["constant"] is False


def one_hot(labels: list[str]) -> np.ndarray:
    probs = np.full((len(labels), len(LABELS)), 0.05, dtype=np.float32)
    for row, label in enumerate(labels):
        probs[row, LABELS.index(label)] = 0.9
    return probs


def test_a_constant_predictor_is_flagged_in_metrics_markdown_and_report(tmp_path):
    # Task "const": the model answers irrelevant for 19 of 20 pairs; task "fine": it varies.
    gold_const = [E] * 4 + [N] * 16
    pred_const = [N] * 19 + [E]
    gold_fine = [E, P, N, N] * 5
    pred_fine = [E, P, N, E] * 5  # always exact: 5 of 20 right; F1(exact) = 2*5 / (2*5 + 15), over 3 labels
    pairs = [Pair(id=f"c{i}", task="const", left=f"q{i}", right=f"p{i}", label=g) for i, g in enumerate(gold_const)]
    pairs += [Pair(id=f"f{i}", task="fine", left=f"q{i}", right=f"p{i}", label=g) for i, g in enumerate(gold_fine)]
    probs = one_hot(pred_const + pred_fine)
    labels = probs.argmax(axis=1)
    metrics = evaluate_pairs(
        object(), pairs, tmp_path, n_resamples=20, prediction=Prediction(probs, probs, labels, labels)
    )
    const, fine = metrics["tasks"]["const"], metrics["tasks"]["fine"]
    assert const["constant"] is True and const["constant_rule"] is True
    assert const["model_mode"] == {
        "answer": N,
        "share": pytest.approx(0.95),
        "accuracy": pytest.approx(0.8),
        "macro_f1": pytest.approx((32 / 36) / 2),  # F1(irrelevant) = 2*16 / (2*16 + 4), F1(exact) = 0
    }
    assert const["majority"]["answer"] == N and const["majority"]["accuracy"] == pytest.approx(0.8)
    assert fine["constant"] is False and fine["model_mode"]["answer"] == E and fine["model_mode"]["share"] == 0.5
    assert fine["majority"] == {"answer": N, "accuracy": 0.5, "macro_f1": pytest.approx((2 / 3) / 3)}
    assert json.loads((tmp_path / "metrics.json").read_text())["tasks"]["const"]["constant"] is True

    md = (tmp_path / "metrics.md").read_text(encoding="utf-8")
    assert "⚠ One label for 90% or more of the pairs" in md and "const (argmax, rule)" in md
    row = next(line for line in md.splitlines() if line.startswith("| const |"))
    assert "| irrelevant: 0.800 / 0.444 | irrelevant 95%: 0.800 / 0.444 ⚠ | irrelevant 95%: 0.800 / 0.444 ⚠ |" in row
    row = next(line for line in md.splitlines() if line.startswith("| fine |"))
    assert "| irrelevant: 0.500 / 0.222 | exact 50%: 0.250 / 0.133 | exact 50%: 0.250 / 0.133 |" in row
    assert "⚠" not in row

    from shoptune.reports import build_report

    html = build_report(tmp_path, tmp_path / "report.html").read_text(encoding="utf-8")
    text = re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<svg.*?</svg>", " ", html, flags=re.S))))
    assert "majority acc / F1" in text and "model's mode (argmax)" in text and "model's mode (rule)" in text
    assert "0.800 / 0.444 (irrelevant) irrelevant 95%: 0.800 / 0.444 ⚠ one label" in text
    assert "0.500 / 0.222 (irrelevant) exact 50%: 0.250 / 0.133 exact 50%" in text
    assert "a constant predictor, whose score says nothing of the task: const (argmax, rule)" in text
