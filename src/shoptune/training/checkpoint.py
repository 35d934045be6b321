"""Resumable training checkpoints, the one implementation both recipes (SFT and relevance) use.

A run's checkpoints live in one folder, one ``step-NNNNNN/`` each, the newest ``keep`` kept. Each holds:

    trainable.safetensors  the weights training changes (LoRA weights, heads, or every weight when fully tuned)
    optim.safetensors      the tensors of the optimizer, LR-scheduler and RNG states ...
    optim.json             ... and the rest of them, with references to those tensors
    state.json             the loop state (step, epoch, ...) and the run's config as far as it decides the weights

Nothing is pickled: a checkpoint may come from someone else, and unpickling runs whatever code the file names.
A step folder holding a pickle (``optim.pt`` or ``trainable.pt``, as older versions wrote) is refused, unread, and
so is a ``state.json`` whose loop state is not what a recipe saved (a ``step`` that is not a whole number, a field
of another type or one no recipe writes; see :data:`STATE_FIELDS`): "damaged checkpoint", one line.

A checkpoint is built under a temp name and swapped in whole, so a kill leaves the previous one intact; the RNG
states make a resumed run draw the same batches and dropout masks as one that was never stopped; and the saved
config is compared with the resuming one, so a resume never mixes two configs in one model.

Example:
    >>> latest_checkpoint(Path("runs/sft/checkpoints"))  # doctest: +SKIP
    PosixPath('runs/sft/checkpoints/step-000150')
"""

from __future__ import annotations

import contextlib
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from shoptune.config import refuse_changed_config
from shoptune.errors import ShoptuneError
from shoptune.io import atomic_write_json, remove_if_owned, staging_dir
from shoptune.validate import is_number

STATE_FILE = "state.json"
WEIGHTS_FILE = "trainable.safetensors"
OPTIM_FILE = "optim.safetensors"
OPTIM_META_FILE = "optim.json"
#: Pickles older shoptune versions wrote: never loaded (unpickling a stranger's file runs their code).
PICKLE_FILES = ("optim.pt", "trainable.pt")
#: The loop state the recipes save (SFT: step, epoch, batch, tokens, seconds; relevance: step, epoch, seconds,
#: pairs_seen, losses): each field's type. A state.json with another field, or one of another type, is damaged.
STATE_FIELDS: dict[str, str] = {
    "step": "count",
    "epoch": "count",
    "batch": "count",
    "tokens": "count",
    "pairs_seen": "count",
    "seconds": "seconds",
    "losses": "numbers",
}


