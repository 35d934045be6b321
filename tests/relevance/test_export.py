"""`relevance export`: a cross-encoder as OpenVINO / ONNX Runtime graphs (one trunk, one tail per task) that
predict, eval and the ensemble load directly, matching torch; int8 calibrates on dev pairs only; a damaged or
hostile export folder is one line naming the key (issue 23, part 3)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from shoptune.cli.relevance import relevance_app
from shoptune.errors import DataError, ShoptuneError
from shoptune.relevance.api import export
from shoptune.relevance.data import Pair, load_split
from shoptune.relevance.ensemble import build_ensemble
from shoptune.relevance.predictor import load_predictor

pytest.importorskip("openvino")
pytest.importorskip("onnxruntime")

PAIRS = [
    Pair(str(i), task, f"{noun} lamp", f"{colour} {noun}")
    for i, (task, colour, noun) in enumerate(
        [("alpha", "red", "mug"), ("shade", "blue", "sofa"), ("alpha", "green", "cup"), ("shade", "red", "bag")] * 3
    )
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_encoder, tiny_data, make_config) -> dict[str, Path]:
    """One tiny trained cross-encoder per routing the export must handle."""
    from shoptune.relevance.recipe import train

    root = tmp_path_factory.mktemp("export-runs")
    out = {}
    for seed, routing in enumerate(("mhp", "multihead", "prefix")):
        cfg = make_config(tiny_data, tiny_encoder, "cross_encoder", routing, epochs=1, seed=seed)
        cfg.eval.splits = []
        out[routing] = train(cfg, root / routing, quiet=True)
    return out


@pytest.mark.parametrize(
    ("runtime", "routing"),
    [("openvino", "mhp"), ("openvino", "multihead"), ("openvino", "prefix"), ("onnx", "mhp"), ("onnx", "multihead")],
)
def test_an_export_predicts_what_torch_predicts(runs, tiny_data, tmp_path, runtime, routing) -> None:
    out = tmp_path / "exported"
    report = export(runs[routing], out, format=runtime, data=tiny_data, check_pairs=9)
    assert report["agreement"] == 1.0 and report["pairs"] == 18
    assert set(report["tasks"]) == {"alpha", "shade"}
    assert json.loads((out / "export_check.json").read_text())["agreement"] == 1.0
    meta = json.loads((out / "relevance.json").read_text())
    assert meta["kind"] == "exported" and meta["runtime"] == runtime and meta["routing"] == routing
    assert len(meta["graphs"]["tails"]) == 2  # one trunk, one small tail per task: never one encoder per task
    torch_probs = load_predictor(runs[routing], bf16=False).predict_proba(PAIRS)
    exported = load_predictor(out, bf16=False)
    np.testing.assert_allclose(exported.predict_proba(PAIRS), torch_probs, atol=1e-4)
    # Padding never changes a score: one pair alone equals the same pair in a padded batch.
    np.testing.assert_allclose(exported.predict_proba(PAIRS[:1]), torch_probs[:1], atol=1e-4)


def test_openvino_int8_calibrates_on_dev_pairs_only(runs, tiny_data, tmp_path, monkeypatch) -> None:
    from shoptune.relevance import export as export_module

    seen: dict[str, object] = {}
    original = export_module.export_model

    def spy(*args, **kwargs):
        seen["calibration"] = list(kwargs["calibration"])
        return original(*args, **kwargs)

    monkeypatch.setattr(export_module, "export_model", spy)  # the API imports it at call time
    report = export(runs["mhp"], tmp_path / "int8", format="openvino", int8=True, data=tiny_data, check_pairs=9)
    dev = {(p.task, p.left, p.right) for t in ("alpha", "shade") for p in load_split(tiny_data, t, "dev")}
    calibration = seen["calibration"]
    assert calibration and set(calibration) <= dev
    assert report["int8"] and report["calibration_pairs"] == len(calibration)
    probs = load_predictor(tmp_path / "int8", bf16=False).predict_proba(PAIRS)
    assert probs.shape == (len(PAIRS), 3) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_the_cli_exports_and_predict_eval_and_ensemble_load_it(runs, tiny_data, tmp_path) -> None:
    app = typer.Typer()
    app.add_typer(relevance_app, name="relevance")

    def run(*args: object) -> str:
        result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    out = tmp_path / "ov"
    said = run("relevance", "export", "--model", runs["multihead"], "--out", out, "--data", tiny_data,
               "--check-pairs", "5")  # fmt: skip
    assert "label agreement 1.0000" in said
    src = tmp_path / "pairs.jsonl"
    src.write_text("".join(json.dumps({"left": p.left, "right": p.right, "task": p.task}) + "\n" for p in PAIRS))
    for model, name in ((out, "e.jsonl"), (runs["multihead"], "t.jsonl")):
        run("relevance", "predict", "--model", model, "--input", src, "--out", tmp_path / name)
    exported = [json.loads(line)["prediction"] for line in (tmp_path / "e.jsonl").open()]
    assert exported == [json.loads(line)["prediction"] for line in (tmp_path / "t.jsonl").open()]
    run("relevance", "eval", "--model", out, "--data", tiny_data, "--split", "test", "--out", tmp_path / "ev")
    assert (tmp_path / "ev" / "metrics.json").is_file()
    ens = build_ensemble([out, runs["mhp"]], tmp_path / "ens", copy=True)
    assert load_predictor(ens, bf16=False).predict_proba(PAIRS).shape == (len(PAIRS), 3)


def test_bad_exports_and_bad_requests_are_one_line(runs, tiny_data, tiny_decoder, make_config, tmp_path) -> None:
    from shoptune.relevance.decision import fit_decision

    out = tmp_path / "ov"
    export(runs["mhp"], out, format="openvino", data=tiny_data, check_pairs=2)
    with pytest.raises(ShoptuneError, match="an export serves the rules of the model"):
        fit_decision(out, load_split(tiny_data, "alpha", "dev"))
    with pytest.raises(ValueError, match="format"):
        export(runs["mhp"], tmp_path / "x", format="tflite")
    meta_file = out / "relevance.json"
    meta = json.loads(meta_file.read_text())
    for key, value in (("trunk", "../../etc/passwd.xml"), ("trunk", "trunk.py")):
        meta["graphs"][key] = value
        meta_file.write_text(json.dumps(meta))
        with pytest.raises(DataError, match="graphs.trunk") as err:
            load_predictor(out)
        assert "\n" not in str(err.value)
    meta["graphs"]["trunk"] = "trunk.xml"
    meta["graphs"]["tails"].pop("shade")
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(DataError, match="graphs.tails"):
        load_predictor(out)
    # A decoder (SmolLM2-style) relevance model is refused before anything is written.
    from shoptune.relevance.recipe import train

    cfg = make_config(tiny_data, tiny_decoder, "decoder", "multihead", epochs=1)
    cfg.eval.splits = []
    decoder = train(cfg, tmp_path / "dec", quiet=True)
    with pytest.raises(ShoptuneError, match="only cross-encoders export"):
        export(decoder, tmp_path / "dec-ov", data=tiny_data)
    assert not (tmp_path / "dec-ov").exists()
