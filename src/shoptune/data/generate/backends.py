"""Where replies come from: an OpenAI-compatible chat-completions endpoint, or a local causal LM.

Both take a list of :class:`Request` and hand each :class:`~shoptune.data.generate.store.Reply` to a callback as
soon as it exists (so it is checkpointed), and both stop starting requests when the token :class:`Budget` would be
passed.

OpenAI-compatible (``httpx2``, the HTTP client transformers' hub library is built on): up to ``concurrency``
requests in flight, optionally paced to ``requests_per_minute``; a timeout, a dropped connection, 429, 5xx, a body
that is not a chat completion or one with no choices is retried with exponential backoff and full jitter, a 429's
``Retry-After`` honoured. ``timeout_s`` bounds each attempt as a whole, from sending it to the body's last byte
(the HTTP client's own timeout is per read: a server trickling a byte at a time never trips it). Token usage a
server reports is only believed when it is a non-negative integer; any other value is replaced by the estimate
(4 characters a token) and counted (:attr:`Budget.clamped`), so a server cannot spend past the budget by
reporting negative usage. A reply cut off by ``max_tokens`` (finish_reason "length") or empty is kept as a failure
with its cause. 401/403/404 stop the run with one line: every other request would fail the same way.

Local: the model is loaded once through ``shoptune.models`` (offline; the bundled SmolLM2 by default) and prompts
are generated in left-padded batches with seeded sampling, like the OpenAI API's ``stop``, ``max_tokens`` and
``finish_reason``.

Example:
    >>> backoff_delay(3, base=0.5, cap=30.0, rng=random.Random(0)) <= 2.0
    True
    >>> retry_after_seconds("2"), retry_after_seconds("soon")
    (2.0, None)
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from shoptune.data.generate.config import BackendConfig, LocalBackend, OpenAIBackend
from shoptune.data.generate.store import Reply
from shoptune.errors import ConfigError, ShoptuneError
from shoptune.text import clip_chars

OnReply = Callable[[Reply], None]
DEFAULT_BASE_URL = "https://api.openai.com/v1"


class BackendError(ShoptuneError):
    """The endpoint refuses every request (bad key, no such model or URL): stop with one line."""


@dataclass
class Request:
    id: str
    messages: list[dict[str, str]]
    #: Sampling seed of this request (sent as the API's ``seed``; seeds the local sampler).
    seed: int
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def chars(self) -> int:
        return sum(len(m["content"]) for m in self.messages)


class Budget:
    """Prompt + completion tokens: requests reserve a worst case before they start and settle on what they used.

    Once a reservation fails, no further request starts (spending stops at the budget, it does not trickle on
    with smaller requests).
    """

    def __init__(self, limit: int | None, spent: int = 0) -> None:
        self.limit = limit
        self.spent = spent
        self.reserved = 0
        self.stopped = limit is not None and spent >= limit
        #: Replies whose server-reported usage was not a non-negative integer (replaced by the estimate).
        self.clamped = 0

    def reserve(self, tokens: int) -> bool:
        if self.limit is None:
            return True
        if self.stopped or self.spent + self.reserved + tokens > self.limit:
            self.stopped = True
            return False
        self.reserved += tokens
        return True

    def settle(self, reserved: int, used: int, *, clamped: bool = False) -> None:
        if self.limit is not None:
            self.reserved -= reserved
        self.spent += max(0, used)  # never gives tokens back
        self.clamped += clamped


def backoff_delay(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2^(attempt-1))]."""
    return rng.uniform(0.0, min(cap, base * 2 ** (attempt - 1)))


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) as seconds from now; None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def make_backend(cfg: BackendConfig, log: Callable[[str], None]) -> OpenAICompatible | LocalGenerator:
    """A backend for the config; settings (URL, model, key) are checked now, before any work."""
    if isinstance(cfg, OpenAIBackend):
        return OpenAICompatible(cfg)
    return LocalGenerator(cfg, log)


