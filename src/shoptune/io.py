"""Atomic file and folder output, and the rule that shoptune only ever replaces what it wrote itself.

Every output of shoptune goes through here:

* ``atomic_write_text`` / ``atomic_write_json`` / ``atomic_open``: a temp file beside the target, fsynced, then
  ``os.replace``d over it, so a reader sees the old file or the new one, never half of one.
* ``staging_dir`` + ``replace_dir``: a folder is built under ``.NAME.tmp-PID`` and swapped in. On Linux the swap
  is one ``renameat2(RENAME_EXCHANGE)``, so there is no moment at which neither the old nor the new folder exists;
  elsewhere the old folder is renamed aside first (a gap of one rename).
* ``claim_output``: before any work starts, refuse an ``--out`` that is a file, or a non-empty folder without the
  marker (``.shoptune``) or manifest that shoptune writes: the user's own files are never deleted.
* ``clean_stale``: remove ``.NAME.tmp-PID`` / ``.NAME.old-PID`` leftovers of killed processes (dead PIDs only).

Example:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> atomic_write_json(root / "metrics.json", {"accuracy": 0.5})
    >>> with staging_dir(root / "build", kind="data-build") as tmp:
    ...     _ = (tmp / "manifest.json").write_text("{}")
    >>> sorted(p.name for p in (root / "build").iterdir())
    ['.shoptune', 'manifest.json']
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from shoptune.errors import ShoptuneError

#: The marker file in every folder shoptune creates as a whole; its presence is what lets shoptune replace it.
MARKER = ".shoptune"
_STALE = re.compile(r"^\.(?P<name>.+)\.(?:tmp|old)-(?P<pid>\d+)$")


class OutputError(ShoptuneError):
    """An output path that shoptune refuses to write: it holds something shoptune did not write."""


# ------------------------------------------------------------------------------------------ files
def _temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temp file beside ``path`` for writing; on success it replaces ``path`` (else it is removed).

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "rows.jsonl"
    >>> with atomic_open(p) as fh:
    ...     _ = fh.write("{}\\n")
    >>> p.read_text()
    '{}\\n'
    """
    with atomic_path(path) as tmp, open(tmp, mode, encoding=None if "b" in mode else encoding) as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())  # on disk before the rename makes it visible


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temp path beside ``path`` for writers that want a file name (Parquet, torch.save); replaced on success."""
    path = Path(path)
    refuse_dir(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_open(path) as fh:
        fh.write(text)


def atomic_write_json(path: str | Path, value: Any, *, indent: int | None = 2) -> None:
    """Write ``value`` as JSON (UTF-8, non-ASCII kept) to ``path`` atomically."""
    atomic_write_text(path, json.dumps(value, indent=indent, ensure_ascii=False) + "\n")


def refuse_dir(path: Path) -> None:
    """A file output whose path is an existing folder: one clear line instead of IsADirectoryError."""
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file path")


def check_file_output(path: str | Path, option: str = "--out") -> Path:
    """Check a file output before work starts: its folder can be created and it is not a folder itself."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{option} {path}: is a folder; give a file path")
    _check_parents(path, option)
    return path


def _check_parents(path: Path, option: str) -> None:
    """The nearest existing ancestor of ``path`` must be a folder, or the output could never be created."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{option} {path}: {parent} is a file, not a folder")
            return


# ------------------------------------------------------------------------------------------ folders
def is_owned(path: Path, *owned_files: str) -> bool:
    """True when ``path`` is a folder shoptune wrote: it holds the marker or one of ``owned_files``."""
    return path.is_dir() and any((path / name).exists() for name in (MARKER, *owned_files))


def claim_output(path: str | Path, *owned_files: str, option: str = "--out") -> Path:
    """Check, before any work, that shoptune may (re)write the folder ``path``; return it.

    Allowed: a path that does not exist, an empty folder, or a folder shoptune wrote (its marker, or one of
    ``owned_files`` such as a data build's ``manifest.json``). Refused with one line: a file, or a folder holding
    anything else, which would otherwise be deleted when the new output is swapped in.
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        _check_parents(path, option)
        return path
    if not path.is_dir() or path.is_symlink():
        raise OutputError(f"{option} {path}: exists and is not a folder shoptune wrote; choose another path")
    if any(path.iterdir()) and not is_owned(path, *owned_files):
        raise OutputError(
            f"{option} {path}: the folder holds files shoptune did not write; refusing to replace it "
            "(choose a new or empty folder)"
        )
    return path


def remove_owned(path: str | Path, *owned_files: str, option: str = "--out") -> None:
    """Delete a folder shoptune wrote (checked as ``claim_output`` does); refuse anything else."""
    path = claim_output(path, *owned_files, option=option)
    if path.is_dir():
        shutil.rmtree(path)


def write_marker(folder: Path, kind: str) -> None:
    """Mark ``folder`` as written by shoptune (what ``claim_output`` looks for)."""
    from shoptune import __version__

    (folder / MARKER).write_text(json.dumps({"kind": kind, "shoptune_version": __version__}) + "\n", encoding="utf-8")


@contextlib.contextmanager
def staging_dir(final: str | Path, *, kind: str, owned_files: tuple[str, ...] = ()) -> Iterator[Path]:
    """Build a folder under a temp name and swap it in for ``final`` on success (removed on failure).

    ``final`` is checked with ``claim_output`` first; the new folder gets the marker of ``kind``.
    """
    final = claim_output(final, *owned_files)
    final.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(final)
    tmp = _temp_path(final)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        write_marker(tmp, kind)
        replace_dir(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def replace_dir(new: Path, final: Path) -> None:
    """Put folder ``new`` at ``final``, replacing what is there, then remove the old contents.

    Callers must have checked ownership (``claim_output``) first.
    """
    if final.is_dir() and not final.is_symlink() and _exchange(new, final):
        shutil.rmtree(new, ignore_errors=True)  # ``new`` now holds the old folder
        return
    if final.exists() or final.is_symlink():
        old = final.parent / f".{final.name}.old-{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
        os.replace(new, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, final)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2``); False where the call is unavailable."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(final: str | Path) -> list[Path]:
    """Remove ``.NAME.tmp-PID`` / ``.NAME.old-PID`` files and folders beside ``final`` whose process is gone."""
    final = Path(final)
    removed: list[Path] = []
    if not final.parent.is_dir():
        return removed
    for entry in final.parent.iterdir():
        match = _STALE.match(entry.name)
        if not match or match["name"] != final.name or _alive(int(match["pid"])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed
