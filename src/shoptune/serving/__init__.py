"""Serving: a FastAPI service for relevance models (``shoptune serve``).

:mod:`.batching` (the micro-batcher: concurrent requests share forward passes, off the event loop),
:mod:`.limits` (what one request may ask for, and the body-size guard), :mod:`.app` (the endpoints, metrics and
offline docs), :mod:`.chat` (the OpenAI-compatible endpoints of instruction models), :mod:`.local` (a free port,
waiting for readiness).

Example:
    >>> from shoptune.serving import create_app, ServeLimits
    >>> app = create_app("runs/rel", ServeLimits(max_pairs=64))  # doctest: +SKIP
    >>> import uvicorn; uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
"""

from shoptune.serving.app import create_app
from shoptune.serving.limits import ServeLimits
from shoptune.serving.local import free_port, serve_in_thread, wait_ready

__all__ = ["ServeLimits", "create_app", "free_port", "serve_in_thread", "wait_ready"]
