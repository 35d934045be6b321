"""Data-parallel training under ``accelerate launch`` (or ``torchrun``), shared by both recipes.

One process per device (or per CPU slot, on the gloo backend). Every rank builds the same model from the same
seed and walks the same plan of micro-batches; micro-batch ``m`` belongs to rank ``m % world``, and an optimizer
step is taken after ``grad_accum x world`` micro-batches of all ranks, with the gradients averaged across ranks
(DDP through accelerate, or FSDP / DeepSpeed when the accelerate config asks for them). So a run on ``W``
processes with ``grad_accum: k`` takes the same steps on the same batches as one process with ``grad_accum: k*W``
(``tests/training/test_distributed.py`` checks the weights). Only rank 0 writes: logs, checkpoints, the adapter or
model, summaries. A single process (no ``WORLD_SIZE``, or 1) never imports accelerate and runs exactly as before.

Example:
    >>> dist = distributed()
    >>> (dist.rank, dist.world, dist.is_main)
    (0, 1, True)
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
from torch import nn

from shoptune.errors import ShoptuneError
from shoptune.training.schedule import clip_gradients


@dataclass
class Distributed:
    """The process group this process trains in (``accelerator`` is None for a single process)."""

    rank: int = 0
    world: int = 1
    accelerator: Any = None

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that writes files."""
        return self.rank == 0

    @property
    def device(self) -> torch.device:
        """Where this rank trains: the launcher's device, else the GPU when there is one, else the CPU."""
        from shoptune.models import default_device

        return self.accelerator.device if self.accelerator is not None else default_device()

    def run_key(self) -> dict[str, int]:
        """What a checkpoint records of the process group: its size when several (a resume on another number of
        processes would take other batches per step, and is refused); nothing alone, so a single-process run
        resumes as it always did."""
        return {"processes": self.world} if self.world > 1 else {}

    def owns(self, micro: int) -> bool:
        """Whether micro-batch number ``micro`` (counted alike on every rank) is this rank's to run."""
        return micro % self.world == self.rank

    def prepare(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[nn.Module, Any]:
        """Wrap for data parallelism (DDP / FSDP / DeepSpeed per the accelerate config); a no-op alone."""
        if self.accelerator is None:
            return model, optimizer
        return self.accelerator.prepare(model, optimizer)

    def unwrap(self, model: nn.Module) -> nn.Module:
        return self.accelerator.unwrap_model(model) if self.accelerator is not None else model

    @contextlib.contextmanager
    def sync(self, model: nn.Module, now: bool) -> Iterator[None]:
        """Forward and backward inside this block all-reduce the gradients only when ``now`` (the last
        micro-batch before an optimizer step); before that they accumulate locally."""
        if self.accelerator is None or now:
            yield
        else:
            with self.accelerator.no_sync(model):
                yield

    def backward(self, loss: torch.Tensor) -> None:
        if self.accelerator is None:
            loss.backward()
        else:
            self.accelerator.backward(loss)

    def clip(self, model: nn.Module, max_norm: float | None) -> None:
        """Clip the total gradient norm (0 or None: no clipping, as :func:`clip_gradients`)."""
        params = [p for p in model.parameters() if p.requires_grad]
        if self.accelerator is None:
            clip_gradients(params, max_norm)
        elif max_norm:
            self.accelerator.clip_grad_norm_(params, max_norm)

    def total(self, value: float) -> float:
        """The sum of ``value`` over all ranks (every rank must call it at the same point)."""
        if self.accelerator is None:
            return value
        return float(self.accelerator.reduce(torch.tensor([value], dtype=torch.float64, device=self.device), "sum"))

    def wait(self) -> None:
        """A barrier: every rank reaches this line before any goes on."""
        if self.accelerator is not None:
            self.accelerator.wait_for_everyone()

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        """Rank 0 runs the block first (e.g. builds data into the run folder); the others after it."""
        if self.accelerator is None:
            yield
        else:
            with self.accelerator.main_process_first():
                yield


@functools.cache
def distributed() -> Distributed:
    """The process group from the launcher's environment (``WORLD_SIZE``/``RANK``, set by ``accelerate launch``
    and ``torchrun``); a single process when there is none. One per process: every recipe call shares it."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return Distributed()
    from accelerate import Accelerator, DistributedDataParallelKwargs, InitProcessGroupKwargs
    from accelerate.utils import DistributedType

    accelerator = Accelerator(
        cpu=not torch.cuda.is_available(),  # else accelerate ignores WORLD_SIZE on a CPU-only machine
        kwargs_handlers=[
            # Per-task heads and private layers (relevance) are used by some ranks' batches and not others': DDP
            # must look for unused parameters, or it waits forever for their gradients.
            DistributedDataParallelKwargs(find_unused_parameters=True),
            # Rank 0 alone fits decision rules and writes models between barriers: give it hours, not minutes.
            InitProcessGroupKwargs(timeout=timedelta(hours=6)),
        ],
    )
    if accelerator.distributed_type not in (DistributedType.MULTI_GPU, DistributedType.MULTI_CPU):
        raise ShoptuneError(
            f"accelerate's {accelerator.distributed_type.value}: shoptune trains data-parallel with DDP only "
            "(configs/accelerate/multi_gpu_ddp.yaml or cpu_ddp.yaml); FSDP and DeepSpeed are not supported yet"
        )
    return Distributed(rank=accelerator.process_index, world=accelerator.num_processes, accelerator=accelerator)
