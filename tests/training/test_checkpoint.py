"""The checkpoint module both recipes share: newest N kept, the run config refused when it changed, weights that
must match the model, and the SFT layout from before it still read."""

from __future__ import annotations

import json

import pytest
import torch

from shoptune.errors import ConfigError, ShoptuneError
from shoptune.training.checkpoint import latest_checkpoint, load_checkpoint, read_checkpoint, save_checkpoint

CONFIG = {"optim": {"lr": 0.1, "seed": 1}}


def _parts(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Linear(3, 1))
    model[0].requires_grad_(False)  # frozen weights stay out of checkpoints, as LoRA's base weights do
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (step + 1))
    return model, optimizer, scheduler


def test_keeps_the_newest_checkpoints_and_resumes_the_trainable_weights(tmp_path) -> None:
    model, optimizer, scheduler = _parts()
    for step in range(1, 5):
        model(torch.ones(1, 3)).sum().backward()
        optimizer.step(), scheduler.step(), optimizer.zero_grad()
        save_checkpoint(tmp_path, step, model, optimizer, scheduler, {"epoch": 0}, config=CONFIG, keep=2)
    assert [p.name for p in sorted(tmp_path.iterdir())] == ["step-000003", "step-000004"]
    latest = latest_checkpoint(tmp_path)
    assert latest is not None and read_checkpoint(latest).weights.keys() == {"1.weight", "1.bias"}

    fresh, fresh_optimizer, fresh_scheduler = _parts(seed=1)
    state = load_checkpoint(latest, fresh, fresh_optimizer, fresh_scheduler, CONFIG)
    assert state == {"epoch": 0, "step": 4}
    assert torch.equal(fresh[1].weight, model[1].weight) and not torch.equal(fresh[0].weight, model[0].weight)
    assert fresh_scheduler.get_last_lr() == scheduler.get_last_lr()


def test_pruning_leaves_what_a_user_put_in_the_checkpoint_folder(tmp_path) -> None:
    (tmp_path / "step-notes").mkdir()  # not a name shoptune writes: never pruned, never resumed from
    (tmp_path / "step-notes" / "todo.txt").write_text("mine")
    model, optimizer, scheduler = _parts()
    for step in range(1, 4):
        save_checkpoint(tmp_path, step, model, optimizer, scheduler, {}, keep=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-000003", "step-notes"]
    assert latest_checkpoint(tmp_path) == tmp_path / "step-000003"


def test_a_changed_config_is_refused_naming_the_key(tmp_path) -> None:
    model, optimizer, scheduler = _parts()
    path = save_checkpoint(tmp_path, 1, model, optimizer, scheduler, {}, config=CONFIG)
    changed = {"optim": {"lr": 0.5, "seed": 1}}
    with pytest.raises(ConfigError, match=r"step-000001: --resume with a changed config \(optim.lr: 0.1 -> 0.5\)"):
        load_checkpoint(path, model, optimizer, scheduler, changed)


def test_weights_of_another_model_are_refused(tmp_path) -> None:
    model, optimizer, scheduler = _parts()
    path = save_checkpoint(tmp_path, 1, model, optimizer, scheduler, {})
    model[0].requires_grad_(True)  # now trains a layer the checkpoint does not have
    with pytest.raises(ShoptuneError, match="does not match the model"):
        load_checkpoint(path, model, optimizer, scheduler)


def test_reads_sft_checkpoints_written_before_the_shared_layout(tmp_path) -> None:
    model, optimizer, scheduler = _parts()
    path = save_checkpoint(tmp_path, 7, model, optimizer, scheduler, {"epoch": 1})
    (path / "state.json").write_text(json.dumps({"epoch": 1, "batch": 3, "step": 7}))  # loop state at the top
    checkpoint = read_checkpoint(path, CONFIG)  # no config recorded: nothing to compare
    assert checkpoint.state == {"epoch": 1, "batch": 3, "step": 7} and checkpoint.config is None
