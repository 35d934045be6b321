"""Loading validated YAML configs: one place for the file errors and the key-naming validation errors.

Example:
    >>> from shoptune.training.config import SFTConfig
    >>> cfg = load_config("configs/sft_demo.yaml", SFTConfig, {"optim.lr": 1e-4})  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from shoptune.errors import ConfigError
from shoptune.tasks.registry import format_validation_error

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping, or a ConfigError naming the file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a YAML mapping")
    return data


def set_dotted(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Apply `{"optim.lr": 1e-4}`-style overrides in place."""
    for dotted, value in overrides.items():
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return data


def load_config(path: str | Path, model: type[M], overrides: dict[str, Any] | None = None) -> M:
    """Read, override and validate a config; validation errors name the file and the dotted key."""
    data = set_dotted(read_yaml(path), overrides or {})
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(str(path), exc)) from None


def resolve_path(base: Path, value: str) -> str:
    """A path from a config, made absolute against the config file's folder."""
    p = Path(value).expanduser()
    return str((p if p.is_absolute() else base / p).resolve())
