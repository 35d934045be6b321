"""`shoptune serve`: the relevance HTTP service (:mod:`shoptune.serving`) on uvicorn.

Example:
    $ shoptune serve --model runs/rel --port 8000
    $ curl -s localhost:8000/v1/relevance -d '{"pairs": [{"task": "hd_query_product", "left": "drill",
          "right": "cordless drill"}]}' -H 'content-type: application/json'
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shoptune.cli.console import console


def serve(
    model: Annotated[
        Path, typer.Option("--model", help="A relevance model/run/ensemble/export, or an SFT adapter or merged model.")
    ],
    host: Annotated[str, typer.Option("--host", help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    max_pairs: Annotated[int, typer.Option("--max-pairs", help="Pairs per request, at least 1.")] = 256,
    max_chars: Annotated[int, typer.Option("--max-chars", help="Characters per text, at least 1.")] = 4096,
    max_body_bytes: Annotated[int, typer.Option("--max-body-bytes", help="Bytes per request body.")] = 4 << 20,
    timeout_s: Annotated[float, typer.Option("--timeout-s", help="Seconds a request may take (then 504).")] = 30.0,
    max_tokens: Annotated[int, typer.Option("--max-tokens", help="Tokens one completion may generate.")] = 256,
    max_batch: Annotated[int, typer.Option("--max-batch", help="Pairs per model call, across requests.")] = 64,
    max_wait_ms: Annotated[
        float, typer.Option("--max-wait-ms", help="How long a batch waits for more requests.")
    ] = 5.0,
) -> None:
    """Serve a model over HTTP: POST /v1/relevance (relevance models) or the OpenAI-compatible
    /v1/chat/completions and /v1/completions (instruction models); /v1/models, /healthz, /readyz, /metrics, /docs."""
    import transformers
    import uvicorn

    from shoptune.serving import ServeLimits, create_app

    transformers.logging.disable_progress_bar()  # per-checkpoint bars would interleave with the server's log

    limits = ServeLimits(
        max_pairs=max_pairs,
        max_chars=max_chars,
        max_body_bytes=max_body_bytes,
        timeout_s=timeout_s,
        max_tokens=max_tokens,
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
    )
    app = create_app(model, limits)
    console.print(f"serving {model} on http://{host}:{port} (docs: /docs); Ctrl-C or SIGTERM stops it")
    # SIGTERM: uvicorn stops accepting, lets in-flight requests finish, then the lifespan drains the batcher.
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=30)
