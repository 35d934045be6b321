"""The pieces a report is made of: sections of parts, each part a list of blocks the template knows how to draw.

Kinds (``shoptune.reports.kinds``) turn a folder into a ``Section``; the template (``templates/report.html.j2``)
draws it. Nothing here knows about HTML beyond CSS class names.

Example:
    >>> t = Table(["task", "score"], [["a", num(0.5)]])
    >>> t.rows[0][1].text, t.rows[0][1].cls
    ('0.500', 'num')
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Cell:
    text: str
    cls: str = ""
    title: str = ""


@dataclass
class Table:
    header: list[str]
    rows: list[list[Cell | str]]
    caption: str = ""
    #: Per-row CSS classes (e.g. "total" for a mean row); empty = none.
    row_classes: list[str] = field(default_factory=list)
    #: When set, the table is folded away under this line (long reference tables such as source files).
    folded: str = ""
    type: str = "table"

    def __post_init__(self) -> None:
        self.rows = [[c if isinstance(c, Cell) else Cell(str(c)) for c in row] for row in self.rows]
        self.row_classes = self.row_classes or [""] * len(self.rows)


@dataclass
class Figure:
    svg: str
    caption: str = ""
    type: str = "figure"


@dataclass
class Note:
    text: str
    level: str = "info"  # info | warn
    type: str = "note"


@dataclass
class Text:
    text: str
    type: str = "text"


@dataclass
class KeyValues:
    items: list[tuple[str, str]]
    type: str = "keyvalues"


@dataclass
class Code:
    text: str
    title: str
    type: str = "code"


@dataclass
class Part:
    title: str
    blocks: list[Any] = field(default_factory=list)
    anchor: str = ""


@dataclass
class Section:
    """One recognised folder: what it is, its parts, and where it came from."""

    title: str
    kind: str
    path: str
    parts: list[Part] = field(default_factory=list)
    provenance: list[Any] = field(default_factory=list)
    anchor: str = ""


# ============================================================================================ cells
def fmt(value: Any, digits: int = 3) -> str:
    """A number as shown in tables: floats to ``digits`` places, ints with thousands separators."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value != 0 and abs(value) < 10 ** (-digits):
            return f"{value:.2e}"
        return f"{value:.{digits}f}"
    if value is None:
        return "–"
    return str(value)


def num(value: Any, digits: int = 3) -> Cell:
    return Cell(fmt(value, digits), "num")


def ci(interval: Any, digits: int = 3, signed: bool = False) -> str:
    if not is_interval(interval):
        return "–"
    lo, hi = interval
    spec = f"+.{digits}f" if signed else f".{digits}f"
    return f"[{lo:{spec}}, {hi:{spec}}]"


def with_ci(value: Any, interval: Any, digits: int = 3) -> Cell:
    """``0.512 [0.40, 0.61]``, right-aligned."""
    if not isinstance(value, int | float):
        return Cell("–", "num")
    return Cell(f"{value:.{digits}f} {ci(interval, digits)}", "num")


def delta(entry: dict[str, Any] | None, digits: int = 3) -> Cell:
    """A paired difference ``+0.050 [+0.010, +0.090]``; coloured when its interval excludes 0."""
    if not entry or not isinstance(entry.get("delta"), int | float):
        return Cell("–", "num")
    d, interval = entry["delta"], entry.get("ci95")
    text = f"{d:+.{digits}f} {ci(interval, digits, signed=True)}"
    cls = "num"
    if is_interval(interval):
        if interval[0] > 0:
            cls += " pos"
        elif interval[1] < 0:
            cls += " neg"
    if entry.get("finding"):
        text += " ★"
        cls += " finding"
    if entry.get("seed_inference") is False:
        text += " (items only)"
    tip = (
        f"finding: {entry.get('correction', 'adjusted')} p < 0.05 with 3 or more seeds" if entry.get("finding") else ""
    )
    return Cell(text, cls, tip)


def pval(value: Any) -> Cell:
    if not isinstance(value, int | float):
        return Cell("–", "num")
    text = "<0.001" if value < 0.001 else f"{value:.3f}"
    return Cell(text, "num" + (" sig" if value < 0.05 else ""))


def is_interval(value: Any) -> bool:
    return isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, int | float) for v in value)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
