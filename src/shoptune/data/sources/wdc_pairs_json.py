"""WDC Products / TailorMatch structured offer pairs: the gold-standard format of ``*-gs.json.gz``.

One pair per JSON line (gzip optional, ``.json``/``.jsonl``/``.json.gz``; a single JSON array of such
objects is accepted too), e.g.::

    {"id_left": 61830419, "brand_left": null, "title_left": "MultiPlus C 12/2000/80-30", "price_left": "1720.26",
     "priceCurrency_left": "AUD", "cluster_id_left": 4739100, "id_right": ..., "title_right": ..., ...,
     "label": 0, "pair_id": "61830419#18905357", "is_hard_negative": true}

The offer attributes are whatever ``<attr>_left`` / ``<attr>_right`` keys the file has (WDC: brand,
title, description, price, priceCurrency; Abt-Buy: name, description, price; Walmart-Amazon: title,
category, brand, modelno, price); ``id`` and ``cluster_id`` are identifiers, not shown. Any value may be
null, empty or a number (titles included); a side needs at least one non-empty attribute. The same
records as a CSV with a header (``*_left``/``*_right`` columns plus ``label``, e.g.
``walmart-amazon-valid.csv``) are read too. ``is_hard_negative`` and ``pair_id`` are optional.

Label derivation: label 1 -> exact; label 0 with ``is_hard_negative`` true -> partial (a corner case:
a very similar offer of a different product, e.g. another capacity or model year); any other 0 ->
irrelevant. Files without ``is_hard_negative`` (every TailorMatch file in the shared data) therefore
yield only exact/irrelevant.

Example:
    >>> label_of(0, True), label_of("1", None), label_of(0, None)
    (<Label.partial: 'partial'>, <Label.exact: 'exact'>, <Label.irrelevant: 'irrelevant'>)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import Row, iter_csv, iter_jsonl, read_bytes, read_json
from shoptune.data.sources import register
from shoptune.data.sources._entity import render_entity, title_of, value_text
from shoptune.data.sources._offer_pairs import OfferPairSource
from shoptune.errors import DataError
from shoptune.records import Label
from shoptune.text import norm_key

SIDES = ("left", "right")
#: Per-side identifiers: kept for grouping, never shown as attributes.
ID_ATTRS = frozenset({"id", "cluster_id"})
_TRUE = {"1", "true", "yes", "t", "y", "1.0"}
_FALSE = {"0", "false", "no", "f", "n", "0.0", ""}


def label_of(match: Any, hard_negative: bool | None) -> Label:
    """The 3-point label of one pair (see the module docstring)."""
    if str(match).strip() in {"1", "1.0", "True", "true"}:
        return Label.exact
    return Label.partial if hard_negative else Label.irrelevant


def split_sides(row: Row) -> tuple[dict[str, str], dict[str, str]]:
    """{attr: text} for the left and the right offer, in the file's key order.

    Example:
        >>> split_sides({"id_left": 1, "title_left": "A", "price_left": 9.5, "title_right": None, "label": 0})
        ({'title': 'A', 'price': '9.5'}, {'title': ''})
    """
    out: tuple[dict[str, str], dict[str, str]] = ({}, {})
    for key, value in row.items():
        for side, attrs in zip(SIDES, out, strict=True):
            suffix = f"_{side}"
            if key.endswith(suffix) and len(key) > len(suffix) and key[: -len(suffix)] not in ID_ATTRS:
                attrs[key[: -len(suffix)]] = value_text(value)
    return out


@register
class WdcPairsJson(OfferPairSource):
    name = "wdc_pairs_json"
    title = "WDC Products / TailorMatch offer pairs (<attr>_left/<attr>_right, label 0/1, is_hard_negative)"
    path_hint = "a JSON-lines pair file such as wdcproducts80cc20rnd050un_test_gs.json.gz (or the same as CSV)"
    default_view = "pairs"

    def read(self, path: Path, log: ErrorLog) -> list[Row]:
        return self.valid_rows(_checked(path, _raw_rows(Path(path), log)), _parse, log)

    def offer_text(self, offer: dict[str, str], max_chars: int) -> str:
        return render_entity(offer, max_chars)

    def pair_groups(self, row: Row) -> list[str]:
        return row["groups"]

    def pair_meta(self, row: Row) -> dict[str, Any]:
        return {"pair_id": row["pair_id"], "is_hard_negative": row["hard_negative"]}


def _raw_rows(path: Path, log: ErrorLog) -> Iterator[Row]:
    """Rows from JSON lines, a JSON array, or a CSV with a header, each with `_row` and `_file`."""
    suffixes = [s.lower() for s in path.suffixes]
    if ".csv" in suffixes:
        yield from iter_csv(path, required=["label"], log=log)
        return
    head = read_bytes(path).lstrip()[:1]  # also rejects a missing or empty file
    if head != b"[":
        yield from iter_jsonl(path, log=log)
        return
    data = read_json(path)
    for number, obj in enumerate(data, start=1):
        if not isinstance(obj, dict):
            log.handle(DataError(path, number, "-", f"expected a JSON object, got {type(obj).__name__}"))
            continue
        yield {**obj, "_row": number, "_file": str(path)}


def _checked(path: Path, rows: Iterator[Row]) -> Iterator[Row]:
    """Fail on the first record if the file has no `<attr>_left`/`<attr>_right` fields (wrong format)."""
    first = True
    for row in rows:
        if first:
            left, right = split_sides(row)
            if not left or not right:
                found = ", ".join(k for k in row if not k.startswith("_"))
                raise DataError(
                    path,
                    0,
                    "<attr>_left/<attr>_right",
                    f"missing column: no offer attributes for both sides (found: {found})",
                )
            first = False
        yield row


def _parse(row: Row) -> Row:
    file, number = row["_file"], row["_row"]
    if row.get("label") is None or str(row["label"]).strip() == "":
        raise DataError(file, number, "label", "empty value")
    match = str(row["label"]).strip()
    if match not in {"0", "1", "0.0", "1.0", "True", "False", "true", "false"}:
        raise DataError(file, number, "label", f"unknown label {row['label']!r} (expected one of: 0, 1)")
    hard = _flag(row, "is_hard_negative")
    left, right = split_sides(row)
    for side, attrs in zip(SIDES, (left, right), strict=True):
        if not any(attrs.values()):
            lead = next((k for k in ("title", "name") if k in attrs), next(iter(attrs), "<attr>"))
            raise DataError(file, number, f"{lead}_{side}", "every attribute of this offer is empty")
    ids = [value_text(row.get(f"id_{side}")) for side in SIDES]
    groups = [
        f"p:{ident}" if ident else f"p:{norm_key(title_of(attrs) or render_entity(attrs))}"
        for ident, attrs in zip(ids, (left, right), strict=True)
    ]
    pair_id = value_text(row.get("pair_id")) or ("#".join(ids) if any(ids) else "")
    return {
        "_row": number,
        "_file": file,
        "left": left,
        "right": right,
        "groups": groups,
        "pair_id": pair_id,
        "label": label_of(match in {"1", "1.0", "True", "true"}, hard),
        "hard_negative": hard,
    }


def _flag(row: Row, field: str) -> bool | None:
    """An optional boolean column (JSON true/false, 0/1 or their strings); None when absent or null."""
    value = row.get(field)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return None if text == "" else False
    raise DataError(row["_file"], row["_row"], field, f"not a boolean: {value!r}")