@dataclass
class Checkpoint:
    """What one checkpoint folder holds."""

    path: Path
    #: The loop state the recipe saved (always with ``step``).
    state: dict[str, Any]
    #: The run config it was trained with (None in checkpoints that did not record one).
    config: dict[str, Any] | None
    weights: dict[str, torch.Tensor]
    #: ``optimizer``, ``scheduler`` and ``rng`` state.
    optim: dict[str, Any]


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Only what training changes (parameters that require grad): small for LoRA, and enough to resume."""
    return {name: p.detach().contiguous().clone() for name, p in model.named_parameters() if p.requires_grad}


def rng_states() -> dict[str, Any]:
    """Every RNG a training step draws from (the GPUs' too, when training runs on them)."""
    states = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng(blob: dict[str, Any]) -> None:
    """Set every RNG from a checkpoint's optimizer blob (shoptune <= 0.1 kept torch's and Python's only)."""
    if "rng" in blob:
        random.setstate(blob["rng"]["python"])
        np.random.set_state(blob["rng"]["numpy"])
        torch.set_rng_state(blob["rng"]["torch"])
        if "cuda" in blob["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(blob["rng"]["cuda"])
        return
    torch.set_rng_state(blob["torch_rng"])
    if "python_rng" in blob:
        random.setstate(blob["python_rng"])


def save_checkpoint(
    folder: Path,
    step: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    state: dict[str, Any],
    *,
    config: dict[str, Any] | None = None,
    keep: int = 2,
) -> Path:
    """Write ``folder/step-NNNNNN`` atomically, then remove all but the newest ``keep`` checkpoints.

    ``state`` is the recipe's loop state (JSON); ``config`` the run config that a resume must not change.
    """
    check_state({**state, "step": step})  # a field resume would refuse fails the first save, not the resume
    final = folder / f"step-{step:06d}"
    with staging_dir(final, kind="checkpoint") as tmp:
        save_file(trainable_state(model), str(tmp / WEIGHTS_FILE))
        blob = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng_states()}
        tensors: dict[str, torch.Tensor] = {}
        meta = _pack(blob, tensors)
        save_file(tensors, str(tmp / OPTIM_FILE))
        atomic_write_json(tmp / OPTIM_META_FILE, meta, indent=None)
        atomic_write_json(tmp / STATE_FILE, {"state": {**state, "step": step}, "config": config}, indent=None)
    for old in step_folders(folder)[:-keep]:
        remove_if_owned(old, "checkpoint")  # a step folder holding a user's file is kept
    return final


def remove_checkpoints(folder: Path) -> None:
    """Remove a finished run's checkpoints: every step folder shoptune wrote, then ``folder`` if nothing is left."""
    for step in step_folders(folder):
        remove_if_owned(step, "checkpoint")
    with contextlib.suppress(OSError):
        folder.rmdir()  # only when empty: a user's file in it stays, and so does the folder


def step_folders(folder: Path) -> list[Path]:
    """``folder``'s checkpoint folders, oldest first: only names this module writes (``step-`` and digits), so
    pruning never touches anything else a user put there."""
    return sorted(p for p in folder.glob("step-*") if p.is_dir() and p.name[5:].isdigit())


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint in ``folder`` (None when there is none)."""
    done = [p for p in step_folders(folder) if (p / STATE_FILE).exists()]
    return done[-1] if done else None


def read_checkpoint(path: Path, config: dict[str, Any] | None = None) -> Checkpoint:
    """A checkpoint folder's contents; one line naming it when it is damaged or ``config`` differs from its own.

    `--resume` reads the checkpoint before loading the model, so the user hears of either problem at once.
    """
    pickles = [name for name in PICKLE_FILES if (path / name).exists()]
    if pickles:
        raise ShoptuneError(
            f"{path}: damaged checkpoint ({pickles[0]} is a pickle, which shoptune never loads: an older shoptune's "
            "or not shoptune's); delete this folder to resume from an earlier one or start over"
        )
    try:
        meta = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
        trainable = load_file(str(path / WEIGHTS_FILE))
        optim = _unpack(
            json.loads((path / OPTIM_META_FILE).read_text(encoding="utf-8")), load_file(str(path / OPTIM_FILE))
        )
        if not isinstance(meta, dict) or not isinstance(optim, dict) or not {"optimizer", "scheduler"} <= set(optim):
            raise ValueError(f"no optimizer or scheduler state in {OPTIM_META_FILE}")
        check_state(meta.get("state", meta))  # before the shared layout: the loop state at the top level
        if meta.get("config") is not None and not isinstance(meta["config"], dict):
            raise ValueError(f"'config' in {STATE_FILE} is not a mapping")
    except Exception as exc:  # any damage (truncated file, bad JSON, a missing tensor) means the same to the user
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ShoptuneError(
            f"{path}: damaged checkpoint ({reason}); delete this folder to resume from an earlier one or start over"
        ) from None
    # SFT checkpoints from before the shared layout hold the loop state at the top level, and no config.
    checkpoint = Checkpoint(path, meta.get("state", meta), meta.get("config"), trainable, optim)
    if config is not None and checkpoint.config is not None:
        refuse_changed_config(path, checkpoint.config, config)
    return checkpoint


def check_state(state: Any) -> None:
    """Refuse a loop state that is not what a recipe saved: ``step`` a whole number >= 0, every other field one of
    :data:`STATE_FIELDS` with its type. ValueError names the field (``read_checkpoint`` makes it one line).

    >>> check_state({"step": 2, "epoch": 0, "seconds": 1.5})
    >>> check_state({"step": "x"})
    Traceback (most recent call last):
    ...
    ValueError: field 'step' in state.json is 'x', not a whole number >= 0
    """
    if not isinstance(state, dict):
        raise ValueError(f"{STATE_FILE} holds no loop state (a mapping)")
    if "step" not in state:
        raise ValueError(f"field 'step' missing in {STATE_FILE}")
    for name, value in state.items():
        kind = STATE_FIELDS.get(name)
        if kind is None:
            raise ValueError(f"unknown field {name!r} in {STATE_FILE}")
        shown = repr(value)[:40]
        if kind == "count" and not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            raise ValueError(f"field {name!r} in {STATE_FILE} is {shown}, not a whole number >= 0")
        if kind == "seconds" and not (is_number(value) and math.isfinite(value) and value >= 0):
            raise ValueError(f"field {name!r} in {STATE_FILE} is {shown}, not a number of seconds >= 0")
        if kind == "numbers" and not (isinstance(value, list) and all(is_number(v) for v in value)):
            raise ValueError(f"field {name!r} in {STATE_FILE} is {shown}, not a list of numbers")


def load_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Restore weights, optimizer, scheduler and RNGs (after checking ``config``); return the saved loop state."""
    checkpoint = read_checkpoint(path, config)
    params = {name: p for name, p in model.named_parameters() if p.requires_grad}
    mismatch = sorted(set(params) ^ set(checkpoint.weights))
    mismatch = mismatch or sorted(n for n in params if params[n].shape != checkpoint.weights[n].shape)
    if mismatch:
        raise ShoptuneError(f"{path}: checkpoint does not match the model (e.g. {mismatch[0]})")
    with torch.no_grad():
        for name, value in checkpoint.weights.items():
            params[name].copy_(value)
    try:
        optimizer.load_state_dict(checkpoint.optim["optimizer"])
        scheduler.load_state_dict(checkpoint.optim["scheduler"])
        restore_rng(checkpoint.optim)
    except Exception as exc:  # a state of another optimizer or a hand-edited optim.json: one line, not a traceback
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ShoptuneError(f"{path}: checkpoint does not match the optimizer ({reason})") from None
    return checkpoint.state


# Optimizer, scheduler and RNG states as JSON plus a safetensors file: every tensor (and NumPy array) becomes a
# reference into the file; dicts, tuples, NumPy arrays and tensors are tagged, so that loading rebuilds exactly
# the objects saved (int keys of the optimizer state, the tuples of Python's RNG state) without running any code.


def _pack(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, torch.Tensor):
        key = str(len(tensors))
        tensors[key] = value.detach().contiguous()
        return {"tensor": key}
    if isinstance(value, np.ndarray):
        key = str(len(tensors))
        tensors[key] = torch.from_numpy(np.ascontiguousarray(value).reshape(-1).view(np.uint8).copy())
        return {"ndarray": key, "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {"dict": {k: _pack(v, tensors) for k, v in value.items()}}
        return {"items": [[_pack(k, tensors), _pack(v, tensors)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"tuple": [_pack(v, tensors) for v in value]}
    if isinstance(value, list):
        return [_pack(v, tensors) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot save a {type(value).__name__} in a checkpoint")


def _unpack(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, list):
        return [_unpack(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if "ndarray" in value:
        dtype = np.dtype(value["dtype"])
        if dtype.kind not in "biuf":
            raise ValueError(f"unsupported array type {value['dtype']!r}")
        flat = np.frombuffer(tensors[value["ndarray"]].numpy().tobytes(), dtype=dtype)
        return flat.reshape(value["shape"]).copy()
    tag, body = next(iter(value.items())) if len(value) == 1 else ("", None)
    if tag == "tensor":
        return tensors[body]
    if tag == "dict" and isinstance(body, dict):
        return {k: _unpack(v, tensors) for k, v in body.items()}
    if tag == "items" and isinstance(body, list):
        return {_unpack(k, tensors): _unpack(v, tensors) for k, v in body}
    if tag == "tuple" and isinstance(body, list):
        return tuple(_unpack(v, tensors) for v in body)
    raise ValueError(f"unknown entry {sorted(value)} in {OPTIM_META_FILE}")
