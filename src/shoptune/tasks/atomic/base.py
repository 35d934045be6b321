"""What every atom family shares: the parent task with its records, the example builder, option sampling.

The family modules (:mod:`.spans`, :mod:`.qa`, :mod:`.categories`, :mod:`.pairs`, :mod:`.reviews`) each turn a
:class:`Parent` into a :data:`Deriver` (or None when their atom does not apply); :mod:`.derive` runs them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

from shoptune.records import InstructionExample, Record
from shoptune.tasks.spec import SPLITS, TaskSpec
from shoptune.text import clip

T = TypeVar("T")
#: At most this many examples of one atom per parent record (per product for grouped attribute records).
MAX_PER_RECORD = 2
#: Choice atoms offer the answer plus at most this many distractors.
MAX_DISTRACTORS = 3
#: Input clipping (characters), so derived prompts stay short for small models.
MAX_TEXT_CHARS = 600
MAX_SUBJECT_CHARS = 300
MAX_EVIDENCE_CHARS = 300

#: Derives one split's atomic examples from the parent's records of that split.
Deriver = Callable[[list[Record], random.Random], list[InstructionExample]]


@dataclass
class Parent:
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


def choice(rng: random.Random, gold: str, pool: Iterable[str], k: int = MAX_DISTRACTORS) -> list[str]:
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


def shuffled(rng: random.Random, items: Sequence[str]) -> list[str]:
    out = list(items)
    rng.shuffle(out)
    return out


def unique(items: Iterable[T]) -> list[T]:
    return list(dict.fromkeys(items))


def clip_lines(text: str, max_chars: int) -> str:
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


def ecom_sentence(rec: InstructionExample) -> str | None:
    """The text of an EcomInstruct prompt (``### Instruction:\\n{sentences}\\n<directive>\\n### Response:``)."""
    head, marker, body = rec.instruction.partition("### Instruction:\n")
    if not marker:
        return None
    body = body.rsplit("\n### Response:", 1)[0]
    if "\n" not in body:
        return None
    sentence = body.rsplit("\n", 1)[0].strip()
    return sentence or None
