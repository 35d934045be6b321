"""Choices and option types shared by the command modules: typer turns each enum into a checked option, so a
bad value is one line naming the allowed ones."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer


class OnError(StrEnum):
    """What to do with a bad input row."""

    raise_ = "raise"
    skip = "skip"


class Split(StrEnum):
    train = "train"
    dev = "dev"
    test = "test"


class Group(StrEnum):
    """A task group of `experiments heldout`."""

    held_in = "held-in"
    held_out = "held-out"


class DecisionRuleChoice(StrEnum):
    """What `relevance calibrate` fits: label biases, or nothing (argmax)."""

    bias = "bias"
    argmax = "argmax"


class DecisionMetric(StrEnum):
    macro_f1 = "macro_f1"
    accuracy = "accuracy"


class Comparison(StrEnum):
    """The comparisons of `relevance compare`."""

    routing = "routing"
    prefix_ablation = "prefix-ablation"
    multitask = "multitask"
    ensemble = "ensemble"


class DecisionChoice(StrEnum):
    """Which labels `relevance compare` compares: each model's decision rule, or argmax."""

    rule = "rule"
    argmax = "argmax"


OnErrorOpt = Annotated[
    OnError | None,
    typer.Option("--on-error", help="raise: stop at the first bad row; skip: skip and count bad rows."),
]
TaskDirOpt = Annotated[
    list[Path] | None, typer.Option("--task-dir", help="A folder of your own task YAMLs (repeatable).")
]


def set_option(help_text: str) -> Any:
    """The repeatable `--set KEY=VALUE` option of the commands that read a config, with its own help text."""
    return Annotated[list[str] | None, typer.Option("--set", help=help_text)]


def value_of(choice: StrEnum | None) -> str | None:
    """The plain string of an enum option (None stays None): the library functions take strings."""
    return None if choice is None else choice.value
