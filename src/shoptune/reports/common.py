"""Helpers every report section uses: reading a run's files, and turning a part that cannot be read into a
visible note instead of a failed report.

Example:
    >>> flatten({"accuracy": 0.5, "per_label_f1": {"exact": 0.7}, "_dist": [1]})
    {'accuracy': 0.5, 'per_label_f1.exact': 0.7}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shoptune.errors import ShoptuneError
from shoptune.reports.blocks import Cell, Note, Part, ci, fmt, is_interval, num, slug
from shoptune.validate import is_number

#: The held-in/held-out comparison `experiments heldout` writes (in RUN/eval/ or its --out).
HELDOUT_FILE = "comparison.json"


#: Folder names that say little alone: a report names them with their parents (``atomic/seed-13/run``).
_GENERIC = {"run", "eval", "test", "dev", "train", "model", "sft", "relevance", "compare", "tuned", "base", "data"}


def display_name(path: Path) -> str:
    """A short name for a folder: its own name, with parents while that is generic (at most three parts).

    >>> display_name(Path("runs/sweeps/chain_of_task/arms/atomic/seed-13/run"))
    'atomic/seed-13/run'
    """
    parts = Path(path).resolve().parts
    name = [parts[-1]]
    for parent in reversed(parts[:-1]):
        if len(name) == 3 or not (name[0] in _GENERIC or name[0].startswith("seed-")):
            break
        name.insert(0, parent)
    return "/".join(name)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSON-lines file. A last line cut off (a writer still appending) is left out; a bad line
    before it is a one-line ShoptuneError naming the file and line."""
    rows = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                break
            raise ShoptuneError(f"{path}: line {number} is not JSON") from None
        if isinstance(row, dict):
            rows.append(row)
    return rows


@contextmanager
def attempt(blocks: list[Any], what: str) -> Iterator[None]:
    """Run one part of a section; if its files cannot be read, say so in the report instead of failing it."""
    try:
        yield
    except (ShoptuneError, OSError, KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, KeyError):
            reason = f"missing key {exc}"
        blocks.append(Note(f"Could not show {what}: {reason}", "warn"))


def make_part(title: str, anchor_base: str, build: Callable[[list[Any]], None], what: str | None = None) -> Part:
    part = Part(title, [], f"{anchor_base}-{slug(title)}")
    with attempt(part.blocks, what or title.lower()):
        build(part.blocks)
    return part


def finite(value: Any) -> bool:
    """A finite number (the cells' test for a value they can print)."""
    return is_number(value, finite=True)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested metric dicts as ``{"a.b": value}``: numbers, [lo, hi] intervals, short strings and lists."""
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        for key, inner in value.items():
            if str(key).startswith(("_", "confusion_matrix")):  # drawn as figures; private
                continue
            out.update(flatten(inner, f"{prefix}{key}."))
        return out
    out[prefix.rstrip(".")] = value
    return out


def generic_cell(value: Any) -> Cell:
    if isinstance(value, bool):
        return Cell(fmt(value))
    if isinstance(value, int | float):
        return num(value, 4)
    if is_interval(value):
        return Cell(ci(value, 4), "num")
    if isinstance(value, list | dict):
        text = json.dumps(value, ensure_ascii=False)
        return Cell(text if len(text) <= 60 else text[:59] + "…", "mono", text[:2000])
    if value is None:
        return Cell("–")
    return Cell(str(value))
