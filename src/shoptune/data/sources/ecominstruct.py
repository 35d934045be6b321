"""EcomGPT's EcomInstruct evaluation tasks: ONE task folder holding ``meta-info.json`` + ``test.json``.

A task folder is named ``LANG-Dataset-TaskType-subtask`` (e.g. ``EN-Lenovo-NER-NER``); TaskType is one of
CLS, NER, Extract, Condition_Extract, Generate and picks how the gold answer is written, exactly as EcomGPT's
``src/eval.py`` does (it reads the type from the folder name, not from meta-info ``task``, which is wrong in
two shipped folders). Only when the folder name does not parse is meta-info ``task`` used.

``meta-info.json`` (one JSON object): ``defi`` (task definition), ``test_prompt.instruction`` (template with
``{sentences}`` and ``{label_set}``), ``label_set`` ({key: [labels]}), ``label_key``, ``label_sep``.
``test.json`` (JSON lines): ``sentences`` plus ``labels`` {key: [gold labels]} (CLS) or ``spans``
[{term, type?, start, end}] (the other types); extra fields (``trace_id``, a per-row ``label_set``) are kept
or ignored as EcomGPT does. EcomGPT ignores a row's own ``label_set``; so does this adapter.

Records (view ``instructions``), built as EcomGPT's eval builds them:

- ``instruction`` = ``"Below is an instruction that describes the {defi} task. Write a response that
  appropriately completes the request.\\n" + test_prompt.instruction`` with ``{sentences}`` and
  ``{label_set}`` filled: the full prompt, ending in ``### Response:``. ``input`` is empty, because the
  templates embed the sentence at different places (first, in ``title_generate``) and the harness must be
  able to reproduce EcomGPT's prompt byte for byte; task YAMLs render it with ``prompt: "{{ instruction }}"``.
- ``{label_set}``: CLS -> the candidate labels joined with ``label_sep`` (all of meta-info
  ``label_set[label_key]`` in its order; see param ``max_labels``); NER / Condition_Extract -> the whole label
  set joined with ``label_sep``; Extract / Generate -> empty.
- ``output`` (EcomGPT's gold answer): CLS -> gold labels joined with ``label_sep``; Extract / Generate ->
  span terms joined with ``label_sep``; Condition_Extract -> span terms joined with ", "; NER -> one line
  ``Type: span1<sep>span2`` per label-set type in label-set order, ``None`` for a type without spans.

Example:
    >>> from shoptune.data.sources import get_source
    >>> from shoptune.data.errorlog import ErrorLog
    >>> rows = get_source("ecominstruct").read("Lenovo/tasks/EN-Lenovo-NER-NER", ErrorLog())  # doctest: +SKIP
    >>> ner_answer([("Product", "Pentium 4 processor")], ["Attribute", "Product"], ", ")
    'Attribute: None\\nProduct: Pentium 4 processor'
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import Row, iter_jsonl, read_json
from shoptune.data.sources import register
from shoptune.data.sources.base import Source, ViewContext, view
from shoptune.errors import ConfigError, DataError
from shoptune.records import Record
from shoptune.text import norm_key

HEAD = (
    "Below is an instruction that describes the {defi} task. "
    "Write a response that appropriately completes the request.\n"
)
#: TaskType -> the shoptune task kind it maps to (EcomGPT eval class in the comment).
TASK_KINDS: dict[str, str] = {
    "CLS": "classification",  # EN_CLS
    "NER": "ner",  # EN_NER
    "Extract": "extraction",  # EN_EXTRACT
    "Condition_Extract": "extraction",  # EN_CONDITION_EXTRACT
    "Generate": "generation",  # EN_GEN
}
#: Task types whose prompt lists meta-info's label set (EcomGPT reads label_key/label_set for these).
LABELLED = ("CLS", "NER", "Condition_Extract")
#: With ``with_options``, at most this many candidate labels become the record's `options`.
MAX_OPTIONS = 30


@dataclass(frozen=True)
class EcomTask:
    """What one task folder's meta-info says, validated."""

    folder: str
    lang: str
    dataset: str
    task_type: str
    subtask: str
    template: str  # HEAD + test_prompt.instruction, with {sentences} / {label_set} / {ex} placeholders
    label_key: str
    labels: tuple[str, ...]
    label_sep: str

    @property
    def language(self) -> str:
        return self.lang.lower()

    @property
    def kind(self) -> str:
        return TASK_KINDS[self.task_type]

    def prompt(self, sentences: str, label_set: str) -> str:
        # str.format, as EcomGPT fills the template (so "{{" in a template reads as "{").
        return self.template.format(sentences=sentences, label_set=label_set, ex="")


