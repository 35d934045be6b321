"""The service: FastAPI endpoints over any relevance artifact (a model or run folder, a per-task collection, an
ensemble, an OpenVINO / ONNX export) or an instruction model (an SFT adapter, a merged model: the OpenAI-compatible
endpoints of :mod:`.chat`), micro-batched, limited, with Prometheus metrics.

Endpoints:

* ``POST /v1/relevance``: ``{"pairs": [{"task", "left", "right"}, ...]}`` -> one ``{"task", "label", "probs"}`` per
  pair (the served label: the model's decision rule), with the model's name and version.
* ``GET /v1/models``: the model served and its tasks. ``GET /healthz``: the process is up. ``GET /readyz``: the
  model is loaded.
* ``GET /metrics``: requests, errors, latency, batch sizes and queue depth (Prometheus text format).
* ``GET /openapi.json`` and ``GET /docs``: the schema, and a self-contained page that lists the endpoints and
  sends a request (no script or style from a CDN: it works offline).

Input errors are 413 / 422 with ``{"error": {"field", "message"}}``; the model never sees a bad request.

Example:
    >>> app = create_app("runs/rel")  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from shoptune import __version__
from shoptune.errors import ShoptuneError
from shoptune.serving.batching import MicroBatcher
from shoptune.serving.chat import (
    DEFAULT_MAX_TOKENS,
    ChatRequest,
    CompletionRequest,
    GenJob,
    chat_response,
    completion_response,
    is_instruction_model,
    stops,
)
from shoptune.serving.limits import BodyLimit, ServeLimits, error_body


class PairIn(BaseModel):
    """One pair to grade: the task it belongs to (a task the model serves) and its two texts."""

    task: str = Field(min_length=1, max_length=200)
    left: str
    right: str


class RelevanceRequest(BaseModel):
    pairs: list[PairIn] = Field(min_length=1)


class PairOut(BaseModel):
    task: str
    label: str
    probs: dict[str, float]


class RelevanceResponse(BaseModel):
    model: str
    version: str
    results: list[PairOut]


class InputError(Exception):
    """A request the service refuses: HTTP status, the field, and why."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status, self.field, self.message = status, field, message


def model_version(path: Path) -> str:
    """A short content hash of the model folder's manifest (relevance.json, the adapter's or the model's config):
    it changes when the model does."""
    from shoptune.relevance.model import ARTIFACT_FILE
    from shoptune.training.sft import RUN_FILE

    for name in (ARTIFACT_FILE, RUN_FILE, "adapter_config.json", "config.json"):
        if (path / name).is_file():
            return hashlib.sha256((path / name).read_bytes()).hexdigest()[:12]
    return "unknown"


