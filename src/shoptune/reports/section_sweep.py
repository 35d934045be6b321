"""Report section of a sweep: status, the results table, each ablation curve with its CI band, the grid's
heatmap and interaction, from ``comparisons.json`` and ``results.parquet``.

Example:
    >>> section = sweep_section(Path("runs/sweeps/chain_of_task"), "sweep")  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from shoptune.io import read_json
from shoptune.reports import figures
from shoptune.reports.blocks import Cell, Figure, KeyValues, Note, Part, Section, Table, delta, fmt, num, pval, with_ci
from shoptune.reports.common import attempt, display_name, finite, make_part
from shoptune.reports.provenance import duration, mtime, provenance_blocks

FOCUS = ("all", "held-in", "held-out")


def sweep_section(path: Path, anchor: str) -> Section:
    section = Section(f"Sweep: {display_name(path)}", "sweep", str(path), anchor=anchor)
    saved = read_json(path / "sweep.json")
    cfg = saved.get("config") or {}
    report: dict[str, Any] | None = None
    problems: list[Any] = []
    if (path / "comparisons.json").is_file():
        with attempt(problems, "comparisons.json"):
            report = read_json(path / "comparisons.json")

    def overview(blocks: list[Any]) -> None:
        arms = [a.get("name") for a in cfg.get("arms") or []]
        grid = cfg.get("grid") or {}
        design = (
            f"{len(arms)} arms: {', '.join(arms)}"
            if arms
            else "grid " + " × ".join(f"{factor} ({', '.join(levels)})" for factor, levels in grid.items())
        )
        ev = cfg.get("eval") or {}
        blocks.append(
            KeyValues(
                [
                    ("design", design),
                    ("seeds", ", ".join(map(str, cfg.get("seeds") or []))),
                    (
                        "evaluation",
                        f"{ev.get('limit', '?')} {ev.get('split', '?')} items per task, the same for every arm",
                    ),
                    ("base config", str(cfg.get("base", "?"))),
                ]
            )
        )
        from shoptune.experiments.sweep import sweep_status

        status = sweep_status(path)
        counts = Counter(r["state"] for r in status)
        if counts.get("done", 0) < len(status):
            blocks.append(
                Note(
                    f"{counts.get('done', 0)} of {len(status)} runs done; "
                    + ", ".join(f"{n} {s}" for s, n in counts.items() if s != "done")
                    + ".",
                    "warn",
                )
            )
        done = counts.get("done", 0) == len(status)
        blocks.append(
            Table(
                ["arm", "seed", "state", "detail"],
                [[r["arm"], num(r["seed"]), r["state"], r["detail"]] for r in status],
                caption="Arm × seed status (as `shoptune experiment status` shows it).",
                folded=f"All {len(status)} runs (arm × seed) done" if done else "",
            )
        )

    if report is not None:
        section.parts.append(make_part("Answer", anchor, lambda b: b.extend(answer_blocks(report))))
    section.parts.append(make_part("Overview", anchor, overview))
    if report is None:
        waiting = Note(
            "No comparisons.json yet: the sweep is still running (or was stopped before its analysis). "
            "Rerun the report when it is done.",
            "warn",
        )
        section.parts.append(Part("Results", problems or [waiting], f"{anchor}-results"))
    else:
        section.parts.append(make_part("Results", anchor, lambda b: b.extend(sweep_results(path, report))))
        for name, by_group in (report.get("sequences") or {}).items():
            section.parts.append(
                make_part(
                    f"Sequence {name}", anchor, lambda b, n=name, g=by_group: b.extend(sequence_blocks(n, g, report))
                )
            )
        if report.get("interaction"):
            section.parts.append(
                make_part("Interaction", anchor, lambda b: b.extend(interaction_blocks(report["interaction"])))
            )
    if (path / "results.parquet").is_file():
        section.parts.append(
            make_part("Per-task scores", anchor, lambda b: b.extend(per_task_table(path / "results.parquet")))
        )
    seconds, finished = _sweep_wall_time(path)
    base_config = (saved.get("key") or {}).get("base_config") or {}
    base_data = base_config.get("data") or {}
    data_dir = cfg.get("data") or base_data.get("path") or base_data.get("dir")  # "dir": sweeps before the rename
    if (path / "data" / "manifest.json").is_file():
        data_dir = path / "data"
    recorded = [
        ("finished", mtime(path / "comparisons.json") or "not finished"),
        ("wall time (training, all arms)", duration(seconds) + (f" over {finished} runs" if finished else "")),
    ]
    config = {"sweep": cfg, "base config": base_config}
    section.provenance += provenance_blocks(path, config=("sweep.json", config), data_dir=data_dir, recorded=recorded)
    return section


def answer_blocks(report: dict[str, Any]) -> list[Any]:
    """The sweep's answer first: each primary contrast (named before it ran), its seed-aware CI, Holm-adjusted p,
    the MDE of its design, and what it means in one sentence."""
    primary = report.get("primary") or []
    if not primary:
        return [
            Note(
                "This sweep named no primary contrast before it ran, so every comparison below is exploratory "
                "(Benjamini–Hochberg-corrected): read them as leads for a sweep that names its question.",
                "warn",
            )
        ]
    rows = []
    for entry in primary:
        r = entry.get("result") or {}
        mde = entry.get("mde")
        rows.append(
            [
                entry.get("name", "?"),
                entry.get("group", "?"),
                delta(r) if r else "–",
                pval(r.get("p_adjusted")) if r.get("seed_inference") else "–",
                Cell(fmt(mde) if finite(mde) else "–", "num"),
                Cell(fmt(entry.get("expected_effect")), "num"),
                f"{r.get('seeds', '?')} × {r.get('items', '?')}" if r else "–",
            ]
        )
    blocks: list[Any] = [
        Table(
            ["primary contrast", "group", "Δ [95% CI]", "Holm p", "MDE (80%)", "expected", "seeds × items"],
            rows,
            caption="Intervals hold seed and item variance (hierarchical bootstrap); MDE: the smallest effect "
            "this design detects 80% of the time.",
        )
    ]
    blocks += [Note(str(entry.get("conclusion", "")), "info") for entry in primary]
    return blocks


def _sweep_wall_time(path: Path) -> tuple[float | None, int]:
    total, n = 0.0, 0
    for summary in path.glob("arms/*/seed-*/run/summary.json"):
        try:
            total += float(json.loads(summary.read_text(encoding="utf-8")).get("train_seconds", 0.0))
            n += 1
        except (OSError, ValueError, TypeError):
            continue
    return (total if n else None), n


def sweep_results(path: Path, report: dict[str, Any]) -> list[Any]:
    groups = list(report.get("groups") or {})
    arms: dict[str, Any] = report.get("arms") or {}
    focus = [g for g in FOCUS if g in groups]
    others = [g for g in groups if g not in focus]
    blocks: list[Any] = []
    baselines = report.get("baselines") if isinstance(report.get("baselines"), dict) else {}
    one_answer = baselines.get("one_answer") if isinstance(baselines.get("one_answer"), dict) else {}
    header = ["arm", *(f"{g} [95% CI] ±seed SD" for g in focus), "one-answer tasks per seed"]
    # The zero-shot base model of each arm (one row unless the arms tune different models, e.g. a capacity sweep).
    bases: dict[tuple[Any, ...], list[str]] = {}
    for arm, by_group in arms.items():
        bases.setdefault(tuple(by_group.get(g, {}).get("base") for g in focus), []).append(arm)
    rows: list[list[Any]] = []
    majority = baselines.get("majority") if isinstance(baselines.get("majority"), dict) else {}
    if majority:
        rows.append(["majority answer", *(num((majority.get(g) or {}).get("score")) for g in focus), ""])
    zero_shot = baselines.get("zero_shot_one_answer") if isinstance(baselines.get("zero_shot_one_answer"), dict) else {}
    for values, members in bases.items():
        label = "zero-shot" if len(bases) == 1 else f"zero-shot (base of {', '.join(members)})"
        counts = list(zero_shot.values())[:1] if len(bases) == 1 else []
        rows.append([label, *(num(v) for v in values), _counts(counts, baselines.get("tasks"))])
    for arm, by_group in arms.items():
        cells = []
        for g in focus:
            s = by_group.get(g, {})
            sd = f" ±{s['seed_sd']:.3f}" if finite(s.get("seed_sd")) else ""
            cells.append(Cell(with_ci(s.get("score"), s.get("ci95")).text + sd, "num"))
        rows.append([arm, *cells, _counts(one_answer.get(arm), baselines.get("tasks"))])
    sizes = ", ".join(f"{g}: {len(t)}" for g, t in (report.get("groups") or {}).items())
    blocks.append(
        Table(
            header,
            rows,
            caption=f"Mean task score per group (tasks per group: {sizes}); item-level "
            "95% CI, ± the seed-to-seed SD; seeds averaged. Majority answer: the mean score of always giving each "
            "task's most frequent gold answer. One-answer tasks: per seed, the tasks a model answered with one "
            "answer for 90% or more of the items (⚠ there its score is that answer's rate).",
            row_classes=["total"] * (len(bases) + bool(majority)) + [""] * len(arms),
        )
    )
    if others:
        rows = []
        for members in bases.values():
            label = "zero-shot" if len(bases) == 1 else f"zero-shot (base of {', '.join(members)})"
            rows.append([label, *(num(arms[members[0]].get(g, {}).get("base")) for g in others)])
        rows += [
            [arm, *(with_ci(by.get(g, {}).get("score"), by.get(g, {}).get("ci95")) for g in others)]
            for arm, by in arms.items()
        ]
        blocks.append(
            Table(
                ["arm", *others],
                rows,
                caption="Named held-out groups and capabilities.",
                row_classes=["total"] * len(bases) + [""] * len(arms),
            )
        )
    return blocks


def _counts(counts: Any, tasks: Any) -> Cell:
    """'⚠ 20, 18 of 20' (one count per seed); '–' when the sweep recorded none."""
    if not isinstance(counts, list) or not counts or not all(isinstance(c, int) for c in counts):
        return Cell("–", "num")
    total = f" of {tasks}" if isinstance(tasks, int) else ""
    flag = "⚠ " if any(counts) else ""
    return Cell(flag + ", ".join(map(str, counts)) + total, "num")


def per_task_table(path: Path) -> list[Any]:
    import pyarrow.parquet as pq

    rows = pq.read_table(path).to_pylist()
    scores: dict[tuple[str, str], list[float]] = defaultdict(list)
    info: dict[str, tuple[str, str, str]] = {}
    arms: list[str] = []
    for r in rows:
        scores[(r["task"], r["arm"])].append(float(r["score"]))
        info.setdefault(r["task"], (r.get("group") or "", r.get("capability") or "", r.get("metric") or ""))
        if r["arm"] not in arms:
            arms.append(r["arm"])
    arms = sorted(arms, key=lambda a: (not a.startswith("base:"), arms.index(a)))
    tasks = sorted(info, key=lambda t: (info[t][0] != "held-in", info[t][1], t))
    header = ["task", "group", "capability", "metric", *(_arm_label(a) for a in arms)]
    table_rows = [
        [t, *info[t], *(num(float(np.mean(scores[(t, a)]))) if (t, a) in scores else "–" for a in arms)] for t in tasks
    ]
    return [Table(header, table_rows, caption=f"Score per task and arm (mean over seeds; {path.name}).")]


def _arm_label(arm: str) -> str:
    """``base:/path/to/smollm2`` -> ``zero-shot smollm2``; arms as they are."""
    if not arm.startswith("base:"):
        return arm
    return "zero-shot " + arm.removeprefix("base:").rstrip("/").rsplit("/", 1)[-1]


def sequence_blocks(name: str, by_group: dict[str, Any], report: dict[str, Any]) -> list[Any]:
    arms = report.get("arms") or {}
    first_arm = next(iter(by_group.values()))["steps"][0]
    zero_shot = {g: arms.get(first_arm, {}).get(g, {}).get("base") for g in by_group}
    zero_shot = {g: v for g, v in zero_shot.items() if finite(v)}
    svg = figures.sequence_curves(by_group, zero_shot, f"{name}: score per step")
    blocks: list[Any] = [
        Figure(
            svg,
            "Mean task score per step with its 95% band (seeds and items with 3 or more seeds, else items only); "
            "dashed: the zero-shot base model.",
        )
    ]
    forest_rows = []
    for group, seq in by_group.items():
        contrasts = {row["arm"]: row for row in seq.get("contrasts") or []}
        rows = []
        for point in seq["curve"]:
            row = contrasts.get(point["arm"])
            rows.append(
                [
                    point["arm"],
                    with_ci(point.get("score"), point.get("ci95")),
                    Cell(fmt(point.get("seed_sd")), "num"),
                    delta(row["vs_previous"]) if row else "–",
                    delta(row["vs_first"]) if row else "–",
                ]
            )
            if row and finite(row["vs_first"].get("delta")):
                d = row["vs_first"]
                forest_rows.append((f"{point['arm']} ({group})", d["delta"], *d["ci95"], group))
        slope = seq.get("slope")
        caption = f"{group} tasks. Slope per step: {delta(slope).text if slope else '–'}."
        blocks.append(
            Table(["step", "score [95% CI]", "seed SD", "Δ vs previous", "Δ vs first"], rows, caption=caption)
        )
    if forest_rows:
        svg = figures.forest(
            forest_rows, xlabel="Δ vs the first step (95% CI)", title=f"{name}: gain over the first step"
        )
        blocks.append(
            Figure(
                svg,
                "Each step against the first, per group (paired over the same items); filled = the "
                "CI excludes 0. ★ in the tables marks a finding: Benjamini–Hochberg-adjusted p < 0.05 over all "
                "exploratory comparisons, with 3 or more seeds.",
            )
        )
    return blocks


def interaction_blocks(inter_by_group: dict[str, Any]) -> list[Any]:
    axes = inter_by_group.get("axes") or {}
    groups = [g for g in inter_by_group if g != "axes"]
    blocks: list[Any] = [
        Figure(
            figures.grid_heatmaps(inter_by_group, axes),
            f"Cell means of the {axes.get('rows', 'rows')} × {axes.get('cols', 'cols')} grid; the interaction is "
            "the column gain at the last row minus the gain at the first.",
        )
    ]
    for g in groups:
        inter = inter_by_group[g]
        cols = inter["cols"]
        rows = [
            [
                r,
                *(with_ci(inter["cells"][f"{r}|{c}"]["score"], inter["cells"][f"{r}|{c}"]["ci95"]) for c in cols),
                delta(inter["gains"][r]),
            ]
            for r in inter["rows"]
        ]
        rows.append(["interaction", *([""] * len(cols)), delta(inter["interaction"])])
        blocks.append(
            Table(
                [axes.get("rows", ""), *cols, f"gain {cols[-1]} − {cols[0]}"],
                rows,
                caption=f"{g} tasks.",
                row_classes=[""] * len(inter["rows"]) + ["total"],
            )
        )
    return blocks
