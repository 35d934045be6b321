"""Tasks as data: specs, the registry of built-in and user task YAMLs, and prompt rendering."""

from shoptune.tasks.registry import load_task_file, load_tasks
from shoptune.tasks.spec import CAPABILITIES, SPLITS, SourceSpec, SplitSpec, TaskKind, TaskSpec

__all__ = ["CAPABILITIES", "SPLITS", "SourceSpec", "SplitSpec", "TaskKind", "TaskSpec", "load_task_file", "load_tasks"]