def create_app(model: str | Path, limits: ServeLimits | None = None) -> FastAPI:
    """The service for the model at ``model``: a relevance artifact (relevance endpoints) or an SFT adapter, merged
    model or causal LM folder (OpenAI-compatible endpoints). It loads at startup; ``/readyz`` says when."""
    limits = limits or ServeLimits()
    path = Path(model)
    relevance_model = any((c / "relevance.json").is_file() for c in (path, path / "model"))
    if not relevance_model and not (path.is_dir() and is_instruction_model(path)):
        raise ShoptuneError(f"{path}: not a relevance model, an SFT adapter or a causal LM folder")
    if relevance_model:
        from shoptune.relevance.ensemble import resolve_artifact

        path = resolve_artifact(path)
    state: dict[str, Any] = {"ready": False, "tasks": []}
    metrics = _Metrics()
    name = path.parent.name if path.name in ("model", "adapter") else path.name  # the run folder names it
    version = model_version(path)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        backend = await asyncio.to_thread(_load_relevance if relevance_model else _load_generator, path)
        batcher = MicroBatcher(
            backend.run, max_batch=limits.max_batch, max_wait_ms=limits.max_wait_ms, on_batch=metrics.batch.observe
        )
        await batcher.start()
        state.update(backend=backend, batcher=batcher, tasks=getattr(backend, "tasks", []), ready=True)
        metrics.depth.set_function(batcher.depth)
        yield
        state["ready"] = False
        await batcher.stop()

    app = FastAPI(title="shoptune", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)

    @app.exception_handler(InputError)
    async def input_error(_request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse(error_body(exc.field, exc.message), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": ("body",), "msg": "invalid request"}
        field = ".".join(str(x) for x in first.get("loc", ("body",)) if x != "body") or "body"
        return JSONResponse(error_body(field, str(first.get("msg", "invalid request"))), status_code=422)

    @app.middleware("http")
    async def measure(request: Request, call_next):
        start = time.perf_counter()
        response = await call_next(request)
        path = request.scope.get("route").path if request.scope.get("route") else "other"
        metrics.requests.labels(path, str(response.status_code)).inc()
        metrics.latency.labels(path).observe(time.perf_counter() - start)
        return response

    async def submit(items: list[Any], field: str) -> list[Any]:
        if not state["ready"]:
            raise InputError(503, "model", "the model is still loading (see /readyz)")
        try:
            return await asyncio.wait_for(state["batcher"].submit(items), limits.timeout_s)
        except TimeoutError:
            raise InputError(504, field, f"not answered within {limits.timeout_s:g} s (--timeout-s)") from None

    if relevance_model:

        @app.post("/v1/relevance", response_model=RelevanceResponse)
        async def relevance(body: RelevanceRequest) -> RelevanceResponse:
            pairs = _checked(body, state["tasks"], limits) if state["ready"] else []
            results = await submit(pairs, "pairs")
            return RelevanceResponse(model=name, version=version, results=results)

    else:
        _add_chat_routes(app, submit, state, limits, name)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        kind = "relevance" if relevance_model else "instruction"
        return {"object": "list", "data": [{"id": name, "object": "model", "version": version, "owned_by": "shoptune",
                                            "tasks": state.get("tasks", []), "kind": kind}]}  # fmt: skip

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        ready = bool(state["ready"])
        return JSONResponse({"ready": ready, "model": name}, status_code=200 if ready else 503)

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus() -> PlainTextResponse:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(_DOCS_PAGE)

    return app


class _Relevance:
    """A relevance predictor as the batcher's backend: pairs in, one answer per pair out."""

    def __init__(self, path: Path) -> None:
        from shoptune.relevance.predictor import load_predictor

        self.predictor = load_predictor(path)
        self.tasks = list(self.predictor.tasks)

    def run(self, pairs: list[Any]) -> list[dict[str, Any]]:
        return _score(self.predictor, pairs)


def _load_relevance(path: Path) -> _Relevance:
    return _Relevance(path)


def _load_generator(path: Path) -> Any:
    from shoptune.serving.chat import Generator

    return Generator(path)


def _add_chat_routes(app: FastAPI, submit: Any, state: dict[str, Any], limits: ServeLimits, name: str) -> None:
    def job(prompt: str, body: Any) -> GenJob:
        budget = body.max_tokens or min(DEFAULT_MAX_TOKENS, limits.max_tokens)
        if budget > limits.max_tokens:
            raise InputError(413, "max_tokens", f"{budget}; at most {limits.max_tokens} (--max-tokens)")
        return GenJob(prompt, budget, body.temperature, stops(body.stop), body.seed)

    def check_text(field: str, text: str) -> None:
        if not text.strip():
            raise InputError(422, field, "empty text")
        if len(text) > limits.max_chars:
            raise InputError(413, field, f"{len(text)} characters; at most {limits.max_chars} (--max-chars)")

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest) -> dict[str, Any]:
        for i, message in enumerate(body.messages):
            check_text(f"messages.{i}.content", message.content)
        generator = state.get("backend")
        prompt = generator.chat_prompt(body.messages) if generator else ""
        ((text, finish),) = await submit([job(prompt, body)], "messages")
        return chat_response(name, text, finish, generator.tokens(prompt), generator.tokens(text))

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest) -> dict[str, Any]:
        check_text("prompt", body.prompt)
        generator = state.get("backend")
        ((text, finish),) = await submit([job(body.prompt, body)], "prompt")
        return completion_response(name, text, finish, generator.tokens(body.prompt), generator.tokens(text))


