"""Model resolution: bundled names, local paths and hub ids, all usable offline.

Offline by default: nothing downloads from the Hugging Face Hub unless :func:`allow_hub` was called (the CLI's
``--allow-hub``) or ``SHOPTUNE_ALLOW_HUB=1`` is set.

Example:
    >>> from shoptune.models import allow_hub, load_causal_lm, resolve_model
    >>> resolve_model("minilm-l6").kind  # doctest: +SKIP
    'encoder'
    >>> model, tokenizer = load_causal_lm("smollm2-135m-instruct")  # doctest: +SKIP

Names load on first use, so ``from shoptune.models import allow_hub`` stays cheap (no torch, no transformers)
and a CLI can call it for every command. Tiny random models for unit tests live in :mod:`shoptune.testing`
(not re-exported here).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from shoptune.models.checksum import ModelChecksumError
from shoptune.models.registry import (
    ALLOW_HUB_ENV,
    BUNDLED,
    BundledSpec,
    ModelKind,
    ModelKindError,
    ModelNotFoundError,
    ModelSource,
    allow_hub,
    bundled_names,
    hub_allowed,
    hub_offline,
)

if TYPE_CHECKING:
    from shoptune.models.gguf_cache import cache_root, cached_model_dir, is_cached
    from shoptune.models.resolve import (
        BundledModel,
        ResolvedModel,
        bundled_models,
        detect_kind,
        load_causal_lm,
        load_encoder_tokenizer,
        load_sentence_transformer,
        local_only,
        resolve_model,
    )

#: Names importing torch/transformers, loaded from their module on first access.
_LAZY = {
    **dict.fromkeys(("cache_root", "cached_model_dir", "is_cached"), "shoptune.models.gguf_cache"),
    **dict.fromkeys(
        (
            "BundledModel",
            "ResolvedModel",
            "bundled_models",
            "detect_kind",
            "load_causal_lm",
            "load_encoder_tokenizer",
            "load_sentence_transformer",
            "local_only",
            "resolve_model",
        ),
        "shoptune.models.resolve",
    ),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ALLOW_HUB_ENV",
    "BUNDLED",
    "BundledModel",
    "BundledSpec",
    "ModelChecksumError",
    "ModelKind",
    "ModelKindError",
    "ModelNotFoundError",
    "ModelSource",
    "ResolvedModel",
    "allow_hub",
    "bundled_models",
    "bundled_names",
    "cache_root",
    "cached_model_dir",
    "detect_kind",
    "hub_allowed",
    "hub_offline",
    "is_cached",
    "load_causal_lm",
    "load_encoder_tokenizer",
    "load_sentence_transformer",
    "local_only",
    "resolve_model",
]
