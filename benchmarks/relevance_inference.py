"""Benchmark: relevance inference, shoptune (torch and its OpenVINO / ONNX Runtime exports) against
sentence-transformers ``CrossEncoder.predict`` and raw OpenVINO / ONNX Runtime on sentence-transformers' own
models: same weights, same pairs, one process, the same thread count.

Sides, all timed in one run, alternating, best of ``--repeats`` (the machine may be shared):
- ``st_fp32``: each task's slice of the model exported as a plain ``BertForSequenceClassification``
  (``export_sequence_classifier``), scored with ``CrossEncoder(path, max_length).predict(pairs, batch_size=32)``:
  what a sentence-transformers user runs (it sorts by length too). The baseline of every ratio.
- ``st_bf16``: the same under ``torch.autocast(bfloat16)``.
- ``raw_openvino_st`` / ``raw_onnxruntime_st``: ST's per-task models converted by hand (``ov.convert_model`` with
  the bf16 hint where the CPU has it; ``torch.onnx.export`` + ONNX Runtime fp32), fed ST's batches (32 pairs,
  length-sorted). sentence-transformers' own ``backend="onnx"`` / ``backend="openvino"`` need optimum, whose pins
  do not install beside transformers 5.x, so this is how a user reaches those runtimes today.
- ``ours_torch_fp32`` / ``ours_torch_bf16``: ``ModelPredictor`` (length-grouped dynamic batches, one trunk pass).
- ``ours_openvino`` / ``ours_openvino_int8`` / ``ours_onnx`` / ``ours_onnx_int8``: ``shoptune relevance export``
  folders loaded by ``load_predictor`` (int8 openvino calibrated on dev pairs; onnx int8 is dynamic).

Reported per side: pairs/s, speed-up over ``st_fp32``, argmax-label agreement with ``st_fp32``, macro-F1 (argmax,
against gold) and its change from ``st_fp32``.

Run:  .venv/bin/python benchmarks/relevance_inference.py --model runs/relevance/minilm-mhp --data runs/data_full
Writes benchmarks/results/relevance_inference.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from shoptune.evaluation.metrics import macro_f1
from shoptune.records import LABELS
from shoptune.relevance.data import Pair, load_split
from shoptune.relevance.ensemble import resolve_artifact
from shoptune.relevance.model import export_sequence_classifier, load_model
from shoptune.relevance.predictor import ModelPredictor, cpu_has_bf16, load_predictor

OUT = Path(__file__).resolve().parent / "results"
Side = Callable[[], np.ndarray]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("runs/relevance/minilm-mhp"))
    parser.add_argument("--data", type=Path, default=None, help="built data folder (default: RUN/data)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--n", type=int, default=200, help="pairs per task (seeded sample)")
    parser.add_argument("--batch-size", type=int, default=32, help="CrossEncoder.predict batch size (its default)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip", default="", help="comma-separated sides to leave out")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    torch.set_num_threads(args.threads)
    artifact = resolve_artifact(args.model)
    data = args.data or artifact.parent / "data"
    model, tokenizer = load_model(artifact)
    if model.info.task_prefix:
        raise SystemExit("use a model without a text prefix (multihead / mhp / none): the ST export has no prefix")
    tasks = model.info.tasks
    pairs = [p for t in tasks for p in load_split(data, t, args.split, args.n, seed=0)]
    gold = [p.label for p in pairs]
    skip = {s for s in args.skip.split(",") if s}
    with tempfile.TemporaryDirectory() as tmp:
        sides = build_sides(model, tokenizer, artifact, data, pairs, Path(tmp), args.batch_size, args.threads)
        sides = {k: v for k, v in sides.items() if k not in skip}
        for run in sides.values():  # warm-up: the first call compiles kernels and allocates
            run()
        timings: dict[str, list[float]] = {k: [] for k in sides}
        outputs: dict[str, np.ndarray] = {}
        for _ in range(args.repeats):
            for name, run in sides.items():
                start = time.perf_counter()
                outputs[name] = run()
                timings[name].append(time.perf_counter() - start)
    write(args, artifact, model.info.routing, tasks, pairs, gold, timings, outputs)


def build_sides(model, tokenizer, artifact: Path, data: Path, pairs: list[Pair], tmp: Path, batch: int, threads: int):
    from sentence_transformers import CrossEncoder

    from shoptune.relevance.api import export

    tasks = model.info.tasks
    by_task = {t: [(p.left, p.right) for p in pairs if p.task == t] for t in tasks}
    folders = {t: export_sequence_classifier(model, tokenizer, t, tmp / "st" / t) for t in tasks}
    encoders = {t: CrossEncoder(str(folders[t]), max_length=model.info.max_length, device="cpu") for t in tasks}

    def st(bf16: bool) -> Side:
        def run() -> np.ndarray:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = [encoders[t].predict(by_task[t], batch_size=batch) for t in tasks]
            return torch.softmax(torch.as_tensor(np.concatenate(logits)).float(), dim=-1).numpy()

        return run

    sides: dict[str, Side] = {"st_fp32": st(False)}
    if cpu_has_bf16():
        sides["st_bf16"] = st(True)
    sides["raw_openvino_st"] = raw_runtime("openvino", folders, by_task, tasks, tokenizer, model, batch, threads)
    sides["raw_onnxruntime_st"] = raw_runtime("onnx", folders, by_task, tasks, tokenizer, model, batch, threads)
    sides["ours_torch_fp32"] = _ours(ModelPredictor(model, tokenizer, bf16=False), pairs)
    if cpu_has_bf16():
        sides["ours_torch_bf16"] = _ours(ModelPredictor(model, tokenizer, bf16=True), pairs)
    for name, fmt, int8 in (("ours_openvino", "openvino", False), ("ours_openvino_int8", "openvino", True),
                            ("ours_onnx", "onnx", False), ("ours_onnx_int8", "onnx", True)):  # fmt: skip
        out = tmp / name
        export(artifact, out, format=fmt, int8=int8, data=data, check_pairs=1)
        sides[name] = _ours(load_predictor(out), pairs)
    return sides


def _ours(predictor, pairs: list[Pair]) -> Side:
    return lambda: predictor.predict_proba(pairs)


def raw_runtime(runtime: str, folders, by_task, tasks, tokenizer, model, batch: int, threads: int) -> Side:
    """ST's per-task sequence classifiers in OpenVINO / ONNX Runtime, with ST's batching (length-sorted, 32)."""
    from transformers import AutoModelForSequenceClassification

    runners = {}
    for t in tasks:
        seq = AutoModelForSequenceClassification.from_pretrained(str(folders[t])).eval()
        enc = tokenizer([by_task[t][0][0], "a"], [by_task[t][0][1], "b"], padding=True, return_tensors="pt")
        example = (enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
        runners[t] = _compile(runtime, seq, example, folders[t].parent / f"{t}.onnx", threads)

    def run() -> np.ndarray:
        out = []
        for t in tasks:
            texts = by_task[t]
            order = sorted(range(len(texts)), key=lambda i: len(texts[i][0]) + len(texts[i][1]))
            logits = np.zeros((len(texts), len(LABELS)), dtype=np.float32)
            for start in range(0, len(order), batch):
                idx = order[start : start + batch]
                left, right = [texts[i][0] for i in idx], [texts[i][1] for i in idx]
                enc = tokenizer(left, right, padding=True, truncation="longest_first",
                                max_length=model.info.max_length, return_tensors="np")  # fmt: skip
                logits[idx] = runners[t]([enc["input_ids"], enc["attention_mask"], enc["token_type_ids"]])
            out.append(logits)
        return torch.softmax(torch.as_tensor(np.concatenate(out)), dim=-1).numpy()

    return run


def _compile(runtime: str, seq, example, onnx_path: Path, threads: int):
    class Logits(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits

    module = Logits(seq).eval()
    if runtime == "openvino":
        import openvino as ov

        graph = ov.convert_model(module, example_input=example)
        hint = "bf16" if cpu_has_bf16() else "f32"
        compiled = ov.Core().compile_model(
            graph, "CPU", {"INFERENCE_PRECISION_HINT": hint, "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1}
        )
        return lambda inputs: compiled(inputs)[0]
    import onnxruntime as ort

    names = ["input_ids", "attention_mask", "token_type_ids"]
    dims = {0: "batch", 1: "length"}
    torch.onnx.export(module, example, str(onnx_path), input_names=names, output_names=["logits"],
                      dynamic_shapes={n: dims for n in names}, dynamo=True, verbose=False)  # fmt: skip
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    return lambda inputs: session.run(None, dict(zip(names, [i.astype(np.int64) for i in inputs], strict=True)))[0]


def write(args, artifact, routing, tasks, pairs, gold, timings, outputs) -> None:
    best = {k: min(v) for k, v in timings.items()}
    rate = {k: len(pairs) / v for k, v in best.items()}
    base = outputs["st_fp32"].argmax(-1)
    f1 = {k: macro_f1([LABELS[i] for i in v.argmax(-1)], gold, LABELS) for k, v in outputs.items()}
    result = {
        "model": str(artifact),
        "routing": routing,
        "tasks": len(tasks),
        "pairs": len(pairs),
        "split": args.split,
        "machine": f"{platform.machine()}, {args.threads} thread(s), native bf16: {cpu_has_bf16()}",
        "date": time.strftime("%Y-%m-%d"),
        "seconds_best": best,
        "seconds_all": timings,
        "pairs_per_second": rate,
        "speedup_vs_st_fp32": {k: rate[k] / rate["st_fp32"] for k in rate},
        "label_agreement_with_st_fp32": {k: float(np.mean(v.argmax(-1) == base)) for k, v in outputs.items()},
        "macro_f1_argmax": f1,
        "macro_f1_change_vs_st_fp32": {k: f1[k] - f1["st_fp32"] for k in f1},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "relevance_inference.json").write_text(json.dumps(result, indent=2))
    lines = [
        "# Relevance inference: shoptune (torch, OpenVINO / ONNX Runtime exports) vs sentence-transformers",
        "",
        f"Model `{artifact}` ({routing}, {len(tasks)} tasks), {len(pairs)} {args.split} pairs (seeded sample of "
        f"{args.n} per task), {result['machine']}. One process, sides alternating, best of {args.repeats}.",
        "",
        "| side | seconds | pairs/s | speed-up vs st_fp32 | label agreement | macro-F1 | ΔF1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for k in rate:
        lines.append(
            f"| {k} | {best[k]:.2f} | {rate[k]:.1f} | {result['speedup_vs_st_fp32'][k]:.2f}x | "
            f"{result['label_agreement_with_st_fp32'][k]:.4f} | {f1[k]:.4f} | {f1[k] - f1['st_fp32']:+.4f} |"
        )
    (args.out / "relevance_inference.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
