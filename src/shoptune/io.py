"""Atomic file and folder output, and the rule that shoptune only ever replaces what it wrote itself.

Every output of shoptune goes through here:

* ``atomic_write_text`` / ``atomic_write_json`` / ``atomic_open``: a temp file beside the target, fsynced, then
  ``os.replace``d over it, so a reader sees the old file or the new one, never half of one.
* ``staging_dir`` + ``replace_dir``: a folder is built under ``.NAME.tmp-PID`` and swapped in. On Linux the swap
  is one ``renameat2(RENAME_EXCHANGE)``, so there is no moment at which neither the old nor the new folder exists;
  elsewhere the old folder is renamed aside first (a gap of one rename).
* Ownership by marker only. Every folder shoptune writes carries a ``.shoptune`` marker that records its kind
  (build, sft-run, relevance-run, ensemble, sweep, generation, eval, demo, ...) and the list of files shoptune
  wrote in it; ``atomic_*`` writes below a marked folder add themselves to that list. ``claim_output`` refuses,
  before any work starts, an ``--out`` that is a file, an unmarked non-empty folder, a folder of another kind, a
  marked folder holding a file not on its list, and an output that is or overlaps one of the command's inputs.
  A single-file output (``claim_file``) is replaced only when its ``.NAME.shoptune`` sidecar shows shoptune wrote
  it and it is unchanged since, or with an explicit overwrite. File names are never taken as proof of ownership.
* ``safe_component``: the one way a user-given name (arm, grid level, task, member, generated id) becomes a path
  component; separators, ``..``, absolute paths and control characters are refused.
* ``clean_stale``: remove ``.NAME.tmp-PID`` / ``.NAME.old-PID`` leftovers of killed processes (dead PIDs only).
* ``claim_work`` / ``release_work``: several processes share one folder's work (sweep workers); a unit is taken by
  creating its claim file exclusively, and a claim whose process is gone is taken over.

Example:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> atomic_write_json(root / "metrics.json", {"accuracy": 0.5})
    >>> with staging_dir(root / "build", kind="build") as tmp:
    ...     _ = (tmp / "manifest.json").write_text("{}")
    >>> sorted(p.name for p in (root / "build").iterdir())
    ['.shoptune', 'manifest.json']
    >>> read_marker(root / "build")["files"]
    ['manifest.json']
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import json
import os
import re
import shutil
import socket
import time
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Any

from shoptune.errors import ShoptuneError, argument_hint, argument_label

#: The marker file in every folder shoptune creates as a whole; its presence is what lets shoptune replace it.
MARKER = ".shoptune"
#: A command's inputs: paths (or model names, or None for an unset option) its output must not overlap.
Inputs = Iterable["str | Path | None"]
_STALE = re.compile(r"^\.(?P<name>.+)\.(?:tmp|old)-(?P<pid>\d+)$")
#: Seconds after which an empty claim file (its process killed between creating and writing it) is stale.
CLAIM_GRACE_S = 60.0
_MARKER_TMP = re.compile(r"^\.\.shoptune\.tmp-\d+$")


class OutputError(ShoptuneError, ValueError):
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
    # Listed before they exist: a temp file left by a killed process is then known to be shoptune's (clean_stale),
    # and so is the final file of a process killed between the rename and the marker update (a listed name that
    # does not exist is harmless; an unlisted file would make the folder refuse a resume).
    record_written(tmp)
    record_written(path)
    try:
        yield tmp
        os.replace(tmp, path)
        _update_list(path, "files", add=True, drop=tmp)  # one marker update: the final name on, the temp name off
    finally:
        if tmp.exists() or tmp.is_symlink():
            tmp.unlink()
            forget_written(tmp)
        if not (path.exists() or path.is_symlink()):
            forget_written(path)  # the write failed before the file existed


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


def _check_parents(path: Path, option: str) -> None:
    """The nearest existing ancestor of ``path`` must be a folder, or the output could never be created."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{option} {path}: {parent} is a file, not a folder")
            return


