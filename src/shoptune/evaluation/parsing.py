"""Answer parsing: turn a model's raw text into the typed answer that a metric scores.

The rules follow the Amazon KDD Cup 2024 starter kit (`parsers.py`, `ShoppingBenchTaskParsers`): wherever the
official parser reads an answer from a one-line output, the parser here reads the same answer. On top of that
the parsers here are robust to what chat models add around an answer (a leading ``Answer:``, brackets, a
trailing explanation, extra lines), and they are conservative: text that holds no answer comes back as
``UNPARSED`` (``Parsed(value=None, ok=False)``), which every metric scores as 0 and the caller counts.

Example:
    >>> parse_multiple_choice("Answer: (2)")
    Parsed(value=2, ok=True)
    >>> parse_ranking("[3, 1, 2, 5, 4]\\nProduct 3 is the best match.")
    Parsed(value=[3, 1, 2, 5, 4], ok=True)
    >>> parse_answer("retrieval", "I cannot tell.")
    Parsed(value=None, ok=False)
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Parsed(Generic[T]):
    """A parsed answer. ``ok`` is False when the text held no answer; ``value`` is then None."""

    value: T | None = None
    ok: bool = False


UNPARSED: Parsed[Any] = Parsed(value=None, ok=False)

# The 3-way relevance labels of the query-product pair tasks.
PAIR_LABELS: tuple[str, ...] = ("exact", "partial", "irrelevant")

# A digit-free lead-in before the answer ("Answer:", "The final ranking is", "**Entities:**"). Only these
# words are dropped, so an answer that merely contains a colon is left alone.
_LABEL_PREFIX_RE = re.compile(
    r"^[\s*_#>`\"'-]*(?:(?:the|my|final|correct|best|predicted)\s+)*"
    r"(?:answer|ranking|ranked\s+list|output|result|response|prediction|label|"
    r"(?:named\s+)?entit(?:y|ies)|relevance)s?"
    r"(?:\s*[:：=]|\s+(?:is|are)\b\s*:?)[\s*_`]*",
    re.IGNORECASE,
)
# Multiple choice: a digit opening the answer, possibly inside brackets or markdown, or after "Option".
_MC_LEADING_RE = re.compile(r"^[\s(\[{*\"'`]*(?:(?:option|choice)\s*)?[(\[]?(\d)(?!\d)", re.IGNORECASE)
# Multiple choice: "answer ... 2" anywhere, for outputs that reason first ("... so the answer is (2).").
_MC_ANSWER_RE = re.compile(r"\banswer\b(?:\s+is)?\s*[:：]?[\s(\[*\"'`]*(\d)(?!\d)", re.IGNORECASE)
# A line whose body opens with a number (after brackets / markdown): the candidate line of a list answer.
_LIST_START_RE = re.compile(r"^[\s\[({*\"'`]*\d")
# Comma separators; the full-width comma too, which CJK outputs use.
_COMMA_RE = re.compile(r"[,，]")
# An item that opens with a number followed, with no other digit in between, by words: "3 because ...".
_NUMBER_THEN_WORDS_RE = re.compile(r"^[\W_]*?(\d+)[^\w]*[^\W\d_]")


def _lines(text: str) -> list[str]:
    """The non-empty lines of ``text``, stripped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def strip_label_prefix(line: str) -> str:
    """Drop a leading ``Answer:``-style lead-in from one line.

    >>> strip_label_prefix("**Answer:** 1, 2, 3")
    '1, 2, 3'
    """
    match = _LABEL_PREFIX_RE.match(line)
    return line[match.end() :].strip() if match else line.strip()


def _official_item_int(item: str) -> int | None:
    """The official list rule for one comma-separated item: keep numeric characters and spaces, then int()."""
    cleaned = "".join(c for c in item if c.isnumeric() or c == " ")
    try:
        return int(cleaned)
    except ValueError:
        return None


def _read_int_list(line: str) -> list[int]:
    """Read a comma-separated list of integers the way the official parser does, with one change.

    The official parser skips every item that does not reduce to a single number. We do the same, except
    that once a list has begun, an item such as ``3 because product 4 fits`` yields its leading number and
    ends the list: the official rule would drop the 3 and then keep reading numbers out of the explanation.
    """
    numbers: list[int] = []
    for item in _COMMA_RE.split(line):
        value = _official_item_int(item)
        if value is not None:
            numbers.append(value)
            continue
        leading = _NUMBER_THEN_WORDS_RE.match(item)
        if numbers and leading:
            # Python refuses int() of over 4300 digits; such a "number" is no item index anyway.
            if len(leading.group(1)) <= 100:
                numbers.append(int(leading.group(1)))
            break
    return numbers


