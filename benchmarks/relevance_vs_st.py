"""Benchmark: our multi-task relevance model vs one plain sentence-transformers CrossEncoder per task.

The baseline is what a practitioner would do with the library alone: for each pair task, a
``CrossEncoder(minilm-l6, num_labels=3)`` (the same bundled MiniLM weights our model starts from, resolved
offline through ``shoptune.models``) trained by ``CrossEncoderTrainer`` with its documented defaults (cross-entropy
loss, AdamW lr 5e-5, batch size 8, linear decay, no warmup, fp32) for ``--epochs`` (1) on that task's training split
of ``--data``; only what the comparison needs is fixed: the seed, the label count, ``max_length`` = our model's (so
both see the same tokens), no checkpoint files and no external loggers. Our side is the given multi-task model
(``--ours``: a `shoptune train relevance` run folder or a model artifact), loaded as it is served.

Both are scored on the same test pairs (``load_split(..., seed=0)``, as `shoptune train relevance` evaluates):
accuracy, macro-F1 and, on query-product tasks, NDCG@10 per query of the expected ESCI gain
(:mod:`shoptune.relevance.ranking`), with paired tests from the project's statistics (McNemar's exact test on
per-pair correctness, paired bootstrap of the macro-F1 / accuracy / NDCG difference; means over tasks stratified by
task). Two views, each under the targets below:

- ``rule``: the labels each model serves. Ours applies the decision rule stored in its artifact (per-task temperature
  and label biases fitted on dev); the baseline gets the same kind of rule (same settings) fitted on the same dev
  pairs, so the view compares trained models, not decision rules. Without a stored rule this view is argmax.
- ``argmax``: the most probable grade of each model.

Targets: ours >= ST on macro-F1 on at least 8 of 10 tasks (80% of the tasks run), and the mean ΔF1 over tasks
>= +0.02 with its 95% CI above 0.

Each task's baseline result (training cost, test and dev probabilities) is kept in ``--work``/<task>.json; a rerun
skips tasks whose result exists with the same settings, so a killed run resumes task by task.

Run:  .venv/bin/python benchmarks/relevance_vs_st.py --ours runs/rel-minilm-full [--data DIR] [--tasks a,b] \
          [--max-train N] [--max-test N] [--threads 1]
Writes benchmarks/results/relevance_vs_st.{json,md} (``--out STEM`` writes STEM.json and STEM.md).
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from shoptune.data.readers import read_json
from shoptune.data.store import split_path
from shoptune.errors import ShoptuneError
from shoptune.evaluation.statistics import bootstrap_test, contrast_distribution
from shoptune.io import atomic_write_json, atomic_write_text, open_folder
from shoptune.records import LABELS
from shoptune.relevance.comparisons import RunResult, compare_pair
from shoptune.relevance.config import DecisionSpec
from shoptune.relevance.data import Pair, load_split, read_build_manifest, select_tasks, task_sources
from shoptune.relevance.decision import DecisionRules, fit_rules
from shoptune.relevance.ensemble import resolve_artifact
from shoptune.relevance.predictor import Prediction, artifact_info, load_predictor, predict_with
from shoptune.relevance.ranking import GAINS, expected_gain, per_query_ndcg, query_key, ranking_metrics, ranking_tasks
from shoptune.relevance.scoring import decision_summary

OUT = Path(__file__).resolve().parent / "results" / "relevance_vs_st"
WORK = Path("runs/relevance_vs_st")
BASE_MODEL = "minilm-l6"
N_RESAMPLES = 1000
#: Targets (issue #12): ours >= ST in macro-F1 on this share of the tasks (8 of 10), mean ΔF1 >= this, CI above 0.
WIN_SHARE = 0.8
MIN_MEAN_DELTA_F1 = 0.02
console = Console(stderr=True)


# ============================================================================================ ours
def ours_setup(path: Path) -> dict[str, Any]:
    """The artifact, and from its run folder (when given one) the data it was built on, its decision settings,
    the dev cap its rule was fitted with and its training cost."""
    artifact = resolve_artifact(path)
    run = artifact.parent if artifact.name == "model" else None
    config: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    if run is not None and (run / "config.yaml").is_file():
        config = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8")) or {}
    if run is not None and (run / "run.json").is_file():
        summary = read_json(run / "run.json")
    data_cfg = config.get("data") or {}
    data = data_cfg.get("path") or (str(run / "data") if run is not None and (run / "data").is_dir() else None)
    return {
        "artifact": artifact,
        "data": Path(data) if data else None,
        "decision": DecisionSpec.model_validate(config.get("decision") or {}),
        "max_eval_per_task": data_cfg.get("max_eval_per_task"),
        "summary": summary,
    }


# ============================================================================================ the baseline
def st_settings(args: argparse.Namespace, data: Path, task: str, max_length: int, model_path: str) -> dict[str, Any]:
    """What a cached baseline result depends on; a different value retrains the task."""
    import sentence_transformers

    info = read_build_manifest(data)["tasks"].get(task, {})
    return {
        "task": task,
        "data": str(data.resolve()),
        "data_counts": info.get("counts"),
        "data_created": read_build_manifest(data).get("created"),
        "max_train": args.max_train,
        "max_test": args.max_test,
        "max_dev": args.max_dev,
        "seed": args.seed,
        "epochs": args.epochs,
        "max_length": max_length,
        "base_model": model_path,
        "sentence_transformers": sentence_transformers.__version__,
    }


def train_st(
    model_path: str, pairs: list[Pair], *, max_length: int, seed: int, epochs: int, workdir: Path
) -> tuple[Any, dict[str, Any]]:
    """A CrossEncoder with a fresh 3-way head, trained by CrossEncoderTrainer (its defaults) on ``pairs``."""
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from transformers import set_seed

    set_seed(seed)  # the fresh classification head is initialised when the model loads
    model = CrossEncoder(model_path, num_labels=len(LABELS), max_length=max_length, device="cpu")
    index = {label: i for i, label in enumerate(LABELS)}
    dataset = Dataset.from_dict(
        {
            "left": [p.left for p in pairs],
            "right": [p.right for p in pairs],
            "label": [index[p.label or ""] for p in pairs],
        }
    )
    arguments = CrossEncoderTrainingArguments(
        output_dir=str(workdir),
        num_train_epochs=epochs,
        seed=seed,
        use_cpu=True,
        save_strategy="no",  # no checkpoint files: the result is scored in this process
        report_to="none",
        logging_steps=50,
    )
    trainer = CrossEncoderTrainer(model=model, args=arguments, train_dataset=dataset)
    start = time.perf_counter()
    output = trainer.train()
    seconds = time.perf_counter() - start
    stats = {
        "pairs": len(pairs),
        "epochs": epochs,
        "steps": int(output.global_step),
        "batch_size": arguments.per_device_train_batch_size,
        "learning_rate": arguments.learning_rate,
        "seconds": round(seconds, 1),
        "pairs_per_second": round(len(pairs) * epochs / seconds, 2),
        "train_loss": float(output.training_loss),
    }
    return model, stats


def st_probs(model: Any, pairs: list[Pair]) -> np.ndarray:
    """Softmax over LABELS of the CrossEncoder's logits (its ``predict`` defaults: batches of 32, length-sorted)."""
    if not pairs:
        return np.zeros((0, len(LABELS)))
    logits = model.predict(
        [(p.left, p.right) for p in pairs],
        batch_size=32,
        activation_fn=torch.nn.Identity(),
        show_progress_bar=True,
        convert_to_numpy=True,
    )
    logits = np.asarray(logits, dtype=np.float64).reshape(len(pairs), len(LABELS))
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def baseline_task(
    args: argparse.Namespace,
    data: Path,
    task: str,
    test: list[Pair],
    dev: list[Pair],
    *,
    max_length: int,
    model_path: str,
) -> tuple[dict[str, Any], bool]:
    """The task's baseline result and whether it came from the work folder (else it is trained, scored and saved
    there now)."""
    settings = st_settings(args, data, task, max_length, model_path)
    cache = args.work / f"{task}.json"
    if cache.is_file():
        cached = read_json(cache)
        if isinstance(cached, dict) and cached.get("settings") == settings:
            console.print(f"[bold]{task}[/]: baseline cached in {cache}")
            return cached, True
        console.print(f"[bold]{task}[/]: cached baseline has other settings; training again")
    train = load_split(data, task, "train", args.max_train, seed=args.seed)
    if not train:
        raise ShoptuneError(f"{task}: no training pairs in {data}")
    console.print(f"[bold]{task}[/]: training the CrossEncoder on {len(train)} pairs ({args.epochs} epoch(s))")
    with tempfile.TemporaryDirectory(prefix="st-", dir=args.work) as tmp:
        model, stats = train_st(
            model_path, train, max_length=max_length, seed=args.seed, epochs=args.epochs, workdir=Path(tmp)
        )
    console.print(
        f"[bold]{task}[/]: trained in {stats['seconds']} s ({stats['pairs_per_second']} pairs/s); "
        f"scoring {len(test)} test + {len(dev)} dev pairs"
    )
    start = time.perf_counter()
    test_probs, dev_probs = st_probs(model, test), st_probs(model, dev)
    stats["predict_seconds"] = round(time.perf_counter() - start, 1)
    stats["predict_pairs_per_second"] = round((len(test) + len(dev)) / max(stats["predict_seconds"], 1e-9), 1)
    result = {
        "settings": settings,
        "train": stats,
        "test": {"ids": [p.id for p in test], "probs": np.round(test_probs, 6).tolist()},
        "dev": {"ids": [p.id for p in dev], "probs": np.round(dev_probs, 6).tolist()},
    }
    atomic_write_json(cache, result, indent=None)
    return result, False


