"""Recipe: train one relevance model on many entity-pair tasks jointly (or one model per task).

Read top to bottom; every step is a small builder you can swap:

1. ``prepare_data``     pick the pair tasks of a built data folder (building one first if the config says so)
2. ``load_pools``       each task's training pairs, capped per task (seeded)
3. ``build_model``      backbone + routing (none / prefix / multihead / mhp) + heads; LoRA for decoders
4. ``plan_epochs``      task-balanced sampling per epoch (seeded, re-drawn each epoch) -> length-sorted,
                        task-homogeneous dynamic batches; realised counts go to ``sampling.json``
5. ``build_optimizer``  AdamW with separate learning rates for shared / private / head weights, warmup + decay
6. the loop             cross-entropy, gradient clipping, checkpoints every N steps, ``--resume`` after a kill
7. ``save_model``       a servable artifact in ``RUN/model``
8. ``fit_run_decision`` the decision rule (per-task temperature and label biases, fitted on dev) stored in it
9. ``evaluate_run``     metrics per split in ``RUN/eval`` (argmax and rule, calibration, ranking)

Run folder::

    RUN/config.yaml  resolved config        RUN/sampling.json  realised task counts per epoch
    RUN/train_log.jsonl  loss/lr/speed      RUN/checkpoints/   last resumable state (removed when done)
    RUN/model/       the artifact           RUN/eval/<split>/  metrics.json + predictions.jsonl
    RUN/run.json     summary (family, routing, timings, parameter counts)

Example:
    >>> from shoptune.relevance.config import load_config
    >>> cfg = load_config("configs/relevance_minilm.yaml")  # doctest: +SKIP
    >>> train(cfg, "runs/rel-minilm")  # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from shoptune.errors import ConfigError, ShoptuneError, argument_label
from shoptune.io import (
    atomic_write_json,
    atomic_write_text,
    claim_output,
    open_folder,
    record_written,
    safe_component,
    staging_dir,
)
from shoptune.records import LABELS
from shoptune.relevance.config import RelevanceConfig
from shoptune.relevance.data import Pair, load_split, read_build_manifest, select_tasks, task_sources
from shoptune.relevance.decision import fit_decision
from shoptune.relevance.model import (
    ARTIFACT_FILE,
    RelevanceModel,
    build_model,
    collate,
    count_parameters,
    encode_pairs,
    save_model,
)
from shoptune.relevance.predictor import Prediction, artifact_info, load_predictor, use_bf16
from shoptune.relevance.ranking import ranking_tasks
from shoptune.relevance.sampling import draw_epoch
from shoptune.relevance.scoring import evaluate_pairs
from shoptune.training.batching import length_grouped
from shoptune.training.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    read_checkpoint,
    remove_checkpoints,
    save_checkpoint,
)
from shoptune.training.distributed import distributed
from shoptune.training.schedule import build_scheduler

LABEL_INDEX = {label: i for i, label in enumerate(LABELS)}
console = Console(stderr=True)


@dataclass
class Batch:
    task: str
    indices: list[int]


@dataclass
class TrainState:
    """Where training stands; saved in every checkpoint."""

    step: int = 0
    epoch: int = 0
    seconds: float = 0.0
    pairs_seen: int = 0
    losses: list[float] = field(default_factory=list)


# ============================================================================================ entry point
def train(
    cfg: RelevanceConfig,
    out: str | Path,
    *,
    resume: bool = False,
    stop_after: int | None = None,
    quiet: bool = False,
) -> Path:
    """Train (and evaluate) per ``cfg`` into ``out``; returns the artifact folder.

    ``resume`` continues from the last checkpoint in ``out/checkpoints``. ``stop_after`` stops after that many
    optimizer steps of this call, leaving a checkpoint exactly as a kill after a checkpoint would (used to test
    resuming).

    Under ``accelerate launch`` / ``torchrun`` training is data-parallel (:mod:`shoptune.training.distributed`):
    only rank 0 writes, and the decision rules and the evaluation run on rank 0 after training.
    """
    dist = distributed()
    quiet = quiet or not dist.is_main
    if cfg.data.path:
        read_build_manifest(cfg.data.path)  # a damaged build is reported before the run folder is made
    with dist.main_first():  # rank 0 checks and claims the run folder and builds the data; the others then read
        out = start_run_folder(cfg, Path(out), resume) if dist.is_main else Path(out)
        root, tasks = prepare_data(cfg, out, quiet=quiet)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    if dist.is_main:
        atomic_write_text(out / "config.yaml", yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    if not cfg.single_task:
        return train_run(cfg, root, tasks, out, resume=resume, stop_after=stop_after, quiet=quiet)
    # Single-task baselines: the same recipe once per task, then one per-task artifact serving them all.
    done: dict[str, str] = {}
    for task in tasks:
        sub = out / "single" / safe_component(task, "task")
        artifact = sub / "model"
        if not (artifact / ARTIFACT_FILE).is_file():
            sub.mkdir(parents=True, exist_ok=True)
            train_run(
                cfg,
                root,
                [task],
                sub,
                resume=resume or (sub / "checkpoints").is_dir(),
                stop_after=stop_after,
                quiet=quiet,
                evaluate=False,
            )
            dist.wait()  # every rank sees the same files before the next task (rank 0 wrote this one's model)
            if not (artifact / ARTIFACT_FILE).is_file():  # stopped early (stop_after)
                return artifact
        done[task] = f"../single/{task}/model"
    model_dir = out / "model"
    if not dist.is_main:
        return model_dir
    model_dir.mkdir(exist_ok=True)
    manifest = {
        "format": "shoptune-relevance",
        "version": 1,
        "kind": "per_task",
        "members": done,
        "family": cfg.model.family,
        "routing": cfg.model.routing,
        "tasks": tasks,
        "task_sources": task_sources(root, tasks),
    }
    atomic_write_json(model_dir / ARTIFACT_FILE, manifest)
    summaries = [json.loads((out / "single" / t / "run.json").read_text()) for t in tasks]
    summary = run_summary(cfg, tasks, None, summaries=summaries)
    evaluate_run(cfg, root, tasks, out, quiet=quiet)
    atomic_write_json(out / "run.json", summary)
    return model_dir


def start_run_folder(cfg: RelevanceConfig, out: Path, resume: bool) -> Path:
    """Check --out before any work: new, empty, or a relevance run (then only with --resume)."""
    inputs = [p for p in (cfg.data.path, cfg.model.name) if p]
    claim_output(out, "relevance-run", inputs=inputs)
    started_before = [name for name in ("model", "checkpoints", "single") if (out / name).exists()]
    if started_before and not resume:
        resume_flag, out_flag = argument_label("resume", "--resume"), argument_label("out", "--out")
        raise ShoptuneError(
            f"{out}: already holds a run ({', '.join(started_before)}); use {resume_flag} or a new {out_flag}"
        )
    for folder in [out, *sorted((out / "single").glob("*"))] if resume else []:
        if (folder / "checkpoint" / "state.json").is_file():
            # Before the shared checkpoint module a run kept one flat checkpoint/ folder: say so, never retrain
            # silently from step 0 over it.
            raise ShoptuneError(
                f"{folder / 'checkpoint'}: a checkpoint of an older shoptune layout; it cannot be resumed, "
                "start a new --out"
            )
        latest = latest_checkpoint(folder / "checkpoints")
        if latest is not None:  # damage or a changed config is reported before any work
            read_checkpoint(latest, _config_key(cfg))
    return open_folder(out, "relevance-run", inputs=inputs)


# ============================================================================================ 1-2. data
def prepare_data(cfg: RelevanceConfig, out: Path, *, quiet: bool = False) -> tuple[Path, list[str]]:
    """The built data folder and the selected pair tasks (building RUN/data first when ``data.build`` is set)."""
    if cfg.data.path:
        root = Path(cfg.data.path)
    else:
        root = out / "data"
        if not (root / "manifest.json").is_file():
            build_pair_data(cfg, root, quiet=quiet)
    return root, select_tasks(root, cfg.data.tasks, cfg.data.exclude)


def build_pair_data(cfg: RelevanceConfig, root: Path, *, quiet: bool = False) -> None:
    """Build only the pair tasks of ``cfg.data.build`` (a `shoptune data build` config) into ``root``."""
    from shoptune.data.build import build, load_build_config
    from shoptune.data.build import select_tasks as select_build_tasks

    build_cfg = load_build_config(cfg.data.build or "")
    if cfg.data.tasks == "all":
        chosen = [t.name for t in select_build_tasks(build_cfg) if t.kind.value == "pair_relevance"]
    else:
        chosen = list(cfg.data.tasks)
    build_cfg.tasks = [t for t in chosen if t not in cfg.data.exclude]
    if not build_cfg.tasks:
        raise ConfigError(f"{cfg.data.build}: no pair_relevance tasks with files under {build_cfg.data_root}")
    if not quiet:
        console.print(f"[bold]building[/] {len(build_cfg.tasks)} pair tasks into {root}")
    build(build_cfg, root)


def load_pools(cfg: RelevanceConfig, root: Path, tasks: list[str]) -> dict[str, list[Pair]]:
    """Each task's training pool (seeded subsample when ``data.max_train_per_task`` is set)."""
    pools = {t: load_split(root, t, "train", cfg.data.max_train_per_task, seed=cfg.train.seed) for t in tasks}
    empty = [t for t, p in pools.items() if not p]
    if empty:
        raise ShoptuneError(f"task(s) without training pairs: {', '.join(empty)}")
    return pools


