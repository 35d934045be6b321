"""Plots for the HTML report, each returned as an inline SVG string (matplotlib, headless, no files).

Text stays text (``svg.fonttype: none``): the SVG is small, searchable, and uses the browser's sans-serif font,
so nothing is loaded from anywhere. Element ids are prefixed per figure, so many SVGs share one page safely.

Example:
    >>> svg = forest([("task a", 0.1, -0.05, 0.2, "held-in")], xlabel="Δ score", title="Gain per task")
    >>> svg.startswith("<svg") and "task a" in svg
    True
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib
import matplotlib.patches
import numpy as np

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402

#: Colours of the report (matplotlib's tab10, readable on white).
BLUE, ORANGE, GREEN, RED, GREY, PURPLE = "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#7f7f7f", "#9467bd"
GROUP_COLOURS = {"held-in": BLUE, "held-out": ORANGE, "all": "#333333", "mean": "#333333"}
_STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "shoptune-report",
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
_counter = itertools.count(1)


@contextmanager
def _figure(width: float, height: float, ncols: int = 1, nrows: int = 1) -> Iterator[tuple[Any, Any]]:
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False)
        try:
            yield fig, axes
        finally:
            plt.close(fig)


def to_svg(fig: Any) -> str:
    """The figure as an inline ``<svg>`` element: no XML prolog, no metadata, ids unique on the page."""
    buffer = io.StringIO()
    with plt.rc_context(_STYLE):
        fig.tight_layout()
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    prefix = f"f{next(_counter)}-"
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m[1]}"', text)
    text = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m[1]})", text)
    text = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m[1]}"', text)
    return text.replace("<svg ", '<svg class="plot" role="img" ', 1)


def _cells(ax: Any, values: np.ndarray, **style: Any) -> None:
    """A heatmap drawn as vector squares (``imshow`` would embed a PNG), row 0 at the top."""
    rows, cols = values.shape
    ax.pcolormesh(np.arange(cols + 1) - 0.5, np.arange(rows + 1) - 0.5, values, edgecolors="white", **style)
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)


def _short(label: str, width: int = 42) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


# ============================================================================================ curves
def lines(
    series: dict[str, tuple[Sequence[float], Sequence[float]]],
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    logy: bool = False,
) -> str:
    """One line per series (x, y): training loss, learning rate."""
    with _figure(5.2, 3.0) as (fig, axes):
        ax = axes[0][0]
        for name, (x, y) in series.items():
            ax.plot(x, y, marker="." if len(x) < 60 else None, linewidth=1.4, label=name)
        if logy and all(v > 0 for _, y in series.values() for v in y):
            ax.set_yscale("log")
        else:
            ax.ticklabel_format(axis="y", useOffset=False)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        if len(series) > 1:
            ax.legend(fontsize=8)
        return to_svg(fig)


def bars(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    xlabel: str,
    title: str,
    colours: Sequence[str] = (),
    legend: dict[str, str] | None = None,
) -> str:
    """Horizontal bars, one per label (the realised mixture); ``legend`` names the colours used."""
    with _figure(6.4, 0.22 * len(labels) + 1.2) as (fig, axes):
        ax = axes[0][0]
        y = np.arange(len(labels))
        ax.barh(y, values, color=list(colours) or BLUE)
        ax.set_yticks(y, [_short(lb) for lb in labels], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        ax.grid(axis="y", visible=False)
        if legend:
            handles = [matplotlib.patches.Patch(color=c, label=n) for n, c in legend.items()]
            ax.legend(
                handles=handles,
                fontsize=7,
                loc="upper center",
                bbox_to_anchor=(0.5, -0.6 / len(labels) - 0.1),
                ncol=2,
                frameon=False,
            )
        return to_svg(fig)


# ============================================================================================ intervals
def forest(
    rows: Sequence[tuple[str, float, float, float, str]],
    *,
    xlabel: str,
    title: str,
    zero: bool = True,
    limits: tuple[float, float] | None = None,
) -> str:
    """A forest plot: one row per (label, estimate, ci_lo, ci_hi, group) with its 95% interval.

    With ``zero`` (differences) a line marks 0 and an interval that excludes it is drawn solid, else hollow.
    Groups colour the rows (held-in / held-out / mean ...).
    """
    palette = dict(GROUP_COLOURS)
    extra = iter([GREEN, PURPLE, RED, GREY, "#8c564b", "#e377c2", "#17becf", "#bcbd22"])
    with _figure(6.8, 0.26 * len(rows) + 1.3) as (fig, axes):
        ax = axes[0][0]
        seen: set[str] = set()
        for i, (_, est, lo, hi, group) in enumerate(rows):
            if group not in palette:
                palette[group] = next(extra, GREY)
            colour = palette[group]
            excludes = zero and (lo > 0 or hi < 0)
            ax.plot([lo, hi], [i, i], color=colour, linewidth=1.6)
            ax.plot(
                [est],
                [i],
                marker="D" if group == "mean" else "o",
                markersize=6 if group == "mean" else 5,
                color=colour,
                markerfacecolor=colour if (excludes or not zero) else "white",
                label=group if group not in seen else None,
            )
            seen.add(group)
        if zero:
            ax.axvline(0, color="black", linewidth=0.8)
        if limits:
            ax.set_xlim(*limits)
        ax.set_yticks(range(len(rows)), [_short(r[0]) for r in rows], fontsize=8)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        ax.grid(axis="y", visible=False)
        if len(seen) > 1:
            ax.legend(fontsize=7, loc="best")
        return to_svg(fig)


# ============================================================================================ relevance
def confusion_matrices(matrices: dict[str, tuple[Sequence[str], Sequence[Sequence[int]]]]) -> str:
    """Small multiples: one confusion matrix per task (rows gold, columns predicted), shaded by row share."""
    names = list(matrices)
    ncols = min(4, len(names))
    nrows = (len(names) + ncols - 1) // ncols
    with _figure(2.6 * ncols + 0.4, 2.5 * nrows + 0.3, ncols=ncols, nrows=nrows) as (fig, axes):
        for k, ax in enumerate(axes.flat):
            if k >= len(names):
                ax.set_visible(False)
                continue
            labels, matrix = matrices[names[k]]
            counts = np.asarray(matrix, dtype=float)
            share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
            _cells(ax, share, cmap="Blues", vmin=0, vmax=1)
            ax.set_aspect("equal")
            for (i, j), value in np.ndenumerate(counts):
                ax.text(
                    j, i, f"{int(value)}", ha="center", va="center", fontsize=8,
                    color="white" if share[i, j] > 0.6 else "black",
                )  # fmt: skip
            ax.set_xticks(range(len(labels)), [_short(lb, 12) for lb in labels], fontsize=7, rotation=25, ha="right")
            ax.set_yticks(range(len(labels)), [_short(lb, 12) for lb in labels], fontsize=7)
            ax.set_xlabel("predicted", fontsize=7)
            ax.set_ylabel("gold", fontsize=7)
            ax.set_title(_short(names[k], 30), fontsize=8)
            ax.grid(False)
        return to_svg(fig)


def reliability(top: dict[str, Any], classes: dict[str, dict[str, Any]]) -> str:
    """Calibration: top-label confidence vs accuracy, and each class's probability vs its frequency.

    ``top`` and each of ``classes`` hold ``bins`` (lower edges), ``confidence`` (mean predicted probability
    per bin), ``accuracy`` (observed frequency per bin) and ``count`` per bin (empty bins are skipped).
    """
    with _figure(8.6, 3.6, ncols=2) as (fig, axes):
        left, right = axes[0]
        for ax in (left, right):
            ax.plot([0, 1], [0, 1], color=GREY, linestyle="--", linewidth=0.8, label="perfect calibration")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_aspect("equal")
        conf, acc, count = _filled(top)
        left.bar(top["bins"], top["accuracy"], width=top["width"], align="edge", color=BLUE, alpha=0.25)
        left.plot(conf, acc, marker="o", color=BLUE, label="observed")
        left.set_xlabel("confidence (top class probability)")
        left.set_ylabel("accuracy")
        left.set_title(f"Top-label reliability (ECE {top['ece']:.3f}, n={sum(count)})")
        left.legend(fontsize=7, loc="upper left")
        for (name, data), colour in zip(classes.items(), (GREEN, ORANGE, RED, PURPLE, BLUE), strict=False):
            c, a, _ = _filled(data)
            right.plot(c, a, marker="o", color=colour, label=f"{name} (ECE {data['ece']:.3f})")
        right.set_xlabel("predicted probability of the class")
        right.set_ylabel("observed frequency of the class")
        right.set_title("Class-wise reliability (one-vs-rest)")
        right.legend(fontsize=7, loc="upper left")
        return to_svg(fig)


def _filled(data: dict[str, Any]) -> tuple[list[float], list[float], list[int]]:
    keep = [i for i, n in enumerate(data["count"]) if n > 0]
    return (
        [data["confidence"][i] for i in keep],
        [data["accuracy"][i] for i in keep],
        [data["count"][i] for i in keep],
    )


# ============================================================================================ sweeps
def sequence_curves(seq_by_group: dict[str, Any], zero_shot: dict[str, float], title: str) -> str:
    """An ablation's score per step for each group, with the item-level 95% band; dashed: the zero-shot model."""
    with _figure(6.8, 3.6) as (fig, axes):
        ax = axes[0][0]
        steps: list[str] = []
        for group, seq in seq_by_group.items():
            curve = seq["curve"]
            steps = list(seq["steps"])
            x = np.arange(len(curve))
            colour = GROUP_COLOURS.get(group)
            (line,) = ax.plot(x, [p["score"] for p in curve], marker="o", label=group, color=colour)
            band = 0.1 if group == "all" else 0.18  # the pooled band under the others, lighter
            ax.fill_between(
                x, [p["ci95"][0] for p in curve], [p["ci95"][1] for p in curve], alpha=band, color=line.get_color()
            )
            if group in zero_shot:
                ax.axhline(zero_shot[group], color=line.get_color(), linestyle="--", linewidth=1)
        ax.set_xticks(range(len(steps)), [_short(s, 24) for s in steps], rotation=15, ha="right")
        ax.set_ylabel("mean task score")
        ax.set_title(title)
        ax.legend(fontsize=8)
        return to_svg(fig)


