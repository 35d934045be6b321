"""Validated configuration of the SFT recipe (`shoptune train sft CONFIG`). Errors name the key.

Example:
    >>> cfg = SFTConfig.model_validate({"model": "smollm2-135m-instruct", "data": {"build": "configs/data_demo.yaml"}})
    >>> cfg.lora.r
    8
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from shoptune.config import StrictModel, load_config, resolve_path
from shoptune.models.lora import LoraConfig
from shoptune.training.mixture import MixtureConfig
from shoptune.training.schedule import SchedulerName


class DataConfig(StrictModel):
    """Where the tasks come from: an existing build folder, or a build config to build from."""

    renamed_keys = {"dir": "path"}

    #: A folder written by `shoptune data build` (the relevance recipe's ``data.path`` too) ...
    path: str | None = None
    #: ... or a data build config, built into RUN_DIR/data.
    build: str | None = None
    #: Tasks to train on ("all" = every built instruction or pair task); held-out tasks are removed.
    tasks: list[str] | Literal["all"] = "all"
    #: Tasks never trained on: a list, or named groups of them (say, unseen task kinds vs unseen datasets of
    #: trained kinds), which the held-out report then also gives one row each.
    holdout: list[str] | dict[str, list[str]] = Field(default_factory=list)
    #: Add EcomGPT-style chain-of-task atomic tasks derived from the annotated records.
    atomic: bool = False
    #: Atomic tasks to leave out: one that restates a held-out task (say, a department choice derived from an
    #: aisle task while department classification is held out) would leak it into training.
    atomic_exclude: list[str] = Field(default_factory=list)
    max_length: int = Field(default=384, ge=16)

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if (self.path is None) == (self.build is None):
            raise ValueError("give exactly one of 'path' (a data build) or 'build' (a build config)")
        tasks = self.holdout_tasks()
        twice = sorted({t for t in tasks if tasks.count(t) > 1})
        if twice:
            raise ValueError(f"holdout: listed more than once: {', '.join(twice)}")
        return self

    def holdout_tasks(self) -> list[str]:
        """Every held-out task, in the config's order."""
        if isinstance(self.holdout, dict):
            return [t for tasks in self.holdout.values() for t in tasks]
        return list(self.holdout)

    def holdout_groups(self) -> dict[str, list[str]]:
        """The named held-out groups ({} when holdout is a plain list)."""
        return {name: list(tasks) for name, tasks in self.holdout.items()} if isinstance(self.holdout, dict) else {}


class OptimConfig(StrictModel):
    epochs: float = Field(default=1.0, gt=0)
    max_steps: int | None = Field(default=None, ge=1)
    lr: float = Field(default=2e-4, gt=0)
    weight_decay: float = 0.0
    #: Decay after the warmup: ``linear`` or ``cosine`` to 0 (:mod:`shoptune.training.schedule`).
    scheduler: SchedulerName = "linear"
    #: Share of the optimizer steps (rounded up) that ramp the learning rate from 0 to ``lr``.
    warmup_ratio: float = Field(default=0.05, ge=0, lt=1)
    batch_tokens: int = Field(default=4096, ge=16)
    max_batch: int = Field(default=32, ge=1)
    grad_accum: int = Field(default=1, ge=1)
    #: Gradient norm clipping; 0 or null: no clipping (the same in both recipes).
    max_grad_norm: float | None = Field(default=1.0, ge=0)
    bf16: bool = True
    #: Recompute each layer's activations in the backward pass instead of keeping them: about a third more
    #: compute for a large cut in peak memory (activations of a 3k-token batch of a 30-layer model are GBs).
    gradient_checkpointing: bool = False
    seed: int = 13
    checkpoint_every: int = Field(default=50, ge=1)
    log_every: int = Field(default=10, ge=1)


class EvalConfig(StrictModel):
    tasks: list[str] | Literal["trained+holdout"] = "trained+holdout"
    limit: int | None = 200
    batch_size: int = 16
    split: Literal["dev", "test"] = "test"


class SFTConfig(StrictModel):
    model: str
    data: DataConfig
    mixture: MixtureConfig = Field(default_factory=MixtureConfig)
    lora: LoraConfig = Field(default_factory=LoraConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    eval: EvalConfig | None = None


def load_sft_config(path: str | Path, overrides: dict[str, Any] | None = None) -> SFTConfig:
    """Read a YAML config; relative data paths resolve against the config file's folder."""
    cfg = load_config(path, SFTConfig, overrides)
    base = Path(path).resolve().parent
    for key in ("path", "build"):
        value = getattr(cfg.data, key)
        if value is not None:
            setattr(cfg.data, key, resolve_path(base, value))
    return cfg
