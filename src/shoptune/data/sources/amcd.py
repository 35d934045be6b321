"""Amazon Multilingual Counterfactual Dataset (AMCD): is a review sentence counterfactual? EN / DE / JP.

Files: ``amazon_multilingual_counterfactual/{EN,EN-ext,DE,JP}_{train,valid,test}.tsv``, UTF-8, TAB with a
header ``sentence<TAB>is_counterfactual`` (1 = counterfactual, 0 = not). Read with ``QUOTE_NONE``: quotes
are literal text. Quirks handled when building the prompt text (the raw rows are kept unchanged):
the EN-ext files wrap many sentences in csv-style quotes (a leading and a trailing ``"``, inner quotes
doubled), which are undone; German sentences carry HTML entities (``m&ouml;chte``), which are
decoded; stray control characters (``\\x1a``) and soft hyphens are removed. EN-ext files use CRLF.

The language comes from the ``language`` view param, else from the file name prefix (EN/EN-ext -> en,
DE -> de, JP -> ja), else from the task.

Example:
    >>> clean_sentence('"The ""best"" case I ever had."')
    'The "best" case I ever had.'
    >>> file_language("DE_train.tsv")
    'de'
"""

from __future__ import annotations

import csv
import html
import re
from collections.abc import Iterator
from pathlib import Path

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import Row, as_choice, iter_csv, require
from shoptune.data.sources import register
from shoptune.data.sources.base import Source, ViewContext, view
from shoptune.errors import ConfigError, DataError
from shoptune.records import Record
from shoptune.text import clip, norm_key

COLUMNS = ["sentence", "is_counterfactual"]
LANGUAGES = {"EN": "en", "DE": "de", "JP": "ja"}
LABEL_SETS = {
    "names": ("counterfactual", "not counterfactual"),
    "yes_no": ("yes", "no"),
}

INSTRUCTION = (
    "Is this product-review sentence counterfactual, i.e. does it describe something that did not "
    "happen or is not true (a wish, a regret, a condition that was not met, e.g. 'it would have been "
    "better if ...')?"
)

_FILE_PREFIX = re.compile(r"^([A-Za-z]{2})(?:-[A-Za-z]+)?_")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def file_language(path: str | Path) -> str | None:
    """The language code implied by an AMCD file name (``JP_test.tsv`` -> ``ja``), or None."""
    match = _FILE_PREFIX.match(Path(path).name)
    return LANGUAGES.get(match.group(1).upper()) if match else None


def clean_sentence(text: str) -> str:
    """Undo csv-style wrapping quotes, decode HTML entities, drop control characters and soft hyphens."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].replace('""', '"')
    text = html.unescape(text).replace("\xad", "")
    return " ".join(_CONTROL.sub(" ", text).split())


@register
class Amcd(Source):
    name = "amcd"
    title = "Amazon Multilingual Counterfactual Dataset (review sentences EN/DE/JP, counterfactual 0/1)"
    path_hint = "<LANG>_<split>.tsv (TAB, QUOTE_NONE: sentence, is_counterfactual)"
    default_view = "counterfactual_cls"

    def read(self, path: Path, log: ErrorLog) -> list[Row]:
        rows = iter_csv(path, required=COLUMNS, log=log, delimiter="\t", quoting=csv.QUOTE_NONE)
        language = file_language(path)

        def parse(row: Row) -> Row:
            require(row, "sentence")
            row["counterfactual"] = as_choice(row, "is_counterfactual", {"1": True, "0": False})
            row["text"] = clean_sentence(row["sentence"])
            if not row["text"]:
                raise DataError(row["_file"], row["_row"], "sentence", "no text left after cleaning")
            row["file_language"] = language
            return row

        return self.valid_rows(rows, parse, log)

    @view("counterfactual_cls", "instruction")
    def counterfactual_cls(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Classification: counterfactual / not counterfactual (param ``labels: yes_no`` for yes / no)."""
        label_set = str(ctx.param("labels", "names"))
        if label_set not in LABEL_SETS:
            known = ", ".join(LABEL_SETS)
            raise ConfigError(f"amcd: view param 'labels': unknown value {label_set!r} (expected: {known})")
        positive, negative = LABEL_SETS[label_set]
        for row in rows:
            yield ctx.instruction(
                row,
                instruction=INSTRUCTION,
                input=clip(row["text"], int(ctx.param("max_chars", 600))),
                options=[positive, negative],
                output=positive if row["counterfactual"] else negative,
                # Some sentences occur twice (JP train has ~70 repeats): keep copies on one side.
                groups=[f"s:{norm_key(row['text'])}"],
                language=ctx.param("language") or row["file_language"] or ctx.language,
            )