# ------------------------------------------------------------------------------------------ names
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f/\\]")


def safe_component(name: object, what: str = "name") -> str:
    """``name`` as one path component, or one line saying why it cannot be one.

    >>> safe_component("rank_8__tasks4", "arm")
    'rank_8__tasks4'
    >>> safe_component("../../x", "grid level")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shoptune.io.OutputError: grid level '../../x': not usable as a folder name (a separator, '..', ...)
    """
    text = str(name)
    if (
        not text
        or text in (".", "..")
        or text.startswith(".")  # hidden, and shoptune's own .NAME.tmp-PID / marker names
        or _FORBIDDEN.search(text)
        or text != text.strip()
        or len(text.encode("utf-8", "surrogatepass")) > 200
        or PurePosixPath(text).is_absolute()
    ):
        raise OutputError(
            f"{what} {text!r}: not usable as a folder name (a separator, '..', a leading '.', a control character, "
            "surrounding spaces or over 200 bytes)"
        )
    return text


# ------------------------------------------------------------------------------------------ ownership
#: Kinds of folder shoptune writes as a whole. A command replaces, or resumes, only a folder of its own kind.
KINDS = frozenset(
    {
        "build",
        "sft-run",
        "relevance-run",
        "relevance-export",
        "predict-parts",  # `relevance predict`'s chunks while it runs (resumable)
        "ensemble",
        "sweep",
        "generation",
        "eval",
        "demo",
        "compare",
        "heldout-eval",
        "benchmark",  # a benchmark's resumable work folder (benchmarks/*.py --work)
        # parts inside the folders above, each marked on its own
        "checkpoint",
        "sft-adapter",
        "relevance-model",
        "merged-model",
    }
)
#: The marked folders each kind writes inside itself. A nested marked folder of any other kind (an eval the user
#: wrote into a build, a hand-made marker) is not part of its parent: replacing the parent would lose it, so its files
#: count as foreign. "staging" is a part being written (``staging_dir``), left behind when a process is killed.
PARTS: dict[str, frozenset[str]] = {
    "sft-run": frozenset({"checkpoint", "sft-adapter", "heldout-eval", "eval"}),
    "relevance-run": frozenset({"checkpoint", "relevance-model", "build", "eval"}),
    "heldout-eval": frozenset({"eval"}),
    "ensemble": frozenset({"relevance-model", "relevance-export", "ensemble"}),
    "sweep": frozenset({"build", "sft-run", "eval", "heldout-eval", "checkpoint"}),
    "demo": frozenset({"build", "sft-run", "relevance-run", "demo", "compare", "heldout-eval", "eval"}),
}
#: Kind names of markers written before the kinds were fixed.
_LEGACY_KINDS = {"data-build": "build", "relevance-ensemble": "ensemble"}
MARKER_FORMAT = 2


def read_json(path: Path, *, expect: type | None = None) -> Any:
    """A JSON file, or one line naming it: missing, unreadable, damaged or (with ``expect=dict``) of another type.
    The one reader of the JSON files shoptune writes (metrics, summaries, sweep and report inputs)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ShoptuneError(f"{path}: missing") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ShoptuneError(f"{path}: damaged, not valid JSON ({reason})") from None
    except OSError as exc:
        raise ShoptuneError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if expect is not None and not isinstance(data, expect):
        raise ShoptuneError(
            f"{path}: damaged, expected a JSON {_JSON_NAMES.get(expect, expect.__name__)}, got {type(data).__name__}"
        )
    return data


_JSON_NAMES = {dict: "object", list: "array"}


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The marker of ``folder`` ({"kind", "files", ...}), or None when it has none or it cannot be read."""
    path = folder / MARKER
    if not path.is_file() or path.is_symlink():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    kind = data.get("kind")
    if isinstance(kind, str):
        data["kind"] = _LEGACY_KINDS.get(kind, kind)
    return data


