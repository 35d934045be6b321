"""Span atoms: ``entity_detection``, ``entity_typing`` and ``attribute_value``, from annotated spans.

EcomGPT's span detection and span typing next to NER and attribute extraction: the model first learns to
find what the text states, then to name it, before the full task asks for both at once.

- NER records (``metadata.gold_spans`` = [type, term] pairs and ``metadata.label_set``) ->
  ``entity_detection`` (list the spans; skipped when the parent already answers with exactly that list),
  ``entity_typing`` (span -> its type), ``attribute_value`` (text + type name -> its value or ``n/a``).
- Attribute records (``metadata.attribute`` + ``metadata.acceptable``, one record per product and
  attribute) -> ``entity_detection`` (all values of the product's attributes that the text states as written)
  and ``entity_typing`` (value -> its attribute). ``attribute_value`` would be the parent itself.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeGuard

from shoptune.records import InstructionExample, Record
from shoptune.tasks.atomic.base import (
    MAX_DISTRACTORS,
    MAX_PER_RECORD,
    MAX_TEXT_CHARS,
    Deriver,
    Parent,
    choice,
    clip_lines,
    ecom_sentence,
    unique,
)

NA = "n/a"


def _is_word_char(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _find_token(text: str, value: str) -> int:
    """Offset of ``value`` in ``text`` where it is not part of a longer latin word or number (so "6" is not
    found inside "E7-4807"); -1 when absent. CJK text has no word boundaries: any occurrence counts there."""
    start = text.find(value)
    while start != -1:
        end = start + len(value)
        left_ok = start == 0 or not (_is_word_char(text[start - 1]) and _is_word_char(value[0]))
        right_ok = end == len(text) or not (_is_word_char(text[end]) and _is_word_char(value[-1]))
        if left_ok and right_ok:
            return start
        start = text.find(value, start + 1)
    return -1


def _record_text(rec: InstructionExample) -> str | None:
    """The text a record is about: its input, or the sentence inside an EcomInstruct prompt."""
    if rec.input.strip():
        return rec.input.strip()
    return ecom_sentence(rec)


def _is_ner(rec: Record) -> TypeGuard[InstructionExample]:
    return (
        isinstance(rec, InstructionExample)
        and isinstance(rec.metadata.get("gold_spans"), list)
        and isinstance(rec.metadata.get("label_set"), list)
    )


def _ner_records(parent: Parent) -> list[InstructionExample]:
    return [rec for rec in parent.instructions if _is_ner(rec)]


def _gold_spans(rec: InstructionExample) -> list[tuple[str, str]]:
    """The record's well-formed (type, term) pairs, in order."""
    out = []
    for span in rec.metadata.get("gold_spans", []):
        if isinstance(span, list | tuple) and len(span) == 2 and str(span[1]).strip():
            out.append((str(span[0]), str(span[1])))
    return out


def _spans_of(rec: InstructionExample, text: str) -> list[tuple[str, str]]:
    """The record's (type, term) spans whose term occurs in ``text``, de-duplicated, in order."""
    return unique(span for span in _gold_spans(rec) if span[1] in text)


def _ner_texts(records: Iterable[Record]) -> Iterator[tuple[InstructionExample, str]]:
    """(record, its clipped text) for each NER record of a split that has a text, in order."""
    for rec in records:
        if not _is_ner(rec):
            continue
        text = _record_text(rec)
        text = clip_lines(text, MAX_TEXT_CHARS) if text else ""
        if text:
            yield rec, text


# ------------------------------------------------------------------------------------------------ attributes
def _is_attribute_record(rec: Record) -> TypeGuard[InstructionExample]:
    """One product's annotated values of one attribute (``metadata.attribute`` + ``metadata.acceptable``)."""
    return (
        isinstance(rec, InstructionExample)
        and isinstance(rec.metadata.get("attribute"), str)
        and isinstance(rec.metadata.get("acceptable"), list)
        and bool(rec.input.strip())
    )


def _attribute_records(parent: Parent) -> list[InstructionExample]:
    return [rec for rec in parent.instructions if _is_attribute_record(rec)]


