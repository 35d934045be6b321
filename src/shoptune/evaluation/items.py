"""Evaluation items: one question to put to a model, whatever it came from (a registered task, a raw
ShopBench file, or an EcomInstruct folder), with its target, metrics and how to read the answer.

Example:
    >>> items = load_shopbench("dev.jsonl")  # doctest: +SKIP
    >>> items[0].metrics, items[0].choices
    (['accuracy'], ['0', '1', '2', '3'])
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import iter_jsonl
from shoptune.errors import DataError
from shoptune.records import InstructionExample, PairExample, Record
from shoptune.tasks.prompts import first_index, pair_as_instruction, render_prompt, render_target
from shoptune.tasks.spec import TaskSpec

#: New-token budgets per kind: enough for the answer, small enough to keep CPU generation fast.
MAX_NEW_TOKENS = {
    "multiple_choice": 8,
    "classification": 16,
    "pair_relevance": 8,
    "retrieval": 24,
    "ranking": 24,
    "ner": 64,
    "extraction": 48,
    "generation": 96,
    "ecom_cls": 48,
    "ecom_span": 64,
    "ecom_gen": 96,
}


@dataclass
class EvalItem:
    """One question. ``choices`` set -> scored by option likelihood; otherwise generated and parsed."""

    task: str
    group: str
    kind: str
    prompt: str
    target: Any
    metrics: list[str]
    choices: list[str] | None = None
    #: Label names aligned with ``choices`` (classification reports the label, not the index).
    labels: list[str] | None = None
    n_items: int = 0
    max_new_tokens: int = 32
    meta: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ registered tasks
def as_instruction(spec: TaskSpec, rec: Record) -> tuple[InstructionExample, str]:
    """The instruction form of a record and the kind it is scored as (pairs become 3-way choices)."""
    if isinstance(rec, PairExample):
        return pair_as_instruction(rec, spec.capability, spec.description), "classification"
    return rec, spec.kind.value


def items_from_records(
    spec: TaskSpec, records: list[Record], group: str | None = None, shots: list[Record] | None = None
) -> list[EvalItem]:
    """Eval items for a registered task's records; ``shots`` (from the train split) make it k-shot."""
    prefix = ""
    for shot in shots or []:
        ex, kind = as_instruction(spec, shot)
        prefix += f"{render_prompt(ex, spec.prompt, kind=kind)} {render_target(ex, kind)}\n\n"
    out = []
    for rec in records:
        ex, kind = as_instruction(spec, rec)
        item = _item_from_instruction(spec, ex, kind, group or spec.capability)
        item.prompt = prefix + item.prompt
        out.append(item)
    return out


def _item_from_instruction(spec: TaskSpec, ex: InstructionExample, kind: str, group: str) -> EvalItem:
    prompt = render_prompt(ex, spec.prompt, kind=kind)
    base = dict(
        task=spec.name,
        group=group,
        kind=kind,
        prompt=prompt,
        metrics=list(spec.metric),
        max_new_tokens=MAX_NEW_TOKENS.get(kind, 32),
        meta={"reference": render_target(ex, kind)},
    )
    if kind in ("multiple_choice", "classification") and ex.options and isinstance(ex.output, str):
        choices = [str(i) for i in range(len(ex.options))]
        target: Any = ex.options.index(ex.output) if kind == "multiple_choice" else ex.output
        return EvalItem(**base, target=target, choices=choices, labels=list(ex.options))
    if kind == "retrieval":
        return EvalItem(**base, target=[int(i) + first_index(kind) for i in ex.output], n_items=len(ex.options))
    if kind == "ranking":
        return EvalItem(**base, target=list(ex.metadata["gains"]), n_items=len(ex.options))
    if ex.metadata.get("ecom_task_type"):
        return _ecom_item(base, ex)
    return EvalItem(**base, target=ex.output)


def _ecom_item(base: dict[str, Any], ex: InstructionExample) -> EvalItem:
    """EcomInstruct rows: label-set tasks score the ", "-separated answer; generation the whole string."""
    task_type = str(ex.metadata["ecom_task_type"]).lower()
    kind = "ecom_gen" if task_type.startswith("gen") else ("ecom_cls" if task_type == "cls" else "ecom_span")
    meta = {**base["meta"], "label_sep": ex.metadata.get("label_sep", ", ")}
    base = {**base, "kind": kind, "max_new_tokens": MAX_NEW_TOKENS[kind], "meta": meta}
    return EvalItem(**base, target=ex.output)


