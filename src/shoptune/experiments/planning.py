"""`shoptune experiment plan`: what a sweep will cost and the smallest effect it can detect, before it runs.

For each primary contrast of the sweep (see :class:`~shoptune.experiments.sweep.PrimaryContrast`) the plan gives
the scored items behind it, the minimum detectable effect at 80% power for the sweep's seeds and items
(:mod:`shoptune.evaluation.power`), and the seeds or items it would take to detect the contrast's
``expected_effect``. The variance it assumes comes from the sweep file's ``plan.variance``, or from an earlier
sweep folder (``--from``: the seed SD and item SD its contrasts measured). The wall time comes from the training
and scoring throughput in ``plan.throughput``, replaced by what runs already in the sweep folder measured.

Example:
    >>> plan = plan_design(load_sweep("configs/experiments/rank_diversity.yaml"))  # doctest: +SKIP
    >>> print(plan_markdown(plan))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import math
import statistics as stats
from pathlib import Path
from typing import Any

from shoptune.errors import ShoptuneError
from shoptune.evaluation.power import design_for_effect, minimum_detectable_effect
from shoptune.evaluation.statistics import MIN_SEEDS
from shoptune.experiments.analysis import group_members
from shoptune.experiments.sweep import (
    ALL,
    PrimaryContrast,
    SweepConfig,
    SweepLayout,
    arm_config,
    eval_tasks,
    expand_arms,
)
from shoptune.io import read_json

#: Fewer scored items than this behind a primary contrast draw a warning: item noise alone then hides the
#: effects the studies describe (an item SE of 0.02 needs about 400 items of paired SD 0.4).
MIN_PRIMARY_ITEMS = 400


def plan_design(cfg: SweepConfig, *, priors: Path | None = None, out: Path | None = None) -> dict[str, Any]:
    """The sweep's cost and power: runs, examples, items, wall time, and per primary contrast its MDE."""
    from shoptune.training.config import load_sft_config

    arms = expand_arms(cfg)
    base = load_sft_config(cfg.base)
    known = cfg.data or base.data.path or (out / "data" if out else None)
    # Without a known build the arm configs get a placeholder path and the sizes are estimates: never read a
    # "data" folder of whatever directory the command runs in.
    data_dir = Path(known) if known else Path("data")
    manifest = _manifest(data_dir) if known else None
    configs = {(a.name, cfg.seeds[0]): arm_config(cfg, a, cfg.seeds[0], data_dir) for a in arms}
    tasks, groups = eval_tasks(cfg, configs, base)
    items = {t: _items(manifest, t, cfg.eval.split, cfg.eval.limit) for t in tasks}
    examples = {a.name: _examples(configs[(a.name, cfg.seeds[0])], manifest, data_dir) for a in arms}
    throughput = measured_throughput(cfg, out)
    variance = variance_priors(cfg, priors)
    runs = len(arms) * len(cfg.seeds)
    models = len({c.model for c in configs.values()})
    train_s = (
        sum(examples.values()) * len(cfg.seeds) * throughput["tokens_per_example"] / throughput["train_tokens_per_s"]
    )
    score_s = (runs + models) * sum(items.values()) / throughput["score_items_per_s"]
    members = group_members(tasks, groups, base.data.holdout_groups(), _capability_of(manifest))
    return {
        "arms": len(arms),
        "seeds": list(cfg.seeds),
        "runs": runs,
        "examples_per_run": examples,
        "tasks": len(tasks),
        "items": sum(items.values()),
        "items_per_task": cfg.eval.limit,
        "data": str(data_dir) if manifest else None,
        "throughput": throughput,
        "variance": variance,
        "hours": {"train": train_s / 3600, "score": score_s / 3600, "total": (train_s + score_s) / 3600},
        "primary": [_primary(p, cfg, members, items, variance) for p in cfg.primary],
    }


