"""The studies' comparisons, from runs' saved predictions, each with a paired significance test.

``routing``          family x routing table; each run against the best routing of its family
``prefix-ablation``  prefix vs none (no task information, no private layers) per family, and whether removing
                     the prefix hurts decoders more than cross-encoders (difference of differences)
``multitask``        multi-task vs single-task per task, with the gain on low-resource tasks
``ensemble``         the ensemble vs each member and the best single member

Tests are paired (the same test pairs): McNemar's exact test on per-pair correctness (scipy ``binomtest``) and a
paired bootstrap of the macro-F1 / accuracy difference (resampling pairs; stratified by task for means over
tasks). Every comparison writes ``<name>.md`` and ``<name>.json`` (and a ``.png`` where a plot helps).

Example:
    >>> mcnemar([True, True, False, False], [True, False, True, True])  # a right/b wrong 1, a wrong/b right 2
    {'a_only': 1, 'b_only': 2, 'p_value': 1.0}
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shoptune.data.readers import read_json
from shoptune.errors import ShoptuneError
from shoptune.evaluation.metrics import encode_label_pairs
from shoptune.evaluation.statistics import bootstrap_test, contrast_distribution, mcnemar
from shoptune.io import atomic_path, atomic_write_json, atomic_write_text, open_folder
from shoptune.records import LABELS
from shoptune.relevance.scoring import STATISTICS, label_baselines, read_predictions

N_RESAMPLES = 1000


# ============================================================================================ runs
@dataclass
class RunResult:
    """One model's predictions on one split: ``rows[id] = (task, gold, predicted)``, plus what the run was."""

    name: str
    meta: dict[str, Any]
    rows: dict[str, tuple[str, str, str]] = field(repr=False)

    @property
    def tasks(self) -> list[str]:
        return sorted({task for task, _, _ in self.rows.values()})

    def label(self) -> str:
        fam, routing = self.meta.get("family", "?"), self.meta.get("routing", "?")
        return f"{self.name} ({fam}/{routing}{', single-task' if self.meta.get('single_task') else ''})"


def load_run(path: str | Path, split: str = "test", name: str | None = None, decision: str = "rule") -> RunResult:
    """Predictions of a training run folder (``RUN/eval/<split>/``) or of a `relevance eval` output folder.

    ``decision`` picks the labels compared: ``rule`` the served ones (the model's fitted decision rule; argmax for
    models without one), ``argmax`` the most probable grade (``prediction_argmax``; older predictions files hold
    argmax labels only, so both read the same there).
    """
    if decision not in ("rule", "argmax"):
        raise ShoptuneError(f"unknown decision {decision!r} (expected rule or argmax)")
    path = Path(path)
    candidates = [path / "eval" / split / "predictions.jsonl", path / "predictions.jsonl"]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise ShoptuneError(
            f"{path}: no predictions for split {split!r} (looked for {', '.join(map(str, candidates))})"
        )
    meta: dict[str, Any] = {}
    for info in (path / "run.json", found.parent / "metrics.json"):
        if info.is_file():
            data = read_json(info)
            if not isinstance(data, dict):
                raise ShoptuneError(f"{info}: expected a JSON object")
            meta.update({k: v for k, v in data.items() if k not in ("tasks", "overall", "mean_over_tasks")})
    rows = {}
    for row in read_predictions(found):
        if "label" not in row:
            raise ShoptuneError(f"{found}: predictions without gold labels cannot be compared")
        predicted = row.get("prediction_argmax", row["prediction"]) if decision == "argmax" else row["prediction"]
        rows[row["id"]] = (row["task"], row["label"], predicted)
    meta["decision"] = decision
    return RunResult(name or _run_name(path), meta, rows)


def _run_name(path: Path) -> str:
    # RUN/model, RUN/eval, RUN/eval-test ... are named after the run.
    return path.parent.name if path.name == "model" or path.name.startswith("eval") else path.name


def common_pairs(runs: Sequence[RunResult]) -> list[RunResult]:
    """The runs restricted to the pairs all of them predicted, so every score in a table is on the same pairs."""
    common = set.intersection(*(set(r.rows) for r in runs))
    if not common:
        raise ShoptuneError(f"runs {', '.join(r.name for r in runs)} share no predicted pairs (different data?)")
    return [RunResult(r.name, r.meta, {i: v for i, v in r.rows.items() if i in common}) for r in runs]


