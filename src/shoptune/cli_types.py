"""Choices shared by the command-line modules: typer turns each enum into a checked option (one-line errors)."""

from __future__ import annotations

from enum import StrEnum


class OnError(StrEnum):
    """What to do with a bad input row."""

    raise_ = "raise"
    skip = "skip"


class Split(StrEnum):
    train = "train"
    dev = "dev"
    test = "test"