def _list_answer_line(text: str) -> str | None:
    """The line that holds a list answer: the first line that opens with a number once an ``Answer:``
    lead-in is dropped, else the first line with any digit, else None."""
    lines = _lines(text)
    for line in lines:
        body = strip_label_prefix(line)
        if _LIST_START_RE.match(body):
            return body
    return next((line for line in lines if any(c.isdecimal() for c in line)), None)


def parse_multiple_choice(text: str, n_choices: int | None = None) -> Parsed[int]:
    """The chosen option's index. Like the official parser, an output that opens with a digit is read by
    that digit alone; otherwise a digit in brackets / after ``Option`` at the start, or after ``answer``
    anywhere, is taken. With ``n_choices`` an index outside ``range(n_choices)`` is unparsed.

    >>> [parse_multiple_choice(t).value for t in ["2", " 2. Because...", "(2)", "The answer is 3.", "B"]]
    [2, 2, 2, 3, None]
    """
    stripped = text.strip()
    if not stripped:
        return UNPARSED
    if stripped[0].isdecimal():
        choice = int(stripped[0])  # official: int(response.strip()[0])
    else:
        match = _MC_LEADING_RE.match(stripped) or _MC_ANSWER_RE.search(stripped)
        if match is None:
            return UNPARSED
        choice = int(match.group(1))
    if n_choices is not None and not 0 <= choice < n_choices:
        return UNPARSED
    return Parsed(value=choice, ok=True)


def parse_retrieval(text: str, k: int = 3) -> Parsed[list[int]]:
    """The first ``k`` item numbers of a retrieval answer (duplicates kept, as the official parser keeps them).

    >>> parse_retrieval("Answer: [12, 4, 7, 9]").value
    [12, 4, 7]
    """
    line = _list_answer_line(text)
    numbers = _read_int_list(line)[:k] if line is not None else []
    return Parsed(value=numbers, ok=True) if numbers else UNPARSED


def parse_ranking(text: str, max_items: int = 5) -> Parsed[list[int]]:
    """A ranking: the first ``max_items`` item numbers. As in the official parser, a ranking that repeats an
    item within them is rejected (unparsed; the official parser returns [] and scores 0).

    >>> parse_ranking("1, 4, 5, aicrowd, 6").value
    [1, 4, 5, 6]
    >>> parse_ranking("1, 2, 2, 3").ok
    False
    """
    line = _list_answer_line(text)
    numbers = _read_int_list(line)[:max_items] if line is not None else []
    if not numbers or len(set(numbers)) != len(numbers):
        return UNPARSED
    return Parsed(value=numbers, ok=True)


def _literal_str_list(text: str) -> list[str] | None:
    """``text`` read as a Python list (or tuple) of strings, else None."""
    if not text or text[0] not in "[(\"'":
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return list(value)
    return None


def _unquote(item: str) -> str:
    """Strip one pair of matching quotes around an item."""
    if len(item) >= 2 and item[0] == item[-1] and item[0] in "\"'`":
        return item[1:-1].strip()
    return item


def parse_ner(text: str) -> Parsed[list[str]]:
    """Entity strings. As in the official parser, the whole output is first read as a Python list of
    strings, and otherwise split on commas; here the split is of the first line only, after an
    ``Entities:`` lead-in and one pair of surrounding brackets are dropped, and empty items are dropped.
    An explicit empty list ``[]`` is a valid answer (no entities).

    >>> parse_ner("['New York', 'Amazon']").value
    ['New York', 'Amazon']
    >>> parse_ner("[New York, Amazon]\\nThese are the brands.").value
    ['New York', 'Amazon']
    """
    stripped = text.strip()
    if not stripped:
        return UNPARSED
    entities = _literal_str_list(stripped)
    if entities is None:
        lines = _lines(stripped)
        line = strip_label_prefix(lines[0])
        entities = _literal_str_list(line)
        if entities is None:
            if len(line) >= 2 and line[0] == "[" and line[-1] == "]":
                line = line[1:-1]
            entities = [_unquote(item.strip()) for item in line.split(",")]
            entities = [item for item in entities if item]
            if not entities:
                return UNPARSED
    return Parsed(value=[item.strip() for item in entities if item.strip()], ok=True)


def parse_generation(text: str) -> Parsed[str]:
    """Free text, stripped (as the official parser does); empty text is unparsed."""
    stripped = text.strip()
    return Parsed(value=stripped, ok=True) if stripped else UNPARSED


def _norm_label(text: str) -> str:
    """Case-fold and drop surrounding quotes, brackets, markdown and end punctuation."""
    return text.casefold().strip().strip("\"'`*_[](){}<>").strip().rstrip(".!;:,").strip()


