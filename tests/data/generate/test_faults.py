"""The OpenAI-compatible backend against a real HTTP server on loopback, with injected faults: every bad response
is retried or counted, never a crash; concurrency, pacing and the token budget hold."""

from __future__ import annotations

import json
import time

import pytest

from data.generate.conftest import PRODUCTS, make_config, seed_row, write_config, write_seeds
from shoptune.data.generate.backends import BackendError, Budget, OpenAICompatible, Request
from shoptune.data.generate.config import OpenAIBackend, load_generate_config
from shoptune.data.generate.runner import run_generation
from shoptune.errors import ConfigError


def _backend(url: str, **over) -> OpenAICompatible:
    settings = {"kind": "openai", "model": "fake-model", "base_url": url, "require_api_key": False}
    settings.update({"timeout_s": 0.5, "max_retries": 3, "backoff_base_s": 0.01, "backoff_max_s": 0.05})
    return OpenAICompatible(OpenAIBackend.model_validate({**settings, **over}))


def _request(i: int, text: str) -> Request:
    return Request(id=f"g{i:06d}", messages=[{"role": "user", "content": f"{text}\nECHO: answer {i}"}], seed=i)


def _send(backend: OpenAICompatible, texts: list[str], budget: Budget | None = None) -> dict[str, object]:
    replies: dict[str, object] = {}
    backend.run(
        [_request(i, t) for i, t in enumerate(texts)], lambda r: replies.__setitem__(r.id, r), budget or Budget(None)
    )
    return replies


def test_each_fault_is_retried_then_succeeds_and_is_counted(llm):
    faults = ["500x2", "garbagex1", "dropx1", "emptyx2", "slowx1"]
    replies = _send(_backend(llm.url), [f"p{i} [[fault={f}]]" for i, f in enumerate(faults)])
    by_fault = {f: replies[f"g{i:06d}"] for i, f in enumerate(faults)}
    expected = {
        "500x2": {"http_5xx": 2},
        "garbagex1": {"bad_body": 1},
        "dropx1": {"connection": 1},
        "emptyx2": {"empty_choices": 2},
        "slowx1": {"timeout": 1},
    }
    for fault, reply in by_fault.items():
        assert reply.status == "ok", (fault, reply)
        assert reply.retries == expected[fault], fault
        assert reply.attempts == sum(expected[fault].values()) + 1
        assert reply.text.startswith("answer ")
        assert reply.prompt_tokens > 0 and not reply.usage_estimated


def test_429_retry_after_is_honoured(llm):
    started = time.monotonic()
    replies = _send(_backend(llm.url), ["p [[fault=429x1]]"])
    reply = replies["g000000"]
    assert reply.status == "ok" and reply.retries == {"http_429": 1}
    gap = llm.arrivals[1] - llm.arrivals[0]
    assert gap >= 1.0  # the server said Retry-After: 1; backoff alone would be ~0.01 s
    assert time.monotonic() - started < 5


def test_a_retry_after_beyond_the_limit_fails_the_request_instead_of_sleeping(llm):
    replies = _send(_backend(llm.url, max_retry_after_s=0.5), ["p [[fault=429]]"])
    reply = replies["g000000"]
    assert reply.status == "failed" and reply.cause == "http_429" and "Retry-After" in reply.detail
    assert len(llm.arrivals) == 1


def test_faults_that_persist_fail_the_request_with_their_cause(llm):
    texts = ["a [[fault=500]]", "b [[fault=garbage]]", "c [[fault=drop]]", "d [[fault=empty]]"]
    texts += ["e [[fault=length]]", "f [[fault=blank]]", "g"]
    replies = _send(_backend(llm.url, max_retries=2), texts)
    causes = [replies[f"g{i:06d}"].cause for i in range(len(texts))]
    assert causes == ["http_5xx", "bad_body", "connection", "empty_choices", "truncated", "empty_content", None]
    assert [replies[f"g{i:06d}"].attempts for i in range(4)] == [3, 3, 3, 3]  # 1 + max_retries
    truncated = replies["g000004"]
    assert truncated.finish_reason == "length" and truncated.completion_tokens > 0  # paid for, so kept as spent
    assert truncated.paid  # a truncated reply was paid for: a resumed run does not ask again
    assert not replies["g000000"].paid  # a 5xx cost nothing: a resume asks again


def test_refused_key_stops_the_run_with_one_line_and_a_bad_request_is_not_retried(llm):
    with pytest.raises(BackendError, match="HTTP 401.*API key"):
        _send(_backend(llm.url), ["p [[fault=401]]"])
    replies = _send(_backend(llm.url, extra_body={"n": 1}), ["fine"])
    assert replies["g000000"].status == "ok" and llm.bodies[-1]["n"] == 1 and llm.bodies[-1]["seed"] == 0


