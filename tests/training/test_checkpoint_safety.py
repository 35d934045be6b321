"""A checkpoint may come from anyone (a copied run folder, a download): shoptune never unpickles one, since
unpickling runs whatever code the file names. Optimizer, scheduler and RNG states are safetensors plus JSON; a
pickle in a step folder, under the old or the new file names, is one line naming the folder and runs nothing."""

from __future__ import annotations

import json
import os
import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from shoptune.errors import ShoptuneError
from shoptune.training.checkpoint import load_checkpoint, save_checkpoint


class Exploit:
    """Unpickling this runs a shell command."""

    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def _parts(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1, betas=(0.9, 0.95))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (step + 1))
    return model, optimizer, scheduler


def _trained_checkpoint(folder: Path) -> tuple[Path, torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    model, optimizer, scheduler = _parts()
    for _ in range(3):
        model(torch.ones(2, 3)).sum().backward()
        optimizer.step(), scheduler.step(), optimizer.zero_grad()
    return save_checkpoint(folder, 3, model, optimizer, scheduler, {"epoch": 0}), optimizer, scheduler


def _refused(path: Path, tmp_path: Path) -> str:
    model, optimizer, scheduler = _parts(seed=1)
    with pytest.raises(ShoptuneError) as err:
        load_checkpoint(path, model, optimizer, scheduler)
    assert not (tmp_path / "PWNED").exists()
    message = str(err.value)
    assert message.startswith(f"{path}: damaged checkpoint") and "\n" not in message, message
    return message


def test_a_crafted_pickle_under_any_checkpoint_file_name_runs_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blob = {"optimizer": Exploit(), "scheduler": Exploit(), "rng": Exploit()}
    writers = {
        "torch.save": lambda target: torch.save(blob, target),
        "pickle": lambda target: target.write_bytes(pickle.dumps(blob)),
    }
    for writer_name, write in writers.items():
        for name in ("optim.pt", "optim.safetensors", "optim.json", "trainable.pt"):
            path, _, _ = _trained_checkpoint(tmp_path / f"{writer_name}-{name}")
            write(path / name)
            if name == "trainable.pt":  # the layout before trainable.safetensors
                (path / "trainable.safetensors").unlink()
            message = _refused(path, tmp_path)
            if name.endswith(".pt"):
                assert f"{name} is a pickle, which shoptune never loads" in message


def test_a_hand_edited_optim_json_builds_no_objects(tmp_path):
    path, _, _ = _trained_checkpoint(tmp_path)
    meta = json.loads((path / "optim.json").read_text())
    bad_entries = [
        {"py/reduce": [{"py/function": "os.system"}, {"tuple": ["touch PWNED"]}]},
        {"ndarray": "0", "dtype": "|O", "shape": [1]},
        {"tensor": "no-such-tensor"},
    ]
    for entry in bad_entries:
        meta["dict"]["scheduler"] = entry
        (path / "optim.json").write_text(json.dumps(meta))
        _refused(path, tmp_path)


def test_no_checkpoint_file_is_a_pickle_and_resume_needs_no_unpickling(tmp_path, monkeypatch):
    random.seed(3), np.random.seed(3), torch.manual_seed(3)
    random.gauss(0, 1), np.random.randn()  # both keep a cached second Gaussian: part of the state to restore
    path, optimizer, scheduler = _trained_checkpoint(tmp_path)
    for file in path.iterdir():
        if file.is_file():
            head = file.read_bytes()[:2]
            assert head[:1] != b"\x80" and head != b"PK", f"{file.name} is a pickle or a torch.save zip"
    draws = (random.random(), random.gauss(0, 1), float(np.random.randn()), float(torch.rand(1)))

    def refuse(*args, **kwargs):
        raise AssertionError("a checkpoint was unpickled")

    for module, name in ((torch, "load"), (pickle, "load"), (pickle, "loads"), (pickle, "Unpickler")):
        monkeypatch.setattr(module, name, refuse)
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    model, fresh_optimizer, fresh_scheduler = _parts(seed=1)
    assert load_checkpoint(path, model, fresh_optimizer, fresh_scheduler) == {"epoch": 0, "step": 3}
    assert (random.random(), random.gauss(0, 1), float(np.random.randn()), float(torch.rand(1))) == draws
    saved, restored = optimizer.state_dict(), fresh_optimizer.state_dict()
    assert restored["param_groups"] == saved["param_groups"]
    assert saved["param_groups"][0]["betas"] == (0.9, 0.95) == restored["param_groups"][0]["betas"]
    for index, state in saved["state"].items():
        for key, value in state.items():
            again = restored["state"][index][key]
            assert again.dtype == value.dtype and torch.equal(again, value), (index, key)
    assert fresh_scheduler.state_dict() == scheduler.state_dict()