def parse_task_name(name: str) -> tuple[str, str, str, str] | None:
    """``LANG-Dataset-TaskType-subtask`` -> its four parts, or None when it is not such a name.

    >>> parse_task_name("ZH-MEPAVE-Condition_Extract-attribute_value_detection")
    ('ZH', 'MEPAVE', 'Condition_Extract', 'attribute_value_detection')
    >>> parse_task_name("Lenovo") is None
    True
    """
    parts = name.strip().split("-", 3)
    if len(parts) != 4 or parts[2] not in TASK_KINDS or not all(p.strip() for p in parts):
        return None
    return parts[0], parts[1], parts[2], parts[3]


def ner_answer(spans: Sequence[tuple[str, str]], labels: Sequence[str], sep: str) -> str:
    """EcomGPT's NER gold answer: ``Type: a<sep>b`` per label in order, ``None`` when a type has no span.

    >>> ner_answer([("Brand", "Toshiba"), ("Brand", "HP")], ["Brand", "Product"], ", ")
    'Brand: Toshiba, HP\\nProduct: None'
    """
    by_type: dict[str, list[str]] = {}
    for span_type, term in spans:
        by_type.setdefault(span_type, []).append(term)
    return "\n".join(f"{label}: {sep.join(by_type.get(label, ['None']))}" for label in labels)


def parse_ner_answer(text: str, sep: str = ", ") -> dict[str, set[str]]:
    """Read a ``Type: a, b`` answer back as EcomGPT's ``EN_NER.parse_answer`` does (for metrics).

    >>> sorted((k, sorted(v)) for k, v in parse_ner_answer("Brand: Toshiba, HP\\nProduct: None").items())
    [('Brand', ['HP', 'Toshiba']), ('Product', ['None'])]
    """
    out: dict[str, set[str]] = {}
    for line in text.split("\n"):
        if ": " not in line or line.endswith(": "):
            continue
        head, rest = line[: line.index(": ")], line[line.index(": ") + 2 :]
        out.setdefault(head, set()).update(rest.split(sep))
    return out or {"None": {"None"}}


