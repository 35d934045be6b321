"""Benchmark: shoptune on a GPU (or, with ``--smoke``, a seconds-long check of this script on any machine).

Measures, on the device torch sees (``cuda`` when there is one):

- the device's bf16 matmul peak (square ``--peak-size`` matmuls, best of 5), the denominator of MFU;
- SFT: the recipe itself (``run_sft``: LoRA, bf16 autocast, answer-only loss, token-budget batches) on the demo
  build's tasks for ``--steps`` optimizer steps, for each ``--model`` (bundled names or local folders:
  SmolLM2-135M, Gemma-3-270M); tokens/s on answer+prompt tokens and MFU = 6 x parameters x tokens/s / peak;
- evaluation: multiple-choice questions/s of ``LMScorer`` on the demo tasks' test items (bf16);
- relevance: pairs/s of ``ModelPredictor`` (bf16) for a MiniLM-L6 mhp model over 10 tasks (untrained weights:
  speed only) on seeded pairs of the demo build.

Run:  .venv/bin/python benchmarks/gpu.py [--model smollm2-135m-instruct --model gemma3-270m] [--steps 60]
Writes benchmarks/results/gpu.{json,md} (``--smoke``: gpu_smoke.{json,md}). The device's name goes into both.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

OUT = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bf16_peak(device: torch.device, size: int) -> float:
    """FLOP/s of the best of 5 timed bf16 matmuls of two size x size matrices."""
    a = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    b = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    a @ b
    sync(device)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(10):
            a @ b
        sync(device)
        best = min(best, (time.perf_counter() - t0) / 10)
    return 2 * size**3 / best


def sft(model: str, data: Path, steps: int, batch_tokens: int, peak: float, work: Path) -> dict[str, Any]:
    from shoptune.training.config import load_sft_config
    from shoptune.training.sft import run_sft

    overrides = {
        "model": model,
        "data.path": str(data),
        "data.build": None,
        "optim.max_steps": steps,
        "optim.bf16": True,
        "optim.batch_tokens": batch_tokens,
        "optim.max_batch": 64,
        "optim.epochs": 50,
        "optim.checkpoint_every": 10**6,
        "optim.log_every": max(1, steps // 10),
        "lora.dropout": 0.0,
    }
    cfg = load_sft_config(REPO / "configs" / "sft_demo.yaml", overrides)
    summary = run_sft(cfg, work / f"sft-{Path(model).name}", log=lambda m: None)
    rate = summary["tokens_per_s"]
    return {
        "model": model,
        "parameters": summary["total_parameters"],
        "trainable_parameters": summary["trainable_parameters"],
        "steps": summary["steps"],
        "tokens": summary["train_tokens"],
        "tokens_per_s": round(rate, 1),
        "mfu_6n": round(6 * summary["total_parameters"] * rate / peak, 4),
    }


def evaluation(model: str, data: Path, limit: int) -> dict[str, Any]:
    from shoptune.evaluation.collect import collect_items
    from shoptune.evaluation.lm import LMScorer
    from shoptune.evaluation.runner import evaluate
    from shoptune.models import load_causal_lm

    lm, tokenizer = load_causal_lm(model)
    items = collect_items(["hd_relevance_mc", "ic_department_cls", "amcd_counterfactual_en"], data=data, limit=limit)
    scorer = LMScorer(lm.eval(), tokenizer, batch_size=32, bf16=True)
    evaluate(items[:8], scorer)  # warm-up
    sync(lm.device)
    t0 = time.perf_counter()
    evaluate(items, scorer)
    sync(lm.device)
    seconds = time.perf_counter() - t0
    return {"model": model, "questions": len(items), "questions_per_s": round(len(items) / seconds, 1)}


def relevance(data: Path, pairs_per_task: int) -> dict[str, Any]:
    from shoptune.models import default_device
    from shoptune.relevance.config import ModelSpec
    from shoptune.relevance.data import Pair, load_split
    from shoptune.relevance.model import build_model
    from shoptune.relevance.predictor import ModelPredictor

    tasks = [f"task{i}" for i in range(10)]
    spec = ModelSpec(family="cross_encoder", name="minilm-l6", routing="mhp", private_layers=1, max_length=128)
    model, tokenizer = build_model(spec, tasks, seed=0)
    model.to(default_device())
    source = load_split(data, "hd_query_product", "test", pairs_per_task * len(tasks), seed=0)
    pairs = [Pair(p.id, tasks[i % len(tasks)], p.left, p.right) for i, p in enumerate(source)]
    predictor = ModelPredictor(model, tokenizer, bf16=True, max_tokens=8192, max_batch_size=256)
    predictor.predict(pairs[:64])  # warm-up
    sync(predictor.device)
    t0 = time.perf_counter()
    predictor.predict(pairs)
    sync(predictor.device)
    seconds = time.perf_counter() - t0
    return {"pairs": len(pairs), "pairs_per_s": round(len(pairs) / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=None, help="SFT/eval model (repeatable)")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-tokens", type=int, default=16384)
    parser.add_argument("--peak-size", type=int, default=8192)
    parser.add_argument("--eval-limit", type=int, default=200)
    parser.add_argument("--pairs-per-task", type=int, default=400)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the script in a minute on a CPU")
    args = parser.parse_args()
    if args.smoke:
        args.steps, args.batch_tokens, args.peak_size, args.eval_limit, args.pairs_per_task = 2, 512, 512, 4, 4
    models = args.model or ["smollm2-135m-instruct", "gemma3-270m"]
    from shoptune.data.build import build, load_build_config
    from shoptune.io import atomic_write_json, atomic_write_text
    from shoptune.models import default_device

    device = default_device()
    work = Path(tempfile.mkdtemp(prefix="gpu-bench-"))
    data = work / "data"
    build(load_build_config(REPO / "configs" / "data_demo.yaml"), data)
    peak = bf16_peak(device, args.peak_size)
    result: dict[str, Any] = {
        "device": device_name(device),
        "torch": torch.__version__,
        "bf16_peak_tflops": round(peak / 1e12, 2),
        "smoke": args.smoke,
        "sft": [sft(m, data, args.steps, args.batch_tokens, peak, work) for m in models],
        "eval": [evaluation(m, data, args.eval_limit) for m in models],
        "relevance": relevance(data, args.pairs_per_task),
    }
    stem = "gpu_smoke" if args.smoke else "gpu"
    OUT.mkdir(exist_ok=True)
    atomic_write_json(OUT / f"{stem}.json", result)
    lines = [
        f"# shoptune on {result['device']}",
        "",
        f"torch {result['torch']}; bf16 matmul peak measured here: {result['bf16_peak_tflops']} TFLOP/s"
        + (" (**smoke run: sizes too small to mean anything**)" if args.smoke else ""),
        "",
        "| model | SFT tokens/s | MFU (6N) | eval questions/s |",
        "|---|---|---|---|",
    ]
    for s, e in zip(result["sft"], result["eval"], strict=True):
        lines.append(f"| {s['model']} | {s['tokens_per_s']} | {s['mfu_6n']:.1%} | {e['questions_per_s']} |")
    lines += ["", f"Relevance (MiniLM-L6 mhp, 10 tasks, bf16): {result['relevance']['pairs_per_s']} pairs/s."]
    atomic_write_text(OUT / f"{stem}.md", "\n".join(lines) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
