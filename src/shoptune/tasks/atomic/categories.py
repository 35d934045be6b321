"""Category atoms: ``coarse_category`` and ``fine_category``, multiple choice over the parent's own labels.

Classifying at one taxonomy level at a time is easier than the parent's full label (or its pair form), and the
two levels teach the hierarchy.

Category tasks (tagged ``product_category``, or records with a taxonomy ``metadata.path``) give a
``coarse_category`` / ``fine_category`` choice. The level comes from the records: a ``department`` beside an
aisle (Instacart), the top of a taxonomy ``path``, EcomInstruct's ``coarse``/``fine`` subtask; a single-level
category counts as coarse (top level). Distractors are the parent's labels of that level over all its splits.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from shoptune.records import InstructionExample, PairExample, Record
from shoptune.tasks.atomic.base import (
    MAX_SUBJECT_CHARS,
    MAX_TEXT_CHARS,
    Deriver,
    Parent,
    choice,
    clip_lines,
    ecom_sentence,
    unique,
)
from shoptune.tasks.spec import TaskKind, TaskSpec
from shoptune.text import clip

CATEGORY_TAGS = frozenset({"product_category"})


@dataclass(frozen=True)
class _CategoryItem:
    record: Record
    subject: str  # the model input ("Product: ...", "Category: ...")
    coarse: str | None
    fine: str | None
    #: The parent's own answer for this record (None for pairs): an atom with the same answer on a
    #: multiple-choice parent would be the parent itself.
    parent_answer: str | None


def _is_category_task(spec: TaskSpec) -> bool:
    return bool(CATEGORY_TAGS & set(spec.tags))


def _category_item(spec: TaskSpec, rec: Record) -> _CategoryItem | None:
    meta = rec.metadata
    if isinstance(rec, PairExample):
        if not _is_category_task(spec) or rec.label.value != "exact":
            return None
        subject = f"Product: {clip(rec.left, MAX_SUBJECT_CHARS)}"
        department = meta.get("department")
        if isinstance(department, str) and department.strip():
            return _CategoryItem(rec, subject, department, rec.right, None)
        return _CategoryItem(rec, subject, rec.right, None, None)
    if not isinstance(rec.output, str) or not rec.output.strip():
        return None
    path = meta.get("path")
    if isinstance(path, str) and " > " in path and rec.input.strip():
        levels = [p.strip() for p in path.split(" > ")]
        return _CategoryItem(rec, clip_lines(rec.input, MAX_SUBJECT_CHARS), levels[0], None, rec.output)
    ecom_task = str(meta.get("ecom_task", ""))
    if ecom_task and meta.get("ecom_task_type") == "CLS":
        level = "coarse" if "coarse" in ecom_task.lower() else ("fine" if "fine" in ecom_task.lower() else None)
        gold = meta.get("gold")
        sentence = ecom_sentence(rec)
        if level is None or not sentence or not isinstance(gold, list) or len(gold) != 1:
            return None
        subject = f"Product: {clip(sentence.replace(chr(9), ' '), MAX_SUBJECT_CHARS)}"
        label = str(gold[0])
        coarse, fine = (label, None) if level == "coarse" else (None, label)
        return _CategoryItem(rec, subject, coarse, fine, None)
    if not _is_category_task(spec) or not rec.input.strip():
        return None
    department = meta.get("department")
    if isinstance(department, str) and department.strip():
        return _CategoryItem(rec, clip_lines(rec.input, MAX_SUBJECT_CHARS), department, rec.output, rec.output)
    return _CategoryItem(rec, clip_lines(rec.input, MAX_TEXT_CHARS), rec.output, None, rec.output)


def category_atom(level: str) -> Callable[[Parent], Deriver | None]:
    def factory(parent: Parent) -> Deriver | None:
        same_kind = parent.spec.kind == TaskKind.multiple_choice

        def usable(item: _CategoryItem | None) -> str | None:
            if item is None:
                return None
            label = item.coarse if level == "coarse" else item.fine
            if not label or not label.strip():
                return None
            if same_kind and label == item.parent_answer:
                return None  # the parent's own multiple-choice question
            return label

        items = [_category_item(parent.spec, rec) for rec in parent.records]
        if not any(usable(item) for item in items):
            return None
        # Distractors: every label of this level over the parent's records (and EcomInstruct label sets).
        labels = {item.coarse if level == "coarse" else item.fine for item in items if item is not None}
        labels |= {
            str(x)
            for rec in parent.instructions
            if rec.metadata.get("ecom_task_type") == "CLS"
            for x in rec.metadata.get("label_set", [])
        }
        vocab = sorted(label for label in labels if label and label.strip())
        if len(vocab) < 2:
            return None

        def derive(records: list[Record], rng: random.Random) -> list[InstructionExample]:
            out: list[InstructionExample] = []
            by_subject: dict[str, list[tuple[_CategoryItem, str]]] = {}
            for rec in records:
                item = _category_item(parent.spec, rec)
                label = usable(item)
                if item is not None and label:
                    by_subject.setdefault(item.subject, []).append((item, label))
            for subject, found in by_subject.items():
                labels = unique(label for _, label in found)
                if len(labels) != 1:
                    continue  # filed under two categories (pairs): no single right answer
                item, label = found[0]
                taxonomy = subject.startswith("Category:")
                if level == "coarse":
                    instruction = (
                        "Which top-level category of the product taxonomy does this category belong to?"
                        if taxonomy
                        else "Which top-level department of an online store does this product belong to?"
                    )
                else:
                    instruction = (
                        "Which specific category (aisle, leaf category) of an online store does this product belong to?"
                    )
                out.append(
                    parent.example(
                        f"{level}_category",
                        item.record,
                        instruction=instruction,
                        input=subject,
                        options=choice(rng, label, vocab),
                        output=label,
                    )
                )
            return out

        return derive

    return factory