# ============================================================================================ OpenAI-compatible
class OpenAICompatible:
    """``POST {base_url}/chat/completions`` with retries, pacing, a concurrency limit and the token budget."""

    name = "openai"

    def __init__(self, cfg: OpenAIBackend) -> None:
        self.cfg = cfg
        model = cfg.model or os.environ.get("OPENAI_MODEL")
        if not model:
            raise ConfigError("backend.model: no model given (set it in the config or OPENAI_MODEL)")
        self.model = model
        self.base_url = (cfg.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"backend.base_url: {self.base_url!r} is not an http(s) URL")
        key = cfg.api_key.get_secret_value() if cfg.api_key else os.environ.get(cfg.api_key_env)
        if not key and cfg.require_api_key:
            raise ConfigError(
                f"backend: no API key: set the environment variable {cfg.api_key_env} "
                "(or backend.api_key; backend.require_api_key: false for a server without keys)"
            )
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.rng = random.Random(0)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model, "base_url": self.base_url}

    def estimate(self, request: Request) -> int:
        """A worst case reserved before a request starts: 2 characters a prompt token, plus max_tokens."""
        return math.ceil(request.chars / 2) + 8 * len(request.messages) + self.cfg.max_tokens

    def run(self, requests: list[Request], on_reply: OnReply, budget: Budget) -> int:
        """Send every request (concurrently); returns how many were not sent because of the budget."""
        if not requests:
            return 0
        return asyncio.run(self._run(requests, on_reply, budget))

    async def _run(self, requests: list[Request], on_reply: OnReply, budget: Budget) -> int:
        import httpx2 as httpx

        pending: Iterator[Request] = iter(requests)
        not_sent = 0
        pace = _Pace(self.cfg.requests_per_minute)
        limits = httpx.Limits(max_connections=self.cfg.concurrency, max_keepalive_connections=self.cfg.concurrency)
        timeout = httpx.Timeout(self.cfg.timeout_s)
        async with httpx.AsyncClient(headers=self.headers, timeout=timeout, limits=limits) as client:

            async def worker() -> None:
                nonlocal not_sent
                for request in pending:  # one shared iterator: each worker takes the next request
                    reserved = self.estimate(request)
                    if not budget.reserve(reserved):
                        not_sent += 1
                        continue
                    reply = await self._one(client, request, pace)
                    budget.settle(reserved, reply.tokens, clamped=reply.detail.startswith(USAGE_CLAMPED))
                    on_reply(reply)

            workers = [asyncio.create_task(worker()) for _ in range(min(self.cfg.concurrency, len(requests)))]
            try:
                await asyncio.gather(*workers)
            finally:
                for task in workers:
                    task.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
        return not_sent

    def _body(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": request.messages,
            "temperature": self.cfg.temperature,
            "top_p": self.cfg.top_p,
            "max_tokens": self.cfg.max_tokens,
            "seed": request.seed,
        }
        if self.cfg.stop:
            body["stop"] = self.cfg.stop
        return {**body, **self.cfg.extra_body}

    async def _one(self, client: Any, request: Request, pace: _Pace) -> Reply:
        import httpx2 as httpx

        cfg = self.cfg
        retries: Counter[str] = Counter()
        started = time.monotonic()
        url = f"{self.base_url}/chat/completions"
        body = self._body(request)
        attempt = 0
        while True:
            attempt += 1
            await pace.wait()
            wait_at_least: float | None = None
            try:
                # The whole attempt, body included, within timeout_s (httpx's timeout only bounds each read).
                response = await asyncio.wait_for(client.post(url, json=body), cfg.timeout_s)
            except httpx.TimeoutException as exc:
                cause, detail = "timeout", type(exc).__name__
            except TimeoutError:
                cause, detail = "timeout", f"no complete response within backend.timeout_s ({cfg.timeout_s:g} s)"
            except httpx.TransportError as exc:
                cause, detail = "connection", f"{type(exc).__name__}: {exc}"[:200]
            else:
                status = response.status_code
                if status == 200:
                    outcome = _completion(response, request)
                    if isinstance(outcome, Reply):
                        outcome.attempts, outcome.retries = attempt, dict(retries)
                        outcome.seconds = round(time.monotonic() - started, 3)
                        return outcome
                    cause, detail = outcome
                elif status == 429:
                    cause, detail = "http_429", response.text[:200]
                    wait_at_least = retry_after_seconds(response.headers.get("retry-after"))
                elif status >= 500 or status == 408:
                    cause, detail = "http_5xx", f"HTTP {status}: {response.text[:160]}"
                elif status in (401, 403):
                    raise BackendError(
                        f"backend: {url} answered HTTP {status} ({response.text[:120].strip()}): "
                        f"check the API key in ${cfg.api_key_env}"
                    )
                elif status == 404:
                    raise BackendError(
                        f"backend: {url} answered HTTP 404 ({response.text[:120].strip()}): "
                        f"check backend.base_url and backend.model {self.model!r}"
                    )
                else:  # 400, 413, 422, ...: the request itself is refused; sending it again would not help
                    return self._failed(request, f"http_{status}", response.text[:200], attempt, retries, started)
            if attempt > cfg.max_retries:
                return self._failed(request, cause, detail, attempt, retries, started)
            if wait_at_least is not None and wait_at_least > cfg.max_retry_after_s:
                detail = f"Retry-After {wait_at_least:.0f}s is above backend.max_retry_after_s {cfg.max_retry_after_s}"
                return self._failed(request, cause, detail, attempt, retries, started)
            retries[cause] += 1
            if wait_at_least is not None:
                delay = wait_at_least + self.rng.uniform(0.0, cfg.backoff_base_s)
            else:
                delay = backoff_delay(attempt, base=cfg.backoff_base_s, cap=cfg.backoff_max_s, rng=self.rng)
            await asyncio.sleep(delay)

    def _failed(
        self, request: Request, cause: str, detail: str, attempts: int, retries: Counter[str], started: float
    ) -> Reply:
        return Reply(
            id=request.id,
            status="failed",
            cause=cause,
            detail=detail,
            attempts=attempts,
            retries=dict(retries),
            model=self.model,
            seconds=round(time.monotonic() - started, 3),
        )


