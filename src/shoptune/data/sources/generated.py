"""The ``generated`` source adapter (instruction examples as JSON lines, as `shoptune data generate` writes them).

It lives in :mod:`shoptune.data.generate.source`; importing it here registers it with the other adapters.
"""

from shoptune.data.generate.source import Generated

__all__ = ["Generated"]
