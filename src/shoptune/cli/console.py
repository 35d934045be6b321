"""Where the commands write: tables and results on stdout, messages, progress bars and errors on stderr."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

#: A data-parallel worker other than rank 0 (``torchrun`` / ``accelerate launch``): rank 0 prints the run's
#: results, bars and messages for every rank, so this one prints only its errors.
OTHER_RANK = int(os.environ.get("RANK", "0") or 0) > 0
# Wide tables when piped (CI logs, files): rich would otherwise wrap at 80 columns.
console = Console(width=None if sys.stdout.isatty() else 160, quiet=OTHER_RANK)
err_console = Console(stderr=True)

#: ``add(name, total)`` starts one progress bar and returns its advance callback (what the library's
#: ``progress`` parameters take).
AddBar = Callable[[str, int | None], Callable[[int], None]]


def log(message: str) -> None:
    """One progress message on stderr, printed as is (no rich markup, no highlighting)."""
    if OTHER_RANK:
        return
    err_console.print(message, markup=False, highlight=False)


def table(title: str, columns: list[str], right: tuple[str, ...] = ()) -> Table:
    """A table with these columns; those named in ``right`` (numbers) are right-aligned."""
    out = Table(title=title)
    for col in columns:
        out.add_column(col, justify="right" if col in right else "left")
    return out


@contextmanager
def lazy_progress(
    *columns: ProgressColumn, hide_when_piped: bool = False, transient: bool = False
) -> Iterator[Progress]:
    """A rich Progress on stderr that is drawn only from its first ``start()``: a command that fails before any
    work prints its one error line and no empty bar (nor the empty line rich's ``stop()`` prints off a terminal)."""
    disable = (hide_when_piped and not err_console.is_terminal) or OTHER_RANK
    bar = Progress(*columns, console=err_console, disable=disable, transient=transient)
    try:
        yield bar
    finally:
        if bar.live.is_started:  # never started: nothing to stop, and no line to end
            bar.stop()


@contextmanager
def _bars(*columns: ProgressColumn, describe: Callable[[str], str], hide_when_piped: bool = False) -> Iterator[AddBar]:
    with lazy_progress(*columns, hide_when_piped=hide_when_piped) as bar:

        def add(name: str, total: int | None) -> Callable[[int], None]:
            bar.start()
            job = bar.add_task(describe(name), total=total)
            return lambda n: bar.advance(job, n)

        yield add


def model_bars() -> AbstractContextManager[AddBar]:
    """One bar per scored model, ``scoring NAME``: yields ``add(name, total)``."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return _bars(*columns, describe=lambda name: f"scoring {name}")


def labelled_bars(label: str) -> AbstractContextManager[AddBar]:
    """Bars titled ``label`` with a time estimate, shown only on a terminal: piped to a log, a bar's frames would
    only bury the messages. Yields ``add(name, total)``."""
    columns = (
        TextColumn(f"[bold]{label}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    return _bars(*columns, describe=lambda name: name, hide_when_piped=True)


def ci(pair: list[float]) -> str:
    """A 95% interval as ``[lo, hi]`` with three decimals."""
    return f"[{pair[0]:.3f}, {pair[1]:.3f}]"