def _completion(response: Any, request: Request) -> Reply | tuple[str, str]:
    """A 200 response as a Reply, or (cause, detail) when the body is not a usable chat completion."""
    try:
        data = response.json()
    except (ValueError, UnicodeDecodeError):
        return "bad_body", f"not JSON: {response.text[:120]!r}"
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        return "bad_body", f"no 'choices' list: {str(data)[:120]!r}"
    if not data["choices"]:
        return "empty_choices", "'choices' is empty"
    choice = data["choices"][0]
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict):
        return "bad_body", f"choice without a message: {str(choice)[:120]!r}"
    content = message.get("content")
    text = content if isinstance(content, str) else ""
    finish = choice.get("finish_reason")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    reported = {"prompt_tokens": usage.get("prompt_tokens"), "completion_tokens": usage.get("completion_tokens")}
    estimated = not all(_usage_count(v) is not None for v in reported.values())
    # Usage that is there but not a count (negative, a float, a string, ...) is not believed (a negative count would
    # hand tokens back to the budget): it is estimated like missing usage, and counted.
    clamped = {k: v for k, v in reported.items() if v is not None and _usage_count(v) is None}
    if estimated:
        prompt_tokens, completion_tokens = math.ceil(request.chars / 4), math.ceil(len(text) / 4)
    else:
        prompt_tokens, completion_tokens = reported["prompt_tokens"], reported["completion_tokens"]
    reply = Reply(
        id=request.id,
        status="ok",
        text=text,
        finish_reason=finish if isinstance(finish, str) else None,
        prompt_tokens=int(prompt_tokens),
        completion_tokens=int(completion_tokens),
        usage_estimated=estimated,
        model=str(data.get("model") or ""),
    )
    if clamped:
        shown = ", ".join(f"{k}={v!r:.40}" for k, v in clamped.items())
        reply.detail = f"{USAGE_CLAMPED}: the server reported {shown}; estimated from the text instead"
    if finish == "length":
        reply.status, reply.cause = "failed", "truncated"
    elif finish == "content_filter":
        reply.status, reply.cause = "failed", "content_filter"
    elif not text.strip():
        reply.status, reply.cause = "failed", "empty_content"
    return reply


#: How a reply's ``detail`` starts when the server's usage was replaced by the estimate.
USAGE_CLAMPED = "usage clamped"


def _usage_count(value: Any) -> int | None:
    """A server-reported token count when it is one (a non-negative int; huge ones are kept), else None.

    >>> [_usage_count(v) for v in (12, 0, 10**15, -5, 3.5, "7", True, None)]
    [12, 0, 1000000000000000, None, None, None, None, None]
    """
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


class _Pace:
    """Start requests at most ``rpm`` per minute (evenly spaced)."""

    def __init__(self, rpm: float | None) -> None:
        self.interval = 60.0 / rpm if rpm else 0.0
        self.next_start = 0.0
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        loop = asyncio.get_running_loop()
        async with self.lock:
            now = loop.time()
            start = max(now, self.next_start)
            self.next_start = start + self.interval
        await asyncio.sleep(start - now)


