"""`shoptune serve` against a real uvicorn server on loopback: answers equal offline prediction under 32 concurrent
clients (micro-batched), every limit and bad input is a 4xx naming the field (never a 5xx), metrics and the
offline docs page are there (issue 24)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx2 as httpx
import pytest

from shoptune.records import LABELS
from shoptune.relevance.data import Pair
from shoptune.relevance.predictor import load_predictor
from shoptune.serving import ServeLimits, create_app, free_port, serve_in_thread, wait_ready


@pytest.fixture(scope="module")
def model(tmp_path_factory, tiny_encoder, tiny_data, make_config) -> Path:
    from shoptune.relevance.recipe import train

    cfg = make_config(tiny_data, tiny_encoder, "cross_encoder", "mhp", epochs=1)
    cfg.eval.splits = []
    return train(cfg, tmp_path_factory.mktemp("serve") / "run", quiet=True)


@pytest.fixture(scope="module")
def server(model):
    limits = ServeLimits(max_pairs=40, max_chars=200, max_body_bytes=20_000, max_batch=16, max_wait_ms=20)
    with serve_in_thread(create_app(model, limits)) as url:
        yield url


def _pairs(n: int) -> list[dict[str, str]]:
    colours, nouns = ["red", "blue", "green"], ["mug", "lamp", "sofa", "shoe"]
    return [{"task": "alpha" if i % 3 else "shade", "left": f"{nouns[i % 4]} {i}",
             "right": f"{colours[i % 3]} {nouns[(i // 3) % 4]}"} for i in range(n)]  # fmt: skip


def test_32_concurrent_clients_get_what_offline_prediction_gives(server, model) -> None:
    requests = [_pairs(40)[i : i + 1 + i % 5] for i in range(32)]

    async def client(pairs):
        async with httpx.AsyncClient(timeout=30) as http:
            r = await http.post(f"{server}/v1/relevance", json={"pairs": pairs})
            assert r.status_code == 200, r.text
            return r.json()

    async def all_clients():
        return await asyncio.gather(*(client(p) for p in requests))

    answers = asyncio.run(all_clients())
    predictor = load_predictor(model)
    for pairs, answer in zip(requests, answers, strict=True):
        offline = predictor.predict([Pair(str(i), p["task"], p["left"], p["right"]) for i, p in enumerate(pairs)])
        assert [r["label"] for r in answer["results"]] == [LABELS[int(x)] for x in offline.labels]
        for got, want in zip(answer["results"], offline.probs, strict=True):
            assert got["probs"] == pytest.approx(dict(zip(LABELS, map(float, want), strict=True)), abs=1e-4)
        assert answer["model"] == "run" and len(answer["version"]) == 12
    metrics = httpx.get(f"{server}/metrics").text
    assert 'shoptune_requests_total{route="/v1/relevance",status="200"} 32.0' in metrics
    batches = [line for line in metrics.splitlines() if line.startswith("shoptune_batch_pairs_count")]
    assert batches and float(batches[0].split()[-1]) < 32  # concurrent requests shared model calls


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"pairs": _pairs(41)}, 413, "pairs"),
        ({"pairs": [{"task": "alpha", "left": "x" * 201, "right": "y"}]}, 413, "pairs.0.left"),
        ({"pairs": [{"task": "nope", "left": "a", "right": "b"}]}, 422, "pairs.0.task"),
        ({"pairs": [{"task": "alpha", "left": "   ", "right": "b"}]}, 422, "pairs.0.left"),
        ({"pairs": [{"task": "alpha", "left": "a"}]}, 422, "pairs.0.right"),
        ({"pairs": []}, 422, "pairs"),
        ({"pairs": [{"task": "alpha", "left": 5, "right": "b"}]}, 422, "pairs.0.left"),
        ([1, 2], 422, "body"),
    ],
)
def test_bad_requests_are_4xx_naming_the_field(server, body, status, field) -> None:
    r = httpx.post(f"{server}/v1/relevance", json=body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["field"] == field


def test_bodies_that_are_not_json_or_too_large_are_refused(server) -> None:
    bad = [b"\xff\xfe not utf-8", b"{not json", b""]
    for raw in bad:
        r = httpx.post(f"{server}/v1/relevance", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 422, (raw, r.text)
    big = json.dumps({"pairs": [{"task": "alpha", "left": "a" * 150, "right": "b"}] * 200}).encode()
    r = httpx.post(f"{server}/v1/relevance", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["field"] == "body"

    def chunks():  # no content-length: counted as it arrives
        for _ in range(50):
            yield b" " * 1000

    r = httpx.post(f"{server}/v1/relevance", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_models_health_ready_schema_and_offline_docs(server) -> None:
    models = httpx.get(f"{server}/v1/models").json()["data"][0]
    assert models["tasks"] == ["alpha", "shade"] and models["kind"] == "relevance"
    assert httpx.get(f"{server}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server}/readyz").json()["ready"] is True
    assert "/v1/relevance" in httpx.get(f"{server}/openapi.json").json()["paths"]
    page = httpx.get(f"{server}/docs").text
    assert "/openapi.json" in page and "http://" not in page and "https://" not in page  # nothing from a CDN


def test_bad_limits_are_refused_before_serving(model) -> None:
    with pytest.raises(ValueError, match="max_pairs"):
        ServeLimits(max_pairs=0)
    with pytest.raises(ValueError, match="timeout_s"):
        ServeLimits(timeout_s=-1)


def test_random_bodies_never_get_a_5xx(server) -> None:
    """A bounded fuzz: arbitrary JSON (and pair-shaped JSON with arbitrary values) is answered 2xx or 4xx."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=30)
    )
    anything = st.recursive(scalars, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8),
                            kids, max_size=4), max_leaves=12)  # fmt: skip
    pair = st.fixed_dictionaries({"task": st.sampled_from(["alpha", "shade", "", "x"]) | st.text(max_size=5),
                                  "left": st.text(max_size=250), "right": anything})  # fmt: skip
    body = anything | st.fixed_dictionaries({"pairs": st.lists(pair, max_size=5) | anything})

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body)
    def check(payload) -> None:
        r = httpx.post(f"{server}/v1/relevance", json=payload, timeout=30)
        assert r.status_code < 500, (payload, r.status_code, r.text)

    check()


