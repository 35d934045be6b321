"""Report sections of relevance runs and evals (scores with CIs, every metric in metrics.json, confusion
matrices, per-label F1, reliability diagrams from the stored probabilities) and of comparison folders (the
`relevance compare` tables with their paired tests and forest plots, and `experiments heldout` outputs).

Example:
    >>> section = relevance_run_section(Path("runs/rel/minilm-mhp"), "rel")  # doctest: +SKIP
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from shoptune.evaluation.statistics import CONSTANT_SHARE
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
    slug,
    with_ci,
)
from shoptune.reports.common import (
    HELDOUT_FILE,
    attempt,
    display_name,
    finite,
    flatten,
    generic_cell,
    make_part,
    read_jsonl,
)
from shoptune.reports.provenance import duration, mtime, provenance_blocks
from shoptune.reports.section_sft import heldout_blocks, training_curves

LABELS = ("exact", "partial", "irrelevant")
#: The files `relevance compare` writes, with their titles.
COMPARISON_TITLES = {
    "routing": "Routing × family",
    "prefix_ablation": "Prefix ablation",
    "multitask": "Multi-task vs single-task",
    "ensemble": "Ensemble vs single models",
}
_NAMES = {"accuracy": "accuracy", "macro_f1": "macro-F1", "ece": "ECE", "ndcg@10": "NDCG@10"}


def metric_name(key: str) -> str:
    """``macro_f1_rule`` -> ``macro-F1 (rule)``; unknown keys as they are."""
    for base, name in _NAMES.items():
        if key == base:
            return name
        if key.startswith(base + "_"):
            return f"{name} ({key[len(base) + 1 :].replace('_', ' ')})"
    return key


def relevance_eval_section(path: Path, anchor: str) -> Section:
    section = Section(f"Relevance eval: {display_name(path)}", "relevance-eval", str(path), anchor=anchor)
    metrics = read_json(path / "metrics.json")
    section.parts += relevance_eval_parts(path, metrics, anchor)
    config: Any = None
    data_dir = metrics.get("data")
    model = Path(str(metrics.get("model", "")))
    run_config = model.parent / "config.yaml"
    if metrics.get("model") and run_config.is_file():
        config = ("the model's training config", run_config.read_text(encoding="utf-8"))
    recorded = [
        (k, str(metrics[k]))
        for k in ("model", "kind", "family", "routing", "source", "input", "split")
        if metrics.get(k) is not None
    ]
    recorded.append(("written", mtime(path / "metrics.json") or "?"))
    section.provenance += provenance_blocks(path, config=config, data_dir=data_dir, recorded=recorded)
    return section


def relevance_run_section(path: Path, anchor: str) -> Section:
    section = Section(f"Relevance run: {display_name(path)}", "relevance-run", str(path), anchor=anchor)
    run: dict[str, Any] = {}
    problems: list[Any] = []
    if (path / "run.json").is_file():
        with attempt(problems, "run.json"):
            run = read_json(path / "run.json")

    def training(blocks: list[Any]) -> None:
        blocks += problems
        if run:
            blocks.append(
                KeyValues(
                    [
                        ("family", str(run.get("family", "?"))),
                        ("routing", str(run.get("routing", "?"))),
                        ("base model", str(run.get("base_model", "?"))),
                        ("single-task", fmt(run.get("single_task"))),
                        ("tasks", ", ".join(run.get("tasks", []))),
                        ("steps", fmt(run.get("steps"))),
                        ("pairs seen", fmt(run.get("pairs_seen"))),
                        ("training time", duration(run.get("train_seconds"))),
                        (
                            "parameters (trainable)",
                            f"{fmt(run.get('parameters'))} ({fmt(run.get('trainable_parameters'))})",
                        ),
                    ]
                )
            )
            pairs = run.get("train_pairs") or {}
            if pairs:
                blocks.append(Table(["task", "training pairs"], [[t, num(n)] for t, n in sorted(pairs.items())]))
        else:
            blocks.append(Note("No run.json: the run has not finished.", "warn"))
        if (path / "train_log.jsonl").is_file():
            blocks += training_curves(path / "train_log.jsonl")
        if (path / "sampling.json").is_file():
            blocks += relevance_sampling(read_json(path / "sampling.json"))
        singles = sorted((path / "single").glob("*/run.json"))
        if singles:
            rows = []
            for f in singles:
                s = read_json(f)
                rows.append(
                    [
                        f.parent.name,
                        num(s.get("steps")),
                        num(s.get("pairs_seen")),
                        Cell(duration(s.get("train_seconds")), "num"),
                    ]
                )
            blocks.append(Table(["single-task model", "steps", "pairs seen", "training time"], rows))

    section.parts.append(make_part("Training", anchor, training))
    splits = sorted(p.parent for p in (path / "eval").glob("*/metrics.json"))
    for folder in splits:
        part_anchor, suffix = f"{anchor}-{slug(folder.name)}", f" ({folder.name})"
        problem = Part(f"Evaluation{suffix}", [], f"{part_anchor}-evaluation")
        with attempt(problem.blocks, f"eval/{folder.name}/metrics.json"):
            section.parts += relevance_eval_parts(folder, read_json(folder / "metrics.json"), part_anchor, suffix)
        if problem.blocks:
            section.parts.append(problem)
    if not splits:
        section.parts.append(Part("Evaluation", [Note("No eval/<split>/metrics.json yet.")], f"{anchor}-evaluation"))
    config = (
        ("config.yaml", (path / "config.yaml").read_text(encoding="utf-8"))
        if (path / "config.yaml").is_file()
        else None
    )
    data_dir = None
    if config:
        with attempt(section.provenance, "config.yaml"):
            import yaml

            data_dir = (yaml.safe_load(config[1]).get("data") or {}).get("path")
    if data_dir is None and (path / "data" / "manifest.json").is_file():
        data_dir = path / "data"
    recorded = [
        ("finished", mtime(path / "run.json") or "not finished"),
        ("wall time (training)", duration(run.get("train_seconds"))),
    ]
    if run.get("device"):
        recorded.append(("torch device", str(run["device"])))
    section.provenance += provenance_blocks(path, config=config, data_dir=data_dir, recorded=recorded)
    return section


def relevance_sampling(data: dict[str, Any]) -> list[Any]:
    epochs = data.get("epochs") or []
    tasks = sorted({t for e in epochs for t in (e.get("tasks") or {})})
    if not tasks:
        return []
    header = ["task", "pool", *(f"epoch {e.get('epoch', i)} drawn (distinct)" for i, e in enumerate(epochs))]
    rows = []
    for t in tasks:
        pool = next((e["tasks"][t].get("pool") for e in epochs if t in e.get("tasks", {})), None)
        cells = []
        for e in epochs:
            r = (e.get("tasks") or {}).get(t) or {}
            cells.append(Cell(f"{fmt(r.get('drawn'))} ({fmt(r.get('distinct'))})", "num"))
        rows.append([t, num(pool), *cells])
    strategy = (data.get("strategy") or {}).get("strategy", "?")
    return [Table(header, rows, caption=f"Realised task sampling per epoch (strategy: {strategy}; sampling.json).")]


def relevance_eval_parts(folder: Path, metrics: dict[str, Any], anchor: str, suffix: str = "") -> list[Part]:
    """A relevance eval (metrics.json + predictions.jsonl): scores, all metrics, confusion, calibration."""
    tasks: dict[str, Any] = metrics.get("tasks") or {}

    def scores(blocks: list[Any]) -> None:
        # Here, not at the top: scoring imports torch, which a report of stored files does not otherwise need.
        from shoptune.relevance.scoring import constant_tasks

        entries = [(n, m) for n, m in tasks.items() if isinstance(m, dict)]
        totals = [("mean over tasks", metrics.get("mean_over_tasks")), ("overall (pooled)", metrics.get("overall"))]
        entries += [(n, m) for n, m in totals if isinstance(m, dict)]
        # Every number recorded with an interval beside it (accuracy, macro_f1, their decision-rule twins, ECE ...).
        keys = list(
            dict.fromkeys(k for _, m in entries for k in m if finite(m.get(k)) and is_interval(m.get(f"{k}_ci95")))
        )
        baselines = [
            (title, key) for title, key in BASELINE_COLUMNS if any(isinstance(m.get(key), dict) for _, m in entries)
        ]
        header = [
            "task",
            "n",
            *(f"{metric_name(k)} [95% CI]" for k in keys),
            *(title for title, _ in baselines),
            *(f"F1 {lb}" for lb in LABELS),
        ]
        rows, classes = [], []
        for name, m in entries:
            f1 = m.get("per_label_f1") or {}
            cells = [with_ci(m.get(k), m.get(f"{k}_ci95")) if k in m else Cell("–", "num") for k in keys]
            base_cells = [baseline_cell(m, key) for _, key in baselines]
            f1_cells = [num(f1.get(lb)) if lb in f1 else Cell("–", "num") for lb in LABELS]
            rows.append([name, num(m.get("n", m.get("tasks"))), *cells, *base_cells, *f1_cells])
            classes.append("total" if name not in tasks else "")
        flagged = constant_tasks(metrics)
        if flagged:
            blocks.append(
                Note(
                    f"⚠ One label for {CONSTANT_SHARE:.0%} or more of the pairs -- a constant predictor, whose "
                    f"score says nothing of the task: {', '.join(flagged)}.",
                    "warn",
                )
            )
        blocks.append(
            Table(
                header,
                rows,
                caption="Bootstrap 95% CIs; 'mean over tasks' counts each task once ('n' = tasks), 'overall' pools "
                "every pair. Majority: accuracy / macro-F1 of always giving the most frequent gold grade. Model's "
                "mode: the model's most frequent grade (argmax; served by the decision rule), its share of the pairs "
                f"and the accuracy / macro-F1 of always giving it; ⚠ when it covers {CONSTANT_SHARE:.0%} or more. "
                "Per-label F1 of the argmax labels.",
                row_classes=classes,
            )
        )
        forest_rows = []
        for name, m in tasks.items():
            for key, label in (("macro_f1", "macro-F1"), ("accuracy", "accuracy")):
                if finite(m.get(key)) and is_interval(m.get(f"{key}_ci95")):
                    lo, hi = m[f"{key}_ci95"]
                    forest_rows.append((f"{name} · {label}", m[key], lo, hi, label))
        if forest_rows:
            svg = figures.forest(
                forest_rows,
                xlabel="score (95% CI)",
                title="Accuracy and macro-F1 per task",
                zero=False,
                limits=(0, 1.0),
            )
            blocks.append(Figure(svg, "Accuracy and macro-F1 per task with bootstrap 95% CIs."))

    def all_metrics(blocks: list[Any]) -> None:
        blocks += generic_metric_blocks(metrics)

    def confusion(blocks: list[Any]) -> None:
        keys = list(dict.fromkeys(k for m in tasks.values() for k in m if str(k).startswith("confusion_matrix")))
        for key in keys:
            matrices = {}
            for name, m in tasks.items():
                cm = m.get(key)
                if isinstance(cm, dict) and cm.get("matrix"):
                    matrices[name] = (cm.get("labels") or list(LABELS), cm["matrix"])
            if matrices:
                which = key.removeprefix("confusion_matrix").strip("_") or "argmax"
                blocks.append(
                    Figure(
                        figures.confusion_matrices(matrices),
                        f"Confusion matrix per task ({which} labels; {key}): rows gold, columns predicted; counts, "
                        "shaded by the share of the gold row.",
                    )
                )
        if not keys:
            blocks.append(Note("metrics.json holds no confusion matrices."))
        for key in dict.fromkeys(k for m in tasks.values() for k in m if str(k).startswith("per_label_f1")):
            labels = list(dict.fromkeys(lb for m in tasks.values() for lb in (m.get(key) or {})))
            rows = [[name, *(num((m.get(key) or {}).get(lb)) for lb in labels)] for name, m in tasks.items()]
            which = key.removeprefix("per_label_f1").strip("_") or "argmax"
            blocks.append(
                Table(["task", *(f"F1 {lb}" for lb in labels)], rows, caption=f"Per-label F1 ({which} labels).")
            )

    def calibration(blocks: list[Any]) -> None:
        blocks += calibration_blocks(folder / "predictions.jsonl")

    return [
        make_part(f"Scores{suffix}", anchor, scores),
        make_part(f"All metrics{suffix}", anchor, all_metrics),
        make_part(f"Confusion matrices{suffix}", anchor, confusion),
        make_part(f"Calibration{suffix}", anchor, calibration),
    ]


#: The baseline columns of the scores table: (title, metrics.json key).
BASELINE_COLUMNS = (
    ("majority acc / F1", "majority"),
    ("model's mode (argmax)", "model_mode"),
    ("model's mode (rule)", "model_mode_rule"),
)


def baseline_cell(m: dict[str, Any], key: str) -> Cell:
    """``0.800 / 0.444`` for the majority label; ``irrelevant 96%: 0.800 / 0.444 ⚠ one label`` for the model's mode
    (its share of the pairs, the scores of always giving it, and the flag at 90% or more)."""
    b = m.get(key)
    if not isinstance(b, dict) or not finite(b.get("accuracy")) or not finite(b.get("macro_f1")):
        return Cell("–", "num")
    scores = f"{b['accuracy']:.3f} / {b['macro_f1']:.3f}"
    if key == "majority":
        return Cell(f"{scores} ({b.get('answer')})", "num")
    if not finite(b.get("share")):
        return Cell("–", "num")
    flag = " ⚠ one label" if m.get(key.replace("model_mode", "constant")) else ""
    return Cell(f"{b.get('answer')} {b['share']:.0%}: {scores}{flag}", "num")


def generic_metric_blocks(metrics: dict[str, Any]) -> list[Any]:
    """Every metric in metrics.json, whatever its name: one row per task (plus the means), one column per key, so a
    metric added to the evaluation (a decision rule's scores, ECE, NDCG ...) appears without a change here."""
    tasks: dict[str, Any] = metrics.get("tasks") or {}
    rows_src: list[tuple[str, dict[str, Any]]] = [(t, flatten(m)) for t, m in tasks.items() if isinstance(m, dict)]
    for key in ("mean_over_tasks", "overall"):
        if isinstance(metrics.get(key), dict):
            rows_src.append((key.replace("_", " "), flatten(metrics[key])))
    keys = list(dict.fromkeys(k for _, flat in rows_src for k in flat))
    # A value and its interval (``x`` and ``x_ci95``) share one column.
    columns = [k for k in keys if not (k.endswith("_ci95") and k.removesuffix("_ci95") in keys)]
    blocks: list[Any] = []
    if columns:
        rows = [[name, *(_value_cell(flat, c) for c in columns)] for name, flat in rows_src]
        classes = ["" if name in tasks else "total" for name, _ in rows_src]
        blocks.append(
            Table(
                ["task", *(f"{c} [95% CI]" if f"{c}_ci95" in keys else c for c in columns)],
                rows,
                caption="Every value recorded per task in metrics.json, whatever its name.",
                row_classes=classes,
            )
        )
    other = {k: v for k, v in metrics.items() if k not in ("tasks", "mean_over_tasks", "overall")}
    if other:
        flat = flatten(other)
        blocks.append(
            Table(
                ["key", "value"],
                [[k, generic_cell(v)] for k, v in flat.items()],
                caption="Other values recorded in metrics.json (settings, decision rules, ...).",
            )
        )
    return blocks


def _value_cell(flat: dict[str, Any], key: str) -> Cell:
    if key not in flat:
        return Cell("–", "num")
    value, interval = flat[key], flat.get(f"{key}_ci95")
    if finite(value) and is_interval(interval):
        return with_ci(value, interval, 4)
    return generic_cell(value)


def calibration_stats(probs: np.ndarray, target: np.ndarray, n_bins: int = 15) -> dict[str, Any]:
    """Reliability bins of predicted probabilities ``probs`` against 0/1 outcomes ``target``: equal-width,
    right-closed bins on [0, 1] (Guo et al., 2017); ECE is the count-weighted mean |accuracy - confidence|.

    >>> round(calibration_stats(np.array([0.9, 0.6]), np.array([1.0, 0.0]))["ece"], 3)  # 0.9 right, 0.6 wrong
    0.35
    """
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.digitize(probs, edges[1:-1], right=True), 0, n_bins - 1)
    conf, acc, count = [], [], []
    for b in range(n_bins):
        mask = index == b
        count.append(int(mask.sum()))
        conf.append(float(probs[mask].mean()) if mask.any() else 0.0)
        acc.append(float(target[mask].mean()) if mask.any() else 0.0)
    total = max(1, len(probs))
    ece = float(sum(n * abs(a - c) for n, a, c in zip(count, acc, conf, strict=True)) / total)
    return {
        "bins": edges[:-1].tolist(),
        "width": 1.0 / n_bins,
        "confidence": conf,
        "accuracy": acc,
        "count": count,
        "ece": ece,
    }