def cached_probs(part: dict[str, Any], pairs: list[Pair], what: str) -> np.ndarray:
    if part["ids"] != [p.id for p in pairs]:
        raise ShoptuneError(f"cached baseline {what} pairs differ from the pairs loaded now (delete the work file)")
    return np.asarray(part["probs"], dtype=np.float64).reshape(len(pairs), len(LABELS))


# ============================================================================================ scoring
def run_result(name: str, pairs: list[Pair], labels: np.ndarray) -> RunResult:
    rows = {p.id: (p.task, p.label or "", LABELS[int(i)]) for p, i in zip(pairs, labels, strict=True)}
    return RunResult(name, {}, rows)


def ndcg_contrast(pairs: list[Pair], st: np.ndarray, ours: np.ndarray, seed: int) -> dict[str, Any]:
    """NDCG@10 of each model (with CI and the random-order level) and the paired bootstrap of ours - ST over queries."""
    out: dict[str, Any] = {
        "st": ranking_metrics(pairs, st, n_resamples=N_RESAMPLES, seed=seed),
        "ours": ranking_metrics(pairs, ours, n_resamples=N_RESAMPLES, seed=seed),
    }
    keys = [query_key(p) for p in pairs]
    gains = np.array([GAINS[p.label or ""] for p in pairs], dtype=np.float64)
    st_values, _, _ = per_query_ndcg(keys, gains, expected_gain(st))
    ours_values, _, _ = per_query_ndcg(keys, gains, expected_gain(ours))  # same queries, same order
    if len(st_values):
        observed, dist = contrast_distribution([st_values, ours_values], (-1.0, 1.0), np.mean, N_RESAMPLES, seed)
        out["delta"] = bootstrap_test(observed, dist)
    return out


