"""Decision rules end to end: fitted on dev by the recipe, stored in the artifact, applied by eval, predict and the
CLI's calibrate command; old artifacts stay argmax; ranking metrics on a raw Home Depot file."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from shoptune.cli.relevance import relevance_app, train_relevance
from shoptune.data.store import split_path, write_split
from shoptune.errors import ShoptuneError
from shoptune.records import LABELS, PairExample
from shoptune.relevance.calibration import log_probs

from .conftest import NOUNS

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")

COLOURS = {"red": "exact", "blue": "partial", "green": "irrelevant"}


def skewed_build(root: Path) -> Path:
    """One query-product task whose grades are skewed 72 / 20 / 8 (irrelevant is rare)."""

    def pairs(n: int, seed: int) -> list[PairExample]:
        rng = random.Random(seed)
        out = []
        for _ in range(n):
            colour = rng.choices(list(COLOURS), weights=[0.72, 0.2, 0.08])[0]
            noun, other = rng.choice(NOUNS), rng.choice(NOUNS)
            out.append(
                PairExample(
                    task="alpha",
                    left=f"{noun} {other}",
                    right=f"{colour} {noun}",
                    label=COLOURS[colour],
                    metadata={"groups": [f"q:{noun} {other}"]},
                )
            )
        return out

    for k, (split, n) in enumerate((("train", 150), ("dev", 120), ("test", 120))):
        path = split_path(root, "alpha", split)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_split(pairs(n, k), path, "pair")
    manifest = {"tasks": {"alpha": {"record_type": "pair", "kind": "pair_relevance", "adapter": "home_depot"}}}
    manifest["tasks"]["alpha"]["view"] = "query_product"
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


@pytest.fixture(scope="module")
def skewed_run(tmp_path_factory, tiny_encoder, make_config) -> Path:
    from shoptune.relevance.recipe import train

    root = tmp_path_factory.mktemp("skew")
    cfg = make_config(skewed_build(root / "data"), tiny_encoder, "cross_encoder", "multihead", epochs=8)
    cfg.eval.splits = ["dev", "test"]
    cfg.decision.min_pairs = 20
    train(cfg, root / "run", quiet=True)
    return root / "run"


def _metrics(run: Path, split: str) -> dict:
    return json.loads((run / "eval" / split / "metrics.json").read_text())


def test_recipe_fits_the_rule_on_dev_and_it_finds_the_rare_grade_on_test(skewed_run) -> None:
    meta = json.loads((skewed_run / "model" / "relevance.json").read_text())
    rule = meta["decision"]["tasks"]["alpha"]
    assert rule["rule"] == "bias" and rule["n"] == 120 and meta["decision"]["metric"] == "macro_f1"
    assert "dev split of" in meta["decision"]["fitted_on"]
    test = _metrics(skewed_run, "test")["tasks"]["alpha"]
    # Argmax never says "irrelevant" on the held-out pairs; the rule fitted on dev does, and macro-F1 rises.
    assert test["gold_counts"]["irrelevant"] > 0
    assert test["predicted_counts"]["irrelevant"] == 0 and test["predicted_counts_rule"]["irrelevant"] > 0
    assert test["macro_f1_rule"] > test["macro_f1"]
    assert test["decision_rule"] == "bias" and test["temperature"] == rule["temperature"]
    # Dev was scored once, for the fit, and its evaluation reuses those scores: the same numbers.
    dev = _metrics(skewed_run, "dev")["tasks"]["alpha"]
    assert dev["macro_f1_rule"] == pytest.approx(rule["fit"]["macro_f1_rule"])
    assert dev["ece_temperature"] == pytest.approx(rule["fit"]["ece_temperature"])
    run = json.loads((skewed_run / "run.json").read_text())
    assert run["decision_seconds"] >= 0
    # The flat keys a report renders, and the Markdown beside them.
    for key in ("macro_f1", "macro_f1_rule", "macro_f1_rule_ci95", "ece", "ece_temperature", "ndcg@10"):
        assert key in test, key
    assert {"macro_f1_rule", "ece", "ece_temperature"} <= set(_metrics(skewed_run, "test")["mean_over_tasks"])
    markdown = (skewed_run / "eval" / "test" / "metrics.md").read_text()
    assert "| alpha | 120 | bias |" in markdown and "macro-F1 rule" in markdown


def test_served_labels_are_the_rule_applied_to_the_served_probabilities(skewed_run) -> None:
    from shoptune.relevance.data import load_split
    from shoptune.relevance.predictor import load_predictor

    pairs = load_split(skewed_run.parent / "data", "alpha", "test")
    predictor = load_predictor(skewed_run / "model")  # as the recipe's evaluation loads it (bf16 "auto")
    prediction = predictor.predict(pairs)
    rule = json.loads((skewed_run / "model" / "relevance.json").read_text())["decision"]["tasks"]["alpha"]
    bias = np.array([rule["bias"][label] for label in LABELS])
    np.testing.assert_array_equal(prediction.labels, (log_probs(prediction.probs) + bias).argmax(-1))
    np.testing.assert_array_equal(prediction.argmax, prediction.raw.argmax(-1))
    np.testing.assert_allclose(predictor.predict_proba(pairs), prediction.probs)
    rows = [json.loads(line) for line in (skewed_run / "eval" / "test" / "predictions.jsonl").open()]
    assert [r["prediction"] for r in rows] == [LABELS[i] for i in prediction.labels]
    assert [r["prediction_argmax"] for r in rows] == [LABELS[i] for i in prediction.argmax]


def test_models_without_a_rule_are_served_by_argmax(skewed_run, tmp_path) -> None:
    from shoptune.relevance.data import load_split
    from shoptune.relevance.predictor import load_predictor
    from shoptune.relevance.scoring import evaluate_pairs

    old = tmp_path / "old"
    shutil.copytree(skewed_run / "model", old)
    meta = json.loads((old / "relevance.json").read_text())
    del meta["decision"]  # as written before decision rules existed
    (old / "relevance.json").write_text(json.dumps(meta))
    pairs = load_split(skewed_run.parent / "data", "alpha", "test")
    prediction = load_predictor(old, bf16=False).predict(pairs)
    np.testing.assert_array_equal(prediction.labels, prediction.argmax)
    np.testing.assert_array_equal(prediction.probs, prediction.raw)
    task = evaluate_pairs(load_predictor(old, bf16=False), pairs, tmp_path / "eval", n_resamples=20)["tasks"]["alpha"]
    assert task["decision_rule"] == "argmax" and task["macro_f1_rule"] == task["macro_f1"]
    assert task["ece_temperature"] == task["ece"]


def test_rule_argmax_without_temperature_keeps_the_old_behaviour(tiny_encoder, tiny_data, make_config, tmp_path):
    from shoptune.relevance.recipe import train

    cfg = make_config(tiny_data, tiny_encoder, "cross_encoder", "multihead", epochs=1)
    cfg.decision.rule, cfg.decision.temperature = "argmax", False
    artifact = train(cfg, tmp_path / "run", quiet=True)
    assert json.loads((artifact / "relevance.json").read_text())["decision"] is None


# ------------------------------------------------------------------------------------------------ CLI
def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command("train-relevance")(train_relevance)
    app.add_typer(relevance_app, name="relevance")
    return app


def _run(*args: object) -> str:
    result = CliRunner().invoke(_cli(), [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_calibrate_fits_a_rule_onto_an_existing_model(skewed_run, tmp_path) -> None:
    model = tmp_path / "model"
    shutil.copytree(skewed_run / "model", model)
    meta = json.loads((model / "relevance.json").read_text())
    meta["decision"] = None
    (model / "relevance.json").write_text(json.dumps(meta))
    data = skewed_run.parent / "data"
    output = _run("relevance", "calibrate", "--model", model, "--data", data, "--min-pairs", "20", "--no-temperature")
    assert "stored in" in output and "alpha" in output
    rule = json.loads((model / "relevance.json").read_text())["decision"]["tasks"]["alpha"]
    assert rule["temperature"] == 1.0 and any(rule["bias"].values()) and rule["n"] == 120
    _run("relevance", "eval", "--model", model, "--data", data, "--out", tmp_path / "ev", "--bootstrap", "20")
    task = json.loads((tmp_path / "ev" / "metrics.json").read_text())["tasks"]["alpha"]
    assert task["decision_rule"] == "bias" and task["predicted_counts_rule"]["irrelevant"] > 0
    # predict serves the rule, and keeps the argmax beside it.
    src = tmp_path / "pairs.jsonl"
    src.write_text("".join(json.dumps({"left": "mug cup", "right": f"{c} mug"}) + "\n" for c in COLOURS))
    _run("relevance", "predict", "--model", model, "--input", src, "--out", tmp_path / "p.parquet", "--task", "alpha")
    table = pq.read_table(str(tmp_path / "p.parquet")).to_pylist()
    assert len(table) == 3 and all(r["prediction"] in LABELS and r["prediction_argmax"] in LABELS for r in table)


def test_ensemble_serves_its_members_rules_and_refuses_calibration(skewed_run, tmp_path) -> None:
    from shoptune.relevance.data import Pair, load_split
    from shoptune.relevance.decision import fit_decision
    from shoptune.relevance.ensemble import build_ensemble
    from shoptune.relevance.predictor import load_predictor
    from shoptune.relevance.scoring import evaluate_pairs

    ens = build_ensemble([skewed_run, skewed_run / "model"], tmp_path / "ens", names=["a", "b"])
    pairs = load_split(skewed_run.parent / "data", "alpha", "test")
    task = evaluate_pairs(load_predictor(ens), pairs, tmp_path / "ev", n_resamples=20)["tasks"]["alpha"]
    single = _metrics(skewed_run, "test")["tasks"]["alpha"]
    # Two copies of one model: the vote is that model's rule, and its argmax beside it.
    assert task["decision_rule"] == "vote of the members' rules"
    assert task["predicted_counts_rule"] == single["predicted_counts_rule"]
    assert task["predicted_counts"] == single["predicted_counts"]
    with pytest.raises(ShoptuneError, match="votes with its members' rules"):
        CliRunner().invoke(
            _cli(),
            ["relevance", "calibrate", "--model", str(ens), "--data", str(skewed_run.parent / "data")],
            catch_exceptions=False,
        )
    with pytest.raises(ShoptuneError, match="does not know task"):
        fit_decision(skewed_run / "model", [Pair("0", "nope", "a", "b", "exact")])
    with pytest.raises(ShoptuneError, match="needs a gold label"):
        fit_decision(skewed_run / "model", [Pair("0", "alpha", "a", "b")])


def test_compare_can_read_argmax_or_rule_labels(skewed_run) -> None:
    from shoptune.relevance.comparisons import load_run

    served = load_run(skewed_run, "test")
    argmax = load_run(skewed_run, "test", decision="argmax")
    assert served.rows.keys() == argmax.rows.keys()
    assert sum(p == "irrelevant" for _, _, p in argmax.rows.values()) == 0
    assert sum(p == "irrelevant" for _, _, p in served.rows.values()) > 0


HD_CSV = (
    '"id","product_uid","product_title","search_term","relevance"\r\n'
    '"1","100001","Simpson Strong-Tie 12-Gauge Angle","angle bracket","3"\r\n'
    '"2","100002","BEHR Premium Textured DeckOver 1-gal.","angle bracket","1.33"\r\n'
    '"3","100003","Delta Vero 1-Handle Shower Faucet Trim Kit","angle bracket","2"\r\n'
    '"4","100004","Whirlpool 1.9 cu. ft. Over the Range Microwave","microwave","3"\r\n'
    '"5","100005","Hampton Bay 52 in. Ceiling Fan","microwave","1"\r\n'
    '"6","100006","Hampton Bay 52 in. Ceiling Fan with light","ceiling fan","2.67"\r\n'
)


def test_raw_home_depot_eval_reports_ndcg_and_spearman_with_the_rating(skewed_run, tmp_path) -> None:
    csv = tmp_path / "train.csv"
    csv.write_bytes(HD_CSV.encode("latin-1"))
    _run(
        "relevance",
        "eval",
        "--model",
        skewed_run,
        "--source",
        "home_depot",
        "--input",
        csv,
        "--out",
        tmp_path / "hd",
        "--bootstrap",
        "50",
    )
    task = json.loads((tmp_path / "hd" / "metrics.json").read_text())["tasks"]["alpha"]
    # Two queries with >= 2 products (and a nonzero gain); "ceiling fan" has one product and is skipped.
    assert task["ndcg_queries"] == 2 and task["ndcg_queries_skipped"] == {"single_pair": 1, "no_gain": 0}
    assert 0.0 < task["ndcg@10"] <= 1.0
    assert task["spearman_n"] == 6 and -1.0 <= task["spearman_rating"] <= 1.0
    assert "Spearman" in (tmp_path / "hd" / "metrics.md").read_text()
