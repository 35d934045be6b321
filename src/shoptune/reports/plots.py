"""Plots of experiment results (matplotlib, headless).

Example:
    >>> plot_base_vs_tuned(report, Path("runs/sft/eval/comparison.png"))  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

from shoptune.io import atomic_path

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402


def plot_base_vs_tuned(report: dict[str, Any], path: Path) -> Path:
    """Grouped bars per task (zero-shot vs tuned) with 95% CIs, held-out tasks marked."""
    tasks = list(report["tasks"])
    rows = [report["tasks"][t] for t in tasks]
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(tasks) + 2), 4.5))
    x = range(len(tasks))
    for offset, key, color in ((-0.2, "base", "#9aa5b1"), (0.2, "tuned", "#2f80ed")):
        values = [r[key] for r in rows]
        errs = [
            [v - r[f"{key}_ci95"][0] for v, r in zip(values, rows, strict=True)],
            [r[f"{key}_ci95"][1] - v for v, r in zip(values, rows, strict=True)],
        ]
        label = "zero-shot" if key == "base" else "tuned"
        ax.bar([i + offset for i in x], values, width=0.4, color=color, yerr=errs, capsize=2, label=label)
    ax.set_xticks(list(x))
    ax.set_xticklabels(
        [f"{t}\n(held-out)" if r["group"] == "held-out" else t for t, r in zip(tasks, rows, strict=True)],
        rotation=45,
        ha="right",
        fontsize=8,
    )
    ax.set_ylabel("task score (95% CI)")
    ax.set_ylim(0, 1.05)
    ax.legend()
    ax.set_title("Zero-shot vs multi-task LoRA")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format=path.suffix.lstrip(".") or "png")
    plt.close(fig)
    return path
