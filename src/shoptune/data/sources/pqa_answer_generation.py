"""hetPQA answer generation (amazon-science/contextual-product-qa): question + one evidence -> answer.

Files: ``amazon_contextual_pqa/hetPQA/answer_generation/{train,dev,test}.csv``, TAB-separated with a
header ``ASIN, question, candidate, answer, source`` (csv quoting: fields with quotes are wrapped in
``"..."`` with doubled inner quotes). ``source`` names where the evidence comes from (CQA, Desc, bullet,
review, OSP, attribute); it is passed to the model as a hint.

Example:
    >>> from shoptune.data.sources import get_source
    >>> from shoptune.data.errorlog import ErrorLog
    >>> rows = get_source("pqa_answer_generation").read("train.csv", ErrorLog())  # doctest: +SKIP
    >>> rows[0]["answer"]  # doctest: +SKIP
    'the definitive edition includes dark horse comic, ...'
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import Row, iter_csv, require
from shoptune.data.sources import register
from shoptune.data.sources.base import Source, ViewContext, view
from shoptune.records import Record
from shoptune.text import clip, norm_key

COLUMNS = ["ASIN", "question", "candidate", "answer", "source"]

INSTRUCTION = (
    "Answer the customer's question about the product using only the evidence given. "
    "Reply with one short, natural sentence."
)


@register
class PqaAnswerGeneration(Source):
    name = "pqa_answer_generation"
    title = "hetPQA answer generation (question + evidence -> answer, toys & games)"
    path_hint = "hetPQA/answer_generation/<split>.csv (TAB: ASIN, question, candidate, answer, source)"
    default_view = "answer_generation"

    def read(self, path: Path, log: ErrorLog) -> list[Row]:
        return self.valid_rows(iter_csv(path, required=COLUMNS, log=log, delimiter="\t"), _parse, log)

    @view("answer_generation", "instruction")
    def answer_generation(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Generation: write the answer to a product question from one piece of evidence."""
        max_chars = int(ctx.param("max_evidence_chars", 600))
        for row in rows:
            yield ctx.instruction(
                row,
                instruction=INSTRUCTION,
                input=f"Question: {row['question'].strip()}\n"
                f"Evidence ({row['source'].strip()}): {clip(row['candidate'], max_chars)}",
                output=" ".join(row["answer"].split()),
                # The same question text asked about several products shares its answers' wording:
                # keep every copy of a question on one side of the split.
                groups=[f"q:{norm_key(row['question'])}"],
                asin=row["ASIN"],
                evidence_source=row["source"].strip(),
            )


def _parse(row: Row) -> Row:
    for field in COLUMNS:
        require(row, field)
    return row
