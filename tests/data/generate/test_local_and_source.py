"""The local backend (a tiny random causal LM through shoptune.models: batched, seeded, stop strings, truncation,
token budget) and the `generated` source adapter that reads a generation's examples."""

from __future__ import annotations

import json

import pytest

from data.generate.conftest import PRODUCTS, seed_row, write_seeds
from shoptune.data.errorlog import ErrorLog
from shoptune.data.generate.backends import Budget, LocalGenerator, Request
from shoptune.data.generate.config import GenerateConfig, LocalBackend
from shoptune.data.generate.runner import run_generation
from shoptune.data.sources import get_source, list_sources
from shoptune.data.sources.base import ViewContext
from shoptune.errors import DataError
from shoptune.models import ModelNotFoundError


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    import torch

    from shoptune.testing import build_tiny_causal_lm

    torch.set_num_threads(1)
    return str(build_tiny_causal_lm(tmp_path_factory.mktemp("tiny") / "lm", seed=0))


def _requests(n: int) -> list[Request]:
    return [
        Request(id=f"g{i:06d}", messages=[{"role": "user", "content": f"Write a query {i}"}], seed=i) for i in range(n)
    ]


def _generate(backend: LocalGenerator, n: int, budget: Budget | None = None):
    replies = []
    not_sent = backend.run(_requests(n), replies.append, budget or Budget(None))
    return replies, not_sent


def test_local_backend_batches_truncates_stops_and_is_seeded(tiny_lm):
    cfg = LocalBackend(model=tiny_lm, batch_size=3, max_tokens=6, prefill="Query:", temperature=1.0)
    replies, _ = _generate(LocalGenerator(cfg, lambda m: None), 5)
    assert [r.id for r in replies] == [f"g{i:06d}" for i in range(5)]
    # a random model rarely ends its reply: cut off at max_tokens, kept as "truncated" with its cost
    assert all(r.cause == "truncated" and r.finish_reason == "length" for r in replies if r.completion_tokens == 6)
    assert all(r.text.startswith("Query:") and r.prompt_tokens > 0 for r in replies)
    again, _ = _generate(LocalGenerator(cfg, lambda m: None), 5)
    assert [r.text for r in again] == [r.text for r in replies]  # seeded sampling: the same replies

    letters = list("abcdefghijklmnopqrstuvwxyz ")
    stopped, _ = _generate(
        LocalGenerator(cfg.model_copy(update={"stop": letters, "max_tokens": 12}), lambda m: None), 4
    )
    for reply in stopped:
        generated = reply.text.removeprefix("Query:")
        assert not any(s in generated for s in letters)  # the reply ends before its first stop string
    assert any(r.finish_reason == "stop" and r.completion_tokens < 12 for r in stopped)


def test_local_backend_honours_the_token_budget(tiny_lm):
    cfg = LocalBackend(model=tiny_lm, batch_size=2, max_tokens=4)
    probe, _ = _generate(LocalGenerator(cfg, lambda m: None), 1)
    per_request = probe[0].prompt_tokens + 4
    budget = Budget(3 * per_request)
    replies, not_sent = _generate(LocalGenerator(cfg, lambda m: None), 6, budget)
    assert len(replies) == 3 and not_sent == 3 and budget.spent <= 3 * per_request and budget.stopped


def test_a_run_with_the_local_backend_counts_what_a_random_model_writes(tiny_lm, tmp_path):
    seeds = write_seeds(tmp_path / "seeds.jsonl", [seed_row(n, p) for n, p in PRODUCTS[:6]])
    cfg = GenerateConfig.model_validate(
        {
            "task": {
                "name": "gen_local",
                "capability": "user_behavior_alignment",
                "kind": "generation",
                "metric": "rougel",
            },
            "seeds": {"source": {"adapter": "generated", "path": str(seeds), "view": "instructions"}},
            "prompt": {"user": "Rewrite as a search query: {{ input }}"},
            "backend": {"kind": "local", "model": tiny_lm, "batch_size": 4, "max_tokens": 8, "stop": ["e"]},
            "parse": {"format": "text", "pattern": r"(?P<query>\S.*)"},
            "record": {
                "instruction": "Write the product for this query.",
                "input": "{{ response.query }}",
                "output": "{{ output }}",
            },
            "filters": {"language": None},
            "target": 6,
            "max_requests": 6,
        }
    )
    report = run_generation(cfg, tmp_path / "out", log=lambda m: None)
    assert report["backend"]["backend"] == "local" and report["requests"]["issued"] == 6
    assert report["kept"] + report["dropped_total"] == 6
    assert report["tokens"]["completion"] > 0 and report["tokens"]["estimated_replies"] == 0
    for line in (tmp_path / "out" / "examples.jsonl").read_text().splitlines():
        assert json.loads(line)["metadata"]["generation"]["model"] == tiny_lm


def test_an_unknown_local_model_is_one_line():
    with pytest.raises(ModelNotFoundError):
        LocalGenerator(LocalBackend(model="smollm2"), lambda m: None)


# ------------------------------------------------------------------------------------------ the source adapter
def test_generated_adapter_reads_examples_and_names_bad_rows(tmp_path):
    assert "generated" in list_sources()
    good = {
        "instruction": "Pick one.",
        "input": "Query: red shoes",
        "options": ["Red shoes", "Blue hat"],
        "output": "Red shoes",
        "groups": ["q:red shoes", "seed:1"],
        "metadata": {"generation": {"model": "m"}},
    }
    path = tmp_path / "examples.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps({"instruction": "Only an instruction."}) + "\n")
    source = get_source("generated")
    with pytest.raises(DataError, match=r"examples.jsonl: row 2, field 'output'"):
        source.read(path, ErrorLog())
    log = ErrorLog(on_error="skip")
    rows = source.read(tmp_path, log)  # the folder works too
    assert len(rows) == 1 and log.skipped == 1
    ctx = ViewContext(task="gen", capability="user_behavior_alignment", language="en")
    (record,) = list(source.records(rows, "instructions", ctx))
    assert record.output == "Red shoes" and record.options == ["Red shoes", "Blue hat"]
    assert record.metadata["groups"] == ["q:red shoes", "seed:1"] and record.metadata["generation"] == {"model": "m"}
    with pytest.raises(DataError, match="file not found"):
        source.read(tmp_path / "nope", ErrorLog())
