"""Loading validated YAML configs: one place for the file errors and the key-naming validation errors.

Example:
    >>> from shoptune.training.config import SFTConfig
    >>> cfg = load_config("configs/sft_demo.yaml", SFTConfig, {"optim.lr": 1e-4})  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from shoptune.errors import ArgumentTypeError, ConfigArgumentError, ConfigError, argument_label

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """The base of every shoptune config section: an unknown key is an error that names it, never ignored.

    >>> class Optim(StrictModel):
    ...     lr: float = 1e-4
    >>> Optim.model_validate({"lr": 1e-3}).lr
    0.001

    A section lists its renamed keys (old -> new) in ``renamed_keys``; an old name is then an error that gives the
    new one (see :func:`format_validation_error`), not a bare "extra inputs are not permitted".
    """

    model_config = ConfigDict(extra="forbid")
    #: Keys of this section that were renamed: old name -> new name.
    renamed_keys: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _refuse_renamed_keys(cls, data: Any) -> Any:
        old = [key for key in cls.renamed_keys if isinstance(data, dict) and key in data]
        if old:
            # A custom error type carries the names, so the message can give both dotted paths.
            renamed = [[key, cls.renamed_keys[key]] for key in old]
            raise PydanticCustomError(RENAMED, "renamed keys {renamed}", {"renamed": renamed})
        return data


#: The error type of a renamed key (pydantic's ``type`` field of the error).
RENAMED = "renamed_key"


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


def parse_set(items: Sequence[str] | None, argument: str = "overrides") -> dict[str, Any]:
    """``["optim.lr=1.0e-4", "data.tasks=[a, b]"]`` -> ``{"optim.lr": 0.0001, "data.tasks": ["a", "b"]}``.

    The one parser of config overrides for every recipe: ``--set`` on the command line, a list passed as
    ``overrides`` in Python. Values are YAML. Errors name the argument as the user knows it and the item.

    >>> parse_set(["optim.lr=1.0e-4", "lora.target_modules=all-linear"])  # YAML reads 1e-4 as a string
    {'optim.lr': 0.0001, 'lora.target_modules': 'all-linear'}
    """
    overrides: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigArgumentError(argument, "expected KEY=VALUE, e.g. optim.lr=1e-4", item)
        check_override_key(key, item, argument)
        try:
            overrides[key] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            reason = str(exc).splitlines()[0]
            raise ConfigArgumentError(argument, f"the value is not valid YAML ({reason})", item) from None
    return overrides


def check_override_key(key: Any, item: Any, argument: str = "overrides") -> None:
    """An override's key is a dotted key such as ``optim.lr``: a string, every part non-empty."""
    if not isinstance(key, str):
        raise ArgumentTypeError(
            argument, f"keys must be dotted strings such as optim.lr, not {type(key).__name__}", item
        )
    if not key or any(not part.strip() for part in key.split(".")):
        raise ConfigArgumentError(argument, f"{key!r} is not a dotted key such as optim.lr", item)


def overrides_label() -> str:
    """How errors name the config overrides: ``--set`` on the command line (and for internal callers that set
    no naming, such as a loader called directly), ``overrides`` inside a Python API call."""
    return argument_label("overrides", default="--set")


def override_name(key: str) -> str:
    """One override as the user wrote it: ``--set optim.lr`` on the command line, ``overrides['optim.lr']`` in
    Python."""
    label = overrides_label()
    return f"{label}[{key!r}]" if label.isidentifier() else f"{label} {key}"


