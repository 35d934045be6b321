"""Chain-of-task atomic tasks, as in EcomGPT: simpler tasks derived automatically from annotated records.

EcomGPT trains on "atomic" sub-tasks next to each full task (span detection and typing next to NER, ...).
:func:`derive_atomic_tasks` builds them from a parent task's already-built splits; nothing is re-read from
the raw data. Each derived example comes from one parent record of the *same* split, so the parent's split
(and its leakage guarantees) carries over: a derived test example only ever comes from a parent test record.

Atoms (see :func:`atomic_catalog`) and what a parent's records must carry for each:

- NER records (``metadata.gold_spans`` = [type, term] pairs and ``metadata.label_set``) ->
  ``entity_detection`` (list the spans; skipped when the parent already answers with exactly that list),
  ``entity_typing`` (span -> its type), ``attribute_value`` (text + type name -> its value or ``n/a``).
- Attribute records (``metadata.attribute`` + ``metadata.acceptable``, one record per product and
  attribute) -> ``entity_detection`` (all values of the product's attributes that the text states as written)
  and ``entity_typing`` (value -> its attribute). ``attribute_value`` would be the parent itself.
- QA: evidence records (retrieval ``metadata.labels`` / ranking ``metadata.gains`` over evidence options,
  input starting ``Question:``) -> ``answerability`` of one evidence text; extractive QA records
  (``Question: ...`` + one context line, output = the answer span) -> ``answerability`` of one context
  sentence (QNLI-style: answerable when it holds the annotated answer) and ``answer_span`` from the sentence(s)
  around the answer.
- Category tasks (tagged ``product_category``, or records with a taxonomy ``metadata.path``) ->
  ``coarse_category`` / ``fine_category`` choice. The level comes from the records: a ``department`` beside an
  aisle (Instacart), the top of a taxonomy ``path``, EcomInstruct's ``coarse``/``fine`` subtask; a single-level
  category counts as coarse (top level).
- Every ``pair_relevance`` task -> ``match_yes_no`` (exact -> yes, irrelevant -> no, partial dropped) and,
  when the parent grades partial matches at all, ``grade_3way``.
- Review classification tasks (tags ``reviews``/``sentiment``/``counterfactual``/``rating``, or a review
  adapter) -> ``label_choice``: the same labels as multiple choice with a differently phrased question.

"Identical to its parent" (never derived): the same input, the same answer and the same task kind for every
record, e.g. fine-category choice from a multiple-choice aisle task, answerability from an answerability task.
A change of kind (classification over the full label list -> multiple choice over shuffled options, pair
relevance -> a choice question) is a new format and is derived.

Determinism: one ``random.Random(f"atomic:{seed}:{parent}:{atom}:{split}")`` per derived split, no global
random state. Option vocabularies (the category names to draw distractors from, attribute names) are the
label sets of the parent's records over all its splits: labels only, never examples.

Example:
    >>> from shoptune.records import PairExample
    >>> from shoptune.tasks.spec import TaskSpec
    >>> spec = TaskSpec.model_validate({"name": "qp", "capability": "user_behavior_alignment",
    ...     "kind": "pair_relevance", "metric": "accuracy", "tags": ["query_product"],
    ...     "source": {"adapter": "home_depot", "path": "x.csv", "view": "query_product"}})
    >>> pairs = [PairExample(task="qp", left="drill", right="Cordless Drill", label=lab, metadata={"groups": ["q:1"]})
    ...          for lab in ("exact", "partial", "irrelevant")]
    >>> tasks = derive_atomic_tasks(spec, {"train": pairs, "dev": [], "test": []}, seed=13)
    >>> [(t.spec.name, t.spec.kind.value, len(t.splits["train"])) for t in tasks]
    [('qp__match_yes_no', 'classification', 2), ('qp__grade_3way', 'multiple_choice', 3)]
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from shoptune.data.sources._text import clip
from shoptune.records import InstructionExample, PairExample, Record
from shoptune.tasks.prompts import PAIR_OPTIONS
from shoptune.tasks.spec import SPLITS, TaskKind, TaskSpec

T = TypeVar("T")
NA = "n/a"
#: At most this many examples of one atom per parent record (per product for grouped attribute records).
MAX_PER_RECORD = 2
#: Choice atoms offer the answer plus at most this many distractors.
MAX_DISTRACTORS = 3
#: Input clipping (characters), so derived prompts stay short for small models.
MAX_TEXT_CHARS = 600
MAX_SUBJECT_CHARS = 300
MAX_EVIDENCE_CHARS = 300

ANSWERABILITY_LABELS = ("answerable", "unanswerable")
YES, NO = "yes", "no"
REVIEW_TAGS = frozenset({"reviews", "review", "sentiment", "counterfactual", "rating", "ratings"})
REVIEW_ADAPTERS = frozenset({"amcd", "review_sentiment", "mcauley_reviews"})
CATEGORY_TAGS = frozenset({"product_category"})
_CJK_LANGUAGES = frozenset({"zh", "ja", "ko", "jp"})
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

#: Derives one split's atomic examples from the parent's records of that split.
Deriver = Callable[[list[Record], random.Random], list[InstructionExample]]

_CATALOG: dict[str, str] = {
    "entity_detection": "list every entity / attribute-value span the text states (from NER or attribute spans)",
    "entity_typing": "given a text and one span of it, choose the span's entity type or attribute (multiple choice)",
    "attribute_value": "given a text and an attribute (entity type) name, copy its value or answer n/a (from NER)",
    "answerability": "can the question be answered from this evidence text / sentence (answerable/unanswerable)",
    "answer_span": "copy the answer span to a question from the short passage around the annotated answer",
    "coarse_category": "choose the product's top-level category / department (multiple choice)",
    "fine_category": "choose the product's fine category / aisle / leaf (multiple choice)",
    "match_yes_no": "does the pair match: exact -> yes, irrelevant -> no, partial pairs dropped (classification)",
    "grade_3way": "grade the pair as exact match, partial match or irrelevant (multiple choice)",
    "label_choice": "choose a review's label (sentiment, counterfactual, stars) with a rephrased question",
}


def atomic_catalog() -> dict[str, str]:
    """Atom name -> one-line description, in derivation order (for docs and CLI listings)."""
    return dict(_CATALOG)


@dataclass(frozen=True)
class AtomicTask:
    """One derived task: its spec, the parent it comes from, the atom, and its splits."""

    spec: TaskSpec
    parent: str
    atom: str
    splits: dict[str, list[InstructionExample]]


# ------------------------------------------------------------------------------------------------ helpers
@dataclass
class _Parent:
    """The parent task and its records, with vocabularies computed once over all splits."""

    spec: TaskSpec
    splits: dict[str, list[Record]]

    @cached_property
    def records(self) -> list[Record]:
        return [rec for name in SPLITS for rec in self.splits.get(name, [])]

    @cached_property
    def instructions(self) -> list[InstructionExample]:
        return [rec for rec in self.records if isinstance(rec, InstructionExample)]

    @property
    def name(self) -> str:
        return self.spec.name

    def example(
        self,
        atom: str,
        source: Record,
        *,
        instruction: str,
        input: str,
        output: str | list[str],
        options: Sequence[str] = (),
        groups: Sequence[str] | None = None,
        **extra: Any,
    ) -> InstructionExample:
        language = source.language if isinstance(source, InstructionExample) else self.spec.language
        capability = source.capability if isinstance(source, InstructionExample) else self.spec.capability
        meta = {
            "groups": list(groups if groups is not None else source.metadata.get("groups", [])),
            "derived_from": self.name,
            "atom": atom,
            **extra,
        }
        return InstructionExample(
            task=f"{self.name}__{atom}",
            capability=capability,
            instruction=instruction,
            input=input,
            options=list(options),
            output=output,
            language=language,
            metadata=meta,
        )


def _choice(rng: random.Random, gold: str, pool: Iterable[str], k: int = MAX_DISTRACTORS) -> list[str]:
    """The gold answer plus up to ``k`` distinct distractors sampled from ``pool``, shuffled."""
    seen = {gold.casefold()}
    candidates: list[str] = []
    for item in pool:
        if item and item.casefold() not in seen:
            seen.add(item.casefold())
            candidates.append(item)
    options = [gold, *rng.sample(candidates, min(k, len(candidates)))]
    rng.shuffle(options)
    return options


def _shuffled(rng: random.Random, items: Sequence[str]) -> list[str]:
    out = list(items)
    rng.shuffle(out)
    return out


def _unique(items: Iterable[T]) -> list[T]:
    return list(dict.fromkeys(items))


def _clip(text: str, max_chars: int) -> str:
    """``clip`` line by line: a multi-line input ("Title: ...\\nDescription: ...") keeps its lines, and the
    later lines are shortened first."""
    out: list[str] = []
    used = 0
    for line in text.strip().split("\n"):
        room = max_chars - used
        if room < 20:
            break
        line = clip(line, room)
        if line:
            out.append(line)
            used += len(line) + 1
    return "\n".join(out)


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


def _text_metric(language: str) -> list[str]:
    # rouge-score's tokenizer drops CJK text: score those languages by character (ecom_rouge_l).
    return ["ecom_rouge_l"] if language.lower() in _CJK_LANGUAGES else ["rouge_l"]


def _ecom_sentence(rec: InstructionExample) -> str | None:
    """The text of an EcomInstruct prompt (``### Instruction:\\n{sentences}\\n<directive>\\n### Response:``)."""
    head, marker, body = rec.instruction.partition("### Instruction:\n")
    if not marker:
        return None
    body = body.rsplit("\n### Response:", 1)[0]
    if "\n" not in body:
        return None
    sentence = body.rsplit("\n", 1)[0].strip()
    return sentence or None


def _record_text(rec: InstructionExample) -> str | None:
    """The text a record is about: its input, or the sentence inside an EcomInstruct prompt."""
    if rec.input.strip():
        return rec.input.strip()
    return _ecom_sentence(rec)


def _dedupe(examples: Iterable[InstructionExample]) -> list[InstructionExample]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for ex in examples:
        key = (ex.instruction, ex.input, repr(ex.output))
        if key not in seen:
            seen.add(key)
            out.append(ex)
    return out


# ------------------------------------------------------------------------------------------------ NER spans
def _is_ner(rec: Record) -> bool:
    return (
        isinstance(rec, InstructionExample)
        and isinstance(rec.metadata.get("gold_spans"), list)
        and isinstance(rec.metadata.get("label_set"), list)
    )


def _ner_records(parent: _Parent) -> list[InstructionExample]:
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
    return _unique(span for span in _gold_spans(rec) if span[1] in text)


def _ner_text(rec: InstructionExample) -> str | None:
    text = _record_text(rec)
    return _clip(text, MAX_TEXT_CHARS) if text else None


# ------------------------------------------------------------------------------------------------ attributes
def _attribute_records(parent: _Parent) -> list[InstructionExample]:
    return [
        rec
        for rec in parent.instructions
        if isinstance(rec.metadata.get("attribute"), str)
        and isinstance(rec.metadata.get("acceptable"), list)
        and rec.input.strip()
    ]


@dataclass
class _Offer:
    """One product's attribute records (same input text) in one split."""

    text: str
    records: list[InstructionExample] = field(default_factory=list)

    @property
    def groups(self) -> list[str]:
        return _unique(g for rec in self.records for g in rec.metadata.get("groups", []))

    @property
    def category(self) -> str:
        return str(self.records[0].metadata.get("category", ""))

    def attributes(self) -> list[str]:
        return _unique(str(rec.metadata["attribute"]) for rec in self.records)

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
        if (
            isinstance(rec, InstructionExample)
            and isinstance(rec.metadata.get("attribute"), str)
            and isinstance(rec.metadata.get("acceptable"), list)
            and rec.input.strip()
        ):
            by_text.setdefault(rec.input, _Offer(rec.input)).records.append(rec)
    return list(by_text.values())


def _where(text: str) -> str:
    return "product title" if text.startswith("Product title:") else "product text"


def _attribute_vocab(parent: _Parent) -> dict[str, list[str]]:
    """Category -> its attribute names (sorted), over all splits; key "" holds every name."""
    vocab: dict[str, set[str]] = {"": set()}
    for rec in _attribute_records(parent):
        name = str(rec.metadata["attribute"])
        vocab.setdefault(str(rec.metadata.get("category", "")), set()).add(name)
        vocab[""].add(name)
    return {key: sorted(names) for key, names in vocab.items()}


# ------------------------------------------------------------------------------------------------ atoms
def _entity_detection(parent: _Parent) -> Deriver | None:
    ner = _ner_records(parent)
    if ner:
        # Identical to the parent when the parent already answers with the plain span list.
        def gold_terms(rec: InstructionExample) -> list[str]:
            return _unique(term for _, term in _gold_spans(rec))

        if all(isinstance(rec.output, list) and rec.output == gold_terms(rec) for rec in ner):
            return None

        def derive_ner(records: list[Record], rng: random.Random) -> list[InstructionExample]:
            out = []
            for rec in records:
                if not _is_ner(rec):
                    continue
                text = _ner_text(rec)
                if not text:
                    continue
                terms = _unique(term for _, term in _spans_of(rec, text))
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
            ordered = sorted(_unique(stated), key=lambda v: (_find_token(offer.text, v), v))
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


def _entity_typing(parent: _Parent) -> Deriver | None:
    ner = _ner_records(parent)
    if ner:

        def derive_ner(records: list[Record], rng: random.Random) -> list[InstructionExample]:
            out = []
            for rec in records:
                if not _is_ner(rec):
                    continue
                text = _ner_text(rec)
                label_set = [str(t) for t in rec.metadata.get("label_set", [])]
                if not text or len(label_set) < 2:
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
                            options=_choice(rng, span_type, label_set),
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
                        options=_choice(rng, name, pool),
                        output=name,
                        groups=offer.groups,
                    )
                )
        return out

    return derive_attr


