"""Model resolution: bundled names, local paths and hub ids, all usable offline.

Example:
    >>> from shoptune.models import load_causal_lm, resolve_model
    >>> resolve_model("minilm-l6").kind  # doctest: +SKIP
    'encoder'
    >>> model, tokenizer = load_causal_lm("smollm2-135m-instruct")  # doctest: +SKIP

Tiny random models for unit tests live in :mod:`shoptune.models.tiny` (not re-exported here).
"""

from shoptune.models.gguf_cache import cache_root, cached_model_dir, is_cached
from shoptune.models.registry import (
    BUNDLED,
    BundledSpec,
    ModelKind,
    ModelKindError,
    ModelNotFoundError,
    ModelSource,
    bundled_names,
)
from shoptune.models.resolve import (
    BundledModel,
    ResolvedModel,
    bundled_models,
    detect_kind,
    load_causal_lm,
    load_encoder_tokenizer,
    load_sentence_transformer,
    resolve_model,
)

__all__ = [
    "BUNDLED",
    "BundledModel",
    "BundledSpec",
    "ModelKind",
    "ModelKindError",
    "ModelNotFoundError",
    "ModelSource",
    "ResolvedModel",
    "bundled_models",
    "bundled_names",
    "cache_root",
    "cached_model_dir",
    "detect_kind",
    "is_cached",
    "load_causal_lm",
    "load_encoder_tokenizer",
    "load_sentence_transformer",
    "resolve_model",
]
