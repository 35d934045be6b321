"""Choices and option types shared by the command modules: typer turns each enum into a checked option, so a
bad value is one line naming the allowed ones.

The choices and every other rule an option obeys live in :mod:`shoptune.validate`, shared with the Python API:
the commands pass their options to the API functions, which check them, and :func:`option_name` makes those
errors name the option (``--limit``) instead of the argument (``limit``).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from shoptune.validate import (
    Comparison,
    DecisionChoice,
    DecisionMetric,
    DecisionRuleChoice,
    ExportFormat,
    Group,
    OnError,
    Split,
)

__all__ = [
    "Comparison",
    "DecisionChoice",
    "DecisionMetric",
    "DecisionRuleChoice",
    "ExportFormat",
    "Group",
    "OnError",
    "OnErrorOpt",
    "Split",
    "TaskDirOpt",
    "option_name",
    "set_option",
    "value_of",
]

#: API arguments that the command line names otherwise than ``--`` and the argument with dashes for underscores
#: (positional arguments by their metavar).
OPTION_NAMES = {
    "overrides": "--set",
    "task_dirs": "--task-dir",
    "config": "CONFIG",
    "file": "FILE",
    "run": "RUN",
    "name": "NAME",  # tasks show NAME
    "path": "PATH",  # report PATH
}


def option_name(argument: str) -> str:
    """The command line's name of an API argument: ``batch_size`` -> ``--batch-size``, ``overrides`` -> ``--set``.

    >>> option_name("batch_size"), option_name("overrides")
    ('--batch-size', '--set')
    """
    return OPTION_NAMES.get(argument) or "--" + argument.replace("_", "-")


OnErrorOpt = Annotated[
    OnError | None,
    typer.Option("--on-error", help="raise: stop at the first bad row; skip: skip and count bad rows."),
]
TaskDirOpt = Annotated[
    list[Path] | None, typer.Option("--task-dir", help="A folder of your own task YAMLs (repeatable).")
]

#: ``--address`` of the commands with ``--engine ray``.
AddressOpt = Annotated[
    str | None, typer.Option("--address", help="--engine ray: join this Ray cluster (default: a local Ray).")
]


def engine_options(local: str, ray: str, workers: str) -> tuple[Any, Any]:
    """The ``--engine`` and ``--workers`` options of a command that can run on Ray, with its own help texts."""
    engine = Annotated[str, typer.Option("--engine", help=f"local ({local}) or ray ({ray}).")]
    return engine, Annotated[int, typer.Option("--workers", help=f"--engine ray: {workers}.")]


def set_option(help_text: str) -> Any:
    """The repeatable `--set KEY=VALUE` option of the commands that read a config, with its own help text."""
    return Annotated[list[str] | None, typer.Option("--set", help=help_text)]


def value_of(choice: StrEnum | None) -> str | None:
    """The plain string of an enum option (None stays None): the library functions take strings."""
    return None if choice is None else choice.value