def _clip_lines(text: str, max_chars: int) -> tuple[str, bool]:
    """Shorten a long sentence line by line (each line gets an equal share of ``max_chars``), keeping the
    line structure ("Item 1: ...\\nItem 2: ...") so no part of a paired input disappears entirely.

    >>> _clip_lines("Item 1: " + "a" * 50 + "\\nItem 2: b", 40)
    ('Item 1: aaaaaaaaaa …\\nItem 2: b', True)
    """
    if max_chars <= 0 or len(text) <= max_chars:
        return text, False
    lines = text.split("\n")
    share = max(max_chars // len(lines), 20)
    clipped = [line if len(line) <= share else line[: share - 2].rstrip() + " …" for line in lines]
    return "\n".join(clipped), True


def _fail(row: Row, field: str, message: str) -> DataError:
    return DataError(row.get("_file", "?"), row.get("_row", 0), field, message)


@register
class EcomInstruct(Source):
    name = "ecominstruct"
    title = "EcomGPT EcomInstruct evaluation task (one task folder: meta-info.json + test.json)"
    path_hint = "a task folder LANG-Dataset-TaskType-subtask holding meta-info.json and test.json"
    default_view = "instructions"

    def read(self, path: Path, log: ErrorLog) -> list[Row]:
        folder = _task_folder(Path(path))
        task = _read_meta(folder / "meta-info.json", folder.name)
        return self.valid_rows(iter_jsonl(folder / "test.json", log=log), lambda r: _parse_row(r, task), log)

    @view("instructions", "instruction")
    def instructions(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """The task's EcomGPT prompt (full, in ``instruction``) and EcomGPT's gold answer (``output``).

        Params:
        ``output_format`` "ecomgpt" (default: the answer string EcomGPT scores) or "list" (CLS gold labels,
        span terms, or for NER the entity terms without their types, as ShopBench NER scores them);
        ``max_labels`` (CLS only, default 0 = all): when the label set is longer, show the gold labels plus
        k others, k drawn uniformly from 1..max_labels-1, shuffled with ``ctx.rng`` (EcomGPT draws 0..49 per
        example; 0 would leave the gold label alone);
        ``max_chars`` (CLS / Generate only, default 0 = off): clip the sentence line by line for small-context
        models (span tasks are never clipped: their gold spans must stay in the text);
        ``with_options`` (default false): put the CLS candidates (when <= 30 and the answer is one of them)
        in ``options``. Off by default because the prompt already lists them and EcomGPT scores the generated
        label text, while shoptune scores a record with options by option number.

        ``metadata`` keeps what scoring needs: ``ecom_task``, ``ecom_task_type``, ``ecom_kind``,
        ``label_set``, ``label_key``, ``label_sep``, ``gold`` (labels or span terms), ``gold_spans``
        ([type, term] pairs, NER), ``candidates`` (CLS), ``trace_id`` when present, ``clipped`` when clipped.
        """
        output_format = str(ctx.param("output_format", "ecomgpt"))
        if output_format not in ("ecomgpt", "list"):
            raise ConfigError(f"ecominstruct view param output_format: 'ecomgpt' or 'list', got {output_format!r}")
        max_labels, max_chars = int(ctx.param("max_labels", 0)), int(ctx.param("max_chars", 0))
        with_options = bool(ctx.param("with_options", False))
        for row in rows:
            task: EcomTask = row["task_info"]
            prompt, answer, meta = _build(row, task, ctx, max_labels, max_chars)
            if output_format == "list":
                answer = list(dict.fromkeys(meta["gold"]))
            shown = meta.get("candidates", [])
            # A multi-label string answer ("Food, Service") is no single option: such a record gets none.
            keep = with_options and 0 < len(shown) <= MAX_OPTIONS and (isinstance(answer, list) or answer in shown)
            yield ctx.instruction(
                row,
                instruction=prompt,
                input="",
                options=shown if keep else [],
                output=answer,
                groups=[row["group"]],
                language=task.language,
                **meta,
            )


def _build(row: Row, task: EcomTask, ctx: ViewContext, max_labels: int, max_chars: int) -> tuple[str, str, dict]:
    """EcomGPT's prompt and gold answer for one row, and the record metadata."""
    meta: dict[str, Any] = {
        "ecom_task": task.folder,
        "ecom_task_type": task.task_type,
        "ecom_kind": task.kind,
        "label_set": list(task.labels),
        "label_key": task.label_key,
        "label_sep": task.label_sep,
    }
    sentences, clipped = row["sentences"], False
    if task.task_type == "CLS":
        gold = row["gold"]
        candidates = _candidates(task.labels, gold, max_labels, ctx)
        label_text, answer = task.label_sep.join(candidates), task.label_sep.join(gold)
        meta["candidates"] = candidates
        sentences, clipped = _clip_lines(sentences, max_chars)
    else:
        gold = [term for _, term in row["spans"]]
        label_text = task.label_sep.join(task.labels) if task.task_type in LABELLED else ""
        if task.task_type == "NER":
            answer = ner_answer(row["spans"], task.labels, task.label_sep)
            meta["gold_spans"] = [list(span) for span in row["spans"]]
        elif task.task_type == "Condition_Extract":
            answer = ", ".join(gold)  # EcomGPT hard-codes ", " here, not label_sep
        else:
            answer = task.label_sep.join(gold)
        if task.task_type == "Generate":
            sentences, clipped = _clip_lines(sentences, max_chars)
    meta["gold"] = list(gold)
    if clipped:
        meta["clipped"] = True
    if "trace_id" in row:
        meta["trace_id"] = row["trace_id"]
    return task.prompt(sentences, label_text), answer, meta


def _candidates(labels: Sequence[str], gold: list[str], max_labels: int, ctx: ViewContext) -> list[str]:
    """The CLS labels shown in the prompt: all of them, or (``max_labels``) the gold plus a random few."""
    if max_labels <= 1 or len(labels) <= max_labels:
        return list(labels)
    pool = [label for label in labels if label not in gold]
    ctx.rng.shuffle(pool)
    shown = pool[: ctx.rng.randrange(1, max_labels)] + list(dict.fromkeys(gold))
    ctx.rng.shuffle(shown)
    return shown


def _task_folder(path: Path) -> Path:
    """The task folder: PATH itself, or the folder of a ``test.json`` / ``meta-info.json`` passed as PATH."""
    if not path.exists():
        raise DataError(path, 0, "-", "file not found (expected a task folder with meta-info.json and test.json)")
    if path.is_file():
        if path.name in ("test.json", "meta-info.json"):
            return path.parent
        raise DataError(path, 0, "-", "expected a task folder holding meta-info.json and test.json")
    for name in ("meta-info.json", "test.json"):
        if not (path / name).is_file():
            inner = sorted(p.parent.name for p in path.glob("**/meta-info.json"))[:5]
            hint = f"; task folders below it: {', '.join(inner)}" if inner else ""
            raise DataError(path / name, 0, "-", f"file not found (PATH must be ONE task folder{hint})")
    return path


def _read_meta(path: Path, folder_name: str) -> EcomTask:
    meta = read_json(path)
    if not isinstance(meta, dict):
        raise DataError(path, 0, "-", f"expected a JSON object, got {type(meta).__name__}")

    def need_text(key: str) -> str:
        value = meta.get(key)
        # label_sep is ", ": only an empty separator is bad; other texts must not be blank.
        if not isinstance(value, str) or not (value if key == "label_sep" else value.strip()):
            raise DataError(path, 0, key, "missing or empty" if not value else f"expected text, got {value!r}")
        return value

    parts = parse_task_name(folder_name)
    if parts is None:
        task_field = meta.get("task")
        parts = parse_task_name(task_field) if isinstance(task_field, str) else None
        if parts is None:
            raise DataError(
                path,
                0,
                "task",
                f"cannot tell the task type from the folder name {folder_name!r} "
                f"or task {task_field!r}: expected LANG-Dataset-TaskType-subtask with TaskType one of "
                f"{', '.join(TASK_KINDS)}",
            )
    lang, dataset, task_type, subtask = parts
    defi = need_text("defi")
    prompt = meta.get("test_prompt")
    instruction = prompt.get("instruction") if isinstance(prompt, dict) else None
    if not isinstance(instruction, str) or "{sentences}" not in instruction:
        raise DataError(path, 0, "test_prompt.instruction", "missing, or without the {sentences} placeholder")
    label_sep = need_text("label_sep")
    label_key, labels = "", ()
    label_set = meta.get("label_set")
    if task_type in LABELLED or (isinstance(label_set, dict) and isinstance(meta.get("label_key"), str)):
        label_key = need_text("label_key")
        values = label_set.get(label_key) if isinstance(label_set, dict) else None
        if not isinstance(values, list) or not values or not all(isinstance(v, str) and v.strip() for v in values):
            raise DataError(path, 0, f"label_set.{label_key}", "missing, empty or not a list of label texts")
        labels = tuple(values)
    task = EcomTask(
        folder_name,
        lang,
        dataset,
        task_type,
        subtask,
        HEAD.format(defi=defi) + instruction,
        label_key,
        labels,
        label_sep,
    )
    try:
        task.prompt("", "")
    except (KeyError, IndexError, ValueError) as exc:
        raise DataError(
            path,
            0,
            "test_prompt.instruction",
            f"template cannot be filled ({exc!r}); placeholders are {{sentences}}, {{label_set}}, {{ex}}",
        ) from None
    return task


def _parse_row(row: Row, task: EcomTask) -> Row:
    sentences = row.get("sentences")
    if isinstance(sentences, list) and all(isinstance(s, str) for s in sentences):
        sentences = "".join(sentences)  # EcomGPT joins token lists (ZH) without spaces
    if not isinstance(sentences, str) or not sentences.strip():
        raise _fail(row, "sentences", "missing or empty" if not sentences else f"expected text, got {sentences!r}"[:80])
    row["sentences"] = sentences
    if task.task_type == "CLS":
        row["gold"] = _gold_labels(row, task)
    else:
        row["spans"] = _spans(row, task)
    trace = row.get("trace_id")
    if trace is not None:
        row["trace_id"] = str(trace)
    row["task_info"] = task
    # The first line is the unit a leak would repeat: the query of Multi_CPR (shared by its CLS and Extract
    # tasks), the context of a QA pair, item 1 of a pair, or the whole one-line sentence. Tasks built from
    # the same test.json (Lenovo NER / Condition_Extract) hash the same key into the same split.
    # Keys are capped at 200 characters: two texts alike that far are the same item.
    row["group"] = "s:" + (norm_key(sentences.split("\n")[0]) or norm_key(sentences))[:200]
    return row


def _gold_labels(row: Row, task: EcomTask) -> list[str]:
    labels = row.get("labels")
    if not isinstance(labels, dict):
        found = "missing" if labels is None else f"expected an object {{key: [labels]}}, got {labels!r}"[:80]
        raise _fail(row, "labels", found)
    gold = labels.get(task.label_key)
    if isinstance(gold, str):
        gold = [gold]
    where = f"labels.{task.label_key}"
    if not isinstance(gold, list) or not gold:
        raise _fail(row, where, "missing or empty gold label list")
    for label in gold:
        if not isinstance(label, str) or label not in task.labels:
            known = ", ".join(task.labels[:10]) + (", ..." if len(task.labels) > 10 else "")
            raise _fail(row, where, f"unknown label {label!r} (expected one of: {known})")
    return gold


def _spans(row: Row, task: EcomTask) -> list[tuple[str, str]]:
    spans = row.get("spans")
    if not isinstance(spans, list):
        found = "missing" if spans is None else f"expected a list of spans, got {type(spans).__name__}"
        raise _fail(row, "spans", found)
    if task.task_type == "Generate" and not spans:
        raise _fail(row, "spans", "no reference text (Generate needs spans[0].term)")
    out: list[tuple[str, str]] = []
    for i, span in enumerate(spans):
        term = span.get("term") if isinstance(span, dict) else None
        if not isinstance(term, str) or not term.strip():
            raise _fail(row, f"spans[{i}].term", "missing or empty" if not term else f"expected text, got {term!r}")
        span_type = span.get("type", "")
        if task.task_type == "NER" and (not isinstance(span_type, str) or span_type not in task.labels):
            known = ", ".join(task.labels)
            raise _fail(row, f"spans[{i}].type", f"unknown label {span_type!r} (expected one of: {known})")
        out.append((span_type if isinstance(span_type, str) else str(span_type), term))
    return out
