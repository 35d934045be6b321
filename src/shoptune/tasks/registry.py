"""The task registry: built-in task YAMLs shipped with the package plus the user's own folders.

Example:
    >>> from shoptune.tasks import load_tasks
    >>> tasks = load_tasks()
    >>> "hd_query_product" in tasks
    True
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from shoptune.config import format_validation_error
from shoptune.errors import ConfigError
from shoptune.tasks.spec import TaskSpec


def load_task_file(path: Path) -> TaskSpec:
    """Parse and validate one task YAML, raising ConfigError that names the file and the key."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a task file must be a YAML mapping")
    try:
        return TaskSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(str(path), exc)) from None


def builtin_task_dir() -> Path:
    return Path(str(resources.files("shoptune.tasks") / "builtin"))


def load_tasks(extra_dirs: Iterable[str | Path] = ()) -> dict[str, TaskSpec]:
    """All tasks by name: built-ins first, then each user folder (a user task may not shadow a built-in)."""
    tasks: dict[str, TaskSpec] = {}
    origin: dict[str, Path] = {}
    for folder in [builtin_task_dir(), *map(Path, extra_dirs)]:
        if not folder.is_dir():
            raise ConfigError(f"{folder}: task folder not found")
        for path in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
            spec = load_task_file(path)
            if spec.name in tasks:
                raise ConfigError(f"{path}: task name '{spec.name}' already defined in {origin[spec.name]}")
            tasks[spec.name] = spec
            origin[spec.name] = path
    return tasks