# ============================================================================================ 4. plan
def plan_epochs(cfg: RelevanceConfig, lengths: dict[str, list[int]]) -> tuple[list[list[Batch]], list[dict[str, Any]]]:
    """Batches of every epoch, and the realised sampling (drawn, distinct, batches per task) per epoch."""
    sizes = {t: len(v) for t, v in lengths.items()}
    plans: list[list[Batch]] = []
    realised: list[dict[str, Any]] = []
    for epoch in range(cfg.train.epochs):
        drawn = draw_epoch(sizes, cfg.mixture, cfg.train.seed, epoch)
        batches: list[Batch] = []
        report: dict[str, Any] = {}
        for task in sorted(drawn):
            groups = length_grouped(
                lengths[task],
                indices=drawn[task],
                batch_tokens=cfg.train.batch_tokens,
                max_batch=cfg.train.max_batch,
                window=cfg.train.sort_window * cfg.train.max_batch,  # sort_window counts batches
                seed=f"{cfg.train.seed}:window:{epoch}:{task}",
            )
            batches.extend(Batch(task, g) for g in groups)
            report[task] = {
                "pool": sizes[task],
                "drawn": len(drawn[task]),
                "distinct": len(set(drawn[task])),
                "batches": len(groups),
            }
        random.Random(f"{cfg.train.seed}:batches:{epoch}").shuffle(batches)
        plans.append(batches)
        realised.append({"epoch": epoch, "tasks": report, "batches": len(batches)})
    return plans, realised


