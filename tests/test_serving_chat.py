"""`shoptune serve` of instruction models: the official OpenAI client talks to /v1/chat/completions and
/v1/completions of a real uvicorn server on loopback; answers equal offline greedy generation, concurrent requests
are batched without changing them, and bad requests are 4xx naming the field (issue 24)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx2 as httpx
import pytest

from shoptune.serving import ServeLimits, create_app, serve_in_thread


@pytest.fixture(scope="module")
def adapter(tmp_path_factory) -> Path:
    """A tiny causal LM with a LoRA adapter saved beside it, as `shoptune train sft` leaves one (adapter_config)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from shoptune.testing import build_tiny_causal_lm

    root = tmp_path_factory.mktemp("chat")
    base = build_tiny_causal_lm(root / "base")
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base), LoraConfig(r=2, target_modules=["q_proj"]))
    model.save_pretrained(root / "run" / "adapter")
    AutoTokenizer.from_pretrained(base).save_pretrained(root / "run" / "adapter")
    return root / "run" / "adapter"


@pytest.fixture(scope="module")
def server(adapter):
    app = create_app(adapter, ServeLimits(max_tokens=12, max_chars=500, max_batch=8, max_wait_ms=20))
    with serve_in_thread(app) as url:
        yield url


def test_the_openai_client_gets_what_offline_greedy_generation_gives(server, adapter) -> None:
    from openai import OpenAI

    from shoptune.serving.chat import Generator, Message

    client = OpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0)
    messages = [{"role": "user", "content": "Which aisle sells oat milk?"}]
    answer = client.chat.completions.create(model="run", messages=messages, max_tokens=6, temperature=0)
    generator = Generator(adapter)
    prompt = generator.chat_prompt([Message(**m) for m in messages])
    assert answer.choices[0].message.content == generator.scorer.generate([prompt], 6)[0]
    assert answer.choices[0].finish_reason in ("stop", "length") and answer.model == "run"
    assert answer.usage.prompt_tokens == generator.tokens(prompt)
    done = client.completions.create(model="run", prompt="Aisle of milk:", max_tokens=5)
    assert done.choices[0].text == generator.scorer.generate(["Aisle of milk:"], 5)[0]
    assert [m.id for m in client.models.list().data] == ["run"]


def test_a_stop_string_cuts_the_answer(server, adapter) -> None:
    full = httpx.post(f"{server}/v1/completions", json={"prompt": "abc", "max_tokens": 10}).json()
    text = full["choices"][0]["text"]
    if len(text) < 2:
        pytest.skip("the tiny model's answer is too short to cut")
    stop = text[1:3] if len(text) > 2 else text[1]
    cut = httpx.post(f"{server}/v1/completions", json={"prompt": "abc", "max_tokens": 10, "stop": [stop]}).json()
    assert cut["choices"][0]["text"] == text[: text.index(stop)] and cut["choices"][0]["finish_reason"] == "stop"


def test_concurrent_greedy_requests_are_batched_and_unchanged(server) -> None:
    prompts = [f"question {i}?" for i in range(8)]

    async def ask(http, p):
        r = await http.post(f"{server}/v1/completions", json={"prompt": p, "max_tokens": 4})
        assert r.status_code == 200, r.text
        return r.json()["choices"][0]["text"]

    async def together():
        async with httpx.AsyncClient(timeout=60) as http:
            return await asyncio.gather(*(ask(http, p) for p in prompts))

    batched = asyncio.run(together())
    alone = [httpx.post(f"{server}/v1/completions", json={"prompt": p, "max_tokens": 4}).json()["choices"][0]["text"]
             for p in prompts]  # fmt: skip
    assert batched == alone


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 13}, 413,
         "max_tokens"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "n": 2}, 422, "n"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "stream": True}, 422, "stream"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": " "}]}, 422, "messages.0.content"),
        ("/v1/chat/completions", {"messages": [{"role": "robot", "content": "x"}]}, 422, "messages.0.role"),
        ("/v1/chat/completions", {"messages": []}, 422, "messages"),
        ("/v1/completions", {"prompt": "x" * 501}, 413, "prompt"),
        ("/v1/completions", {"prompt": "x", "temperature": 5}, 422, "temperature"),
        ("/v1/relevance", {"pairs": []}, 404, None),
    ],
)  # fmt: skip
def test_bad_requests_are_4xx_naming_the_field(server, path, body, status, field) -> None:
    r = httpx.post(f"{server}{path}", json=body)
    assert r.status_code == status, r.text
    if field:
        assert r.json()["error"]["field"] == field


def test_a_folder_that_is_no_model_is_one_line(tmp_path) -> None:
    from shoptune.errors import ShoptuneError

    with pytest.raises(ShoptuneError, match="not a relevance model, an SFT adapter or a causal LM folder"):
        create_app(tmp_path)
