"""Question-answering atoms: ``answerability`` and ``answer_span``, from evidence and extractive QA records.

Deciding whether a text answers a question, and copying the answer out of a short passage, are the two steps
of product QA; EcomGPT trains them apart from the full task.

- Evidence records (retrieval ``metadata.labels`` / ranking ``metadata.gains`` over evidence options, input
  starting ``Question:``) -> ``answerability`` of one evidence text.
- Extractive QA records (``Question: ...`` + one context line, output = the answer span) -> ``answerability`` of
  one context sentence (QNLI-style: answerable when it holds the annotated answer) and ``answer_span`` from the
  sentence(s) around the answer.
"""

from __future__ import annotations

import random
import re

from shoptune.records import InstructionExample, Record
from shoptune.tasks.atomic.base import MAX_EVIDENCE_CHARS, MAX_PER_RECORD, Deriver, Parent, shuffled
from shoptune.text import clip

ANSWERABILITY_LABELS = ("answerable", "unanswerable")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _question(rec: InstructionExample) -> tuple[str, list[str]] | None:
    """(question line, the other input lines) when the input is a question; None otherwise."""
    lines = rec.input.split("\n")
    if not lines or not lines[0].startswith("Question:") or not lines[0][len("Question:") :].strip():
        return None
    return lines[0], lines[1:]


def _evidence_positives_negatives(rec: InstructionExample) -> tuple[list[int], list[int]] | None:
    """Indices of answering / non-answering evidence options of a retrieval or ranking QA record."""
    n = len(rec.options)
    if n < 2 or _question(rec) is None:
        return None
    labels, gains = rec.metadata.get("labels"), rec.metadata.get("gains")
    if not all(isinstance(x, int | float) for x in [*(labels or []), *(gains or [])]):
        return None
    if isinstance(rec.output, list) and isinstance(labels, list) and len(labels) == n:
        chosen = {int(i) for i in rec.output if str(i).isdigit()}
        low = min(labels)
        return sorted(chosen), [i for i in range(n) if i not in chosen and labels[i] == low]
    if isinstance(gains, list) and len(gains) == n and max(gains) > 0:
        top = max(gains)
        return [i for i in range(n) if gains[i] == top], [i for i in range(n) if gains[i] == 0]
    return None


def _extractive_qa(rec: Record) -> tuple[str, str, str, str] | None:
    """(question line, context label, context, answer) of an extractive QA record, or None.

    The input is ``Question: ...`` plus one ``Label: context`` line; the output is a span of the context.
    """
    if not (isinstance(rec, InstructionExample) and isinstance(rec.output, str) and not rec.options):
        return None
    if not isinstance(rec.metadata.get("answers"), list):
        return None
    parsed = _question(rec)
    if parsed is None or len(parsed[1]) != 1:
        return None
    label, sep, context = parsed[1][0].partition(": ")
    answer = rec.output.strip()
    if not sep or not answer or answer not in context:
        return None
    return parsed[0], label, context, answer


def _sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of ``text``."""
    out, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        out.append((start, match.start()))
        start = match.end()
    out.append((start, len(text)))
    return [(s, e) for s, e in out if text[s:e].strip()]


def _strip_ellipsis(text: str) -> str:
    text = text.strip()
    text = text[2:] if text.startswith("… ") else text
    return text[:-2] if text.endswith(" …") else text


def _qa_passages(rec: Record) -> tuple[str, str, str, str, list[str]] | None:
    """(question line, context label, answer passage, answer, non-answer sentences) of an extractive QA record."""
    qa = _extractive_qa(rec)
    if qa is None:
        return None
    question, label, context, answer = qa
    start = context.find(answer)
    end = start + len(answer)
    sentences = _sentences(context)
    inside = [(s, e) for s, e in sentences if s < end and e > start]
    passage = _strip_ellipsis(context[inside[0][0] : inside[-1][1]])
    answers = [answer, *(str(a) for a in rec.metadata.get("answers", []) if str(a).strip())]
    others = []
    for s, e in sentences:
        if s < end and e > start:
            continue
        sentence = _strip_ellipsis(context[s:e])
        if len(sentence.split()) >= 4 and not any(a in sentence or sentence in a for a in answers):
            others.append(sentence)
    return question, label, passage, answer, others


def answerability(parent: Parent) -> Deriver | None:
    evidence = any(_evidence_positives_negatives(rec) for rec in parent.instructions)
    extractive = any(_qa_passages(rec) for rec in parent.instructions)
    if not (evidence or extractive):
        return None

    def derive(records: list[Record], rng: random.Random) -> list[InstructionExample]:
        out = []
        for rec in records:
            if not isinstance(rec, InstructionExample):
                continue
            picks: list[tuple[str, str]] = []  # (input, label)
            found = _evidence_positives_negatives(rec)
            if found is not None:
                positives, negatives = found
                instruction = "Can the customer's question be answered from this piece of evidence?"
                for pool, label in ((positives, ANSWERABILITY_LABELS[0]), (negatives, ANSWERABILITY_LABELS[1])):
                    if pool:
                        text = clip(rec.options[rng.choice(pool)], MAX_EVIDENCE_CHARS)
                        picks.append((f"{rec.input}\nEvidence: {text}", label))
            else:
                qa = _qa_passages(rec)
                if qa is None:
                    continue
                question, label_name, passage, _, others = qa
                instruction = f"Can the question be answered from this passage of a {label_name.lower()}?"
                picks.append((f"{question}\n{label_name}: {passage}", ANSWERABILITY_LABELS[0]))
                if others:
                    picks.append((f"{question}\n{label_name}: {rng.choice(others)}", ANSWERABILITY_LABELS[1]))
            for text, label in picks[:MAX_PER_RECORD]:
                out.append(
                    parent.example(
                        "answerability",
                        rec,
                        instruction=instruction,
                        input=text,
                        options=shuffled(rng, ANSWERABILITY_LABELS),
                        output=label,
                    )
                )
        return out

    return derive


def answer_span(parent: Parent) -> Deriver | None:
    # Only when the short passage differs from the parent's context (else it is the parent itself).
    def shorter(rec: Record) -> bool:
        qa, full = _qa_passages(rec), _extractive_qa(rec)
        return qa is not None and full is not None and qa[2] != _strip_ellipsis(full[2])

    if not any(shorter(rec) for rec in parent.instructions):
        return None

    def derive(records: list[Record], rng: random.Random) -> list[InstructionExample]:
        out = []
        for rec in records:
            if not shorter(rec):
                continue
            question, label_name, passage, answer, _ = _qa_passages(rec)  # type: ignore[misc]
            out.append(
                parent.example(
                    "answer_span",
                    rec,
                    instruction=(
                        f"Copy the words of this {label_name.lower()} passage that answer the question, "
                        "exactly as they are written."
                    ),
                    input=f"{question}\n{label_name}: {passage}",
                    output=answer,
                )
            )
        return out

    return derive
