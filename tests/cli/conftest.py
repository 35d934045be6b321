"""Fixtures of the CLI tests: a tiny causal LM with an SFT run, a tiny relevance run, a small data build."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shoptune.data.build import BuildConfig, build


@pytest.fixture(scope="session")
def world(tmp_path_factory, demo_data) -> dict[str, Path]:
    """Small real artifacts every bad-input case can point at (built once, a few seconds)."""
    import torch

    from relevance.conftest import tiny_config, write_build
    from shoptune.relevance.recipe import train
    from shoptune.testing import build_tiny_causal_lm, build_tiny_encoder
    from shoptune.training.config import load_sft_config
    from shoptune.training.sft import run_sft

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("world")
    lm = build_tiny_causal_lm(root / "tiny-lm", seed=0)
    data = root / "data"
    build(BuildConfig(data_root=str(demo_data), tasks=["hd_relevance_mc", "hd_query_product"]), data)
    sft_cfg = {
        "model": str(lm),
        "data": {"path": str(data), "tasks": ["hd_relevance_mc"], "holdout": ["hd_query_product"], "max_length": 96},
        "mixture": {"strategy": "cap", "cap": 16},
        "lora": {"r": 2, "alpha": 4, "target_modules": ["q_proj", "v_proj"]},
        "optim": {"epochs": 1, "batch_tokens": 512, "checkpoint_every": 1, "log_every": 1, "bf16": False},
    }
    sft_yaml = root / "sft.yaml"
    sft_yaml.write_text(yaml.safe_dump(sft_cfg))
    with pytest.raises(KeyboardInterrupt):  # a killed run, with checkpoints, to resume
        run_sft(load_sft_config(sft_yaml), root / "sft-killed", log=lambda m: None, stop_after=2)
    run_sft(load_sft_config(sft_yaml), root / "sft", log=lambda m: None)
    encoder = build_tiny_encoder(root / "tiny-enc", sentence_transformers=False)
    pairs = write_build(root / "pairs", {"alpha": (24, 6, 6), "shade": (12, 6, 6)})
    rel_cfg = tiny_config(pairs, encoder, "cross_encoder", "multihead", epochs=1)
    rel_yaml = root / "relevance.yaml"
    rel_yaml.write_text(yaml.safe_dump(rel_cfg.model_dump(mode="json")))
    train(rel_cfg, root / "rel", quiet=True)
    train(rel_cfg, root / "rel-killed", quiet=True, stop_after=1)  # a checkpoint to resume from
    return {
        "root": root,
        "lm": lm,
        "data": data,
        "sft_yaml": sft_yaml,
        "sft": root / "sft",
        "sft_killed": root / "sft-killed",
        "adapter": root / "sft" / "adapter",
        "rel_yaml": rel_yaml,
        "rel": root / "rel",
        "rel_killed": root / "rel-killed",
        "pairs_build": pairs,
        "demo_config": Path(__file__).resolve().parents[2] / "configs" / "data_demo.yaml",
    }
