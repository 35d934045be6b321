"""Length-grouped batching: sequences of similar length share a batch, so padding costs little on a CPU.

Example:
    >>> batches = length_grouped([5, 90, 7, 88, 6, 91], batch_tokens=200, seed=0)
    >>> sorted(sorted(b) for b in batches)
    [[0, 2, 4], [1, 3], [5]]
"""

from __future__ import annotations

import random

import torch

from shoptune.training.examples import IGNORE, Sequence


def length_grouped(
    lengths: list[int], *, batch_tokens: int, max_batch: int = 64, seed: int = 0, window: int = 256
) -> list[list[int]]:
    """Indices grouped into batches of at most `batch_tokens` padded tokens.

    The order is kept random at the scale of `window` examples (sorting within each window only), so the
    mixture stays shuffled while lengths inside a batch are close. Batch order is then shuffled too.
    """
    rng = random.Random(seed)
    batches: list[list[int]] = []
    for start in range(0, len(lengths), window):
        chunk = sorted(range(start, min(start + window, len(lengths))), key=lambda i: lengths[i])
        current: list[int] = []
        longest = 0
        for i in chunk:
            new_longest = max(longest, lengths[i])
            if current and (new_longest * (len(current) + 1) > batch_tokens or len(current) >= max_batch):
                batches.append(current)
                current, new_longest = [], lengths[i]
            current.append(i)
            longest = new_longest
        if current:
            batches.append(current)
    rng.shuffle(batches)
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
