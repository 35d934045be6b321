"""A cross-encoder relevance model exported to OpenVINO or ONNX Runtime, and loaded back for serving.

A multi-task model shares most of its encoder between tasks, so it is exported as one **trunk** (embeddings and
the shared layers) and one small **tail** per task (mhp: the task's private layers, the pooler and its head;
multihead / prefix / none: the head on the pooled vector). A pair runs the trunk once and its task's tail: the
folder holds one encoder, not one per task (10 tasks of MiniLM-L6 would be ten 90 MB copies).

Layout of an export folder (kind ``exported`` in ``relevance.json``; ``relevance predict``, ``relevance eval``,
``relevance ensemble`` and ``load_predictor`` read it like a model folder)::

    relevance.json        ModelInfo, the decision rules, runtime, int8, graphs: {trunk, tails: {task: file}}
    tokenizer/            the model's tokenizer (JSON files only)
    trunk.xml/.bin        OpenVINO IR (or trunk.onnx)
    tails/TASK.xml/.bin   one per task (or tails/TASK.onnx)

Graphs are data (operators and weights), never code: a folder from a stranger runs nothing of theirs.

Runtimes on a 2-core CPU: OpenVINO runs in bf16 where the CPU has native bf16 (``INFERENCE_PRECISION_HINT``),
else fp32; ``--int8`` quantizes weights and activations with NNCF, calibrated on dev pairs only. ONNX Runtime runs
fp32; its ``--int8`` is dynamic quantization (weights int8, activations quantized per batch: no calibration data).

Example:
    >>> path = export_model("runs/rel/model", "exports/rel-ov", runtime="openvino")  # doctest: +SKIP
    >>> from shoptune.relevance.predictor import load_predictor
    >>> load_predictor("exports/rel-ov").predict_proba(pairs)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import torch
from torch import nn

from shoptune.errors import DataError, ShoptuneError
from shoptune.io import safe_component, staging_dir
from shoptune.relevance.model import (
    ARTIFACT_FILE,
    FORMAT_VERSION,
    ModelInfo,
    RelevanceModel,
    collate,
    encode_pairs,
    load_model,
)

Runtime = Literal["openvino", "onnx"]
RUNTIMES: tuple[str, ...] = get_args(Runtime)
EXPORT_KIND = "exported"
#: Dev pairs NNCF calibrates int8 activations on (its own default subset size).
CALIBRATION_PAIRS = 300
_SUFFIX = {"openvino": ".xml", "onnx": ".onnx"}
_TRUNK_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


# --------------------------------------------------------------------------------------------- graphs
class Trunk(nn.Module):
    """Embeddings and shared layers (:meth:`RelevanceModel.trunk`) as a module to trace."""

    def __init__(self, model: RelevanceModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor):
        batch = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        return self.model.trunk(batch)


class Tail(nn.Module):
    """One task's end (:meth:`RelevanceModel.tail`) as a module to trace."""

    def __init__(self, model: RelevanceModel, task: str) -> None:
        super().__init__()
        self.model = model
        self.task = task

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.model.tail(hidden, attention_mask, self.task)


def _example(tokenizer: Any, info: ModelInfo) -> dict[str, torch.Tensor]:
    """Two pairs of different lengths: traced with padding, the graphs keep the padded path (a trace of unpadded
    rows could drop the mask)."""
    task = info.tasks[0]
    feats = encode_pairs(
        tokenizer, info, ["cordless drill", "a"], ["18v cordless drill kit with battery", "b"], [task] * 2
    )
    batch = collate(feats, tokenizer.pad_token_id)
    batch.setdefault("token_type_ids", torch.zeros_like(batch["input_ids"]))
    return {k: batch[k] for k in _TRUNK_INPUTS}


