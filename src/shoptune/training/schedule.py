"""The learning-rate schedule of both training recipes: transformers' linear or cosine decay after a linear warmup.

``warmup_ratio`` of the optimizer steps (rounded up) ramp the rate from 0 to its configured value; the rest decay
it to 0, in a straight line (``linear``) or along a half cosine (``cosine``, what EcomGPT trained with).

Example:
    >>> import torch
    >>> optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> scheduler = build_scheduler(optimizer, "linear", warmup_ratio=0.25, total_steps=4)
    >>> rates = []
    >>> for _ in range(4):
    ...     rates.append(scheduler.get_last_lr()[0])
    ...     optimizer.step()
    ...     scheduler.step()
    >>> [round(r, 3) for r in rates]
    [0.0, 1.0, 0.667, 0.333]
"""

from __future__ import annotations

import math
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
    return get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=total_steps)