def _primary(
    spec: PrimaryContrast,
    cfg: SweepConfig,
    members: dict[str, list[str]],
    items: dict[str, int],
    variance: dict[str, Any],
) -> dict[str, Any]:
    tasks = members.get(spec.group, [])
    n_items = sum(items[t] for t in tasks)
    # The priors are for a difference of two arms (weights +1, -1); a contrast of other weights scales its SD by
    # sqrt(sum w² / 2): an interaction of four arms has twice the variance of a difference.
    weights = [1.0, -1.0, -1.0, 1.0] if spec.interaction else list(spec.weights.values())
    scale = math.sqrt(sum(w * w for w in weights) / 2.0)
    seed_sd, item_sd = variance["seed_sd"] * scale, variance["item_sd"] * scale
    seeds = len(cfg.seeds)
    entry: dict[str, Any] = {
        "name": spec.name,
        "group": spec.group,
        "tasks": len(tasks),
        "items": n_items,
        "expected_effect": spec.expected_effect,
        "seed_sd": seed_sd,
        "item_sd": item_sd,
        "warnings": [],
    }
    if not tasks:
        entry["warnings"].append(f"no evaluation task in group {spec.group!r}")
        return entry | {"mde": math.inf}
    entry["mde"] = minimum_detectable_effect(seed_sd=seed_sd, item_sd=item_sd, seeds=seeds, items=n_items)
    if seeds < MIN_SEEDS:
        entry["warnings"].append(f"{seeds} seed(s): no seed-level inference is possible (3 or more are needed)")
    if n_items < MIN_PRIMARY_ITEMS:
        entry["warnings"].append(f"{n_items} scored items, fewer than {MIN_PRIMARY_ITEMS}")
    if spec.expected_effect is not None:
        entry["needed"] = design_for_effect(
            spec.expected_effect, seed_sd=seed_sd, item_sd=item_sd, seeds=max(seeds, MIN_SEEDS), items=n_items
        )
        if entry["mde"] > spec.expected_effect:
            entry["warnings"].append(
                f"MDE {_num(entry['mde'])} exceeds the expected effect {spec.expected_effect:.3f}: this design "
                "cannot detect it"
            )
    return entry


# ============================================================================================ inputs
def _capability_of(manifest: dict[str, Any] | None) -> Any:
    """task -> capability from the build's specs (derived atomic tasks too), else the registry."""
    from shoptune.data.build import task_specs
    from shoptune.tasks import load_tasks

    registry = load_tasks()
    specs = task_specs(manifest, registry) if manifest else registry
    return lambda task: specs[task].capability if task in specs else None


def _manifest(data_dir: Path) -> dict[str, Any] | None:
    from shoptune.data.build import read_manifest

    return read_manifest(data_dir) if (data_dir / "manifest.json").is_file() else None


def _items(manifest: dict[str, Any] | None, task: str, split: str, limit: int) -> int:
    """Items scored on a task: the limit, or fewer where the split is smaller."""
    counts = (manifest or {}).get("tasks", {}).get(task, {}).get("counts") or {}
    size = counts.get(split)
    return min(limit, int(size)) if isinstance(size, int) else limit


def _examples(sft: Any, manifest: dict[str, Any] | None, data_dir: Path) -> int:
    """Training examples an arm's run draws: its mixture over the built pool sizes (with the atomic tasks it
    derives), times the epochs; an estimate of the cap x tasks where the data is not built yet."""
    from shoptune.errors import ConfigError
    from shoptune.training.mixture import epoch_plan

    built = (manifest or {}).get("tasks", {})
    tasks = list(sft.data.tasks) if sft.data.tasks != ALL else [t for t in built if "derived_from" not in built[t]]
    tasks = [t for t in tasks if t not in sft.data.holdout_tasks()]
    if sft.data.atomic and manifest:
        from shoptune.training.sft import atomic_tasks

        # An arm without its atomic tasks is refused before it trains (sweep._check_tasks); the plan only estimates.
        with contextlib.suppress(ConfigError):
            tasks += atomic_tasks(manifest, tasks, sft.data, data_dir)
    fallback = sft.mixture.cap or 1000
    sizes = {t: int((built.get(t, {}).get("counts") or {}).get("train", fallback)) for t in tasks}
    per_epoch = len(epoch_plan(sizes, sft.mixture, seed=0, epoch=0)) if sizes else 0
    return int(per_epoch * sft.optim.epochs)


def measured_throughput(cfg: SweepConfig, out: Path | None) -> dict[str, Any]:
    """The file's throughput, replaced by the mean of what finished runs in the sweep folder measured."""
    spec = cfg.plan.throughput
    result = {
        "train_tokens_per_s": spec.train_tokens_per_s,
        "tokens_per_example": spec.tokens_per_example,
        "score_items_per_s": spec.score_items_per_s,
        "source": spec.source,
    }
    if out is None or not (out / "arms").is_dir():
        return result
    layout = SweepLayout(out)
    speeds, per_example, scoring = [], [], []
    for arm in expand_arms(cfg):
        for seed in cfg.seeds:
            summary = _json(layout.run(arm.name, seed) / "summary.json")
            if summary.get("tokens_per_s") and summary.get("train_tokens") and summary.get("examples"):
                speeds.append(float(summary["tokens_per_s"]))
                per_example.append(float(summary["train_tokens"]) / float(summary["examples"]))
            stamp = _json(layout.eval(arm.name, seed) / "eval.json")
            if stamp.get("seconds") and stamp.get("scored"):
                scoring.append(float(stamp["scored"]) / float(stamp["seconds"]))
    if speeds:
        result |= {"train_tokens_per_s": stats.mean(speeds), "tokens_per_example": stats.mean(per_example)}
    if scoring:
        result["score_items_per_s"] = stats.mean(scoring)
    if speeds or scoring:
        result["source"] = f"measured by {len(speeds)} training run(s) and {len(scoring)} eval(s) in {out}"
    return result


