"""ExtractGPT attribute-value extraction sets (AE-110k, OA-Mine): JSON lines of product titles + targets.

Files: ``ae110k_oamine_extractgpt/{ae-110k,oa-mine}/{train,train_0.2,test}.jsonl`` (``train_0.2`` is a subset
of ``train``). One object per line with ``input`` (the product title), ``category`` and ``target_scores``
``{attribute: {acceptable value: 1}}``, where ``{"n/a": 1}`` means the title does not state the attribute.

Splits: the built-in tasks keep the benchmark's own split (``train.jsonl`` -> train, ``test.jsonl`` -> test)
so scores stay comparable with the ExtractGPT paper; the source ships no dev file, so their dev split is
empty (``train_0.2.jsonl`` cannot serve as dev: every one of its offers is also in ``train.jsonl``).

Example:
    >>> from shoptune.data.sources import get_source
    >>> from shoptune.data.errorlog import ErrorLog
    >>> rows = get_source("extractgpt").read("ae-110k/test.jsonl", ErrorLog())  # doctest: +SKIP
    >>> rows[0]["attributes"][1].value  # doctest: +SKIP
    'YTQHXY'
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import Row, iter_jsonl, require
from shoptune.data.sources import register
from shoptune.data.sources._attributes import NA, parse_target_scores
from shoptune.data.sources.base import Source, ViewContext, view
from shoptune.records import Record
from shoptune.text import norm_key


def value_instruction(attribute: str, category: str, where: str = "product title") -> str:
    """The per-attribute extraction question (shared with the WDC PAVE adapter).

    >>> print(value_instruction("Brand Name", "Lure"))  # doctest: +NORMALIZE_WHITESPACE
    Extract the value of the attribute 'Brand Name' from the product title of this Lure product.
    Copy the value as it is written; if the product title does not state it, answer n/a.
    """
    return (
        f"Extract the value of the attribute '{attribute}' from the {where} of this {category} product. "
        f"Copy the value as it is written; if the {where} does not state it, answer {NA}."
    )


def json_instruction(attributes: list[str], where: str = "product title") -> str:
    """ExtractGPT's own multi-attribute prompt, shortened: a JSON object of every listed attribute.

    >>> print(json_instruction(["Brand", "Color"]))  # doctest: +NORMALIZE_WHITESPACE
    Extract the attribute values from the product title as a JSON object with the keys: "Brand", "Color".
    Use the value "n/a" for an attribute the product title does not state.
    """
    keys = ", ".join(json.dumps(a, ensure_ascii=False) for a in attributes)
    return (
        f"Extract the attribute values from the {where} as a JSON object with the keys: {keys}. "
        f'Use the value "{NA}" for an attribute the {where} does not state.'
    )


@register
class ExtractGpt(Source):
    name = "extractgpt"
    title = "ExtractGPT AE-110k / OA-Mine attribute value extraction (title -> attribute values)"
    path_hint = "ae-110k/test.jsonl or oa-mine/train.jsonl (JSON lines: input, category, target_scores)"
    default_view = "attribute_value"

    def read(self, path: Path, log: ErrorLog) -> list[Row]:
        return self.valid_rows(iter_jsonl(path, log=log), _parse, log)

    @view("attribute_value", "instruction")
    def attribute_value(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Extraction: one record per (offer, attribute): the attribute's value in the title, or n/a.

        ``output`` is the first acceptable value; ``metadata.acceptable`` lists every answer the benchmark
        accepts. Param ``include_na`` (default true) keeps the slots whose answer is n/a.
        """
        include_na = bool(ctx.param("include_na", True))
        for row in rows:
            for attr in row["attributes"]:
                if attr.is_na and not include_na:
                    continue
                yield ctx.instruction(
                    row,
                    instruction=value_instruction(attr.name, row["category"]),
                    input=f"Product title: {row['input']}",
                    output=attr.value,
                    groups=[f"p:{row['title_key']}"],
                    attribute=attr.name,
                    category=row["category"],
                    acceptable=attr.acceptable,
                )

    @view("attribute_json", "instruction")
    def attribute_json(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Generation: ExtractGPT's multi-attribute task, the whole JSON object of values for one title."""
        for row in rows:
            names = [a.name for a in row["attributes"]]
            if not names:
                continue
            yield ctx.instruction(
                row,
                instruction=json_instruction(names),
                input=f"Category: {row['category']}\nProduct title: {row['input']}",
                output=json.dumps({a.name: a.value for a in row["attributes"]}, ensure_ascii=False),
                groups=[f"p:{row['title_key']}"],
                category=row["category"],
                acceptable={a.name: a.acceptable for a in row["attributes"]},
            )


def _parse(row: Row) -> Row:
    row["input"] = require(row, "input").strip()
    row["category"] = require(row, "category").strip()
    row["attributes"] = parse_target_scores(row)
    # Group by the normalised title: a few titles recur within a file (and 3 OA-Mine titles recur across
    # its train/test files), and every attribute record of one offer must stay on one side.
    row["title_key"] = norm_key(row["input"])
    return row
