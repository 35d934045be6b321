"""A task declared as data: one YAML file per task, in the manner of lm-evaluation-harness.

Example YAML (``hd_query_product.yaml``)::

    name: hd_query_product
    capability: user_behavior_alignment
    kind: pair_relevance
    language: en
    metric: [accuracy, macro_f1]
    source:
      adapter: home_depot
      path: home_depot_search_relevance/train.csv
      view: query_product
    split: {policy: grouped, ratios: [0.8, 0.1, 0.1]}

Example:
    >>> spec = TaskSpec.model_validate({"name": "t", "capability": "shopping_concept_understanding",
    ...     "kind": "classification", "metric": "accuracy",
    ...     "source": {"adapter": "home_depot", "path": "x.csv", "view": "relevance_mc"}})
    >>> spec.split.ratios
    (0.8, 0.1, 0.1)
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from shoptune.config import StrictModel

SPLITS: tuple[str, ...] = ("train", "dev", "test")
SplitName = Literal["train", "dev", "test"]

#: A task's name: lower-case letters, digits, "_" and "-" (it names folders and files of a data build).
TASK_NAME_PATTERN = r"^[a-z0-9][a-z0-9_\-]*$"

#: The four ShopBench capabilities. Users may declare others in their own task files.
CAPABILITIES: dict[str, str] = {
    "shopping_concept_understanding": "Shopping concept understanding",
    "shopping_knowledge_reasoning": "Shopping knowledge reasoning",
    "user_behavior_alignment": "User behaviour alignment",
    "multilingual_ability": "Multilingual ability",
}


class TaskKind(StrEnum):
    multiple_choice = "multiple_choice"
    classification = "classification"
    extraction = "extraction"
    ner = "ner"
    generation = "generation"
    retrieval = "retrieval"
    ranking = "ranking"
    pair_relevance = "pair_relevance"


class SourceSpec(StrictModel):
    """Where a task's records come from: an adapter, its file(s) under the data root, and a view."""

    adapter: str
    #: One file or folder, split by the task's split policy ...
    path: str | None = None
    #: ... or the source's own splits, one file or folder per split (split policy `predefined`).
    files: dict[SplitName, str | list[str]] | None = None
    view: str
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_location(self) -> SourceSpec:
        if (self.path is None) == (self.files is None):
            raise ValueError("give exactly one of 'path' or 'files'")
        return self

    def all_paths(self) -> list[str]:
        if self.path is not None:
            return [self.path]
        out: list[str] = []
        for value in (self.files or {}).values():
            out.extend([value] if isinstance(value, str) else value)
        return out


class SplitSpec(StrictModel):
    """How records are assigned to train/dev/test.

    ``grouped`` hashes each record's groups (query, product, ...) with the seed, so that no group ever
    sits on both sides. ``group`` picks how multiple keys per record combine:
    ``purge`` (default) splits by the first key and drops the few records whose other keys live mostly in
    another split; ``first`` uses the first key only; ``all`` merges connected keys (can collapse to one
    giant component on dense bipartite data such as query-product logs).
    ``predefined`` keeps the source's own splits (``source.files``).

    In a data build, every grouped task is split together with the other tasks read from the same source (same
    adapter, a common file), over the connected components of all their keys, so that no key sits in two splits of
    any of them (:func:`shoptune.data.splits.pooled_split`). ``all`` leaves the components unbounded; ``purge`` and
    ``first`` bound them (0.2% of the keys) and drop the records whose keys then straddle splits.
    """

    policy: Literal["grouped", "predefined"] = "grouped"
    group: Literal["purge", "first", "all"] = "purge"
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    #: Deterministic per-split caps, so a huge source does not drown a mixture or slow a build.
    max_examples: dict[SplitName, int] = Field(default_factory=dict)

    @field_validator("ratios")
    @classmethod
    def _sums_to_one(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(r < 0 for r in value) or abs(sum(value) - 1.0) > 1e-6:
            raise ValueError(f"ratios must be non-negative and sum to 1, got {list(value)}")
        return value


class TaskSpec(StrictModel):
    """Everything shoptune needs to build, train on and evaluate one task."""

    name: str = Field(pattern=TASK_NAME_PATTERN)
    capability: str = Field(pattern=r"^[a-z0-9_]+$")
    kind: TaskKind
    language: str = "en"
    description: str = ""
    #: How the labels are derived from the raw data (documented for every pair task).
    label_derivation: str = ""
    #: Jinja template over the example's fields (instruction, input, options, ...). Empty -> kind default.
    prompt: str = ""
    #: Names in the evaluation metric registry (``shoptune.evaluation.metrics.METRICS``); the first is the headline.
    metric: list[str]
    tags: list[str] = Field(default_factory=list)
    #: Extra aggregation groups besides the capability (e.g. a ShopBench track).
    groups: list[str] = Field(default_factory=list)
    source: SourceSpec
    split: SplitSpec = Field(default_factory=SplitSpec)

    @field_validator("prompt")
    @classmethod
    def _valid_prompt(cls, value: str) -> str:
        # Compiled when the YAML is read (`tasks list` too), not first when a model is scored on it.
        from shoptune.tasks.prompts import template_problem

        problem = template_problem(value) if value else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("metric", mode="before")
    @classmethod
    def _metric_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("metric")
    @classmethod
    def _known_metrics(cls, value: list[str]) -> list[str]:
        # Checked when the YAML is read: an unknown name would otherwise fail only after the model scored every
        # example. Imported here: the evaluation package imports the task specs.
        from shoptune.evaluation.metrics import METRICS

        if not value:
            raise ValueError("give at least one metric")
        for name in value:
            if name not in METRICS:
                raise ValueError(f"unknown metric {name!r}; known: {', '.join(sorted(METRICS))}")
        return value

    @model_validator(mode="after")
    def _predefined_needs_files(self) -> TaskSpec:
        if self.split.policy == "predefined" and self.source.files is None:
            raise ValueError("split.policy 'predefined' needs source.files (one entry per split)")
        return self

    @property
    def record_type(self) -> str:
        return "pair" if self.kind == TaskKind.pair_relevance else "instruction"
