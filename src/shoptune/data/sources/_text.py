"""Small text helpers shared by source adapters (normalised keys for grouping and de-duplication)."""

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
