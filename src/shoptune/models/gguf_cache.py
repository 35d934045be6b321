"""Convert GGUF checkpoints to safetensors once, and keep the result in a cache directory.

transformers can load a GGUF file directly, but it dequantises every tensor on each load (about 20 s for
SmolLM2-135M on two CPU cores). Saving the dequantised model once as an ordinary safetensors directory makes
every later load take well under a second.

Layout: ``$SHOPTUNE_CACHE/models/<name>/`` (default ``~/.cache/shoptune/models/<name>/``) holds a normal
``from_pretrained`` directory plus :data:`MARKER`, a small JSON file describing the source. A directory only
counts as cached when its marker matches the current source, so a reinstalled package with a different GGUF
is converted again.

Safety: the conversion writes into a hidden temporary directory next to the final one and renames it into
place, so an interrupted conversion never leaves a half-written cache; a file lock makes concurrent
processes convert at most once, and a final directory that appears meanwhile (from a writer the lock did not
see) is used as is.

Example:
    >>> path = ensure_converted("smollm2-135m-instruct", [gguf_file])  # doctest: +SKIP
    >>> AutoModelForCausalLM.from_pretrained(path)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from filelock import FileLock
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from shoptune.io import replace_dir
from shoptune.models.checksum import check_sha256
from shoptune.models.registry import hub_offline

__all__ = [
    "CACHE_ENV",
    "MARKER",
    "Converter",
    "cache_root",
    "cached_model_dir",
    "convert_gguf",
    "ensure_converted",
    "is_cached",
    "load_gguf",
    "source_fingerprint",
]

logger = logging.getLogger(__name__)

CACHE_ENV = "SHOPTUNE_CACHE"
MARKER = "shoptune-cache.json"
_LOCK_TIMEOUT_S = 30 * 60  # a conversion takes well under a minute; waiting longer means a stuck writer

#: Writes a from_pretrained directory for ``gguf_file`` into ``out_dir`` (which exists and is empty).
Converter = Callable[[Path, Path], None]


def cache_root() -> Path:
    """The shoptune cache directory: ``$SHOPTUNE_CACHE`` or ``~/.cache/shoptune``.

    Example:
        >>> os.environ["SHOPTUNE_CACHE"] = "/tmp/st-cache"; cache_root()  # doctest: +SKIP
        PosixPath('/tmp/st-cache')
    """
    env = os.environ.get(CACHE_ENV, "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "shoptune"


def cached_model_dir(name: str) -> Path:
    """Where the converted model ``name`` lives (whether or not it exists yet).

    Example:
        >>> cached_model_dir("smollm2-135m-instruct").parts[-2:]
        ('models', 'smollm2-135m-instruct')
    """
    return cache_root() / "models" / name


def source_fingerprint(sources: Sequence[Path]) -> list[dict[str, object]]:
    """Cheap identity of the GGUF source files (name, size, mtime), stored in the cache marker.

    Stat fields rather than hashes: hashing ~100 MB on every resolve would cost more than the check is worth.

    Example:
        >>> source_fingerprint([Path("model.gguf")])  # doctest: +SKIP
        [{'name': 'model.gguf', 'size': 98362432, 'mtime_ns': 1763920000000000000}]
    """
    return [{"name": p.name, "size": (st := p.stat()).st_size, "mtime_ns": st.st_mtime_ns} for p in sources]


def is_cached(name: str, sources: Sequence[Path] | None = None, *, track_mtime: bool = False) -> bool:
    """Whether a complete conversion of ``name`` is in the cache (and matches ``sources`` when given).

    Sources match by name and size; ``track_mtime=True`` also requires the same modification time.

    Example:
        >>> is_cached("no-such-model")
        False
    """
    return _valid_cache(cached_model_dir(name), sources, track_mtime)


def _valid_cache(directory: Path, sources: Sequence[Path] | None, track_mtime: bool) -> bool:
    try:
        marker = json.loads((directory / MARKER).read_text())
    except (OSError, ValueError):
        return False
    if sources is None:
        return True
    try:
        current = source_fingerprint(sources)
    except OSError:  # a source vanished; the existing cache is still the best we have
        return True
    keys = ("name", "size", "mtime_ns") if track_mtime else ("name", "size")
    recorded = marker.get("sources")
    if not isinstance(recorded, list) or len(recorded) != len(current):
        return False
    pairs = zip(recorded, current, strict=True)
    return all(isinstance(r, dict) and all(r.get(k) == c[k] for k in keys) for r, c in pairs)


def load_gguf(
    gguf_file: str | Path, *, dtype: torch.dtype = torch.float32
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a GGUF checkpoint with transformers, dequantising it (slow: ~20 s for 135M parameters).

    The returned model no longer carries the GGUF quantizer, so it can be saved or trained like any other.

    Example:
        >>> model, tok = load_gguf("SmolLM2-135M-Instruct.Q4_1.gguf")  # doctest: +SKIP
    """
    path = Path(gguf_file)
    # A local folder: nothing may ever be looked up on the hub.
    with hub_offline():
        model = AutoModelForCausalLM.from_pretrained(
            str(path.parent), gguf_file=path.name, dtype=dtype, local_files_only=True
        )
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name, local_files_only=True)
    if getattr(model, "hf_quantizer", None) is not None:
        # The weights are already plain tensors; the leftover GGUF quantization_config would make
        # save_pretrained write a config that from_pretrained then tries to "dequantise" again.
        model.hf_quantizer.remove_quantization_config(model)
    max_positions = getattr(model.config, "max_position_embeddings", None)
    if max_positions and tokenizer.model_max_length > 10 * max_positions:
        # GGUF metadata carries no tokenizer length, so transformers sets a sentinel of ~1e30; use the
        # model's real context so truncation=True means something.
        tokenizer.model_max_length = max_positions
    return model, tokenizer


