"""WDC PAVE product offers (title + description) with attribute values, raw or normalised: JSON lines.

Files: ``wdc_pave/processed_datasets/<variant>/{train,train_large,test}.jsonl`` with variants
``wdc_with_all_attributes`` (values as written), ``wdc_with_all_attributes_normalized`` (the same slots with
normalised values) and ``wdc_normalized`` (only the 24 attributes that need normalisation, normalised).
``train`` is a subset of ``train_large``; ``train_large`` and ``test`` share no offer and no product cluster.

Fields: ``id``, ``cluster_id`` (offers of one product), ``category`` (5 categories), ``input_title``,
``input_description``, ``target_scores`` ``{attribute: {value: {"pid": [0|1], "score": 1}}}`` or
``{attribute: {"n/a": 1}}`` (pid 0 = the value occurs in the title, 1 = in the description), ``url``.

Example:
    >>> from shoptune.data.sources import get_source
    >>> from shoptune.data.errorlog import ErrorLog
    >>> rows = get_source("wdc_pave").read("wdc_with_all_attributes/test.jsonl", ErrorLog())  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import Row, iter_jsonl, require
from shoptune.data.sources import register
from shoptune.data.sources._attributes import parse_target_scores
from shoptune.data.sources.base import Source, ViewContext, view
from shoptune.data.sources.extractgpt import value_instruction
from shoptune.errors import DataError
from shoptune.records import Record
from shoptune.text import clip, norm_key

#: The benchmark's five categories: the label set of `category_cls` (others found in a file are added).
CATEGORIES = (
    "Computers And Accessories",
    "Grocery And Gourmet Food",
    "Home And Garden",
    "Jewelry",
    "Office Products",
)

NORMALIZED_NOTE = (
    " Give the value in its normalised form (full names instead of abbreviations, standard units and "
    "number formats, the store's product-type names)."
)


def offer_text(row: Row, max_chars: int) -> str:
    """Title and clipped description, the model input of every view.

    >>> offer_text({"input_title": "HP Xeon E5335", "input_description": "Intel Xeon E5335 kit"}, 600)
    'Title: HP Xeon E5335\\nDescription: Intel Xeon E5335 kit'
    """
    description = clip(row["input_description"], max_chars)
    return f"Title: {row['input_title']}" + (f"\nDescription: {description}" if description else "")


@register
class WdcPave(Source):
    name = "wdc_pave"
    title = "WDC PAVE attribute value extraction / normalisation (offer title + description)"
    path_hint = "processed_datasets/<variant>/{train,train_large,test}.jsonl (JSON lines with target_scores)"
    default_view = "attribute_value"

    def read(self, path: Path, log: ErrorLog) -> list[Row]:
        return self.valid_rows(iter_jsonl(path, log=log), _parse, log)

    @view("attribute_value", "instruction")
    def attribute_value(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Extraction: one record per (offer, attribute): the value stated in the offer, or n/a.

        Params: ``normalized`` (default false; set it for the ``*normalized`` files: the instruction then
        asks for the normalised value), ``include_na`` (default true), ``max_description_chars`` (600).
        ``output`` is the first acceptable value; ``metadata.acceptable`` lists every accepted answer and
        ``metadata.where`` the pid (0 title, 1 description) of each value.
        """
        normalized = bool(ctx.param("normalized", False))
        include_na = bool(ctx.param("include_na", True))
        max_chars = int(ctx.param("max_description_chars", 600))
        for row in rows:
            text = offer_text(row, max_chars)
            for attr in row["attributes"]:
                if attr.is_na and not include_na:
                    continue
                instruction = value_instruction(attr.name, row["category"], where="product offer")
                yield ctx.instruction(
                    row,
                    instruction=instruction + (NORMALIZED_NOTE if normalized else ""),
                    input=text,
                    output=attr.value,
                    groups=row["groups"],
                    attribute=attr.name,
                    category=row["category"],
                    acceptable=attr.acceptable,
                    where=attr.where,
                    offer_id=row["id"],
                )

    @view("category_cls", "instruction")
    def category_cls(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Classification: which of the benchmark's product categories does the offer belong to?

        The label set is the five WDC PAVE categories plus any other category found in the file (param
        ``categories`` overrides it), sorted, so every split of a task offers the same options.
        """
        labels = ctx.param("categories") or sorted(set(CATEGORIES) | {row["category"] for row in rows})
        max_chars = int(ctx.param("max_description_chars", 600))
        for row in rows:
            yield ctx.instruction(
                row,
                instruction="Which product category does this offer from an online shop belong to?",
                input=offer_text(row, max_chars),
                options=list(labels),
                output=row["category"],
                groups=row["groups"],
                offer_id=row["id"],
            )


def _parse(row: Row) -> Row:
    offer_id = row.get("id")
    if offer_id is None or isinstance(offer_id, bool) or str(offer_id).strip() == "":
        raise DataError(row["_file"], row["_row"], "id", "empty value")
    row["id"] = str(offer_id)
    row["input_title"] = require(row, "input_title").strip()
    description = row.get("input_description")
    if description is not None and not isinstance(description, str):
        found = type(description).__name__
        raise DataError(row["_file"], row["_row"], "input_description", f"expected text, got {found}")
    row["input_description"] = (description or "").strip()
    row["category"] = require(row, "category").strip()
    row["attributes"] = parse_target_scores(row)
    # Offers of one product (cluster) must stay on one side; the title key catches the same offer text
    # under another id. Clusters are floats in the files (14208681.0): keep their integer spelling.
    row["groups"] = [f"p:{_cluster_key(row)}", f"t:{norm_key(row['input_title'])}"]
    return row


def _cluster_key(row: Row) -> str:
    """The product cluster (``14208681.0`` -> ``14208681``); the offer's own id when it has none.

    >>> _cluster_key({"cluster_id": 14208681.0, "id": "7"}), _cluster_key({"cluster_id": None, "id": "7"})
    ('14208681', 'id7')
    """
    cluster = row.get("cluster_id")
    if isinstance(cluster, float):
        if math.isnan(cluster):
            cluster = None
        elif cluster.is_integer():
            cluster = int(cluster)
    if cluster is None or isinstance(cluster, bool) or str(cluster).strip() == "":
        return f"id{row['id']}"
    return str(cluster).strip()