def marker_kind(folder: Path) -> str | None:
    """The kind a folder's marker records, or None."""
    marker = read_marker(folder)
    kind = marker.get("kind") if marker else None
    return kind if isinstance(kind, str) else None


def _scan(folder: Path) -> list[str]:
    """Every file under ``folder`` (relative, POSIX), except markers and the parts that carry a marker of their own."""
    found: list[str] = []
    for entry in sorted(folder.iterdir()):
        if entry.name == MARKER:
            continue
        if entry.is_dir() and not entry.is_symlink():
            if (entry / MARKER).exists():
                continue  # its own marker lists its files
            found += [f"{entry.name}/{rel}" for rel in _scan(entry)]
        else:
            found.append(entry.name)
    return found


def write_marker(folder: Path, kind: str) -> None:
    """Mark ``folder`` as shoptune's ``kind``, listing every file in it now as written by shoptune.

    Call it on a folder that holds only what shoptune wrote: a fresh staging folder, or a new empty one that files
    are then added to (``atomic_*`` writes below a marked folder add themselves to its list).
    """
    from shoptune import __version__

    if kind not in KINDS:
        raise ValueError(f"unknown output kind {kind!r}")
    marker = {"kind": kind, "format": MARKER_FORMAT, "shoptune_version": __version__, "files": _scan(folder)}
    _write_marker_file(folder, marker)


def _write_marker_file(folder: Path, marker: dict[str, Any]) -> None:
    tmp = folder / f".{MARKER}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, folder / MARKER)


def _owner(path: Path) -> tuple[Path, str] | None:
    """The nearest marked folder above ``path`` and the path relative to it; None inside a staging folder."""
    parts: list[str] = [path.name]
    for folder in path.parents:
        if (folder / MARKER).is_file():
            return folder, "/".join(reversed(parts))
        if _STALE.match(folder.name):
            return None  # a staging folder: its marker lists everything when it is swapped in
        parts.append(folder.name)
    return None


def record_written(path: str | Path, *, key: str = "files") -> None:
    """Add ``path`` to the file list (``key``) of the nearest marked folder above it (no-op where there is none)."""
    _update_list(path, key, add=True)


def forget_written(path: str | Path) -> None:
    """Take ``path`` off the file list of the nearest marked folder above it (a temp file that is gone)."""
    _update_list(path, "files", add=False)


def _update_list(path: str | Path, key: str, *, add: bool, drop: str | Path | None = None) -> None:
    """Put ``path`` on (``add``) or take it off the ``key`` list of its marked folder; ``drop``, a sibling of
    ``path``, comes off in the same update."""
    owner = _owner(Path(os.path.abspath(path)))
    if owner is None:
        return
    folder, rel = owner
    gone = {f"{rel.rpartition('/')[0]}/{Path(drop).name}".lstrip("/")} if drop is not None else set()
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # concurrent writers in one folder (parallel sweep arms) must not lose entries
        marker = read_marker(folder)
        if marker is None or not isinstance(marker.get("files"), list):
            return
        listed = set(marker.get(key, []))
        updated = (listed | {rel} if add else listed - {rel}) - gone
        if updated == listed:
            return
        marker[key] = sorted(updated)
        _write_marker_file(folder, marker)
    finally:
        os.close(fd)  # releases the lock


def foreign_files(folder: Path) -> list[str]:
    """Files under a marked ``folder`` that shoptune did not write, relative to it.

    Empty folders hold no data and are not counted. A subfolder with a marker of its own is checked against its own
    list when it is a part of this kind of folder (``PARTS``); any other marked subfolder counts as foreign whole.
    A folder whose marker lists no files (an older shoptune, a hand-made marker) is foreign whole too.
    """
    marker = read_marker(folder)
    listed = marker.get("files") if marker else None
    if not isinstance(listed, list):
        return _all_files(folder, "")
    parts = PARTS.get(str(marker.get("kind")), frozenset()) | {"staging"}
    return _foreign(folder, "", {str(f) for f in listed}, parts)