@dataclass
class _Offer:
    """One product's attribute records (same input text) in one split."""

    text: str
    records: list[InstructionExample] = field(default_factory=list)

    @property
    def groups(self) -> list[str]:
        return unique(g for rec in self.records for g in rec.metadata.get("groups", []))

    @property
    def category(self) -> str:
        return str(self.records[0].metadata.get("category", ""))

    def attributes(self) -> list[str]:
        return unique(str(rec.metadata["attribute"]) for rec in self.records)

    def values(self) -> dict[str, str | None] | None:
        """attribute -> the value as written in the text (None: n/a); None when a stated value is not in the text
        (a normalised value): the offer's spans are then not fully known."""
        out: dict[str, str | None] = {}
        for rec in self.records:
            name = str(rec.metadata["attribute"])
            stated = [str(v) for v in rec.metadata["acceptable"] if str(v).strip().lower() != NA]
            if not stated:
                out.setdefault(name, None)
                continue
            found = next((v for v in stated if _find_token(self.text, v) >= 0), None)
            if found is None:
                return None
            out[name] = found
        return out


def _offers(records: Iterable[Record]) -> list[_Offer]:
    by_text: dict[str, _Offer] = {}
    for rec in records:
        if _is_attribute_record(rec):
            by_text.setdefault(rec.input, _Offer(rec.input)).records.append(rec)
    return list(by_text.values())


def _where(text: str) -> str:
    return "product title" if text.startswith("Product title:") else "product text"


def _attribute_vocab(parent: Parent) -> dict[str, list[str]]:
    """Category -> its attribute names (sorted), over all splits; key "" holds every name."""
    vocab: dict[str, set[str]] = {"": set()}
    for rec in _attribute_records(parent):
        name = str(rec.metadata["attribute"])
        vocab.setdefault(str(rec.metadata.get("category", "")), set()).add(name)
        vocab[""].add(name)
    return {key: sorted(names) for key, names in vocab.items()}


# ------------------------------------------------------------------------------------------------ atoms
def entity_detection(parent: Parent) -> Deriver | None:
    ner = _ner_records(parent)
    if ner:
        # Identical to the parent when the parent already answers with the plain span list.
        def gold_terms(rec: InstructionExample) -> list[str]:
            return unique(term for _, term in _gold_spans(rec))

        if all(isinstance(rec.output, list) and rec.output == gold_terms(rec) for rec in ner):
            return None

        def derive_ner(records: list[Record], rng: random.Random) -> list[InstructionExample]:
            out = []
            for rec, text in _ner_texts(records):
                terms = unique(term for _, term in _spans_of(rec, text))
                # Only sentences whose every span survives clipping, and that have some span to list.
                if not terms or terms != gold_terms(rec):
                    continue
                types = ", ".join(str(t) for t in rec.metadata["label_set"])
                out.append(
                    parent.example(
                        "entity_detection",
                        rec,
                        instruction=(
                            f"List every mention of these entity types in the text: {types}. Copy each mention "
                            "exactly as it is written, without its type, separated by commas."
                        ),
                        input=text,
                        output=terms,
                    )
                )
            return out

        return derive_ner
    if not _attribute_records(parent):
        return None

    def derive_attr(records: list[Record], rng: random.Random) -> list[InstructionExample]:
        out = []
        for offer in _offers(records):
            values = offer.values()
            if not values:
                continue
            stated = [v for v in values.values() if v]
            if not stated:
                continue
            ordered = sorted(unique(stated), key=lambda v: (_find_token(offer.text, v), v))
            names = ", ".join(offer.attributes())
            where = _where(offer.text)
            out.append(
                parent.example(
                    "entity_detection",
                    offer.records[0],
                    instruction=(
                        f"List the values of these attributes that the {where} states: {names}. Copy each value "
                        "exactly as it is written, without the attribute name, separated by commas."
                    ),
                    input=offer.text,
                    output=ordered,
                    groups=offer.groups,
                )
            )
        return out

    return derive_attr


