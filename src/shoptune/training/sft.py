"""Recipe: multi-task supervised fine-tuning of a causal LM (LoRA through peft, or full fine-tuning).

One readable loop: build or load the task data, sample the mixture, tokenise with the loss on answers only,
train on length-grouped batches with bf16 autocast, checkpoint at intervals, save the adapter with its chat
and prompt templates, and optionally evaluate zero-shot vs tuned on held-in and held-out tasks.

Example:
    >>> from shoptune.training.config import load_sft_config
    >>> summary = run_sft(load_sft_config("configs/sft_demo.yaml"), Path("runs/sft"))  # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
import math
import random
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from shoptune.config import refuse_changed_config
from shoptune.data.audit import heldout_keys, remove_keys
from shoptune.data.build import build, load_build_config, read_manifest, task_specs
from shoptune.data.store import load_records
from shoptune.errors import ConfigError, argument_label
from shoptune.io import atomic_write_json, claim_output, open_folder, record_written, staging_dir
from shoptune.records import Record
from shoptune.tasks import TaskSpec, load_tasks
from shoptune.training.batching import collate, length_grouped
from shoptune.training.checkpoint import latest_checkpoint, load_checkpoint, read_checkpoint, save_checkpoint
from shoptune.training.config import SFTConfig
from shoptune.training.distributed import distributed
from shoptune.training.examples import Sequence, answer_only_loss, encode_record
from shoptune.training.mixture import epoch_plan, realised_mixture
from shoptune.training.schedule import build_scheduler

Log = Callable[[str], None]
RUN_FILE = "shoptune_run.json"


@dataclass
class TrainData:
    specs: dict[str, TaskSpec]
    train: dict[str, list[Record]]
    holdout: list[str]
    data_dir: Path
    derived: dict[str, int] = field(default_factory=dict)
    #: Training task -> train records removed because they share an entity key with a held-out task's test split.
    heldout_removed: dict[str, int] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ data
def atomic_tasks(manifest: dict[str, Any], names: list[str], data: Any, data_dir: Path) -> list[str]:
    """The atomic tasks derived from the training tasks ``names`` that join the mixture (``data.atomic_exclude``
    left out; those of held-out tasks never join). A build without atomic tasks, or an exclusion that names none
    of them, is one ConfigError saying what to do (a sweep checks this before it trains any arm)."""
    derived = [t for t, info in manifest["tasks"].items() if "derived_from" in info]
    if not derived:
        raise ConfigError(
            f"data.atomic: the data build {data_dir} has no atomic tasks; build it with "
            "`shoptune data build CONFIG --out DIR --atomic` (or atomic: true in the build config)"
        )
    atomic = [t for t in derived if manifest["tasks"][t]["derived_from"] in names]
    stray = [t for t in data.atomic_exclude if t not in atomic]
    if stray:
        raise ConfigError(f"data.atomic_exclude: not an atomic task of the training tasks: {', '.join(stray)}")
    atomic = [t for t in atomic if t not in data.atomic_exclude]
    if not atomic:
        raise ConfigError(f"data.atomic: no atomic task of the training tasks in the build {data_dir}")
    return atomic


def prepare_data(cfg: SFTConfig, out: Path, log: Log) -> TrainData:
    """The training tasks' train splits (held-out tasks removed), building the data first if asked."""
    if cfg.data.path:
        data_dir = Path(cfg.data.path)
    else:
        data_dir = out / "data"
        if not (data_dir / "manifest.json").exists():
            log(f"building task data from {cfg.data.build}")
            build(load_build_config(cfg.data.build, atomic=cfg.data.atomic or None), data_dir)
    manifest = read_manifest(data_dir)
    specs = task_specs(manifest, load_tasks())
    built = [t for t in manifest["tasks"] if t in specs and "derived_from" not in manifest["tasks"][t]]
    wanted = built if cfg.data.tasks == "all" else list(cfg.data.tasks)
    holdout = cfg.data.holdout_tasks()
    unknown = [t for t in [*wanted, *holdout] if t not in manifest["tasks"]]
    if unknown:
        raise ConfigError(f"data.tasks/holdout: not in the data build {data_dir}: {', '.join(unknown)}")
    names = [t for t in wanted if t not in holdout]
    derived: dict[str, int] = {}
    if cfg.data.atomic:
        atomic = atomic_tasks(manifest, names, cfg.data, data_dir)
        derived = {t: manifest["tasks"][t]["counts"]["train"] for t in atomic}
        names += atomic
    train = {t: load_records(data_dir, t, "train") for t in names}
    # Held out means unseen: no training task keeps a record of a held-out task's test entities (query, product,
    # offer, ...), not only the held-out task itself.
    unseen = heldout_keys({t: load_records(data_dir, t, "test") for t in holdout})
    removed: dict[str, int] = {}
    for t in names:
        train[t], removed[t] = remove_keys(train[t], unseen)
    if sum(removed.values()):
        log(f"removed {sum(removed.values())} train records sharing an entity with a held-out test split")
    data = TrainData(specs, train, holdout, data_dir, derived, removed)
    empty = [t for t, recs in data.train.items() if not recs]
    for t in empty:
        del data.train[t]
    if not data.train:
        raise ConfigError("no training examples: every selected task has an empty train split")
    return data