def set_dotted(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Apply ``{"optim.lr": 1e-4}``-style overrides in place; a key under a plain value is a ConfigError.

    >>> set_dotted({"optim": {"lr": 1.0}}, {"optim.lr": 2.0, "lora.r": 4})
    {'optim': {'lr': 2.0}, 'lora': {'r': 4}}
    """
    for dotted, value in overrides.items():
        node = data
        *parents, leaf = dotted.split(".")
        for depth, key in enumerate(parents):
            child = node.setdefault(key, {})
            if child is None:
                child = node[key] = {}
            if not isinstance(child, dict):
                where = ".".join(parents[: depth + 1])
                problem = f"{override_name(dotted)}: {where!r} is a value ({child!r}), not a section with keys"
                raise ConfigArgumentError("overrides", problem, named=False)
            node = child
        node[leaf] = value
    return data


def deep_merge(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """``change`` merged into a copy of ``base``: mappings key by key, any other value replaced.

    >>> deep_merge({"source": {"files": {"train": "a", "test": "b"}}}, {"source": {"files": {"train": "c"}}})
    {'source': {'files': {'train': 'c', 'test': 'b'}}}
    """
    merged = dict(base)
    for key, value in change.items():
        old = merged.get(key)
        merged[key] = deep_merge(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return merged


def config_diff(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two config dumps (what a resume with a changed config names).

    >>> config_diff({"optim": {"lr": 1e-4, "seed": 1}}, {"optim": {"lr": 1e-2, "seed": 1}})
    ['optim.lr']
    """
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(set(old) | set(new))
        return [d for k in keys for d in config_diff(old.get(k), new.get(k), f"{prefix}{k}.")]
    return [] if old == new else [prefix.rstrip(".") or "(config)"]


def refuse_changed_config(where: str | Path, saved: dict[str, Any], current: dict[str, Any]) -> None:
    """Resuming under a changed config would silently mix two runs: refuse, naming each key that differs."""
    keys = config_diff(saved, current)
    if not keys:
        return

    def value(data: Any, dotted: str) -> Any:
        for part in dotted.split("."):
            data = data.get(part) if isinstance(data, dict) else None
        return data

    changes = "; ".join(f"{k}: {value(saved, k)!r} -> {value(current, k)!r}" for k in keys[:8])
    more = f" (and {len(keys) - 8} more)" if len(keys) > 8 else ""
    resume, out = argument_label("resume", default="--resume"), argument_label("out", default="--out")
    raise ConfigError(
        f"{where}: {resume} with a changed config ({changes}{more}); "
        f"resume with the run's config or choose another {out}"
    )


def load_config(path: str | Path, model: type[M], overrides: dict[str, Any] | None = None) -> M:
    """Read, override and validate a config; validation errors name the file and the dotted key."""
    data = set_dotted(read_yaml(path), overrides or {})
    return validate_config(model, data, path, overrides)


def validate_config(model: type[M], data: dict[str, Any], path: str | Path, overrides: dict[str, Any] | None) -> M:
    """Validate; each problem names the dotted key and where it came from: the file, or the override that set it."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        message = format_validation_error(str(path), exc, overrides)
        if all(_override_of(key, overrides) for key, _ in _problems(exc)):  # only the overrides are wrong
            raise ConfigArgumentError("overrides", message, named=False) from None
        raise ConfigError(message) from None


def format_validation_error(source: str, error: ValidationError, overrides: dict[str, Any] | None = None) -> str:
    """One part per problem, each naming the dotted key and its source: the file, or the override that set it
    (``--set KEY`` on the command line, ``overrides['KEY']`` in Python)."""
    return "; ".join(f"{_source(key, source, overrides)}: {problem}" for key, problem in _problems(error))


def _problems(error: ValidationError) -> list[tuple[str, str]]:
    """(dotted key, what is wrong with it) for each problem of a validation error."""
    problems = []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"])
        if item["type"] == RENAMED:
            prefix = f"{key}." if key else ""
            for old, new in item["ctx"]["renamed"]:
                problems.append((f"{prefix}{old}", f"key '{prefix}{old}' was renamed to '{prefix}{new}'"))
            continue
        # Pydantic prefixes a validator's own message with "Value error, "; the message says enough.
        problems.append((key or "(root)", f"key '{key or '(root)'}': {item['msg'].removeprefix('Value error, ')}"))
    return problems


def _override_of(key: str, overrides: dict[str, Any] | None) -> str | None:
    """The override that set a dotted key (or a section above it, or a key below it), if any."""
    touched = [o for o in overrides or {} if key == o or key.startswith(f"{o}.") or o.startswith(f"{key}.")]
    return touched[0] if touched else None


def _source(key: str, source: str, overrides: dict[str, Any] | None) -> str:
    """Where a dotted key's value came from: the override that set it, else the file."""
    override = _override_of(key, overrides)
    return override_name(override) if override is not None else source


def resolve_path(base: Path, value: str) -> str:
    """A path from a config, made absolute against the config file's folder."""
    p = Path(value).expanduser()
    return str((p if p.is_absolute() else base / p).resolve())
