"""The bundled MiniLM and SmolLM2 checkpoints through the relevance stack (slow: marked real_model)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from shoptune.relevance.config import ModelSpec
from shoptune.relevance.data import Pair
from shoptune.relevance.model import build_model, export_sequence_classifier
from shoptune.relevance.predictor import ModelPredictor

pytestmark = [pytest.mark.real_model, pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")]

PAIRS = [
    ("angle bracket", "Simpson Strong-Tie 12-Gauge Angle"),
    ("deck paint", "BEHR DeckOver 1-gal."),
    ("microwave over stove", "Whirlpool Over the Range Microwave"),
    ("ceiling fan", "Delta shower trim kit"),
]


def test_minilm_mhp_export_agrees_with_sentence_transformers(tmp_path) -> None:
    from sentence_transformers import CrossEncoder

    model, tok = build_model(ModelSpec(name="minilm-l6", routing="mhp", private_layers=1), ["a", "b"], seed=0)
    with torch.no_grad():  # different private layers per task, so the export must pick the right ones
        for p in model.private["b"].parameters():
            p.add_(torch.randn_like(p) * 0.02)
    model.eval()
    pairs = [Pair(str(i), "b", left, right) for i, (left, right) in enumerate(PAIRS)]
    ours = ModelPredictor(model, tok, bf16=False).predict_proba(pairs)
    ce = CrossEncoder(str(export_sequence_classifier(model, tok, "b", tmp_path / "b")), max_length=128)
    theirs = torch.softmax(torch.as_tensor(ce.predict(PAIRS)), dim=-1).numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_smollm2_decoder_mhp_trains_a_step() -> None:
    model, tok = build_model(ModelSpec(family="decoder", routing="mhp", private_layers=2), ["a", "b"], seed=0)
    assert len(model.layers) == model.backbone.config.num_hidden_layers - 2
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable < 0.7 * sum(p.numel() for p in model.parameters())  # LoRA keeps the shared body frozen
    from shoptune.relevance.model import collate, encode_pairs

    batch = collate(
        encode_pairs(tok, model.info, [p[0] for p in PAIRS], [p[1] for p in PAIRS], ["a"] * 4), tok.pad_token_id
    )
    loss = torch.nn.functional.cross_entropy(model(batch, "a"), torch.tensor([0, 1, 0, 2]))
    loss.backward()
    assert all(p.grad is not None for p in model.private["a"].parameters())
    assert all(p.grad is None for p in model.private["b"].parameters())