def aligned(runs: Sequence[RunResult], task: str | None = None) -> tuple[list[str], list[str], list[list[str]]]:
    """Ids every run predicted (optionally of one task), their gold labels and each run's predictions."""
    common = set.intersection(*(set(r.rows) for r in runs))
    ids = sorted(i for i in common if task is None or runs[0].rows[i][0] == task)
    gold = [runs[0].rows[i][1] for i in ids]
    return ids, gold, [[r.rows[i][2] for i in ids] for r in runs]


# ============================================================================================ tests
def delta_distribution(
    gold: Sequence[str],
    pred_a: Sequence[str],
    pred_b: Sequence[str],
    metric: str,
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> tuple[float, np.ndarray]:
    """Observed metric(b) - metric(a) and its paired bootstrap distribution (pairs resampled jointly)."""
    columns = [encode_label_pairs(pred, gold, LABELS) for pred in (pred_a, pred_b)]
    return contrast_distribution(columns, (-1.0, 1.0), STATISTICS[metric], n_resamples, seed)


def paired_bootstrap(
    gold: Sequence[str], pred_a: Sequence[str], pred_b: Sequence[str], metric: str = "macro_f1", **kwargs: Any
) -> dict[str, Any]:
    """Paired bootstrap test of metric(b) - metric(a) on the same pairs.

    >>> paired_bootstrap(["exact", "partial"], ["exact", "partial"], ["exact", "partial"])["p_value"]
    1.0
    """
    observed, dist = delta_distribution(gold, pred_a, pred_b, metric, **kwargs)
    return bootstrap_test(observed, dist)


def compare_pair(a: RunResult, b: RunResult, *, tasks: Sequence[str] | None = None, seed: int = 0) -> dict[str, Any]:
    """b vs a per task and mean over tasks (stratified bootstrap), accuracy and macro-F1; McNemar per task, pooled."""
    tasks = list(tasks or sorted(set(a.tasks) & set(b.tasks)))
    out: dict[str, Any] = {"a": a.name, "b": b.name, "tasks": {}}
    dists: dict[str, list[np.ndarray]] = defaultdict(list)
    observed: dict[str, list[float]] = defaultdict(list)
    pooled_a: list[bool] = []
    pooled_b: list[bool] = []
    for k, task in enumerate(tasks):
        ids, gold, (pa, pb) = aligned([a, b], task)
        if not ids:
            continue
        entry: dict[str, Any] = {"n": len(ids)}
        for metric in STATISTICS:
            obs, dist = delta_distribution(gold, pa, pb, metric, seed=seed + k)
            dists[metric].append(dist)
            observed[metric].append(obs)
            base = STATISTICS[metric]
            entry[metric] = {
                "a": float(base(encode_label_pairs(pa, gold, LABELS), axis=0)),
                "b": float(base(encode_label_pairs(pb, gold, LABELS), axis=0)),
                **bootstrap_test(obs, dist),
            }
        ca = [p == g for p, g in zip(pa, gold, strict=True)]
        cb = [p == g for p, g in zip(pb, gold, strict=True)]
        pooled_a += ca
        pooled_b += cb
        entry["mcnemar"] = mcnemar(ca, cb)
        # what both models' scores are read against: the majority label, and each model's own most frequent label
        a_base, b_base = label_baselines(pa, gold), label_baselines(pb, gold)
        entry["majority"] = a_base["majority"]
        entry["mode"] = {
            side: {**m["model_mode"], "constant": m["constant"]} for side, m in (("a", a_base), ("b", b_base))
        }
        out["tasks"][task] = entry
    if not out["tasks"]:
        raise ShoptuneError(f"{a.name} and {b.name} share no predicted pairs (different data or splits?)")
    mean: dict[str, Any] = {"tasks": len(out["tasks"])}
    for metric in STATISTICS:
        a_mean = float(np.mean([e[metric]["a"] for e in out["tasks"].values()]))
        b_mean = float(np.mean([e[metric]["b"] for e in out["tasks"].values()]))
        test = bootstrap_test(float(np.mean(observed[metric])), np.mean(dists[metric], axis=0))
        mean[metric] = {"a": a_mean, "b": b_mean, **test}
        mean[metric]["majority"] = float(np.mean([e["majority"][metric] for e in out["tasks"].values()]))
    mean["mcnemar_pooled"] = mcnemar(pooled_a, pooled_b)
    mean["one_label_tasks"] = {side: sum(e["mode"][side]["constant"] for e in out["tasks"].values()) for side in "ab"}
    out["mean_over_tasks"] = mean
    return out


# ============================================================================================ formatting
def _f(x: float) -> str:
    return f"{x:.4f}"


def _p(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _delta(entry: dict[str, Any]) -> str:
    lo, hi = entry["ci95"]
    return f"{entry['delta']:+.4f} [{lo:+.3f}, {hi:+.3f}]"


def _mode(mode: dict[str, Any]) -> str:
    """'irrelevant 93% ⚠' (the flag: one label for 90% or more of the pairs, a constant predictor)."""
    return f"{mode['answer']} {mode['share']:.0%}" + (" ⚠" if mode["constant"] else "")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def run_scores(run: RunResult, tasks: Sequence[str]) -> dict[str, Any]:
    """macro-F1 and accuracy per task and their means for one run."""
    per_task = {}
    for task in tasks:
        items = [(g, p) for t, g, p in run.rows.values() if t == task]
        if not items:
            continue
        codes = encode_label_pairs([p for _, p in items], [g for g, _ in items], LABELS)
        per_task[task] = {m: float(s(codes, axis=0)) for m, s in STATISTICS.items()} | {"n": len(items)}
    means = {m: float(np.mean([v[m] for v in per_task.values()])) for m in STATISTICS}
    return {"tasks": per_task, "mean_over_tasks": means}


def write_report(out: str | Path, name: str, title: str, markdown: str, data: dict[str, Any]) -> Path:
    out = open_folder(out, "compare")  # a folder of comparison reports: refuses one the user or another command owns
    atomic_write_text(out / f"{name}.md", f"# {title}\n\n{markdown}\n")
    atomic_write_json(out / f"{name}.json", data)
    return out / f"{name}.md"


# ============================================================================================ comparisons
def compare_routing(runs: Sequence[RunResult], out: str | Path) -> dict[str, Any]:
    """Family x routing table (mean macro-F1 / accuracy and per task); each run vs its family's best routing."""
    runs = common_pairs(runs)
    tasks = sorted(set.intersection(*(set(r.tasks) for r in runs)))
    scores = {r.name: run_scores(r, tasks) for r in runs}
    best: dict[str, RunResult] = {}
    for r in runs:
        fam = r.meta.get("family", "?")
        if (
            fam not in best
            or scores[r.name]["mean_over_tasks"]["macro_f1"] > scores[best[fam].name]["mean_over_tasks"]["macro_f1"]
        ):
            best[fam] = r
    tests = {
        r.name: compare_pair(best[r.meta.get("family", "?")], r, tasks=tasks)
        for r in runs
        if r is not best[r.meta.get("family", "?")]
    }
    header = [
        "family",
        "routing",
        "run",
        "mean macro-F1",
        "mean acc",
        "vs best of family (ΔF1 [CI])",
        "p (boot)",
        "p (McNemar)",
        *tasks,
    ]
    rows = []
    for r in sorted(runs, key=lambda r: (r.meta.get("family", ""), r.meta.get("routing", ""), r.name)):
        s = scores[r.name]
        t = tests.get(r.name)
        rows.append(
            [
                r.meta.get("family", "?"),
                r.meta.get("routing", "?"),
                r.name,
                _f(s["mean_over_tasks"]["macro_f1"]),
                _f(s["mean_over_tasks"]["accuracy"]),
                _delta(t["mean_over_tasks"]["macro_f1"]) if t else "(best)",
                _p(t["mean_over_tasks"]["macro_f1"]["p_value"]) if t else "",
                _p(t["mean_over_tasks"]["mcnemar_pooled"]["p_value"]) if t else "",
                *(_f(s["tasks"][task]["macro_f1"]) if task in s["tasks"] else "-" for task in tasks),
            ]
        )
    data = {
        "tasks": tasks,
        "scores": scores,
        "best_per_family": {f: r.name for f, r in best.items()},
        "tests_vs_best": tests,
        "runs": {r.name: r.meta for r in runs},
    }
    md = (
        "Macro-F1 per task on the same test pairs; Δ is the run minus its family's best routing (mean over tasks, "
        "stratified paired bootstrap); McNemar on all pairs pooled.\n\n" + _md_table(header, rows)
    )
    write_report(out, "routing", "Routing x family", md, data)
    return data


def compare_prefix_ablation(runs: Sequence[RunResult], out: str | Path, *, seed: int = 0) -> dict[str, Any]:
    """Per family: removing the prefix (routing none vs prefix); and the decoder's drop minus the encoder's drop."""
    runs = common_pairs(runs)
    by_key = {(r.meta.get("family"), r.meta.get("routing")): r for r in runs}
    families = sorted({f for f, routing in by_key if routing in ("prefix", "none")})
    results: dict[str, Any] = {}
    for fam in families:
        if (fam, "prefix") in by_key and (fam, "none") in by_key:
            results[fam] = compare_pair(by_key[(fam, "prefix")], by_key[(fam, "none")])
    if not results:
        raise ShoptuneError("prefix-ablation needs, per family, one run with routing prefix and one with routing none")
    data: dict[str, Any] = {"families": results}
    header = ["family", "prefix F1", "no prefix F1", "ΔF1 removing prefix [CI]", "p (boot)", "p (McNemar)", "Δacc [CI]"]
    rows = []
    for fam, res in results.items():
        m, acc = res["mean_over_tasks"]["macro_f1"], res["mean_over_tasks"]["accuracy"]
        rows.append(
            [
                fam,
                _f(m["a"]),
                _f(m["b"]),
                _delta(m),
                _p(m["p_value"]),
                _p(res["mean_over_tasks"]["mcnemar_pooled"]["p_value"]),
                _delta(acc),
            ]
        )
    md = "Δ = no-prefix minus prefix (negative: the prefix helped), mean macro-F1 over tasks.\n\n" + _md_table(
        header, rows
    )
    if {"decoder", "cross_encoder"} <= set(results):
        inter = interaction(by_key, seed=seed)
        data["decoder_minus_encoder"] = inter
        md += (
            "\n\nDoes removing the prefix hurt decoders more? Δ(decoder) - Δ(cross-encoder) = "
            f"{_delta(inter)}, p = {_p(inter['p_value'])} (joint stratified bootstrap over the shared test "
            "pairs; negative = decoders lose more)."
        )
    write_report(out, "prefix_ablation", "Prefix ablation (no private layers)", md, data)
    return data


def interaction(by_key: dict[tuple[Any, Any], RunResult], *, seed: int = 0, metric: str = "macro_f1") -> dict[str, Any]:
    """[F1(dec none) - F1(dec prefix)] - [F1(enc none) - F1(enc prefix)], mean over tasks, bootstrapped jointly."""
    runs = [
        by_key[("decoder", "prefix")],
        by_key[("decoder", "none")],
        by_key[("cross_encoder", "prefix")],
        by_key[("cross_encoder", "none")],
    ]
    base = STATISTICS[metric]
    tasks = sorted(set.intersection(*(set(r.tasks) for r in runs)))
    observed, dists = [], []
    for k, task in enumerate(tasks):
        ids, gold, preds = aligned(runs, task)
        if not ids:
            continue
        columns = [encode_label_pairs(p, gold, LABELS) for p in preds]
        obs, dist = contrast_distribution(columns, (-1.0, 1.0, 1.0, -1.0), base, N_RESAMPLES, seed + k)
        observed.append(obs)
        dists.append(dist)
    return bootstrap_test(float(np.mean(observed)), np.mean(dists, axis=0)) | {"tasks": len(observed)}


def compare_multitask(
    multi: RunResult,
    single: RunResult,
    out: str | Path,
    *,
    train_sizes: dict[str, int] | None = None,
    low_resource: int = 1000,
    plot: bool = True,
) -> dict[str, Any]:
    """Multi-task (b) vs single-task (a) per task; tasks with fewer than ``low_resource`` training pairs flagged."""
    result = compare_pair(single, multi)
    sizes = dict(train_sizes or single.meta.get("train_pairs") or multi.meta.get("train_pairs") or {})
    header = [
        "task",
        "train pairs",
        "n test",
        "majority F1 / acc",
        "single F1",
        "multi F1",
        "ΔF1 [CI]",
        "p (boot)",
        "single acc",
        "multi acc",
        "Δacc",
        "p (McNemar)",
        "most frequent label: single / multi",
    ]
    rows = []
    for task, e in sorted(result["tasks"].items(), key=lambda kv: (sizes.get(kv[0], 0), kv[0])):
        f1, acc = e["macro_f1"], e["accuracy"]
        flag = " (low-resource)" if sizes.get(task, low_resource) < low_resource else ""
        rows.append(
            [
                task + flag,
                sizes.get(task, "?"),
                e["n"],
                f"{e['majority']['macro_f1']:.3f} / {e['majority']['accuracy']:.3f}",
                _f(f1["a"]),
                _f(f1["b"]),
                _delta(f1),
                _p(f1["p_value"]),
                _f(acc["a"]),
                _f(acc["b"]),
                f"{acc['delta']:+.4f}",
                _p(e["mcnemar"]["p_value"]),
                f"{_mode(e['mode']['a'])} / {_mode(e['mode']['b'])}",
            ]
        )
    m = result["mean_over_tasks"]
    rows.append(
        [
            "**mean over tasks**",
            "",
            "",
            f"{m['macro_f1']['majority']:.3f} / {m['accuracy']['majority']:.3f}",
            _f(m["macro_f1"]["a"]),
            _f(m["macro_f1"]["b"]),
            _delta(m["macro_f1"]),
            _p(m["macro_f1"]["p_value"]),
            _f(m["accuracy"]["a"]),
            _f(m["accuracy"]["b"]),
            f"{m['accuracy']['delta']:+.4f}",
            _p(m["mcnemar_pooled"]["p_value"]),
            f"one label: {m['one_label_tasks']['a']} / {m['one_label_tasks']['b']} tasks",
        ]
    )
    low = [t for t in result["tasks"] if sizes.get(t, low_resource) < low_resource]
    result["train_pairs"] = sizes
    result["low_resource_tasks"] = low
    md = (
        f"Δ = multi-task ({multi.name}) minus single-task ({single.name}); paired bootstrap over the test pairs "
        f"(mean: stratified by task); McNemar exact test on per-pair correctness. Low-resource: fewer than "
        f"{low_resource} training pairs. Majority: the scores of always giving the most frequent gold label; the last "
        "column is each model's most frequent label and its share of the pairs (⚠ at 90% or more: a constant "
        "predictor, whose score says nothing of the task).\n\n" + _md_table(header, rows)
    )
    if plot:
        result["plot"] = str(_plot_deltas(result, sizes, open_folder(out, "compare") / "multitask.png"))
        md += "\n\n![ΔF1 per task](multitask.png)"
    write_report(out, "multitask", "Multi-task vs single-task", md, result)
    return result


def _plot_deltas(result: dict[str, Any], sizes: dict[str, int], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted(result["tasks"], key=lambda t: (sizes.get(t, 0), t))
    deltas = [result["tasks"][t]["macro_f1"]["delta"] for t in tasks]
    lo = [d - result["tasks"][t]["macro_f1"]["ci95"][0] for t, d in zip(tasks, deltas, strict=True)]
    hi = [result["tasks"][t]["macro_f1"]["ci95"][1] - d for t, d in zip(tasks, deltas, strict=True)]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(tasks) + 1.5))
    ax.barh(range(len(tasks)), deltas, xerr=[lo, hi], color=["tab:green" if d >= 0 else "tab:red" for d in deltas])
    ax.set_yticks(range(len(tasks)), [f"{t} ({sizes.get(t, '?')})" for t in tasks])
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("macro-F1: multi-task minus single-task (95% CI)")
    ax.set_title("Multi-task gain per task (training pairs in brackets)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format=path.suffix.lstrip(".") or "png")
    plt.close(fig)
    return path


def compare_ensemble(ensemble: RunResult, members: Sequence[RunResult], out: str | Path) -> dict[str, Any]:
    """The ensemble vs every member; the best member (highest mean macro-F1 on this split) is the headline."""
    ensemble, *members = common_pairs([ensemble, *members])
    tasks = sorted(set(ensemble.tasks).intersection(*(set(m.tasks) for m in members)))
    scores = {m.name: run_scores(m, tasks) for m in [*members, ensemble]}
    best = max(members, key=lambda m: scores[m.name]["mean_over_tasks"]["macro_f1"])
    tests = {m.name: compare_pair(m, ensemble, tasks=tasks) for m in members}
    header = ["model", "mean macro-F1", "mean acc", "ensemble - model ΔF1 [CI]", "p (boot)", "p (McNemar)"]
    rows = []
    for m in members:
        t = tests[m.name]["mean_over_tasks"]
        s = scores[m.name]["mean_over_tasks"]
        rows.append(
            [
                m.name + (" (best single)" if m is best else ""),
                _f(s["macro_f1"]),
                _f(s["accuracy"]),
                _delta(t["macro_f1"]),
                _p(t["macro_f1"]["p_value"]),
                _p(t["mcnemar_pooled"]["p_value"]),
            ]
        )
    s = scores[ensemble.name]["mean_over_tasks"]
    rows.append([f"**{ensemble.name} (ensemble)**", _f(s["macro_f1"]), _f(s["accuracy"]), "", "", ""])
    data = {"tasks": tasks, "scores": scores, "best_member": best.name, "tests": tests}
    md = (
        "The best single member is picked on the same split (an optimistic baseline for the ensemble to beat).\n\n"
        + _md_table(header, rows)
    )
    write_report(out, "ensemble", "Ensemble vs single models", md, data)
    return data
