"""Benchmark: our relevance predictor vs sentence-transformers ``CrossEncoder.predict``, same weights, same pairs,
one process. Reports pairs/s of each and how often they predict the same label.

Our predictor: pairs tokenized once per task, length-sorted, dynamic batches under a token budget,
``torch.inference_mode``, bf16 autocast when the CPU has native bf16. The baseline: each task's slice of the
model exported as a plain ``BertForSequenceClassification`` (see ``export_sequence_classifier``) and scored with
``CrossEncoder(path, max_length=...).predict(pairs, batch_size=32)``, its defaults (it also sorts by length).
Timings alternate between the two and keep each one's best of ``--repeats`` (the machine may be shared).

Run:  .venv/bin/python benchmarks/relevance_inference.py --model runs/relevance/minilm-mhp [--n 300]
Writes benchmarks/results/relevance_inference.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from shoptune.relevance.data import load_split
from shoptune.relevance.ensemble import resolve_artifact
from shoptune.relevance.model import export_sequence_classifier, load_model
from shoptune.relevance.predictor import ModelPredictor, cpu_has_bf16

OUT = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("runs/relevance/minilm-mhp"))
    parser.add_argument("--data", type=Path, default=None, help="built data folder (default: RUN/data)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--n", type=int, default=300, help="pairs per task")
    parser.add_argument("--batch-size", type=int, default=32, help="CrossEncoder.predict batch size (its default)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    from sentence_transformers import CrossEncoder
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    if args.threads:
        torch.set_num_threads(args.threads)
    artifact = resolve_artifact(args.model)
    data = args.data or artifact.parent / "data"
    model, tokenizer = load_model(artifact)
    if model.info.task_prefix:
        raise SystemExit("use a model without a text prefix (multihead / mhp / none): the export has no prefix")
    tasks = model.info.tasks
    pairs = [p for t in tasks for p in load_split(data, t, args.split, args.n, seed=0)]
    by_task = {t: [(p.left, p.right) for p in pairs if p.task == t] for t in tasks}

    with tempfile.TemporaryDirectory() as tmp:
        encoders = {
            t: CrossEncoder(
                str(export_sequence_classifier(model, tokenizer, t, Path(tmp) / t)),
                max_length=model.info.max_length,
                device="cpu",
            )
            for t in tasks
        }
        ours = {"fp32": ModelPredictor(model, tokenizer, bf16=False)}
        if cpu_has_bf16():
            ours["bf16"] = ModelPredictor(model, tokenizer, bf16=True)

        def run_st() -> np.ndarray:
            logits = [encoders[t].predict(by_task[t], batch_size=args.batch_size) for t in tasks]
            return torch.softmax(torch.as_tensor(np.concatenate(logits)), dim=-1).numpy()

        warm = [p for t in tasks for p in pairs if p.task == t][:: max(1, len(pairs) // 40)]
        for predictor in ours.values():
            predictor.predict_proba(warm)
        for t in tasks:
            encoders[t].predict(by_task[t][:8], batch_size=args.batch_size)

        timings: dict[str, list[float]] = {"sentence_transformers": [], **{f"ours_{k}": [] for k in ours}}
        outputs: dict[str, np.ndarray] = {}
        for _ in range(args.repeats):
            start = time.perf_counter()
            outputs["sentence_transformers"] = run_st()
            timings["sentence_transformers"].append(time.perf_counter() - start)
            for name, predictor in ours.items():
                start = time.perf_counter()
                outputs[f"ours_{name}"] = predictor.predict_proba(pairs)  # pairs are already grouped by task
                timings[f"ours_{name}"].append(time.perf_counter() - start)

    best = {k: min(v) for k, v in timings.items()}
    rate = {k: len(pairs) / v for k, v in best.items()}
    st_labels = outputs["sentence_transformers"].argmax(-1)
    result = {
        "model": str(artifact),
        "routing": model.info.routing,
        "tasks": len(tasks),
        "pairs": len(pairs),
        "split": args.split,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, native bf16: {cpu_has_bf16()}",
        "seconds_best": best,
        "seconds_all": timings,
        "pairs_per_second": rate,
        "speedup_vs_sentence_transformers": {k: rate[k] / rate["sentence_transformers"] for k in rate},
        "label_agreement_with_sentence_transformers": {
            k: float(np.mean(outputs[k].argmax(-1) == st_labels)) for k in outputs
        },
        "max_abs_prob_diff": {k: float(np.abs(outputs[k] - outputs["sentence_transformers"]).max()) for k in outputs},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "relevance_inference.json").write_text(json.dumps(result, indent=2))
    lines = [
        "# Relevance inference: our predictor vs sentence-transformers CrossEncoder.predict",
        "",
        f"Model `{artifact}` ({model.info.routing}, {len(tasks)} tasks), {len(pairs)} {args.split} pairs "
        f"({args.n} per task), {result['machine']}. Best of {args.repeats} alternating runs.",
        "",
        "| predictor | seconds | pairs/s | speed-up | label agreement | max abs prob diff |",
        "|---|---|---|---|---|---|",
    ]
    for k in rate:
        lines.append(
            f"| {k} | {best[k]:.2f} | {rate[k]:.1f} | {result['speedup_vs_sentence_transformers'][k]:.2f}x | "
            f"{result['label_agreement_with_sentence_transformers'][k]:.4f} | {result['max_abs_prob_diff'][k]:.2e} |"
        )
    (args.out / "relevance_inference.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
