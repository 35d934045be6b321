"""semiPQA data-to-text (amazon-science/contextual-product-qa): one product attribute -> a sentence.

Files: ``amazon_contextual_pqa/semiPQA/data-to-text/{train,dev,test_seen,test_unseen}.csv``,
TAB-separated with a header ``data, text``. ``data`` is an attribute in Amazon's semi-structured
notation, ``name: { key:value, ... }`` (several values joined by ``; ``); ``text`` is a human sentence
stating it.

A row whose attribute carries no value at all (``lens: { }``) and no sentence has nothing to
verbalise: it is dropped, not reported (the shipped ``test_unseen.csv`` has one). A blank sentence
for a non-empty attribute is a data error.

Example:
    >>> attribute_name('brand: { value:"Nike" }')
    'brand'
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import Row, iter_csv, require
from shoptune.data.sources import register
from shoptune.data.sources.base import Source, ViewContext, view
from shoptune.records import Record
from shoptune.text import clip, norm_key

COLUMNS = ["data", "text"]

INSTRUCTION = (
    "Rewrite the product attribute below as one fluent English sentence a shop assistant could say to a customer."
)

_EMPTY_VALUE = re.compile(r"^[^:{]*:\s*\{\s*\}\s*$")


def attribute_name(data: str) -> str:
    """The attribute's name: the text before the first colon (``item_weight: {...}`` -> ``item_weight``)."""
    return data.split(":", 1)[0].strip()


@register
class PqaDataToText(Source):
    name = "pqa_data_to_text"
    title = "semiPQA data-to-text (attribute in semi-structured notation -> natural sentence)"
    path_hint = "semiPQA/data-to-text/<split>.csv (TAB: data, text)"
    default_view = "data_to_text"

    def read(self, path: Path, log: ErrorLog) -> list[Row]:
        return self.valid_rows(iter_csv(path, required=COLUMNS, log=log, delimiter="\t"), _parse, log)

    @view("data_to_text", "instruction")
    def data_to_text(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Generation: verbalise one product attribute as a sentence."""
        max_chars = int(ctx.param("max_data_chars", 600))
        for row in rows:
            yield ctx.instruction(
                row,
                instruction=INSTRUCTION,
                input=clip(row["data"], max_chars),
                output=" ".join(row["text"].split()),
                # Identical attribute strings must not sit in train and test (the references differ
                # only in wording); the attribute name is kept as metadata for per-attribute analysis.
                groups=[f"d:{norm_key(row['data'])}"],
                attribute=attribute_name(row["data"]),
            )


def _parse(row: Row) -> Row | None:
    data = require(row, "data")
    if not row["text"].strip() and _EMPTY_VALUE.match(data.strip()):
        return None  # an attribute with no value and no sentence: nothing to learn from
    require(row, "text")
    return row
