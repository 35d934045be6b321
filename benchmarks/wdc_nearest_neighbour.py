"""Benchmark: how much of the WDC Products own-test figure a model-free nearest-neighbour lookup reaches.

``tm_wdcproducts_pairs`` tests on TailorMatch's ``valid_small`` file of WDC Products 80cc20rnd**000un**: by the
benchmark's design 0% of its products are unseen, so every test product also has offers in the training file.
The offers themselves are disjoint (see the task YAML), but a lookup needs no model to exploit the shared products:

1. Product clusters of the training offers: the TailorMatch prompt files carry no cluster ids, so a cluster is a
   connected component of the training offers under the training ``Yes`` (match) pairs (union-find).
2. Each test offer is mapped to its nearest training offer by TF-IDF cosine on the offer text (the headline: word
   unigrams; word 1-2-grams and character 3-5-grams are reported beside it; scikit-learn) and takes that offer's
   cluster.
3. A test pair is predicted ``exact`` (the task's label for ``Yes``) when both its offers map to the same cluster,
   else ``irrelevant`` (the task's label for ``No``; the task has no ``partial``).

Scored with the project's own accuracy and macro-F1 (:func:`shoptune.relevance.scoring.pair_metrics`, bootstrap
95% CIs) on the test split exactly as shoptune builds it: just this task, built with ``shoptune.data.build`` under
``configs/data_relevance_all.yaml``'s settings (scale 1000, the ``train_large`` override), so the training offers
are those of the file the full relevance model trains on. The training offers are read from the built train and dev
splits (the dev split is carved out of the training file).

Also reported: how often both offers of a test match pair land in one training cluster (the share of the test's
products the lookup finds in training: approximate, since a wrong nearest neighbour can miss a product or, more
rarely, put two offers of different products in one cluster),
exact-text overlap of test and training offers, and the nearest-neighbour similarities.

Run:  .venv/bin/python benchmarks/wdc_nearest_neighbour.py [--config configs/data_relevance_all.yaml]
Writes benchmarks/results/wdc_nearest_neighbour.{json,md} (``--out STEM`` writes STEM.json and STEM.md).
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from shoptune.data.build import RowCache, build, load_build_config, read_task, select_tasks
from shoptune.io import atomic_write_json, atomic_write_text
from shoptune.relevance.data import Pair, load_split
from shoptune.relevance.scoring import label_baselines, pair_metrics

TASK = "tm_wdcproducts_pairs"
ROOT = Path(__file__).resolve().parent.parent
#: The relevance model's own-test figure on this task (benchmarks/results/relevance_full_test.md, decision rule).
MODEL_FIGURE = {"macro_f1_rule": 0.8434, "accuracy_rule": 0.8908, "macro_f1": 0.8381, "accuracy": 0.8980}
MATCH, NON_MATCH = "exact", "irrelevant"


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def clusters(pairs: list[Pair]) -> dict[str, str]:
    """Offer text -> cluster id: connected components under the match pairs (every offer has one)."""
    uf = UnionFind()
    for p in pairs:
        uf.find(p.left)
        uf.find(p.right)
        if p.label == MATCH:
            uf.union(p.left, p.right)
    return {offer: uf.find(offer) for offer in uf.parent}


#: TF-IDF representations of an offer's text; the first is the headline, the others are reported beside it.
VECTORIZERS: dict[str, dict[str, Any]] = {
    "word unigrams": {"analyzer": "word"},
    "word 1-2-grams, sublinear tf": {"analyzer": "word", "ngram_range": (1, 2), "sublinear_tf": True},
    "char_wb 3-5-grams, sublinear tf": {"analyzer": "char_wb", "ngram_range": (3, 5), "sublinear_tf": True},
}


def nearest(train: list[str], queries: list[str], **tfidf: Any) -> tuple[np.ndarray, np.ndarray]:
    """Index and cosine of each query's nearest training text (TF-IDF fitted on the training texts)."""
    vectorizer = TfidfVectorizer(lowercase=True, **tfidf)
    x_train = normalize(vectorizer.fit_transform(train))
    x_query = normalize(vectorizer.transform(queries))
    index, best = np.zeros(len(queries), dtype=np.int64), np.zeros(len(queries))
    for start in range(0, len(queries), 500):  # in blocks: a dense query x train matrix would be gigabytes
        sims = (x_query[start : start + 500] @ x_train.T).toarray()
        index[start : start + 500] = sims.argmax(axis=1)
        best[start : start + 500] = sims.max(axis=1)
    return index, best


