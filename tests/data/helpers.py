"""Shared helpers of the source-adapter tests (``tests/data/test_source_*.py``).

Every adapter test writes a tiny raw file, reads it and checks the rows and the records of its views; every
bad-input table checks one contract: ``read`` raises a DataError whose one line names the file, the row and
the field, and in skip mode the bad rows are dropped and counted. The common part lives here, so a test module
keeps only its fixture data and its assertions.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import Row
from shoptune.data.sources import get_source
from shoptune.data.sources.base import Source, ViewContext
from shoptune.data.splits import pooled_split
from shoptune.errors import DataError
from shoptune.records import Record


def write(path: Path, content: str | bytes | None, encoding: str = "utf-8") -> Path:
    """Write a fixture file (text in ``encoding``, or bytes as they are) and return its path.

    ``None`` writes nothing: the path of a missing-file case.
    """
    if content is not None:
        path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    return path


def jsonl(rows: Iterable[Any], **dumps: Any) -> str:
    """JSON lines: each row as one ``json.dumps(row, **dumps)`` line."""
    return "".join(json.dumps(row, **dumps) + "\n" for row in rows)


def context(*, seed: int = 0, task_language: str = "en", **params: Any) -> ViewContext:
    """The view context of a test task: ``params`` as the task YAML's view parameters, an RNG seeded with
    ``seed`` and ``task_language`` as the task's language (a view param may be called ``language`` too)."""
    return ViewContext(
        task="t",
        capability="shopping_concept_understanding",
        language=task_language,
        params=params,
        rng=random.Random(seed),
    )


def adapter(source: str | Source) -> Source:
    """A source by its registered name, or the instance itself."""
    return get_source(source) if isinstance(source, str) else source


def every_view(source: str | Source, rows: list[Row], **context_args: Any) -> dict[str, list[Record]]:
    """Each view's records over ``rows``, by view name; every view gets a fresh ``context(**context_args)``,
    as every task of a build gets its own."""
    src = adapter(source)
    return {name: list(src.records(rows, name, context(**context_args))) for name in src.views}


def assert_read_error(source: str | Source, path: Path, expected: str, *, names: Path | None = None) -> None:
    """Reading ``path`` raises a DataError that names the file (``names``, default ``path``) and says ``expected``."""
    with pytest.raises(DataError) as info:
        adapter(source).read(path, ErrorLog())
    assert str(names or path) in str(info.value) and expected in str(info.value)


def bad_input_test(
    source: str | Source,
    file_name: str,
    cases: dict[str, tuple[str | bytes | None, str]],
    encoding: str = "utf-8",
) -> Callable[[Path, str], None]:
    """The bad-input test of an adapter: in each case ``(content, expected)``, ``content`` written to ``file_name``
    (text in ``encoding``, bytes as they are, None: no file) fails to read with a DataError that names the file and
    says ``expected``. Bind it to a module-level ``test_...`` name; pytest runs it once per case.
    """

    @pytest.mark.parametrize("case", sorted(cases))
    def test_bad_input_raises_data_error(tmp_path: Path, case: str) -> None:
        content, expected = cases[case]
        assert_read_error(source, write(tmp_path / file_name, content, encoding), expected)

    return test_bad_input_raises_data_error


def assert_skips(source: str | Source, path: Path, kept: int, *messages: str) -> list[Row]:
    """Read in skip mode: ``kept`` rows stay, one row is skipped per message and the n-th logged example holds
    the n-th message. Returns the rows."""
    log = ErrorLog("skip")
    rows = adapter(source).read(path, log)
    assert len(rows) == kept and log.skipped == len(messages), (len(rows), log.skipped, log.examples)
    for number, message in enumerate(messages):
        assert message in log.examples[number], (message, log.examples)
    return rows


def assert_splits_fill(records: list[Record], ratios: tuple[float, float, float], label: object = "") -> None:
    """The grouped split of the demo's records (seed 13) leaves at least 30 / 5 / 5 in train / dev / test."""
    splits = pooled_split({"t": records}, seed=13, ratios=ratios).splits["t"]
    sizes = {k: len(v) for k, v in splits.items()}
    assert sizes["train"] >= 30 and sizes["dev"] >= 5 and sizes["test"] >= 5, (label, sizes)


def run_shoptune(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``python -m shoptune ARGS`` in a child process: exit code and output exactly as a user's shell sees them."""
    command = [sys.executable, "-m", "shoptune", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)
