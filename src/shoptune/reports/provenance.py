"""Where a result came from: the config, the data manifest (sources and their sha256), the shoptune version and
git commit, the machine, the date and the wall time.

Example:
    >>> dict(environment())["shoptune"] == __import__("shoptune").__version__
    True
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from shoptune.reports.blocks import Code, KeyValues, Note, Table, fmt


def environment() -> list[tuple[str, str]]:
    """The shoptune that wrote the report and the machine it ran on."""
    import shoptune

    return [
        ("shoptune", shoptune.__version__),
        ("git commit", git_commit()),
        ("python", platform.python_version()),
        ("torch", _version("torch")),
        ("platform", platform.platform()),
        ("CPUs", str(os.cpu_count() or "unknown")),
        ("report written", now()),
    ]


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


@lru_cache(maxsize=1)
def git_commit() -> str:
    """The commit of the shoptune checkout this code runs from (``-dirty`` with uncommitted changes to tracked
    files); "unknown" when shoptune is not running from a git checkout or git is missing."""
    import shoptune

    package = Path(shoptune.__file__).resolve().parent
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "-C", str(package), *args], capture_output=True, text=True, timeout=10, env=env, check=False
        )

    try:
        tracked = git("ls-files", "--error-unmatch", "__init__.py")  # shoptune's own file, not a parent repo's
        head = git("rev-parse", "HEAD")
        if tracked.returncode or head.returncode:
            return "unknown"
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".")
        return head.stdout.strip() + ("-dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def mtime(path: Path) -> str | None:
    """A file's modification time (when a run wrote its summary), or None."""
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return None
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "not recorded"
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes = seconds / 60
    return f"{minutes:.1f} min" if minutes < 120 else f"{minutes / 60:.2f} h"


def marker_version(folder: Path) -> str | None:
    try:
        return json.loads((folder / ".shoptune").read_text(encoding="utf-8")).get("shoptune_version")
    except (OSError, ValueError, AttributeError):
        return None


def provenance_blocks(
    folder: Path,
    *,
    config: tuple[str, Any] | None = None,
    data_dir: str | Path | None = None,
    recorded: list[tuple[str, str]] | None = None,
) -> list[Any]:
    """The provenance of one folder: what was recorded (date, wall time, device), its config and data manifest.

    ``config`` is (title, value): text is shown as is, anything else as YAML. ``data_dir`` is the data build the
    config points to; its ``manifest.json`` gives the sources and their sha256 when it is reachable from here.
    """
    items = [("folder", str(folder))]
    version = marker_version(folder)
    if version:
        items.append(("written by shoptune", version))
    items += recorded or []
    blocks: list[Any] = [KeyValues(items)]
    if config is not None:
        title, value = config
        text = value if isinstance(value, str) else yaml.safe_dump(value, sort_keys=False, allow_unicode=True)
        blocks.append(Code(text, title))
    else:
        blocks.append(Note("No config recorded in this folder."))
    blocks += manifest_blocks(data_dir)
    return blocks


def manifest_blocks(data_dir: str | Path | None) -> list[Any]:
    if data_dir is None:
        return [Note("Data manifest: not recorded.")]
    path = Path(data_dir) / "manifest.json"
    if not path.is_file():
        return [Note(f"Data manifest: {path} is not reachable from here.")]
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        sources = manifest.get("sources") or {}
        tasks = manifest.get("tasks") or {}
    except (OSError, ValueError, AttributeError) as exc:
        return [Note(f"Data manifest {path}: unreadable ({exc})", "warn")]
    info = [("manifest", str(path))]
    for key in ("data_root", "created", "seed", "on_error", "shoptune_version", "skipped_rows_total"):
        if key in manifest:
            info.append((key.replace("_", " "), fmt(manifest[key])))
    info.append(("tasks", str(len(tasks))))
    rows = [[name, _sha(digest)] for name, digest in sorted(sources.items())]
    table = Table(["source file", "sha256"], rows, folded=f"{len(rows)} source files and their sha256")
    return [KeyValues(info), table] if rows else [KeyValues(info), Note("The manifest lists no source files.")]


def _sha(digest: Any) -> Any:
    from shoptune.reports.blocks import Cell

    text = str(digest)
    return Cell(text[:16] + "…" if len(text) > 16 else text, "mono", text)