def predict(cluster_of: dict[str, str], test: list[Pair], **tfidf: Any) -> tuple[list[str], dict[str, str], Any]:
    """Each test pair's label from its offers' nearest training clusters; also the mapping and the cosines."""
    train_offers = list(cluster_of)
    test_offers = list(dict.fromkeys(o for p in test for o in (p.left, p.right)))
    index, sim = nearest(train_offers, test_offers, **tfidf)
    mapped = {o: cluster_of[train_offers[i]] for o, i in zip(test_offers, index, strict=True)}
    return [MATCH if mapped[p.left] == mapped[p.right] else NON_MATCH for p in test], mapped, sim


def training_file_pairs(cfg: Any) -> list[Pair]:
    """Every pair of the task's training file, as the task's view makes them (before the build carves a dev split
    out of it and drops the pairs that straddle train and dev)."""
    (spec,) = select_tasks(cfg)
    raw, _ = read_task(spec, cfg, RowCache(cfg.on_error))
    return [
        Pair(id=str(i), task=TASK, left=r.left, right=r.right, label=str(getattr(r.label, "value", r.label)))
        for i, r in enumerate(raw["train"])
    ]


def build_config(config: Path) -> Any:
    cfg = load_build_config(config, tasks=[TASK])
    # The test split is predefined (valid_small): the carved dev split cannot change it. Leaks are recorded, not
    # fatal, so this baseline runs whatever the audit of the carved dev finds.
    cfg.allow_leaks = True
    return cfg


def run(config: Path) -> dict[str, Any]:
    start = time.perf_counter()
    cfg = build_config(config)
    with tempfile.TemporaryDirectory(prefix="wdc-nn-") as tmp:
        manifest = build(cfg, Path(tmp) / "build")
        split_counts = {s: len(load_split(Path(tmp) / "build", TASK, s)) for s in ("train", "dev")}
        test = load_split(Path(tmp) / "build", TASK, "test")
    training = training_file_pairs(cfg)
    built = time.perf_counter()
    cluster_of = clusters(training)
    gold = [p.label or "" for p in test]
    variants: dict[str, Any] = {}
    for name, tfidf in VECTORIZERS.items():
        predicted, mapped, sim = predict(cluster_of, test, **tfidf)
        m = pair_metrics(predicted, gold)
        variants[name] = {k: m[k] for k in ("accuracy", "accuracy_ci95", "macro_f1", "macro_f1_ci95")}
        if len(variants) == 1:
            headline, main_mapped, main_sim, main_pred = m, mapped, sim, predicted
    headline.pop("_dist")
    matches = [p for p in test if p.label == MATCH]
    same_cluster = sum(main_mapped[p.left] == main_mapped[p.right] for p in matches)
    test_offers = list(main_mapped)
    finished = time.perf_counter()
    return {
        "task": TASK,
        "config": str(config.relative_to(ROOT) if config.is_relative_to(ROOT) else config),
        "files": manifest["tasks"][TASK].get("files"),
        "split_counts": {**split_counts, "test": len(test), "training_file": len(training)},
        "train_offers": len(cluster_of),
        "train_clusters": len(set(cluster_of.values())),
        "test_offers": len(test_offers),
        "method": f"nearest training offer by TF-IDF cosine ({next(iter(VECTORIZERS))}); clusters = connected "
        "components of the training file's match pairs; exact if both offers of a test pair map to one cluster",
        "scores": {k: headline[k] for k in ("n", "accuracy", "accuracy_ci95", "macro_f1", "macro_f1_ci95")},
        "variants": variants,
        "per_label_f1": headline["per_label_f1"],
        "confusion_matrix": headline["confusion_matrix"],
        "predicted_counts": dict(Counter(main_pred)),
        "gold_counts": dict(Counter(gold)),
        "baselines": label_baselines(main_pred, gold),
        "model_reported": MODEL_FIGURE,
        "seen_in_training": {
            "design": "WDC Products 80cc20rnd000un: 0% unseen products in the test (valid_small) file",
            "test_offers_in_train_exact_text": len(set(test_offers) & set(cluster_of)),
            "test_match_pairs": len(matches),
            "test_match_pairs_both_offers_in_one_train_cluster": same_cluster,
            "share_match_pairs_in_one_train_cluster": same_cluster / max(1, len(matches)),
            "test_offers_nn_cosine_median": float(np.median(main_sim)),
            "test_offers_nn_cosine_ge_0.5": float(np.mean(main_sim >= 0.5)),
        },
        "build_audit_leaks": (manifest.get("audit") or {}).get("leaks", {}),
        "seconds": {"build_and_read": round(built - start, 1), "baseline": round(finished - built, 1)},
        "environment": {
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "machine": platform.machine(),
        },
    }


