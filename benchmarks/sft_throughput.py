"""Benchmark: SFT training throughput and memory of shoptune's recipe vs TRL's strongest CPU setting.

Same model (SmolLM2-135M-Instruct + the same LoRA), same examples, same threads, same machine, in one run; each
side runs in its own subprocess so peak memory (max RSS) is measured separately.
- ``ours``: the recipe's own step (``answer_only_loss``: the vocabulary projection on answer positions only),
  length-grouped batches under a token budget, bf16 autocast.
- ``trl``: TRL ``SFTTrainer`` with ``padding_free=True`` and ``completion_only_loss=True`` (the prompt/completion
  mask), bf16, on the same examples with as many examples per step as ours averages. On a CPU there is no
  flash-attention kernel, so TRL's padding-free batches run SDPA over the flattened row: examples can attend to
  each other (TRL warns). It is still the fastest TRL setting, so it is the baseline.
- ``padded`` (optional, ``--sides``): ``transformers.Trainer`` with every example padded to max length.
- ``ours_ckpt``: ours with activation checkpointing (``optim.gradient_checkpointing``): the memory it saves and
  the compute it costs, on the same batches.
Useful tokens are the non-padding ones. MFU (useful) = 6 x params x useful tokens/s / the bf16 matmul peak
measured in the same run.

Run:  .venv/bin/python benchmarks/sft_throughput.py [--examples 96] [--max-length 320] [--repeats 2]
Writes benchmarks/results/sft_throughput.{json,md}. TRL: ``pip install -r requirements-bench.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

OUT = Path(__file__).resolve().parent / "results"
TASKS = [
    "hd_relevance_mc",
    "ic_aisle_mc",
    "gtax_parent_mc",
    "subjqa_answerability",
    "pqa_answer_generation",
    "extractgpt_ae110k_attribute_value",
]


def bf16_peak_gflops(n: int = 1024, reps: int = 20) -> float:
    a = torch.randn(n, n, dtype=torch.bfloat16)
    b = torch.randn(n, n, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - start) / 1e9


def load_sequences(n: int, max_length: int, data_root: str | None):
    from shoptune.data.build import BuildConfig, RowCache, build_task
    from shoptune.evaluation.collect import default_data_root
    from shoptune.models import load_causal_lm
    from shoptune.tasks import load_tasks
    from shoptune.training.examples import encode_record

    model, tokenizer = load_causal_lm("smollm2-135m-instruct")
    registry = load_tasks()
    cfg = BuildConfig(data_root=data_root or str(default_data_root()), tasks=TASKS)
    cache = RowCache("raise")
    seqs = []
    per_task = max(1, n // len(TASKS))
    for name in TASKS:
        splits, _ = build_task(registry[name], cfg, cache)
        seqs += [encode_record(tokenizer, registry[name], r, max_length) for r in splits["train"][:per_task]]
    return model, tokenizer, seqs


def lora(model):
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(
        r=16,
        lora_alpha=32,
        lora_dropout=0.05,
        task_type="CAUSAL_LM",
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    )
    return get_peft_model(model, cfg)


def _our_batches(args, seqs):
    from shoptune.training.batching import length_grouped

    return length_grouped(
        [len(s) for s in seqs], batch_tokens=args.batch_size * args.max_length // 2, max_batch=32, seed=0
    )


def run_ours(args) -> dict:
    from shoptune.training.batching import collate
    from shoptune.training.examples import answer_only_loss

    model, tokenizer, seqs = load_sequences(args.examples, args.max_length, args.data_root)
    if args.mode == "ours_ckpt":  # as the recipe does for optim.gradient_checkpointing
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    model = lora(model)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    batches = _our_batches(args, seqs)
    useful = padded = 0
    model.train()
    start = time.perf_counter()
    for group in batches:
        batch = collate([seqs[i] for i in group], tokenizer.pad_token_id)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = answer_only_loss(model, batch)  # the recipe's step (shoptune.training.sft)
        loss.backward()
        opt.step()
        opt.zero_grad()
        useful += int(batch["attention_mask"].sum())
        padded += batch["input_ids"].numel()
    name = "shoptune + activation checkpointing" if args.mode == "ours_ckpt" else "shoptune"
    return _result(name, time.perf_counter() - start, useful, padded, len(batches), model)


def run_trl(args) -> dict:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    model, tokenizer, seqs = load_sequences(args.examples, args.max_length, args.data_root)
    model = lora(model)
    per_step = max(1, round(len(seqs) / len(_our_batches(args, seqs))))  # ours' examples per step, on average
    rows = [{"input_ids": s.input_ids, "completion_mask": [int(x != -100) for x in s.labels]} for s in seqs]
    config = SFTConfig(
        output_dir="/tmp/sft_trl_bench",
        per_device_train_batch_size=per_step,
        num_train_epochs=1,
        learning_rate=1e-4,
        bf16=True,
        use_cpu=True,
        padding_free=True,
        completion_only_loss=True,
        max_length=None,
        report_to=[],
        logging_strategy="no",
        save_strategy="no",
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    useful = sum(len(s.input_ids) for s in seqs)
    steps = -(-len(seqs) // per_step)
    return _result(f"TRL SFTTrainer (padding_free, completion_only_loss, {per_step}/step)", seconds, useful,
                   useful, steps, model)  # fmt: skip


def run_baseline(args) -> dict:
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments

    model, tokenizer, seqs = load_sequences(args.examples, args.max_length, args.data_root)
    model = lora(model)
    pad = tokenizer.pad_token_id

    def padded(s):
        n = len(s.input_ids)
        extra = args.max_length - n
        return {
            "input_ids": s.input_ids + [pad] * extra,
            "attention_mask": [1] * n + [0] * extra,
            "labels": s.labels + [-100] * extra,
        }

    ds = Dataset.from_list([padded(s) for s in seqs])
    targs = TrainingArguments(
        output_dir="/tmp/sft_baseline_bench",
        per_device_train_batch_size=args.batch_size,
        num_train_epochs=1,
        learning_rate=1e-4,
        bf16=True,
        use_cpu=True,
        report_to=[],
        logging_strategy="no",
        save_strategy="no",
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=targs, train_dataset=ds)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    useful = sum(len(s.input_ids) for s in seqs)
    steps = -(-len(seqs) // args.batch_size)
    return _result(
        "transformers Trainer (padded to max length)", seconds, useful, len(seqs) * args.max_length, steps, model
    )


def _result(name, seconds, useful, padded, steps, model) -> dict:
    params = sum(p.numel() for p in model.parameters())
    return {
        "mode": name,
        "seconds": seconds,
        "steps": steps,
        "useful_tokens": useful,
        "padded_tokens": padded,
        "useful_tokens_per_s": useful / seconds,
        "model_flops_per_s": 6 * params * padded / seconds,
        "useful_flops_per_s": 6 * params * useful / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


SIDES = {"ours": run_ours, "trl": run_trl, "padded": run_baseline, "ours_ckpt": run_ours}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=96)
    parser.add_argument("--max-length", type=int, default=320)
    parser.add_argument("--batch-size", type=int, default=8, help="token budget = batch size x max length / 2")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--repeats", type=int, default=2, help="alternating rounds; each side keeps its fastest")
    parser.add_argument("--sides", default="ours,trl,ours_ckpt", help=f"comma-separated, of {', '.join(SIDES)}")
    parser.add_argument("--mode", choices=list(SIDES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        print("RESULT " + json.dumps(SIDES[args.mode](args)))
        return
    sides = [s for s in args.sides.split(",") if s]
    results: dict[str, dict] = {}
    # Sides alternate, --repeats rounds; each keeps its fastest round, so a burst of load on a shared machine
    # during one side's only run cannot decide the ratio.
    for mode in [m for _ in range(args.repeats) for m in sides]:
        cmd = [sys.executable, __file__, "--mode", mode, "--examples", str(args.examples), "--max-length",
               str(args.max_length), "--batch-size", str(args.batch_size)]  # fmt: skip
        if args.data_root:
            cmd += ["--data-root", args.data_root]
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
        line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
        result = json.loads(line[len("RESULT ") :])
        if mode not in results or result["useful_tokens_per_s"] > results[mode]["useful_tokens_per_s"]:
            results[mode] = result
    peak = bf16_peak_gflops() * 1e9
    for r in results.values():
        r["mfu_useful"] = r["useful_flops_per_s"] / peak
    base = "trl" if "trl" in results else "padded"
    ratio = results["ours"]["useful_tokens_per_s"] / results[base]["useful_tokens_per_s"]
    summary = {
        "date": time.strftime("%Y-%m-%d"),
        "examples": args.examples,
        "max_length": args.max_length,
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "torch_threads": torch.get_num_threads(),
        "bf16_matmul_peak_gflops": peak / 1e9,
        "baseline": base,
        "useful_tokens_per_s_ratio": ratio,
        "peak_rss_ratio": results["ours"]["peak_rss_mb"] / results[base]["peak_rss_mb"],
        "results": results,
    }
    if "ours_ckpt" in results:
        summary["activation_checkpointing_vs_shoptune"] = {
            "rss_ratio": results["ours_ckpt"]["peak_rss_mb"] / results["ours"]["peak_rss_mb"],
            "speed_ratio": results["ours_ckpt"]["useful_tokens_per_s"] / results["ours"]["useful_tokens_per_s"],
        }
    OUT.mkdir(exist_ok=True)
    (OUT / "sft_throughput.json").write_text(json.dumps(summary, indent=2))
    md = [
        "# SFT throughput and memory: shoptune vs TRL",
        "",
        "| side | useful tokens/s | useful / processed tokens | peak RSS (MB) | MFU (useful tokens) |",
        "|---|---|---|---|---|",
    ]
    for r in results.values():
        md.append(
            f"| {r['mode']} | {r['useful_tokens_per_s']:.1f} | {r['useful_tokens']} / {r['padded_tokens']} | "
            f"{r['peak_rss_mb']:.0f} | {100 * r['mfu_useful']:.1f}% |"
        )
    md.append(
        f"\n{args.examples} examples, max length {args.max_length}, SmolLM2-135M + LoRA r=16, "
        f"{torch.get_num_threads()} torch threads, fastest of {args.repeats} alternating rounds, bf16 matmul peak "
        f"{peak / 1e9:.0f} GFLOP/s measured in the same run ({summary['date']}). Useful tokens/s, shoptune / {base}: "
        f"**{ratio:.2f}x**; peak RSS {summary['peak_rss_ratio']:.2f}x."
    )
    if "activation_checkpointing_vs_shoptune" in summary:
        ckpt = summary["activation_checkpointing_vs_shoptune"]
        md.append(
            f"Activation checkpointing on the same batches: {ckpt['rss_ratio']:.2f}x the peak RSS, "
            f"{ckpt['speed_ratio']:.2f}x the tokens/s."
        )
    (OUT / "sft_throughput.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