def test_schemathesis_finds_no_server_error(server, tmp_path) -> None:
    """Schemathesis generates requests from /openapi.json (bounded) and checks that none is answered 5xx."""
    import shutil
    import subprocess

    cli = shutil.which("schemathesis") or str(Path(__import__("sys").executable).parent / "schemathesis")
    if not Path(cli).exists():
        pytest.skip("schemathesis is not installed")
    proc = subprocess.run(
        [cli, "run", f"{server}/openapi.json", "--checks", "not_a_server_error", "--max-examples", "25",
         "--seed", "13", "--no-color"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,  # its cache folder goes there
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


def test_sigterm_lets_in_flight_requests_finish_then_exits(model) -> None:
    """`shoptune serve` as a real process: SIGTERM after the first of 12 concurrent requests is answered; every
    request already sent is answered 200, the process ends, and the port then refuses connections."""
    import os
    import signal
    import subprocess
    import sys

    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "shoptune", "serve", "--model", str(model), "--port", str(port), "--max-batch", "32"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_ready(url, 60)
        body = {"pairs": _pairs(40) * 6}  # 240 pairs per request

        async def clients():
            async with httpx.AsyncClient(timeout=120) as http:
                tasks = [asyncio.create_task(http.post(f"{url}/v1/relevance", json=body)) for _ in range(12)]
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                proc.send_signal(signal.SIGTERM)
                return [await t for t in tasks]

        answers = asyncio.run(clients())
        assert [r.status_code for r in answers] == [200] * 12
        # uvicorn shuts down gracefully, then re-raises the signal: the exit status says SIGTERM ended it
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM), proc.stderr.read().decode()[-2000:]
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{url}/healthz", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
