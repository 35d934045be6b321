"""Ditto entity-matching files (Magellan Structured/Dirty/Textual sets, WDC LSPC 2019): one pair a line.

Format (``train.txt``, ``valid.txt``, ``test.txt``, WDC ``train.txt.small`` ...; UTF-8, tab-separated)::

    COL title VAL sony 16gb sd card COL brand VAL sony COL price VAL 0.0 \\t COL title VAL ... \\t 0

Each side serialises one offer as ``COL <attr> VAL <value>`` repeated; values may be empty (``VAL  COL``)
and may themselves contain the word ``COL``: it only starts a new attribute when it is followed by an
attribute name and ``VAL``. The third field is the label: ``1`` = same real-world product, ``0`` = not.

Label derivation: 1 -> exact, 0 -> irrelevant. The files carry no graded or hard-negative information,
so no pair is ever labelled partial (WDC negatives are often same-category "corner cases", but nothing
in the file says which).

Example:
    >>> parse_entity("COL title VAL usb cable COL brand VAL  COL price VAL 4.99 ")
    {'title': 'usb cable', 'brand': '', 'price': '4.99'}
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import Row, decode_lines
from shoptune.data.sources import register
from shoptune.data.sources._entity import render_entity, title_of
from shoptune.data.sources._offer_pairs import OfferPairSource
from shoptune.errors import DataError
from shoptune.records import Label
from shoptune.text import norm_key

# `COL <attr> VAL` where attr is one token that is not itself a marker; anything else is value text.
_ATTR = re.compile(r"(?:^|\s)COL\s+(?!COL\b|VAL\b)(\S+)\s+VAL(?=\s|$)")
# WDC LSPC titles carry RDF literal debris: `"GoPro HDMI Cable"@en Cable ... - Filmtools"@en`.
_LANG_TAG = re.compile(r'"?@[a-z]{2}(?:-[A-Za-z]{2,4})?(?=\s|$|")')
_LABELS = {"1": Label.exact, "0": Label.irrelevant}


def parse_entity(text: str) -> dict[str, str] | None:
    """Split a ``COL a VAL x COL b VAL y`` serialisation into {attr: value}; None if it is not one.

    Example:
        >>> parse_entity("COL name VAL usb hub COL description VAL 4 port, COL blue COL price VAL ")
        {'name': 'usb hub', 'description': '4 port, COL blue', 'price': ''}
    """
    matches = list(_ATTR.finditer(text))
    if not matches or text[: matches[0].start()].strip():
        return None
    attrs: dict[str, str] = {}
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        value = " ".join(text[match.end() : end].split())
        name = match.group(1)
        # A repeated attribute keeps both values rather than silently dropping one.
        attrs[name] = f"{attrs[name]} {value}".strip() if name in attrs else value
    return attrs


def clean_value(value: str) -> str:
    """Drop WDC's RDF language tags and stray quotes: ``"Nike Metcon 2"@en`` -> ``Nike Metcon 2``."""
    value = _LANG_TAG.sub("", value).replace('"', " ")
    return " ".join(value.split())


@register
class Ditto(OfferPairSource):
    name = "ditto"
    title = "Ditto entity matching (COL/VAL-serialised offer pairs, label 0/1)"
    path_hint = "a Ditto split file, e.g. er_magellan/Textual/Abt-Buy/train.txt or wdc/computers/valid.txt.small"
    default_view = "pairs"

    def read(self, path: Path, log: ErrorLog) -> list[Row]:
        return self.valid_rows(_lines(path, log), _parse, log)

    def offer_text(self, offer: dict[str, str], max_chars: int) -> str:
        return render_entity(offer, max_chars)

    def pair_groups(self, row: Row) -> list[str]:
        return _groups(row)

    def pair_meta(self, row: Row) -> dict[str, str]:
        return {"dataset": row["dataset"]}


def _groups(row: Row) -> list[str]:
    return [
        f"p:{norm_key(title_of(row['left']) or render_entity(row['left']))}",
        f"p:{norm_key(title_of(row['right']) or render_entity(row['right']))}",
    ]


def _lines(path: Path, log: ErrorLog) -> Iterator[Row]:
    """One raw row per non-blank line; `_row` is the line number, so errors point into the file."""
    for number, text in decode_lines(path, "utf-8", log):
        line = text.rstrip("\r\n")
        if line.strip():
            yield {"_row": number, "_file": str(path), "line": line}


def _parse(row: Row) -> Row:
    file, number, line = row["_file"], row["_row"], row["line"]
    fields = line.split("\t")
    if len(fields) < 3:
        missing = "right" if len(fields) == 1 or fields[-1].strip() in _LABELS else "label"
        raise DataError(file, number, missing, f"row cut off: {len(fields)} of 3 tab-separated fields")
    label_text = fields[-1].strip()
    if label_text not in _LABELS:
        raise DataError(file, number, "label", f"unknown label {label_text!r} (expected one of: 0, 1)")
    left_text, right_text = _split_sides(fields[:-1], file, number)
    out: Row = {"_row": number, "_file": file, "label": _LABELS[label_text], "dataset": Path(file).parent.name}
    for side, text in (("left", left_text), ("right", right_text)):
        attrs = parse_entity(text)
        if attrs is None:
            raise DataError(file, number, side, f"not a 'COL <attr> VAL <value>' serialisation: {text[:60]!r}")
        attrs = {key: clean_value(value) for key, value in attrs.items()}
        if not any(attrs.values()):
            raise DataError(file, number, side, "every attribute value is empty")
        out[side] = attrs
    return out


def _split_sides(parts: list[str], file: str, number: int) -> tuple[str, str]:
    """The two entity fields; a tab inside a value is tolerated when only one tab starts a `COL`."""
    if len(parts) == 2:
        return parts[0], parts[1]
    starts = [i for i in range(1, len(parts)) if parts[i].lstrip().startswith("COL ")]
    if len(starts) != 1:
        raise DataError(file, number, "-", f"{len(parts) + 1} tab-separated fields, expected 3")
    cut = starts[0]
    return "\t".join(parts[:cut]), "\t".join(parts[cut:])
