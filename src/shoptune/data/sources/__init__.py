"""Source adapters: one module per raw dataset format, registered by name.

Example:
    >>> from shoptune.data.sources import get_source, list_sources
    >>> "home_depot" in list_sources()
    True
"""

from __future__ import annotations

import importlib
import pkgutil

from shoptune.data.sources.base import Source, ViewContext, ViewInfo, view

_REGISTRY: dict[str, type[Source]] = {}


def register(cls: type[Source]) -> type[Source]:
    """Class decorator: make a Source available by its ``name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"duplicate source name {cls.name!r}")
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtin() -> None:
    # Import every module in this package once so their @register decorators run.
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base":
            importlib.import_module(f"{__name__}.{info.name}")


def list_sources() -> dict[str, type[Source]]:
    _load_builtin()
    return dict(sorted(_REGISTRY.items()))


def get_source(name: str) -> Source:
    sources = list_sources()
    if name not in sources:
        raise KeyError(f"unknown source adapter {name!r} (known: {', '.join(sources)})")
    return sources[name]()


__all__ = ["Source", "ViewContext", "ViewInfo", "get_source", "list_sources", "register", "view"]
