"""Render a structured product offer (attribute -> value) as one short line of text.

Shared by the entity-matching sources (``ditto``, ``wdc_pairs_json``): both hold offers as attribute
dicts whose keys differ per benchmark (title/name, brand/manufacturer, price, description, ...).

Example:
    >>> render_entity({"price": "24.98", "title": "lenovo backpack", "brand": "lenovo", "modelno": ""})
    'lenovo backpack | price: 24.98 | brand: lenovo'
"""

from __future__ import annotations

import math
from typing import Any

from shoptune.text import clip

#: Attribute names that hold the offer's name; the first non-empty one leads the rendered text.
TITLE_KEYS: tuple[str, ...] = ("title", "name", "product_title", "product_name")
#: Long free-text attributes go last, so clipping cuts them rather than the model number or the price.
LONG_KEYS: tuple[str, ...] = ("description", "spectablecontent", "desc")


def value_text(value: Any) -> str:
    """A raw attribute value as text; None, NaN and blank become ''.

    Example:
        >>> value_text(5099.0), value_text(None), value_text(" 12 "), value_text(0.25)
        ('5099', '', '12', '0.25')
    """
    if value is None or isinstance(value, bool):
        return "" if value is None else str(value).lower()
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, dict)):
        return ""  # nested values are not part of any offer format we read
    return " ".join(str(value).split())


def title_of(attrs: dict[str, str]) -> str:
    """The offer's title (or name); '' when it has none."""
    for key in TITLE_KEYS:
        if attrs.get(key):
            return attrs[key]
    return ""


def render_entity(attrs: dict[str, str], max_chars: int = 300) -> str:
    """Title first, then ``attr: value`` for the other non-empty attributes, long texts last.

    A zero price means "unknown" in the Magellan sets, so it is left out rather than shown as free.
    """
    title = title_of(attrs)
    parts = [title] if title else []
    short, long = [], []
    for key, value in attrs.items():
        if not value or value == title or key in TITLE_KEYS:
            continue
        if key.lower().startswith("price") and _is_zero(value):
            continue
        if key.lower() == "pricecurrency" and attrs.get("price") and not _is_zero(attrs["price"]):
            continue  # shown with the price
        if key.lower() == "price" and attrs.get("priceCurrency"):
            value = f"{value} {attrs['priceCurrency']}"
        (long if key.lower() in LONG_KEYS else short).append(f"{key}: {value}")
    text = " | ".join(parts + short + long)
    return clip(text, max_chars)


def _is_zero(value: str) -> bool:
    try:
        return float(value) == 0.0
    except ValueError:
        return False
