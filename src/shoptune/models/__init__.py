"""Model resolution: bundled names, local paths and hub ids, all usable offline.

Offline by default: nothing downloads from the Hugging Face Hub unless :func:`allow_hub` was called (the CLI's
``--allow-hub``) or ``SHOPTUNE_ALLOW_HUB=1`` is set.

Example:
    >>> from shoptune.models import allow_hub, load_causal_lm, resolve_model
    >>> resolve_model("minilm-l6").kind  # doctest: +SKIP
    'encoder'
    >>> model, tokenizer = load_causal_lm("smollm2-135m-instruct")  # doctest: +SKIP

Only safetensors weights are loaded: a model or adapter folder whose weights are pickles (``pytorch_model.bin``,
``adapter_model.bin``, ``*.pt``) is refused by :func:`check_safetensors_only` before anything reads it.

Names load on first use, so ``from shoptune.models import allow_hub`` stays cheap (no torch, no transformers)
and a CLI can call it for every command. Tiny random models for unit tests live in :mod:`shoptune.testing`
(not re-exported here).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoptune.errors import ShoptuneError
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
        default_device,
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
            "default_device",
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


#: Weight files that are pickles: reading one may run code the file names, so shoptune never loads them.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
_SAFE_SUFFIXES = (".safetensors", ".safetensors.index.json")


class PickledWeightsError(ShoptuneError, ValueError):
    """A model or adapter folder whose weights are pickles only: shoptune loads safetensors weights only."""


def check_safetensors_only(folder: str | Path) -> None:
    """Refuse a local model or adapter folder that would make transformers, peft or sentence-transformers read a
    pickle: weights in ``*.bin``/``*.pt``/``*.pth``/``*.pkl`` and none in ``*.safetensors`` (the folder itself and
    each sentence-transformers module folder that ``modules.json`` lists), or a ``config.json`` naming another
    weights file (``transformers_weights``). A folder with safetensors weights passes whatever else it holds
    (``training_args.bin``, an ``original/`` folder): those files are never read.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "pytorch_model.bin").write_bytes(b"")
    >>> check_safetensors_only(folder)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shoptune.models.PickledWeightsError: ...: only safetensors weights are loaded (found pytorch_model.bin)
    >>> _ = (folder / "model.safetensors").write_bytes(b"")
    >>> check_safetensors_only(folder)
    """
    folder = Path(folder)
    if not folder.is_dir():
        return
    for directory in [folder, *_module_folders(folder)]:
        names = sorted(p.name for p in directory.iterdir() if p.is_file())
        if any(n.lower().endswith(_SAFE_SUFFIXES) for n in names):
            continue
        pickles = [n for n in names if n.lower().endswith(PICKLE_SUFFIXES)]
        if pickles:
            raise PickledWeightsError(f"{directory}: only safetensors weights are loaded (found {pickles[0]})")
    named = _json_field(folder / "config.json", "transformers_weights")
    if isinstance(named, str) and not named.lower().endswith(_SAFE_SUFFIXES):
        raise PickledWeightsError(
            f"{folder}: only safetensors weights are loaded (config.json names transformers_weights {named!r})"
        )


def _module_folders(folder: Path) -> list[Path]:
    """The sub-folders a sentence-transformers model's ``modules.json`` lists (each inside ``folder``)."""
    modules = _json_field(folder / "modules.json", None)
    paths = [m.get("path") for m in modules if isinstance(m, dict)] if isinstance(modules, list) else []
    root = folder.resolve()
    found = []
    for rel in paths:
        if isinstance(rel, str) and rel:
            sub = (folder / rel).resolve()
            if sub != root and sub.is_relative_to(root) and sub.is_dir():
                found.append(sub)
    return found


def _json_field(path: Path, key: str | None) -> Any:
    """``key`` of the JSON object in ``path`` (the whole document when ``key`` is None); None when unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if key is None:
        return data
    return data.get(key) if isinstance(data, dict) else None


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
    "PICKLE_SUFFIXES",
    "PickledWeightsError",
    "ResolvedModel",
    "allow_hub",
    "bundled_models",
    "bundled_names",
    "cache_root",
    "cached_model_dir",
    "check_safetensors_only",
    "default_device",
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
