"""Every routing x family trains on a tiny separable set; mhp layers are private; artifacts round-trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from shoptune.relevance.config import ModelSpec
from shoptune.relevance.data import Pair
from shoptune.relevance.model import (
    ModelInfo,
    build_model,
    collate,
    encode_pairs,
    find_layers,
    fit_longest_first,
    load_model,
)
from shoptune.relevance.predictor import ModelPredictor
from shoptune.relevance.recipe import train

ROUTINGS = ["none", "prefix", "multihead", "mhp"]
pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")


@pytest.mark.parametrize("family", ["cross_encoder", "decoder"])
@pytest.mark.parametrize("routing", ROUTINGS)
def test_each_routing_and_family_learns(
    family, routing, tiny_encoder, tiny_decoder, tiny_data, make_config, tmp_path
) -> None:
    model = tiny_encoder if family == "cross_encoder" else tiny_decoder
    cfg = make_config(tiny_data, model, family, routing, epochs=8)
    artifact = train(cfg, tmp_path / "run", quiet=True)
    losses = [json.loads(line)["loss"] for line in (tmp_path / "run" / "train_log.jsonl").open()]
    first, last = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").open()][:: len(losses) - 1]
    assert last["loss"] < first["loss"] - 0.03, losses
    metrics = json.loads((tmp_path / "run" / "eval" / "test" / "metrics.json").read_text())
    assert set(metrics["tasks"]) == {"alpha", "shade"}
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert (run["family"], run["routing"]) == (family, routing)
    assert json.loads((artifact / "relevance.json").read_text())["routing"] == routing


def _spec(model: Path, family: str, routing: str) -> ModelSpec:
    return ModelSpec(family=family, name=str(model), routing=routing, private_layers=1, max_length=32, head_dropout=0.0)


@pytest.mark.parametrize("family", ["cross_encoder", "decoder"])
def test_mhp_private_layers_are_per_task(family, tiny_encoder, tiny_decoder, tiny_data, make_config, tmp_path) -> None:
    model_dir = tiny_encoder if family == "cross_encoder" else tiny_decoder
    cfg = make_config(tiny_data, model_dir, family, "mhp", epochs=2)
    artifact = train(cfg, tmp_path / "run", quiet=True)
    model, _ = load_model(artifact)
    assert len(model.layers) == 1  # 2 layers: 1 shared, 1 private per task
    alpha = dict(model.private["alpha"].named_parameters())
    shade = dict(model.private["shade"].named_parameters())
    assert alpha.keys() == shade.keys()
    assert all(alpha[k] is not shade[k] for k in alpha)
    assert any(not torch.equal(alpha[k], shade[k]) for k in alpha)  # trained apart
    # Routing really switches weights: the same pair scored as each task gives different outputs.
    batch = collate(encode_pairs(_, model.info, ["red mug"], ["red mug"], ["alpha"]), _.pad_token_id)
    with torch.no_grad():
        assert not torch.allclose(model.pooled(batch, "alpha"), model.pooled(batch, "shade"))
    assert len(model.layers) == 1  # the private layers were detached again after the forward pass


def test_decoder_mhp_keeps_lora_off_private_layers(tiny_decoder) -> None:
    model, _ = build_model(_spec(tiny_decoder, "decoder", "mhp"), ["alpha", "shade"])
    names = [n for n, _ in model.named_parameters()]
    assert any("lora_A" in n for n in names if n.startswith("backbone."))
    assert not any("lora" in n for n in names if n.startswith("private."))
    groups = model.param_groups()
    assert groups["private"] and groups["heads"] and all(p.requires_grad for p in groups["private"])
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen and all(n.startswith("backbone.") and "lora" not in n for n in frozen)


def test_decoder_takes_the_sft_lora_options(tiny_decoder) -> None:
    """One LoRA config for both recipes: rank-stabilised scaling reaches peft; enabled: false trains every weight."""
    spec = _spec(tiny_decoder, "decoder", "prefix")
    spec.lora = spec.lora.model_copy(update={"r": 4, "alpha": 8.0, "use_rslora": True})
    model, _ = build_model(spec, ["alpha"])
    scaling = {m.scaling["default"] for m in model.backbone.modules() if isinstance(getattr(m, "scaling", None), dict)}
    assert scaling == {8.0 / 4**0.5}  # alpha / sqrt(r), not alpha / r
    spec.lora = spec.lora.model_copy(update={"enabled": False})
    model, _ = build_model(spec, ["alpha"])
    assert all(p.requires_grad for p in model.parameters()) and not any(
        "lora" in n for n, _ in model.named_parameters()
    )


@pytest.mark.parametrize("family", ["cross_encoder", "decoder"])
def test_saved_artifact_predicts_like_the_trained_model(family, tiny_encoder, tiny_decoder, tmp_path) -> None:
    from shoptune.relevance.model import save_model

    model_dir = tiny_encoder if family == "cross_encoder" else tiny_decoder
    model, tok = build_model(_spec(model_dir, family, "mhp"), ["alpha", "shade"], seed=3)
    with torch.no_grad():  # make LoRA non-trivial so merging is exercised
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    model.eval()
    save_model(model, tok, tmp_path / "art")
    loaded, tok2 = load_model(tmp_path / "art")
    batch = [Pair(str(i), t, f"red mug {i}", "blue mug", None) for i, t in enumerate(["alpha", "shade"] * 3)]
    a = ModelPredictor(model, tok, bf16=False).predict_proba(batch)
    b = ModelPredictor(loaded, tok2, bf16=False).predict_proba(batch)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_encoding_keeps_prefix_and_template() -> None:
    from shoptune.testing import make_tiny_causal_tokenizer, make_tiny_encoder_tokenizer

    enc = make_tiny_encoder_tokenizer()
    info = ModelInfo("cross_encoder", "prefix", ["alpha"], "x", max_length=12, task_prefix=True)
    ids = encode_pairs(enc, info, ["red " * 30], ["mug " * 30], ["alpha"])[0]["input_ids"]
    assert len(ids) == 12 and enc.decode(ids[1:7]).replace(" ", "").startswith("alpha:")
    dec = make_tiny_causal_tokenizer()
    info = ModelInfo("decoder", "prefix", ["alpha"], "x", max_length=40, task_prefix=True)
    text = dec.decode(encode_pairs(dec, info, ["red " * 50], ["mug " * 50], ["alpha"])[0]["input_ids"])
    assert text.startswith("alpha\nLeft: red") and "\nRight: mug" in text and text.endswith("\nRelevance:")
    assert fit_longest_first(100, 4, 20) == (16, 4)


def test_find_layers_on_both_families(tiny_encoder, tiny_decoder) -> None:
    from transformers import AutoModel

    for path in (tiny_encoder, tiny_decoder):
        assert len(find_layers(AutoModel.from_pretrained(str(path)))) == 2


@pytest.mark.parametrize("routing", ROUTINGS)
def test_a_mixed_task_batch_scores_each_row_as_its_own_task_would(routing, tiny_encoder) -> None:
    """The cross-encoder runs one trunk pass over rows of several tasks (what a server's mixed micro-batch
    needs); every row must score as it does in a one-task forward pass, padding included (issue 24)."""
    model, tok = build_model(_spec(tiny_encoder, "cross_encoder", routing), ["alpha", "shade"], seed=5)
    model.eval()
    tasks = ["alpha", "shade", "shade", "alpha", "shade"]
    lefts = ["red mug", "a much longer blue sofa with cushions", "cup", "green lamp shade", "bag"]
    feats = encode_pairs(tok, model.info, lefts, ["mug"] * 5, tasks)
    batch = collate(feats, tok.pad_token_id)
    with torch.no_grad():
        mixed = model.mixed_logits(batch, tasks)
        for i, task in enumerate(tasks):
            alone = model(collate([feats[i]], tok.pad_token_id), task)[0]
            torch.testing.assert_close(mixed[i], alone, atol=1e-5, rtol=1e-5)
    assert len(model.private) == (2 if routing == "mhp" else 0)