# ============================================================================================ 5. optimizer
def build_optimizer(
    cfg: RelevanceConfig, model: RelevanceModel, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW (no decay on biases and norms) and the configured warmup + linear or cosine decay schedule."""
    t = cfg.train
    rates = {"shared": t.lr, "private": t.private_lr or t.lr, "heads": t.head_lr or t.lr}
    groups = []
    for role, params in model.param_groups().items():
        decay = [p for p in params if p.ndim >= 2]
        no_decay = [p for p in params if p.ndim < 2]
        for chosen, wd in ((decay, t.weight_decay), (no_decay, 0.0)):
            if chosen:
                groups.append({"params": chosen, "lr": rates[role], "weight_decay": wd, "name": role})
    optimizer = torch.optim.AdamW(groups)
    return optimizer, build_scheduler(optimizer, t.scheduler, warmup_ratio=t.warmup_ratio, total_steps=total_steps)


# ============================================================================================ 6. the loop
def train_run(
    cfg: RelevanceConfig,
    root: Path,
    tasks: list[str],
    out: Path,
    *,
    resume: bool = False,
    stop_after: int | None = None,
    quiet: bool = False,
    evaluate: bool = True,
) -> Path:
    """Train one model on ``tasks`` into ``out`` (checkpoint, artifact, evaluation, run.json)."""
    dist = distributed()
    seed = cfg.train.seed
    torch.manual_seed(seed)
    pools = load_pools(cfg, root, tasks)
    model, tokenizer = build_model(cfg.model, tasks, seed=seed, task_sources=task_sources(root, tasks))
    model.to(dist.device)
    features = {
        t: encode_pairs(tokenizer, model.info, [p.left for p in ps], [p.right for p in ps], [t] * len(ps))
        for t, ps in pools.items()
    }
    lengths = {t: [len(f["input_ids"]) for f in fs] for t, fs in features.items()}
    plans, realised = plan_epochs(cfg, lengths)
    if dist.is_main:
        sampling = {"strategy": cfg.mixture.model_dump(mode="json"), "epochs": realised}
        atomic_write_json(out / "sampling.json", sampling)
    # One optimizer step takes grad_accum batches on each of the `world` ranks (rank r the r-th, (r+world)-th, ...
    # of the step's group), so W processes take the steps one process takes with grad_accum x W, gradients averaged.
    per_step = cfg.train.grad_accum * dist.world
    batches = [(epoch, b) for epoch, plan in enumerate(plans) for b in plan]
    flat = [batches[i : i + per_step] for i in range(0, len(batches) - per_step + 1, per_step)]
    if not flat:
        raise ConfigError(
            f"train.grad_accum: a step takes {per_step} batches ({cfg.train.grad_accum} on each of {dist.world} "
            f"process(es)), but the plan has only {len(batches)}: lower it or train on more pairs"
        )
    optimizer, scheduler = build_optimizer(cfg, model, len(flat))
    state = TrainState()
    ckpt = out / "checkpoints"
    latest = latest_checkpoint(ckpt) if resume else None
    if latest is not None:
        state = TrainState(**load_checkpoint(latest, model, optimizer, scheduler, _config_key(cfg)))
    elif resume and (out / "model" / ARTIFACT_FILE).is_file():
        if not quiet:
            console.print(f"{out}: already trained; nothing to resume")
        return out / "model"
    bf16 = use_bf16(cfg.train.bf16, dist.device)
    log = (out / "train_log.jsonl").open("a", encoding="utf-8") if dist.is_main else io.StringIO()
    if dist.is_main:
        record_written(out / "train_log.jsonl")
    model, optimizer = dist.prepare(model, optimizer)
    model.train()
    stopped = False
    started, done_here = time.perf_counter(), 0
    with _progress(quiet) as bar:
        job = bar.add_task("train", total=len(flat), completed=state.step, info="")
        for group in flat[state.step :]:
            mine = group[dist.rank :: dist.world]
            step_loss = 0.0
            for k, (_, batch) in enumerate(mine):
                pairs = [features[batch.task][i] for i in batch.indices]
                inputs = {key: v.to(dist.device) for key, v in collate(pairs, tokenizer.pad_token_id).items()}
                labels = [LABEL_INDEX[pools[batch.task][i].label or ""] for i in batch.indices]
                target = torch.tensor(labels, device=dist.device)
                # the gradients are all-reduced on each rank's last batch of the step, on every rank at once
                with dist.sync(model, now=k == len(mine) - 1):
                    with torch.autocast(dist.device.type, dtype=torch.bfloat16, enabled=bf16):
                        logits = model(inputs, batch.task)
                    loss = torch.nn.functional.cross_entropy(logits.float(), target) / len(mine)
                    dist.backward(loss)
                step_loss += float(loss.detach())
            dist.clip(model, cfg.train.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            epoch = group[-1][0]
            state.step, state.epoch = state.step + 1, epoch
            state.pairs_seen += sum(len(b.indices) for _, b in group)
            state.losses.append(dist.total(step_loss) / dist.world)
            done_here += 1
            info = f"epoch {epoch + 1} loss {_mean(state.losses[-50:]):.4f}"
            bar.update(job, advance=1, info=info)
            if bar.disable and not quiet and state.step % (cfg.train.log_every * 10) == 0:
                console.print(f"step {state.step}/{len(flat)} {info}", highlight=False)
            if state.step % cfg.train.log_every == 0:
                _log_line(log, state, scheduler, started, done_here)
            epoch_end = state.step == len(flat) or flat[state.step][0][0] != epoch
            if state.step % cfg.train.checkpoint_every == 0 or epoch_end:
                state.seconds += time.perf_counter() - started
                started = time.perf_counter()
                if dist.is_main:
                    _save(ckpt, cfg, dist.unwrap(model), optimizer, scheduler, state)
            if stop_after is not None and done_here >= stop_after:
                stopped = state.step < len(flat)
                break
    log.close()
    state.seconds += time.perf_counter() - started
    model = dist.unwrap(model)
    if stopped and dist.is_main:
        _save(ckpt, cfg, model, optimizer, scheduler, state)
    if stopped or not dist.is_main:  # rank 0 writes the model, fits the rules and evaluates; the others are done
        return out / "model"
    model.eval()
    artifact = out / "model"
    with staging_dir(artifact, kind="relevance-model") as tmp:
        save_model(model, tokenizer, tmp)
    summary = run_summary(cfg, tasks, model, state=state, pools=pools)
    started = time.perf_counter()
    scored = fit_run_decision(cfg, root, tasks, artifact, quiet=quiet)
    summary["decision_seconds"] = round(time.perf_counter() - started, 1)
    atomic_write_json(out / "run.json", summary)
    if evaluate:
        evaluate_run(cfg, root, tasks, out, quiet=quiet, scored=scored)
    remove_checkpoints(ckpt)
    return artifact


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _log_line(log: Any, state: TrainState, scheduler: Any, started: float, done_here: int) -> None:
    lrs = {g.get("name", str(i)): g["lr"] for i, g in enumerate(scheduler.optimizer.param_groups)}
    log.write(
        json.dumps(
            {
                "step": state.step,
                "epoch": state.epoch,
                "loss": _mean(state.losses[-50:]),
                "lr": lrs,
                "pairs_seen": state.pairs_seen,
                "steps_per_s": done_here / max(time.perf_counter() - started, 1e-9),
            }
        )
        + "\n"
    )
    log.flush()


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("[bold]training[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet or not sys.stderr.isatty(),
    )


# ============================================================================================ checkpoints
def _config_key(cfg: RelevanceConfig) -> dict[str, Any]:
    """What must not change between a run and its resumption (evaluation and checkpointing may)."""
    data = cfg.model_dump(mode="json")
    data.pop("eval")
    data.pop("decision")  # fitted after training: changing it never invalidates a checkpoint
    for key in ("checkpoint_every", "threads", "log_every"):
        data["train"].pop(key)
    if data["train"]["grad_accum"] == 1:  # the default: a run from before the option existed still resumes
        data["train"].pop("grad_accum")
    return data | distributed().run_key()


def _save(
    folder: Path,
    cfg: RelevanceConfig,
    model: RelevanceModel,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    state: TrainState,
) -> None:
    """One checkpoint (the only one kept: a relevance run resumes from its last), with the run's config key."""
    # The last 200 losses are enough for the progress bar's running mean.
    loop = {**state.__dict__, "losses": state.losses[-200:]}
    save_checkpoint(folder, state.step, model, optimizer, scheduler, loop, config=_config_key(cfg), keep=1)


# ============================================================================================ 8. decision rule
def fit_run_decision(
    cfg: RelevanceConfig, root: Path, tasks: list[str], artifact: Path, *, quiet: bool = False
) -> dict[str, tuple[list[Pair], np.ndarray]]:
    """Fit the configured decision rule on the dev split and store it in the artifact.

    Returns the dev pairs and their raw probabilities (``{"dev": (pairs, raw)}``, empty when nothing was fitted),
    so evaluating dev afterwards costs no second scoring pass. Without dev pairs the model stays argmax.
    """
    from shoptune.data.store import split_path

    spec = cfg.decision
    if spec.rule == "argmax" and not spec.temperature:
        return {}
    # The same pairs evaluation scores on dev (seed 0, the same cap), so their scores can be reused.
    pairs = [
        p
        for t in tasks
        if split_path(root, t, "dev").is_file()
        for p in load_split(root, t, "dev", cfg.data.max_eval_per_task, seed=0)
    ]
    if not pairs:
        return {}
    written, raw = fit_decision(
        artifact,
        pairs,
        rule=spec.rule,
        metric=spec.metric,
        temperature=spec.temperature,
        min_pairs=spec.min_pairs,
        fitted_on=f"dev split of {root}",
        max_tokens=cfg.eval.batch_tokens,
        bf16=cfg.eval.bf16,
    )
    if not quiet:
        for rules in written.values():
            for task, rule in rules.tasks.items():
                fit = rule.fit
                console.print(
                    f"decision rule {task}: dev {spec.metric} {fit[spec.metric]:.4f} (argmax) -> "
                    f"{fit[spec.metric + '_rule']:.4f} (rule), T {rule.temperature:.2f}, "
                    f"ECE {fit['ece']:.3f} -> {fit['ece_temperature']:.3f}",
                    highlight=False,
                )
    return {"dev": (pairs, raw)}


# ============================================================================================ 9. evaluation
def evaluate_run(
    cfg: RelevanceConfig,
    root: Path,
    tasks: list[str],
    out: Path,
    *,
    quiet: bool = False,
    scored: dict[str, tuple[list[Pair], np.ndarray]] | None = None,
) -> None:
    """Score the saved artifact (exactly what will be served) on each configured split.

    ``scored`` holds raw probabilities already computed for a split (the dev pairs the rule was fitted on).
    """
    predictor = load_predictor(out / "model", max_tokens=cfg.eval.batch_tokens, bf16=cfg.eval.bf16)
    ranking = ranking_tasks(artifact_info(out / "model").get("task_sources") or {}, tasks)
    for split in cfg.eval.splits:
        prediction = None
        if scored and split in scored:
            pairs, raw = scored[split]
            prediction = Prediction.from_raw(raw, [p.task for p in pairs], getattr(predictor, "rules", None))
        else:
            # Seed 0, not the training seed: runs of different seeds must be scored on the same pairs.
            pairs = [p for t in tasks for p in load_split(root, t, split, cfg.data.max_eval_per_task, seed=0)]
        if not pairs:
            continue
        started = time.perf_counter()
        metrics = evaluate_pairs(
            predictor,
            pairs,
            out / "eval" / split,
            n_resamples=cfg.eval.bootstrap,
            extra={"split": split, "model": str(out / "model")},
            ranking=ranking,
            prediction=prediction,
        )
        if not quiet:
            mean = metrics["mean_over_tasks"]
            console.print(
                f"{split}: mean over {mean['tasks']} tasks accuracy {mean['accuracy']:.4f}, macro-F1 "
                f"{mean['macro_f1']:.4f} (argmax) / {mean['macro_f1_rule']:.4f} (decision rule) "
                f"({len(pairs)} pairs, {time.perf_counter() - started:.0f}s)"
            )


def run_summary(
    cfg: RelevanceConfig,
    tasks: list[str],
    model: RelevanceModel | None,
    *,
    state: TrainState | None = None,
    pools: dict[str, list[Pair]] | None = None,
    summaries: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """run.json: what was trained, on what, how fast, how big (summed over members for single-task runs)."""
    summary: dict[str, Any] = {
        "family": cfg.model.family,
        "routing": cfg.model.routing,
        "base_model": cfg.model.model_name,
        "private_layers": cfg.model.private_layers if cfg.model.routing == "mhp" else 0,
        "single_task": cfg.single_task,
        "seed": cfg.train.seed,
        "tasks": tasks,
    }
    if summaries is not None:
        summary["train_pairs"] = {k: v for s in summaries for k, v in s["train_pairs"].items()}
        for key in ("steps", "train_seconds", "pairs_seen", "parameters", "trainable_parameters"):
            summary[key] = sum(s[key] for s in summaries)
    else:
        assert model is not None and state is not None and pools is not None
        summary.update(
            {
                "train_pairs": {t: len(p) for t, p in pools.items()},
                "steps": state.step,
                "train_seconds": round(state.seconds, 1),
                "pairs_seen": state.pairs_seen,
                "parameters": count_parameters(model),
                "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
            }
        )
    summary["pairs_per_second"] = round(summary["pairs_seen"] / max(summary["train_seconds"], 1e-9), 2)
    return summary