def calibration_blocks(path: Path) -> list[Any]:
    """Reliability diagrams from the class probabilities stored in predictions.jsonl (or a note why not)."""
    if not path.is_file():
        return [Note(f"No {path.name} beside metrics.json: no calibration diagram.")]
    rows = read_jsonl(path)
    usable = [r for r in rows if isinstance(r.get("probs"), dict) and r.get("label") is not None]
    if not usable:
        why = "no gold labels" if rows and all(r.get("label") is None for r in rows) else "no class probabilities"
        return [Note(f"{path.name} has {why} (key 'probs'): no calibration diagram can be drawn.")]
    labels = list(dict.fromkeys(lb for r in usable for lb in r["probs"]))
    probs = np.array([[float(r["probs"].get(lb, 0.0)) for lb in labels] for r in usable])
    gold = np.array([labels.index(r["label"]) if r["label"] in labels else -1 for r in usable])
    top = probs.argmax(axis=1)
    overall = calibration_stats(probs.max(axis=1), (top == gold).astype(float))
    classes = {lb: calibration_stats(probs[:, k], (gold == k).astype(float)) for k, lb in enumerate(labels)}
    blocks: list[Any] = [
        Figure(
            figures.reliability(overall, classes),
            f"Reliability of the {len(usable):,} probabilities stored in {path.name} (the served ones), 15 "
            "equal-width bins; ECE is the pair-weighted mean gap between accuracy and confidence. Bars: accuracy "
            "per bin; right: each grade's probability against how often it is the gold grade.",
        )
    ]
    by_task: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(usable):
        by_task[str(r.get("task", "?"))].append(i)
    table_rows = []
    for task, idx in sorted(by_task.items()):
        sel = np.array(idx)
        stats = calibration_stats(probs[sel].max(axis=1), (top[sel] == gold[sel]).astype(float))
        table_rows.append(
            [
                task,
                num(len(idx)),
                num(float(probs[sel].max(axis=1).mean())),
                num(float((top[sel] == gold[sel]).mean())),
                num(stats["ece"]),
            ]
        )
    table_rows.append(
        [
            "all pairs",
            num(len(usable)),
            num(float(probs.max(axis=1).mean())),
            num(float((top == gold).mean())),
            num(overall["ece"]),
        ]
    )
    blocks.append(
        Table(
            ["task", "pairs", "mean confidence", "accuracy", "ECE (top label)"],
            table_rows,
            caption="Top-label calibration per task, computed here from predictions.jsonl.",
            row_classes=[""] * (len(table_rows) - 1) + ["total"],
        )
    )
    return blocks


