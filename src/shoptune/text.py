"""Small text helpers shared by the data adapters and the task derivations (normalised keys, clipping).

It sits below both ``shoptune.data`` and ``shoptune.tasks`` and imports neither, so tasks never need the data
layer (which itself imports tasks).
"""

from __future__ import annotations

import re

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