# ------------------------------------------------------------------------------------------ model
def build_model(cfg: SFTConfig, log: Log):
    from shoptune.models import load_causal_lm

    model, tokenizer = load_causal_lm(cfg.model)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if cfg.optim.gradient_checkpointing:
        # Non-reentrant checkpointing works with frozen embeddings (LoRA) and restores the RNG on recompute,
        # so dropout masks and therefore the result are the same as without it.
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    if cfg.lora.enabled:
        from peft import get_peft_model

        from shoptune.models.lora import peft_lora_config

        model = get_peft_model(model, peft_lora_config(cfg.lora, task_type="CAUSAL_LM"))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    log(f"trainable parameters: {trainable:,} of {total:,} ({100 * trainable / total:.2f}%)")
    return model, tokenizer, trainable, total


# ------------------------------------------------------------------------------------------ loop
class LazyEncoder:
    """Tokenise records on first use: a capped mixture touches a fraction of a large task's examples."""

    def __init__(self, tokenizer, data: TrainData, max_length: int) -> None:
        self.tokenizer, self.data, self.max_length = tokenizer, data, max_length
        self.sizes = {t: len(recs) for t, recs in sorted(data.train.items())}
        self._cache: dict[tuple[str, int], Sequence] = {}

    def get(self, task: str, index: int) -> Sequence:
        key = (task, index)
        if key not in self._cache:
            record = self.data.train[task][index]
            self._cache[key] = encode_record(self.tokenizer, self.data.specs[task], record, self.max_length)
        return self._cache[key]


def _epoch_batches(encoder: LazyEncoder, cfg: SFTConfig, epoch: int) -> list[list[Sequence]]:
    plan = epoch_plan(encoder.sizes, cfg.mixture, seed=cfg.optim.seed, epoch=epoch)
    seqs = [encoder.get(t, i) for t, i in plan]
    groups = length_grouped(
        [len(s) for s in seqs],
        batch_tokens=cfg.optim.batch_tokens,
        max_batch=cfg.optim.max_batch,
        seed=cfg.optim.seed * 1000 + epoch,
    )
    return [[seqs[i] for i in g] for g in groups]


def _planned_steps(encoder: LazyEncoder, cfg: SFTConfig, world: int = 1) -> tuple[int, list[int]]:
    """Optimizer steps in total and batches per epoch (the last epoch may be fractional); a step takes
    ``grad_accum`` micro-batches on each of ``world`` processes."""
    per_epoch = []
    for epoch in range(math.ceil(cfg.optim.epochs)):
        n = len(_epoch_batches(encoder, cfg, epoch))
        fraction = min(1.0, cfg.optim.epochs - epoch)
        per_epoch.append(max(1, int(n * fraction)))
    total = sum(per_epoch) // (cfg.optim.grad_accum * world)
    if cfg.optim.max_steps:
        total = min(total, cfg.optim.max_steps)
    return max(1, total), per_epoch


