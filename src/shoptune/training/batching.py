"""Length-grouped batching, both recipes' (and relevance inference's): sequences of similar length share a batch,
so padding costs little on a CPU.

Example:
    >>> batches = length_grouped([5, 90, 7, 88, 6, 91], batch_tokens=200, seed=0)
    >>> sorted(sorted(b) for b in batches)
    [[0, 2, 4], [1, 3], [5]]
    >>> length_grouped([5, 50, 6, 49], batch_tokens=100, max_batch=8, window=None)  # inference: sorted, in order
    [[0, 2], [3, 1]]
"""

from __future__ import annotations

import random
from collections.abc import Sequence as Seq

import torch

from shoptune.training.examples import IGNORE, Sequence


def length_grouped(
    lengths: Seq[int],
    *,
    batch_tokens: int,
    max_batch: int = 64,
    seed: int | str | None = None,
    window: int | None = 256,
    indices: Seq[int] | None = None,
    max_padding: float | None = None,
) -> list[list[int]]:
    """Indices grouped into batches of at most ``max_batch`` items and ``batch_tokens`` padded tokens (items x longest).

    ``indices`` (default: every position of ``lengths``, each an index into it) may repeat or come in any order,
    e.g. an epoch's draws. Sorting by length happens inside consecutive windows of ``window`` of them, so the
    order stays random at that scale while lengths inside a batch are close; ``window=None`` sorts everything
    (inference). With a ``seed`` the batch order is shuffled too; without one it stays sorted. ``max_padding``
    (inference) also starts a new batch before its padded tokens exceed that multiple of its real tokens: sorted
    lengths spread widely when rows of several tasks mix, and padding is compute spent on nothing.

    >>> length_grouped([14, 15, 16, 60, 64], batch_tokens=2048, window=None)
    [[0, 1, 2, 3, 4]]
    >>> length_grouped([14, 15, 16, 60, 64], batch_tokens=2048, window=None, max_padding=1.25)
    [[0, 1, 2], [3, 4]]
    """
    items = list(range(len(lengths)) if indices is None else indices)
    span = window if window is not None else max(1, len(items))
    batches: list[list[int]] = []
    for start in range(0, len(items), span):
        chunk = sorted(items[start : start + span], key=lambda i: (lengths[i], i))
        current: list[int] = []
        longest = real = 0
        for i in chunk:
            new_longest = max(longest, lengths[i])
            padded = new_longest * (len(current) + 1)
            wasteful = max_padding is not None and padded > max_padding * (real + lengths[i])
            if current and (padded > batch_tokens or len(current) >= max_batch or wasteful):
                batches.append(current)
                current, new_longest, real = [], lengths[i], 0
            current.append(i)
            longest, real = new_longest, real + lengths[i]
        if current:
            batches.append(current)
    if seed is not None:
        random.Random(seed).shuffle(batches)
    return batches


def collate(seqs: list[Sequence], pad_id: int, pad_to: int | None = None) -> dict[str, torch.Tensor]:
    """Right-pad a batch; `pad_to` pads every batch to one length (the padded-baseline behaviour)."""
    width = pad_to or max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    labels = torch.full((len(seqs), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, s in enumerate(seqs):
        n = min(len(s), width)
        ids[row, :n] = torch.tensor(s.input_ids[:n])
        labels[row, :n] = torch.tensor(s.labels[:n])
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
