"""Pair atoms: ``match_yes_no`` and ``grade_3way``, from every ``pair_relevance`` task.

A graded relevance pair asked as a plain yes/no match (exact -> yes, irrelevant -> no, partial dropped) and,
when the parent grades partial matches at all, as a three-way choice: the same judgement in the instruction
format the rest of the mixture uses.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from shoptune.records import InstructionExample, PairExample, Record
from shoptune.tasks.atomic.base import MAX_SUBJECT_CHARS, Deriver, Parent, shuffled
from shoptune.tasks.prompts import PAIR_OPTIONS
from shoptune.tasks.spec import TaskSpec
from shoptune.text import clip

YES, NO = "yes", "no"


#: Pair-type tag -> (left name, right name, yes/no question, grading question).
PAIR_STYLES: dict[str, tuple[str, str, str, str]] = {
    "query_product": (
        "Query",
        "Product",
        "A customer searched an online store. Does the product match the search query?",
        "A customer searched an online store. How well does the product match the search query?",
    ),
    "query_query": (
        "Query 1",
        "Query 2",
        "Do the two search queries look for the same kind of product?",
        "How closely related are the two search queries?",
    ),
    "query_category": (
        "Query",
        "Product class",
        "Does the search query ask for products of this class?",
        "How well does the product class fit the search query?",
    ),
    "product_product": (
        "Product 1",
        "Product 2",
        "Do the two product listings refer to the same product?",
        "How closely do the two product listings match?",
    ),
    "product_category": (
        "Product",
        "Category",
        "Does the product belong to this category of an online store?",
        "How well does the category fit the product?",
    ),
    "category_category": (
        "Category 1",
        "Category 2",
        "Are the two product categories a match (one is a direct subcategory of the other)?",
        "How closely related are the two product categories?",
    ),
}
_DEFAULT_PAIR_STYLE = (
    "First",
    "Second",
    "Does the second item match the first?",
    "How relevant is the second item to the first?",
)


def _pair_style(spec: TaskSpec) -> tuple[str, str, str, str]:
    for tag in spec.tags:
        if tag in PAIR_STYLES:
            return PAIR_STYLES[tag]
    return _DEFAULT_PAIR_STYLE


def _pair_input(spec: TaskSpec, pair: PairExample) -> str:
    left, right, _, _ = _pair_style(spec)
    return f"{left}: {clip(pair.left, MAX_SUBJECT_CHARS)}\n{right}: {clip(pair.right, MAX_SUBJECT_CHARS)}"


def _pairs(parent: Parent) -> list[PairExample]:
    return [rec for rec in parent.records if isinstance(rec, PairExample)]


def _pair_deriver(parent: Parent, atom: str, question: str, options: Sequence[str], answers: dict[str, str]) -> Deriver:
    """Ask ``question`` about each pair whose label has an answer in ``answers`` (others are dropped), with the
    ``options`` shuffled per pair."""

    def derive(records: list[Record], rng: random.Random) -> list[InstructionExample]:
        return [
            parent.example(
                atom,
                rec,
                instruction=question,
                input=_pair_input(parent.spec, rec),
                options=shuffled(rng, options),
                output=answers[rec.label.value],
            )
            for rec in records
            if isinstance(rec, PairExample) and rec.label.value in answers
        ]

    return derive


def match_yes_no(parent: Parent) -> Deriver | None:
    labels = {pair.label.value for pair in _pairs(parent)}
    if not {"exact", "irrelevant"} <= labels:
        return None
    question = _pair_style(parent.spec)[2] + " Answer yes or no."
    # Partial pairs have no yes/no answer: dropped.
    return _pair_deriver(parent, "match_yes_no", question, (YES, NO), {"exact": YES, "irrelevant": NO})


def grade_3way(parent: Parent) -> Deriver | None:
    # A parent without partial pairs grades only two ways: the yes/no atom says it all.
    if "partial" not in {pair.label.value for pair in _pairs(parent)}:
        return None
    question = _pair_style(parent.spec)[3]
    return _pair_deriver(parent, "grade_3way", question, list(PAIR_OPTIONS.values()), PAIR_OPTIONS)
