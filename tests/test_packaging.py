"""The wheel `pip install .` builds carries everything `shoptune demo` needs, and an installed copy finds it.

Built once per session from a copy of the checkout (the tree stays clean); "installed" is the wheel unpacked into
a folder that comes first on PYTHONPATH, as `pip install --target` lays it out, far from the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO_CONFIGS = ("demo.yaml", "data_demo.yaml", "sft_demo.yaml", "relevance_demo.yaml")


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("checkout")
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for name in ("src", "configs", "demo"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(src)],
        check=True,
        cwd=src,
        capture_output=True,
    )
    (built,) = dist.glob("shoptune-*.whl")
    return built


@pytest.fixture(scope="session")
def installed(wheel, tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site


def run_installed(site: Path, code: str, cwd: Path) -> str:
    """Run ``code`` with the unpacked wheel first on the path (-P: not the working folder), offline."""
    env = {**os.environ, "PYTHONPATH": str(site), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-P", "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_wheel_carries_the_demo_configs_data_and_attribution(wheel) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for config in DEMO_CONFIGS:
        assert f"shoptune/_bundled/configs/{config}" in names
    demo_files = [p for p in (REPO / "demo" / "data").rglob("*") if p.is_file()]
    missing = [
        p for p in demo_files if f"shoptune/_bundled/demo/{p.relative_to(REPO / 'demo').as_posix()}" not in names
    ]
    assert not missing, missing[:5]
    for source in (REPO / "demo" / "data").iterdir():  # every demo source keeps its SOURCE.md (terms, attribution)
        assert f"shoptune/_bundled/demo/data/{source.name}/SOURCE.md" in names
    assert not any("demo/subsets" in n for n in names)  # how the subsets were cut stays in the repository
    for needed in ("shoptune/py.typed", "shoptune/cli/__init__.py", "shoptune/data/sources/home_depot.py"):
        assert needed in names
    assert any(n.startswith("shoptune/tasks/builtin/") and n.endswith(".yaml") for n in names)
    assert any(n.startswith("shoptune/reports/templates/") for n in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "shoptune = shoptune.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_an_installed_copy_finds_its_demo_config_and_data(installed, tmp_path) -> None:
    code = """
import json, shoptune
from shoptune.data.build import load_build_config
from shoptune.demo import default_config
config = default_config()
print(json.dumps({
    "package": shoptune.__file__,
    "config": str(config),
    "data_root": load_build_config(config.parent / "data_demo.yaml").data_root,
    "data": str(shoptune.demo_data_dir()),
}))
"""
    found = json.loads(run_installed(installed, code, tmp_path))
    for key in ("package", "config", "data_root", "data"):
        assert Path(found[key]).resolve().is_relative_to(installed), (key, found[key])
    assert (Path(found["data_root"]) / "home_depot_search_relevance" / "train.csv").is_file()


def test_the_installed_command_builds_the_demo_data(installed, tmp_path) -> None:
    code = "import sys; sys.argv = ['shoptune', 'demo', '--skip-training', '--out', 'demo']; import shoptune.__main__"
    printed = run_installed(installed, code, tmp_path)
    assert printed.strip().endswith("data")
    built = json.loads((tmp_path / "demo" / "data" / "manifest.json").read_text())["tasks"]
    assert "tm_wdcproducts_pairs" in built and "ic_department_cls" in built
