"""Attribute-value targets as ExtractGPT and WDC PAVE ship them (``target_scores``), parsed and validated.

Both formats map an attribute to its acceptable values; ``"n/a"`` marks an attribute the offer does not state:

- ExtractGPT (AE-110k, OA-Mine): ``{"Brand": {"Diesel": 1}, "Weight": {"n/a": 1}}``
- WDC PAVE: ``{"Brand": {"Canon": {"pid": [0], "score": 1}}, "Closure": {"n/a": 1}}`` where ``pid`` says
  where the value occurs (0 = title, 1 = description).

A few AE-110k slots list ``n/a`` next to real values (``{"n/a": 1, "Snapback": 1}``): both answers are
accepted by the benchmark's scorer, so the value is the target and ``n/a`` stays in ``acceptable``.

Example:
    >>> row = {"_file": "t.jsonl", "_row": 1, "target_scores": {"Brand": {"Diesel": 1}, "Size": {"n/a": 1}}}
    >>> [(a.name, a.value, a.acceptable) for a in parse_target_scores(row)]
    [('Brand', 'Diesel', ['Diesel']), ('Size', 'n/a', ['n/a'])]
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from shoptune.data.readers import Row
from shoptune.errors import DataError

NA = "n/a"


@dataclass(frozen=True)
class AttributeTarget:
    """One attribute slot of an offer: its name, the target value and every acceptable answer."""

    name: str
    #: The answer to train on: the first acceptable value in file order, or "n/a".
    value: str
    #: Every answer the benchmark accepts (values in file order, then "n/a" if listed).
    acceptable: list[str]
    #: WDC only: where each value occurs (0 = title, 1 = description), by value.
    where: dict[str, list[int]] = field(default_factory=dict)

    @property
    def is_na(self) -> bool:
        return self.value == NA


def _fail(row: Row, field_name: str, message: str) -> DataError:
    return DataError(row.get("_file", "?"), row.get("_row", 0), field_name, message)


def _score(row: Row, where: str, raw: object) -> tuple[float, list[int]]:
    """A value's score (ExtractGPT: a number; WDC: ``{"pid": [...], "score": n}``) and its pid list."""
    if isinstance(raw, bool):
        raise _fail(row, where, f"expected a score, got {raw!r}")
    if isinstance(raw, int | float):
        return float(raw), []
    if isinstance(raw, dict):
        score = raw.get("score")
        if isinstance(score, bool) or not isinstance(score, int | float):
            raise _fail(row, f"{where}.score", f"expected a number, got {score!r}")
        pid = raw.get("pid", [])
        if not isinstance(pid, list) or not all(isinstance(p, int) and not isinstance(p, bool) for p in pid):
            raise _fail(row, f"{where}.pid", f"expected a list of 0/1 (title/description), got {pid!r}")
        return float(score), pid
    raise _fail(row, where, f"expected a score or {{pid, score}}, got {json.dumps(raw)[:60]}")


def parse_target_scores(row: Row, field_name: str = "target_scores") -> list[AttributeTarget]:
    """Validate ``row[field_name]`` and return its attribute slots in file order.

    An attribute with no values, a blank attribute or value name, or a non-numeric score is a DataError
    naming the row and ``target_scores.<attribute>``. Values with a score <= 0 are not acceptable answers.
    """
    raw = row.get(field_name)
    if raw is None:
        raise _fail(row, field_name, "missing field")
    if not isinstance(raw, dict):
        raise _fail(row, field_name, f"expected an object {{attribute: {{value: score}}}}, got {type(raw).__name__}")
    out: list[AttributeTarget] = []
    for name, values in raw.items():
        where = f"{field_name}.{name}"
        if not name.strip():
            raise _fail(row, where, "blank attribute name")
        if not isinstance(values, dict) or not values:
            raise _fail(row, where, f"expected a non-empty object {{value: score}}, got {json.dumps(values)[:60]}")
        accepted: list[str] = []
        pids: dict[str, list[int]] = {}
        has_na = False
        for value, score_raw in values.items():
            if not value.strip():
                raise _fail(row, where, "blank value")
            score, pid = _score(row, f"{where}.{value}", score_raw)
            if score <= 0:
                continue
            if value.strip().lower() == NA:
                has_na = True
                continue
            accepted.append(value)
            if pid:
                pids[value] = pid
        if not accepted and not has_na:
            raise _fail(row, where, "no value with a positive score")
        acceptable = accepted + ([NA] if has_na else [])
        out.append(AttributeTarget(name, accepted[0] if accepted else NA, acceptable, pids))
    return out
