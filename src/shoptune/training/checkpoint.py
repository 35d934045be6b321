"""Training checkpoints: written atomically (temp folder, then rename), newest kept, resumable.

Example:
    >>> latest_checkpoint(Path("runs/sft/checkpoints"))  # doctest: +SKIP
    PosixPath('runs/sft/checkpoints/step-000150')
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch


def _trainable_state(model) -> dict[str, torch.Tensor]:
    # Only what training changes: LoRA weights (or everything in full fine-tuning). Small and enough to resume.
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(folder: Path, step: int, model, optimizer, scheduler, state: dict[str, Any], keep: int = 2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"step-{step:06d}"
    tmp = folder / f".step-{step:06d}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    torch.save(_trainable_state(model), tmp / "trainable.pt")
    torch.save(
        {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "torch_rng": torch.get_rng_state()},
        tmp / "optim.pt",
    )
    (tmp / "state.json").write_text(json.dumps({**state, "step": step}, indent=2))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in sorted(folder.glob("step-*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(folder: Path) -> Path | None:
    done = sorted(p for p in folder.glob("step-*") if (p / "state.json").exists())
    return done[-1] if done else None


def load_checkpoint(path: Path, model, optimizer, scheduler) -> dict[str, Any]:
    """Restore weights, optimizer, scheduler and RNG; return the saved loop state."""
    trainable = torch.load(path / "trainable.pt", weights_only=True)
    params = dict(model.named_parameters())
    missing = [name for name in trainable if name not in params]
    if missing:
        raise ValueError(f"{path}: checkpoint does not match the model (e.g. {missing[0]})")
    with torch.no_grad():
        for name, value in trainable.items():
            params[name].copy_(value)
    optim = torch.load(path / "optim.pt", weights_only=False)
    optimizer.load_state_dict(optim["optimizer"])
    scheduler.load_state_dict(optim["scheduler"])
    torch.set_rng_state(optim["torch_rng"])
    return json.loads((path / "state.json").read_text())
