"""ECInstruct query-product ranking test labels (eCeLLM ``data_label/label.json``): ESCI letters only.

The file is ONE JSON document: a list with one entry per test question, each a list of ESCI labels of the
candidate products in option order A, B, C, ...::

    [["E", "S"], ["C", "S", "E"], ...]

E = exact, S = substitute, C = complement, I = irrelevant. The matching questions (queries and product
texts) are not available, so this source has no views and feeds no task: ``read`` validates the file and
:func:`esci_gain` gives the ESCI gains used by the ranking metrics (E=1, S=0.1, C=0.01, I=0).

Example:
    >>> esci_gain("S")
    0.1
    >>> [esci_gain(x) for x in "ESCI"]
    [1.0, 0.1, 0.01, 0.0]
"""

from __future__ import annotations

from pathlib import Path

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import Row, read_json
from shoptune.data.sources import register
from shoptune.data.sources.base import Source
from shoptune.errors import DataError

#: ESCI gains on 0..1, as ShopBench and eCeLLM's evaluate.py score query-product ranking.
ESCI_GAINS: dict[str, float] = {"E": 1.0, "S": 0.1, "C": 0.01, "I": 0.0}


def esci_gain(letter: str) -> float:
    """The gain of one ESCI label letter (case and surrounding spaces ignored); KeyError if unknown."""
    key = letter.strip().upper()
    if key not in ESCI_GAINS:
        raise KeyError(f"unknown ESCI label {letter!r} (expected one of: E, S, C, I)")
    return ESCI_GAINS[key]


def _option(position: int) -> str:
    """The option letter of a 1-based position: 1 -> A, 27 -> AA (ECInstruct uses at most a handful)."""
    letters = ""
    while position > 0:
        position, rest = divmod(position - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


@register
class EsciLabels(Source):
    name = "esci_labels"
    title = "ECInstruct query-product ranking test labels (ESCI letters per candidate; no inputs)"
    path_hint = "label.json (one JSON list of lists of E/S/C/I, one list per test question)"
    # No view: the inputs these labels belong to are not available. `validate` counts rows only.
    default_view = ""

    def read(self, path: Path, log: ErrorLog) -> list[Row]:
        data = read_json(path)
        if not isinstance(data, list):
            raise DataError(path, 0, "-", f"expected a JSON list of label lists, got {type(data).__name__}")
        if not data:
            raise DataError(path, 0, "-", "file holds no label lists")
        rows = ({"_row": i, "_file": str(path), "raw": item} for i, item in enumerate(data, start=1))
        return self.valid_rows(rows, _parse, log)


def _parse(row: Row) -> Row:
    """Validate one label list: a non-empty list of E/S/C/I; field = the 1-based position of a bad entry."""
    raw = row.pop("raw")
    if not isinstance(raw, list) or not raw:
        raise DataError(row["_file"], row["_row"], "-", f"expected a non-empty list of E/S/C/I, got {raw!r}"[:120])
    labels: list[str] = []
    for position, item in enumerate(raw, start=1):
        key = item.strip().upper() if isinstance(item, str) else None
        if key not in ESCI_GAINS:
            raise DataError(
                row["_file"],
                row["_row"],
                str(position),
                f"unknown label {item!r} for option {_option(position)} (expected one of: E, S, C, I)",
            )
        labels.append(key)
    row["labels"] = labels
    row["gains"] = [ESCI_GAINS[x] for x in labels]
    return row