# ============================================================================================ local model
class LocalGenerator:
    """A causal LM on this machine: batched, left-padded, seeded sampling (greedy at temperature 0)."""

    name = "local"
    #: Loaded models by (name, bf16), shared by the generator and a local judge of the same model.
    _loaded: dict[str, tuple[Any, Any]] = {}

    def __init__(self, cfg: LocalBackend, log: Callable[[str], None]) -> None:
        from shoptune.models import resolve_model

        self.cfg = cfg
        self.log = log
        self.model = cfg.model
        self.resolved = str(resolve_model(cfg.model).path)  # a model that is not installed: one line, now

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model, "path": self.resolved}

    def _load(self) -> tuple[Any, Any]:
        import torch

        from shoptune.models import load_causal_lm

        if self.cfg.threads:
            torch.set_num_threads(self.cfg.threads)
        if self.resolved not in self._loaded:
            self.log(f"loading {self.model}")
            model, tokenizer = load_causal_lm(self.model)
            self._loaded[self.resolved] = (model.eval(), tokenizer)
        return self._loaded[self.resolved]

    def chat_text(self, tokenizer: Any, messages: list[dict[str, str]]) -> str:
        """The messages in the model's chat template with the assistant turn opened, then the prefill."""
        from shoptune.tasks.prompts import chat_prompt

        system = [m for m in messages if m["role"] == "system"]
        if system and getattr(tokenizer, "chat_template", None):
            text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        else:
            text = chat_prompt(tokenizer, "\n\n".join(m["content"] for m in messages))
        return text + self.cfg.prefill

    def estimate(self, prompt_ids: list[int]) -> int:
        return len(prompt_ids) + self.cfg.max_tokens

    def run(self, requests: list[Request], on_reply: OnReply, budget: Budget) -> int:
        if not requests:
            return 0
        model, tokenizer = self._load()
        encoded = []
        for request in requests:
            # The prompt's end, cut to a character bound first: tokenising a huge seed whole costs minutes.
            text = clip_chars(self.chat_text(tokenizer, request.messages), self.cfg.max_prompt_tokens, keep="end")
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            encoded.append((request, ids[-self.cfg.max_prompt_tokens :]))
        not_sent = 0
        for start in range(0, len(encoded), self.cfg.batch_size):
            batch = []
            for request, ids in encoded[start : start + self.cfg.batch_size]:
                if budget.reserve(self.estimate(ids)):
                    batch.append((request, ids))
                else:
                    not_sent += 1
            if batch:
                for reply, (_, ids) in zip(self._generate(model, tokenizer, batch), batch, strict=True):
                    budget.settle(self.estimate(ids), reply.tokens)
                    on_reply(reply)
        return not_sent

    def _generate(self, model: Any, tokenizer: Any, batch: list[tuple[Request, list[int]]]) -> list[Reply]:
        import torch

        cfg = self.cfg
        started = time.monotonic()
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        width = max(len(ids) for _, ids in batch)
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (_, ids) in enumerate(batch):
            input_ids[row, width - len(ids) :] = torch.tensor(ids)
            mask[row, width - len(ids) :] = 1
        sampling: dict[str, Any] = {"do_sample": False}
        if cfg.temperature > 0:
            sampling = {"do_sample": True, "temperature": cfg.temperature, "top_p": cfg.top_p}
        if cfg.stop:
            sampling["stopping_criteria"] = _stop_on_text(tokenizer, cfg.stop, width)
        torch.manual_seed(batch[0][0].seed)
        with (
            torch.inference_mode(),
            torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16),
        ):
            generated = model.generate(
                input_ids=input_ids.to(model.device),
                attention_mask=mask.to(model.device),
                max_new_tokens=cfg.max_tokens,
                pad_token_id=pad,
                eos_token_id=tokenizer.eos_token_id,
                **sampling,
            )
        seconds = round((time.monotonic() - started) / len(batch), 3)
        replies = []
        for row, (request, ids) in enumerate(batch):
            new = generated[row, width:].tolist()
            end = new.index(tokenizer.eos_token_id) if tokenizer.eos_token_id in new else None
            tokens = new if end is None else new[:end]
            text = tokenizer.decode(tokens, skip_special_tokens=True)
            cut = [text.index(s) for s in cfg.stop if s in text]
            if cut:
                text, finish = text[: min(cut)], "stop"
            else:
                finish = "stop" if end is not None or len(new) < cfg.max_tokens else "length"
            reply = Reply(
                id=request.id,
                status="ok",
                text=cfg.prefill + text,
                finish_reason=finish,
                prompt_tokens=len(ids),
                completion_tokens=len(tokens) + (end is not None),
                model=self.model,
                seconds=seconds,
            )
            if finish == "length":
                reply.status, reply.cause = "failed", "truncated"
            elif not text.strip():
                reply.status, reply.cause = "failed", "empty_content"
            replies.append(reply)
        return replies


def _stop_on_text(tokenizer: Any, stops: list[str], start: int) -> Any:
    """Stop a row once its new text contains a stop string (decoding a few dozen tokens per step costs far less
    than transformers' ``stop_strings``, which scans the whole vocabulary on every ``generate`` call)."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class StopOnText(StoppingCriteria):
        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
            texts = tokenizer.batch_decode(input_ids[:, start:], skip_special_tokens=True)
            done = [any(s in text for s in stops) for text in texts]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([StopOnText()])
