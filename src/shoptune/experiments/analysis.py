"""A sweep's results: the table (a row per arm x seed x task), aggregates, and paired comparisons of arms.

Every number comes from :mod:`shoptune.evaluation.statistics`: a group score is the mean of its tasks' scores
(each task's own metric), and every interval is a hierarchical bootstrap over seeds and then items within tasks
(:func:`~shoptune.evaluation.statistics.seed_item_contrast`), with the same resampled items for every arm. The
sweep's primary contrasts (named in its YAML before it runs) lead, Holm-corrected, each with the MDE of the
design it ran at; every other comparison is exploratory and Benjamini–Hochberg-corrected. With fewer than 3
seeds no seed-level inference is made and nothing is called a finding.

Example:
    >>> summary = write_analysis(plan_sweep(load_sweep("sweep.yaml"), Path("runs/sweep")))  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from shoptune.errors import DataError, ShoptuneError
from shoptune.evaluation.statistics import TaskRows, benjamini_hochberg, holm, seed_item_contrast, task_rows
from shoptune.io import atomic_path, atomic_write_json, atomic_write_text, safe_component


class Plan(Protocol):
    """What the analysis reads of a sweep's plan (:class:`shoptune.experiments.sweep.Plan`; a protocol here so
    that the analysis never imports the sweep runner, which imports it)."""

    cfg: Any
    layout: Any
    arms: list[Any]
    configs: dict[tuple[str, int], Any]
    data_dir: Path
    tasks: list[str]
    groups: dict[str, str]


Log = Callable[[str], None]
Runs = dict[tuple[str, int], dict[str, TaskRows]]
N_RESAMPLES = 1000


def read_rows(eval_dir: Path) -> dict[str, TaskRows]:
    """The scored rows of an eval folder's predictions.jsonl per task; a damaged file is one line naming the file
    and the row (the n-th non-blank line)."""
    from shoptune.evaluation.metrics import get_metric

    path = eval_dir / "predictions.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ShoptuneError(f"{path}: missing; score it again: `shoptune experiment run ... --resume`") from None
    except UnicodeDecodeError as exc:
        raise DataError(path, 0, "-", f"damaged, not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ShoptuneError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    rows: list[dict[str, Any]] = []
    for text in lines:
        if not text.strip():
            continue
        number = len(rows) + 1
        try:
            row = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            raise DataError(path, number, "-", f"damaged, not valid JSON ({reason})") from None
        if not isinstance(row, dict):
            raise DataError(path, number, "-", f"damaged, expected a JSON object, got {type(row).__name__}")
        for field in ("task", "metric"):
            if not isinstance(row.get(field), str):
                raise DataError(path, number, field, f"missing or not a string ({row.get(field)!r})")
        try:
            get_metric(row["metric"])
        except ValueError:
            raise DataError(path, number, "metric", f"unknown metric {row['metric']!r}") from None
        if "row" not in row:
            raise DataError(path, number, "row", "missing")
        rows.append(row)
    try:
        return task_rows(rows)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(path, 0, "-", f"damaged, its rows cannot be scored ({reason})") from None


def check_items(evals: dict[Path, dict[str, TaskRows]], tasks: Sequence[str]) -> None:
    """Every eval (folder -> rows) must hold every task, scored on the same items with the same metric: what
    the paired comparisons assume. A damaged or stale eval is one line naming its file."""
    for task in tasks:
        first: tuple[Path, TaskRows] | None = None
        for folder, rows in evals.items():
            path = folder / "predictions.jsonl"
            if task not in rows:
                raise DataError(
                    path, 0, "task", f"no rows of task {task!r}, which the sweep scores; {_rescore(folder)}"
                )
            if first is None:
                first = (path, rows[task])
                continue
            ref_path, ref = first
            other = rows[task]
            if len(other.values) != len(ref.values) or other.targets != ref.targets or other.metric != ref.metric:
                raise DataError(
                    path,
                    0,
                    "task",
                    f"task {task!r} was not scored on the same items as in {ref_path} "
                    f"({len(other.values)} vs {len(ref.values)} rows); {_rescore(folder)}",
                )


def _rescore(folder: Path) -> str:
    return f"remove {folder / 'eval.json'} and rerun with --resume to score it again"


def task_groups(plan: Plan) -> dict[str, list[str]]:
    """The task groups every table reports: all, held-in, held-out, the named held-out groups, capabilities."""
    from shoptune.data.build import read_manifest, task_specs
    from shoptune.tasks import load_tasks

    specs = task_specs(read_manifest(plan.data_dir), load_tasks())
    holdout = next(iter(plan.configs.values())).data.holdout_groups()
    return group_members(plan.tasks, plan.groups, holdout, lambda t: specs[t].capability if t in specs else None)


def group_members(
    tasks: Sequence[str],
    groups: dict[str, str],
    holdout: dict[str, list[str]],
    capability_of: Callable[[str], str | None],
) -> dict[str, list[str]]:
    """The tasks of each group: all, held-in, held-out, each named held-out group, each held-in capability (a
    group with no task is left out)."""
    members: dict[str, list[str]] = {"all": list(tasks)}
    members["held-in"] = [t for t in tasks if groups[t] == "held-in"]
    members["held-out"] = [t for t in tasks if groups[t] == "held-out"]
    for name, listed in holdout.items():
        members[f"held-out: {name}"] = [t for t in listed if t in tasks]
    capabilities = {t: capability_of(t) for t in members["held-in"]}
    for cap in sorted({c for c in capabilities.values() if c}):
        members[f"held-in: {cap}"] = [t for t in members["held-in"] if capabilities[t] == cap]
    return {name: listed for name, listed in members.items() if listed}


# ============================================================================================ contrasts
def contrast(
    runs: Runs, weights: dict[str, float], seeds: Sequence[int], tasks: Sequence[str], seed: int = 0
) -> dict[str, Any]:
    """``sum_arm w_arm * score(arm)`` (seeds averaged) with an interval that holds seed and item variance.

    :func:`~shoptune.evaluation.statistics.seed_item_contrast` (a hierarchical bootstrap over seeds, then items
    within tasks); with fewer than 3 seeds the interval is over items only and ``seed_inference`` is False.
    Whether a contrast is a finding is decided once all of a sweep's contrasts are known (:func:`correct`).
    """
    arms = list(weights)
    return seed_item_contrast(
        [[runs[(arm, s)] for s in seeds] for arm in arms],
        [weights[arm] for arm in arms],
        tasks,
        n_resamples=N_RESAMPLES,
        seed=seed,
    )


def arm_score(runs: Runs, arm: str, seeds: Sequence[int], tasks: Sequence[str]) -> dict[str, Any]:
    result = contrast(runs, {arm: 1.0}, seeds, tasks)
    return {
        "score": result["delta"],
        "ci95": result["ci95"],
        "seed_sd": result["seed_sd"],
        "per_seed": result["per_seed"],
    }


def sequence_report(runs: Runs, steps: list[str], seeds: Sequence[int], tasks: Sequence[str]) -> dict[str, Any]:
    """An ablation's steps: each against the previous and the first, the curve, and the slope per step."""
    curve = [arm_score(runs, arm, seeds, tasks) | {"arm": arm} for arm in steps]
    rows = []
    for i in range(1, len(steps)):
        rows.append(
            {
                "arm": steps[i],
                "vs_previous": contrast(runs, {steps[i]: 1.0, steps[i - 1]: -1.0}, seeds, tasks),
                "vs_first": contrast(runs, {steps[i]: 1.0, steps[0]: -1.0}, seeds, tasks),
            }
        )
    x = np.arange(len(steps), dtype=float)
    centred = x - x.mean()
    weights = centred / float(np.sum(centred**2)) if len(steps) > 1 else np.zeros(1)
    slope = contrast(runs, dict(zip(steps, weights.tolist(), strict=True)), seeds, tasks) if len(steps) > 1 else None
    return {"steps": steps, "curve": curve, "contrasts": rows, "slope": slope}


