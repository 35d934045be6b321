"""What to do with a bad row: stop with a one-line error, or skip it and count it.

Example:
    >>> log = ErrorLog(on_error="skip")
    >>> log.handle(DataError("f.csv", 3, "label", "unknown label 'x'"))
    >>> log.skipped
    1
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from shoptune.errors import DataError

OnError = Literal["raise", "skip"]


@dataclass
class ErrorLog:
    """Collects skipped rows under `--on-error skip`; re-raises under the default `raise`."""

    on_error: OnError = "raise"
    skipped: int = 0
    # Keep a few messages for the manifest: enough to diagnose, not enough to bloat it.
    examples: list[str] = field(default_factory=list)
    max_examples: int = 10

    def handle(self, error: DataError) -> None:
        if self.on_error == "raise":
            raise error
        self.skipped += 1
        if len(self.examples) < self.max_examples:
            self.examples.append(str(error))
