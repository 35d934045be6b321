"""Fixtures of the model tests: a private model cache and tiny random models (no download, seconds to build)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoptune.models import checksum as checksum_mod
from shoptune.testing import build_tiny_causal_lm, build_tiny_encoder


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """SHOPTUNE_CACHE in the test's folder, with the in-process sha256 memo emptied."""
    root = tmp_path / "cache"
    monkeypatch.setenv("SHOPTUNE_CACHE", str(root))
    monkeypatch.setattr(checksum_mod, "_MEMO", {})
    return root


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_causal_lm(tmp_path_factory.mktemp("models") / "tiny-lm")


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_encoder(tmp_path_factory.mktemp("models") / "tiny-enc")