def _all_files(folder: Path, prefix: str) -> list[str]:
    """Every file under ``folder`` (markers aside: they say what the folder is, not what it holds)."""
    found = [p for p in sorted(folder.rglob("*")) if (not p.is_dir() or p.is_symlink()) and p.name != MARKER]
    return [f"{prefix}{p.relative_to(folder).as_posix()}" for p in found]


def _foreign(folder: Path, prefix: str, files: set[str], parts: frozenset[str]) -> list[str]:
    found: list[str] = []
    for entry in sorted(folder.iterdir()):
        rel = f"{prefix}{entry.name}"
        if entry.name == MARKER or _MARKER_TMP.match(entry.name):
            continue  # the marker, and its own temp file when a process was killed while rewriting it
        if entry.is_dir() and not entry.is_symlink():
            if (entry / MARKER).is_file():
                nested = marker_kind(entry)
                if nested == "staging" and _STALE.match(entry.name):
                    continue  # a part being written when its process was killed: shoptune's, cleaned next time
                own = foreign_files(entry) if nested in parts else _all_files(entry, "")
                found += [f"{rel}/{sub}" for sub in own]
            else:
                found += _foreign(entry, f"{rel}/", files, parts)
        elif rel not in files:
            found.append(rel)
    return found


def claim_output(path: str | Path, kind: str, *, option: str | None = None, inputs: Inputs = ()) -> Path:
    """Check, before any work, that shoptune may write the folder ``path`` as ``kind``; return it.

    Allowed: a path that does not exist, an empty folder, or a folder marked as ``kind`` that holds only files
    shoptune wrote. Refused with one line: a file or link, an unmarked folder, a folder of another kind, a marked
    folder holding a file of the user's, and an output that is, holds or sits inside one of ``inputs``.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown output kind {kind!r}")
    option = option or argument_label("out", default="--out")
    path = Path(path)
    _refuse_inputs(path, inputs, option)
    if not path.exists() and not path.is_symlink():
        _check_parents(path, option)
        return path
    if not path.is_dir() or path.is_symlink():
        raise OutputError(f"{option} {path}: exists and is not a folder shoptune wrote; choose another path")
    if not any(path.iterdir()):
        return path
    marker = read_marker(path)
    if marker is None:
        first = sorted(p.name for p in path.iterdir())[0]
        raise OutputError(
            f"{option} {path}: the folder holds files shoptune did not write (e.g. {first}); refusing to replace it "
            "(choose a new or empty folder)"
        )
    if marker.get("kind") != kind:
        raise OutputError(
            f"{option} {path}: it is a shoptune {marker.get('kind', 'unknown')} folder, not a {kind} folder; "
            "choose another path"
        )
    if not isinstance(marker.get("files"), list):
        raise OutputError(
            f"{option} {path}: written by shoptune {marker.get('shoptune_version', '?')}, whose marker lists no files, "
            "so shoptune cannot tell your files from its own; move it aside or choose another path"
        )
    foreign = foreign_files(path)
    if foreign:
        raise OutputError(
            f"{option} {path}: the folder holds {len(foreign)} file(s) shoptune did not write (e.g. {foreign[0]}); "
            "move them out or choose another path"
        )
    return path


def _refuse_inputs(path: Path, inputs: Inputs, option: str) -> None:
    out = Path(os.path.realpath(path))
    for item in inputs:
        if item is None or not Path(item).exists():  # an unset option (data built into the run), or
            continue  # a model name, not a path
        inp = Path(os.path.realpath(item))
        if out == inp or inp in out.parents or out in inp.parents:
            raise OutputError(f"{option} {path}: is, holds or sits inside the input {item}; choose another path")


def open_folder(path: str | Path, kind: str, *, option: str | None = None, inputs: Inputs = ()) -> Path:
    """``claim_output``, then create the folder and mark it as ``kind`` if it is not yet: for outputs that grow
    file by file (runs, sweeps, generations) rather than being swapped in whole."""
    path = claim_output(path, kind, option=option, inputs=inputs)
    path.mkdir(parents=True, exist_ok=True)
    if read_marker(path) is None:
        write_marker(path, kind)  # the folder is empty here: claim_output refused anything else
    return path


def remove_owned(path: str | Path, kind: str, option: str | None = None) -> None:
    """Delete a folder shoptune wrote as ``kind`` (checked as ``claim_output`` does); refuse anything else."""
    path = claim_output(path, kind, option=option)
    if path.is_dir():
        shutil.rmtree(path)


def remove_if_owned(path: str | Path, kind: str) -> bool:
    """Delete ``path`` when it is a ``kind`` folder holding only what shoptune wrote; else keep it. True if removed.

    For clean-ups that must never fail a finished run (old checkpoints): a folder the user put a file in stays.
    """
    try:
        remove_owned(path, kind)
    except OutputError:
        return False
    return True


# ------------------------------------------------------------------------------------------ single files
def _sidecar(path: Path) -> Path:
    return path.with_name(f".{path.name}{MARKER}")


def claim_file(
    path: str | Path, *, option: str | None = None, overwrite: bool = False, inputs: Iterable[str | Path] = ()
) -> Path:
    """Check a single-file output before work starts; return the path to write.

    A file that exists is replaced only when shoptune wrote it: listed by the marked folder it sits in, or, outside
    marked folders, unchanged since (its ``.NAME.shoptune`` sidecar records size and modification time); or with
    ``overwrite=True``. A link is refused; with
    ``overwrite=True`` the file it points to is written instead, and the link stays.
    """
    option = option or argument_label("out", default="--out")
    path = Path(path)
    _refuse_inputs(path, inputs, option)
    if path.is_dir():
        raise OutputError(f"{option} {path}: is a folder; give a file path")
    _check_parents(path, option)
    if path.is_symlink():
        if not overwrite:
            flag = argument_hint("overwrite", "True", default="--overwrite").removesuffix(" True")
            raise OutputError(f"{option} {path}: is a link; pass {flag} to write the file it points to")
        path = Path(os.path.realpath(path))
        if path.is_dir():
            raise OutputError(f"{option} {path}: is a folder; give a file path")
    if path.exists() and not overwrite and not _file_is_ours(path):
        flag = argument_hint("overwrite", "True", default="--overwrite").removesuffix(" True")
        raise OutputError(f"{option} {path}: exists and shoptune did not write it; pass {flag} to replace it")
    return path


def _file_is_ours(path: Path) -> bool:
    owner = _owner(Path(os.path.abspath(path)))
    if owner is not None:  # inside a marked folder: its list of single-file outputs says (not its own files)
        marker = read_marker(owner[0])
        listed = marker.get("outputs") if marker else None
        return isinstance(listed, list) and owner[1] in listed
    try:
        mark = json.loads(_sidecar(path).read_text(encoding="utf-8"))
        stat = path.stat()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(mark, dict) and mark.get("size") == stat.st_size and mark.get("mtime_ns") == stat.st_mtime_ns


def mark_file(path: str | Path) -> None:
    """Record that shoptune wrote ``path`` (what ``claim_file`` checks next time): in the list of the marked folder
    it sits in, else in a ``.NAME.shoptune`` sidecar holding its size and modification time."""
    path = Path(path)
    if _owner(Path(os.path.abspath(path))) is not None:
        record_written(path)
        record_written(path, key="outputs")  # replaceable by another single-file write, unlike the folder's own
        return
    stat = path.stat()
    mark = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    atomic = _temp_path(_sidecar(path))
    atomic.write_text(json.dumps(mark) + "\n", encoding="utf-8")
    os.replace(atomic, _sidecar(path))


# ------------------------------------------------------------------------------------------ folders
@contextlib.contextmanager
def staging_dir(
    final: str | Path, *, kind: str, option: str | None = None, inputs: Iterable[str | Path] = ()
) -> Iterator[Path]:
    """Build a folder under a temp name and swap it in for ``final`` on success (removed on failure).

    ``final`` is checked with ``claim_output`` first; the new folder gets the marker of ``kind``, listing its files.
    """
    final = claim_output(final, kind, option=option, inputs=inputs)
    final.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(final)
    tmp = _temp_path(final)
    _remove_marked(tmp)
    tmp.mkdir()
    _write_marker_file(tmp, {"kind": "staging", "format": MARKER_FORMAT, "files": []})  # known as ours if killed
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
        _remove_marked(old)
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


def claim_work(path: str | Path) -> bool:
    """Take one unit of work for this process: create the claim file ``path`` exclusively (recorded in its marked
    folder, so a resumed folder is not refused for it). False while another live process holds it; a claim left by
    a process that is gone (same host) is taken over. A claim from another host is never taken over: its process
    cannot be checked from here.

    Example:
        >>> import tempfile
        >>> claim = Path(tempfile.mkdtemp()) / "claims" / "arm-seed-13"
        >>> claim_work(claim), claim_work(claim)  # the same process may ask again
        (True, True)
        >>> release_work(claim); claim.exists()
        False
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    me = f"{socket.gethostname()} {os.getpid()}"
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        holder = path.read_text(encoding="utf-8").strip() if path.is_file() else ""
        host, _, pid = holder.rpartition(" ")
        if holder == me:
            return True
        if not holder:
            # Being written this instant by the process that created it, or left empty by one killed in between.
            return _older_than(path, CLAIM_GRACE_S) and _take_over(path)
        if host != socket.gethostname() or not pid.isdigit() or _alive(int(pid)):
            return False
        return _take_over(path)  # the holder is gone: its claim is stale
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(me)
    record_written(path)
    return True


