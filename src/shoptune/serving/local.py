"""Helpers for running the service locally (tests, benchmarks, scripts): a free loopback port, and waiting until
a started server says it is ready.

Example:
    >>> port = free_port()
    >>> 1024 <= port <= 65535
    True
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(url: str, timeout_s: float = 60.0) -> bool:
    """Poll ``url``/readyz until it answers 200 (the model is loaded); False when ``timeout_s`` passes first."""
    import httpx2 as httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


@contextlib.contextmanager
def serve_in_thread(app: Any, timeout_s: float = 60.0) -> Iterator[str]:
    """Run ``app`` on uvicorn on a free loopback port in a background thread; yields its URL once it is ready,
    and stops it on exit (tests, notebooks)."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_ready(url, timeout_s):
            raise RuntimeError(f"the server at {url} was not ready within {timeout_s:g} s")
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