# ---------------------------------------------------------------------------------------------- comparisons
def comparison_section(path: Path, anchor: str) -> Section:
    section = Section(f"Comparison: {display_name(path)}", "comparison", str(path), anchor=anchor)
    runs_meta: dict[str, Any] = {}
    for name, title in COMPARISON_TITLES.items():
        file = path / f"{name}.json"
        if file.is_file():

            def build(blocks: list[Any], file: Path = file, name: str = name) -> None:
                data = read_json(file)
                runs_meta.update(data.get("runs") or {})
                blocks.extend(RELEVANCE_RENDERERS[name](data))

            section.parts.append(make_part(title, anchor, build, f"{file.name}"))
    config, data_dir = None, None
    if (path / HELDOUT_FILE).is_file():
        section.parts.append(
            make_part(
                "Held-in and held-out", anchor, lambda b: b.extend(heldout_blocks(read_json(path / HELDOUT_FILE)))
            )
        )
        tuned = path / "tuned" / "metrics.json"
        if tuned.is_file():
            with attempt(section.provenance, str(tuned)):
                adapter = read_json(tuned).get("adapter")
                run_file = Path(adapter) / "shoptune_run.json" if adapter else None
                if run_file is not None and run_file.is_file():
                    run = read_json(run_file)
                    config, data_dir = ("the adapter's training config", run.get("config")), run.get("data_dir")
    if runs_meta:
        # Every scalar the runs recorded (family, routing, seed, steps, decision ...); lists and tables left out.
        keys = list(
            dict.fromkeys(k for meta in runs_meta.values() for k, v in meta.items() if not isinstance(v, list | dict))
        )
        rows = [[name, *(generic_cell(meta.get(k)) for k in keys)] for name, meta in runs_meta.items()]
        section.provenance.append(Table(["run", *keys], rows, caption="The runs compared (from their run.json)."))
    files = [f.name for f in sorted(path.glob("*.json"))]
    recorded = [("files", ", ".join(files)), ("written", mtime(path / files[0]) if files else "?")]
    section.provenance += provenance_blocks(path, config=config, data_dir=data_dir, recorded=recorded)
    return section