def run_sft(
    cfg: SFTConfig,
    out: Path,
    *,
    resume: bool = False,
    log: Log = print,
    progress: Callable[[int, int, dict], None] | None = None,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Train; returns the run summary. `stop_after` simulates a crash after that many steps (tests).

    Under ``accelerate launch`` / ``torchrun`` the run is data-parallel (:mod:`shoptune.training.distributed`):
    every rank returns the summary, only rank 0 writes.
    """
    dist = distributed()
    if cfg.data.path:
        read_manifest(cfg.data.path)  # a damaged build is reported before the run folder is made
    with dist.main_first():  # the others wait for rank 0 to check, mark and claim the run folder
        out = start_run_folder(cfg, Path(out), resume) if dist.is_main else Path(out)
    if not dist.is_main:
        log = _quiet
    random.seed(cfg.optim.seed)
    torch.manual_seed(cfg.optim.seed)
    with dist.main_first():  # rank 0 builds the data into the run folder; the others then read it
        data = prepare_data(cfg, out, log)
    model, tokenizer, trainable, total_params = build_model(cfg, log)
    model.to(dist.device)
    encoder = LazyEncoder(tokenizer, data, cfg.data.max_length)
    total_steps, per_epoch = _planned_steps(encoder, cfg, dist.world)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    scheduler = build_scheduler(
        optimizer, cfg.optim.scheduler, warmup_ratio=cfg.optim.warmup_ratio, total_steps=total_steps
    )
    state = {"step": 0, "epoch": 0, "batch": 0, "tokens": 0, "seconds": 0.0}
    ckpt_dir = out / "checkpoints"
    latest = latest_checkpoint(ckpt_dir) if resume else None
    if latest is not None:
        state.update(load_checkpoint(latest, model, optimizer, scheduler, run_key(cfg)))
        log(f"resumed from {latest.name} (step {state['step']})")
    mixtures = {}
    capability = {t: data.specs[t].capability for t in encoder.sizes}
    device = dist.device
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if cfg.optim.bf16 else nullcontext()
    model, optimizer = dist.prepare(model, optimizer)
    model.train()
    log_file = (out / "train_log.jsonl").open("a", encoding="utf-8") if dist.is_main else io.StringIO()
    if dist.is_main:
        record_written(out / "train_log.jsonl")
    # micro: micro-batches of all ranks, counted alike on each; a step after grad_accum x world of them
    step, micro, per_step = state["step"], 0, cfg.optim.grad_accum * dist.world
    window_tokens, window_loss, window_n, window_start = 0, 0.0, 0, time.perf_counter()
    unflushed = 0  # this rank's tokens not yet added to state["tokens"] (summed over ranks when flushed)
    try:
        for epoch in range(state["epoch"], len(per_epoch)):
            batches = _epoch_batches(encoder, cfg, epoch)[: per_epoch[epoch]]
            mixtures[f"epoch_{epoch}"] = realised_mixture([(s.task, 0) for b in batches for s in b], capability)
            start_batch = state["batch"] if epoch == state["epoch"] else 0
            for b_index in range(start_batch, len(batches)):
                if step >= total_steps:
                    break
                # this rank's last micro-batch of the step all-reduces the gradients, on every rank at once
                mine, last, micro = (
                    dist.owns(micro),
                    (micro % per_step) // dist.world == cfg.optim.grad_accum - 1,
                    micro + 1,
                )
                if mine:
                    batch = {k: v.to(device) for k, v in collate(batches[b_index], tokenizer.pad_token_id).items()}
                    with dist.sync(model, now=last):
                        with autocast:
                            loss = answer_only_loss(model, batch) / cfg.optim.grad_accum
                        dist.backward(loss)  # outside autocast, as always: the same gradients as before
                    useful = int(batch["attention_mask"].sum())
                    window_tokens += useful
                    unflushed += useful
                    window_loss += float(loss.detach()) * cfg.optim.grad_accum
                    window_n += 1
                if micro % per_step:
                    continue
                dist.clip(model, cfg.optim.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                state.update(step=step, epoch=epoch, batch=b_index + 1)
                if step % cfg.optim.log_every == 0 or step == total_steps:
                    elapsed = time.perf_counter() - window_start
                    # tokens and loss of every rank (a no-op alone)
                    window_tokens, window_n = dist.total(window_tokens), dist.total(window_n)
                    window_loss = dist.total(window_loss)
                    record = {
                        "step": step,
                        "epoch": epoch,
                        "loss": window_loss / max(1, window_n),
                        "lr": scheduler.get_last_lr()[0],
                        "tokens_per_s": window_tokens / max(elapsed, 1e-9),
                        "peak_rss_mb": peak_rss_mb(),
                    }
                    state["seconds"] += elapsed
                    log_file.write(json.dumps(record) + "\n")
                    log_file.flush()
                    if progress:
                        progress(step, total_steps, record)
                    window_tokens, window_loss, window_n, window_start = 0, 0.0, 0, time.perf_counter()
                if step % cfg.optim.checkpoint_every == 0:
                    state["tokens"] += int(dist.total(unflushed))
                    unflushed = 0
                    if dist.is_main:
                        save_checkpoint(
                            ckpt_dir, step, dist.unwrap(model), optimizer, scheduler, state, config=run_key(cfg)
                        )
                if stop_after is not None and step >= stop_after:
                    raise KeyboardInterrupt(f"simulated crash after step {step}")
            state["batch"] = 0
            if step >= total_steps:
                break
    finally:
        log_file.close()
    state["seconds"] += time.perf_counter() - window_start
    state["tokens"] += int(dist.total(unflushed))  # the tokens since the last checkpoint
    model = dist.unwrap(model)
    adapter_dir = out / "adapter"
    if dist.is_main:
        adapter_dir = save_adapter(model, tokenizer, cfg, data, out)
    summary = {
        "model": cfg.model,
        "steps": step,
        "trainable_parameters": trainable,
        "total_parameters": total_params,
        "train_tokens": state["tokens"],
        # examples drawn over all epochs (what a sweep plan multiplies by tokens per example)
        "examples": sum(sum(epoch["tasks"].values()) for epoch in mixtures.values()),
        "train_seconds": state["seconds"],
        "tokens_per_s": state["tokens"] / max(state["seconds"], 1e-9),
        # the process's peak resident memory so far (data, model, optimizer, the largest batch's activations)
        "peak_rss_mb": peak_rss_mb(),
        "tasks": sorted(encoder.sizes),
        "holdout": data.holdout,
        "derived_atomic_tasks": data.derived,
        "heldout_entities_removed": data.heldout_removed,
        "heldout_entities_removed_total": sum(data.heldout_removed.values()),
        "adapter": str(adapter_dir),
    }
    if dist.is_main:
        atomic_write_json(out / "mixture.json", mixtures)
        atomic_write_json(out / "summary.json", summary)
    dist.wait()
    return summary


def _quiet(message: str) -> None:
    """The log of ranks other than 0: rank 0 speaks for the run."""


def peak_rss_mb() -> float:
    """This process's peak resident memory, in MB (Linux reports KB, macOS bytes)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1 << 20) if sys.platform == "darwin" else peak / 1024, 1)


def save_adapter(model, tokenizer, cfg: SFTConfig, data: TrainData, out: Path) -> Path:
    """Adapter (or full model) + tokenizer with its chat template + the prompt templates it was trained on."""
    final = out / "adapter"
    with staging_dir(final, kind="sft-adapter") as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        run = {
            "base_model": cfg.model,
            "lora": cfg.lora.enabled,
            "trained_tasks": sorted(data.train),
            "holdout": data.holdout,
            "holdout_groups": cfg.data.holdout_groups(),
            "heldout_entities_removed": data.heldout_removed,
            "data_dir": str(data.data_dir),
            "prompts": {
                t: {"kind": data.specs[t].kind.value, "template": data.specs[t].prompt} for t in sorted(data.train)
            },
            "config": cfg.model_dump(mode="json"),
        }
        atomic_write_json(tmp / RUN_FILE, run)
    return final


# ------------------------------------------------------------------------------------------ run folder
#: Keys that may change between a run and its resumption: they do not change what is trained.
RESUMABLE_KEYS = {"optim": ("checkpoint_every", "log_every"), "eval": None}


def run_key(cfg: SFTConfig) -> dict[str, Any]:
    """The config as far as it decides the trained weights (what --resume must not change), and the number of
    data-parallel processes when there are several (a step's batches depend on it)."""
    data = cfg.model_dump(mode="json")
    for section, keys in RESUMABLE_KEYS.items():
        if keys is None:
            data.pop(section, None)
        else:
            for key in keys:
                data[section].pop(key, None)
    return data | distributed().run_key()


def check_run_folder(cfg: SFTConfig, out: Path, resume: bool) -> None:
    """Check --out before any work: a new or empty folder, or an SFT run (then only with --resume, same config)."""
    claim_output(out, "sft-run", inputs=[cfg.data.path, cfg.model])
    if not resume and (out / "checkpoints").exists():
        resume_flag, out_flag = argument_label("resume", "--resume"), argument_label("out", "--out")
        raise ConfigError(
            f"{out}: a run already exists there; pass {resume_flag} to continue it or choose another {out_flag}"
        )
    saved = out / "config.json"
    # Each checkpoint records the config too; config.json also covers a run killed before its first checkpoint.
    if resume and saved.is_file():
        try:
            previous = json.loads(saved.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ConfigError(f"{saved}: damaged; cannot check the config of the run to resume") from None
        refuse_changed_config(out, previous.get("run_key", {}), run_key(cfg))
    latest = latest_checkpoint(out / "checkpoints") if resume else None
    if latest is not None:
        read_checkpoint(latest, run_key(cfg))


def start_run_folder(cfg: SFTConfig, out: Path, resume: bool) -> Path:
    """``check_run_folder``, then mark the folder as an SFT run and record the config it trains with."""
    check_run_folder(cfg, out, resume)
    saved = out / "config.json"
    open_folder(out, "sft-run", inputs=[cfg.data.path, cfg.model])
    atomic_write_json(saved, {"run_key": run_key(cfg), "config": cfg.model_dump(mode="json")})
    return out
