"""OpenAI-compatible endpoints for instruction models: ``POST /v1/chat/completions`` and ``POST /v1/completions``
over an SFT adapter (``shoptune train sft``'s ``adapter/``), a merged model (``shoptune export --merge``) or any
local causal LM folder. ``max_tokens``, ``temperature`` (0: greedy), ``stop`` and ``n=1``; no streaming.

Greedy requests from concurrent clients are micro-batched into one left-padded ``generate`` call (each with its
own token budget); sampled ones run one by one in the same worker thread.

Example:
    >>> from openai import OpenAI
    >>> client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="unused")  # doctest: +SKIP
    >>> client.chat.completions.create(model="adapter", messages=[{"role": "user", "content": "Aisle of milk?"}])
    ... # doctest: +SKIP
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

#: Generated tokens when a request does not say (``--max-tokens`` caps what it may ask for).
DEFAULT_MAX_TOKENS = 64


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class GenerationParams(BaseModel):
    """The OpenAI request fields both endpoints take (n=1 and no streaming: others are a 422 naming the field)."""

    model: str | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    stop: str | list[str] | None = None
    n: Literal[1] = 1
    stream: Literal[False] = False
    seed: int | None = None


class ChatRequest(GenerationParams):
    messages: list[Message] = Field(min_length=1)


class CompletionRequest(GenerationParams):
    prompt: str = Field(min_length=1)


@dataclass
class GenJob:
    prompt: str
    max_tokens: int
    temperature: float
    stop: list[str]
    seed: int | None


def is_instruction_model(path: Path) -> bool:
    """An SFT adapter, a merged model or a causal LM folder (not a relevance artifact)."""
    from shoptune.training.sft import RUN_FILE

    return any((path / name).is_file() for name in (RUN_FILE, "adapter_config.json", "config.json"))


class Generator:
    """A causal LM and its tokenizer, loaded from a local folder; ``run(jobs)`` answers a batch of requests."""

    def __init__(self, path: Path) -> None:
        from shoptune.evaluation.lm import LMScorer
        from shoptune.training.sft import RUN_FILE

        if (path / RUN_FILE).is_file() or (path / "adapter_config.json").is_file():
            from shoptune.training.export import load_with_adapter

            model, tokenizer = load_with_adapter(path)
            model = model.merge_and_unload()
        else:
            from shoptune.models import load_causal_lm

            model, tokenizer = load_causal_lm(str(path))
        self.model, self.tokenizer = model.eval(), tokenizer
        self.scorer = LMScorer(model, tokenizer, batch_size=16, max_length=2048)

    def chat_prompt(self, messages: list[Message]) -> str:
        rows = [m.model_dump() for m in messages]
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(rows, tokenize=False, add_generation_prompt=True)
        return "\n".join(m["content"] for m in rows) + " "

    def tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def run(self, jobs: list[GenJob]) -> list[tuple[str, str]]:
        """(text, finish_reason) per job: greedy jobs in one batched call, sampled ones one by one."""
        out: list[tuple[str, str] | None] = [None] * len(jobs)
        greedy = [i for i, j in enumerate(jobs) if j.temperature == 0]
        if greedy:
            texts = self.scorer.generate([jobs[i].prompt for i in greedy], [jobs[i].max_tokens for i in greedy])
            for i, text in zip(greedy, texts, strict=True):
                out[i] = _finish(text, jobs[i], self)
        for i, job in enumerate(jobs):
            if out[i] is None:
                out[i] = _finish(self._sample(job), job, self)
        return [o for o in out if o is not None]

    def _sample(self, job: GenJob) -> str:
        import torch

        if job.seed is not None:
            torch.manual_seed(job.seed)
        ids = self.tokenizer(job.prompt, add_special_tokens=False, return_tensors="pt")
        with torch.inference_mode():
            generated = self.model.generate(**ids, max_new_tokens=job.max_tokens, do_sample=True,
                                            temperature=job.temperature, pad_token_id=self.scorer.pad_id)  # fmt: skip
        return self.tokenizer.decode(generated[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)


def _finish(text: str, job: GenJob, generator: Generator) -> tuple[str, str]:
    """Cut at the first stop string; "length" when the budget ran out, else "stop"."""
    cut = min((text.index(s) for s in job.stop if s and s in text), default=None)
    if cut is not None:
        return text[:cut], "stop"
    return text, "length" if generator.tokens(text) >= job.max_tokens else "stop"


def stops(value: str | list[str] | None) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def chat_response(name: str, text: str, finish: str, prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": name,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
        "usage": _usage(prompt_tokens, completion_tokens),
    }


def completion_response(name: str, text: str, finish: str, prompt_tokens: int, completion_tokens: int) -> dict:
    return {
        "id": f"cmpl-{uuid.uuid4().hex[:24]}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": name,
        "choices": [{"index": 0, "text": text, "finish_reason": finish, "logprobs": None}],
        "usage": _usage(prompt_tokens, completion_tokens),
    }


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