def targets(comparison: dict[str, Any]) -> dict[str, Any]:
    tasks = comparison["tasks"]
    wins = sorted(t for t, e in tasks.items() if e["macro_f1"]["b"] >= e["macro_f1"]["a"])
    needed = math.ceil(WIN_SHARE * len(tasks))
    mean = comparison["mean_over_tasks"]["macro_f1"]
    return {
        "wins": len(wins),
        "tasks": len(tasks),
        "wins_needed": needed,
        "losses": sorted(set(tasks) - set(wins)),
        "wins_met": len(wins) >= needed,
        "mean_delta_f1": mean["delta"],
        "mean_delta_f1_ci95": mean["ci95"],
        "mean_delta_met": mean["delta"] >= MIN_MEAN_DELTA_F1 and mean["ci95"][0] > 0,
    }


# ============================================================================================ report
def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def _p(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _delta(entry: dict[str, Any]) -> str:
    lo, hi = entry["ci95"]
    return f"{entry['delta']:+.4f} [{lo:+.3f}, {hi:+.3f}]"


def view_table(view: dict[str, Any], ndcg: dict[str, dict[str, Any]], train: dict[str, int]) -> list[str]:
    comparison = view["comparison"]
    lines = [
        "| task | ST train pairs | test pairs | acc ST | acc ours | Δacc [95% CI] | McNemar ST-only / ours-only, p | "
        "F1 ST | F1 ours | ΔF1 [95% CI] | p | NDCG@10 ST / ours (random) | ΔNDCG [95% CI] | majority acc / F1 | "
        "most frequent label: ST / ours |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for task, e in comparison["tasks"].items():
        acc, f1, mc = e["accuracy"], e["macro_f1"], e["mcnemar"]
        rank = ndcg.get(task, {}).get(view["name"])
        if rank:
            st_n, ours_n = rank["st"], rank["ours"]
            ndcg_cell = f"{_f(st_n['ndcg@10'])} / {_f(ours_n['ndcg@10'])} ({_f(st_n['ndcg@10_random'])})"
            ndcg_delta = _delta(rank["delta"]) if "delta" in rank else "-"
        else:
            ndcg_cell = ndcg_delta = "-"
        lines.append(
            f"| {task} | {train.get(task, '-')} | {e['n']} | {_f(acc['a'])} | {_f(acc['b'])} | {_delta(acc)} | "
            f"{mc['a_only']} / {mc['b_only']}, {_p(mc['p_value'])} | {_f(f1['a'])} | {_f(f1['b'])} | {_delta(f1)} | "
            f"{_p(f1['p_value'])} | {ndcg_cell} | {ndcg_delta} | {_majority(e)} | {_modes(e)} |"
        )
    mean = comparison["mean_over_tasks"]
    mc = mean["mcnemar_pooled"]
    lines.append(
        f"| **mean over {mean['tasks']} tasks** | | | {_f(mean['accuracy']['a'])} | {_f(mean['accuracy']['b'])} | "
        f"{_delta(mean['accuracy'])} | {mc['a_only']} / {mc['b_only']}, {_p(mc['p_value'])} (pooled) | "
        f"{_f(mean['macro_f1']['a'])} | {_f(mean['macro_f1']['b'])} | **{_delta(mean['macro_f1'])}** | "
        f"{_p(mean['macro_f1']['p_value'])} | | | {_f(mean['accuracy'].get('majority'))} / "
        f"{_f(mean['macro_f1'].get('majority'))} | one label: {_one_label(mean)} |"
    )
    t = view["targets"]
    lo, hi = t["mean_delta_f1_ci95"]
    lines += [
        "",
        f"- ours >= ST in macro-F1 on **{t['wins']} of {t['tasks']}** tasks (target: >= {t['wins_needed']}): "
        f"**{'met' if t['wins_met'] else 'NOT met'}**"
        + (f" (ST ahead on {', '.join(t['losses'])})" if t["losses"] else ""),
        f"- mean ΔF1 **{t['mean_delta_f1']:+.4f} [{lo:+.3f}, {hi:+.3f}]** (target: >= +{MIN_MEAN_DELTA_F1:.2f} "
        f"with the CI above 0): **{'met' if t['mean_delta_met'] else 'NOT met'}**",
    ]
    return lines


def _majority(entry: dict[str, Any]) -> str:
    """The scores of always giving the task's most frequent gold label (what both models are read against)."""
    m = entry.get("majority")
    return f"{_f(m['accuracy'])} / {_f(m['macro_f1'])}" if m else "-"


def _modes(entry: dict[str, Any]) -> str:
    """Each model's most frequent label and its share; ⚠ at 90% or more of the pairs (a constant predictor)."""
    modes = entry.get("mode") or {}

    def one(m: dict[str, Any] | None) -> str:
        return "-" if not m else f"{m['answer']} {m['share']:.0%}" + (" ⚠" if m["constant"] else "")

    return f"{one(modes.get('a'))} / {one(modes.get('b'))}"


def _one_label(mean: dict[str, Any]) -> str:
    counts = mean.get("one_label_tasks")
    return f"{counts['a']} / {counts['b']} tasks" if counts else "-"


def markdown(result: dict[str, Any]) -> str:
    s, timing = result["settings"], result["timing"]
    ours_cost = result["ours"].get("training") or {}
    lines = [
        "# Relevance: our multi-task model vs one sentence-transformers CrossEncoder per task",
        "",
        f"Ours: `{result['ours']['artifact']}` ({result['ours']['routing']}, one model for "
        f"{len(result['ours']['tasks'])} tasks"
        + (
            f"; trained on {ours_cost['pairs_seen']:,} pairs in {ours_cost['train_seconds']:,} s, "
            f"{ours_cost['pairs_per_second']} pairs/s"
            if ours_cost.get("pairs_seen")
            else ""
        )
        + f"). Baseline: `CrossEncoder({BASE_MODEL}, num_labels=3, max_length={s['max_length']})`, one per task, "
        f"`CrossEncoderTrainer` defaults, {s['epochs']} epoch(s), seed {s['seed']}, sentence-transformers "
        f"{s['sentence_transformers']}.",
        "",
        f"Command: `{result['command']}`",
        "",
        f"Data `{s['data']}`; training pairs per task: {s['max_train'] or 'all'}; test pairs per task: "
        f"{s['max_test'] or 'all'} (seed 0); dev pairs for the baseline's decision rule: {s['max_dev'] or 'all'}. "
        f"{result['machine']}. Paired tests on the same test pairs: McNemar's exact test on per-pair correctness, "
        f"paired bootstrap ({N_RESAMPLES} resamples) of Δ = ours - ST; means over tasks stratified by task. NDCG@10 "
        "per query of the expected ESCI gain on query-product tasks (random: the same queries in random order).",
    ]
    if s.get("warning"):
        lines += ["", f"**Note:** {s['warning']}"]
    train = {t: r["train"]["pairs"] for t, r in result["baseline"].items()}
    for name, view in result["views"].items():
        title = {
            "rule": "Served labels: each model's decision rule (ours: stored in the artifact; ST: the same rule "
            "fitted on the same dev pairs)",
            "argmax": "Argmax labels (no decision rule on either side)",
        }[name]
        lines += ["", f"## {title}", "", *view_table(view, result["ndcg"], train)]
    lines += [
        "",
        "## Cost",
        "",
        "| task | ST train pairs | ST train s | ST train pairs/s | ST predict pairs/s |",
        "|---|---|---|---|---|",
    ]
    for task, r in result["baseline"].items():
        c = r["train"]
        predict_rate = c.get("predict_pairs_per_second", "-")
        lines.append(f"| {task} | {c['pairs']} | {c['seconds']} | {c['pairs_per_second']} | {predict_rate} |")
    lines += [
        f"| **all ST models** | {timing['st_train_pairs']} | {timing['st_train_seconds']} | "
        f"{timing['st_train_pairs_per_second']} | |",
        "",
        f"Baselines reused from the work folder (trained by an earlier call): {timing['st_cached_tasks']} of "
        f"{len(result['baseline'])} tasks. Scoring ours: {timing['ours_predict_seconds']} s. Wall time of this call: "
        f"{timing['wall_seconds']} s.",
    ]
    return "\n".join(lines) + "\n"


# ============================================================================================ main
def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ours", type=Path, required=True, help="our relevance run folder or model artifact")
    parser.add_argument("--data", type=Path, default=None, help="built data folder (default: the one ours used)")
    parser.add_argument("--tasks", default=None, help="comma-separated pair tasks (default: ours' tasks in --data)")
    parser.add_argument("--max-train", type=int, default=None, help="ST training pairs per task (default: all)")
    parser.add_argument("--max-test", type=int, default=None, help="test pairs per task (default: all)")
    parser.add_argument(
        "--max-dev",
        type=int,
        default=None,
        help="dev pairs per task for the baseline's decision rule (default: the cap ours' rule was fitted with, "
        "else --max-test)",
    )
    parser.add_argument("--epochs", type=int, default=1, help="ST training epochs")
    parser.add_argument("--seed", type=int, default=13, help="ST training seed and training-pair subsample")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--work", type=Path, default=WORK, help="per-task baseline results (resume)")
    parser.add_argument("--out", type=Path, default=OUT, help="writes OUT.json and OUT.md")
    args = parser.parse_args()
    for name in ("max_train", "max_test", "max_dev", "epochs", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.out.suffix in (".json", ".md"):
        args.out = args.out.with_suffix("")
    return args


def main() -> None:
    args = parse_args()
    from transformers.utils import logging as hf_logging

    from shoptune.models import resolve_model

    hf_logging.set_verbosity_error()  # the fresh classifier head's "newly initialised" report is expected
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    ours = ours_setup(args.ours)
    data = args.data or ours["data"]
    if data is None:
        raise SystemExit("--data: ours is not a run folder that names its data; give the data build")
    warning = None
    if ours["data"] is not None and Path(ours["data"]).resolve() != data.resolve():
        warning = (
            f"ours was trained on `{ours['data']}`, the test pairs come from `{data}`: its test pairs must not "
            "overlap ours' training pairs (the same build, or a build whose splits agree)."
        )
        console.print(f"[yellow]warning[/]: {warning}")
    if args.max_dev is None:
        args.max_dev = ours["max_eval_per_task"] or args.max_test
    predictor = load_predictor(ours["artifact"])
    known = list(predictor.tasks)
    wanted = args.tasks.split(",") if args.tasks else [t for t in known if t in select_tasks(data, "all")]
    tasks = select_tasks(data, wanted)
    missing = [t for t in tasks if t not in known]
    if missing:
        raise SystemExit(f"--tasks: ours does not serve {', '.join(missing)}")
    open_folder(args.work, "benchmark", option="--work")  # resumes its own work folder; refuses a user's
    info = artifact_info(ours["artifact"])
    max_length = int(info.get("max_length") or 128)  # per-task and ensemble manifests do not say: the default
    model_path = resolve_model(BASE_MODEL).path
    spec: DecisionSpec = ours["decision"]

    test = {t: load_split(data, t, "test", args.max_test, seed=0) for t in tasks}
    # Dev pairs (the ones ours' rule was fitted on: seed 0, the same cap) for fitting the baseline's rule.
    dev = {
        t: load_split(data, t, "dev", args.max_dev, seed=0) if split_path(data, t, "dev").is_file() else []
        for t in tasks
    }
    baseline: dict[str, dict[str, Any]] = {}
    cached = 0
    for k, task in enumerate(tasks, start=1):
        console.rule(f"baseline {k}/{len(tasks)}: {task}")
        baseline[task], reused = baseline_task(
            args, data, task, test[task], dev[task], max_length=max_length, model_path=model_path
        )
        cached += reused

    test_pairs = [p for t in tasks for p in test[t]]
    st_raw = np.concatenate([cached_probs(baseline[t]["test"], test[t], "test") for t in tasks])
    console.rule("scoring ours")
    start = time.perf_counter()
    with Progress(
        TextColumn("[bold]ours[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        job = bar.add_task("ours", total=len(test_pairs))
        ours_pred = predict_with(predictor, test_pairs, lambda n: bar.advance(job, n))
    ours_seconds = time.perf_counter() - start

    names = [p.task for p in test_pairs]
    st_rules: DecisionRules | None = None
    rules_ours = any(d.get("decision_rule", "argmax") != "argmax" for d in decision_summary(predictor).values())
    if rules_ours:
        dev_pairs = [p for t in tasks for p in dev[t]]
        dev_raw = np.concatenate([cached_probs(baseline[t]["dev"], dev[t], "dev") for t in tasks])
        st_rules = fit_rules(
            dev_raw,
            [p.task for p in dev_pairs],
            [p.label or "" for p in dev_pairs],
            rule=spec.rule,
            metric=spec.metric,
            temperature=spec.temperature,
            min_pairs=spec.min_pairs,
            fitted_on=f"dev split of {data}",
        )
    st_pred = Prediction.from_raw(st_raw, names, st_rules)

    ranked = ranking_tasks(task_sources(data, tasks), tasks)
    views: dict[str, dict[str, Any]] = {}
    ndcg: dict[str, dict[str, Any]] = {}
    for name, st_labels, ours_labels, st_p, ours_p in (
        ("rule", st_pred.labels, ours_pred.labels, st_pred.probs, ours_pred.probs),
        ("argmax", st_pred.argmax, ours_pred.argmax, st_pred.raw, ours_pred.raw),
    ):
        comparison = compare_pair(
            run_result("sentence-transformers", test_pairs, st_labels),
            run_result("ours", test_pairs, ours_labels),
            tasks=tasks,
            seed=args.seed,
        )
        views[name] = {"name": name, "comparison": comparison, "targets": targets(comparison)}
        for k, task in enumerate(tasks):
            if task in ranked:
                rows = [i for i, n in enumerate(names) if n == task]
                part = [test_pairs[i] for i in rows]
                ndcg.setdefault(task, {})[name] = ndcg_contrast(part, st_p[rows], ours_p[rows], seed=args.seed + k)

    st_pairs = sum(r["train"]["pairs"] * r["train"]["epochs"] for r in baseline.values())
    st_seconds = sum(r["train"]["seconds"] for r in baseline.values())
    summary = ours["summary"]
    result = {
        "command": " ".join(["benchmarks/relevance_vs_st.py", *sys.argv[1:]]),
        "settings": {
            "data": str(data),
            "tasks": tasks,
            "max_train": args.max_train,
            "max_test": args.max_test,
            "max_dev": args.max_dev,
            "epochs": args.epochs,
            "seed": args.seed,
            "max_length": max_length,
            "base_model": model_path,
            "sentence_transformers": baseline[tasks[0]]["settings"]["sentence_transformers"],
            "decision": spec.model_dump() if rules_ours else None,
            "warning": warning,
        },
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch thread(s)",
        "ours": {
            "artifact": str(ours["artifact"]),
            "routing": info.get("routing", info.get("kind")),
            "tasks": known,
            "data": str(ours["data"]) if ours["data"] else None,
            "training": {
                k: summary.get(k) for k in ("train_pairs", "pairs_seen", "train_seconds", "pairs_per_second", "steps")
            },
        },
        "baseline": {t: {"train": r["train"], "settings": r["settings"]} for t, r in baseline.items()},
        "views": views,
        "ndcg": ndcg,
        "baseline_rules": st_rules.to_json() if st_rules is not None else None,
        "timing": {
            "st_train_pairs": st_pairs,
            "st_train_seconds": round(st_seconds, 1),
            "st_train_pairs_per_second": round(st_pairs / st_seconds, 2) if st_seconds else None,
            "st_cached_tasks": int(cached),
            "ours_predict_seconds": round(ours_seconds, 1),
            "wall_seconds": round(time.perf_counter() - started, 1),
        },
    }
    atomic_write_json(args.out.with_suffix(".json"), result)
    text = markdown(result)
    atomic_write_text(args.out.with_suffix(".md"), text)
    print(text)


if __name__ == "__main__":
    main()
