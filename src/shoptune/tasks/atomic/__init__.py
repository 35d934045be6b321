"""Chain-of-task atomic tasks, as in EcomGPT: simpler tasks derived automatically from annotated records.

EcomGPT trains on "atomic" sub-tasks next to each full task (span detection and typing next to NER, ...).
:func:`derive_atomic_tasks` builds them from a parent task's already-built splits; nothing is re-read from
the raw data, and a derived split only ever comes from the parent's split of the same name.

One module per atom family (each says what its parent records must carry):

- :mod:`.spans`: ``entity_detection``, ``entity_typing``, ``attribute_value`` (NER and attribute records)
- :mod:`.qa`: ``answerability``, ``answer_span`` (evidence and extractive QA records)
- :mod:`.categories`: ``coarse_category``, ``fine_category`` (category tasks, taxonomy paths)
- :mod:`.pairs`: ``match_yes_no``, ``grade_3way`` (every ``pair_relevance`` task)
- :mod:`.reviews`: ``label_choice`` (review classification tasks)

:mod:`.base` holds what the families share, :mod:`.derive` the registry that runs them (in the order of
:func:`atomic_catalog`) with one seeded random generator per derived split.

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

from shoptune.tasks.atomic.base import (
    MAX_DISTRACTORS,
    MAX_EVIDENCE_CHARS,
    MAX_PER_RECORD,
    MAX_SUBJECT_CHARS,
    MAX_TEXT_CHARS,
    Deriver,
)
from shoptune.tasks.atomic.categories import CATEGORY_TAGS
from shoptune.tasks.atomic.derive import AtomicTask, atomic_catalog, derive_atomic_tasks
from shoptune.tasks.atomic.pairs import NO, PAIR_STYLES, YES
from shoptune.tasks.atomic.qa import ANSWERABILITY_LABELS
from shoptune.tasks.atomic.reviews import REVIEW_ADAPTERS, REVIEW_TAGS
from shoptune.tasks.atomic.spans import NA

__all__ = [
    "ANSWERABILITY_LABELS",
    "CATEGORY_TAGS",
    "MAX_DISTRACTORS",
    "MAX_EVIDENCE_CHARS",
    "MAX_PER_RECORD",
    "MAX_SUBJECT_CHARS",
    "MAX_TEXT_CHARS",
    "NA",
    "NO",
    "PAIR_STYLES",
    "REVIEW_ADAPTERS",
    "REVIEW_TAGS",
    "YES",
    "AtomicTask",
    "Deriver",
    "atomic_catalog",
    "derive_atomic_tasks",
]
