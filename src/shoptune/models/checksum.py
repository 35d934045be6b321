"""Pinned sha256 checks of bundled model files, hashed once per file version.

Hashing the 91 MB MiniLM weights takes 0.09 s with a warm page cache (measured; more on slow CPUs or a cold
disk), a noticeable share of a load that otherwise takes well under a second. So a file's digest is kept in
``$SHOPTUNE_CACHE/sha256.json`` (default ``~/.cache/shoptune``) under its absolute path, with the size and
mtime it had when hashed; it is hashed again only when one of those changes (a reinstall, an edit). The record
is a speed-up only: an unreadable or unwritable record means hashing again, never a failure.

Nothing here imports torch or transformers.

Example:
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "weights.bin"
    >>> _ = path.write_bytes(b"abc")
    >>> file_sha256(path)[:12]
    'ba7816bf8f01'
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from shoptune.errors import ShoptuneError

__all__ = ["ModelChecksumError", "check_sha256", "file_sha256", "hash_record_path"]

#: In-process memo: (absolute path, size, mtime_ns) -> digest.
_MEMO: dict[tuple[str, int, int], str] = {}


class ModelChecksumError(ShoptuneError, ValueError):
    """A model file whose sha256 differs from the pinned one (a damaged or substituted download)."""


def hash_record_path() -> Path:
    """Where digests are remembered: ``$SHOPTUNE_CACHE/sha256.json`` or ``~/.cache/shoptune/sha256.json``."""
    env = os.environ.get("SHOPTUNE_CACHE", "").strip()
    root = Path(env).expanduser() if env else Path.home() / ".cache" / "shoptune"
    return root / "sha256.json"


def _hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load_record(record: Path) -> dict[str, dict]:
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def file_sha256(path: str | Path, *, remember: bool = True) -> str:
    """The sha256 of ``path``; hashed only when its size or mtime differs from the last time it was hashed.

    ``remember=False`` skips the on-disk record (a temporary file, e.g. chunks joined for one conversion).
    """
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key in _MEMO:
        return _MEMO[key]
    record_file = hash_record_path()
    record = _load_record(record_file) if remember else {}
    entry = record.get(str(path))
    if isinstance(entry, dict) and (entry.get("size"), entry.get("mtime_ns")) == key[1:]:
        digest = str(entry.get("sha256", ""))
        if len(digest) == 64:
            _MEMO[key] = digest
            return digest
    digest = _hash(path)
    _MEMO[key] = digest
    if remember:
        record[str(path)] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
        try:
            from shoptune.io import atomic_write_json

            atomic_write_json(record_file, record)
        except OSError:
            pass  # a read-only cache only costs the next process a re-hash
    return digest


def check_sha256(path: str | Path, expected: str, *, label: str | None = None, hint: str = "") -> None:
    """Raise :class:`ModelChecksumError` (one line: the file, both digests, ``hint``) unless the digests match.

    ``label`` names the file in the message when ``path`` is a temporary one (e.g. joined chunks).

    Example:
        >>> check_sha256(path, "0" * 64, hint="reinstall it")  # doctest: +SKIP
        ModelChecksumError: /x/weights.bin: sha256 ba78... does not match the pinned 0000...; reinstall it
    """
    actual = file_sha256(path, remember=label is None)
    if actual != expected.lower():
        tail = f"; {hint}" if hint else ""
        raise ModelChecksumError(
            f"{label or Path(path)}: sha256 {actual} does not match the pinned {expected.lower()} "
            f"(the file is damaged or not the expected release){tail}"
        )