def test_concurrency_limit_and_pacing(llm):
    llm.delay = 0.15
    _send(_backend(llm.url, concurrency=3), [f"c{i}" for i in range(9)])
    assert llm.max_in_flight == 3  # never more than the limit, and the limit is used
    llm.reset()
    started = time.monotonic()
    _send(_backend(llm.url, concurrency=4, requests_per_minute=600), [f"r{i}" for i in range(5)])
    starts = sorted(llm.arrivals)
    # 600/min: one start every 0.1 s (arrivals at the server jitter by a few ms on a busy machine)
    assert starts[-1] - starts[0] >= 0.38 and min(b - a for a, b in zip(starts, starts[1:], strict=False)) >= 0.05
    assert time.monotonic() - started >= 0.4


def test_token_budget_stops_spending(llm):
    budget = Budget(400)
    backend = _backend(llm.url, max_tokens=20, concurrency=2)
    replies = _send(backend, [f"prompt number {i} " + "word " * 20 for i in range(30)], budget)
    assert budget.stopped
    assert budget.spent <= 400  # never past the budget: each request reserved its worst case first
    assert 0 < len(replies) < 30 and len(llm.arrivals) == len(replies)
    assert budget.spent == sum(r.tokens for r in replies.values())


def test_the_run_counts_every_fault_in_its_report(llm, tmp_path):
    rows = [
        seed_row(need + f" [[fault={fault}]]", product)
        for (need, product), fault in zip(
            PRODUCTS, ["500x1", "429x1", "garbagex1", "dropx1", "emptyx1", "length", "blank", "500"], strict=False
        )
    ]
    rows += [seed_row(need, product) for need, product in PRODUCTS[8:]]
    seeds = write_seeds(tmp_path / "seeds.jsonl", rows)
    cfg = load_generate_config(write_config(tmp_path / "gen.yaml", make_config(llm.url, seeds, max_requests=12)))
    report = run_generation(cfg, tmp_path / "out", log=lambda m: None)
    assert report["requests"]["retries_by_cause"] == {
        "http_5xx": 1 + 3,  # the seed with a lasting 500 was tried 1 + max_retries times
        "http_429": 1,
        "bad_body": 1,
        "connection": 1,
        "empty_choices": 1,
    }
    assert report["dropped"]["request"] == {"truncated": 1, "empty_content": 1, "http_5xx": 1}
    assert report["kept"] == 9
    assert report["kept"] + report["dropped_total"] == report["requests"]["issued"] == 12
    kept = [json.loads(line) for line in (tmp_path / "out" / "examples.jsonl").read_text().splitlines()]
    assert len(kept) == 9 and all(row["output"] in row["options"] for row in kept)


def test_missing_api_key_and_model_are_one_line_before_any_work(llm, tmp_path, monkeypatch, seeds):
    monkeypatch.delenv("SHOPTUNE_TEST_KEY", raising=False)
    backend = {"kind": "openai", "model": "m", "base_url": llm.url, "api_key_env": "SHOPTUNE_TEST_KEY"}
    cfg = load_generate_config(write_config(tmp_path / "a.yaml", make_config(llm.url, seeds, backend=backend)))
    with pytest.raises(ConfigError, match="SHOPTUNE_TEST_KEY"):
        run_generation(cfg, tmp_path / "out", log=lambda m: None)
    monkeypatch.setenv("SHOPTUNE_TEST_KEY", "sk-test")
    monkeypatch.delenv("OPENAI_MODEL", raising=False)
    backend.pop("model")
    cfg = load_generate_config(write_config(tmp_path / "b.yaml", make_config(llm.url, seeds, backend=backend)))
    with pytest.raises(ConfigError, match="backend.model"):
        run_generation(cfg, tmp_path / "out", log=lambda m: None)
    assert not llm.arrivals and not (tmp_path / "out").exists()
    monkeypatch.setenv("OPENAI_MODEL", "env-model")
    report = run_generation(cfg.model_copy(update={"target": 1}), tmp_path / "out", log=lambda m: None)
    assert report["kept"] == 1 and llm.bodies[0]["model"] == "env-model"
    assert set(llm.authorization) == {"Bearer sk-test"}


def test_a_key_in_the_config_is_sent_but_never_written(llm, tmp_path, seeds):
    backend = {**make_config(llm.url, seeds)["backend"], "api_key": "sk-in-config", "require_api_key": True}
    cfg = load_generate_config(
        write_config(tmp_path / "k.yaml", make_config(llm.url, seeds, backend=backend, target=1))
    )
    run_generation(cfg, tmp_path / "out", log=lambda m: None)
    assert set(llm.authorization) == {"Bearer sk-in-config"}
    written = "".join(p.read_text() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert "sk-in-config" not in written