def interaction_report(
    runs: Runs,
    grid: dict[tuple[str, str], str],
    rows: list[str],
    cols: list[str],
    seeds: Sequence[int],
    tasks: Sequence[str],
) -> dict[str, Any]:
    """The grid's cell means, the column gain (last - first column) in every row, and the interaction:
    the gain at the last row minus the gain at the first (the study's "capacity amplifies diversity")."""
    cells = {f"{r}|{c}": arm_score(runs, grid[(r, c)], seeds, tasks) for r in rows for c in cols}
    lo_c, hi_c = cols[0], cols[-1]
    gains = {r: contrast(runs, {grid[(r, hi_c)]: 1.0, grid[(r, lo_c)]: -1.0}, seeds, tasks) for r in rows}
    return {
        "rows": rows,
        "cols": cols,
        "cells": cells,
        "gains": gains,
        "interaction": contrast(runs, interaction_weights(grid, rows, cols), seeds, tasks),
    }


def interaction_weights(grid: dict[tuple[str, str], str], rows: list[str], cols: list[str]) -> dict[str, float]:
    """Arm weights of (last row: last col - first col) - (first row: last col - first col)."""
    lo_c, hi_c = cols[0], cols[-1]
    weights = {grid[(rows[-1], hi_c)]: 1.0, grid[(rows[-1], lo_c)]: -1.0}
    weights[grid[(rows[0], hi_c)]] = weights.get(grid[(rows[0], hi_c)], 0.0) - 1.0
    weights[grid[(rows[0], lo_c)]] = weights.get(grid[(rows[0], lo_c)], 0.0) + 1.0
    return weights


