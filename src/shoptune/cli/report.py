"""`shoptune report PATH`: one self-contained HTML report of a shoptune output folder.

Example:
    $ shoptune report runs/sft                       # writes runs/sft/report.html
    $ shoptune report runs/sweeps/rank --out /tmp/rank.html
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def report(
    path: Annotated[
        Path,
        typer.Argument(
            help="A shoptune output folder: SFT run, relevance run or eval, eval, comparison, sweep or demo."
        ),
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="The HTML file to write (default: PATH/report.html).")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing --out that shoptune did not write.")
    ] = False,
) -> None:
    """Write one self-contained HTML report (tables, inline SVG plots, provenance) of a shoptune output folder."""
    from shoptune.reports.html import build_report

    written = build_report(path, out, overwrite=overwrite)
    print(written, flush=True)
