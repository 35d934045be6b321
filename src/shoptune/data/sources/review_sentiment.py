"""UCI "Sentiment Labelled Sentences" files (``amazon_cells_labelled.txt``): sentence + 0/1 sentiment.

Format: UTF-8 text, one ``sentence<TAB>label`` per line, NO header; label 1 = positive, 0 = negative.
The label is the text after the LAST tab (a sentence could contain one); blank lines are ignored.
The sibling files of the UCI set (``yelp_labelled.txt``, ``imdb_labelled.txt``) have the same format.

Example:
    >>> split_line("Great for the jawbone.\\t1\\n")
    ('Great for the jawbone.', '1')
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import Row, as_choice, decode_lines, require
from shoptune.data.sources import register
from shoptune.data.sources.base import Source, ViewContext, view
from shoptune.errors import DataError
from shoptune.records import Record
from shoptune.text import clip, norm_key

LABELS = {"1": "positive", "0": "negative"}
OPTIONS = ["positive", "negative"]


def split_line(line: str) -> tuple[str, str] | None:
    """(sentence, label) split at the last TAB, or None when the line has no TAB."""
    sentence, tab, label = line.rstrip("\r\n").rpartition("\t")
    return (sentence, label) if tab else None


@register
class ReviewSentiment(Source):
    name = "review_sentiment"
    title = "Labelled review sentences (UCI amazon_cells_labelled.txt: sentence, 0/1)"
    path_hint = "amazon_cells_labelled.txt (UTF-8, no header: sentence<TAB>0|1)"
    default_view = "sentiment_cls"

    def read(self, path: Path, log: ErrorLog) -> list[Row]:
        return self.valid_rows(_iter_rows(path, log), _parse, log)

    @view("sentiment_cls", "instruction")
    def sentiment_cls(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Classification: is the review sentence positive or negative?"""
        for row in rows:
            yield ctx.instruction(
                row,
                instruction="What is the sentiment of this customer review sentence?",
                input=clip(row["sentence"], int(ctx.param("max_chars", 600))),
                options=OPTIONS,
                output=row["sentiment"],
                groups=[f"s:{norm_key(row['sentence'])}"],  # a few sentences occur twice
            )


def _iter_rows(path: Path, log: ErrorLog) -> Iterator[Row]:
    """Rows ``{sentence, label, _row, _file}``; a line without a TAB becomes a row with no label field."""
    row_number = 0
    for _, line in decode_lines(path, "utf-8", log):
        if not line.strip():
            continue
        row_number += 1
        parts = split_line(line)
        row: Row = {"_row": row_number, "_file": str(path)}
        if parts is None:
            row["sentence"] = line.strip()
        else:
            row["sentence"], row["label"] = parts
        yield row


def _parse(row: Row) -> Row:
    if "label" not in row:
        raise DataError(row["_file"], row["_row"], "label", "row cut off: no TAB-separated 0/1 label")
    require(row, "sentence")
    row["sentiment"] = as_choice(row, "label", LABELS)
    row["sentence"] = " ".join(row["sentence"].split())
    return row
