"""Config keys shared by both training recipes: a renamed key is one error line naming the file or --set and the
new name, whichever recipe reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from shoptune.errors import ConfigError
from shoptune.relevance.config import load_config as load_relevance_config
from shoptune.training.config import load_sft_config

SFT = {"model": "smollm2-135m-instruct", "data": {"path": "data"}}
RELEVANCE = {"data": {"path": "data"}}


def _write(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


CASES = [
    # loader, base config, section, old key, new key
    (load_sft_config, SFT, "data", "dir", "path"),
    (load_relevance_config, RELEVANCE, "train", "max_tokens_per_batch", "batch_tokens"),
    (load_relevance_config, RELEVANCE, "train", "max_batch_size", "max_batch"),
    (load_relevance_config, RELEVANCE, "train", "grad_clip", "max_grad_norm"),
    (load_relevance_config, RELEVANCE, "eval", "max_tokens_per_batch", "batch_tokens"),
]


@pytest.mark.parametrize(("load", "base", "section", "old", "new"), CASES)
def test_a_renamed_key_in_the_file_names_the_file_and_the_new_key(tmp_path, load, base, section, old, new) -> None:
    config = yaml.safe_load(yaml.safe_dump(base))
    config.setdefault(section, {})[old] = 16 if section != "data" else "data"
    if section == "data":
        del config["data"]["path"]
    path = _write(tmp_path, config)
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value) == f"{path}: key '{section}.{old}' was renamed to '{section}.{new}'"


@pytest.mark.parametrize(("load", "base", "section", "old", "new"), CASES)
def test_a_renamed_key_in_a_set_names_the_set_and_the_new_key(tmp_path, load, base, section, old, new) -> None:
    path = _write(tmp_path, base)
    with pytest.raises(ConfigError) as err:
        load(path, {f"{section}.{old}": 64})
    assert str(err.value) == f"--set {section}.{old}: key '{section}.{old}' was renamed to '{section}.{new}'"


def test_the_new_names_load_and_several_renamed_keys_are_each_named(tmp_path) -> None:
    path = _write(tmp_path, {**RELEVANCE, "train": {"batch_tokens": 1024, "max_batch": 8, "max_grad_norm": 0.5}})
    train = load_relevance_config(path).train
    assert (train.batch_tokens, train.max_batch, train.max_grad_norm) == (1024, 8, 0.5)
    with pytest.raises(ConfigError) as err:
        load_relevance_config(path, {"train.grad_clip": 1.0, "train.max_batch_size": 4})
    message = str(err.value)
    assert "--set train.grad_clip: key 'train.grad_clip' was renamed to 'train.max_grad_norm'" in message
    assert "--set train.max_batch_size: key 'train.max_batch_size' was renamed to 'train.max_batch'" in message
    assert load_sft_config(_write(tmp_path, SFT)).data.path == str((tmp_path / "data").resolve())
