"""A checkpoint's state.json may be hand-edited or damaged: a loop state that is not what a recipe saved (a step
that is text, a negative epoch, a field no recipe writes) is "damaged checkpoint" in one line, before the loop
reads it, never a TypeError half-way through `--resume`."""

from __future__ import annotations

import json

import pytest
import torch

from shoptune.errors import ShoptuneError
from shoptune.training.checkpoint import check_state, load_checkpoint, read_checkpoint, save_checkpoint

SFT_STATE = {"epoch": 0, "batch": 2, "tokens": 340, "seconds": 1.5}
RELEVANCE_STATE = {"epoch": 1, "seconds": 0.25, "pairs_seen": 48, "losses": [1.1, 0.9, float("nan")]}


def _parts():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    return model, optimizer, scheduler


@pytest.mark.parametrize("state", [SFT_STATE, RELEVANCE_STATE, {}])
def test_what_the_recipes_save_reads_back(tmp_path, state):
    path = save_checkpoint(tmp_path, 2, *_parts(), state)
    loaded = load_checkpoint(path, *_parts())
    assert loaded["step"] == 2 and loaded.keys() == {*state, "step"}


BAD_STATES = {
    "step-text": ({"step": "x"}, "field 'step' in state.json is 'x', not a whole number >= 0"),
    "step-negative": ({"step": -1}, "field 'step'"),
    "step-float": ({"step": 2.5}, "field 'step'"),
    "step-bool": ({"step": True}, "field 'step'"),
    "step-missing": ({"epoch": 0}, "field 'step' missing"),
    "epoch-text": ({"step": 2, "epoch": "0"}, "field 'epoch'"),
    "batch-null": ({"step": 2, "batch": None}, "field 'batch'"),
    "tokens-list": ({"step": 2, "tokens": [1]}, "field 'tokens'"),
    "seconds-text": ({"step": 2, "seconds": "1.0"}, "field 'seconds'"),
    "seconds-negative": ({"step": 2, "seconds": -3.0}, "field 'seconds'"),
    "pairs-seen-float": ({"step": 2, "pairs_seen": 1.5}, "field 'pairs_seen'"),
    "losses-text": ({"step": 2, "losses": ["a"]}, "field 'losses'"),
    "losses-not-a-list": ({"step": 2, "losses": 0.5}, "field 'losses'"),
    "unknown-field": ({"step": 2, "learning_rate": 0.1}, "unknown field 'learning_rate'"),
    "state-a-list": ([1, 2], "no loop state"),
}


@pytest.mark.parametrize(("state", "expected"), BAD_STATES.values(), ids=BAD_STATES.keys())
def test_a_damaged_loop_state_is_one_line(tmp_path, state, expected):
    path = save_checkpoint(tmp_path, 2, *_parts(), SFT_STATE, config={"a": 1})
    (path / "state.json").write_text(json.dumps({"state": state, "config": {"a": 1}}))
    with pytest.raises(ShoptuneError) as err:
        read_checkpoint(path, {"a": 1})
    message = str(err.value)
    assert message.startswith(f"{path}: damaged checkpoint (") and expected in message, message
    assert "\n" not in message


def test_a_config_that_is_not_a_mapping_is_damage(tmp_path):
    path = save_checkpoint(tmp_path, 2, *_parts(), SFT_STATE)
    (path / "state.json").write_text(json.dumps({"state": {"step": 2}, "config": "x"}))
    with pytest.raises(ShoptuneError, match="damaged checkpoint"):
        read_checkpoint(path)


def test_the_layout_before_the_shared_one_is_checked_too(tmp_path):
    path = save_checkpoint(tmp_path, 7, *_parts(), {})
    (path / "state.json").write_text(json.dumps({"epoch": 1, "batch": 3, "step": 7}))
    assert read_checkpoint(path).state == {"epoch": 1, "batch": 3, "step": 7}
    (path / "state.json").write_text(json.dumps({"epoch": 1, "batch": "3", "step": 7}))
    with pytest.raises(ShoptuneError, match="damaged checkpoint .*field 'batch'"):
        read_checkpoint(path)


def test_check_state_accepts_both_recipes_states():
    check_state({**SFT_STATE, "step": 0})
    check_state({**RELEVANCE_STATE, "step": 10**12})


def test_weights_of_another_shape_are_one_line(tmp_path):
    import torch

    from shoptune.errors import ShoptuneError
    from shoptune.training.checkpoint import load_checkpoint, save_checkpoint

    small = torch.nn.Linear(2, 2)
    optimizer = torch.optim.AdamW(small.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    path = save_checkpoint(tmp_path, 1, small, optimizer, scheduler, {"epoch": 0})
    wide = torch.nn.Linear(2, 3)  # same parameter names, another LoRA rank say
    wide_opt = torch.optim.AdamW(wide.parameters())
    wide_sched = torch.optim.lr_scheduler.LambdaLR(wide_opt, lambda step: 1.0)
    with pytest.raises(ShoptuneError, match="checkpoint does not match the model"):
        load_checkpoint(path, wide, wide_opt, wide_sched)


def test_a_state_resume_would_refuse_fails_at_save(tmp_path):
    import torch

    from shoptune.training.checkpoint import save_checkpoint

    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    with pytest.raises(ValueError, match="best_loss"):
        save_checkpoint(tmp_path, 1, model, optimizer, scheduler, {"best_loss": 0.5})