def grid_axes(
    cfg: Any, arms: Sequence[Any]
) -> tuple[dict[str, str], dict[tuple[str, str], str], list[str], list[str]] | None:
    """The grid's interaction axes, cell -> arm, and the row and column levels in order, from the expanded ``arms``
    (each with its ``levels``); None without a two-factor grid."""
    factors = list(cfg.grid or {})
    axes = cfg.compare.interaction or ({"rows": factors[0], "cols": factors[1]} if len(factors) == 2 else None)
    if not axes:
        return None
    rows = list(dict.fromkeys(a.levels[axes["rows"]] for a in arms))
    cols = list(dict.fromkeys(a.levels[axes["cols"]] for a in arms))
    grid = {(a.levels[axes["rows"]], a.levels[axes["cols"]]): a.name for a in arms}
    return dict(axes), grid, rows, cols


# ============================================================================================ primary and the rest
def primary_report(plan: Plan, runs: Runs, groups: dict[str, list[str]], shape: Any = None) -> list[dict[str, Any]]:
    """Each primary contrast the sweep names: its estimate, seed-aware CI, Holm-adjusted p, the MDE of the design
    it ran at, and a one-sentence conclusion. ``shape`` is the grid's :func:`grid_axes` (None without a grid)."""
    from shoptune.evaluation.power import minimum_detectable_effect

    cfg, seeds = plan.cfg, list(plan.cfg.seeds)
    arms = {a.name for a in plan.arms}
    out = []
    for k, spec in enumerate(cfg.primary):
        tasks = groups.get(spec.group)
        weights = (interaction_weights(*shape[1:]) if shape else {}) if spec.interaction else dict(spec.weights)
        entry: dict[str, Any] = spec.model_dump() | {"weights": weights}
        missing = sorted(a for a in weights if a not in arms)
        if not tasks or not weights or missing:
            if missing or not weights:
                reason = f"arms not finished: {', '.join(missing)}" if missing else "the grid is not finished"
            else:
                reason = f"no task in group {spec.group!r}"
            out.append(entry | {"result": None, "conclusion": f"Not computed: {reason}."})
            continue
        result = contrast(runs, weights, seeds, tasks, seed=1000 + k)
        mde = (
            minimum_detectable_effect(
                seed_sd=result["seed_sd"], item_sd=result["item_sd"], seeds=len(seeds), items=result["items"]
            )
            if result["seed_sd"] is not None
            else float("inf")
        )
        out.append(entry | {"result": result, "mde": mde})
    adjusted = holm([e["result"]["p_value"] for e in out if e["result"]])
    for entry in (e for e in out if e["result"]):
        result = entry["result"]
        result["p_adjusted"], result["correction"] = adjusted.pop(0), "Holm"
        result["finding"] = bool(result["seed_inference"] and result["p_adjusted"] < 0.05)
        entry["conclusion"] = conclusion(entry)
    return out


