"""Ensemble voting and artifacts; the comparisons' significance tests against hand-computed values."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from shoptune.errors import ShoptuneError
from shoptune.relevance import comparisons as cmp
from shoptune.relevance.data import Pair
from shoptune.relevance.ensemble import build_ensemble, vote
from shoptune.relevance.predictor import EnsemblePredictor, combine_votes, load_predictor

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")


# ------------------------------------------------------------------------------------------------ voting
def test_majority_vote_and_tie_break_by_summed_probabilities() -> None:
    probs = np.array(
        [
            [[0.5, 0.4, 0.1], [0.6, 0.3, 0.1], [0.2, 0.5, 0.3]],
            [[0.4, 0.5, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]],
            [[0.45, 0.1, 0.45 + 1e-9], [0.7, 0.2, 0.1], [0.1, 0.1, 0.8]],
        ]
    )  # (members, pairs, labels)
    # pair 0: votes exact, partial, irrelevant -> three-way tie; summed: exact 1.35, partial 1.0, irrelevant 0.65
    # pair 1: exact twice -> exact, although partial has the largest single probability (0.8)
    # pair 2: partial, irrelevant, irrelevant -> irrelevant
    assert vote(probs).tolist() == [0, 0, 2]
    two = np.array([[[0.6, 0.4, 0.0]], [[0.0, 0.7, 0.3]]])  # one vote each: exact .6 vs partial 1.1
    assert vote(two).tolist() == [1]
    rows = combine_votes(probs)
    assert rows.argmax(axis=-1).tolist() == [0, 0, 2] and np.allclose(rows.sum(axis=-1), 1)


class Fixed:
    """A predictor that returns fixed probabilities."""

    def __init__(self, probs: list[list[float]], tasks: list[str]) -> None:
        self.probs, self.tasks = np.array(probs, dtype=np.float32), tasks

    def predict_proba(self, pairs, progress=None):
        return self.probs[: len(pairs)]


def test_ensemble_predictor_votes_over_members() -> None:
    pairs = [Pair(str(i), "a", "x", "y") for i in range(2)]
    members = [
        Fixed([[0.9, 0.05, 0.05], [0.2, 0.7, 0.1]], ["a", "b"]),
        Fixed([[0.1, 0.8, 0.1], [0.3, 0.6, 0.1]], ["a"]),
        Fixed([[0.6, 0.3, 0.1], [0.5, 0.1, 0.4]], ["a", "c"]),
    ]
    ens = EnsemblePredictor(members)
    assert ens.tasks == ["a"]
    assert ens.predict_proba(pairs).argmax(axis=-1).tolist() == [0, 1]
    with pytest.raises(ShoptuneError, match="does not know"):
        ens.predict_proba([Pair("0", "b", "x", "y")])


def test_ensemble_artifact_loads_and_serves(tiny_encoder, tiny_decoder, tiny_data, make_config, tmp_path) -> None:
    from shoptune.relevance.recipe import train

    runs = []
    for i, (family, model, routing) in enumerate(
        [
            ("cross_encoder", tiny_encoder, "multihead"),
            ("cross_encoder", tiny_encoder, "prefix"),
            ("decoder", tiny_decoder, "mhp"),
        ]
    ):
        cfg = make_config(tiny_data, model, family, routing, epochs=1, seed=i)
        cfg.eval.splits = []
        runs.append(train(cfg, tmp_path / f"m{i}", quiet=True))
    ens = build_ensemble([tmp_path / "m0", runs[1], runs[2]], tmp_path / "ens", copy=True)
    manifest = json.loads((ens / "relevance.json").read_text())
    assert manifest["kind"] == "ensemble" and [m["name"] for m in manifest["members"]] == ["m0", "m1", "m2"]
    assert manifest["task_sources"]["alpha"]["adapter"] == "home_depot"
    predictor = load_predictor(ens, bf16=False)
    pairs = [
        Pair(str(i), t, f"mug {i}", c + " mug")
        for i, (t, c) in enumerate([("alpha", "red"), ("shade", "blue"), ("alpha", "green"), ("shade", "red")])
    ]
    member_probs = np.stack([load_predictor(r, bf16=False).predict_proba(pairs) for r in runs])
    np.testing.assert_array_equal(predictor.predict_proba(pairs).argmax(-1), vote(member_probs))
    # Self-contained: the copied members still load after the originals are gone.
    import shutil

    for i in range(3):
        shutil.rmtree(tmp_path / f"m{i}")
    assert load_predictor(ens).tasks == ["alpha", "shade"]


# ------------------------------------------------------------------------------------------------ tests
def test_mcnemar_matches_hand_computed_exact_binomial() -> None:
    a = [True] * 10 + [True] * 8 + [False] * 2 + [False] * 5
    b = [True] * 10 + [False] * 8 + [True] * 2 + [False] * 5
    result = cmp.mcnemar(a, b)
    # discordant: 8 vs 2 -> p = 2 * P(X <= 2 | n=10, 1/2) = 2 * (1 + 10 + 45) / 1024
    assert result == {"a_only": 8, "b_only": 2, "p_value": pytest.approx(112 / 1024)}
    assert cmp.mcnemar([True, False], [True, False])["p_value"] == 1.0
    assert cmp.mcnemar([True] * 6, [False] * 6)["p_value"] == pytest.approx(2 / 64)


def test_paired_bootstrap_delta_and_p_values() -> None:
    rng = random.Random(0)
    gold = [rng.choice(["exact", "partial", "irrelevant"]) for _ in range(400)]
    weak = [g if rng.random() < 0.5 else "exact" for g in gold]
    strong = [g if rng.random() < 0.9 else "partial" for g in gold]
    result = cmp.paired_bootstrap(gold, weak, strong, "accuracy")
    acc = lambda p: np.mean([x == y for x, y in zip(p, gold, strict=True)])  # noqa: E731
    assert result["delta"] == pytest.approx(acc(strong) - acc(weak))
    assert result["ci95"][0] < result["delta"] < result["ci95"][1] and result["p_value"] < 0.01
    same = cmp.paired_bootstrap(gold, weak, weak, "macro_f1")
    assert same == {"delta": 0.0, "ci95": [0.0, 0.0], "p_value": 1.0}
    tiny_gap = cmp.paired_bootstrap(gold, weak, [*weak[:-1], gold[-1]], "accuracy")
    assert tiny_gap["p_value"] > 0.2  # one flipped pair out of 400 is noise
    # Hand-computed shift test: distribution [-1, 0, 1, 2, 3] around an observed 1 -> |d - 1| >= 1 for 4 of 5.
    assert cmp.bootstrap_test(1.0, np.array([-1.0, 0.0, 1.0, 2.0, 3.0]))["p_value"] == pytest.approx(0.8)


def _run(name: str, meta: dict, gold: dict[str, list[str]], accuracy: float, seed: int) -> cmp.RunResult:
    rng = random.Random(seed)
    rows = {}
    for task, labels in gold.items():
        for i, g in enumerate(labels):
            pred = (
                g if rng.random() < accuracy else rng.choice([x for x in ("exact", "partial", "irrelevant") if x != g])
            )
            rows[f"{task}:test:{i}"] = (task, g, pred)
    return cmp.RunResult(name, meta, rows)


@pytest.fixture
def gold() -> dict[str, list[str]]:
    rng = random.Random(1)
    return {
        t: [rng.choice(["exact", "partial", "irrelevant"]) for _ in range(n)] for t, n in (("big", 300), ("small", 80))
    }


def test_comparisons_write_markdown_json_and_plot(gold, tmp_path) -> None:
    enc_prefix = _run("enc-prefix", {"family": "cross_encoder", "routing": "prefix"}, gold, 0.80, 1)
    enc_none = _run("enc-none", {"family": "cross_encoder", "routing": "none"}, gold, 0.78, 2)
    dec_prefix = _run("dec-prefix", {"family": "decoder", "routing": "prefix"}, gold, 0.75, 3)
    dec_none = _run("dec-none", {"family": "decoder", "routing": "none"}, gold, 0.55, 4)
    routing = cmp.compare_routing([enc_prefix, enc_none, dec_prefix, dec_none], tmp_path)
    assert routing["best_per_family"] == {"cross_encoder": "enc-prefix", "decoder": "dec-prefix"}
    assert "| decoder | none | dec-none |" in (tmp_path / "routing.md").read_text()

    ablation = cmp.compare_prefix_ablation([enc_prefix, enc_none, dec_prefix, dec_none], tmp_path)
    dec = ablation["families"]["decoder"]["mean_over_tasks"]["macro_f1"]
    enc = ablation["families"]["cross_encoder"]["mean_over_tasks"]["macro_f1"]
    inter = ablation["decoder_minus_encoder"]
    assert inter["delta"] == pytest.approx(dec["delta"] - enc["delta"])
    assert inter["delta"] < 0 and inter["p_value"] < 0.05  # the decoder loses far more without its prefix

    single = _run("single", {"single_task": True, "train_pairs": {"big": 3000, "small": 480}}, gold, 0.6, 5)
    multi = _run("multi", {"family": "cross_encoder"}, gold, 0.8, 6)
    result = cmp.compare_multitask(multi, single, tmp_path)
    assert result["low_resource_tasks"] == ["small"]
    assert result["tasks"]["small"]["macro_f1"]["delta"] > 0 and (tmp_path / "multitask.png").stat().st_size > 1000
    assert "small (low-resource)" in (tmp_path / "multitask.md").read_text()
    # issue 21, point 6: each task's row has the majority label's scores and both models' most frequent label
    small = result["tasks"]["small"]
    gold_small = [g for _, g, _ in (r for r in multi.rows.values() if r[0] == "small")]
    top = max(gold_small.count(label) for label in set(gold_small))
    assert gold_small.count(small["majority"]["answer"]) == top
    assert small["majority"]["accuracy"] == pytest.approx(top / len(gold_small))
    assert set(small["mode"]) == {"a", "b"} and all(0 < m["share"] <= 1 for m in small["mode"].values())
    table = (tmp_path / "multitask.md").read_text()
    assert "majority F1 / acc" in table and "one label: " in table

    ens = cmp.compare_ensemble(_run("ens", {}, gold, 0.85, 7), [enc_prefix, dec_prefix], tmp_path)
    assert ens["best_member"] == "enc-prefix" and json.loads((tmp_path / "ensemble.json").read_text())["tests"]


def test_load_run_reads_run_and_eval_folders(tmp_path) -> None:
    (tmp_path / "run" / "eval" / "test").mkdir(parents=True)
    (tmp_path / "run" / "run.json").write_text(json.dumps({"family": "decoder", "routing": "mhp", "tasks": ["t"]}))
    row = {"id": "t:test:0", "task": "t", "label": "exact", "prediction": "partial"}
    (tmp_path / "run" / "eval" / "test" / "predictions.jsonl").write_text(json.dumps(row) + "\n")
    run = cmp.load_run(tmp_path / "run")
    assert run.meta["routing"] == "mhp" and run.rows == {"t:test:0": ("t", "exact", "partial")}
    with pytest.raises(ShoptuneError, match="no predictions"):
        cmp.load_run(Path(tmp_path / "run"), split="dev")
