"""Small text helpers shared by the data adapters and the task derivations (normalised keys, clipping).

It sits below both ``shoptune.data`` and ``shoptune.tasks`` and imports neither, so tasks never need the data
layer (which itself imports tasks).
"""

from __future__ import annotations

import re
from typing import Literal

_SPACE = re.compile(r"\s+")


def norm_key(text: str) -> str:
    """Lower-case and collapse whitespace: the key under which two queries/titles count as the same."""
    return _SPACE.sub(" ", text).strip().lower()


def clip(text: str, max_chars: int) -> str:
    """Shorten long descriptions on a word boundary so prompts stay within a small model's context."""
    text = _SPACE.sub(" ", text).strip()
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars].rsplit(" ", 1)[0]
    return cut + " …"


#: Characters of text allowed per token of a model's length limit before the text is tokenised (see
#: :func:`clip_chars`). Tokenizers spend about 4 characters of ordinary text on a token (English BPE and
#: WordPiece); their longest vocabulary entries run to a few dozen (runs of spaces or dashes in byte-level BPE,
#: 18 in MiniLM's WordPiece). 64 leaves room for markup, URLs and whitespace runs, so on real data a clipped
#: text still holds more tokens than the limit and truncation keeps exactly the tokens it kept before.
CHARS_PER_TOKEN = 64


def clip_chars(text: str, max_tokens: int, *, keep: Literal["start", "end"] = "start") -> str:
    """``text`` cut to ``max_tokens * CHARS_PER_TOKEN`` characters, before it is tokenised and truncated to
    ``max_tokens`` tokens: tokenising a 40 MB line whole took minutes and gigabytes to keep 128 tokens of it.

    ``keep="start"`` keeps the beginning (texts truncated from the right: relevance pairs, SFT answers);
    ``keep="end"`` keeps the end (prompts truncated from the left, whose question and ``Answer:`` come last).
    Texts within the bound are returned unchanged (the same object).

    >>> len(clip_chars("word " * 10_000, 128)), clip_chars("short", 128)
    (8192, 'short')
    >>> clip_chars("x" * 100 + "Answer:", 1, keep="end")[-7:]
    'Answer:'
    """
    if keep not in ("start", "end"):
        raise ValueError(f"keep must be 'start' or 'end', got {keep!r}")
    bound = max(1, max_tokens) * CHARS_PER_TOKEN
    if len(text) <= bound:
        return text
    return text[:bound] if keep == "start" else text[len(text) - bound :]
