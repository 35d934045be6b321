"""Errors that reach the user as one readable line; a bad argument names the argument as the user knows it.

Example:
    >>> str(DataError("train.csv", 12, "relevance", "not a number: 'abc'"))
    "train.csv: row 12, field 'relevance': not a number: 'abc'"
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from os import PathLike
from pathlib import Path
from typing import Any, TypeVar, cast


class ShoptuneError(Exception):
    """Base class: the CLI prints these as one line, without a traceback."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as class + args + attributes, not by calling __init__ again (a DataError's takes four
        # arguments): an error raised in a worker process (data build --num-proc, Ray) reaches the parent whole.
        return _restore, (type(self), self.args, dict(self.__dict__))


def _restore(cls: type[ShoptuneError], args: tuple[Any, ...], state: dict[str, Any]) -> ShoptuneError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


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


class LeakError(ShoptuneError):
    """A build whose dev or test records share an entity key with a train split (see ``shoptune data audit``)."""


# ---------------------------------------------------------------------------------------------- arguments
#: How the user knows an argument: ``None`` (its Python name) or the command line's ``namer`` (``--limit``).
_NAMER: ContextVar[Callable[[str], str] | None] = ContextVar("shoptune_argument_namer", default=None)
_UNSET: Any = object()
F = TypeVar("F", bound=Callable[..., Any])


def argument_label(argument: str, default: str | None = None) -> str:
    """The name the user gave ``argument`` under: its option (``--limit``) inside a command, else its Python name.

    ``default``: the name when no caller has set a naming (internal callers), instead of the Python name.
    """
    namer = _NAMER.get()
    if namer is not None:
        return namer(argument)
    return argument if default is None else default


@contextmanager
def argument_names(namer: Callable[[str], str], *, outer_wins: bool = False) -> Iterator[None]:
    """Name the arguments in errors with ``namer`` for the duration (the command line: its options). With
    ``outer_wins`` a naming already in place is kept: the outermost caller is the one the user typed."""
    if outer_wins and _NAMER.get() is not None:
        yield
        return
    token = _NAMER.set(namer)
    try:
        yield
    finally:
        _NAMER.reset(token)


def python_names() -> AbstractContextManager[None]:
    """Inside a Python API call: arguments keep their Python names unless the command line is the caller."""
    return argument_names(_python_name, outer_wins=True)


def _python_name(argument: str) -> str:
    return argument


def python_api(function: F) -> F:
    """Mark a public function: errors raised during the call name the arguments by their Python names (``limit``),
    unless the command line called it (then they name its options). Messages deep inside that name an option when
    no caller set a naming (``argument_label("out", default="--out")``) follow the caller too."""

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        with python_names():
            return function(*args, **kwargs)

    return cast(F, call)


def show_value(name: str, value: Any) -> str:
    """``limit=0`` for a Python argument, ``--limit 0`` for an option: how the message quotes the bad value."""
    if isinstance(value, PathLike):
        value = os.fspath(value)
        shown = repr(value) if _is_python_name(name) else value
    else:
        shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return f"{name}={shown}" if _is_python_name(name) else f"{name} {shown}"


def argument_hint(argument: str, placeholder: str, default: str | None = None) -> str:
    """How to pass an argument, for a message: ``task=NAME`` in Python, ``--task NAME`` on the command line."""
    name = argument_label(argument, default)
    return f"{name}={placeholder}" if _is_python_name(name) else f"{name} {placeholder}"


def _is_python_name(name: str) -> bool:
    """``limit`` (a Python argument), not ``--limit`` (an option) or ``CONFIG`` (a positional argument)."""
    return name.isidentifier() and not name.isupper()


class _ArgumentProblem(ShoptuneError):
    """A bad argument: ``argument`` is its Python name; the message names it as the user knows it (see
    :func:`argument_label`) and quotes ``value`` when given."""

    def __init__(self, argument: str, problem: str, value: Any = _UNSET, *, named: bool = True) -> None:
        self.argument = argument
        self.problem = problem
        name = argument_label(argument)
        where = name if value is _UNSET else show_value(name, value)
        # ``named=False``: the problem names its arguments itself ("give either source with input or data").
        super().__init__(f"{where}: {problem}" if named else problem)

    def __reduce__(self) -> tuple[Any, ...]:  # the message as raised, not re-named where it is unpickled
        return _rebuild, (type(self), self.argument, self.problem, str(self))


def _rebuild(cls: type[_ArgumentProblem], argument: str, problem: str, message: str) -> _ArgumentProblem:
    error = cls.__new__(cls)
    error.argument, error.problem, error.args = argument, problem, (message,)
    return error


class ArgumentError(_ArgumentProblem, ValueError):
    """An argument of the right type with a bad value (``limit=0``, ``split='nosuch'``)."""


class ArgumentTypeError(_ArgumentProblem, TypeError):
    """An argument of the wrong type (``limit='1'``, ``model=None``), or one the function does not take."""


class ConfigArgumentError(ConfigError, ArgumentError):
    """A bad config override (``--set`` / ``overrides``): a config error and a bad argument both."""
