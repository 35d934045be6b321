"""Zero-shot base model vs the tuned adapter on held-in and held-out tasks, with paired bootstrap CIs.

Held-in tasks were trained on; held-out tasks were removed from training (``data.holdout``), so their gain
measures zero-shot generalisation to unseen tasks.

Example:
    >>> report = compare_base_and_tuned(Path("runs/sft/adapter"), limit=200)   # doctest: +SKIP
    >>> report["groups"]["held-out"]["delta"]                                 # doctest: +SKIP
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from shoptune.errors import ShoptuneError
from shoptune.evaluation.collect import collect_items
from shoptune.evaluation.lm import LMScorer
from shoptune.evaluation.runner import evaluate, jsonable, prediction_rows, write_results
from shoptune.evaluation.statistics import TaskRows, paired_runs_contrast, task_rows
from shoptune.io import atomic_path, atomic_write_json, atomic_write_text, claim_output, open_folder

HELD_IN, HELD_OUT = "held-in", "held-out"


def load_scores(folder: Path, items: list[Any], base_model: str) -> tuple[dict[str, Any], dict[str, TaskRows]]:
    """A written eval (metrics.json + predictions.jsonl) as metrics and encoded task rows, checked against items."""
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    if metrics.get("model") != base_model or metrics.get("adapter"):
        raise ShoptuneError(f"{folder}: not a zero-shot eval of {base_model} (model {metrics.get('model')!r})")
    rows = [json.loads(line) for line in (folder / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    if len(rows) != len(items):
        raise ShoptuneError(f"{folder}: {len(rows)} predictions for {len(items)} items: not the same evaluation")
    for i, (row, item) in enumerate(zip(rows, items, strict=True), start=1):
        if row["task"] != item.task or row["target"] != json.loads(json.dumps(jsonable(item.target))):
            raise ShoptuneError(
                f"{folder / 'predictions.jsonl'}: row {i}, field 'target': differs from this run's item"
            )
    return metrics, task_rows(rows)


def write_results_copy(src: Path, dst: Path) -> None:
    """Copy a reused eval folder next to the tuned one, so the run's eval/ stays self-contained."""
    if src.resolve() != dst.resolve():
        open_folder(dst, "eval")
        for name in ("metrics.json", "predictions.jsonl"):
            with atomic_path(dst / name) as tmp:
                shutil.copyfile(src / name, tmp)


