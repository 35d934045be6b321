"""The kinds of shoptune output folder a report knows, and how each is recognised from its files.

A kind is recognised from the ``.shoptune`` marker first, then from the files each writer leaves: an SFT run
(``train sft``), a relevance run (``train relevance``), a relevance eval (``relevance eval``), an eval folder
(``eval``), a comparison folder (``relevance compare``, ``experiments heldout``), a sweep (``experiment run``) or a
demo folder (``demo``: its sub-folders, one level down, each become a section of one page).

Example:
    >>> detect(Path("runs/sweeps/chain_of_task"))  # doctest: +SKIP
    'sweep'
"""

from __future__ import annotations

import json
from pathlib import Path

from shoptune.errors import ShoptuneError
from shoptune.io import marker_kind
from shoptune.reports.blocks import Section
from shoptune.reports.common import HELDOUT_FILE

#: Kind -> what a person calls it (the list the "not a shoptune folder" error names).
KINDS = {
    "sft-run": "an SFT run (train sft)",
    "relevance-run": "a relevance run (train relevance)",
    "relevance-eval": "a relevance eval folder (relevance eval)",
    "eval": "an eval folder (eval)",
    "comparison": "a comparison folder (relevance compare, experiments heldout)",
    "sweep": "a sweep (experiment run)",
    "demo": "a demo folder (demo)",
}
#: The files `relevance compare` writes.
RELEVANCE_COMPARISONS = ("routing", "prefix_ablation", "multitask", "ensemble")


def _metrics_kind(path: Path) -> str | None:
    try:
        data = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), dict):
        return None
    if "mean_over_tasks" in data:
        return "relevance-eval"
    return "eval" if "overall" in data else None


def detect(path: Path) -> str | None:
    """The kind of shoptune output folder ``path`` is (a key of ``KINDS``), or None."""
    if not path.is_dir():
        return None
    marker = marker_kind(path)
    if marker == "demo":
        return "demo"
    if marker == "sweep" or (path / "sweep.json").is_file():
        return "sweep"
    if marker == "sft-run" or (path / "adapter" / "shoptune_run.json").is_file():
        return "sft-run"
    if marker == "relevance-run" or (path / "sampling.json").is_file():
        return "relevance-run"
    if (path / "train_log.jsonl").is_file() and (path / "mixture.json").is_file():
        return "sft-run"
    if any((path / f"{name}.json").is_file() for name in RELEVANCE_COMPARISONS) or (path / HELDOUT_FILE).is_file():
        return "comparison"
    return _metrics_kind(path)


def not_recognised(path: Path) -> ShoptuneError:
    """The one-line refusal, naming what was expected (and what the folder is, when shoptune wrote it)."""
    if not path.exists():
        return ShoptuneError(f"{path}: no such folder")
    if not path.is_dir():
        return ShoptuneError(f"{path}: not a folder; give a shoptune output folder")
    marker = marker_kind(path)
    what = f" (it is a {marker} folder)" if marker else ""
    expected = ", ".join(KINDS.values())
    return ShoptuneError(f"{path}: not a shoptune output folder a report knows{what}; expected {expected}")


def build_section(path: Path, kind: str, anchor: str) -> Section:
    """The report section of one recognised folder (not a demo: that is a page of sections)."""
    from shoptune.reports import section_relevance, section_sft, section_sweep

    builders = {
        "sft-run": section_sft.sft_section,
        "eval": section_sft.eval_section,
        "relevance-run": section_relevance.relevance_run_section,
        "relevance-eval": section_relevance.relevance_eval_section,
        "comparison": section_relevance.comparison_section,
        "sweep": section_sweep.sweep_section,
    }
    return builders[kind](path, anchor)