# --------------------------------------------------------------------------------------------- export
def export_model(
    model_dir: str | Path,
    out: str | Path,
    *,
    runtime: Runtime = "openvino",
    int8: bool = False,
    calibration: Sequence[tuple[str, str, str]] = (),
    log: Callable[[str], None] = lambda _m: None,
) -> Path:
    """Export the cross-encoder in ``model_dir`` (a model folder) to ``out``.

    ``calibration``: (task, left, right) dev pairs for OpenVINO int8 (required there; never test pairs)."""
    if runtime not in RUNTIMES:
        raise ShoptuneError(f"--format: {runtime!r} is not one of {', '.join(RUNTIMES)}")
    model, tokenizer = load_model(model_dir)
    if model.info.family != "cross_encoder":
        raise ShoptuneError(f"{model_dir}: only cross-encoders export (this is a {model.info.family} model)")
    if int8 and runtime == "openvino" and not calibration:
        raise ShoptuneError("--int8 with openvino needs dev pairs to calibrate on (the model's build has none)")
    _require(runtime, int8)
    example = _example(tokenizer, model.info)
    with staging_dir(out, kind="relevance-export", inputs=[model_dir]) as tmp:
        (tmp / "tails").mkdir()
        tokenizer.save_pretrained(tmp / "tokenizer")
        graphs = _write_graphs(model, tokenizer, example, tmp, runtime, int8, calibration, log)
        meta = {
            "format": "shoptune-relevance",
            "version": FORMAT_VERSION,
            "kind": EXPORT_KIND,
            **asdict(model.info),
            "runtime": runtime,
            "int8": int8,
            "graphs": graphs,
            "source": str(Path(model_dir).resolve()),
        }
        (tmp / ARTIFACT_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return Path(out)


def _require(runtime: str, int8: bool) -> None:
    """One line naming the missing package, before any work."""
    needed = {"openvino": ["openvino"] + (["nncf"] if int8 else []), "onnx": ["onnx", "onnxruntime", "onnxscript"]}
    for package in needed[runtime]:
        try:
            __import__(package)
        except ImportError:
            raise ShoptuneError(f"--format {runtime} needs the '{package}' package (pip install {package})") from None


def _write_graphs(
    model: RelevanceModel,
    tokenizer: Any,
    example: dict[str, torch.Tensor],
    tmp: Path,
    runtime: str,
    int8: bool,
    calibration: Sequence[tuple[str, str, str]],
    log: Callable[[str], None],
) -> dict[str, Any]:
    suffix = _SUFFIX[runtime]
    trunk = Trunk(model).eval()
    with torch.no_grad():
        hidden = trunk(**example)
    tail_inputs = (hidden, example["attention_mask"]) if model.info.routing == "mhp" else (hidden,)
    calib = _calibration_batches(model, tokenizer, calibration) if int8 and runtime == "openvino" else []
    log(f"exporting the trunk ({runtime}{', int8' if int8 else ''})")
    _save(trunk, tuple(example.values()), tmp / f"trunk{suffix}", runtime, int8, [b["trunk"] for b in calib])
    tails: dict[str, str] = {}
    for task in model.info.tasks:
        name = f"tails/{safe_component(task, 'task')}{suffix}"
        tail_calib = [b["tails"][task] for b in calib if task in b["tails"]]
        _save(Tail(model, task).eval(), tail_inputs, tmp / name, runtime, int8, tail_calib)
        tails[task] = name
    log(f"exported the trunk and {len(tails)} task tail(s)")
    return {"trunk": f"trunk{suffix}", "tails": tails}


def _calibration_batches(
    model: RelevanceModel, tokenizer: Any, pairs: Sequence[tuple[str, str, str]]
) -> list[dict[str, Any]]:
    """Trunk inputs of each dev pair, and its task tail's inputs (the fp32 trunk's output), one pair per batch."""
    trunk = Trunk(model).eval()
    out: list[dict[str, Any]] = []
    for task, left, right in pairs[:CALIBRATION_PAIRS]:
        batch = collate(encode_pairs(tokenizer, model.info, [left], [right], [task]), tokenizer.pad_token_id)
        batch.setdefault("token_type_ids", torch.zeros_like(batch["input_ids"]))
        inputs = {k: batch[k].numpy() for k in _TRUNK_INPUTS}
        with torch.no_grad():
            hidden = trunk(**{k: batch[k] for k in _TRUNK_INPUTS}).numpy()
        tail = (hidden, inputs["attention_mask"]) if model.info.routing == "mhp" else (hidden,)
        out.append({"trunk": inputs, "tails": {task: tail}})
    return out


def _save(module: nn.Module, example: tuple, path: Path, runtime: str, int8: bool, calibration: list[Any]) -> None:
    if runtime == "openvino":
        import openvino as ov

        graph = ov.convert_model(module, example_input=example)
        if int8:
            graph = _quantize_openvino(graph, calibration)
        ov.save_model(graph, str(path), compress_to_fp16=False)
        return
    names = list(_TRUNK_INPUTS) if len(example) == 3 else ["hidden", "attention_mask"][: len(example)]
    # Batch and length vary; a tail of pooled vectors (one input: batch x hidden) only varies in its batch.
    per_token = {0: "batch", 1: "length"}
    shapes = {n: per_token if len(example) > 1 else {0: "batch"} for n in names}
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch) / path.name
        torch.onnx.export(
            module, example, str(raw), input_names=names, output_names=["out"], dynamic_shapes=shapes,
            dynamo=True, verbose=False,
        )  # fmt: skip
        if int8:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            with _quiet_root_logger():  # its "consider pre-processing" advice is for image models
                quantize_dynamic(str(raw), str(path), weight_type=QuantType.QInt8)
        else:
            import onnx

            onnx.save_model(onnx.load(str(raw)), str(path))  # weights inline: one self-contained file per graph


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _quantize_openvino(graph: Any, calibration: list[Any]) -> Any:
    import nncf

    data = nncf.Dataset(calibration, lambda item: list(item) if isinstance(item, tuple) else list(item.values()))
    return nncf.quantize(
        graph, data, model_type=nncf.ModelType.TRANSFORMER, subset_size=len(calibration), fast_bias_correction=True
    )


