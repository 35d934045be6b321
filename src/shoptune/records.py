"""The two record types every source adapter yields, validated when built.

Example:
    >>> ex = PairExample(task="hd_query_product", left="angle bracket",
    ...                  right="Simpson Strong-Tie 12-Gauge Angle", label="exact")
    >>> ex.label
    <Label.exact: 'exact'>
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Label(StrEnum):
    """The unified 3-point relevance scale."""

    exact = "exact"
    partial = "partial"
    irrelevant = "irrelevant"


LABELS: tuple[str, ...] = tuple(label.value for label in Label)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str = Field(min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)


class InstructionExample(_Record):
    """One instruction-following example in the EcomGPT schema (instruction, input, options, output)."""

    capability: str = Field(min_length=1)
    instruction: str = Field(min_length=1)
    input: str = ""
    options: list[str] = Field(default_factory=list)
    # A string for most kinds; a list for NER entities, retrieval/ranking answers or multi-label outputs.
    output: str | list[str]
    language: str = "en"

    @model_validator(mode="after")
    def _output_among_options(self) -> InstructionExample:
        # Multiple-choice / classification answers must be one of the offered options, otherwise the
        # example can never be scored correct and silently poisons training.
        if self.options and isinstance(self.output, str) and self.output not in self.options:
            raise ValueError(f"output {self.output!r} is not one of the options")
        return self


class PairExample(_Record):
    """One entity pair (query-product, product-category, ...) graded on the 3-point scale."""

    left: str = Field(min_length=1)
    right: str = Field(min_length=1)
    label: Label

    @field_validator("left", "right")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


Record = InstructionExample | PairExample