def pair_rows(result: dict[str, Any], a: str, b: str) -> Table:
    """compare_pair's per-task table: both scores, the paired Δ with its CI, and both tests."""
    header = [
        "task",
        "n",
        f"{a} F1",
        f"{b} F1",
        "ΔF1 [95% CI]",
        "p (boot)",
        f"{a} acc",
        f"{b} acc",
        "Δacc [95% CI]",
        "p (McNemar)",
    ]
    rows = [_pair_row(task, e.get("n"), e, e.get("mcnemar")) for task, e in (result.get("tasks") or {}).items()]
    classes = [""] * len(rows)
    m = result.get("mean_over_tasks") or {}
    if m:
        rows.append(_pair_row("mean over tasks", m.get("tasks"), m, m.get("mcnemar_pooled")))
        classes.append("total")
    return Table(
        header,
        rows,
        caption=f"Δ = {b} − {a} on the same test pairs; paired bootstrap (mean: stratified by "
        "task) and McNemar's exact test on per-pair correctness.",
        row_classes=classes,
    )


def _pair_row(label: str, n: Any, entry: dict[str, Any], mcnemar: dict[str, Any] | None) -> list[Cell | str]:
    f1, acc = entry.get("macro_f1") or {}, entry.get("accuracy") or {}
    f1_cells = [num(f1.get("a")), num(f1.get("b")), delta(f1), pval(f1.get("p_value"))]
    acc_cells = [num(acc.get("a")), num(acc.get("b")), delta(acc), pval((mcnemar or {}).get("p_value"))]
    return [label, num(n), *f1_cells, *acc_cells]


