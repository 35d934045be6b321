"""The demo's configs and data, wherever shoptune runs from.

In a checkout they are the repository's ``configs/`` and ``demo/`` folders; an installed wheel carries copies as
``shoptune/_bundled/configs`` and ``shoptune/_bundled/demo`` (setup.py maps them), in the same places relative to
each other, so ``configs/data_demo.yaml``'s ``data_root: ../demo/data`` resolves in both.

Example:
    >>> from shoptune._bundled import configs_dir, demo_data_dir
    >>> (configs_dir() / "demo.yaml").is_file() and (demo_data_dir() / "home_depot_search_relevance").is_dir()
    True
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def checkout_root() -> Path | None:
    """The repository root when shoptune runs from a checkout's ``src/`` (editable install or PYTHONPATH)."""
    package = Path(__file__).resolve().parents[1]
    root = package.parents[1]
    if package.parent.name == "src" and (root / "configs").is_dir() and (root / "demo").is_dir():
        return root
    return None


def _bundled(name: str) -> Path:
    root = checkout_root()
    if root is not None:
        return root / name
    # An installed wheel: the folders are plain files beside this module (not zipped), so a Path is exact.
    return Path(str(files(__name__) / name))


def configs_dir() -> Path:
    """The folder of the shipped configs (``demo.yaml``, ``data_demo.yaml``, ``sft_demo.yaml``, ...)."""
    return _bundled("configs")


def demo_data_dir() -> Path:
    """``demo/data``: the small, attributed subset of each real source that the demo builds its tasks from."""
    return _bundled("demo") / "data"
