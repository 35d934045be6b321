"""The ``generated`` source adapter: instruction examples as JSON lines, as `shoptune data generate` writes them.

One object per line::

    {"instruction": "...", "input": "...", "options": ["...", "..."], "output": "...", "language": "en",
     "groups": ["q:deck over", "seed:1f0c..."], "metadata": {"generation": {"model": "...", ...}}}

``input``, ``options``, ``language``, ``groups`` and ``metadata`` may be left out; ``output`` is text or a list of
texts. ``groups`` are the split keys (records sharing one never straddle train/dev/test). Any file in this form
is a task: name this adapter in a task YAML (a generation writes that YAML for you, in ``OUT/task/``).

Example:
    >>> from shoptune.data.sources import get_source
    >>> from shoptune.data.errorlog import ErrorLog
    >>> rows = get_source("generated").read("runs/generated/x/examples.jsonl", ErrorLog())  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import Row, iter_jsonl
from shoptune.data.sources import register
from shoptune.data.sources.base import Source, ViewContext, view
from shoptune.errors import DataError
from shoptune.records import Record

EXAMPLES = "examples.jsonl"


@register
class Generated(Source):
    name = "generated"
    title = "Instruction examples as JSON lines (`shoptune data generate`'s examples.jsonl)"
    path_hint = "examples.jsonl (or the generation folder holding it)"
    default_view = "instructions"

    def read(self, path: Path, log: ErrorLog) -> list[Row]:
        path = Path(path)
        if path.is_dir():
            path = path / EXAMPLES
        if not path.is_file():
            raise DataError(path, 0, "-", f"file not found (expected the {EXAMPLES} of `shoptune data generate`)")
        return self.valid_rows(iter_jsonl(path, log=log), _parse_row, log)

    @view("instructions", "instruction")
    def instructions(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Each line as one instruction example of the task (its capability; its language unless the line names one)."""
        for row in rows:
            meta = {k: v for k, v in row["metadata"].items() if k not in ("groups", "source_row")}
            yield ctx.instruction(
                row,
                instruction=row["instruction"],
                input=row["input"],
                options=row["options"],
                output=row["output"],
                groups=row["groups"],
                language=row.get("language") or None,
                **meta,
            )


def _fail(row: Row, field: str, message: str) -> DataError:
    return DataError(row.get("_file", "?"), row.get("_row", 0), field, message)


def _texts(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _parse_row(row: Row) -> Row:
    instruction = row.get("instruction")
    if not isinstance(instruction, str) or not instruction.strip():
        raise _fail(
            row, "instruction", "missing or empty" if not instruction else f"expected text, got {instruction!r}"
        )
    row.setdefault("input", "")
    if not isinstance(row["input"], str):
        raise _fail(row, "input", f"expected text, got {row['input']!r}"[:80])
    row.setdefault("options", [])
    if not _texts(row["options"]):
        raise _fail(row, "options", "expected a list of texts")
    output = row.get("output")
    if not (isinstance(output, str) and output.strip()) and not (_texts(output) and output):
        raise _fail(row, "output", "missing or empty (expected text or a list of texts)")
    row.setdefault("groups", [])
    if not _texts(row["groups"]):
        raise _fail(row, "groups", "expected a list of texts (split keys)")
    row.setdefault("metadata", {})
    if not isinstance(row["metadata"], dict):
        raise _fail(row, "metadata", "expected an object")
    language = row.get("language")
    if language is not None and not isinstance(language, str):
        raise _fail(row, "language", f"expected text, got {language!r}")
    return row