def _attribute_value(parent: _Parent) -> Deriver | None:
    # Attribute-record parents *are* attribute value extraction: only NER spans give a new task.
    if not _ner_records(parent):
        return None

    def derive(records: list[Record], rng: random.Random) -> list[InstructionExample]:
        out = []
        for rec in records:
            if not _is_ner(rec):
                continue
            text = _ner_text(rec)
            if not text:
                continue
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
                picks.append((name, sep.join(_unique(by_type[name]))))
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


# ------------------------------------------------------------------------------------------------ QA
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


def _answerability(parent: _Parent) -> Deriver | None:
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
                        options=_shuffled(rng, ANSWERABILITY_LABELS),
                        output=label,
                    )
                )
        return out

    return derive


def _answer_span(parent: _Parent) -> Deriver | None:
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


# ------------------------------------------------------------------------------------------------ categories
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
        return _CategoryItem(rec, _clip(rec.input, MAX_SUBJECT_CHARS), levels[0], None, rec.output)
    ecom_task = str(meta.get("ecom_task", ""))
    if ecom_task and meta.get("ecom_task_type") == "CLS":
        level = "coarse" if "coarse" in ecom_task.lower() else ("fine" if "fine" in ecom_task.lower() else None)
        gold = meta.get("gold")
        sentence = _ecom_sentence(rec)
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
        return _CategoryItem(rec, _clip(rec.input, MAX_SUBJECT_CHARS), department, rec.output, rec.output)
    return _CategoryItem(rec, _clip(rec.input, MAX_TEXT_CHARS), rec.output, None, rec.output)


