"""Metrics against values computed by hand (the computation is in the comment beside each check)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shoptune.evaluation import metrics as M
from shoptune.evaluation.metrics import (
    METRICS,
    MetricDependencyError,
    accuracy,
    bleu,
    confusion_matrix,
    ecom_macro_f1,
    ecom_micro_f1,
    get_metric,
    group_scores,
    hit_at_3,
    hit_at_k,
    jp_bleu,
    label_set_counts,
    macro_f1,
    make_sent_transformer_metric,
    mean_score,
    micro_f1_from_counts,
    ndcg,
    ner_counts,
    overall_score,
    per_label_f1,
    rouge_l,
    sent_transformer_similarity,
)
from shoptune.evaluation.parsing import UNPARSED, Parsed

ESCI = [1.0, 0.1, 0.01, 0.0]  # gains of items 1..4: E, S, C, I

# ---------------------------------------------------------------------------------------------------------
# Multiple choice, retrieval, ranking.


def test_accuracy() -> None:
    assert accuracy(2, 2) == 1.0
    assert accuracy(1, 2) == 0.0
    assert accuracy(2, "2") == 1.0  # int-like targets compare as ints
    assert accuracy("exact", "exact") == 1.0
    assert accuracy(None, 0) == 0.0  # unparsed is never right


def test_hit_at_3() -> None:
    # truth {1, 5}; top 3 = {1, 2, 3}: one of two found -> 1/2
    assert hit_at_3([1, 2, 3], [1, 5]) == 0.5
    # truth {4}; 4 is 4th: outside the top 3 -> 0
    assert hit_at_3([1, 2, 3, 4], [4]) == 0.0
    # truth {7, 8, 9} all in the top 3 -> 3/3
    assert hit_at_3([9, 7, 8], [7, 8, 9]) == 1.0
    # duplicates count once: {2} ∩ truth {2, 3} -> 1/2
    assert hit_at_3([2, 2, 2], [2, 3]) == 0.5
    assert hit_at_k([5, 1], [1], k=1) == 0.0
    with pytest.raises(ValueError):
        hit_at_3([1], [])


def test_ndcg_by_hand() -> None:
    # gains 2^g - 1: item1 = 1, item2 = 2^0.1 - 1 = 0.0717735, item3 = 2^0.01 - 1 = 0.0069556, item4 = 0
    # prediction [2, 1, 3, 4]: DCG = 0.0717735/log2(2) + 1/log2(3) + 0.0069556/log2(4) + 0
    #                              = 0.0717735 + 0.6309298 + 0.0034778 = 0.7061810
    # ideal [1, 2, 3, 4]:     IDCG = 1 + 0.0717735/log2(3) + 0.0034778 = 1.0487618
    # NDCG = 0.7061810 / 1.0487618 = 0.6733474
    assert ndcg([2, 1, 3, 4], ESCI) == pytest.approx(0.6733474, abs=1e-7)
    assert ndcg([1, 2, 3, 4], ESCI) == pytest.approx(1.0)


def test_ndcg_trims_to_truth_length_and_handles_bad_items() -> None:
    # Two gains [0, 1]: the extra predicted items are ignored. DCG = 0 + 1/log2(3); IDCG = 1 -> 0.6309298
    assert ndcg([1, 2, 3, 4, 5], [0.0, 1.0]) == pytest.approx(1 / math.log2(3))
    # Item 9 does not exist: gain 0. [9, 1] on [1, 0]: DCG = 0 + 1/log2(3)
    assert ndcg([9, 1], [1.0, 0.0]) == pytest.approx(1 / math.log2(3))
    # Item 0 does not exist either (the official code would read gains[-1]).
    assert ndcg([0, 2], [0.0, 1.0]) == pytest.approx(1 / math.log2(3))
    # Only the first item predicted: DCG = 1 = IDCG's first term; IDCG = 1 + (2^0.1-1)/log2(3) -> ratio
    assert ndcg([1], [1.0, 0.1]) == pytest.approx(1 / (1 + (2**0.1 - 1) / math.log2(3)))
    # All gains 0: IDCG = 0 -> 0 (no crash)
    assert ndcg([1, 2], [0.0, 0.0]) == 0.0
    assert ndcg([], ESCI) == 0.0


# ---------------------------------------------------------------------------------------------------------
# NER micro-F1, pooled.


def test_ner_counts_and_pooled_micro_f1() -> None:
    # Lower-cased and stripped: "Apple " and "apple" both match gold "apple" -> TP 1; 3 predicted -> FP 2;
    # 2 gold -> FN 1
    assert ner_counts(["Apple ", "apple", "USB-C"], ["apple", "Lightning"]) == (1, 2, 1)
    rows = [(1, 2, 1), (2, 0, 0), (0, 1, 2)]
    # pooled TP 3, FP 3, FN 3: P = 3/6, R = 3/6 -> F1 = 0.5
    assert micro_f1_from_counts(rows) == pytest.approx(0.5)
    # Nothing predicted at all: P = 0/0 -> 0, F1 0 (the official code divides by zero)
    assert micro_f1_from_counts([(0, 0, 3)]) == 0.0


def test_micro_f1_metric_pools_and_counts_unparsed() -> None:
    metric = get_metric("micro f1")
    rows = [
        metric.score_parsed(Parsed(["Apple", "USB-C"], True), ["apple", "usb-c", "cable"]),  # (2, 0, 1)
        metric.score_parsed(UNPARSED, ["hdmi"]),  # official reads "" as [""]: (0, 1, 1)
    ]
    assert rows == [(2, 0, 1), (0, 1, 1)]
    # TP 2, FP 1, FN 2: P = 2/3, R = 2/4 -> F1 = 2 * (2/3 * 1/2) / (2/3 + 1/2) = 4/7
    assert metric.aggregate(rows) == pytest.approx(4 / 7)
    # Pooled, not averaged: the mean of per-example F1s (0.8 and 0) would be 0.4.
    assert metric.aggregate(rows) != pytest.approx(0.4)


# ---------------------------------------------------------------------------------------------------------
# Generation.


def test_rouge_l() -> None:
    # LCS("wireless mouse", "a wireless mouse") = 2: P = 2/2, R = 2/3 -> F = 2 * (2/3) / (5/3) = 0.8
    assert rouge_l("wireless mouse", "a wireless mouse") == pytest.approx(0.8)
    # Porter stemming: "running shoes" and "run shoe" both become "run shoe" -> 1.0
    assert rouge_l("running shoes", "run shoe") == pytest.approx(1.0)
    assert rouge_l("running shoes", "run shoe", use_stemmer=False) == 0.0
    # Several references: the best one (1.0 from the second)
    assert rouge_l("red mug", ["blue plate", "red mug"]) == pytest.approx(1.0)


def test_bleu_by_hand() -> None:
    # hyp "the cat sat on the mat", ref "the cat sat on a mat", 6 tokens each so BP = 1.
    # clipped matches: 1-grams 5/6, 2-grams 3/5, 3-grams 2/4, 4-grams 1/3
    # BLEU = (5/6 * 3/5 * 1/2 * 1/3)^(1/4) = (1/12)^(1/4) = 0.5372850
    assert bleu("the cat sat on the mat", "the cat sat on a mat") == pytest.approx(0.5372850, abs=1e-6)


def test_bleu_first_line_and_lowercase() -> None:
    # Only the first line counts, lower-cased: identical -> 1.0
    assert bleu("\nThe Red Mouse Pad\nsecond line", "the red mouse pad") == pytest.approx(1.0)


def test_bleu_short_hypothesis_matches_official() -> None:
    # Official: evaluate's sacrebleu = corpus BLEU without effective order, so a 2-token hypothesis has no
    # 3- or 4-grams and scores 0. sentence_bleu's effective order gives exp(1 - 3/2) = 0.6065307 (BP only).
    assert bleu("red mouse", "red mouse pad") == 0.0
    assert bleu("red mouse", "red mouse pad", effective_order=True) == pytest.approx(math.exp(-0.5))


def test_jp_bleu_by_hand() -> None:
    # MeCab (IPA): hyp 今日/は/良い/天気/です (5 tokens), ref adds ね (6). All n-grams match, so BLEU is the
    # brevity penalty exp(1 - 6/5) = exp(-0.2) = 0.8187308
    assert jp_bleu("今日は良い天気です", "今日は良い天気ですね") == pytest.approx(math.exp(-0.2))


def test_jp_bleu_without_mecab_raises_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from sacrebleu.tokenizers import tokenizer_ja_mecab

    monkeypatch.setattr(tokenizer_ja_mecab, "MeCab", None)
    M._bleu.cache_clear()
    try:
        with pytest.raises(MetricDependencyError, match="mecab-python3 and ipadic"):
            jp_bleu("今日", "今日")
    finally:
        M._bleu.cache_clear()


def _fake_embed(texts: list[str]) -> np.ndarray:
    # Fixed 2-d vectors: "up" = (0, 1), "right" = (1, 0), "diag" = (1, 1), "down" = (0, -1), "zero" = (0, 0)
    table = {"up": (0.0, 1.0), "right": (1.0, 0.0), "diag": (1.0, 1.0), "down": (0.0, -1.0), "zero": (0.0, 0.0)}
    return np.array([table[t] for t in texts])


def test_sent_transformer_with_fake_embeddings() -> None:
    # cos(up, diag) = 1 / sqrt(2) = 0.7071068
    assert sent_transformer_similarity("up", "diag", embed=_fake_embed) == pytest.approx(1 / math.sqrt(2))
    # averaged over references: (cos(up, up) + cos(up, right)) / 2 = (1 + 0) / 2
    assert sent_transformer_similarity("up", ["up", "right"], embed=_fake_embed) == pytest.approx(0.5)
    # clipped at 0: the mean (-1 + 0) / 2 is negative -> 0
    assert sent_transformer_similarity("up", ["down", "right"], embed=_fake_embed) == 0.0
    # a zero vector has no direction: 0, not NaN
    assert sent_transformer_similarity("zero", "up", embed=_fake_embed) == 0.0
    metric = make_sent_transformer_metric(_fake_embed)
    assert metric.aggregate([metric.score("up", "diag"), metric.score_parsed(UNPARSED, "up")]) == pytest.approx(
        (1 / math.sqrt(2) + 0) / 2
    )


@pytest.mark.real_model
def test_sent_transformer_with_real_minilm() -> None:
    assert M.minilm_model_dir().is_dir()
    same = sent_transformer_similarity("wireless gaming mouse", "wireless gaming mouse")
    related = sent_transformer_similarity("wireless gaming mouse", "a cordless mouse for gaming")
    unrelated = sent_transformer_similarity("wireless gaming mouse", "stainless steel kitchen knife set")
    assert same == pytest.approx(1.0, abs=1e-5)
    assert 0.0 <= unrelated < related < same
    assert M.default_embed(["a", "b"]).shape == (2, 384)


# ---------------------------------------------------------------------------------------------------------
# Classification and pair tasks.

PREDS = ["exact", "exact", "partial", None, "irrelevant", "exact"]
GOLDS = ["exact", "partial", "partial", "irrelevant", "irrelevant", "exact"]


def test_per_label_and_macro_f1_by_hand() -> None:
    # exact: TP 2 (rows 0, 5), FP 1 (row 1), FN 0 -> F1 = 4 / (4 + 1) = 0.8
    # partial: TP 1 (row 2), FP 0, FN 1 (row 1) -> 2 / (2 + 1) = 0.6666667
    # irrelevant: TP 1 (row 4), FP 0, FN 1 (row 3, unparsed) -> 2/3
    per_label = per_label_f1(PREDS, GOLDS)
    assert per_label == pytest.approx({"exact": 0.8, "irrelevant": 2 / 3, "partial": 2 / 3})
    # macro = (0.8 + 2/3 + 2/3) / 3 = 0.7111111
    assert macro_f1(PREDS, GOLDS) == pytest.approx((0.8 + 4 / 3) / 3)
    # a label that is neither a target nor predicted is skipped in the macro mean, reported as 0
    assert macro_f1(["a", "a"], ["a", "a"], labels=["a", "b"]) == 1.0
    assert per_label_f1(["a"], ["a"], labels=["a", "b"]) == {"a": 1.0, "b": 0.0}


def test_classification_metrics_from_the_registry() -> None:
    acc, mac = get_metric("accuracy"), get_metric("macro_f1")
    acc_rows = [acc.score_parsed(Parsed(p, p is not None), g) for p, g in zip(PREDS, GOLDS, strict=True)]
    mac_rows = [mac.score_parsed(Parsed(p, p is not None), g) for p, g in zip(PREDS, GOLDS, strict=True)]
    # correct rows 0, 2, 4, 5 -> 4/6
    assert acc.aggregate(acc_rows) == pytest.approx(4 / 6)
    assert mac.aggregate(mac_rows) == pytest.approx(macro_f1(PREDS, GOLDS))


def test_confusion_matrix() -> None:
    labels = ["exact", "partial", "irrelevant"]
    matrix = confusion_matrix(PREDS, GOLDS, labels)
    # rows = gold, columns = prediction, last column = unparsed / outside the labels
    expected = np.array(
        [
            [2, 0, 0, 0],  # gold exact: rows 0, 5
            [1, 1, 0, 0],  # gold partial: row 1 -> exact, row 2 -> partial
            [0, 0, 1, 1],  # gold irrelevant: row 4 -> irrelevant, row 3 unparsed
        ]
    )
    np.testing.assert_array_equal(matrix, expected)
    np.testing.assert_array_equal(confusion_matrix(PREDS, GOLDS, labels, other_column=False), expected[:, :3])
    with pytest.raises(ValueError, match="outside the label list"):
        confusion_matrix(["exact"], ["mystery"], labels)


# ---------------------------------------------------------------------------------------------------------
# EcomInstruct (EcomGPT SetScore).


def test_label_set_counts_are_set_level() -> None:
    # {Price, Size} vs {Price, Quality}: TP 1 (Price), FP 1 (Size), FN 1 (Quality); the repeat collapses
    assert label_set_counts(["Price", "Price", "Size"], "Price, Quality") == (1, 1, 1)
    assert label_set_counts(["price"], ["Price"]) == (0, 1, 1)  # EcomGPT compares exactly


def test_ecom_micro_and_macro_f1_by_hand() -> None:
    rows = [
        label_set_counts(["a"], "a"),  # (1, 0, 0): p = 1, r = 1
        label_set_counts(["a", "b"], "a, c, d"),  # (1, 1, 2): p = 1/2, r = 1/3
        label_set_counts([""], "e"),  # (0, 1, 1): p = 0, r = 0
    ]
    assert rows == [(1, 0, 0), (1, 1, 2), (0, 1, 1)]
    # micro: TP 2, predicted 4, true 5 -> P = 1/2, R = 2/5 -> F1 = 2 * 0.2 / 0.9 = 0.4444444
    assert ecom_micro_f1(rows) == pytest.approx(4 / 9)
    # macro: P = (1 + 1/2 + 0)/3 = 1/2, R = (1 + 1/3 + 0)/3 = 4/9 -> F1 = 2 * (2/9) / (17/18) = 8/17
    assert ecom_macro_f1(rows) == pytest.approx(8 / 17)
    assert get_metric("ecom_cls_f1").aggregate(rows) == pytest.approx(4 / 9)
    assert get_metric("ecom_macro_f1").aggregate(rows) == pytest.approx(8 / 17)


def test_ecom_unparsed_counts_like_ecomgpt() -> None:
    # EcomGPT turns an empty answer into the one predicted label "error": TP 0, FP 1, FN = |gold|
    assert get_metric("ecom_micro_f1").score_parsed(UNPARSED, "a, b") == (0, 1, 2)


def test_ecom_rouge_l() -> None:
    metric = get_metric("ecom_rouge_l")
    # '.' removed, then rouge-score without stemming: "price quality" vs "price quality" -> 1.0
    assert metric.score(["Price", "Quality."], "Price, Quality") == pytest.approx(1.0)
    # no stemming: "prices" != "price"; LCS 1 of 2 tokens each -> 0.5
    assert metric.score("prices quality", "price, quality") == pytest.approx(0.5)
    # Chinese by character: "无线鼠标" vs "无线游戏鼠标": LCS 4 (无线鼠标); P = 4/4, R = 4/6 -> F = 0.8
    assert metric.score("无线鼠标", "无线游戏鼠标") == pytest.approx(0.8)
    # ... where plain rouge-score drops CJK text entirely, as the ShopBench rouge_l officially does
    assert rouge_l("无线鼠标", "无线游戏鼠标") == 0.0
    with pytest.raises(ValueError, match="does not stem"):
        rouge_l("a", "a", cjk_chars=True)


# ---------------------------------------------------------------------------------------------------------
# Aggregation and the registry.


def test_aggregation() -> None:
    assert mean_score([1.0, 0.0, 0.5]) == pytest.approx(0.5)
    tasks = {"mc1": 0.9, "mc2": 0.7, "gen1": 0.3}
    groups = group_scores(tasks, {"mc1": "reasoning", "mc2": "reasoning", "gen1": "multilingual"})
    # reasoning = (0.9 + 0.7) / 2 = 0.8; multilingual = 0.3; overall = (0.8 + 0.3) / 2 = 0.55
    assert groups == pytest.approx({"reasoning": 0.8, "multilingual": 0.3})
    assert overall_score(groups) == pytest.approx(0.55)
    with pytest.raises(ValueError, match="without a group"):
        group_scores({"x": 1.0}, {})
    with pytest.raises(ValueError):
        mean_score([])


REQUIRED_NAMES = [
    "accuracy",
    "hit@3",
    "ndcg",
    "micro_f1",
    "rouge_l",
    "bleu",
    "jp_bleu",
    "sent_transformer",
    "macro_f1",
    "ecom_cls_f1",
    "ecom_micro_f1",
    "ecom_macro_f1",
    "ecom_rouge_l",
]
ALIASES = {
    "hit rate@3": "hit@3",
    "micro f1": "micro_f1",
    "rougel": "rouge_l",
    "jp-bleu": "jp_bleu",
    "sent-transformer": "sent_transformer",
}


def test_registry_names() -> None:
    for name in REQUIRED_NAMES:
        assert name in METRICS
    for alias, canonical in ALIASES.items():
        assert get_metric(alias) is get_metric(canonical)
    with pytest.raises(ValueError, match="unknown metric"):
        get_metric("perplexity")


@pytest.mark.parametrize(
    ("name", "prediction", "target", "perfect"),
    [
        ("accuracy", 2, 2, 1.0),
        ("hit@3", [1, 2, 3], [2], 1.0),
        ("ndcg", [1, 2, 3, 4], ESCI, 1.0),
        ("rouge_l", "usb c cable", "USB C cable", 1.0),
        ("bleu", "a long usb c cable", "a long usb c cable", 1.0),
        ("ecom_rouge_l", "Price", "Price", 1.0),
    ],
)
def test_mean_metrics_score_perfect_and_unparsed(name: str, prediction: object, target: object, perfect: float) -> None:
    metric = get_metric(name)
    rows = [metric.score_parsed(Parsed(prediction, True), target), metric.score_parsed(UNPARSED, target)]
    assert rows[0] == pytest.approx(perfect)
    assert rows[1] == 0.0
    assert metric.aggregate(rows) == pytest.approx(perfect / 2)


def test_aggregate_needs_rows() -> None:
    with pytest.raises(ValueError, match="no examples"):
        get_metric("accuracy").aggregate([])
