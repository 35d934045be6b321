"""Report sections of an SFT run (loss and learning-rate curves, the realised mixture, held-in and held-out
tables with a forest plot) and of an eval folder (per-task scores with CIs).

Example:
    >>> section = sft_section(Path("runs/sft"), "sft")  # doctest: +SKIP
    >>> [p.title for p in section.parts]  # doctest: +SKIP
    ['Training', 'Realised mixture', 'Held-in and held-out']
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from shoptune.errors import ShoptuneError
from shoptune.io import read_json
from shoptune.reports import figures
from shoptune.reports.blocks import (
    Cell,
    Figure,
    KeyValues,
    Note,
    Part,
    Section,
    Table,
    delta,
    fmt,
    is_interval,
    num,
    pval,
    with_ci,
)
from shoptune.reports.common import HELDOUT_FILE, attempt, display_name, finite, make_part, read_jsonl
from shoptune.reports.provenance import duration, mtime, provenance_blocks


def sft_section(path: Path, anchor: str) -> Section:
    section = Section(f"SFT run: {display_name(path)}", "sft-run", str(path), anchor=anchor)
    summary: dict[str, Any] = {}
    problems: list[Any] = []
    if (path / "summary.json").is_file():
        with attempt(problems, "summary.json"):
            summary = read_json(path / "summary.json")

    def training(blocks: list[Any]) -> None:
        blocks += problems
        if summary:
            trainable, total = summary.get("trainable_parameters"), summary.get("total_parameters")
            share = f" ({100 * trainable / total:.2f}%)" if isinstance(trainable, int) and total else ""
            blocks.append(
                KeyValues(
                    [
                        ("model", str(summary.get("model", "?"))),
                        ("steps", fmt(summary.get("steps"))),
                        ("trainable parameters", f"{fmt(trainable)} of {fmt(total)}{share}"),
                        ("training tokens", fmt(summary.get("train_tokens"))),
                        ("training time", duration(summary.get("train_seconds"))),
                        ("tokens / s", fmt(summary.get("tokens_per_s"), 1)),
                        ("trained tasks", str(len(summary.get("tasks", [])))),
                        ("held-out tasks", ", ".join(summary.get("holdout", [])) or "none"),
                    ]
                )
            )
        else:
            blocks.append(Note("No summary.json: the run has not finished; showing its log so far.", "warn"))
        blocks += training_curves(path / "train_log.jsonl")

    section.parts.append(make_part("Training", anchor, training))
    if (path / "mixture.json").is_file():
        section.parts.append(
            make_part("Realised mixture", anchor, lambda b: b.extend(sft_mixture(path / "mixture.json")))
        )
    comparisons = sorted(p.parent for p in path.glob(f"*/{HELDOUT_FILE}"))
    comparisons.sort(key=lambda p: (p.name != "eval", p.name))
    for folder in comparisons:
        title = "Held-in and held-out" + ("" if folder.name == "eval" else f" ({folder.name}/)")
        section.parts.append(
            make_part(title, anchor, lambda b, f=folder: b.extend(heldout_blocks(read_json(f / HELDOUT_FILE))))
        )
    sweep_eval = path.parent / "eval"  # a sweep's arm: DIR/arms/<arm>/seed-<s>/{run,eval}
    if not comparisons and (sweep_eval / "eval.json").is_file() and (sweep_eval / "metrics.json").is_file():
        section.parts.append(
            make_part(
                "Evaluation (the sweep's fixed items)",
                anchor,
                lambda b: b.extend(eval_blocks(read_json(sweep_eval / "metrics.json"))),
            )
        )
    elif not comparisons:
        section.parts.append(
            Part(
                "Held-in and held-out",
                [
                    Note(
                        f"Not evaluated yet: run `shoptune experiments heldout {path}` for the held-in/held-out tables."
                    )
                ],
                f"{anchor}-heldout",
            )
        )
    run_file = path / "adapter" / "shoptune_run.json"
    config_file = path / "config.json"
    config: Any = None
    data_dir: Any = None
    if config_file.is_file():
        with attempt(section.provenance, "config.json"):
            config = read_json(config_file).get("config")
    if run_file.is_file():
        with attempt(section.provenance, "adapter/shoptune_run.json"):
            data_dir = read_json(run_file).get("data_dir")
    if data_dir is None and isinstance(config, dict):
        data = config.get("data") or {}
        built_here = path / "data" if (path / "data" / "manifest.json").is_file() else None
        data_dir = data.get("path") or data.get("dir") or built_here  # "dir": runs from before the rename
    recorded = [
        ("finished", mtime(path / "summary.json") or "not finished"),
        ("wall time (training)", duration(summary.get("train_seconds"))),
    ]
    if summary.get("device"):
        recorded.append(("torch device", str(summary["device"])))
    section.provenance += provenance_blocks(
        path,
        config=("config.json", config) if config else None,
        data_dir=data_dir,
        recorded=recorded,
    )
    return section


def training_curves(log: Path) -> list[Any]:
    """Loss and learning-rate curves of a train_log.jsonl (SFT: one lr; relevance: one per parameter group)."""
    if not log.is_file():
        return [Note(f"No {log.name}: no training curve.")]
    rows = read_jsonl(log)
    by_step = {int(r["step"]): r for r in rows if isinstance(r.get("step"), int | float)}  # a resumed run's last
    if not by_step:
        return [Note(f"{log.name} holds no steps yet.")]
    steps = sorted(by_step)
    blocks: list[Any] = []
    losses = [(s, by_step[s]["loss"]) for s in steps if finite(by_step[s].get("loss"))]
    if losses:
        svg = figures.lines(
            {"training loss": ([s for s, _ in losses], [v for _, v in losses])},
            xlabel="optimizer step",
            ylabel="loss",
            title="Training loss",
        )
        blocks.append(Figure(svg, f"Training loss per logged step ({len(losses)} points, from {log.name})."))
    lr_series: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for s in steps:
        lr = by_step[s].get("lr")
        for name, value in lr.items() if isinstance(lr, dict) else [("learning rate", lr)]:
            if finite(value):
                lr_series[str(name)][0].append(s)
                lr_series[str(name)][1].append(value)
    if lr_series:
        svg = figures.lines(dict(lr_series), xlabel="optimizer step", ylabel="learning rate", title="Learning rate")
        blocks.append(Figure(svg, "Learning-rate schedule" + (" per parameter group." if len(lr_series) > 1 else ".")))
    return blocks


def _capabilities() -> dict[str, str]:
    try:
        from shoptune.tasks import load_tasks

        return {name: spec.capability for name, spec in load_tasks().items()}
    except (ShoptuneError, OSError, ValueError):
        return {}


def sft_mixture(path: Path) -> list[Any]:
    """The realised mixture per task and per capability, per epoch (mixture.json)."""
    data = read_json(path)
    epochs = sorted(data, key=lambda e: int(e.split("_")[-1]) if e.split("_")[-1].isdigit() else 0)
    if not epochs:
        return [Note("mixture.json is empty.")]
    caps_of = _capabilities()

    def cap_of(task: str) -> str:  # an atomic task (parent__atom) counts under its parent's capability
        return caps_of.get(task) or caps_of.get(task.split("__")[0], "?")

    blocks: list[Any] = []
    for key, title, title_ in (("capabilities", "capability", "Examples per capability"), ("tasks", "task", "")):
        totals: Counter[str] = Counter()
        for e in epochs:
            totals.update(data[e].get(key, {}))
        names = sorted(totals, key=lambda n: (-totals[n], n))
        grand = sum(totals.values()) or 1
        header = [title, *(["capability"] if key == "tasks" else []), *(e.replace("_", " ") for e in epochs)]
        header += ["total", "share"]
        rows = []
        for name in names:
            cap = [cap_of(name)] if key == "tasks" else []
            counts = [num(data[e].get(key, {}).get(name, 0)) for e in epochs]
            rows.append([name, *cap, *counts, num(totals[name]), Cell(f"{100 * totals[name] / grand:.1f}%", "num")])
        if key == "capabilities":
            svg = figures.bars(names, [totals[n] for n in names], xlabel="examples (all epochs)", title=title_)
            blocks.append(Figure(svg, "Realised examples per capability, summed over epochs (mixture.json)."))
        else:
            cap_names = sorted({cap_of(n) for n in names})
            palette = (figures.BLUE, figures.ORANGE, figures.GREEN, figures.PURPLE, figures.RED, figures.GREY)
            colours = dict(zip(cap_names, palette * (len(cap_names) // len(palette) + 1), strict=False))
            svg = figures.bars(
                names,
                [totals[n] for n in names],
                xlabel="examples (all epochs)",
                title="Examples per task",
                colours=[colours[cap_of(n)] for n in names],
                legend=colours,
            )
            blocks.append(Figure(svg, "Realised examples per task, summed over epochs."))
        caption = f"Realised mixture per {title} and epoch ({fmt(grand)} examples)."
        folded = f"Counts per {title} and epoch ({len(rows)} {title}s)" if len(rows) > 12 else ""
        blocks.append(Table(header, rows, caption=caption, folded=folded))
    return blocks


# ---------------------------------------------------------------------------------------------- held-out
def heldout_blocks(report: dict[str, Any]) -> list[Any]:
    """Zero-shot base vs tuned (experiments heldout): group means, a table per group, and the forest plot."""
    tasks: dict[str, Any] = report.get("tasks") or {}
    groups: dict[str, Any] = report.get("groups") or {}
    blocks: list[Any] = []
    header = ["group", "tasks", "zero-shot [95% CI]", "tuned [95% CI]", "Δ tuned − zero-shot [paired 95% CI]", "p"]
    rows = []
    for group, r in groups.items():
        rows.append(
            [
                group,
                num(r.get("tasks")),
                with_ci(r.get("base"), r.get("base_ci95")),
                with_ci(r.get("tuned"), r.get("tuned_ci95")),
                delta(r),
                pval(r.get("p_value")),
            ]
        )
    for name, r in (report.get("subgroups") or {}).items():
        rows.append(
            [
                f"held-out: {name}",
                num(r.get("tasks")),
                num(r.get("base")),
                num(r.get("tuned")),
                delta(r),
                pval(r.get("p_value")),
            ]
        )
    if rows:
        blocks.append(Table(header, rows, caption="Mean task score per group; Δ is paired over the same items."))
    task_header = [
        "task",
        "metric",
        "n",
        "majority",
        "zero-shot [95% CI]",
        "tuned [95% CI]",
        "Δ [paired 95% CI]",
        "p",
        "macro-F1 zero-shot → tuned",
        "most frequent answer: zero-shot / tuned",
    ]
    for group in ("held-in", "held-out"):
        members = [t for t, r in tasks.items() if r.get("group") == group]
        if not members:
            continue
        task_rows = [
            [
                t,
                tasks[t].get("metric", "?"),
                num(tasks[t].get("n")),
                num(tasks[t].get("majority")) if finite(tasks[t].get("majority")) else Cell("–", "num"),
                with_ci(tasks[t].get("base"), tasks[t].get("base_ci95")),
                with_ci(tasks[t].get("tuned"), tasks[t].get("tuned_ci95")),
                delta(tasks[t]),
                pval(tasks[t].get("p_value")),
                _f1_cell(tasks[t]),
                Cell(f"{_share(tasks[t].get('base_mode'))} / {_share(tasks[t].get('tuned_mode'))}", "num"),
            ]
            for t in members
        ]
        blocks.append(
            Table(
                task_header,
                task_rows,
                caption=f"{group.capitalize()} tasks ({len(members)}). Majority: the score of always giving the most "
                "frequent gold answer. The last column is each model's most frequent answer's share of the items "
                "(⚠ at 90% or more: the score is that answer's rate).",
            )
        )
    forest_rows = [
        (t, r["delta"], r["ci95"][0], r["ci95"][1], r.get("group", "?"))
        for t, r in sorted(tasks.items(), key=lambda kv: (kv[1].get("group") != "held-in", -kv[1].get("delta", 0)))
        if finite(r.get("delta")) and is_interval(r.get("ci95"))
    ]
    forest_rows += [
        (f"{g} mean", r["delta"], r["ci95"][0], r["ci95"][1], "mean")
        for g, r in groups.items()
        if finite(r.get("delta")) and is_interval(r.get("ci95"))
    ]
    if forest_rows:
        svg = figures.forest(forest_rows, xlabel="tuned − zero-shot (paired 95% CI)", title="Gain per task")
        blocks.append(
            Figure(svg, "Forest plot: per-task Δ with its paired bootstrap 95% CI; filled = the CI excludes 0.")
        )
    if not blocks:
        blocks.append(Note("comparison.json holds no tasks."))
    return blocks


def _f1_cell(task: dict[str, Any]) -> Cell:
    base, tuned = task.get("base_macro_f1"), task.get("tuned_macro_f1")
    return Cell(f"{base:.3f} → {tuned:.3f}" if finite(base) and finite(tuned) else "–", "num")


def _share(mode: Any) -> str:
    if not isinstance(mode, dict) or not finite(mode.get("share")):
        return "–"
    return f"{mode['share']:.0%}" + (" ⚠" if mode.get("constant") else "")


# ---------------------------------------------------------------------------------------------- eval
def eval_section(path: Path, anchor: str) -> Section:
    section = Section(f"Eval: {display_name(path)}", "eval", str(path), anchor=anchor)
    metrics = read_json(path / "metrics.json")
    section.parts.append(make_part("Scores", anchor, lambda b: b.extend(eval_blocks(metrics))))
    adapter = metrics.get("adapter")
    config, data_dir = None, None
    run_file = Path(adapter) / "shoptune_run.json" if adapter else None
    if run_file is not None and run_file.is_file():
        with attempt(section.provenance, str(run_file)):
            run = read_json(run_file)
            config, data_dir = ("the adapter's training config", run.get("config")), run.get("data_dir")
    recorded = [("model", str(metrics.get("model", "not recorded"))), ("adapter", str(adapter or "none"))]
    recorded.append(("written", mtime(path / "metrics.json") or "?"))
    section.provenance += provenance_blocks(path, config=config, data_dir=data_dir, recorded=recorded)
    return section


def _mode_cell(task: dict[str, Any]) -> Cell:
    """The score of always giving the model's most frequent answer, its share, and a flag when it is (nearly) the
    only answer: such a model has learned nothing of the task, whatever its score."""
    mode = task.get("model_mode")
    if not isinstance(mode, dict) or not finite(mode.get("score")) or not finite(mode.get("share")):
        return Cell("–", "num")
    flag = " ⚠ one answer" if task.get("constant") else ""
    return Cell(f"{mode['score']:.3f} ({mode['share']:.0%} answer {mode.get('answer')!s:.12}){flag}", "num")


def eval_blocks(metrics: dict[str, Any]) -> list[Any]:
    """`shoptune eval` metrics: per-task scores with CIs (and secondary metrics), group means, overall."""
    tasks: dict[str, Any] = metrics["tasks"]
    extras = list(dict.fromkeys(k for t in tasks.values() for k in (t.get("extra") or {})))
    header = ["task", "group", "metric", "n", "score [95% CI]", "majority", "model's mode", "unparsed", *extras]
    rows = []
    for name, t in tasks.items():
        extra = t.get("extra") or {}
        rows.append(
            [
                name,
                t.get("group", "?"),
                t.get("metric", "?"),
                num(t.get("n")),
                with_ci(t.get("score"), t.get("ci95")),
                num((t.get("majority") or {}).get("score")) if t.get("majority") else Cell("–", "num"),
                _mode_cell(t),
                num(t.get("unparsed")),
                *(num(extra.get(k)) if k in extra else Cell("–", "num") for k in extras),
            ]
        )
    classes = [""] * len(rows)
    for group, value in (metrics.get("groups") or {}).items():
        rows.append(
            [
                f"{group} (mean)",
                group,
                "task mean",
                "",
                with_ci(value, (metrics.get("groups_ci95") or {}).get(group)),
                "",
                "",
                "",
                *([""] * len(extras)),
            ]
        )
        classes.append("total")
    if "overall" in metrics:
        rows.append(
            [
                "overall",
                "",
                "mean of groups",
                "",
                with_ci(metrics["overall"], metrics.get("overall_ci95")),
                "",
                "",
                "",
                *([""] * len(extras)),
            ]
        )
        classes.append("total")
    blocks: list[Any] = [
        Table(
            header,
            rows,
            caption="Per-task score with its bootstrap 95% CI, beside the score of always giving the most frequent "
            "gold answer (majority) and of always giving the model's own most frequent answer (its share of the "
            "items; ⚠ when one answer covers 90% or more); group means and overall.",
            row_classes=classes,
        )
    ]
    forest_rows = [
        (n, t["score"], t["ci95"][0], t["ci95"][1], t.get("group", "tasks"))
        for n, t in tasks.items()
        if finite(t.get("score")) and is_interval(t.get("ci95"))
    ]
    if forest_rows:
        high = max(1.0, max(r[3] for r in forest_rows))
        svg = figures.forest(forest_rows, xlabel="score (95% CI)", title="Score per task", zero=False, limits=(0, high))
        blocks.append(Figure(svg, "Score per task with its bootstrap 95% CI."))
    return blocks
