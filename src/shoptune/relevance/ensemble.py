"""Ensembles of relevance models: majority vote over members (seeds, routings, families), ties broken by summed
probabilities, saved as one servable artifact folder that eval and predict load like a single model. Members vote
with their own decision rules (argmax for members without one); the argmax vote is reported beside it.

Layout: ``OUT/relevance.json`` (kind ``ensemble``, the members' paths relative to OUT, their names and tasks)
and, with ``copy=True``, the members themselves under ``OUT/members/<i>/`` so the folder is self-contained.

Example:
    >>> build_ensemble(["runs/a/model", "runs/b/model", "runs/c/model"], "runs/ens")  # doctest: +SKIP
    >>> from shoptune.relevance.predictor import load_predictor
    >>> load_predictor("runs/ens").predict_proba(pairs)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shoptune.errors import ShoptuneError
from shoptune.io import atomic_write_json, claim_output, staging_dir
from shoptune.relevance.model import ARTIFACT_FILE, FORMAT_VERSION
from shoptune.relevance.predictor import EnsemblePredictor, artifact_info, combine_votes, vote

__all__ = ["EnsemblePredictor", "build_ensemble", "combine_votes", "resolve_artifact", "vote"]


def resolve_artifact(path: str | Path) -> Path:
    """An artifact folder from either the folder itself or a training run folder holding ``model/``.

    >>> resolve_artifact("/nonexistent")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shoptune.errors.ShoptuneError: /nonexistent: not a relevance model or run folder (no relevance.json ...)
    """
    path = Path(path)
    for candidate in (path, path / "model"):
        if (candidate / ARTIFACT_FILE).is_file():
            return candidate
    raise ShoptuneError(f"{path}: not a relevance model or run folder (no {ARTIFACT_FILE} in it or in model/)")


def build_ensemble(
    members: Sequence[str | Path], out: str | Path, *, names: Sequence[str] | None = None, copy: bool = False
) -> Path:
    """Write an ensemble artifact over ``members`` (model, per-task or ensemble folders, or run folders).

    Members must serve the same tasks: a vote over a task that some members do not know would silently be a vote
    of fewer members, so members with different task sets are refused, naming what each one lacks.
    """
    if len(members) < 2:
        raise ShoptuneError("an ensemble needs at least two members")
    if names is not None and len(names) != len(members):
        raise ShoptuneError(f"--name: {len(names)} names for {len(members)} members; give one name per --member")
    out = Path(out).resolve()
    claim_output(out, "ensemble", inputs=members)
    resolved = [resolve_artifact(m).resolve() for m in members]
    infos = [artifact_info(p) for p in resolved]
    labels = names or [_default_name(p) for p in resolved]
    if len(set(labels)) != len(labels):
        raise ShoptuneError(f"member names must be unique, got {list(labels)}")
    tasks = _common_tasks(infos, labels)
    with staging_dir(out, kind="ensemble", inputs=resolved) as tmp:
        _write_ensemble(tmp, out, resolved, infos, labels, tasks, copy=copy)
    return out


def _common_tasks(infos: list[dict[str, Any]], labels: Sequence[str]) -> list[str]:
    """The members' one task set; members that serve different tasks are refused with what each one lacks."""
    sets = [{str(t) for t in info.get("tasks", [])} for info in infos]
    union = set().union(*sets)
    if not union:
        raise ShoptuneError("the members serve no task")
    lacking = [
        f"{name} lacks {', '.join(sorted(union - s))}" for name, s in zip(labels, sets, strict=True) if union - s
    ]
    if lacking:
        raise ShoptuneError(
            f"the members serve different tasks ({'; '.join(lacking)}); an ensemble votes with every member on every "
            "task, so give members trained on the same tasks"
        )
    return sorted(union)


def _write_ensemble(
    tmp: Path,
    out: Path,
    resolved: list[Path],
    infos: list[dict[str, Any]],
    labels: Sequence[str],
    tasks: list[str],
    *,
    copy: bool,
) -> None:
    entries: list[dict[str, Any]] = []
    for i, (path, info, name) in enumerate(zip(resolved, infos, labels, strict=True)):
        if copy:
            shutil.copytree(path, tmp / "members" / str(i), symlinks=False)
            rel = f"members/{i}"
        else:
            rel = os.path.relpath(path, out)
        entries.append({"name": name, "path": rel, "family": info.get("family"), "routing": info.get("routing")})
    sources: dict[str, Any] = {}
    for info in infos:
        for task, src in info.get("task_sources", {}).items():
            if task in tasks:
                sources.setdefault(task, src)
    manifest = {
        "format": "shoptune-relevance",
        "version": FORMAT_VERSION,
        "kind": "ensemble",
        "rule": "majority vote of member labels (each member's decision rule, argmax without one); ties -> the tied "
        "label with the largest summed probability",
        "members": entries,
        "tasks": tasks,
        "task_sources": sources,
    }
    atomic_write_json(tmp / ARTIFACT_FILE, manifest)


def _default_name(path: Path) -> str:
    # A run's artifact lives in RUN/model: the run's folder name says more than "model".
    return path.parent.name if path.name == "model" else path.name
