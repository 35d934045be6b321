"""Shared views of the offer-matching sources (Ditto, WDC gold standards, TailorMatch prompts).

Each subclass reads its own format into rows with ``left``, ``right`` (an offer: text or an attribute dict),
``label`` (a :class:`Label`) and says how to render an offer, which group keys a row has and what metadata to
keep; the two views are the same for all of them.

Example:
    >>> from shoptune.data.sources import get_source
    >>> sorted(get_source("ditto").views)
    ['match_yes_no', 'pairs']
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shoptune.data.readers import Row
from shoptune.data.sources.base import Source, ViewContext, view
from shoptune.records import Label, Record

MATCH_QUESTION = "Do the two product offers refer to the same real-world product? Answer yes or no."


class OfferPairSource(Source):
    """A source of offer-offer pairs with a match label; subclasses implement ``read`` and the three hooks."""

    default_view = "pairs"

    def offer_text(self, offer: Any, max_chars: int) -> str:
        raise NotImplementedError

    def pair_groups(self, row: Row) -> list[str]:
        raise NotImplementedError

    def pair_meta(self, row: Row) -> dict[str, Any]:
        return {}

    @view("pairs", "pair")
    def pairs(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Offer-offer matching on the 3-point scale (the label mapping is in the source's docstring)."""
        max_chars = int(ctx.param("max_chars", 300))
        for row in rows:
            left, right = self.offer_text(row["left"], max_chars), self.offer_text(row["right"], max_chars)
            yield ctx.pair(row, left, right, row["label"], groups=self.pair_groups(row), **self.pair_meta(row))

    @view("match_yes_no", "instruction")
    def match_yes_no(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Classification: do the two offers describe the same product? (yes / no)"""
        max_chars = int(ctx.param("max_chars", 300))
        for row in rows:
            left, right = self.offer_text(row["left"], max_chars), self.offer_text(row["right"], max_chars)
            yield ctx.instruction(
                row,
                instruction=MATCH_QUESTION,
                input=f"Offer 1: {left}\nOffer 2: {right}",
                options=["yes", "no"],
                output="yes" if row["label"] == Label.exact else "no",
                groups=self.pair_groups(row),
                **self.pair_meta(row),
            )