# ------------------------------------------------------------------------------------------ ShopBench files
SHOPBENCH_KINDS = {
    "multiple-choice": "multiple_choice",
    "retrieval": "retrieval",
    "ranking": "ranking",
    "named_entity_recognition": "ner",
    "generation": "generation",
}
_OPTION_LINE = re.compile(r"^\s*(\d+)\s*[.)]\s+\S", re.MULTILINE)


def _mc_choices(prompt: str) -> list[str]:
    """The option numbers a ShopBench multiple-choice prompt lists (0-based, consecutive)."""
    numbers = sorted({int(m) for m in _OPTION_LINE.findall(prompt)})
    count = 0
    while count in numbers:
        count += 1
    return [str(i) for i in range(count if count >= 2 else 4)]


def load_shopbench(path: str | Path, log: ErrorLog | None = None) -> list[EvalItem]:
    """Read a ShopBench (KDD Cup 2024 / Shopping MMLU) JSON-lines file unchanged."""
    log = log or ErrorLog()
    items = []
    for row in iter_jsonl(path, log=log):
        try:
            items.append(_shopbench_item(row, Path(path)))
        except DataError as err:
            log.handle(err)
    if not items:
        raise DataError(path, 0, "-", "no usable rows")
    return items


def _shopbench_item(row: dict[str, Any], path: Path) -> EvalItem:
    for key in ("input_field", "output_field", "task_type", "metric"):
        if key not in row:
            raise DataError(path, row["_row"], key, "missing field")
    task_type = str(row["task_type"]).strip()
    if task_type not in SHOPBENCH_KINDS:
        raise DataError(path, row["_row"], "task_type", f"unknown task type {task_type!r}")
    kind = SHOPBENCH_KINDS[task_type]
    prompt, target = str(row["input_field"]), row["output_field"]
    # A file mixes tasks: score each task_name separately, as the official evaluation does.
    task = str(row.get("task_name") or path.stem)
    group = str(row.get("track") or "shopbench")
    metric = str(row["metric"]).strip().lower()
    base = dict(
        task=task,
        group=group,
        kind=kind,
        prompt=prompt,
        target=target,
        metrics=[metric],
        max_new_tokens=MAX_NEW_TOKENS[kind],
        meta={"source_row": row["_row"]},
    )
    if kind == "multiple_choice" or row.get("is_multiple_choice") is True:
        return EvalItem(**{**base, "kind": "multiple_choice", "target": int(target)}, choices=_mc_choices(prompt))
    if kind in ("retrieval", "ranking"):
        if not isinstance(target, list):
            raise DataError(path, row["_row"], "output_field", f"{task_type} expects a list")
        return EvalItem(**base, n_items=len(target) if kind == "ranking" else 0)
    return EvalItem(**base)


# ------------------------------------------------------------------------------------------ EcomInstruct folders
def load_ecominstruct(folder: str | Path, log: ErrorLog | None = None) -> list[EvalItem]:
    """Read one EcomInstruct task folder (meta-info.json + test.json) unchanged; every row is scored."""
    from shoptune.data.sources import get_source
    from shoptune.data.sources.base import ViewContext

    folder = Path(folder)
    log = log or ErrorLog()
    source = get_source("ecominstruct")
    rows = source.read(folder, log)
    name = folder.name
    ctx = ViewContext(task=_slug(name), capability="ecominstruct", language=name[:2].lower(), log=log)
    records = list(source.records(rows, source.default_view, ctx))
    spec = TaskSpec.model_validate(
        {
            "name": _slug(name),
            "capability": "ecominstruct",
            "kind": "generation",
            "metric": ["ecom_cls_f1"],
            # The EcomGPT prompt already ends in "### Response:": the record's instruction is the whole prompt.
            "prompt": "{{ instruction }}",
            "source": {"adapter": "ecominstruct", "path": str(folder), "view": source.default_view},
        }
    )
    items = []
    for rec in records:
        item = _item_from_instruction(spec, rec, "generation", "ecominstruct")
        item.metrics = (
            ["ecom_rouge_l"] if item.kind == "ecom_gen" else ["ecom_micro_f1", "ecom_macro_f1", "ecom_rouge_l"]
        )
        items.append(item)
    return items


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9_\-]+", "_", name.lower()).strip("_")