def _take_over(path: Path) -> bool:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return claim_work(path)


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime > seconds
    except FileNotFoundError:
        return True


def release_work(path: str | Path) -> None:
    """Give back a unit taken with ``claim_work`` (the work is done, or failed and may be retried)."""
    path = Path(path)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    forget_written(path)


def clean_stale(final: str | Path) -> list[Path]:
    """Remove ``.NAME.tmp-PID`` / ``.NAME.old-PID`` leftovers beside ``final`` whose process is gone, and only those
    shoptune can tell are its own: a folder carrying its marker, a file listed by the marked folder it sits in. A
    file of the user's that merely has such a name is kept."""
    final = Path(final)
    removed: list[Path] = []
    if not final.parent.is_dir():
        return removed
    for entry in final.parent.iterdir():
        match = _STALE.match(entry.name)
        if not match or match["name"] != final.name or _alive(int(match["pid"])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            if read_marker(entry) is None:
                continue
            shutil.rmtree(entry, ignore_errors=True)
        else:
            if not _listed(entry):
                continue
            entry.unlink(missing_ok=True)
            forget_written(entry)
        removed.append(entry)
    return removed


def _listed(path: Path) -> bool:
    owner = _owner(Path(os.path.abspath(path)))
    marker = read_marker(owner[0]) if owner else None
    listed = marker.get("files") if marker else None
    return isinstance(listed, list) and owner is not None and owner[1] in listed


def _remove_marked(path: Path) -> None:
    """Clear the way for a temp or aside folder of this process: only one that carries shoptune's marker."""
    if not path.exists() and not path.is_symlink():
        return
    if path.is_dir() and not path.is_symlink() and read_marker(path) is not None:
        shutil.rmtree(path)
        return
    raise OutputError(f"{path}: in the way of shoptune's temp folder and not written by shoptune; move it aside")
