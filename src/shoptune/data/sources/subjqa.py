"""SubjQA (megagonlabs) Amazon-review domains: extractive QA over one review, with unanswerable questions.

Files: ``subjqa_amazon_reviews_qa/<domain>/splits/<split>.csv``, comma-separated with a header, quoted
fields that may span lines. Columns used: ``item_id, domain, q_review_id, question, review, human_ans_spans,
human_ans_indices`` (the subjectivity columns are ignored). Each review ends with the
sentinel `` ANSWERNOTFOUND``, which is stripped; ``human_ans_spans == "ANSWERNOTFOUND"`` marks an
unanswerable annotation. ``human_ans_indices`` is ``"(start, end)"`` into the review.

PATH may also be a folder: every ``*.csv`` below it is read (sorted), e.g. ``books`` for a domain
without a train file, split by item.

A question-review pair (``q_review_id``) may carry several annotations (test files: two annotators).
The pair counts as answerable when at least one annotator marked a span. The extraction target is the
first annotator's span (in file order); the distinct spans of all annotators that lie in the shown
window are kept in ``metadata["answers"]``. Some spans are stored re-tokenised (``"Jesus 's"`` for
``"Jesus's"``): the review's own text at the indices is used then.

Reviews are long (median ~800 characters), so the model sees a window of ``max_review_chars``
(default 700) that contains the (first) answer, at a random offset (``ctx.rng``): the position of the
window does not give the answerability away.

Example:
    >>> parse_indices("(408, 456)")
    (408, 456)
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import Row, iter_csv, require
from shoptune.data.sources import register
from shoptune.data.sources.base import Source, ViewContext, input_files, view
from shoptune.errors import DataError
from shoptune.records import Record

COLUMNS = ["item_id", "domain", "q_review_id", "question", "review", "human_ans_spans", "human_ans_indices"]
NOT_FOUND = "ANSWERNOTFOUND"
LABELS = ["answerable", "unanswerable"]

EXTRACTION_INSTRUCTION = (
    "Read the customer review and extract the shortest span of it that answers the question. "
    "Copy the words exactly as they appear in the review."
)
ANSWERABILITY_INSTRUCTION = "Can the question be answered from this customer review?"

_INDICES = re.compile(r"^\(\s*(\d+)\s*,\s*(\d+)\s*\)$")


@dataclass(frozen=True)
class Answer:
    text: str
    #: Character offset in the review, or None when the span cannot be located.
    start: int | None


def parse_indices(value: str) -> tuple[int, int] | None:
    """``"(start, end)"`` -> (start, end); None when malformed."""
    match = _INDICES.match(value.strip())
    if not match:
        return None
    start, end = int(match.group(1)), int(match.group(2))
    return (start, end) if start <= end else None


def locate(review: str, span: str, start: int, end: int) -> Answer:
    """Find the annotated span in the review, preferring the occurrence nearest the annotated start."""
    if 0 <= start < end <= len(review) and review[start:end] == span:
        return Answer(span, start)
    if span in review:
        found = [m.start() for m in re.finditer(re.escape(span), review)]
        return Answer(span, min(found, key=lambda p: abs(p - start)))
    if 0 <= start < end <= len(review) and "".join(review[start:end].split()) == "".join(span.split()):
        return Answer(review[start:end], start)  # re-tokenised span: use the review's own text
    return Answer(span, start if 0 <= start < len(review) else None)


def window(text: str, start: int | None, end: int | None, max_chars: int, rng: random.Random) -> str:
    """A word-aligned slice of at most ~max_chars that contains [start, end) (random offset otherwise)."""
    if len(text) <= max_chars:
        return " ".join(text.split())
    if end is not None:
        end = min(end, len(text))  # an approximate span may run past the review's end
    if start is None or end is None:
        lo = rng.randint(0, len(text) - max_chars)
    elif end - start >= max_chars:
        lo = start
    else:
        lo = rng.randint(max(0, end - max_chars), min(start, len(text) - max_chars))
    hi = min(len(text), lo + max_chars)
    # Snap to word boundaries without cutting into the answer.
    if lo > 0:
        space = text.find(" ", lo)
        if space != -1 and (start is None or space < start):
            lo = space + 1
    if hi < len(text):
        space = text.rfind(" ", lo, hi)
        if space != -1 and (end is None or space >= end):
            hi = space
    body = " ".join(text[lo:hi].split())
    return ("… " if lo > 0 else "") + body + (" …" if hi < len(text) else "")


@register
class SubjQA(Source):
    name = "subjqa"
    title = "SubjQA review QA (electronics, grocery, books, movies): answer spans, unanswerable questions"
    path_hint = "<domain>/splits/<split>.csv (comma, quoted multi-line), or a folder of them"
    default_view = "answer_extraction"

    def read(self, path: Path, log: ErrorLog) -> list[Row]:
        rows: list[Row] = []
        for file in input_files(path, "*.csv", recursive=True):
            rows.extend(self.valid_rows(iter_csv(file, required=COLUMNS, log=log), _parse, log))
        return rows

    @view("answer_extraction", "instruction")
    def answer_extraction(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Extraction: the review span that answers the question (unanswerable pairs are skipped)."""
        max_chars = int(ctx.param("max_review_chars", 700))
        for pair in _pairs(rows):
            answers = _answers(pair)
            if not answers:
                continue
            head = pair[0]
            anchor = next((a for a in answers if a.start is not None), answers[0])
            end = None if anchor.start is None else anchor.start + len(anchor.text)
            text = window(head["review_text"], anchor.start, end, max_chars, ctx.rng)
            spans = [" ".join(a.text.split()) for a in answers]
            yield ctx.instruction(
                head,
                instruction=EXTRACTION_INSTRUCTION,
                input=f"Question: {head['question'].strip()}\nReview: {text}",
                # One target: other annotators' spans are alternatives, not further answers (joined into
                # one target they would teach the model to list several spans).
                output=" ".join(anchor.text.split()),
                groups=_groups(head),
                answers=[s for s in spans if s in text],
                domain=head["domain"],
                q_review_id=head["q_review_id"],
            )

    @view("answerability", "instruction")
    def answerability(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Classification: answerable / unanswerable (answerable when any annotator marked a span)."""
        max_chars = int(ctx.param("max_review_chars", 700))
        for pair in _pairs(rows):
            answers = _answers(pair)
            head = pair[0]
            anchor = next((a for a in answers if a.start is not None), None)
            end = None if anchor is None or anchor.start is None else anchor.start + len(anchor.text)
            text = window(head["review_text"], anchor.start if anchor else None, end, max_chars, ctx.rng)
            yield ctx.instruction(
                head,
                instruction=ANSWERABILITY_INSTRUCTION,
                input=f"Question: {head['question'].strip()}\nReview: {text}",
                options=LABELS,
                output=LABELS[0] if answers else LABELS[1],
                groups=_groups(head),
                domain=head["domain"],
                q_review_id=head["q_review_id"],
            )


def _parse(row: Row) -> Row:
    for field in ("item_id", "q_review_id", "question", "review", "human_ans_spans"):
        require(row, field)
    indices = parse_indices(require(row, "human_ans_indices"))
    if indices is None:
        raise DataError(
            row["_file"],
            row["_row"],
            "human_ans_indices",
            f"expected '(start, end)' with start <= end, got {row['human_ans_indices']!r}",
        )
    review = row["review"]
    if review.endswith(NOT_FOUND):
        review = review[: -len(NOT_FOUND)].rstrip()
    if not review.strip():
        raise DataError(row["_file"], row["_row"], "review", "empty review")
    row["review_text"] = review
    span = row["human_ans_spans"].strip()
    row["answer"] = None if span == NOT_FOUND else locate(review, row["human_ans_spans"], *indices)
    return row


def _pairs(rows: list[Row]) -> list[list[Row]]:
    """Annotations grouped per (file, q_review_id), in a deterministic order."""
    by_pair: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in rows:
        by_pair[(row["_file"], row["q_review_id"])].append(row)
    return [by_pair[key] for key in sorted(by_pair)]


def _answers(pair: list[Row]) -> list[Answer]:
    seen: dict[str, Answer] = {}
    for row in pair:
        answer = row["answer"]
        if answer is not None and answer.text.strip():
            seen.setdefault(" ".join(answer.text.split()).lower(), answer)
    return list(seen.values())


def _groups(row: Row) -> list[str]:
    # By product: its reviews and questions stay together (SubjQA's own splits share items, but a
    # grouped split of a train-less domain should not).
    return [f"p:{row['item_id']}"]