def _task_forest(
    result: dict[str, Any], label: str, group: str = "tasks"
) -> list[tuple[str, float, float, float, str]]:
    rows = []
    for task, e in (result.get("tasks") or {}).items():
        f1 = e.get("macro_f1") or {}
        if finite(f1.get("delta")) and is_interval(f1.get("ci95")):
            rows.append((task if not label else f"{label}: {task}", f1["delta"], *f1["ci95"], group))
    m = (result.get("mean_over_tasks") or {}).get("macro_f1") or {}
    if finite(m.get("delta")) and is_interval(m.get("ci95")):
        rows.append((f"{label + ': ' if label else ''}mean over tasks", m["delta"], *m["ci95"], "mean"))
    return rows


def routing_blocks(data: dict[str, Any]) -> list[Any]:
    tasks, scores, tests = data.get("tasks") or [], data.get("scores") or {}, data.get("tests_vs_best") or {}
    runs = data.get("runs") or {}
    best = data.get("best_per_family") or {}
    header = [
        "family",
        "routing",
        "run",
        "mean macro-F1",
        "mean acc",
        "ΔF1 vs best of family [95% CI]",
        "p (boot)",
        "p (McNemar)",
        *tasks,
    ]
    rows = []
    order = sorted(scores, key=lambda r: (runs.get(r, {}).get("family", ""), runs.get(r, {}).get("routing", ""), r))
    for r in order:
        s, t, meta = scores[r], tests.get(r), runs.get(r, {})
        mean = s.get("mean_over_tasks") or {}
        rows.append(
            [
                meta.get("family", "?"),
                meta.get("routing", "?"),
                r,
                num(mean.get("macro_f1")),
                num(mean.get("accuracy")),
                delta(t["mean_over_tasks"]["macro_f1"]) if t else Cell("(best)", "num"),
                pval(t["mean_over_tasks"]["macro_f1"].get("p_value")) if t else "",
                pval(t["mean_over_tasks"]["mcnemar_pooled"].get("p_value")) if t else "",
                *(num(s["tasks"][task]["macro_f1"]) if task in s.get("tasks", {}) else "–" for task in tasks),
            ]
        )
    blocks: list[Any] = [
        Table(
            header,
            rows,
            caption="Macro-F1 per task on the same test pairs; Δ is each run minus "
            f"its family's best routing ({', '.join(f'{f}: {r}' for f, r in best.items())}).",
        )
    ]
    forest_rows = []
    for r in order:
        t = tests.get(r)
        if t:
            m = t["mean_over_tasks"]["macro_f1"]
            forest_rows.append((r, m["delta"], *m["ci95"], runs.get(r, {}).get("family", "?")))
    if forest_rows:
        svg = figures.forest(forest_rows, xlabel="ΔF1 vs the best routing of the family (95% CI)", title="Routing")
        blocks.append(Figure(svg, "Each run against its family's best routing, mean macro-F1 over tasks."))
    for r, t in tests.items():
        blocks.append(pair_rows(t, t.get("a", "best"), t.get("b", r)))
    return blocks


