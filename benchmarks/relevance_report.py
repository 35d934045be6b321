"""Collect the relevance study's real runs into benchmarks/results: per-task test metrics with 95% CIs for each run,
training cost, and copies of the comparison reports written by `shoptune relevance compare`.

Run:  .venv/bin/python benchmarks/relevance_report.py --runs runs/relevance/minilm-mhp runs/relevance/minilm-single \
          --reports runs/relevance/reports
Writes benchmarks/results/relevance_runs.{json,md} and benchmarks/results/relevance_<comparison>.{md,json,png}
(`--name relevance_matched` writes relevance_matched_runs.md, ... instead).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results"


def ci(pair: list[float]) -> str:
    return f"[{pair[0]:.3f}, {pair[1]:.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, nargs="+", required=True)
    parser.add_argument("--reports", type=Path, nargs="*", default=[], help="folders of compare outputs")
    parser.add_argument("--split", default="test")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--name", default="relevance", help="file prefix, to keep a second study's results apart")
    args = parser.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    collected = {}
    lines = ["# Relevance study: real runs", ""]
    for run in args.runs:
        metrics_file = run / "eval" / args.split / "metrics.json"
        if not metrics_file.is_file():
            metrics_file = run / "metrics.json"
        metrics = json.loads(metrics_file.read_text())
        info = json.loads((run / "run.json").read_text()) if (run / "run.json").is_file() else {}
        collected[run.name] = {"run": info, "metrics": metrics}
        mean = metrics["mean_over_tasks"]
        kind = "single-task models" if info.get("single_task") else "one multi-task model"
        lines += [
            f"## {run.name}: {info.get('family', metrics.get('family', '?'))}, routing "
            f"{info.get('routing', metrics.get('routing', '?'))}, {kind}",
            "",
            f"Training: {info.get('steps', '?')} steps, {info.get('pairs_seen', '?')} pairs in "
            f"{info.get('train_seconds', '?')} s ({info.get('pairs_per_second', '?')} pairs/s); "
            f"{info.get('parameters', 0):,} parameters. Mean over {mean['tasks']} tasks ({args.split}): accuracy "
            f"{mean['accuracy']:.4f} {ci(mean['accuracy_ci95'])}, macro-F1 {mean['macro_f1']:.4f} "
            f"{ci(mean['macro_f1_ci95'])}.",
            "",
            "| task | train pairs | n | accuracy | 95% CI | macro-F1 | 95% CI | F1 exact / partial / irrelevant |",
            "|---|---|---|---|---|---|---|---|",
        ]
        train_pairs = info.get("train_pairs", {})
        for task, m in metrics["tasks"].items():
            f1 = m["per_label_f1"]
            lines.append(
                f"| {task} | {train_pairs.get(task, '?')} | {m['n']} | {m['accuracy']:.4f} | {ci(m['accuracy_ci95'])} "
                f"| {m['macro_f1']:.4f} | {ci(m['macro_f1_ci95'])} | "
                f"{f1['exact']:.3f} / {f1['partial']:.3f} / {f1['irrelevant']:.3f} |"
            )
        lines.append("")
    (args.out / f"{args.name}_runs.json").write_text(json.dumps(collected, indent=2))
    (args.out / f"{args.name}_runs.md").write_text("\n".join(lines) + "\n")
    for folder in args.reports:
        for file in sorted(folder.glob("*")):
            if file.suffix == ".md":  # keep its image links pointing at the renamed copies
                text = re.sub(r"\]\(([\w.-]+\.png)\)", rf"]({args.name}_\1)", file.read_text())
                (args.out / f"{args.name}_{file.name}").write_text(text)
            elif file.suffix in (".json", ".png"):
                shutil.copy(file, args.out / f"{args.name}_{file.name}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