def convert_gguf(gguf_file: Path, out_dir: Path) -> None:
    """Default :data:`Converter`: dequantise ``gguf_file`` and save model + tokenizer as safetensors.

    Raises ``RuntimeError`` if the GGUF's chat template does not survive the save/load round trip.

    Example:
        >>> convert_gguf(Path("model.gguf"), Path("out"))  # doctest: +SKIP
    """
    model, tokenizer = load_gguf(gguf_file, dtype=torch.float32)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    if tokenizer.chat_template:
        with hub_offline():
            reloaded = AutoTokenizer.from_pretrained(str(out_dir), local_files_only=True)
        if reloaded.chat_template != tokenizer.chat_template:
            raise RuntimeError(f"chat template of {gguf_file.name} was lost when saving the tokenizer")


def ensure_converted(
    name: str,
    sources: Sequence[Path],
    *,
    sha256: str | None = None,
    sha256_hint: str = "",
    converter: Converter | None = None,
    track_mtime: bool = False,
    lock_timeout: float = _LOCK_TIMEOUT_S,
) -> Path:
    """Return the cached safetensors directory for a GGUF model, converting it first if needed.

    ``sources`` is one GGUF file, or the ordered chunks of a split one (concatenated into a temporary file
    before converting). ``sha256``, when given, is checked against the whole GGUF file before converting (so
    once per conversion, not per load); a mismatch is a one-line
    :class:`~shoptune.models.checksum.ModelChecksumError` naming the file, both digests and ``sha256_hint``
    (e.g. the pip command that reinstalls it). ``converter``
    defaults to :func:`convert_gguf` (looked up at call time, so tests can monkeypatch it). A cache whose
    marker disagrees with the sources' name or size (or mtime, with ``track_mtime=True``) is converted again.
    Bundled packages leave mtime untracked: a fresh virtualenv reinstalls the same file with a new mtime, and
    that must not cost another conversion; a user's own GGUF can change in place at the same size.

    Example:
        >>> path = ensure_converted("smollm2-135m-instruct", [gguf_file])  # doctest: +SKIP
        >>> path.name  # doctest: +SKIP
        'smollm2-135m-instruct'
    """
    if not sources:
        raise ValueError("ensure_converted needs at least one GGUF source file")
    final = cached_model_dir(name)
    if _valid_cache(final, sources, track_mtime):
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(final.parent / f".{name}.lock"), timeout=lock_timeout):
        if _valid_cache(final, sources, track_mtime):  # another process finished while we waited for the lock
            return final
        _remove_stale_temps(final)
        work = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=final.parent))
        try:
            out = work / "model"
            out.mkdir()
            started = time.perf_counter()
            logger.info("converting %s from GGUF to safetensors (once) into %s", name, final)
            gguf_file = _whole_gguf(sources, work)
            if sha256 is not None:
                label = None if len(sources) == 1 else f"{sources[0]} (+{len(sources) - 1} more parts, joined)"
                check_sha256(gguf_file, sha256, label=label, hint=sha256_hint)
            (converter or convert_gguf)(gguf_file, out)
            seconds = time.perf_counter() - started
            marker = {"name": name, "sources": source_fingerprint(sources), "seconds": round(seconds, 1)}
            (out / MARKER).write_text(json.dumps(marker, indent=2))
            _publish(out, final, sources, track_mtime)
            logger.info("converted %s in %.1f s", name, seconds)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return final


def _whole_gguf(sources: Sequence[Path], work: Path) -> Path:
    if len(sources) == 1:
        return sources[0]
    # transformers needs one file; the chunks join inside the temp dir so they vanish with it.
    stem = sources[0].name.split(".part")[0]
    joined = work / (stem if stem.endswith(".gguf") else f"{stem}.gguf")
    with joined.open("wb") as out:
        for part in sources:
            with part.open("rb") as chunk:
                shutil.copyfileobj(chunk, out, length=1 << 20)
    return joined


def _publish(out: Path, final: Path, sources: Sequence[Path], track_mtime: bool) -> None:
    """Move the finished conversion into place with an atomic rename."""
    if final.exists() and _valid_cache(final, sources, track_mtime):
        return  # a writer outside our lock got there first; its result is as good as ours
    try:
        # A stale cache (older source) is swapped out in one exchange: readers never find no cache.
        replace_dir(out, final)
    except OSError:
        # rename fails when another writer published in between; fine if what it published is valid.
        if not _valid_cache(final, sources, track_mtime):
            raise


def _remove_stale_temps(final: Path) -> None:
    # Called under the lock: any temp dir of this name is left over from a killed conversion.
    for prefix in (f".{final.name}.tmp-", f".{final.name}.old-"):
        for stale in final.parent.glob(prefix + "*"):
            with contextlib.suppress(OSError):
                shutil.rmtree(stale)