def conclusion(entry: dict[str, Any]) -> str:
    """One sentence on what a primary contrast's numbers mean."""
    r, mde = entry["result"], entry.get("mde", float("inf"))
    lo, hi = r["ci95"]
    what = entry.get("question") or entry["name"]
    if not r["seed_inference"]:
        return (
            f"{what} Not answerable: {r['seeds']} seed(s) give no seed-level inference (3 or more are needed); "
            f"the item-level interval [{lo:+.3f}, {hi:+.3f}] leaves out seed variance."
        )
    if r["finding"]:
        direction = "higher" if r["delta"] > 0 else "lower"
        return (
            f"{what} Yes: the contrast is {r['delta']:+.3f} [{lo:+.3f}, {hi:+.3f}] ({direction}; Holm p = "
            f"{r['p_adjusted']:.3g}) over {r['seeds']} seeds and {r['items']} items."
        )
    expected = entry.get("expected_effect")
    verdict = (
        f"; the expected {expected:.3f} is below it, so this design could not have seen it"
        if expected is not None and mde > expected
        else ""
    )
    return (
        f"{what} No effect larger than {mde:.3f} (this design's MDE at 80% power{verdict}): "
        f"{r['delta']:+.3f} [{lo:+.3f}, {hi:+.3f}], Holm p = {r['p_adjusted']:.3g}."
    )