def _category_atom(level: str) -> Callable[[_Parent], Deriver | None]:
    def factory(parent: _Parent) -> Deriver | None:
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
                labels = _unique(label for _, label in found)
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
                        options=_choice(rng, label, vocab),
                        output=label,
                    )
                )
            return out

        return derive

    return factory


# ------------------------------------------------------------------------------------------------ pairs
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


def _pairs(parent: _Parent) -> list[PairExample]:
    return [rec for rec in parent.records if isinstance(rec, PairExample)]


def _match_yes_no(parent: _Parent) -> Deriver | None:
    labels = {pair.label.value for pair in _pairs(parent)}
    if not {"exact", "irrelevant"} <= labels:
        return None
    question = _pair_style(parent.spec)[2] + " Answer yes or no."

    def derive(records: list[Record], rng: random.Random) -> list[InstructionExample]:
        out = []
        for rec in records:
            if not isinstance(rec, PairExample) or rec.label.value == "partial":
                continue
            out.append(
                parent.example(
                    "match_yes_no",
                    rec,
                    instruction=question,
                    input=_pair_input(parent.spec, rec),
                    options=_shuffled(rng, (YES, NO)),
                    output=YES if rec.label.value == "exact" else NO,
                )
            )
        return out

    return derive


def _grade_3way(parent: _Parent) -> Deriver | None:
    # A parent without partial pairs grades only two ways: the yes/no atom says it all.
    if "partial" not in {pair.label.value for pair in _pairs(parent)}:
        return None
    question = _pair_style(parent.spec)[3]

    def derive(records: list[Record], rng: random.Random) -> list[InstructionExample]:
        out = []
        for rec in records:
            if not isinstance(rec, PairExample):
                continue
            out.append(
                parent.example(
                    "grade_3way",
                    rec,
                    instruction=question,
                    input=_pair_input(parent.spec, rec),
                    options=_shuffled(rng, list(PAIR_OPTIONS.values())),
                    output=PAIR_OPTIONS[rec.label.value],
                )
            )
        return out

    return derive


