"""A model or adapter folder may come from anyone: shoptune loads safetensors weights only. A folder whose weights
are pickles (pytorch_model.bin, adapter_model.bin, *.pt) is refused in one line naming the folder and the file,
before transformers or peft could unpickle it; a folder with safetensors loads them and ignores the pickles."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from shoptune.models import PickledWeightsError, check_safetensors_only, load_causal_lm, resolve_model


class Payload:
    """Unpickling this runs a shell command."""

    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def _pickled(folder: Path, name: str) -> None:
    (folder / name).write_bytes(pickle.dumps({"weight": Payload()}))


def _only_pickles(tiny_lm: Path, tmp_path: Path, name: str = "pytorch_model.bin") -> Path:
    folder = Path(shutil.copytree(tiny_lm, tmp_path / "pickled-lm"))
    (folder / "model.safetensors").unlink()
    _pickled(folder, name)
    return folder


@pytest.mark.parametrize("name", ["pytorch_model.bin", "model.pt", "weights.pth", "model.pkl"])
def test_a_model_folder_of_pickles_is_refused_naming_the_file(tiny_lm, tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    folder = _only_pickles(tiny_lm, tmp_path, name)
    for load in (resolve_model, load_causal_lm):
        with pytest.raises(PickledWeightsError) as err:
            load(str(folder))
        assert str(err.value) == f"{folder}: only safetensors weights are loaded (found {name})"
    assert not (tmp_path / "PWNED").exists()


def test_pickles_beside_safetensors_are_never_read(tiny_lm, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = Path(shutil.copytree(tiny_lm, tmp_path / "lm"))
    _pickled(folder, "pytorch_model.bin")
    _pickled(folder, "training_args.bin")
    model, _ = load_causal_lm(str(folder))
    assert model.config.vocab_size > 0
    assert not (tmp_path / "PWNED").exists()


def test_a_config_naming_a_pickle_as_its_weights_is_refused(tiny_lm, tmp_path):
    folder = Path(shutil.copytree(tiny_lm, tmp_path / "lm"))
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "transformers_weights": "adapter_model.bin"}))
    with pytest.raises(PickledWeightsError, match="transformers_weights 'adapter_model.bin'"):
        resolve_model(str(folder))


def test_a_sentence_transformers_module_of_pickles_is_refused(tmp_path):
    folder = tmp_path / "st"
    (folder / "2_Dense").mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"")
    (folder / "modules.json").write_text(json.dumps([{"idx": 0, "path": ""}, {"idx": 1, "path": "2_Dense"}]))
    _pickled(folder / "2_Dense", "pytorch_model.bin")
    with pytest.raises(PickledWeightsError, match="2_Dense: only safetensors weights are loaded"):
        check_safetensors_only(folder)
    (folder / "2_Dense" / "model.safetensors").write_bytes(b"")
    check_safetensors_only(folder)


def test_an_adapter_of_pickles_is_refused_before_the_base_loads(tiny_lm, tmp_path, monkeypatch):
    from peft import LoraConfig, get_peft_model

    from shoptune.training.export import load_with_adapter

    monkeypatch.chdir(tmp_path)
    model, tokenizer = load_causal_lm(str(tiny_lm))
    adapter = tmp_path / "adapter"
    get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj"])).save_pretrained(adapter)
    tokenizer.save_pretrained(adapter)
    assert load_with_adapter(adapter, base=str(tiny_lm))[0] is not None
    (adapter / "adapter_model.safetensors").unlink()
    _pickled(adapter, "adapter_model.bin")
    with pytest.raises(PickledWeightsError) as err:
        load_with_adapter(adapter, base=str(tiny_lm))
    assert str(err.value) == f"{adapter}: only safetensors weights are loaded (found adapter_model.bin)"
    assert not (tmp_path / "PWNED").exists()


def test_a_relevance_backbone_of_pickles_is_refused(tmp_path, monkeypatch):
    from shoptune.relevance.model import load_model

    monkeypatch.chdir(tmp_path)
    artifact = tmp_path / "model"
    (artifact / "backbone").mkdir(parents=True)
    meta = {"format": "shoptune-relevance", "version": 1, "kind": "model", "family": "cross_encoder"}
    meta.update(routing="multihead", tasks=["t"], base_model="tiny")
    (artifact / "relevance.json").write_text(json.dumps(meta))
    (artifact / "backbone" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    torch.save({"x": torch.zeros(1)}, artifact / "backbone" / "pytorch_model.bin")
    with pytest.raises(PickledWeightsError, match=r"backbone: only safetensors weights are loaded \(found pytorch"):
        load_model(artifact)
