"""Check: every EcomInstruct task folder under a data root evaluates unchanged, with every row scored.

Runs `shoptune eval --tasks ecominstruct:DIR ...` (one process, all folders) and then checks, per folder, that
`predictions.jsonl` holds exactly one row per line of `test.json` and that `metrics.json` reports the same n.
The default model is a tiny random causal LM (seconds; the point is coverage, not quality); pass
`--model smollm2-135m-instruct [--adapter DIR]` for real scores (slow on CPU: generation for ~5.5k rows).

Run:  .venv/bin/python benchmarks/ecominstruct_coverage.py [--root DIR]  (default: ../shared/data's, else the demo's)
Writes benchmarks/results/ecominstruct_coverage.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from shoptune.evaluation.collect import default_data_root

OUT = Path(__file__).resolve().parent / "results"


def task_folders(root: Path) -> list[Path]:
    """Every folder holding a meta-info.json and a test.json, sorted."""
    return sorted(p.parent for p in root.rglob("test.json") if (p.parent / "meta-info.json").is_file())


def count_lines(path: Path) -> int:
    with path.open(encoding="utf-8") as fh:
        return sum(1 for line in fh if line.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=default_data_root() / "ecominstruct_v1_test")
    parser.add_argument("--model", default=None, help="default: a tiny random causal LM built on the fly")
    parser.add_argument("--adapter", default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--keep", type=Path, default=None, help="keep the eval's metrics and predictions here")
    args = parser.parse_args()

    folders = task_folders(args.root.resolve())
    if not folders:
        sys.exit(f"no EcomInstruct task folders (meta-info.json + test.json) under {args.root}")
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            from shoptune.testing import build_tiny_causal_lm

            model = str(build_tiny_causal_lm(Path(tmp) / "tiny-lm"))
        run_dir = args.keep or Path(tmp) / "eval"
        cmd = [
            sys.executable,
            "-m",
            "shoptune",
            "eval",
            "--model",
            model,
            "--out",
            str(run_dir),
            "--batch-size",
            str(args.batch_size),
            "--tasks",
            *[f"ecominstruct:{f}" for f in folders],
        ]
        if args.adapter:
            cmd += ["--adapter", args.adapter]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        seconds = time.perf_counter() - start
        metrics = json.loads((run_dir / "metrics.json").read_text())
        predicted: dict[str, int] = {}
        with (run_dir / "predictions.jsonl").open(encoding="utf-8") as fh:
            for line in fh:
                task = json.loads(line)["task"]
                predicted[task] = predicted.get(task, 0) + 1

    rows = []
    for folder in folders:
        name = next((t for t in metrics["tasks"] if t.lower() == folder.name.lower()), folder.name)
        task = metrics["tasks"].get(name, {})
        rows.append(
            {
                "folder": str(folder.relative_to(args.root.resolve())),
                "task": name,
                "rows_in_file": count_lines(folder / "test.json"),
                "predictions": predicted.get(name, 0),
                "scored_n": task.get("n", 0),
                "metric": task.get("metric"),
                "score": task.get("score"),
                "unparsed": task.get("unparsed"),
            }
        )
    ok = all(r["rows_in_file"] == r["predictions"] == r["scored_n"] for r in rows)
    result = {
        "model": args.model or "tiny random causal LM",
        "adapter": args.adapter,
        "seconds": round(seconds, 1),
        "all_rows_scored": ok,
        "folders": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ecominstruct_coverage.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    lines = [
        "# EcomInstruct coverage: every folder, every row",
        "",
        f"Model: {result['model']}; {len(rows)} folders in {seconds:.0f} s; all rows scored: **{ok}**.",
        "",
        "| folder | rows in test.json | predictions | scored n | metric | score | unparsed |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        score = "" if r["score"] is None else f"{r['score']:.3f}"
        lines.append(
            f"| {r['folder']} | {r['rows_in_file']} | {r['predictions']} | {r['scored_n']} | {r['metric']} "
            f"| {score} | {r['unparsed']} |"
        )
    (args.out / "ecominstruct_coverage.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
