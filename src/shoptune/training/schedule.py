"""The learning-rate schedule of both training recipes: transformers' linear or cosine decay after a linear warmup.

``warmup_ratio`` of the optimizer steps (rounded up) ramp the rate up to its configured value; the rest decay it
towards 0, in a straight line (``linear``) or along a half cosine (``cosine``, what EcomGPT trained with). No
optimizer step runs at a rate of 0: transformers' schedules start the warmup at 0, which wastes the first step --
one step in seven of a short sweep arm -- so with a warmup the schedule is read one step ahead (over one step more).

Example:
    >>> import torch
    >>> optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> scheduler = build_scheduler(optimizer, "linear", warmup_ratio=0.5, total_steps=4)
    >>> rates = []
    >>> for _ in range(4):
    ...     rates.append(scheduler.get_last_lr()[0])
    ...     optimizer.step()
    ...     scheduler.step()
    >>> [round(r, 3) for r in rates]
    [0.5, 1.0, 0.667, 0.333]
"""

from __future__ import annotations

import math
import warnings
from typing import Literal

import torch

#: The schedules a config may name (``optim.scheduler`` / ``train.scheduler``).
SchedulerName = Literal["linear", "cosine"]


def build_scheduler(
    optimizer: torch.optim.Optimizer, name: SchedulerName, *, warmup_ratio: float, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """transformers' ``get_scheduler(name)`` over ``total_steps`` optimizer steps, warming up ``warmup_ratio`` of them.

    The same factor applies to every parameter group, so the relevance recipe's per-group rates keep their ratios.
    """
    from transformers import get_scheduler

    warmup = math.ceil(warmup_ratio * total_steps)
    shift = 1 if warmup else 0  # read the schedule one step ahead: the first step warms up at 1/warmup, not 0
    scheduler = get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=total_steps + shift)
    if shift:
        with warnings.catch_warnings():  # torch warns of a scheduler step before any optimizer step: intended
            warnings.simplefilter("ignore", UserWarning)
            scheduler.step()
    return scheduler


def clip_gradients(parameters: list[torch.nn.Parameter], max_norm: float | None) -> None:
    """Clip the gradients' total norm to ``max_norm``; ``None`` or ``0`` mean no clipping, in both recipes.

    (``clip_grad_norm_`` itself reads 0 as "clip to norm 0", which zeroes every gradient: never what a config
    saying ``max_grad_norm: 0`` means.)

    >>> p = torch.nn.Parameter(torch.zeros(2)); p.grad = torch.tensor([3.0, 4.0])
    >>> clip_gradients([p], 0); p.grad.tolist()
    [3.0, 4.0]
    >>> clip_gradients([p], 1.0); [round(g, 2) for g in p.grad.tolist()]
    [0.6, 0.8]
    """
    if max_norm:
        torch.nn.utils.clip_grad_norm_(parameters, max_norm)