def markdown(r: dict[str, Any]) -> str:
    s, seen, model, counts = r["scores"], r["seen_in_training"], r["model_reported"], r["split_counts"]

    def ci(m: dict[str, Any], key: str) -> str:
        lo, hi = m[f"{key}_ci95"]
        return f"{m[key]:.3f} [{lo:.3f}, {hi:.3f}]"

    maj = r["baselines"]["majority"]
    lines = [
        "# WDC Products: a nearest-neighbour baseline beside the own-test figure",
        "",
        f"Task `{r['task']}`, test split as `{r['config']}` builds it: {s['n']:,} test pairs "
        f"({r['gold_counts'].get('exact', 0)} exact / {r['gold_counts'].get('irrelevant', 0)} irrelevant, "
        f"{r['test_offers']:,} offers). Training offers: the {counts['training_file']:,} pairs of the training "
        f"file (train_large; the build keeps {counts['train']:,} as train and {counts['dev']:,} as the carved dev), "
        f"{r['train_offers']:,} offers in {r['train_clusters']:,} clusters (connected components of its match pairs).",
        "",
        "No model: each test offer takes the cluster of its nearest training offer (TF-IDF cosine); a pair is "
        "`exact` when both offers take the same cluster, else `irrelevant`. **The products of this test file are "
        "seen in training** (WDC Products 80cc20rnd**000un**: 0% unseen products); only the offers differ.",
        "",
        "| predictor | accuracy [95% CI] | macro-F1 [95% CI] |",
        "|---|---|---|",
        *(
            f"| nearest training offer's cluster, TF-IDF {name} (no model) | {ci(v, 'accuracy')} | "
            f"{ci(v, 'macro_f1')} |"
            for name, v in r["variants"].items()
        ),
        f"| relevance model, decision rule (relevance_full_test.md) | {model['accuracy_rule']:.3f} | "
        f"{model['macro_f1_rule']:.3f} |",
        f"| relevance model, argmax (relevance_full_test.md) | {model['accuracy']:.3f} | {model['macro_f1']:.3f} |",
        f"| always `{maj['answer']}` (majority label) | {maj['accuracy']:.3f} | {maj['macro_f1']:.3f} |",
        "",
        "Seen in training:",
        "",
        f"- test offers whose exact text is a training offer: {seen['test_offers_in_train_exact_text']} of "
        f"{r['test_offers']:,}",
        f"- test match pairs whose two offers map to one training cluster (word unigrams): "
        f"{seen['test_match_pairs_both_offers_in_one_train_cluster']} of {seen['test_match_pairs']} "
        f"({seen['share_match_pairs_in_one_train_cluster']:.1%}; approximately the test products the lookup finds "
        "in training: a wrong nearest neighbour can miss a product, or join two)",
        f"- nearest-neighbour cosine of the test offers: median {seen['test_offers_nn_cosine_median']:.3f}, "
        f"{seen['test_offers_nn_cosine_ge_0.5']:.1%} at 0.5 or more",
        "",
        f"Runtime: build and read {r['seconds']['build_and_read']} s, baseline {r['seconds']['baseline']} s "
        f"({len(r['variants'])} representations; Python {r['environment']['python']}, scikit-learn "
        f"{r['environment']['scikit-learn']}, CPU).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "data_relevance_all.yaml")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "wdc_nearest_neighbour")
    args = parser.parse_args(argv)
    result = run(args.config.resolve())
    atomic_write_json(args.out.with_suffix(".json"), result)
    atomic_write_text(args.out.with_suffix(".md"), markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