def variance_priors(cfg: SweepConfig, priors: Path | None) -> dict[str, Any]:
    """The seed SD and item SD of a two-arm contrast: the file's, or the median of what an earlier sweep's
    seed-aware contrasts measured (scaled back to a two-arm difference)."""
    spec = cfg.plan.variance
    if priors is None:
        return {"seed_sd": spec.seed_sd, "item_sd": spec.item_sd, "source": spec.source}
    path = priors / "comparisons.json"
    if not path.is_file():
        raise ShoptuneError(f"--from {priors}: not a finished sweep folder (no comparisons.json)")
    report = read_json(path, expect=dict)
    found = [
        (e["result"], math.sqrt(sum(w * w for w in (e.get("weights") or {}).values()) / 2.0) or 1.0)
        for e in report.get("primary") or []
        if isinstance(e, dict) and isinstance(e.get("result"), dict)
    ]
    found = [(r, scale) for r, scale in found if r.get("seed_sd") is not None and r.get("item_sd") is not None]
    if not found:
        raise ShoptuneError(
            f"--from {priors}: its comparisons.json has no primary contrast with a seed SD and item SD "
            "(rerun `shoptune experiment analyze` with this version, with 2 or more seeds)"
        )
    return {
        "seed_sd": stats.median(r["seed_sd"] / scale for r, scale in found),
        "item_sd": stats.median(r["item_sd"] / scale for r, scale in found),
        "source": f"measured by {len(found)} primary contrast(s) of {priors}",
    }


def _json(path: Path) -> dict[str, Any]:
    try:
        data = read_json(path, expect=dict)
    except ShoptuneError:
        return {}
    return data


# ============================================================================================ showing
def _num(value: float) -> str:
    return "∞" if math.isinf(value) else f"{value:.3f}"


def plan_markdown(plan: dict[str, Any]) -> str:
    """The plan as a short Markdown report: cost first, then what each primary contrast can detect."""
    hours = plan["hours"]
    lines = [
        "# Sweep plan",
        "",
        f"{plan['arms']} arms x {len(plan['seeds'])} seeds = {plan['runs']} training runs; {plan['tasks']} tasks, "
        f"{plan['items']} scored items per run (at most {plan['items_per_task']} per task).",
        f"Expected wall time: {hours['total']:.1f} h ({hours['train']:.1f} h training, {hours['score']:.1f} h "
        f"scoring) at {plan['throughput']['train_tokens_per_s']:.0f} training tokens/s, "
        f"{plan['throughput']['tokens_per_example']:.0f} tokens per example and "
        f"{plan['throughput']['score_items_per_s']:.2f} scored items/s ({plan['throughput']['source']}).",
        f"Variance assumed: seed SD {plan['variance']['seed_sd']:.3f}, item SD {plan['variance']['item_sd']:.3f} "
        f"per two-arm contrast ({plan['variance']['source']}).",
        "",
    ]
    if not plan["primary"]:
        lines.append("No primary contrast: name the sweep's question under `primary:` to get its MDE.")
        return "\n".join(lines) + "\n"
    lines += [
        "| primary contrast | group | items | MDE (80% power) | expected | to detect it |",
        "|---|---|---|---|---|---|",
    ]
    for p in plan["primary"]:
        needed = p.get("needed")
        need = "–"
        if needed:
            parts = []
            if needed["seeds_at_items"]:
                parts.append(f"{needed['seeds_at_items']} seeds at {p['items']} items")
            if needed["items_at_seeds"]:
                parts.append(f"{needed['items_at_seeds']} items at {max(len(plan['seeds']), MIN_SEEDS)} seeds")
            need = "; ".join(parts) or (
                f"at least {needed['min_seeds']} seeds and more items" if needed["min_seeds"] else "out of reach"
            )
        expected = "–" if p["expected_effect"] is None else f"{p['expected_effect']:.3f}"
        lines.append(f"| {p['name']} | {p['group']} | {p['items']} | {_num(p['mde'])} | {expected} | {need} |")
    warnings = [f"- {p['name']}: {w}" for p in plan["primary"] for w in p["warnings"]]
    if warnings:
        lines += ["", "Warnings:", *warnings]
    return "\n".join(lines) + "\n"


def warning_lines(plan: dict[str, Any]) -> list[str]:
    """One line per primary contrast whose MDE exceeds its expected effect: what `experiment run` warns."""
    return [
        f"warning: primary contrast {p['name']!r}: MDE {_num(p['mde'])} > expected effect "
        f"{p['expected_effect']:.3f}; this design cannot detect it (see `shoptune experiment plan`)"
        for p in plan["primary"]
        if p["expected_effect"] is not None and p["mde"] > p["expected_effect"]
    ]
