"""Errors that reach the user as one readable line.

Example:
    >>> str(DataError("train.csv", 12, "relevance", "not a number: 'abc'"))
    "train.csv: row 12, field 'relevance': not a number: 'abc'"
"""

from __future__ import annotations

from pathlib import Path


class ShoptuneError(Exception):
    """Base class: the CLI prints these as one line, without a traceback."""


class ConfigError(ShoptuneError):
    """A config file or task file is invalid; the message names the file and the key."""


class DataError(ShoptuneError):
    """Bad input data. Always names the file, the row (1-based data row; 0 = the file itself) and the field."""

    def __init__(self, file: str | Path, row: int, field: str, message: str) -> None:
        self.file = str(file)
        self.row = row
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = "file" if self.row == 0 else f"row {self.row}"
        return f"{self.file}: {where}, field '{self.field}': {self.message}"