def prefix_ablation_blocks(data: dict[str, Any]) -> list[Any]:
    families = data.get("families") or {}
    header = [
        "family",
        "prefix F1",
        "no prefix F1",
        "ΔF1 removing the prefix [95% CI]",
        "p (boot)",
        "p (McNemar)",
        "Δacc [95% CI]",
    ]
    rows = []
    forest_rows = []
    for fam, res in families.items():
        m, acc = res["mean_over_tasks"]["macro_f1"], res["mean_over_tasks"]["accuracy"]
        rows.append(
            [
                fam,
                num(m.get("a")),
                num(m.get("b")),
                delta(m),
                pval(m.get("p_value")),
                pval(res["mean_over_tasks"].get("mcnemar_pooled", {}).get("p_value")),
                delta(acc),
            ]
        )
        forest_rows += _task_forest(res, fam, fam)
    blocks: list[Any] = [
        Table(header, rows, caption="Δ = no prefix − prefix (negative: the prefix helped), mean macro-F1 over tasks.")
    ]
    inter = data.get("decoder_minus_encoder")
    if inter:
        blocks.append(
            KeyValues(
                [
                    ("Δ(decoder) − Δ(cross-encoder)", delta(inter).text),
                    ("p (joint bootstrap)", pval(inter.get("p_value")).text),
                    ("reading", "negative: removing the prefix hurts decoders more"),
                ]
            )
        )
        if finite(inter.get("delta")) and is_interval(inter.get("ci95")):
            forest_rows.append(("decoder − cross-encoder", inter["delta"], *inter["ci95"], "mean"))
    if forest_rows:
        svg = figures.forest(forest_rows, xlabel="ΔF1 removing the prefix (95% CI)", title="Prefix ablation")
        blocks.append(Figure(svg, "Per task and mean over tasks, per family; the last row is the interaction."))
    for fam, res in families.items():
        blocks.append(pair_rows(res, f"{fam} prefix", f"{fam} none"))
    return blocks