def _checked(body: RelevanceRequest, tasks: list[str], limits: ServeLimits) -> list[Any]:
    """The request's pairs as :class:`Pair`, or the first problem as an InputError naming its field."""
    from shoptune.relevance.data import Pair

    if len(body.pairs) > limits.max_pairs:
        raise InputError(413, "pairs", f"{len(body.pairs)} pairs; at most {limits.max_pairs} (--max-pairs)")
    known = set(tasks)
    out = []
    for i, pair in enumerate(body.pairs):
        if pair.task not in known:
            raise InputError(422, f"pairs.{i}.task", f"unknown task {pair.task!r:.60} (served: {', '.join(tasks)})")
        for side in ("left", "right"):
            text = getattr(pair, side)
            if not text.strip():
                raise InputError(422, f"pairs.{i}.{side}", "empty text")
            if len(text) > limits.max_chars:
                raise InputError(413, f"pairs.{i}.{side}", f"{len(text)} characters; at most {limits.max_chars}"
                                 " (--max-chars)")  # fmt: skip
        out.append(Pair(str(i), pair.task, pair.left, pair.right))
    return out


def _score(predictor: Any, pairs: list[Any]) -> list[dict[str, Any]]:
    from shoptune.records import LABELS

    prediction = predictor.predict(pairs)
    return [
        {"task": p.task, "label": LABELS[int(label)], "probs": {k: round(float(v), 6) for k, v in zip(LABELS, probs,
                                                                                                   strict=True)}}
        for p, probs, label in zip(pairs, prediction.probs, prediction.labels, strict=True)
    ]  # fmt: skip


class _Metrics:
    """The service's Prometheus metrics, in a registry of its own (two apps in one process do not collide)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter("shoptune_requests", "HTTP requests by route and status", ["route", "status"],
                                registry=self.registry)  # fmt: skip
        self.latency = Histogram("shoptune_request_seconds", "request latency", ["route"], registry=self.registry)
        self.batch = Histogram("shoptune_batch_pairs", "pairs per model call", registry=self.registry,
                               buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512))  # fmt: skip
        self.depth = Gauge("shoptune_queue_pairs", "pairs waiting for the model", registry=self.registry)


_DOCS_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>shoptune relevance API</title>
<style>body{font:14px sans-serif;max-width:60em;margin:2em auto}pre,textarea{width:100%;font:13px monospace}
code{background:#eee}</style></head><body><h1>shoptune relevance API</h1>
<p>Schema: <a href="/openapi.json">/openapi.json</a>. This page loads nothing from outside this server.</p>
<ul id="paths"></ul><h2>Try POST /v1/relevance</h2>
<textarea id="req" rows="8">{"pairs": [{"task": "TASK", "left": "cordless drill",
 "right": "18v cordless drill kit"}]}</textarea>
<button onclick="send()">Send</button><pre id="out"></pre><script>
fetch('/openapi.json').then(r=>r.json()).then(s=>{const ul=document.getElementById('paths');
for(const [p,ops] of Object.entries(s.paths)){for(const m of Object.keys(ops)){const li=document.createElement('li');
li.textContent=m.toUpperCase()+' '+p+(ops[m].summary?' - '+ops[m].summary:'');ul.appendChild(li);}}});
fetch('/v1/models').then(r=>r.json()).then(m=>{const t=(m.data[0]||{}).tasks||[];if(t.length){
const e=document.getElementById('req');e.value=e.value.replace('TASK',t[0]);}});
function send(){fetch('/v1/relevance',{method:'POST',headers:{'content-type':'application/json'},
body:document.getElementById('req').value}).then(async r=>{document.getElementById('out').textContent=
r.status+'\\n'+JSON.stringify(await r.json(),null,2);});}
</script></body></html>"""