def parse_label(text: str, labels: Sequence[str]) -> Parsed[str]:
    """One label of ``labels`` (returned in its given spelling), read from the first line: the whole line
    (case-insensitive, quotes and end punctuation ignored), else a label opening the line (longest first),
    else the single label the line mentions. Anything else, including two different labels, is unparsed.

    >>> parse_label("Answer: Partial. The product lacks the size.", PAIR_LABELS).value
    'partial'
    >>> parse_label("It is either exact or partial.", PAIR_LABELS).ok
    False
    """
    lines = _lines(text)
    if not lines or not labels:
        return UNPARSED
    line = _norm_label(strip_label_prefix(lines[0]))
    by_norm = {_norm_label(label): label for label in labels}
    if line in by_norm:
        return Parsed(value=by_norm[line], ok=True)
    # Longest first, so "partially relevant" wins over "partial" when both are labels.
    for norm in sorted(by_norm, key=len, reverse=True):
        if norm and re.match(rf"{re.escape(norm)}(?!\w)", line):
            return Parsed(value=by_norm[norm], ok=True)
    mentioned = {norm for norm in by_norm if norm and re.search(rf"(?<!\w){re.escape(norm)}(?!\w)", line)}
    # A label mentioned only as part of a longer mentioned label ("match" in "exact match") does not count.
    mentioned = {norm for norm in mentioned if not any(norm != other and norm in other for other in mentioned)}
    if len(mentioned) == 1:
        return Parsed(value=by_norm[mentioned.pop()], ok=True)
    return UNPARSED


def parse_label_set(text: str, sep: str = ", ") -> Parsed[list[str]]:
    """A set of labels as EcomGPT (``src/data/task_cls.py``, ``EN_CLS``) reads it: strip, remove every
    ``.``, split on ``sep``. Items are not stripped further, exactly as there. Empty text is unparsed.

    >>> parse_label_set("Price, Quality.").value
    ['Price', 'Quality']
    """
    cleaned = text.strip().replace(".", "")
    return Parsed(value=cleaned.split(sep), ok=True) if cleaned else UNPARSED


# ---------------------------------------------------------------------------------------------------------
# Registry of answer filters by task kind. Every filter takes the raw text and the task's label list (used
# by the label kinds; None elsewhere) so the caller needs no per-kind branching.

AnswerFilter = Callable[[str, Sequence[str] | None], Parsed[Any]]


def _filter_multiple_choice(text: str, labels: Sequence[str] | None) -> Parsed[Any]:
    # With the choices given, an index past them is not an answer.
    return parse_multiple_choice(text, n_choices=len(labels) if labels else None)


def _filter_retrieval(text: str, labels: Sequence[str] | None) -> Parsed[Any]:
    return parse_retrieval(text)


def _filter_ranking(text: str, labels: Sequence[str] | None) -> Parsed[Any]:
    return parse_ranking(text)


def _filter_ner(text: str, labels: Sequence[str] | None) -> Parsed[Any]:
    return parse_ner(text)


def _filter_generation(text: str, labels: Sequence[str] | None) -> Parsed[Any]:
    return parse_generation(text)


def _filter_classification(text: str, labels: Sequence[str] | None) -> Parsed[Any]:
    if not labels:
        raise ValueError("classification answers need the task's label list")
    return parse_label(text, labels)


def _filter_pair(text: str, labels: Sequence[str] | None) -> Parsed[Any]:
    return parse_label(text, labels or PAIR_LABELS)


def _filter_label_set(text: str, labels: Sequence[str] | None) -> Parsed[Any]:
    return parse_label_set(text)


ANSWER_FILTERS: dict[str, AnswerFilter] = {
    "multiple_choice": _filter_multiple_choice,
    "retrieval": _filter_retrieval,
    "ranking": _filter_ranking,
    "ner": _filter_ner,
    "generation": _filter_generation,
    "classification": _filter_classification,
    "pair": _filter_pair,
    "label_set": _filter_label_set,
    # ShopBench / starter-kit spellings of the same kinds.
    "multiple-choice": _filter_multiple_choice,
    "multichoice": _filter_multiple_choice,
    "named_entity_recognition": _filter_ner,
}


def parse_answer(kind: str, text: str, labels: Sequence[str] | None = None) -> Parsed[Any]:
    """Parse ``text`` with the answer filter registered for the task ``kind``.

    >>> parse_answer("pair", "Exact").value
    'exact'
    """
    try:
        answer_filter = ANSWER_FILTERS[kind]
    except KeyError:
        raise ValueError(f"unknown task kind {kind!r}; known: {sorted(ANSWER_FILTERS)}") from None
    return answer_filter(text, labels)