def entity_typing(parent: Parent) -> Deriver | None:
    ner = _ner_records(parent)
    if ner:

        def derive_ner(records: list[Record], rng: random.Random) -> list[InstructionExample]:
            out = []
            for rec, text in _ner_texts(records):
                label_set = [str(t) for t in rec.metadata.get("label_set", [])]
                if len(label_set) < 2:
                    continue
                spans = _spans_of(rec, text)
                types_of: dict[str, set[str]] = {}
                for span_type, term in spans:
                    types_of.setdefault(term, set()).add(span_type)
                # A term with two types in one sentence has no single answer.
                single = [(t, term) for t, term in spans if len(types_of[term]) == 1 and t in label_set]
                for span_type, term in rng.sample(single, min(MAX_PER_RECORD, len(single))):
                    out.append(
                        parent.example(
                            "entity_typing",
                            rec,
                            instruction="Which entity type or attribute does the span of this text belong to?",
                            input=f"Text: {text}\nSpan: {term}",
                            options=choice(rng, span_type, label_set),
                            output=span_type,
                        )
                    )
            return out

        return derive_ner
    if not _attribute_records(parent):
        return None
    vocab = _attribute_vocab(parent)

    def derive_attr(records: list[Record], rng: random.Random) -> list[InstructionExample]:
        out = []
        for offer in _offers(records):
            candidates: list[tuple[str, str]] = []
            for rec in offer.records:
                name = str(rec.metadata["attribute"])
                for value in rec.metadata["acceptable"]:
                    value = str(value)
                    if value.strip().lower() != NA and _find_token(offer.text, value) >= 0:
                        candidates.append((name, value))
                        break
            owners: dict[str, set[str]] = {}
            for rec in offer.records:  # every attribute that accepts the value (normalised casing)
                for value in rec.metadata["acceptable"]:
                    owners.setdefault(str(value).casefold(), set()).add(str(rec.metadata["attribute"]).casefold())
            single = [(n, v) for n, v in candidates if owners.get(v.casefold(), set()) == {n.casefold()}]
            for name, value in rng.sample(single, min(MAX_PER_RECORD, len(single))):
                # Distractors: the product's other attributes first (annotated: not this value), then the
                # category's attribute names.
                own = [a for a in offer.attributes() if a.casefold() not in owners[value.casefold()]]
                rng.shuffle(own)
                more = [a for a in vocab.get(offer.category, vocab[""]) if a not in own]
                rng.shuffle(more)
                pool = (own + more)[:MAX_DISTRACTORS]
                if not pool:
                    continue
                where = _where(offer.text)
                out.append(
                    parent.example(
                        "entity_typing",
                        offer.records[0],
                        instruction=f"Which attribute of the product does this value from the {where} give?",
                        input=f"{offer.text}\nValue: {value}",
                        options=choice(rng, name, pool),
                        output=name,
                        groups=offer.groups,
                    )
                )
        return out

    return derive_attr


def attribute_value(parent: Parent) -> Deriver | None:
    # Attribute-record parents *are* attribute value extraction: only NER spans give a new task.
    if not _ner_records(parent):
        return None

    def derive(records: list[Record], rng: random.Random) -> list[InstructionExample]:
        out = []
        for rec, text in _ner_texts(records):
            label_set = [str(t) for t in rec.metadata.get("label_set", [])]
            gold = _gold_spans(rec)
            all_types = {span_type for span_type, _ in gold}
            spans = _spans_of(rec, text)
            sep = str(rec.metadata.get("label_sep", ", "))
            by_type: dict[str, list[str]] = {}
            for span_type, term in spans:
                by_type.setdefault(span_type, []).append(term)
            # One stated type (all of its values must be in the shown text) and one absent type (n/a).
            complete = [
                t for t in by_type if len(by_type[t]) == len({term for span_type, term in gold if span_type == t})
            ]
            absent = [t for t in label_set if t not in all_types]
            picks: list[tuple[str, str]] = []
            if complete:
                name = rng.choice(complete)
                picks.append((name, sep.join(unique(by_type[name]))))
            if absent:
                picks.append((rng.choice(absent), NA))
            for name, value in picks[:MAX_PER_RECORD]:
                out.append(
                    parent.example(
                        "attribute_value",
                        rec,
                        instruction=(
                            f"What is the value of '{name}' in the text? Copy it exactly as it is written "
                            f"(several values separated by commas); if the text does not state it, answer {NA}."
                        ),
                        input=text,
                        output=value,
                        attribute=name,
                    )
                )
        return out

    return derive