def paired_delta(
    base: dict[str, TaskRows],
    tuned: dict[str, TaskRows],
    tasks: list[str],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Mean over tasks of (tuned - base) task score, with a paired bootstrap 95% interval.

    Items are resampled within each task, the same indices for both models, and each task's own metric is
    recomputed on the resample (pooled F1 stays pooled), so the delta is the difference of the printed scores.
    """
    return paired_runs_contrast([base, tuned], (-1.0, 1.0), tasks, n_resamples=n_resamples, seed=seed)


def compare_base_and_tuned(
    adapter_dir: Path,
    *,
    out: Path | None = None,
    tasks: list[str] | None = None,
    split: str = "test",
    limit: int | None = 200,
    batch_size: int = 16,
    data_root: Path | None = None,
    bf16: bool = False,
    log=print,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
    base_from: Path | None = None,
    only: str | None = None,
) -> dict[str, Any]:
    """Evaluate the base model and base + adapter on the same items; write both runs and a comparison.

    ``progress(name, total)``, when given, returns the per-batch callback for that model's pass (a progress bar).
    ``base_from`` reuses a base-model eval folder (another run's ``eval/base``) instead of scoring the base again;
    it must hold the same items in the same order, which is checked row by row. ``only`` ("held-in" or
    "held-out") scores that group alone, say to give the held-out tasks a larger sample.
    """
    from shoptune.models import load_causal_lm
    from shoptune.training.export import load_with_adapter, read_run_file

    run = read_run_file(adapter_dir)
    out = claim_output(out or adapter_dir.parent / "eval", "heldout-eval", inputs=[adapter_dir])
    trained, holdout = list(run["trained_tasks"]), list(run["holdout"])
    tasks = tasks or [t for t in trained if "__" not in t] + holdout  # atomic tasks are training aids

    def group_of(task: str) -> str:
        return HELD_OUT if task in holdout else HELD_IN

    if only is not None:
        if only not in (HELD_IN, HELD_OUT):
            raise ShoptuneError(f"only: {only!r} is not {HELD_IN!r} or {HELD_OUT!r}")
        tasks = [t for t in tasks if group_of(t) == only]
        if not tasks:
            raise ShoptuneError(f"{adapter_dir}: the run has no {only} tasks")

    data_dir = Path(run["data_dir"])
    use_dir = data_dir if (data_dir / "manifest.json").exists() else None
    items = collect_items(tasks, data=use_dir, data_root=data_root, split=split, limit=limit, group_of=group_of)
    metrics: dict[str, dict[str, Any]] = {}
    scores: dict[str, dict[str, TaskRows]] = {}
    if base_from is not None:
        log(f"reusing the base model's scores from {base_from}")
        metrics["base"], scores["base"] = load_scores(base_from, items, run["base_model"])
        write_results_copy(base_from, open_folder(out, "heldout-eval") / "base")
    for name in ("base", "tuned"):
        if name in metrics:
            continue
        log(f"evaluating {name} on {len(items)} items")
        if name == "base":
            model, tokenizer = load_causal_lm(run["base_model"])
        else:
            model, tokenizer = load_with_adapter(adapter_dir)
        advance = progress(name, len(items)) if progress else None
        result = evaluate(items, LMScorer(model, tokenizer, batch_size=batch_size, bf16=bf16), progress=advance)
        write_results(
            result,
            open_folder(out, "heldout-eval") / name,
            extra={"model": run["base_model"], "adapter": None if name == "base" else str(adapter_dir)},
        )
        metrics[name], scores[name] = result.metrics, task_rows(prediction_rows(result))
    base, tuned = scores["base"], scores["tuned"]
    report: dict[str, Any] = {"tasks": {}, "groups": {}}
    for task in sorted(base):
        b, t = metrics["base"]["tasks"][task], metrics["tuned"]["tasks"][task]
        report["tasks"][task] = {
            "group": group_of(task),
            "metric": b["metric"],
            "base": b["score"],
            "base_ci95": b["ci95"],
            "tuned": t["score"],
            "tuned_ci95": t["ci95"],
            "n": b["n"],
            **paired_delta(base, tuned, [task]),
            **_baselines(b, t),
        }
    for group in (HELD_IN, HELD_OUT):
        members = [task for task in report["tasks"] if group_of(task) == group]
        if members:
            report["groups"][group] = {
                "base": metrics["base"]["groups"][group],
                "base_ci95": metrics["base"]["groups_ci95"][group],
                "tuned": metrics["tuned"]["groups"][group],
                "tuned_ci95": metrics["tuned"]["groups_ci95"][group],
                "tasks": len(members),
                **paired_delta(base, tuned, members),
            }
    report["subgroups"] = subgroup_rows(run.get("holdout_groups") or {}, metrics, base, tuned)
    atomic_write_json(out / "comparison.json", report)
    atomic_write_text(out / "comparison.md", comparison_markdown(report))
    return report


def subgroup_rows(
    groups: dict[str, list[str]],
    metrics: dict[str, dict[str, Any]],
    base: dict[str, TaskRows],
    tuned: dict[str, TaskRows],
) -> dict[str, dict[str, Any]]:
    """One row per named held-out group of the config: mean task scores and the paired delta."""
    rows = {}
    for name, members in groups.items():
        members = [t for t in members if t in base]
        if members:
            rows[name] = {
                "base": float(np.mean([metrics["base"]["tasks"][t]["score"] for t in members])),
                "tuned": float(np.mean([metrics["tuned"]["tasks"][t]["score"] for t in members])),
                "tasks": len(members),
                **paired_delta(base, tuned, members),
            }
    return rows


def _baselines(base: dict[str, Any], tuned: dict[str, Any]) -> dict[str, Any]:
    """What a choice task's two scores are read against: the majority answer's score, each model's own most
    frequent answer (its share; ``constant`` at 90% or more) and macro-F1 beside accuracy. Empty otherwise."""
    out: dict[str, Any] = {}
    if base.get("majority"):
        out["majority"] = base["majority"]["score"]
    for name, m in (("base", base), ("tuned", tuned)):
        if m.get("model_mode"):
            out[f"{name}_mode"] = {**m["model_mode"], "constant": bool(m.get("constant"))}
        if "macro_f1" in (m.get("extra") or {}):
            out[f"{name}_macro_f1"] = m["extra"]["macro_f1"]
    return out


def comparison_markdown(report: dict[str, Any]) -> str:
    def ci(v: list[float]) -> str:
        return f"[{v[0]:.3f}, {v[1]:.3f}]"

    def opt(value: float | None) -> str:
        return "–" if value is None else f"{value:.3f}"

    def answers(mode: dict[str, Any] | None) -> str:
        if not mode:
            return "–"
        return f"{mode['share']:.0%}" + (" ⚠ one answer" if mode["constant"] else "")

    lines = [
        "| task | group | metric | n | majority | zero-shot (95% CI) | tuned (95% CI) | Δ (paired 95% CI) "
        "| macro-F1 zero-shot → tuned | most frequent answer's share: zero-shot / tuned |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for task, r in report["tasks"].items():
        f1 = "–"
        if "base_macro_f1" in r and "tuned_macro_f1" in r:
            f1 = f"{r['base_macro_f1']:.3f} → {r['tuned_macro_f1']:.3f}"
        lines.append(
            f"| {task} | {r['group']} | {r['metric']} | {r['n']} | {opt(r.get('majority'))} | "
            f"{r['base']:.3f} {ci(r['base_ci95'])} | {r['tuned']:.3f} {ci(r['tuned_ci95'])} | "
            f"{r['delta']:+.3f} {ci(r['ci95'])} | {f1} | "
            f"{answers(r.get('base_mode'))} / {answers(r.get('tuned_mode'))} |"
        )
    for group, r in report["groups"].items():
        lines.append(
            f"| **{group} mean** | {group} | task mean | {r['tasks']} tasks | {_mean_majority(report, group)} | "
            f"{r['base']:.3f} {ci(r['base_ci95'])} | {r['tuned']:.3f} {ci(r['tuned_ci95'])} | "
            f"{r['delta']:+.3f} {ci(r['ci95'])} | | {_constant_count(report, group)} |"
        )
    for name, r in report.get("subgroups", {}).items():
        lines.append(
            f"| **{HELD_OUT}: {name}** | {HELD_OUT} | task mean | {r['tasks']} tasks | | {r['base']:.3f} | "
            f"{r['tuned']:.3f} | {r['delta']:+.3f} {ci(r['ci95'])} | | |"
        )
    notes = (
        "\nmajority: the score of always giving the most frequent gold answer. The last column is each model's most "
        "frequent answer's share of the items; ⚠ one answer at 90% or more, where the score is that answer's rate, "
        "not something learned. A group's majority is the mean over its tasks that have one.\n"
    )
    return "\n".join(lines) + "\n" + notes


def _mean_majority(report: dict[str, Any], group: str) -> str:
    values = [r["majority"] for r in report["tasks"].values() if r["group"] == group and "majority" in r]
    return f"{float(np.mean(values)):.3f}" if values else "–"


def _constant_count(report: dict[str, Any], group: str) -> str:
    """'one answer: zero-shot 8 / tuned 2 of 14 tasks'."""
    rows = [r for r in report["tasks"].values() if r["group"] == group]
    if not any("base_mode" in r for r in rows):
        return ""
    count = {n: sum(bool((r.get(f"{n}_mode") or {}).get("constant")) for r in rows) for n in ("base", "tuned")}
    return f"one answer: {count['base']} / {count['tuned']} of {len(rows)} tasks"
