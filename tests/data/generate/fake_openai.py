"""A real OpenAI-compatible HTTP server for the generation tests: FastAPI served by uvicorn on 127.0.0.1.

The "model" is a deterministic responder: it answers with the text after ``ECHO:`` in the last user message (so a
test's prompt template decides what the model writes). Faults are injected per prompt by a marker in it,
``[[fault=KIND]]`` (every attempt) or ``[[fault=KINDxN]]`` (the first N attempts of that prompt, then a normal
answer):

- ``429``: HTTP 429 with ``Retry-After: 1``; ``500``: HTTP 500; ``401``: HTTP 401;
- ``garbage``: HTTP 200 with an HTML body; ``empty``: a completion with ``"choices": []``;
- ``drop``: the response starts, then the connection is closed mid-body;
- ``slow``: the answer comes after 2 s (longer than the tests' client timeout);
- ``length``: finish_reason "length" (truncated); ``blank``: empty content.

It counts attempts and completed answers per prompt, the most requests in flight at once, and when each request
arrived, so tests can assert concurrency, pacing, retries and that a resumed run does not pay twice.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections import Counter
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

FAULT = re.compile(r"\[\[fault=(?P<kind>\w+?)(?:x(?P<times>\d+))?\]\]")


class FakeLLM:
    def __init__(self) -> None:
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self.chat)
        self.lock = threading.Lock()
        self.attempts: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        #: In-flight counts by test (``reset`` starts a new one): a slow answer of an earlier test that is still
        #: sleeping must not count toward, or be subtracted from, this test's concurrency.
        self.epoch = 0
        self.in_flight: Counter[int] = Counter()
        self.max_in_flight = 0
        self.arrivals: list[float] = []
        self.bodies: list[dict[str, Any]] = []
        self.authorization: list[str | None] = []
        #: Seconds every answer waits (to make requests overlap, or to give a test time to kill a run).
        self.delay = 0.0
        self.server: uvicorn.Server | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="critical", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            assert time.time() < deadline, "the fake server did not start"
            time.sleep(0.01)
        return self.url

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
            self.thread.join(timeout=10)

    def reset(self) -> None:
        with self.lock:
            self.attempts.clear()
            self.answered.clear()
            self.epoch += 1
            self.max_in_flight = 0
            self.arrivals.clear()
            self.bodies.clear()
            self.authorization.clear()
            self.delay = 0.0

    # ------------------------------------------------------------------ the endpoint
    async def chat(self, request: Request) -> Response:
        body = await request.json()
        prompt = body["messages"][-1]["content"]
        with self.lock:
            self.attempts[prompt] += 1
            attempt = self.attempts[prompt]
            self.arrivals.append(time.monotonic())
            self.bodies.append(body)
            self.authorization.append(request.headers.get("authorization"))
            epoch = self.epoch
            self.in_flight[epoch] += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight[epoch])
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            fault = FAULT.search(prompt)
            kind = None
            if fault and (fault["times"] is None or attempt <= int(fault["times"])):
                kind = fault["kind"]
            return await self._answer(prompt, kind, body, epoch)
        finally:
            with self.lock:
                self.in_flight[epoch] -= 1

    async def _answer(self, prompt: str, kind: str | None, body: dict[str, Any], epoch: int) -> Response:
        if kind == "429":
            return JSONResponse({"error": "rate limited"}, status_code=429, headers={"Retry-After": "1"})
        if kind in ("500", "401"):
            return JSONResponse({"error": f"fault {kind}"}, status_code=int(kind))
        if kind == "garbage":
            return PlainTextResponse("<html><body>502 Bad Gateway</body></html>", status_code=200)
        if kind == "empty":
            return JSONResponse({"id": "x", "object": "chat.completion", "choices": []})
        if kind == "drop":

            async def broken():
                yield b'{"id": "x", "choices": [{"mess'
                raise ConnectionError("dropped on purpose")

            return StreamingResponse(broken(), media_type="application/json")
        if kind == "slow":
            await asyncio.sleep(2.0)
        content = prompt.split("ECHO:", 1)[1].strip() if "ECHO:" in prompt else ""
        finish = "stop"
        if kind == "length":
            content, finish = content[: len(content) // 2], "length"
        if kind == "blank":
            content = ""
        with self.lock:
            if epoch == self.epoch:
                self.answered[prompt] += 1
        return JSONResponse(
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "model": body.get("model", "fake"),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}
                ],
                "usage": {
                    "prompt_tokens": len(prompt.split()),
                    "completion_tokens": len(content.split()),
                    "total_tokens": len(prompt.split()) + len(content.split()),
                },
            }
        )
