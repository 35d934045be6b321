"""Reports: Markdown summaries and plots of runs, and one self-contained HTML report of any shoptune output folder,
for people who would rather look than read.

Example:
    >>> from shoptune.reports import build_report
    >>> build_report(Path("runs/sweeps/chain_of_task"), Path("/tmp/chain.html"))  # doctest: +SKIP
    PosixPath('/tmp/chain.html')
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_report"]


def __getattr__(name: str) -> Any:
    # Lazy: `shoptune.reports.plots` users need not import Jinja2 and the report kinds.
    if name == "build_report":
        from shoptune.reports.html import build_report

        return build_report
    raise AttributeError(f"module 'shoptune.reports' has no attribute {name!r}")
