"""The atom registry and :func:`derive_atomic_tasks`: run every family's atoms over one parent task.

Each derived example comes from one parent record of the *same* split, so the parent's split (and its leakage
guarantees) carries over: a derived test example only ever comes from a parent test record.

"Identical to its parent" (never derived): the same input, the same answer and the same task kind for every
record, e.g. fine-category choice from a multiple-choice aisle task, answerability from an answerability task.
A change of kind (classification over the full label list -> multiple choice over shuffled options, pair
relevance -> a choice question) is a new format and is derived.

Determinism: one ``random.Random(f"atomic:{seed}:{parent}:{atom}:{split}")`` per derived split, no global
random state. Option vocabularies (the category names to draw distractors from, attribute names) are the
label sets of the parent's records over all its splits: labels only, never examples.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shoptune.records import InstructionExample, Record
from shoptune.tasks.atomic.base import MAX_DISTRACTORS, MAX_PER_RECORD, Deriver, Parent
from shoptune.tasks.atomic.categories import category_atom
from shoptune.tasks.atomic.pairs import grade_3way, match_yes_no
from shoptune.tasks.atomic.qa import answer_span, answerability
from shoptune.tasks.atomic.reviews import label_choice
from shoptune.tasks.atomic.spans import attribute_value, entity_detection, entity_typing
from shoptune.tasks.spec import SPLITS, TaskKind, TaskSpec

_CJK_LANGUAGES = frozenset({"zh", "ja", "ko", "jp"})


@dataclass(frozen=True)
class AtomicTask:
    """One derived task: its spec, the parent it comes from, the atom, and its splits."""

    spec: TaskSpec
    parent: str
    atom: str
    splits: dict[str, list[InstructionExample]]


def atomic_catalog() -> dict[str, str]:
    """Atom name -> one-line description, in derivation order (for docs and CLI listings)."""
    return {atom.name: atom.summary for atom in _ATOMS}


def _text_metric(language: str) -> list[str]:
    # rouge-score's tokenizer drops CJK text: score those languages by character (ecom_rouge_l).
    return ["ecom_rouge_l"] if language.lower() in _CJK_LANGUAGES else ["rouge_l"]


def _dedupe(examples: Iterable[InstructionExample]) -> list[InstructionExample]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for ex in examples:
        key = (ex.instruction, ex.input, repr(ex.output))
        if key not in seen:
            seen.add(key)
            out.append(ex)
    return out


@dataclass(frozen=True)
class _Atom:
    name: str
    #: One line for `atomic_catalog` (docs, CLI listings).
    summary: str
    kind: TaskKind
    factory: Callable[[Parent], Deriver | None]
    metric: Callable[[TaskSpec], list[str]]
    #: How the examples are derived: goes into the derived spec's description.
    how: str


def _acc(spec: TaskSpec) -> list[str]:
    return ["accuracy"]


def _acc_f1(spec: TaskSpec) -> list[str]:
    return ["accuracy", "macro_f1"]


_ATOMS: tuple[_Atom, ...] = (
    _Atom(
        "entity_detection",
        "list every entity / attribute-value span the text states (from NER or attribute spans)",
        TaskKind.ner,
        entity_detection,
        lambda s: ["micro_f1"],
        "the gold spans (NER) or the values stated as written (attribute records) as the answer list",
    ),
    _Atom(
        "entity_typing",
        "given a text and one span of it, choose the span's entity type or attribute (multiple choice)",
        TaskKind.multiple_choice,
        entity_typing,
        _acc,
        f"up to {MAX_PER_RECORD} gold spans per record (per product), each with its type/attribute among "
        f"{MAX_DISTRACTORS} others",
    ),
    _Atom(
        "attribute_value",
        "given a text and an attribute (entity type) name, copy its value or answer n/a (from NER)",
        TaskKind.extraction,
        attribute_value,
        lambda s: _text_metric(s.language),
        "per record one type with its gold span(s) and one type without spans (answer n/a)",
    ),
    _Atom(
        "answerability",
        "can the question be answered from this evidence text / sentence (answerable/unanswerable)",
        TaskKind.classification,
        answerability,
        _acc_f1,
        "per record one answering and one non-answering evidence text (or context sentence, QNLI-style)",
    ),
    _Atom(
        "answer_span",
        "copy the answer span to a question from the short passage around the annotated answer",
        TaskKind.extraction,
        answer_span,
        lambda s: _text_metric(s.language),
        "the gold answer span with only the sentence(s) around it as context",
    ),
    _Atom(
        "coarse_category",
        "choose the product's top-level category / department (multiple choice)",
        TaskKind.multiple_choice,
        category_atom("coarse"),
        _acc,
        f"the top-level category (department, taxonomy root, coarse label) among {MAX_DISTRACTORS} others",
    ),
    _Atom(
        "fine_category",
        "choose the product's fine category / aisle / leaf (multiple choice)",
        TaskKind.multiple_choice,
        category_atom("fine"),
        _acc,
        f"the fine category (aisle, leaf label) among {MAX_DISTRACTORS} others",
    ),
    _Atom(
        "match_yes_no",
        "does the pair match: exact -> yes, irrelevant -> no, partial pairs dropped (classification)",
        TaskKind.classification,
        match_yes_no,
        _acc_f1,
        "exact -> yes, irrelevant -> no; partial pairs dropped",
    ),
    _Atom(
        "grade_3way",
        "grade the pair as exact match, partial match or irrelevant (multiple choice)",
        TaskKind.multiple_choice,
        grade_3way,
        _acc,
        "the pair's grade as exact match / partial match / irrelevant, options shuffled",
    ),
    _Atom(
        "label_choice",
        "choose a review's label (sentiment, counterfactual, stars) with a rephrased question",
        TaskKind.multiple_choice,
        label_choice,
        _acc,
        "the same labels as multiple choice with a rephrased question, options shuffled",
    ),
)


def _atomic_spec(parent: TaskSpec, atom: _Atom) -> TaskSpec:
    label_derivation = ""
    if atom.name in ("match_yes_no", "grade_3way"):
        label_derivation = atom.how + (f"; parent labels: {parent.label_derivation}" if parent.label_derivation else "")
    return TaskSpec(
        name=f"{parent.name}__{atom.name}",
        capability=parent.capability,
        kind=atom.kind,
        language=parent.language,
        description=f"Atomic task '{atom.name}' derived from {parent.name} ({parent.kind.value}): {atom.how}.",
        label_derivation=label_derivation,
        metric=atom.metric(parent),
        tags=["atomic", atom.name],
        groups=list(parent.groups),
        source=parent.source.model_copy(deep=True),
        split=parent.split.model_copy(deep=True),
    )


def derive_atomic_tasks(spec: TaskSpec, splits: dict[str, list[Record]], seed: int) -> list[AtomicTask]:
    """Every atomic task derivable from ``spec``'s built splits (train/dev/test), in catalog order.

    A kind of atom is derived only when the parent's records carry what it needs and it would not be the
    parent itself; an atom with no train example is left out. Each derived split comes only from the
    parent's split of the same name; a split missing from ``splits`` counts as empty.
    """
    parent = Parent(spec, {name: list(splits.get(name, [])) for name in SPLITS})
    out: list[AtomicTask] = []
    for atom in _ATOMS:
        derive = atom.factory(parent)
        if derive is None:
            continue
        derived: dict[str, list[InstructionExample]] = {}
        for split in SPLITS:
            rng = random.Random(f"atomic:{seed}:{spec.name}:{atom.name}:{split}")
            derived[split] = _dedupe(derive(parent.splits[split], rng))
        # Atomic tasks are training aids: one with nothing to train on is left out (even if dev/test have some).
        if derived["train"]:
            out.append(AtomicTask(_atomic_spec(spec, atom), spec.name, atom.name, derived))
    return out
