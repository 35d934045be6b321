"""Bounded work against a stranger's endpoint: ``timeout_s`` bounds a whole request (a server trickling bytes
cannot hold a run), and token usage a server reports cannot hand tokens back to the budget.

The server here is a plain ``http.server`` on loopback whose handler each test sets: the faults it plays
(trickling, lying about usage) are below the fake OpenAI server's level.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shoptune.data.generate.backends import USAGE_CLAMPED, Budget, OpenAICompatible, Request
from shoptune.data.generate.config import OpenAIBackend

Handler = Callable[[BaseHTTPRequestHandler], None]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    handle: Handler
    stop: threading.Event


class _Dispatch(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up: a deadline at work
            self.server.handle(self)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Dispatch)
    httpd.stop = threading.Event()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.stop.set()
    httpd.shutdown()
    httpd.server_close()


def _url(httpd: _Server) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}/v1"


def _backend(url: str, **over: object) -> OpenAICompatible:
    settings = {"kind": "openai", "model": "m", "base_url": url, "require_api_key": False, "backoff_base_s": 0.01}
    return OpenAICompatible(OpenAIBackend.model_validate({**settings, **over}))


def _send(backend: OpenAICompatible, n: int = 1, budget: Budget | None = None) -> tuple[list, Budget]:
    budget = budget if budget is not None else Budget(None)
    replies: list = []
    requests = [Request(f"g{i:06d}", [{"role": "user", "content": f"question {i} " * 10}], seed=i) for i in range(n)]
    backend.run(requests, replies.append, budget)
    return replies, budget


def _trickle(stop: threading.Event, handler: BaseHTTPRequestHandler, data: bytes, every: float) -> None:
    for i in range(len(data)):
        if stop.wait(every):
            return
        handler.wfile.write(data[i : i + 1])
        handler.wfile.flush()


BODY = json.dumps({"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]}).encode() + b" " * 200
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(BODY)


@pytest.mark.parametrize("part", ["body", "headers"])
def test_a_server_trickling_bytes_fails_the_request_within_timeout_s(server: _Server, part: str) -> None:
    """One byte every 0.2 s never trips a per-read timeout of 1 s; the whole request must still end at 1 s."""

    def handle(h: BaseHTTPRequestHandler) -> None:
        if part == "body":
            h.wfile.write(HEAD)
            h.wfile.flush()
            _trickle(server.stop, h, BODY, 0.2)
        else:
            _trickle(server.stop, h, HEAD + BODY, 0.2)

    server.handle = handle
    started = time.monotonic()
    replies, _ = _send(_backend(_url(server), timeout_s=1.0, max_retries=1))
    elapsed = time.monotonic() - started
    (reply,) = replies
    assert reply.status == "failed" and reply.cause == "timeout" and reply.attempts == 2, reply
    assert reply.retries == {"timeout": 1} and not reply.paid  # a transport failure: a resume asks again
    assert "timeout_s" in reply.detail
    assert elapsed < 2 * 1.0 + 1.5, elapsed  # two attempts of 1 s each, plus slack (the trickle lasts ~50 s)


def test_a_slow_but_complete_answer_within_timeout_s_still_succeeds(server: _Server) -> None:
    def handle(h: BaseHTTPRequestHandler) -> None:
        h.wfile.write(HEAD)
        h.wfile.flush()
        time.sleep(0.3)
        h.wfile.write(BODY)

    server.handle = handle
    replies, _ = _send(_backend(_url(server), timeout_s=2.0, max_retries=0))
    assert replies[0].status == "ok" and replies[0].text == "ok"


def _usage_server(server: _Server, usage: dict[str, object] | None) -> None:
    body = {"choices": [{"message": {"content": "a fine answer"}, "finish_reason": "stop"}]}
    if usage is not None:
        body["usage"] = usage
    data = json.dumps(body).encode()

    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    server.handle = handle


@pytest.mark.parametrize(
    "usage",
    [
        {"prompt_tokens": -1_000_000, "completion_tokens": 5},
        {"prompt_tokens": 10, "completion_tokens": -3},
        {"prompt_tokens": "10", "completion_tokens": 5},
        {"prompt_tokens": 10.5, "completion_tokens": 5},
        {"prompt_tokens": True, "completion_tokens": 5},
    ],
    ids=["negative-prompt", "negative-completion", "string", "float", "bool"],
)
def test_usage_that_is_not_a_count_is_estimated_and_counted(server: _Server, usage: dict[str, object]) -> None:
    _usage_server(server, usage)
    replies, budget = _send(_backend(_url(server)), n=3)
    assert budget.clamped == 3
    for reply in replies:
        assert reply.status == "ok" and reply.usage_estimated
        assert reply.prompt_tokens > 0 and reply.completion_tokens > 0  # the estimate: 4 characters a token
        assert reply.detail.startswith(USAGE_CLAMPED) and "server reported" in reply.detail
    assert budget.spent == sum(r.tokens for r in replies) > 0


def test_negative_usage_cannot_hand_tokens_back_to_the_budget(server: _Server) -> None:
    """Every reply claims -1,000,000 prompt tokens: believed, the budget would never stop."""
    _usage_server(server, {"prompt_tokens": -1_000_000, "completion_tokens": 1})
    budget = Budget(400)
    replies, _ = _send(_backend(_url(server), max_tokens=20, concurrency=2), n=40, budget=budget)
    assert budget.stopped and 0 < len(replies) < 40
    assert 0 < budget.spent <= 400 and budget.clamped == len(replies)


def test_honest_missing_and_huge_usage_are_not_counted_as_clamped(server: _Server) -> None:
    _usage_server(server, {"prompt_tokens": 12, "completion_tokens": 3})
    (reply,), budget = _send(_backend(_url(server)))
    assert (reply.prompt_tokens, reply.completion_tokens, reply.usage_estimated, reply.detail) == (12, 3, False, "")
    assert budget.clamped == 0 and budget.spent == 15
    _usage_server(server, None)  # no usage at all: estimated, as before, not "clamped"
    (reply,), budget = _send(_backend(_url(server)))
    assert reply.usage_estimated and reply.detail == "" and budget.clamped == 0
    _usage_server(server, {"prompt_tokens": 10**12, "completion_tokens": 1})  # absurd but a count: it stops a budget
    budget = Budget(10_000)
    replies, _ = _send(_backend(_url(server), max_tokens=20, concurrency=1), n=5, budget=budget)
    assert replies[0].prompt_tokens == 10**12 and budget.clamped == 0 and budget.stopped and len(replies) == 1


def test_settle_never_gives_tokens_back() -> None:
    budget = Budget(100)
    assert budget.reserve(50)
    budget.settle(50, -1000)
    assert budget.spent == 0 and budget.reserved == 0
