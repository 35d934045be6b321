"""Fixtures of the report tests: real shoptune output folders made by the real recipes with tiny models.

One session fixture builds them all (about 10 s on one thread): a demo folder (an SFT run with its held-in /
held-out evaluation, and relevance runs, multi-task and single-task, with their comparison), a 2 x 2 grid sweep
with its interaction and a sequence, and a folder of the other relevance comparisons (routing, prefix ablation,
ensemble).
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable
from html import unescape
from pathlib import Path

import pytest
import yaml

TASKS = ["hd_relevance_mc", "ic_aisle_mc", "hd_query_ranking"]
DEMO_NOTES = "A demo on a tiny subset: it shows the pipeline end to end, not the size of any effect."


def _simulated(name: str, meta: dict, gold: dict[str, list[str]], accuracy: float, seed: int):
    """Predictions of a model that is right with probability ``accuracy`` (for the comparisons' tables)."""
    from shoptune.relevance.comparisons import RunResult

    rng = random.Random(seed)
    rows = {}
    for task, labels in gold.items():
        for i, g in enumerate(labels):
            wrong = [x for x in ("exact", "partial", "irrelevant") if x != g]
            rows[f"{task}:test:{i}"] = (task, g, g if rng.random() < accuracy else rng.choice(wrong))
    return RunResult(name, meta, rows)


def write_comparisons(out: Path) -> Path:
    """routing.json, prefix_ablation.json and ensemble.json written by the real `relevance compare` code."""
    from shoptune.relevance.comparisons import compare_ensemble, compare_prefix_ablation, compare_routing

    rng = random.Random(1)
    gold = {
        t: [rng.choice(["exact", "partial", "irrelevant"]) for _ in range(n)] for t, n in (("big", 120), ("small", 40))
    }
    enc_prefix = _simulated("enc-prefix", {"family": "cross_encoder", "routing": "prefix"}, gold, 0.80, 1)
    enc_none = _simulated("enc-none", {"family": "cross_encoder", "routing": "none"}, gold, 0.78, 2)
    dec_prefix = _simulated("dec-prefix", {"family": "decoder", "routing": "prefix"}, gold, 0.75, 3)
    dec_none = _simulated("dec-none", {"family": "decoder", "routing": "none"}, gold, 0.45, 4)
    runs = [enc_prefix, enc_none, dec_prefix, dec_none]
    compare_routing(runs, out)
    compare_prefix_ablation(runs, out)
    compare_ensemble(_simulated("ens", {}, gold, 0.85, 7), [enc_prefix, dec_prefix], out)
    return out


@pytest.fixture(scope="session")
def world(tmp_path_factory, demo_data) -> dict[str, Path]:
    import torch

    from relevance.conftest import tiny_config, write_build
    from shoptune.data.build import BuildConfig, build
    from shoptune.experiments.heldout import compare_base_and_tuned
    from shoptune.experiments.sweep import load_sweep, run_sweep
    from shoptune.io import write_marker
    from shoptune.relevance.comparisons import compare_multitask, load_run
    from shoptune.relevance.recipe import train
    from shoptune.testing import build_tiny_causal_lm, build_tiny_encoder
    from shoptune.training.config import load_sft_config
    from shoptune.training.sft import run_sft

    started = time.process_time()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread is fastest, and the machine is shared
    root = tmp_path_factory.mktemp("reports")
    quiet = lambda message: None  # noqa: E731

    # --- a demo folder: data build, an SFT run with its held-in/held-out eval, relevance runs and a comparison
    demo = root / "demo"
    demo.mkdir()
    write_marker(demo, "demo")
    summary = {
        "notes": DEMO_NOTES,
        "machine": {"platform": "Linux-test", "cpus": 2},
        "sft_eval": {"held-in": {"delta": 0.125, "tasks": 2}},
        "seconds": {"data": 1.5, "total": 150.0},
    }
    (demo / "demo.json").write_text(json.dumps(summary))  # the layout `shoptune demo` writes
    data = demo / "data"
    build(BuildConfig(data_root=str(demo_data), tasks=TASKS), data)
    lm = build_tiny_causal_lm(root / "tiny-lm", seed=0)
    sft_cfg = {
        "model": str(lm),
        "data": {"path": str(data), "tasks": TASKS[:2], "holdout": ["hd_query_ranking"], "max_length": 64},
        "mixture": {"strategy": "cap", "cap": 4},
        "lora": {"r": 2, "alpha": 4, "target_modules": ["q_proj", "v_proj"]},
        "optim": {"epochs": 2, "batch_tokens": 128, "checkpoint_every": 100, "log_every": 1, "bf16": False},
    }
    (root / "sft.yaml").write_text(yaml.safe_dump(sft_cfg))
    run_sft(load_sft_config(root / "sft.yaml"), demo / "sft", log=quiet)
    compare_base_and_tuned(demo / "sft" / "adapter", limit=2, log=quiet)

    encoder = build_tiny_encoder(root / "tiny-enc", sentence_transformers=False)
    pairs = write_build(root / "pairs", {"alpha": (24, 6, 6), "shade": (12, 6, 6)})
    rel_cfg = tiny_config(pairs, encoder, "cross_encoder", "multihead", epochs=1)
    rel = demo / "relevance"
    rel.mkdir()
    write_marker(rel, "demo")  # as `shoptune demo` marks its relevance/ folder
    train(rel_cfg, rel / "multi", quiet=True)
    train(rel_cfg.model_copy(update={"single_task": True}), rel / "single", quiet=True)
    compare_multitask(load_run(rel / "multi"), load_run(rel / "single"), rel / "compare")

    # --- a 2 x 2 grid sweep (one seed) with its interaction, sharing the demo's data build
    base = {**sft_cfg, "mixture": {"strategy": "cap", "cap": 2}, "optim": {**sft_cfg["optim"], "epochs": 1}}
    (root / "base.yaml").write_text(yaml.safe_dump(base))
    grid = {
        "base": "base.yaml",
        "eval": {"limit": 2, "bf16": False},
        "seeds": [1],
        "grid": {
            "rank": {"r1": {"lora.r": 1}, "r4": {"lora.r": 4}},
            "diversity": {"one": {"tasks": ["hd_relevance_mc"]}, "two": {"capabilities": "all"}},
        },
        "compare": {
            "interaction": {"rows": "rank", "cols": "diversity"},
            "sequences": {"rank": ["r1__one", "r4__one"]},
        },
    }
    (root / "grid.yaml").write_text(yaml.safe_dump(grid, sort_keys=False))
    run_sweep(load_sweep(root / "grid.yaml"), root / "sweep", log=quiet)

    torch.set_num_threads(threads)
    print(f"report world built in {time.process_time() - started:.1f} s CPU")
    return {
        "root": root,
        "demo": demo,
        "data": data,
        "sft": demo / "sft",
        "eval": demo / "sft" / "eval" / "base",
        "heldout": demo / "sft" / "eval",
        "rel_multi": rel / "multi",
        "rel_single": rel / "single",
        "rel_eval": rel / "multi" / "eval" / "test",
        "multitask": rel / "compare",
        "comparisons": write_comparisons(root / "comparisons"),
        "sweep": root / "sweep",
    }


@pytest.fixture
def report_cli(cli):
    """The real entry point with `shoptune report` in it (registered here too until cli.py registers it)."""
    from shoptune import cli as cli_module
    from shoptune.cli.report import report

    if not any(c.name == "report" or c.callback is report for c in cli_module.app.registered_commands):
        cli_module.app.command("report")(report)
    return cli


def text_of(html: str) -> str:
    """The page's text with tags removed and entities decoded (what a reader sees), one space between words."""
    html = re.sub(r"<svg.*?</svg>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture(scope="session")
def reports(world, tmp_path_factory) -> Callable[[str], tuple[Path, str, str]]:
    """``reports(name)`` -> (file, html, text) of the report of ``world[name]``, built once per session."""
    from shoptune.reports import build_report

    out = tmp_path_factory.mktemp("html")
    built: dict[str, tuple[Path, str, str]] = {}

    def get(name: str) -> tuple[Path, str, str]:
        if name not in built:
            path = build_report(world[name], out / f"{name}.html")
            html = path.read_text(encoding="utf-8")
            built[name] = (path, html, text_of(html))
        return built[name]

    return get
