"""Review atom: ``label_choice``, a review classification asked again as multiple choice.

Review classification tasks (tags ``reviews``/``sentiment``/``counterfactual``/``rating``, or a review adapter)
give the same labels as shuffled options under a differently phrased question, so the model learns the
judgement rather than one prompt's wording.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from shoptune.records import InstructionExample, Record
from shoptune.tasks.atomic.base import MAX_TEXT_CHARS, Deriver, Parent, clip_lines, shuffled
from shoptune.tasks.spec import TaskKind

REVIEW_TAGS = frozenset({"reviews", "review", "sentiment", "counterfactual", "rating", "ratings"})
REVIEW_ADAPTERS = frozenset({"amcd", "review_sentiment", "mcauley_reviews"})


def _review_question(labels: Sequence[str]) -> str:
    lowered = {label.lower() for label in labels}
    if any("counterfactual" in label for label in lowered):
        return (
            "Does this sentence from a product review talk about something that did not actually happen "
            "(a wish, a regret, an unmet condition), or about a fact?"
        )
    if lowered and all(label.strip().isdigit() for label in lowered):
        return "How many stars did the customer most likely give the product with this review?"
    if lowered & {"positive", "negative"}:
        return "How does the customer feel about the product, judging by this review?"
    return "Read the customer review and choose the label that describes it best."


def label_choice(parent: Parent) -> Deriver | None:
    spec = parent.spec
    is_review = bool(REVIEW_TAGS & set(spec.tags)) or spec.source.adapter in REVIEW_ADAPTERS
    # A multiple-choice parent asked again as multiple choice would be the parent itself.
    if not is_review or spec.kind != TaskKind.classification:
        return None
    if not any(rec.options and isinstance(rec.output, str) and rec.input.strip() for rec in parent.instructions):
        return None

    def derive(records: list[Record], rng: random.Random) -> list[InstructionExample]:
        out = []
        for rec in records:
            if not (isinstance(rec, InstructionExample) and rec.options and isinstance(rec.output, str)):
                continue
            if not rec.input.strip():
                continue
            out.append(
                parent.example(
                    "label_choice",
                    rec,
                    instruction=_review_question(rec.options),
                    input=f"Review: {clip_lines(rec.input, MAX_TEXT_CHARS)}",
                    options=shuffled(rng, rec.options),
                    output=rec.output,
                )
            )
        return out

    return derive
