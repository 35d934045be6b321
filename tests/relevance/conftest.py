"""Fixtures of the relevance tests: tiny random backbones and a tiny separable two-task data build."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from shoptune.data.store import split_path, write_split
from shoptune.records import PairExample
from shoptune.relevance.config import RelevanceConfig

#: The label is decided by one colour word in the right text; task "shade" reads the colours the other way
#: round, so a model can only serve both tasks if it knows which task a pair belongs to.
COLOURS = {
    "alpha": {"red": "exact", "blue": "partial", "green": "irrelevant"},
    "shade": {"red": "irrelevant", "blue": "exact", "green": "partial"},
}
NOUNS = ["shirt", "mug", "lamp", "sofa", "shoe", "bag", "desk", "cup"]


def make_pairs(task: str, n: int, seed: int) -> list[PairExample]:
    rng = random.Random(f"{task}:{seed}")
    out = []
    for i in range(n):
        colour = list(COLOURS[task])[i % 3]
        noun, other = rng.choice(NOUNS), rng.choice(NOUNS)
        out.append(
            PairExample(task=task, left=f"{noun} {other}", right=f"{colour} {noun}", label=COLOURS[task][colour])
        )
    return out


def write_build(root: Path, sizes: dict[str, tuple[int, int, int]]) -> Path:
    """A `shoptune data build`-shaped folder (parquet splits + manifest) of the synthetic tasks."""
    manifest = {"seed": 0, "tasks": {}}
    for task, (n_train, n_dev, n_test) in sizes.items():
        for k, (split, n) in enumerate((("train", n_train), ("dev", n_dev), ("test", n_test))):
            path = split_path(root, task, split)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_split(make_pairs(task, n, k), path, "pair")
        manifest["tasks"][task] = {
            "record_type": "pair",
            "kind": "pair_relevance",
            "adapter": "home_depot",
            "view": "query_product" if task == "alpha" else "query_query",
        }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and a busy 2-core machine punishes two (OpenMP spin-waits)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from shoptune.testing import build_tiny_encoder

    return build_tiny_encoder(tmp_path_factory.mktemp("tiny") / "encoder", sentence_transformers=False)


@pytest.fixture(scope="session")
def tiny_decoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from shoptune.testing import build_tiny_causal_lm

    return build_tiny_causal_lm(tmp_path_factory.mktemp("tiny") / "decoder")


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_build(tmp_path_factory.mktemp("data") / "build", {"alpha": (48, 12, 12), "shade": (24, 9, 9)})


@pytest.fixture(scope="session")
def make_config():
    return tiny_config


def tiny_config(
    data: Path, model: Path, family: str = "cross_encoder", routing: str = "multihead", **train: object
) -> RelevanceConfig:
    """A config that trains a tiny model for a handful of steps, fast."""
    return RelevanceConfig.model_validate(
        {
            "model": {
                "family": family,
                "name": str(model),
                "routing": routing,
                "private_layers": 1,
                "max_length": 32,
                "head_dropout": 0.0,
                "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
            },
            "data": {"path": str(data)},
            "mixture": {"strategy": "proportional"},
            "train": {
                "epochs": 2,
                "lr": 1e-2,
                "head_lr": 3e-2,
                "warmup_ratio": 0.0,
                "max_batch": 64,
                "batch_tokens": 512,
                "checkpoint_every": 4,
                "seed": 0,
                "log_every": 1,
                "threads": 1,
                "bf16": False,
                **train,
            },
            "eval": {"splits": ["test"], "bootstrap": 50},
        }
    )
