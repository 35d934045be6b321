"""The relevance training recipe's config: a pydantic-validated YAML, one section per concern.

Relative paths in a config file resolve against the file's folder (as `shoptune data build` does).

Example:
    >>> cfg = RelevanceConfig.model_validate({"data": {"path": "runs/data"}})
    >>> cfg.model.family, cfg.model.routing, cfg.mixture.strategy
    ('cross_encoder', 'mhp', 'temperature')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from shoptune import validate
from shoptune.config import StrictModel, read_yaml, set_dotted, validate_config
from shoptune.models.lora import LoraConfig
from shoptune.training.mixture import MixtureConfig
from shoptune.training.schedule import SchedulerName

Family = Literal["cross_encoder", "decoder"]
#: ``none`` (no task information at all: one shared head, no prefix) exists for the prefix ablation.
Routing = Literal["none", "prefix", "multihead", "mhp"]

DEFAULT_MODELS: dict[str, str] = {"cross_encoder": "minilm-l6", "decoder": "smollm2-135m-instruct"}


class ModelSpec(StrictModel):
    family: Family = "cross_encoder"
    #: Bundled name, local directory or hub id; None picks the family's default (minilm-l6 / smollm2-135m-instruct).
    name: str | None = None
    routing: Routing = "mhp"
    #: mhp only: how many top transformer layers each task gets a private copy of.
    private_layers: int = Field(1, ge=1, le=64)
    #: Tokens per pair (prefix and template included); longer pairs are cut longest-side first.
    max_length: int = Field(128, ge=16, le=8192)
    #: Dropout before the classification head(s).
    head_dropout: float = Field(0.1, ge=0.0, lt=1.0)
    #: LoRA on the decoder's shared layers (the SFT recipe's ``lora:`` options); the cross-encoder ignores it and
    #: is fully fine-tuned, as is a decoder with ``enabled: false``.
    lora: LoraConfig = Field(default_factory=LoraConfig)

    @property
    def model_name(self) -> str:
        return self.name or DEFAULT_MODELS[self.family]


class DataSpec(StrictModel):
    """Where the pair tasks come from: a `shoptune data build` folder, or a build config to build one first."""

    #: A folder written by `shoptune data build` (OUT/tasks/<task>/{train,dev,test}.parquet).
    path: str | None = None
    #: ... or a data build config; only the selected pair tasks are built, into RUN_DIR/data.
    build: str | None = None
    #: "all" = every pair_relevance task present in the build; or a list of task names.
    tasks: list[str] | Literal["all"] = "all"
    exclude: list[str] = Field(default_factory=list)
    #: Deterministic cap on each task's training pool (seeded subsample); keeps CPU runs short.
    max_train_per_task: int | None = Field(None, ge=1)
    #: Cap on each task's dev/test pairs scored after training (None = all).
    max_eval_per_task: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _one_source(self) -> DataSpec:
        if (self.path is None) == (self.build is None):
            raise ValueError("give exactly one of 'path' (a built data folder) or 'build' (a data build config)")
        return self


class TrainSpec(StrictModel):
    #: Old names -> the SFT recipe's names for the same settings (``optim.batch_tokens`` etc.).
    renamed_keys = {
        "max_tokens_per_batch": "batch_tokens",
        "max_batch_size": "max_batch",
        "grad_clip": "max_grad_norm",
    }

    epochs: int = Field(1, ge=1)
    #: Learning rate of the shared trainable weights (the whole encoder, or the decoder's LoRA weights).
    lr: float = Field(3e-5, gt=0.0)
    #: Learning rate of the private (per-task) layers; None = lr.
    private_lr: float | None = Field(None, gt=0.0)
    #: Learning rate of the freshly initialised heads; a higher one lets short runs converge.
    head_lr: float | None = Field(1e-3, gt=0.0)
    weight_decay: float = Field(0.01, ge=0.0)
    #: Decay after the warmup: ``linear`` or ``cosine`` to 0 (:mod:`shoptune.training.schedule`).
    scheduler: SchedulerName = "linear"
    #: Share of the optimizer steps (rounded up) that ramp the learning rates from 0.
    warmup_ratio: float = Field(0.06, ge=0.0, lt=1.0)
    #: Gradient norm clipping; 0 or null: no clipping (the same in both recipes).
    max_grad_norm: float | None = Field(1.0, ge=0.0)
    #: Dynamic batching: a batch holds at most this many (padded) tokens ...
    batch_tokens: int = Field(4096, ge=16)
    #: ... and at most this many pairs.
    max_batch: int = Field(64, ge=1)
    #: Length sorting happens inside shuffled windows of this many batches, so batches stay random.
    sort_window: int = Field(50, ge=1)
    #: Batches per optimizer step (gradients accumulated). Under ``accelerate launch`` / ``torchrun`` a step takes
    #: this many batches on each process: N processes with ``grad_accum: k`` take the steps of one with ``k*N``.
    grad_accum: int = Field(1, ge=1)
    #: Save a resumable checkpoint every N optimizer steps (and at every epoch end).
    checkpoint_every: int = Field(200, ge=1)
    #: bf16 autocast for forward/backward (weights and optimizer stay float32). "auto" = when the CPU has native
    #: bf16 (avx512_bf16 / AMX), where it trains MiniLM ~1.7x faster; without native support it is slower.
    bf16: bool | Literal["auto"] = "auto"
    seed: int = 13
    #: torch threads; None keeps torch's default.
    threads: int | None = Field(None, ge=1)
    log_every: int = Field(10, ge=1)


class EvalSpec(StrictModel):
    renamed_keys = {"max_tokens_per_batch": "batch_tokens"}

    #: Splits scored after training (metrics.json + predictions.jsonl under RUN_DIR/eval/<split>/).
    splits: list[Literal["dev", "test"]] = Field(default_factory=lambda: ["dev", "test"])
    bootstrap: int = Field(1000, ge=10)
    #: Padded tokens per inference batch.
    batch_tokens: int = Field(2048, ge=16)
    #: bf16 autocast at inference when the CPU has native bf16 (avx512_bf16 / AMX); "auto" checks.
    bf16: bool | Literal["auto"] = "auto"


class DecisionSpec(StrictModel):
    """The decision rule fitted on the dev split after training (:mod:`shoptune.relevance.decision`).

    Argmax over skewed grades rarely predicts the rare one; a per-task logit bias fitted on dev trades some
    majority-grade recall for rare-grade recall. Fitting costs one scoring pass over the dev pairs (capped by
    ``data.max_eval_per_task``; reused when dev is also evaluated) and no training time.
    """

    #: ``bias``: per-task label biases maximising ``metric`` on dev; ``argmax``: none (the pre-rule behaviour).
    rule: Literal["bias", "argmax"] = "bias"
    #: What the biases maximise on dev: macro-F1 (every grade counts equally) or accuracy.
    metric: Literal["macro_f1", "accuracy"] = "macro_f1"
    #: Temperature scaling fitted on dev (per task, NLL) and applied before the rule: calibrated probabilities,
    #: same argmax.
    temperature: bool = True
    #: Tasks with fewer labelled dev pairs keep argmax (a rule fitted on a handful of pairs overfits them).
    min_pairs: int = Field(50, ge=1)


class RelevanceConfig(StrictModel):
    model: ModelSpec = Field(default_factory=ModelSpec)
    data: DataSpec
    #: Task-balanced sampling, the SFT mixtures' options (shoptune.training.mixture): proportional, temperature
    #: p ∝ n^(1/T), cap, explicit weights; seeded and re-drawn every epoch.
    mixture: MixtureConfig = Field(default_factory=lambda: MixtureConfig(strategy="temperature", temperature=2.0))
    train: TrainSpec = Field(default_factory=TrainSpec)
    eval: EvalSpec = Field(default_factory=EvalSpec)
    decision: DecisionSpec = Field(default_factory=DecisionSpec)
    #: Train one model per task (the single-task baseline) under RUN_DIR/single/<task>/ instead of one joint model.
    single_task: bool = False


PATH_KEYS = ("data.path", "data.build", "model.name")


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> RelevanceConfig:
    """Read and validate a relevance config; ``overrides`` are dotted keys, e.g. ``{"model.routing": "prefix"}``.

    Example:
        >>> cfg = load_config("configs/relevance_minilm.yaml", {"train.epochs": 1})  # doctest: +SKIP
    """
    path = validate.path_arg(path, "path")
    data = read_yaml(path)
    resolved: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if key in PATH_KEYS and isinstance(value, str):
            # Paths given on the command line are relative to where the command runs, not to the config file.
            local = Path(value).expanduser()
            value = (
                str(local.resolve()) if not local.is_absolute() and (key != "model.name" or local.exists()) else value
            )
        resolved[key] = value
    set_dotted(data, resolved)
    cfg = validate_config(RelevanceConfig, data, path, resolved)
    return resolve_paths(cfg, path.resolve().parent)


def resolve_paths(cfg: RelevanceConfig, base: Path) -> RelevanceConfig:
    """Make the data paths (and a local model path) absolute against ``base``."""

    def absolute(value: str) -> str:
        p = Path(value).expanduser()
        return str(p if p.is_absolute() else (base / p).resolve())

    if cfg.data.path:
        cfg.data.path = absolute(cfg.data.path)
    if cfg.data.build:
        cfg.data.build = absolute(cfg.data.build)
    name = cfg.model.name
    if name and (name.startswith((".", "/", "~")) or (base / name).exists()):
        cfg.model.name = absolute(name)
    return cfg