def exploratory_contrasts(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Every contrast of the sequences and the grid (the ones not named primary), in report order."""
    found = []
    for by_group in report["sequences"].values():
        for seq in by_group.values():
            for row in seq["contrasts"]:
                found += [row["vs_previous"], row["vs_first"]]
            if seq["slope"]:
                found.append(seq["slope"])
    for group, inter in (report.get("interaction") or {}).items():
        if group != "axes":
            found += [*inter["gains"].values(), inter["interaction"]]
    return found


def correct_exploratory(report: dict[str, Any]) -> None:
    """Benjamini–Hochberg over all exploratory contrasts; a finding needs seed-level inference and q < 0.05."""
    found = exploratory_contrasts(report)
    for result, q in zip(found, benjamini_hochberg([r["p_value"] for r in found]), strict=True):
        result["p_adjusted"], result["correction"] = q, "BH"
        result["finding"] = bool(result["seed_inference"] and q < 0.05)


# ============================================================================================ writing
def write_analysis(plan: Plan, *, log: Log = print) -> dict[str, Any]:
    """results.parquet / results.md, comparisons.json / comparisons.md and the plots, from the evals on disk."""
    cfg, layout = plan.cfg, plan.layout
    seeds = list(cfg.seeds)
    runs: Runs = {(a.name, s): read_rows(layout.eval(a.name, s)) for a in plan.arms for s in seeds}
    models = {c.model for c in plan.configs.values()}
    base = {m: read_rows(layout.base_eval(m)) for m in models}
    folders = {layout.eval(a, s): rows for (a, s), rows in runs.items()}
    check_items(folders | {layout.base_eval(m): rows for m, rows in base.items()}, plan.tasks)
    groups = task_groups(plan)
    flags = {key: read_baselines(layout.eval(*key)) for key in runs}
    base_flags = {m: read_baselines(layout.base_eval(m)) for m in models}
    moved = answers_moved(plan, runs, base)
    write_table(plan, runs, base, groups, (flags, base_flags), moved)
    report: dict[str, Any] = {"groups": groups, "arms": {}, "sequences": {}, "interaction": None}
    report["baselines"] = baseline_summary(plan, groups, flags, base_flags) | {"answers_moved": moved}
    for arm in plan.arms:
        model = plan.configs[(arm.name, seeds[0])].model
        report["arms"][arm.name] = {
            g: arm_score(runs, arm.name, seeds, tasks) | {"base": float(np.mean([base[model][t].score for t in tasks]))}
            for g, tasks in groups.items()
        }
    focus = {g: groups[g] for g in ("all", "held-in", "held-out") if g in groups}
    sequences = dict(cfg.compare.sequences) or ({"arms": [a.name for a in plan.arms]} if cfg.arms else {})
    for name, steps in sequences.items():
        report["sequences"][name] = {g: sequence_report(runs, steps, seeds, tasks) for g, tasks in focus.items()}
        zero_shot = {g: report["arms"][steps[0]][g]["base"] for g in focus}
        plot = layout.root / safe_component(f"sequence_{name}.png", "sequence")
        plot_sequence(report["sequences"][name], plot, name, zero_shot, majority_scores(report, focus))
    shape = grid_axes(cfg, plan.arms) if cfg.grid else None
    if shape:
        axes, grid, rows, cols = shape
        report["interaction"] = {
            g: interaction_report(runs, grid, rows, cols, seeds, tasks) for g, tasks in focus.items()
        } | {"axes": axes}
        plot_grid(report["interaction"], layout.root / "grid.png", axes)
    report["primary"] = primary_report(plan, runs, groups, shape)
    correct_exploratory(report)
    atomic_write_json(layout.root / "comparisons.json", report)
    text = comparisons_markdown(report, seeds)
    atomic_write_text(layout.root / "comparisons.md", text)
    log(f"wrote {layout.root / 'results.md'} and {layout.root / 'comparisons.md'}")
    return report


Baselines = dict[Any, dict[str, dict[str, Any]]]


def baseline_summary(
    plan: Plan, groups: dict[str, list[str]], flags: Baselines, base_flags: Baselines
) -> dict[str, Any]:
    """What the arms' scores are read against: per group the majority answer's mean score, and per arm (and
    zero-shot model) how many tasks each seed answered with one answer."""
    majority = next(iter(base_flags.values()), {})
    return {
        "majority": {g: _majority(majority, tasks) for g, tasks in groups.items()},
        "one_answer": {
            a.name: [_constant_count(flags[(a.name, s)], plan.tasks) for s in plan.cfg.seeds] for a in plan.arms
        },
        "zero_shot_one_answer": {m: _constant_count(f, plan.tasks) for m, f in base_flags.items()},
        "tasks": len(plan.tasks),
    }


def write_table(
    plan: Plan,
    runs: Runs,
    base: dict[str, dict[str, TaskRows]],
    groups: dict[str, list[str]],
    baselines: tuple[Baselines, Baselines],
    moved: dict[str, dict[str, float] | None],
) -> None:
    """results.parquet: a row per (arm or base) x seed x task; results.md: the aggregates per group, beside the
    majority answer's score and each model's count of one-answer tasks."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from shoptune.data.build import read_manifest, task_specs
    from shoptune.tasks import load_tasks

    specs = task_specs(read_manifest(plan.data_dir), load_tasks())
    rows = []
    levels = {a.name: a.levels for a in plan.arms}
    for (arm, seed), tasks in runs.items():
        for task, data in tasks.items():
            rows.append(_row(arm, seed, task, data, plan, specs, levels.get(arm, {})))
    for model, tasks in base.items():
        for task, data in tasks.items():
            rows.append(_row(f"base:{model}", None, task, data, plan, specs, {}))
    with atomic_path(plan.layout.root / "results.parquet") as tmp:
        pq.write_table(pa.Table.from_pylist(rows), str(tmp))
    seeds = plan.cfg.seeds
    flags, base_flags = baselines
    header = ["arm", *groups, "one-answer tasks", "answers ≠ zero-shot"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    majority = next(iter(base_flags.values()), {})
    lines.append("| majority answer | " + " | ".join(_majority_cell(majority, m) for m in groups.values()) + " | | |")
    for model, tasks in base.items():
        means = [float(np.mean([tasks[t].score for t in members])) for members in groups.values()]
        count = _constant_cell([base_flags[model]], plan.tasks)
        lines.append(f"| zero-shot {model} | " + " | ".join(f"{m:.3f}" for m in means) + f" | {count} | |")
    for arm in plan.arms:
        cells = []
        for members in groups.values():
            s = arm_score(runs, arm.name, seeds, members)
            sd = f" ±{s['seed_sd']:.3f}" if s["seed_sd"] is not None else ""
            cells.append(f"{s['score']:.3f} [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]{sd}")
        count = _constant_cell([flags[(arm.name, s)] for s in seeds], plan.tasks)
        m = moved[arm.name]
        shift = f"{m['share']:.0%} ({m['tasks_moved']:.1f} of {len(plan.tasks)} tasks)" if m else "–"
        lines.append(f"| {arm.name} | " + " | ".join(cells) + f" | {count} | {shift} |")
    sizes = ", ".join(f"{g}: {len(t)}" for g, t in groups.items())
    text = (
        f"# Sweep results ({len(plan.arms)} arms x {len(seeds)} seeds)\n\n"
        f"Mean task score per group (tasks per group: {sizes}); [95% CI] ±seed-to-seed SD. "
        + (
            "The intervals hold seed and item variance (hierarchical bootstrap). "
            if len(seeds) >= 3
            else "Fewer than 3 seeds: the intervals are over items only; seed variance is not in them. "
        )
        + f"{plan.cfg.eval.limit} {plan.cfg.eval.split} items per task, the same items for every arm. "
        "Majority answer: the mean score of always giving each task's most frequent gold answer (over the tasks "
        "that have one). One-answer tasks: per seed, how many tasks the model answered with one answer for 90% or "
        "more of the items; there its score is that answer's rate, not something it learned. Answers ≠ zero-shot: "
        "the share of items whose answer differs from the zero-shot model's, and on how many tasks (mean over seeds) "
        f"{MOVED:.0%} or more of the answers changed; an arm that changes few answers cannot differ from another.\n\n"
        + "\n".join(lines)
        + "\n"
    )
    atomic_write_text(plan.layout.root / "results.md", text)


#: A task "moved" when at least this share of its answers differ from the zero-shot model's.
MOVED = 0.1


def answers_moved(plan: Plan, runs: Runs, base: dict[str, dict[str, TaskRows]]) -> dict[str, dict[str, float] | None]:
    """Per arm (mean over seeds): the share of items answered differently from the zero-shot model, and the number
    of tasks on which at least :data:`MOVED` of the answers changed. The issue behind it: arms that change no
    answer score exactly what zero-shot scores, and cannot differ from each other."""
    out: dict[str, dict[str, float] | None] = {}
    for arm in plan.arms:
        shares, counts = [], []
        for seed in plan.cfg.seeds:
            tuned, zero = runs[(arm.name, seed)], base[plan.configs[(arm.name, seed)].model]
            per_task = [
                float(np.mean([a != b for a, b in zip(tuned[t].answers, zero[t].answers, strict=True)]))
                for t in plan.tasks
                if tuned[t].answers and len(tuned[t].answers) == len(zero[t].answers)
            ]
            if per_task:
                shares.append(float(np.mean(per_task)))
                counts.append(sum(v >= MOVED for v in per_task))
        out[arm.name] = {"share": float(np.mean(shares)), "tasks_moved": float(np.mean(counts))} if shares else None
    return out


def read_baselines(eval_dir: Path) -> dict[str, dict[str, Any]]:
    """Per task, the trivial baselines evaluation recorded in metrics.json (``majority``, ``model_mode``,
    ``constant``); {} for an eval written before they were, or one whose metrics.json cannot be read."""
    try:
        tasks = json.loads((eval_dir / "metrics.json").read_text(encoding="utf-8")).get("tasks")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return {}
    return {t: m for t, m in tasks.items() if isinstance(m, dict)} if isinstance(tasks, dict) else {}


def _majority(baselines: dict[str, dict[str, Any]], tasks: Sequence[str]) -> dict[str, Any] | None:
    """The mean majority-answer score over the tasks that have one, and how many do; None when none does."""
    scores = [
        b["score"]
        for t in tasks
        if isinstance(b := baselines.get(t, {}).get("majority"), dict) and isinstance(b.get("score"), int | float)
    ]
    return {"score": float(np.mean(scores)), "tasks": len(scores)} if scores else None


def _majority_cell(baselines: dict[str, dict[str, Any]], tasks: Sequence[str]) -> str:
    m = _majority(baselines, tasks)
    if m is None:
        return "–"
    return f"{m['score']:.3f}" if m["tasks"] == len(tasks) else f"{m['score']:.3f} ({m['tasks']} of {len(tasks)} tasks)"


def _constant_count(flags: dict[str, dict[str, Any]], tasks: Sequence[str]) -> int | None:
    """Tasks answered with one answer (None where evaluation recorded no baselines)."""
    return sum(bool(flags.get(t, {}).get("constant")) for t in tasks) if flags else None


def _constant_cell(per_seed: Sequence[dict[str, dict[str, Any]]], tasks: Sequence[str]) -> str:
    """'17, 20 of 20' (one count per seed), or '–' where evaluation recorded no baselines."""
    counts = [_constant_count(flags, tasks) for flags in per_seed]
    if None in counts:
        return "–"
    return ", ".join(map(str, counts)) + f" of {len(tasks)}"


def _row(arm: str, seed: int | None, task: str, data: TaskRows, plan: Plan, specs: dict, levels: dict) -> dict:
    return {
        "arm": arm,
        "seed": seed,
        **{f"level_{k}": v for k, v in levels.items()},
        "task": task,
        "group": plan.groups.get(task, "held-in"),
        "capability": specs[task].capability if task in specs else None,
        "metric": data.metric,
        "score": data.score,
        "n": len(data.values),
    }


def _fmt(result: dict[str, Any] | None) -> str:
    if result is None:
        return "-"
    lo, hi = result["ci95"]
    sd = f"; seed SD {result['seed_sd']:.3f}" if result.get("seed_sd") is not None else ""
    if not result.get("seed_inference", False):
        return f"{result['delta']:+.3f} [{lo:+.3f}, {hi:+.3f}] items only{sd}"
    p = f"; {result['correction']} p {result['p_adjusted']:.3g}" if "p_adjusted" in result else ""
    mark = " **finding**" if result.get("finding") else ""
    return f"{result['delta']:+.3f} [{lo:+.3f}, {hi:+.3f}]{sd}{p}{mark}"


def answer_markdown(report: dict[str, Any], seeds: Sequence[int]) -> list[str]:
    """The answer first: each primary contrast, its CI, its MDE and its one-sentence conclusion."""
    primary = report.get("primary") or []
    if not primary:
        return [
            "## Answer",
            "",
            "This sweep names no primary contrast, so every comparison below is exploratory; name the question "
            "under `primary:` in the sweep file before running it.",
        ]
    out = [
        "## Answer (primary contrasts, Holm-corrected)",
        "",
        "| contrast | group | Δ [95% CI] | Holm p | MDE (80%) | expected | seeds × items |",
        "|---|---|---|---|---|---|---|",
    ]
    for entry in primary:
        r = entry["result"]
        if r is None:
            out.append(f"| {entry['name']} | {entry['group']} | – | – | – | – | – |")
            continue
        lo, hi = r["ci95"]
        mde = entry.get("mde", float("inf"))
        expected = entry.get("expected_effect")
        p = f"{r['p_adjusted']:.3g}" if r["seed_inference"] else "– (< 3 seeds)"
        out.append(
            f"| {entry['name']} | {entry['group']} | {r['delta']:+.3f} [{lo:+.3f}, {hi:+.3f}] | {p} | "
            f"{'–' if mde == float('inf') else f'{mde:.3f}'} | {'–' if expected is None else f'{expected:.3f}'} | "
            f"{r['seeds']} × {r['items']} |"
        )
    out.append("")
    out += [f"- **{entry['name']}**: {entry['conclusion']}" for entry in primary]
    return out


def comparisons_markdown(report: dict[str, Any], seeds: Sequence[int]) -> str:
    out = [
        "# Comparisons",
        "",
        *answer_markdown(report, seeds),
        "",
        "## Exploratory comparisons",
        "",
        f"Paired over the same items; seeds {list(seeds)}. Δ [95% CI] from a hierarchical bootstrap (seeds, then "
        "items within tasks; t interval with Welch–Satterthwaite df); seed SD is the spread of the per-seed Δ. "
        "p is Benjamini–Hochberg-adjusted over all the comparisons below; **finding**: adjusted p < 0.05. "
        + (
            "With fewer than 3 seeds the intervals are over items only (no seed-level inference) and nothing is "
            "called a finding."
            if len(seeds) < 3
            else "These were not named before the sweep ran: read them as leads for the next sweep, not answers."
        ),
    ]
    for name, by_group in report["sequences"].items():
        for group, seq in by_group.items():
            out += ["", f"### Sequence {name} ({group} tasks)", ""]
            out += ["| step | score [95% CI] | Δ vs previous | Δ vs first |", "|---|---|---|---|"]
            contrasts = {row["arm"]: row for row in seq["contrasts"]}
            for point in seq["curve"]:
                row = contrasts.get(point["arm"])
                lo, hi = point["ci95"]
                prev = _fmt(row["vs_previous"]) if row else "-"
                first = _fmt(row["vs_first"]) if row else "-"
                out.append(f"| {point['arm']} | {point['score']:.3f} [{lo:.3f}, {hi:.3f}] | {prev} | {first} |")
            out.append(f"\nSlope per step: {_fmt(seq['slope'])}")
    if report.get("interaction"):
        axes = report["interaction"]["axes"]
        for group, inter in report["interaction"].items():
            if group == "axes":
                continue
            out += ["", f"### Grid {axes['rows']} x {axes['cols']} ({group} tasks)", ""]
            out += [
                "| "
                + axes["rows"]
                + " | "
                + " | ".join(inter["cols"])
                + f" | gain {inter['cols'][-1]} - {inter['cols'][0]} |"
            ]
            out += ["|" + "---|" * (len(inter["cols"]) + 2)]
            for r in inter["rows"]:
                cells = [f"{inter['cells'][f'{r}|{c}']['score']:.3f}" for c in inter["cols"]]
                out.append(f"| {r} | " + " | ".join(cells) + f" | {_fmt(inter['gains'][r])} |")
            out.append(
                f"\nInteraction (gain at {inter['rows'][-1]} minus gain at {inter['rows'][0]}): "
                f"{_fmt(inter['interaction'])}"
            )
    return "\n".join(out) + "\n"


# ============================================================================================ plots
def majority_scores(report: dict[str, Any], groups: dict[str, list[str]]) -> dict[str, float]:
    """Per group, the majority answer's mean score, where every task of the group has one."""
    majority = report.get("baselines", {}).get("majority", {})
    return {
        g: m["score"] for g, tasks in groups.items() if (m := majority.get(g)) is not None and m["tasks"] == len(tasks)
    }


def plot_sequence(
    seq_by_group: dict[str, Any],
    path: Path,
    name: str,
    zero_shot: dict[str, float] | None = None,
    majority: dict[str, float] | None = None,
) -> Path:
    """The curve of each group's score over the steps, with its 95% band (dashed: zero-shot; dotted: always the
    majority answer, the constant predictor a score must beat)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for group, seq in seq_by_group.items():
        x = np.arange(len(seq["curve"]))
        y = [p["score"] for p in seq["curve"]]
        lo = [p["ci95"][0] for p in seq["curve"]]
        hi = [p["ci95"][1] for p in seq["curve"]]
        (line,) = ax.plot(x, y, marker="o", label=group)
        ax.fill_between(x, lo, hi, alpha=0.2, color=line.get_color())
        if zero_shot and group in zero_shot:
            ax.axhline(zero_shot[group], color=line.get_color(), linestyle="--", linewidth=1)
        if majority and group in majority:
            ax.axhline(majority[group], color=line.get_color(), linestyle=":", linewidth=1)
    steps = next(iter(seq_by_group.values()))["steps"]
    ax.set_xticks(range(len(steps)), steps, rotation=20, ha="right")
    ax.set_ylabel("mean task score")
    ax.set_title(f"{name}: score per step (95% CI band; dashed: zero-shot; dotted: majority answer)", fontsize=9)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return path


def plot_grid(inter_by_group: dict[str, Any], path: Path, axes: dict[str, str]) -> Path:
    """A heatmap of the grid's cell scores per group, with the interaction in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [g for g in inter_by_group if g != "axes"]
    fig, panels = plt.subplots(1, len(groups), figsize=(4.5 * len(groups), 3.8), squeeze=False)
    for ax, group in zip(panels[0], groups, strict=True):
        inter = inter_by_group[group]
        grid = np.array([[inter["cells"][f"{r}|{c}"]["score"] for c in inter["cols"]] for r in inter["rows"]])
        image = ax.imshow(grid, cmap="viridis", aspect="auto")
        for (i, j), value in np.ndenumerate(grid):
            ax.text(j, i, f"{value:.3f}", ha="center", va="center", color="white", fontsize=9)
        ax.set_xticks(range(len(inter["cols"])), inter["cols"])
        ax.set_yticks(range(len(inter["rows"])), inter["rows"])
        ax.set_xlabel(axes["cols"])
        ax.set_ylabel(axes["rows"])
        d = inter["interaction"]
        ax.set_title(f"{group}: interaction {d['delta']:+.3f}\n[{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]", fontsize=9)
        fig.colorbar(image, ax=ax)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return path