# ------------------------------------------------------------------------------------------------ reviews
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


def _label_choice(parent: _Parent) -> Deriver | None:
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
                    input=f"Review: {_clip(rec.input, MAX_TEXT_CHARS)}",
                    options=_shuffled(rng, rec.options),
                    output=rec.output,
                )
            )
        return out

    return derive


# ------------------------------------------------------------------------------------------------ registry
@dataclass(frozen=True)
class _Atom:
    name: str
    kind: TaskKind
    factory: Callable[[_Parent], Deriver | None]
    metric: Callable[[TaskSpec], list[str]]
    how: str


def _acc(spec: TaskSpec) -> list[str]:
    return ["accuracy"]


def _acc_f1(spec: TaskSpec) -> list[str]:
    return ["accuracy", "macro_f1"]


_ATOMS: tuple[_Atom, ...] = (
    _Atom(
        "entity_detection",
        TaskKind.ner,
        _entity_detection,
        lambda s: ["micro_f1"],
        "the gold spans (NER) or the values stated as written (attribute records) as the answer list",
    ),
    _Atom(
        "entity_typing",
        TaskKind.multiple_choice,
        _entity_typing,
        _acc,
        f"up to {MAX_PER_RECORD} gold spans per record (per product), each with its type/attribute among "
        f"{MAX_DISTRACTORS} others",
    ),
    _Atom(
        "attribute_value",
        TaskKind.extraction,
        _attribute_value,
        lambda s: _text_metric(s.language),
        "per record one type with its gold span(s) and one type without spans (answer n/a)",
    ),
    _Atom(
        "answerability",
        TaskKind.classification,
        _answerability,
        _acc_f1,
        "per record one answering and one non-answering evidence text (or context sentence, QNLI-style)",
    ),
    _Atom(
        "answer_span",
        TaskKind.extraction,
        _answer_span,
        lambda s: _text_metric(s.language),
        "the gold answer span with only the sentence(s) around it as context",
    ),
    _Atom(
        "coarse_category",
        TaskKind.multiple_choice,
        _category_atom("coarse"),
        _acc,
        f"the top-level category (department, taxonomy root, coarse label) among {MAX_DISTRACTORS} others",
    ),
    _Atom(
        "fine_category",
        TaskKind.multiple_choice,
        _category_atom("fine"),
        _acc,
        f"the fine category (aisle, leaf label) among {MAX_DISTRACTORS} others",
    ),
    _Atom(
        "match_yes_no",
        TaskKind.classification,
        _match_yes_no,
        _acc_f1,
        "exact -> yes, irrelevant -> no; partial pairs dropped",
    ),
    _Atom(
        "grade_3way",
        TaskKind.multiple_choice,
        _grade_3way,
        _acc,
        "the pair's grade as exact match / partial match / irrelevant, options shuffled",
    ),
    _Atom(
        "label_choice",
        TaskKind.multiple_choice,
        _label_choice,
        _acc,
        "the same labels as multiple choice with a rephrased question, options shuffled",
    ),
)
assert tuple(a.name for a in _ATOMS) == tuple(_CATALOG), "catalog and atoms out of sync"


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
    parent = _Parent(spec, {name: list(splits.get(name, [])) for name in SPLITS})
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
