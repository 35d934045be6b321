"""Evaluation items: one question to put to a model, whatever it came from (a registered task, a raw
ShopBench file, or an EcomInstruct folder), with its target, metrics and how to read the answer.

Example:
    >>> items = load_shopbench("dev.jsonl")  # doctest: +SKIP
    >>> items[0].metrics, items[0].choices  # doctest: +SKIP
    (['accuracy'], ['0', '1', '2', '3'])
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import iter_jsonl
from shoptune.errors import DataError
from shoptune.evaluation.metrics import METRICS
from shoptune.evaluation.sampling import cluster_of
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
        item.meta["cluster"] = cluster_of(rec)  # items of one query or product are resampled together
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
        if base["metrics"][:1] == ["accuracy"] and "macro_f1" not in base["metrics"]:
            # Accuracy alone hides a model that gives one answer everywhere: macro-F1 over the answers sits beside
            # it (over option positions for multiple choice, where a position bias is what it exposes).
            base["metrics"] = [*base["metrics"], "macro_f1"]
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
#: The metrics (ShopBench spellings) that can score each kind's parsed answer. Any other pairing, e.g. ndcg on
#: a retrieval row, would only fail inside the metric, after every row had been put to the model.
SHOPBENCH_METRICS = {
    "multiple_choice": ("accuracy",),
    "retrieval": ("hit rate@3",),
    "ranking": ("ndcg",),
    "ner": ("micro f1",),
    "generation": ("rougel", "bleu", "jp-bleu", "sent-transformer", "accuracy"),
}
# Leading blanks within the line only: ``^\s*`` let every line of a run of blank lines scan the whole run again
# (quadratic: 40,000 newlines in a prompt took 13 s); the numbers found are the same.
_OPTION_LINE = re.compile(r"^[^\S\n]*(\d+)\s*[.)]\s+\S", re.MULTILINE)
# Rating questions list no options: "Evaluate the review on a scale of 1 to 5" (KDD Cup 2024 development set).
_SCALE = re.compile(r"\bscale\s+(?:of|from)\s+(\d)\s+to\s+(\d)\b", re.IGNORECASE)


def _mc_choices(prompt: str) -> list[str]:
    """The option numbers a ShopBench multiple-choice prompt offers: the last run of lines numbered 0, 1, 2, ...
    (earlier numbered lines, e.g. in a product description, are not options), else the points of a
    "scale of 1 to 5"; [] when it offers none."""
    run: list[int] = []
    for number in map(int, _OPTION_LINE.findall(prompt)):
        if number == 0:
            run = [0]
        elif run and number == run[-1] + 1:
            run.append(number)
    if len(run) >= 2:
        return [str(i) for i in run]
    scale = _SCALE.search(prompt)
    if scale and int(scale[1]) < int(scale[2]):
        return [str(i) for i in range(int(scale[1]), int(scale[2]) + 1)]
    return []


def load_shopbench(path: str | Path, log: ErrorLog | None = None) -> list[EvalItem]:
    """Read a ShopBench (KDD Cup 2024 / Shopping MMLU) JSON-lines file unchanged, checking every row."""
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
    def bad(field: str, message: str) -> DataError:
        return DataError(path, row["_row"], field, message)

    for key in ("input_field", "output_field", "task_type", "metric"):
        if key not in row:
            raise bad(key, "missing field")
    task_type = str(row["task_type"]).strip()
    if task_type not in SHOPBENCH_KINDS:
        raise bad("task_type", f"unknown task type {task_type!r}; known: {', '.join(SHOPBENCH_KINDS)}")
    # The official scorer treats is_multiple_choice rows as multiple choice whatever their task_type.
    kind = "multiple_choice" if row.get("is_multiple_choice") is True else SHOPBENCH_KINDS[task_type]
    prompt, target = row["input_field"], row["output_field"]
    if not isinstance(prompt, str) or not prompt.strip():
        raise bad("input_field", "expected the prompt as a non-empty string")
    if not isinstance(row["metric"], str):
        raise bad("metric", f"expected a metric name, got {row['metric']!r}")
    # The spelling is kept (it is what metrics.json and predictions.jsonl report); the registry knows them all.
    metric = row["metric"].strip().lower()
    if metric not in METRICS:
        raise bad("metric", f"unknown metric {row['metric']!r}; known: {', '.join(sorted(METRICS))}")
    fits = SHOPBENCH_METRICS[kind]
    if METRICS[metric].name not in {METRICS[name].name for name in fits}:
        row_kind = "multiple-choice" if kind == "multiple_choice" else task_type
        raise bad("metric", f"metric {metric!r} does not fit a {row_kind} row (use {', '.join(fits)})")
    base = dict(
        task=str(row.get("task_name") or path.stem),  # a file mixes tasks: each is scored on its own
        group=str(row.get("track") or "shopbench"),
        kind=kind,
        prompt=prompt,
        target=target,
        metrics=[metric],
        max_new_tokens=MAX_NEW_TOKENS[kind],
        meta={"source_row": row["_row"]},
    )
    if kind == "multiple_choice":
        choices = _mc_choices(prompt)
        if not choices:
            raise bad(
                "input_field",
                "multiple-choice prompt lists no options (expected lines '0. ...', '1. ...' or 'on a scale of 1 to 5')",
            )
        answer = _option_number(target)
        if answer is None:
            raise bad("output_field", f"multiple-choice answer must be an option number (an integer), got {target!r}")
        if str(answer) not in choices:
            shown = f"{choices[0]}-{choices[-1]}"
            raise bad("output_field", f"answer {answer} is not one of the options listed in input_field ({shown})")
        return EvalItem(**{**base, "target": answer}, choices=choices)
    _check_target(kind, target, bad)
    return EvalItem(**base, n_items=len(target) if kind == "ranking" else 0)


def _option_number(value: Any) -> int | None:
    """An answer as an option number: an int, or a string of digits ("2"); None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value.strip())
    return None


def _check_target(kind: str, target: Any, bad: Callable[[str, str], DataError]) -> None:
    """The target shape each kind's metric reads; anything else would fail inside the metric after scoring."""
    is_list = isinstance(target, list)
    ints = is_list and all(isinstance(t, int) and not isinstance(t, bool) for t in target)
    if kind == "retrieval" and not (target and ints):
        raise bad("output_field", f"retrieval expects a non-empty list of item numbers, got {target!r}")
    numbers = is_list and all(isinstance(t, int | float) and not isinstance(t, bool) for t in target)
    if kind == "ranking" and not (target and numbers):
        raise bad("output_field", f"ranking expects a non-empty list of per-item gains, got {target!r}")
    if kind == "ner" and not (is_list and all(isinstance(t, str) for t in target)):
        raise bad("output_field", f"named_entity_recognition expects a list of strings, got {target!r}")
    references = is_list and target and all(isinstance(t, str) for t in target)
    if kind == "generation" and not (isinstance(target, str) or references):
        raise bad("output_field", f"generation expects a string or a list of strings, got {target!r}")


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
