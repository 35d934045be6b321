"""McAuley Amazon reviews (2014 5-core JSON lines, e.g. ``Musical_Instruments_5.json``): text -> stars.

Format: one JSON object per line with ``reviewerID, asin, reviewText, overall`` (1.0-5.0 stars) and
``summary`` (optional). Other fields (helpful, reviewTime, ...) are ignored. A review whose text is
blank falls back to its summary; with neither it is a data error. Stars must be a whole number 1-5.

Example:
    >>> from shoptune.data.sources import get_source
    >>> from shoptune.data.errorlog import ErrorLog
    >>> src = get_source("mcauley_reviews")
    >>> rows = src.read("Musical_Instruments_5_sample50.jsonl", ErrorLog())  # doctest: +SKIP
    >>> rows[0]["stars"]  # doctest: +SKIP
    '5'
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import Row, as_float, iter_jsonl, require
from shoptune.data.sources import register
from shoptune.data.sources.base import Source, ViewContext, view
from shoptune.errors import DataError
from shoptune.records import Record
from shoptune.text import clip

STARS = ["1", "2", "3", "4", "5"]
INSTRUCTION = (
    "Read the customer review and predict its star rating from 1 (worst) to 5 (best). Answer with the number only."
)


@register
class McAuleyReviews(Source):
    name = "mcauley_reviews"
    title = "McAuley Amazon reviews, JSON lines (review text + 1-5 star rating)"
    path_hint = "a McAuley 5-core *.json / *.jsonl file (reviewerID, asin, reviewText, summary, overall)"
    default_view = "rating_cls"

    def read(self, path: Path, log: ErrorLog) -> list[Row]:
        return self.valid_rows(iter_jsonl(path, log=log), _parse, log)

    @view("rating_cls", "instruction")
    def rating_cls(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Classification: how many stars (1-5) did the reviewer give?"""
        max_chars = int(ctx.param("max_chars", 600))
        for row in rows:
            summary = str(row.get("summary") or "").strip()
            text = clip(row["text"], max_chars)
            yield ctx.instruction(
                row,
                instruction=INSTRUCTION,
                input=f"Title: {summary}\nReview: {text}" if summary else f"Review: {text}",
                options=STARS,
                output=row["stars"],
                groups=[f"r:{row['reviewerID']}|{row['asin']}"],
                asin=row["asin"],
            )


def _parse(row: Row) -> Row:
    require(row, "reviewerID")
    require(row, "asin")
    rating = as_float(row, "overall")
    if rating not in {1.0, 2.0, 3.0, 4.0, 5.0}:
        message = f"unknown label {row['overall']!r}: stars are 1-5"
        raise DataError(row["_file"], row["_row"], "overall", message)
    row["stars"] = str(int(rating))
    text = str(row.get("reviewText") or "").strip() or str(row.get("summary") or "").strip()
    if not text:
        raise DataError(row["_file"], row["_row"], "reviewText", "empty value (and no summary)")
    row["text"] = text
    return row
