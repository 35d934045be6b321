"""The small world every sweep test runs in: a tiny random causal LM, a data build of three demo tasks, and a
base SFT config over them (two held-in tasks, one held out)."""

from __future__ import annotations

from pathlib import Path

import yaml

from shoptune.data.build import BuildConfig, build

TASKS = ["hd_relevance_mc", "ic_aisle_mc", "hd_query_ranking"]


def make_sweep_world(root: Path, demo_data: Path, *, cap: int) -> Path:
    """Write ``root/tiny`` (the model), ``root/data`` (the build) and ``root/base.yaml`` (mixture cap ``cap``)."""
    import torch

    from shoptune.testing import build_tiny_causal_lm

    torch.set_num_threads(1)
    lm = build_tiny_causal_lm(root / "tiny", seed=0)
    data = root / "data"
    build(BuildConfig(data_root=str(demo_data), tasks=TASKS), data)
    base = {
        "model": str(lm),
        "data": {"path": str(data), "tasks": TASKS[:2], "holdout": ["hd_query_ranking"], "max_length": 96},
        "mixture": {"strategy": "cap", "cap": cap},
        "lora": {"r": 2, "alpha": 4, "target_modules": ["q_proj", "v_proj"]},
        "optim": {"epochs": 1, "batch_tokens": 256, "checkpoint_every": 1, "log_every": 1, "bf16": False},
    }
    (root / "base.yaml").write_text(yaml.safe_dump(base))
    return root