def multitask_blocks(data: dict[str, Any]) -> list[Any]:
    sizes = data.get("train_pairs") or {}
    low = set(data.get("low_resource_tasks") or [])
    table = pair_rows(data, str(data.get("a", "single")), str(data.get("b", "multi")))
    for row in table.rows:
        name = row[0].text
        if name in sizes:
            row[0] = Cell(f"{name} ({fmt(sizes[name])} pairs{', low-resource' if name in low else ''})")
    blocks: list[Any] = [table]
    forest_rows = _task_forest(data, "")
    if forest_rows:
        svg = figures.forest(forest_rows, xlabel="macro-F1: multi-task − single-task (95% CI)", title="Multi-task gain")
        blocks.append(Figure(svg, "Multi-task minus single-task macro-F1 per task (paired bootstrap 95% CI)."))
    return blocks


def ensemble_blocks(data: dict[str, Any]) -> list[Any]:
    scores, tests, best = data.get("scores") or {}, data.get("tests") or {}, data.get("best_member")
    header = ["model", "mean macro-F1", "mean acc", "ensemble − model ΔF1 [95% CI]", "p (boot)", "p (McNemar)"]
    rows, classes, forest_rows = [], [], []
    for name, t in tests.items():
        s = scores.get(name, {}).get("mean_over_tasks", {})
        m = t["mean_over_tasks"]["macro_f1"]
        rows.append(
            [
                name + (" (best single)" if name == best else ""),
                num(s.get("macro_f1")),
                num(s.get("accuracy")),
                delta(m),
                pval(m.get("p_value")),
                pval(t["mean_over_tasks"].get("mcnemar_pooled", {}).get("p_value")),
            ]
        )
        classes.append("")
        forest_rows.append((name, m["delta"], *m["ci95"], "best single" if name == best else "member"))
    ensemble = next((n for n in scores if n not in tests), None)
    if ensemble:
        s = scores[ensemble].get("mean_over_tasks", {})
        rows.append([f"{ensemble} (ensemble)", num(s.get("macro_f1")), num(s.get("accuracy")), "", "", ""])
        classes.append("total")
    blocks: list[Any] = [
        Table(header, rows, caption="The best single member is picked on the same split.", row_classes=classes)
    ]
    if forest_rows:
        svg = figures.forest(forest_rows, xlabel="ensemble − member, mean macro-F1 (95% CI)", title="Ensemble gain")
        blocks.append(Figure(svg, "The ensemble against each member (paired, stratified bootstrap)."))
    return blocks


RELEVANCE_RENDERERS: dict[str, Callable[[dict[str, Any]], list[Any]]] = {
    "routing": routing_blocks,
    "prefix_ablation": prefix_ablation_blocks,
    "multitask": multitask_blocks,
    "ensemble": ensemble_blocks,
}
