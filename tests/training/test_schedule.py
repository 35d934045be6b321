"""Both recipes' learning-rate schedules: linear warmup, then a linear or a cosine decay to 0."""

from __future__ import annotations

import math

import pytest
import torch

from shoptune.errors import ConfigError
from shoptune.training.schedule import build_scheduler


def _rates(name: str, *, warmup_ratio: float, total: int, lr: float = 1.0) -> list[float]:
    """The rate each of ``total`` optimizer steps uses."""
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=lr)
    scheduler = build_scheduler(optimizer, name, warmup_ratio=warmup_ratio, total_steps=total)
    rates = []
    for _ in range(total):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def test_linear_warms_up_then_decays_in_a_straight_line() -> None:
    rates = _rates("linear", warmup_ratio=0.1, total=100)
    # ceil(0.1 * 100) = 10 warmup steps; the first trains at 1/10 of the rate, never at 0
    assert rates[:10] == pytest.approx([(i + 1) / 10 for i in range(10)])
    decay = rates[9:]
    steps = [b - a for a, b in zip(decay, decay[1:], strict=False)]
    assert steps == pytest.approx([-1 / 91] * len(steps))  # constant slope towards 0
    assert rates[-1] == pytest.approx(1 / 91) and min(rates) > 0


def test_cosine_warms_up_then_follows_a_half_cosine() -> None:
    rates = _rates("cosine", warmup_ratio=0.1, total=100)
    assert rates[:10] == pytest.approx([(i + 1) / 10 for i in range(10)])
    for step in (9, 32, 55, 77, 99):
        assert rates[step] == pytest.approx(0.5 * (1 + math.cos(math.pi * (step - 9) / 91)))
    assert rates[54] == pytest.approx(0.5, abs=0.01)  # halfway through the decay: half the peak, like linear ...
    linear = _rates("linear", warmup_ratio=0.1, total=100)
    assert rates[30] > linear[30] and rates[80] < linear[80]  # ... but higher before it and lower after
    assert min(rates) > 0


def test_a_short_run_never_spends_a_step_at_rate_zero() -> None:
    # 7 steps at warmup_ratio 0.05: one warmup step, which trains at the full rate
    rates = _rates("linear", warmup_ratio=0.05, total=7)
    assert rates[0] == pytest.approx(1.0) and min(rates) > 0


def test_without_warmup_the_first_step_trains_at_the_full_rate() -> None:
    assert _rates("linear", warmup_ratio=0.0, total=4, lr=2e-4) == pytest.approx([2e-4, 1.5e-4, 1e-4, 0.5e-4])


def test_both_recipes_take_the_scheduler_key(tmp_path) -> None:
    import yaml

    from shoptune.relevance.config import load_config as load_relevance_config
    from shoptune.relevance.recipe import build_optimizer
    from shoptune.training.config import load_sft_config

    sft = tmp_path / "sft.yaml"
    sft.write_text(yaml.safe_dump({"model": "m", "data": {"path": "d"}, "optim": {"scheduler": "cosine"}}))
    assert load_sft_config(sft).optim.scheduler == "cosine"
    with pytest.raises(ConfigError, match="optim.scheduler"):
        load_sft_config(sft, {"optim.scheduler": "constant"})
    rel = tmp_path / "rel.yaml"
    rel.write_text(yaml.safe_dump({"data": {"path": "d"}, "train": {"scheduler": "cosine", "warmup_ratio": 0.0}}))
    cfg = load_relevance_config(rel)

    class TwoGroups(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body, self.head = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)

        def param_groups(self) -> dict[str, list[torch.nn.Parameter]]:
            return {"shared": list(self.body.parameters()), "private": [], "heads": list(self.head.parameters())}

    optimizer, scheduler = build_optimizer(cfg, TwoGroups(), total_steps=10)  # type: ignore[arg-type]
    for _ in range(5):
        optimizer.step()
        scheduler.step()
    rates = {g["name"]: g["lr"] for g in optimizer.param_groups}
    assert rates["shared"] == pytest.approx(cfg.train.lr * 0.5) and rates["heads"] == pytest.approx(
        cfg.train.head_lr * 0.5
    )
