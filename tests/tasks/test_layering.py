"""Layering: ``shoptune.data`` imports ``shoptune.tasks``, so tasks must never import the data layer back.

Read from the source files with ``ast`` (nothing is imported), so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import shoptune.tasks
import shoptune.text

TASKS_DIR = Path(shoptune.tasks.__file__).parent
PACKAGE_ROOT = TASKS_DIR.parent.parent  # the folder holding the `shoptune` package


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path = PACKAGE_ROOT) -> set[str]:
    """Every module ``path`` (a file under ``root``) imports, anywhere in the file, relative imports made absolute."""
    name = _module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # `from shoptune import data`
    return found


def _is_under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_imported_modules_sees_absolute_relative_and_lazy_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "shoptune" / "tasks"
    pkg.mkdir(parents=True)
    probe = pkg / "probe.py"
    probe.write_text("import json\nfrom ..data import build\n\ndef f():\n    from shoptune.data.sources import x\n")
    found = imported_modules(probe, root=tmp_path)
    assert {"json", "shoptune.data", "shoptune.data.build", "shoptune.data.sources"} <= found


def test_tasks_never_import_the_data_layer() -> None:
    files = sorted(TASKS_DIR.rglob("*.py"))
    assert any(f.parent.name == "atomic" for f in files), "the walk must reach sub-packages"
    offenders = {
        str(f.relative_to(PACKAGE_ROOT)): sorted(m for m in imported_modules(f) if _is_under(m, "shoptune.data"))
        for f in files
    }
    assert {f: mods for f, mods in offenders.items() if mods} == {}


def test_text_helpers_sit_below_every_layer() -> None:
    # shoptune.text is shared by data and tasks: it may import nothing of shoptune, or it would bring a cycle back.
    path = Path(shoptune.text.__file__)
    assert sorted(m for m in imported_modules(path) if _is_under(m, "shoptune")) == []
