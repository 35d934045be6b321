"""SFT training checkpoints: written atomically (temp folder, then swapped in), newest kept, resumable.

A checkpoint holds the trainable weights (safetensors), the optimizer and schedule, the loop state and the
Python, NumPy and torch RNG states, so a resumed run draws the same dropout masks and samples as one that was
never stopped.

Example:
    >>> latest_checkpoint(Path("runs/sft/checkpoints"))  # doctest: +SKIP
    PosixPath('runs/sft/checkpoints/step-000150')
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from shoptune.errors import ShoptuneError
from shoptune.io import atomic_write_json, staging_dir


def _trainable_state(model) -> dict[str, torch.Tensor]:
    # Only what training changes: LoRA weights (or everything in full fine-tuning). Small and enough to resume.
    return {name: p.detach().contiguous().clone() for name, p in model.named_parameters() if p.requires_grad}


def rng_states() -> dict[str, Any]:
    """Every RNG a training step draws from."""
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def restore_rng(blob: dict[str, Any]) -> None:
    """Set every RNG from a checkpoint's optimizer blob (shoptune <= 0.1 kept torch's and Python's only)."""
    if "rng" in blob:
        random.setstate(blob["rng"]["python"])
        np.random.set_state(blob["rng"]["numpy"])
        torch.set_rng_state(blob["rng"]["torch"])
        return
    torch.set_rng_state(blob["torch_rng"])
    if "python_rng" in blob:
        random.setstate(blob["python_rng"])


def save_checkpoint(folder: Path, step: int, model, optimizer, scheduler, state: dict[str, Any], keep: int = 2) -> Path:
    final = folder / f"step-{step:06d}"
    with staging_dir(final, kind="checkpoint", owned_files=("state.json",)) as tmp:
        save_file(_trainable_state(model), str(tmp / "trainable.safetensors"))
        torch.save(
            {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng_states()},
            tmp / "optim.pt",
        )
        atomic_write_json(tmp / "state.json", {**state, "step": step})
    for old in sorted(folder.glob("step-*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(folder: Path) -> Path | None:
    done = sorted(p for p in folder.glob("step-*") if (p / "state.json").exists())
    return done[-1] if done else None


def read_checkpoint(
    path: Path, optim_file: str = "optim.pt"
) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, Any]]:
    """The ``state.json``, trainable weights and optimizer blob of a checkpoint folder (both recipes' layout).

    A damaged checkpoint is one line naming it; `--resume` reads it before loading the model, so the user hears
    of it at once.
    """
    try:
        state = json.loads((path / "state.json").read_text(encoding="utf-8"))
        weights = path / "trainable.safetensors"
        trainable = load_file(str(weights)) if weights.exists() else torch.load(path / "trainable.pt")
        optim = torch.load(path / optim_file, weights_only=False)
    except Exception as exc:  # any damage (truncated file, bad JSON, bad pickle) means the same to the user
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ShoptuneError(
            f"{path}: damaged checkpoint ({reason}); delete this folder to resume from an earlier one or start over"
        ) from None
    return state, trainable, optim


def load_checkpoint(path: Path, model, optimizer, scheduler) -> dict[str, Any]:
    """Restore weights, optimizer, scheduler and RNGs; return the saved loop state."""
    state, trainable, optim = read_checkpoint(path)
    params = dict(model.named_parameters())
    missing = [name for name in trainable if name not in params]
    if missing:
        raise ShoptuneError(f"{path}: checkpoint does not match the model (e.g. {missing[0]})")
    with torch.no_grad():
        for name, value in trainable.items():
            params[name].copy_(value)
    optimizer.load_state_dict(optim["optimizer"])
    scheduler.load_state_dict(optim["scheduler"])
    restore_rng(optim)
    return state