# --------------------------------------------------------------------------------------------- loading
class ExportedModel:
    """The graphs of an export folder, compiled for this CPU; ``logits(batch, task)`` like a RelevanceModel's."""

    def __init__(self, path: Path, meta: dict[str, Any], *, bf16: bool, threads: int | None = None) -> None:
        fields = {k: v for k, v in meta.items() if k in ModelInfo.__dataclass_fields__}
        self.info = ModelInfo(**fields)
        self.runtime: str = meta["runtime"]
        self.path = path
        graphs = meta["graphs"]
        self._trunk = self._compile(path / graphs["trunk"], bf16, threads)
        self._tails = {task: self._compile(path / rel, bf16, threads) for task, rel in graphs["tails"].items()}

    def _compile(self, file: Path, bf16: bool, threads: int | None) -> Callable[[list[np.ndarray]], np.ndarray]:
        threads = threads or torch.get_num_threads()
        if self.runtime == "openvino":
            import openvino as ov

            config = {"INFERENCE_PRECISION_HINT": "bf16" if bf16 else "f32", "INFERENCE_NUM_THREADS": threads}
            compiled = ov.Core().compile_model(str(file), "CPU", config | {"NUM_STREAMS": 1})
            return lambda inputs: compiled(inputs)[0]
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        return lambda inputs: session.run(None, dict(zip(names, inputs, strict=False)))[0]

    def logits(self, batch: dict[str, torch.Tensor], tasks: Sequence[str]) -> np.ndarray:
        """Logits of a batch whose rows may belong to different tasks: the trunk runs once over all of them, then
        each task's tail over its rows (a mixed-task stream shares its encoder passes)."""
        ids = batch["input_ids"].numpy()
        mask = batch["attention_mask"].numpy()
        types = batch["token_type_ids"].numpy() if "token_type_ids" in batch else np.zeros_like(ids)
        hidden = self._trunk([ids, mask, types])
        out = np.empty((len(tasks), len(self.info.labels)), dtype=np.float32)
        for task in dict.fromkeys(tasks):
            rows = np.array([i for i, t in enumerate(tasks) if t == task])
            inputs = [hidden[rows], mask[rows]] if self.info.routing == "mhp" else [hidden[rows]]
            out[rows] = self._tails[task](inputs)
        return out


def check_export_meta(path: Path, meta: dict[str, Any]) -> None:
    """An export's ``relevance.json``: a known runtime, every graph a file inside the folder, a tail per task."""
    file = path / ARTIFACT_FILE
    if meta.get("runtime") not in RUNTIMES:
        raise DataError(file, 0, "runtime", f"{meta.get('runtime')!r:.40} is not one of {', '.join(RUNTIMES)}")
    if meta.get("family") != "cross_encoder":
        raise DataError(file, 0, "family", "only cross-encoders are exported")
    graphs = meta.get("graphs")
    tails = graphs.get("tails") if isinstance(graphs, dict) else None
    if not isinstance(tails, dict) or not isinstance(graphs.get("trunk"), str):
        raise DataError(file, 0, "graphs", "expected {trunk: FILE, tails: {task: FILE}}")
    if sorted(tails) != sorted(meta["tasks"]):
        raise DataError(file, 0, "graphs.tails", "expected one tail per task of 'tasks'")
    root = path.resolve()
    for key, rel in [("graphs.trunk", graphs["trunk"]), *((f"graphs.tails.{t}", r) for t, r in tails.items())]:
        target = (path / str(rel)).resolve() if isinstance(rel, str) and rel else None
        if target is None or not target.is_relative_to(root) or target.suffix not in _SUFFIX.values():
            raise DataError(file, 0, key, f"expected a graph file inside the folder, got {rel!r:.60}")
        if not target.is_file():
            raise DataError(target, 0, "-", f"file not found (the export {path} is incomplete)")
    if not (path / "tokenizer").is_dir():
        raise DataError(path / "tokenizer", 0, "-", f"folder not found (the export {path} is incomplete)")


def load_exported(path: str | Path, meta: dict[str, Any], *, bf16: bool) -> tuple[ExportedModel, Any]:
    """An export folder's compiled graphs and its tokenizer (``meta`` already checked)."""
    from transformers import AutoTokenizer

    path = Path(path)
    _require(meta["runtime"], False)
    tokenizer = AutoTokenizer.from_pretrained(str(path / "tokenizer"), local_files_only=True)
    try:
        return ExportedModel(path, meta, bf16=bf16), tokenizer
    except (RuntimeError, ValueError, OSError) as exc:
        first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise ShoptuneError(f"{path}: damaged export: {first[:300]}") from None
