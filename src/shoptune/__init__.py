"""shoptune: multi-task adaptation of language models to e-commerce.

Everything the ``shoptune`` command does is one call here (imported on first use, so ``import shoptune`` stays
fast): :func:`build_data`, :func:`evaluate`, :func:`train_sft`, :func:`run_demo`, :func:`build_report`,
:func:`run_sweep`, ... (see :mod:`shoptune.api`); the relevance system's are in :mod:`shoptune.relevance`.

Example:
    >>> import shoptune
    >>> shoptune.get_task("hd_relevance_mc").capability
    'user_behavior_alignment'
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_LAZY = {
    "build_data": "shoptune.api",
    "audit_data": "shoptune.api",
    "validate_source": "shoptune.api",
    "generate_data": "shoptune.api",
    "list_tasks": "shoptune.api",
    "get_task": "shoptune.api",
    "evaluate": "shoptune.api",
    "train_sft": "shoptune.api",
    "export_merged": "shoptune.api",
    "compare_heldout": "shoptune.api",
    "run_sweep": "shoptune.api",
    "plan_experiment": "shoptune.api",
    "analyze_sweep": "shoptune.experiments.sweep",
    "sweep_status": "shoptune.experiments.sweep",
    "run_demo": "shoptune.demo",
    "build_report": "shoptune.reports.html",
    "configs_dir": "shoptune._bundled",
    "demo_data_dir": "shoptune._bundled",
    "ShoptuneError": "shoptune.errors",
}

__all__ = [
    "ShoptuneError",
    "__version__",
    "analyze_sweep",
    "audit_data",
    "build_data",
    "build_report",
    "compare_heldout",
    "configs_dir",
    "demo_data_dir",
    "evaluate",
    "export_merged",
    "generate_data",
    "get_task",
    "list_tasks",
    "plan_experiment",
    "run_demo",
    "run_sweep",
    "sweep_status",
    "train_sft",
    "validate_source",
]

if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ imports on first use
    from shoptune._bundled import configs_dir, demo_data_dir
    from shoptune.api import (
        audit_data,
        build_data,
        compare_heldout,
        evaluate,
        export_merged,
        generate_data,
        get_task,
        list_tasks,
        plan_experiment,
        run_sweep,
        train_sft,
        validate_source,
    )
    from shoptune.demo import run_demo
    from shoptune.errors import ShoptuneError
    from shoptune.experiments.sweep import analyze_sweep, sweep_status
    from shoptune.reports.html import build_report


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'shoptune' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
