"""Fixtures of the generation tests: a real OpenAI-compatible server on loopback, seed files and configs.

Seeds are a small ``generated``-format JSON-lines file (read through the source adapter, as any seed source is).
The default prompt makes the fake model echo an example built from the seed; a seed may instead carry
``metadata.echo``, the exact reply its requests get (malformed JSON, an answer outside the options, ...), and any
seed text may carry a fault marker (see ``fake_openai``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from data.generate._cli_entry import ensure_registered
from data.generate.fake_openai import FakeLLM
from shoptune.tasks.spec import TaskSpec

ECHO_PROMPT = (
    "Write one shopping example.\n"
    "{% if seed.metadata.echo is defined %}ECHO: {{ seed.metadata.echo }}"
    "{% else %}ECHO: {{ {'instruction': 'A shopper describes a need. Which product fits it best?', "
    "'input': 'Shopper: ' ~ input, 'options': [output] + (others | map(attribute='output') | list), "
    "'output': output} | tojson }}{% endif %}"
)

PRODUCTS = [
    ("I need shoes for running on trails in the rain", "Waterproof trail running shoes"),
    ("something to keep my coffee hot on long drives", "Insulated steel travel mug"),
    ("headphones that block the noise on the train", "Noise cancelling over-ear headphones"),
    ("a hose long enough for my whole back garden", "Garden hose, 50 ft, kink resistant"),
    ("a drill for putting up shelves without a cord", "Cordless drill driver kit with two batteries"),
    ("a big table so eight people can eat together", "Solid oak extendable dining table"),
    ("warm socks for hiking in winter", "Merino wool hiking socks, 3 pairs"),
    ("a pot for the basil on my kitchen window", "Glazed ceramic herb pot with saucer"),
    ("a lamp to read in bed without waking my partner", "Clip-on LED book light, warm white"),
    ("a bag that keeps my laptop dry on my bike", "Waterproof roll-top laptop backpack"),
    ("something soft for the baby to sleep on", "Organic cotton crib mattress pad"),
    ("a knife that stays sharp for cutting bread", "Serrated stainless bread knife, 10 in"),
]


def seed_row(need: str, product: str, *, echo: str | None = None, group: str | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"instruction": "What does the shopper need?", "input": need, "output": product}
    row["groups"] = [group or f"p:{product.lower()}"]
    if echo is not None:
        row["metadata"] = {"echo": echo}
    return row


def write_seeds(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def make_config(url: str, seeds: Path, **overrides: Any) -> dict[str, Any]:
    """A generation config over ``seeds`` served by the fake model at ``url``; top-level keys may be replaced."""
    cfg: dict[str, Any] = {
        "task": {
            "name": "gen_test_mc",
            "capability": "user_behavior_alignment",
            "kind": "multiple_choice",
            "metric": "accuracy",
        },
        "seeds": {
            "source": {"adapter": "generated", "path": seeds.name, "view": "instructions"},
            "data_root": str(seeds.parent),
            "others": 2,
        },
        "prompt": {"user": ECHO_PROMPT},
        "backend": {
            "kind": "openai",
            "model": "fake-model",
            "base_url": url,
            "require_api_key": False,
            "timeout_s": 0.5,
            "max_retries": 3,
            "backoff_base_s": 0.01,
            "backoff_max_s": 0.05,
            "concurrency": 4,
        },
        "record": {"shuffle_options": True},
        "filters": {"dedup": {"fields": ["input"]}},
        "target": 100,
        "checkpoint_every": 1,
    }
    cfg.update(overrides)
    return cfg


def task_spec(kind: str = "multiple_choice") -> TaskSpec:
    """A minimal task of ``kind`` scored by accuracy (what the filters check generated examples against)."""
    return TaskSpec.model_validate(
        {
            "name": "t",
            "capability": "c",
            "kind": kind,
            "metric": "accuracy",
            "source": {"adapter": "a", "path": "p", "view": "v"},
        }
    )


def write_config(path: Path, cfg: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def llm_server() -> Iterator[FakeLLM]:
    server = FakeLLM()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def llm(llm_server: FakeLLM) -> FakeLLM:
    llm_server.reset()
    return llm_server


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    return write_seeds(tmp_path / "seeds" / "seeds.jsonl", [seed_row(n, p) for n, p in PRODUCTS])


@pytest.fixture
def cli_generate(cli):
    """The real entry point with `data generate` registered."""
    ensure_registered()
    return cli
