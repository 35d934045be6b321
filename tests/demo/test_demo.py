"""The demo's plumbing (the full run takes minutes and is measured by `make demo`, not here)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from shoptune.demo import run_demo
from shoptune.errors import ShoptuneError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _configs(tmp_path: Path, **demo: str) -> Path:
    """A copy of the demo's configs (data_root made absolute) with ``demo`` keys replaced."""
    folder = tmp_path / "configs"
    folder.mkdir()
    for name in ("demo.yaml", "sft_demo.yaml", "relevance_demo.yaml"):
        shutil.copy(CONFIGS / name, folder / name)
    data = (CONFIGS / "data_demo.yaml").read_text().replace("../demo/data", str(CONFIGS.parent / "demo" / "data"))
    (folder / "data_demo.yaml").write_text(data)
    text = (folder / "demo.yaml").read_text()
    for key, value in demo.items():
        text += f"\n{key}: {value}\n"
    (folder / "demo.yaml").write_text(text)
    return folder / "demo.yaml"


def test_skip_training_builds_only_the_tasks_the_configs_name(tmp_path):
    out = run_demo(tmp_path / "demo", skip_training=True, log=lambda m: None)
    built = json.loads((out / "manifest.json").read_text())["tasks"]
    assert "tm_wdcproducts_pairs" in built and "ic_department_cls" in built and "amcd_counterfactual_en" in built
    assert "pqa_answer_generation" not in built  # not named by the demo's configs
    summary = json.loads((tmp_path / "demo" / "demo.json").read_text())
    assert summary["seconds"]["data"] > 0 and "cannot show" in summary["notes"]
    # A second run replaces the demo's own folder.
    run_demo(tmp_path / "demo", skip_training=True, log=lambda m: None)


def test_a_low_resource_task_the_relevance_config_lacks_is_refused_before_any_work(tmp_path):
    config = _configs(tmp_path)
    text = re.sub(r"(?m)^low_resource: .*$", "low_resource: nope", config.read_text())
    assert "low_resource: nope" in text  # the config names its low-resource task on one line
    config.write_text(text)
    with pytest.raises(ShoptuneError, match="low_resource: 'nope'"):
        run_demo(tmp_path / "out", config=config, log=lambda m: None)
    assert not (tmp_path / "out").exists()


def test_an_unknown_demo_key_names_the_key(tmp_path):
    with pytest.raises(ShoptuneError, match="eval_limt"):
        run_demo(tmp_path / "out", config=_configs(tmp_path, eval_limt="3"), log=lambda m: None)
    assert not (tmp_path / "out").exists()


def test_a_folder_the_user_wrote_is_refused(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(ShoptuneError, match="did not write"):
        run_demo(mine, skip_training=True, log=lambda m: None)
    assert (mine / "notes.txt").read_text() == "keep me"


def test_a_checkout_uses_its_own_configs_and_demo_data():
    from shoptune._bundled import checkout_root, demo_data_dir
    from shoptune.demo import default_config

    assert checkout_root() == CONFIGS.parent
    assert default_config() == CONFIGS / "demo.yaml" and demo_data_dir() == CONFIGS.parent / "demo" / "data"


def test_a_missing_default_config_is_one_line(monkeypatch, tmp_path):
    import shoptune._bundled as bundled
    from shoptune.demo import default_config

    monkeypatch.setattr(bundled, "configs_dir", lambda: tmp_path)
    with pytest.raises(ShoptuneError, match="demo.yaml not found: reinstall shoptune or pass --config"):
        default_config()
