"""One set of rules for the arguments of every command, typed on the command line or passed in Python.

The public functions (:mod:`shoptune.api`, :mod:`shoptune.relevance.api`) check their arguments with these helpers
before any work starts, and the command line hands its options straight to them: ``--limit 0`` and ``limit=0``
break the same rule, checked in one place. Each helper takes the value and the argument's Python name and returns
the value normalised (a :class:`~pathlib.Path` for a path, a list for names given one or many, the plain string of
a choice). A bad value raises :class:`~shoptune.errors.ArgumentError` (a ``ValueError``), a wrong type
:class:`~shoptune.errors.ArgumentTypeError` (a ``TypeError``); both are
:class:`~shoptune.errors.ShoptuneError`\\ s whose one line names the argument as the user knows it: ``limit`` in
Python, ``--limit`` on the command line (which names its options with :func:`~shoptune.errors.argument_names`).

The choices of the options are here too, as enums the command line turns into checked options.

Example:
    >>> positive_int(8, "batch_size")
    8
    >>> task_names("hd_relevance_mc", "tasks")
    ['hd_relevance_mc']
    >>> choice(Split.dev, "split", Split)
    'dev'
    >>> positive_int(0, "limit")
    Traceback (most recent call last):
    ...
    shoptune.errors.ArgumentError: limit=0: must be at least 1
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping
from enum import Enum, StrEnum
from numbers import Integral
from pathlib import Path
from typing import Any, TypeVar

from shoptune.errors import ArgumentError, ArgumentTypeError

T = TypeVar("T")


# ============================================================================================ choices
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


class ExportFormat(StrEnum):
    """What `relevance export` writes: an OpenVINO IR or ONNX graphs for ONNX Runtime."""

    openvino = "openvino"
    onnx = "onnx"


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


def choice(value: Any, name: str, choices: type[Enum] | Iterable[str]) -> str:
    """One of ``choices`` (an enum's values, or strings), as a plain string; an enum member is taken as its value."""
    allowed = [str(c.value) for c in choices] if isinstance(choices, type) else [str(c) for c in choices]
    if isinstance(value, Enum):
        value = value.value
    if not isinstance(value, str):
        raise ArgumentTypeError(name, f"must be one of {_listed(allowed)}, not {_kind(value)}", value)
    if value not in allowed:
        raise ArgumentError(name, f"must be one of {_listed(allowed)}", value)
    return str(value)


# ============================================================================================ numbers and flags
def integer(value: Any, name: str, *, minimum: int | None = None) -> int:
    """An int (not a bool, not a string of digits), at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ArgumentTypeError(name, f"must be an integer, not {_kind(value)}", value)
    number = int(value)
    if minimum is not None and number < minimum:
        raise ArgumentError(name, f"must be at least {minimum}", number)
    return number


def positive_int(value: Any, name: str) -> int:
    """An int >= 1: a count of items, a batch size, a chunk."""
    return integer(value, name, minimum=1)


def non_negative_int(value: Any, name: str) -> int:
    """An int >= 0: a number of shots."""
    return integer(value, name, minimum=0)


def flag(value: Any, name: str) -> bool:
    """True or False (not 0/1, not "yes")."""
    if not isinstance(value, bool):
        raise ArgumentTypeError(name, f"must be True or False, not {_kind(value)}", value)
    return value


def optional(check: Callable[[Any, str], T], value: Any, name: str) -> T | None:
    """``None`` stays None (the default applies); anything else must pass ``check``."""
    return None if value is None else check(value, name)


# ============================================================================================ text and names
def text(value: Any, name: str) -> str:
    """A non-blank string: a source adapter, a view, a task of a model, a base model name."""
    if not isinstance(value, str):
        raise ArgumentTypeError(name, f"must be a string, not {_kind(value)}", value)
    if not value.strip():
        raise ArgumentError(name, "must not be empty", value)
    return value


def model_name(value: Any, name: str) -> str:
    """A model: a bundled name, a hub id or a local folder (``str`` or ``Path``), as a string."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise ArgumentTypeError(name, f"must be a model name or path (str or Path), not {_kind(value)}", value)
    return text(value, name)


def names(value: Any, name: str, what: str = "name") -> list[str]:
    """One name (a string) or several (a list or tuple of strings) as a list; at least one, none blank.

    A single string is one name, never split into characters.
    """
    items = [value] if isinstance(value, str) else _items(value, name, f"a {what} or a list of them")
    if not items:
        raise ArgumentError(name, f"must give at least one {what}", value)
    for item in items:
        if not isinstance(item, str):
            raise ArgumentTypeError(name, f"must be {what}s (strings), not {_describe(item)}", value)
        if not item.strip():
            raise ArgumentError(name, f"holds an empty {what}", value)
    return items


def task_names(value: Any, name: str) -> list[str]:
    """Task names: ``"hd_relevance_mc"`` or ``["hd_relevance_mc", "shopbench:PATH"]``."""
    return names(value, name, "task name")


# ============================================================================================ paths
def path_arg(value: Any, name: str) -> Path:
    """A file or folder given as ``str`` or ``Path`` (not bytes, not empty: ``""`` would be the current folder)."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise ArgumentTypeError(name, f"must be a path (str or Path), not {_kind(value)}", value)
    if not value.strip():
        raise ArgumentError(name, "must not be empty", value)
    return Path(value)


def path_list(value: Any, name: str) -> list[Path]:
    """One path or several (a list or tuple of ``str`` / ``Path``) as a list of Paths; None is none."""
    if value is None:
        return []
    if isinstance(value, str | os.PathLike):
        return [path_arg(value, name)]
    items = _items(value, name, "a path or a list of paths")
    for item in items:
        if not isinstance(item, str | os.PathLike):
            raise ArgumentTypeError(name, f"must be paths (str or Path), not {_describe(item)}", value)
    return [path_arg(item, name) for item in items]


# ============================================================================================ the rest
def function(value: Any, name: str) -> Callable[..., Any]:
    """A callback (``log``, ``progress``, ``loading``)."""
    if not callable(value):
        raise ArgumentTypeError(name, f"must be callable, not {_kind(value)}", value)
    return value  # type: ignore[no-any-return]


def known_arguments(given: Mapping[str, Any], known: Iterable[str], function_name: str) -> None:
    """Keyword arguments collected by ``**options`` must be ones the function reads: a typo is not ignored."""
    allowed = list(known)
    for key in given:
        if key not in allowed:
            options = ", ".join(allowed)
            raise ArgumentTypeError(key, f"not a keyword argument of {function_name}() (its options: {options})")


def config_overrides(value: Any, name: str = "overrides") -> dict[str, Any]:
    """Config overrides: ``{"optim.lr": 1e-4}`` (values as given) or ``["optim.lr=1e-4"]`` (values read as YAML,
    what ``--set`` takes); one ``"KEY=VALUE"`` string is one override. Keys are dotted, every part non-empty."""
    from shoptune.config import check_override_key, parse_set

    if value is None:
        return {}
    if isinstance(value, Mapping):
        for key in value:
            check_override_key(key, key, name)
        return dict(value)
    items = [value] if isinstance(value, str) else _items(value, name, 'a mapping or a list of "KEY=VALUE" strings')
    for item in items:
        if not isinstance(item, str):
            raise ArgumentTypeError(name, f'must be "KEY=VALUE" strings, not {_describe(item)}', value)
    return parse_set(items, name)


def no_overrides(overrides: Mapping[str, Any], name: str = "overrides") -> None:
    """Overrides apply to a config file: with a config object they would be dropped silently, so refuse them."""
    if overrides:
        raise ArgumentError(name, "apply to a config file; change the config object itself instead")


def _items(value: Any, name: str, expected: str) -> list[Any]:
    """The items of a list-like value (a list, tuple, set or other iterable; not a mapping, string or bytes)."""
    if isinstance(value, Mapping | bytes | str) or not isinstance(value, Iterable):
        raise ArgumentTypeError(name, f"must be {expected}, not {_kind(value)}", value)
    return list(value)


def _describe(item: Any) -> str:
    """An offending item for a message: ``None``, or its type and a short repr (``int 5``)."""
    return "None" if item is None else f"{_kind(item)} {_short(item)}"


def _kind(value: Any) -> str:
    return "None" if value is None else type(value).__name__


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _listed(choices: Iterable[str]) -> str:
    return ", ".join(repr(c) for c in choices)


def is_number(value: Any, *, finite: bool = False) -> bool:
    """A JSON number: an int or float but not a bool (``True`` is an int in Python); with ``finite``, not NaN or
    infinite either. What every reader of a file shoptune wrote checks a numeric field with.

    >>> is_number(1), is_number(2.5), is_number(True), is_number("1"), is_number(float("nan"), finite=True)
    (True, True, False, False, False)
    """
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    return not finite or math.isfinite(value)