def grid_heatmaps(inter_by_group: dict[str, Any], axes_names: dict[str, str]) -> str:
    """The grid's cell means as a heatmap per group, the interaction and its CI in each title."""
    groups = [g for g in inter_by_group if g != "axes"]
    with _figure(3.9 * len(groups) + 0.4, 3.6, ncols=len(groups)) as (fig, panels):
        for ax, group in zip(panels[0], groups, strict=True):
            inter = inter_by_group[group]
            grid = np.array([[inter["cells"][f"{r}|{c}"]["score"] for c in inter["cols"]] for r in inter["rows"]])
            _cells(ax, grid, cmap="viridis")
            middle = (grid.max() + grid.min()) / 2
            for (i, j), value in np.ndenumerate(grid):
                colour = "white" if value < middle else "black"
                ax.text(j, i, f"{value:.3f}", ha="center", va="center", color=colour, fontsize=9)
            ax.set_xticks(range(len(inter["cols"])), inter["cols"])
            ax.set_yticks(range(len(inter["rows"])), inter["rows"])
            ax.set_xlabel(axes_names.get("cols", "cols"))
            ax.set_ylabel(axes_names.get("rows", "rows"))
            ax.grid(False)
            d = inter["interaction"]
            ax.set_title(
                f"{group}: interaction {d['delta']:+.3f}\n95% CI [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]", fontsize=9
            )
        return to_svg(fig)
