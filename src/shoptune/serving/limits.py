"""What one request may ask of the service, and the guard that refuses an oversized body before it is read whole.

Every limit has a default and a ``shoptune serve`` flag; going past one is a 413 (too large), 422 (invalid) or
504 (too slow) with a JSON body that names the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shoptune.validate import positive_int


@dataclass(frozen=True)
class ServeLimits:
    """Per-request limits (each a ``shoptune serve`` flag) and the micro-batcher's settings."""

    #: pairs in one POST /v1/relevance (--max-pairs)
    max_pairs: int = 256
    #: characters in one text, left or right (--max-chars)
    max_chars: int = 4096
    #: bytes of one request body (--max-body-bytes)
    max_body_bytes: int = 4 << 20
    #: seconds a request may wait and run (--timeout-s); past it: 504
    timeout_s: float = 30.0
    #: tokens one completion may generate (--max-tokens)
    max_tokens: int = 256
    #: pairs one forward pass may hold, across requests (--max-batch)
    max_batch: int = 64
    #: how long the first request of a batch waits for others (--max-wait-ms)
    max_wait_ms: float = 5.0

    def __post_init__(self) -> None:
        for name in ("max_pairs", "max_chars", "max_body_bytes", "max_tokens", "max_batch"):
            positive_int(getattr(self, name), name)
        for name in ("timeout_s", "max_wait_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name}: must be a number >= 0, got {value!r}")


class BodyLimit:
    """ASGI middleware: a body over ``max_bytes`` gets a 413 naming the limit, whether or not it declares its
    length (a chunked body is counted as it arrives, and refused the moment it passes the limit)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        # Read the body here, counting, before the app sees any of it: refused the moment it passes the limit.
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.max_bytes:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: the disconnect message, when the client goes

        await self.app(scope, replay, send)

    async def _refuse(self, send: Any) -> None:
        body = json.dumps(error_body("body", f"request body over {self.max_bytes} bytes (--max-body-bytes)"))
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json")]})  # fmt: skip
        await send({"type": "http.response.body", "body": body.encode()})


def error_body(field: str, message: str) -> dict[str, Any]:
    """The JSON of every error answer: which field, and what is wrong with it."""
    return {"error": {"field": field, "message": message}}
