"""`relevance predict --resume` with a real kill: chunks are written as part files as they are scored; a SIGKILLed
run continues after the last part, the output equals an uninterrupted run's, and a changed input is refused
(issue 24, part 3)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shoptune.errors import ShoptuneError
from shoptune.relevance.api import predict
from shoptune.relevance.resumable import PROGRESS, parts_dir


@pytest.fixture(scope="module")
def model(tmp_path_factory, tiny_encoder, tiny_data, make_config) -> Path:
    from shoptune.relevance.recipe import train

    cfg = make_config(tiny_data, tiny_encoder, "cross_encoder", "multihead", epochs=1)
    cfg.eval.splits = []
    return train(cfg, tmp_path_factory.mktemp("resume") / "run", quiet=True)


def _input(path: Path, n: int) -> Path:
    words = ["red mug", "blue lamp", "green sofa", "oat milk", "drill bit", "desk"]
    rows = ({"left": f"{words[i % 6]} {i}", "right": words[(i * 7) % 6], "task": "alpha" if i % 2 else "shade"}
            for i in range(n))  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _run(model: Path, src: Path, out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "shoptune", "relevance", "predict", "--model", str(model), "--input", str(src),
           "--out", str(out), "--chunk", "200", *extra]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_a_killed_predict_resumes_after_its_last_part(model, tmp_path, suffix) -> None:
    src = _input(tmp_path / "pairs.jsonl", 6_000)
    whole = tmp_path / f"whole{suffix}"
    assert predict(model, src, whole, chunk=200) == 6_000
    out = tmp_path / f"scored{suffix}"
    proc = _run(model, src, out)
    progress = parts_dir(out) / PROGRESS
    deadline = time.time() + 120
    rows_at_kill = 0
    while time.time() < deadline and proc.poll() is None:
        if progress.is_file():
            rows_at_kill = json.loads(progress.read_text())["rows"]
            if rows_at_kill >= 400:
                break
        time.sleep(0.02)
    if proc.poll() is not None:
        pytest.fail("predict finished before it could be killed: make the input larger")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists() and parts_dir(out).is_dir()
    done = json.loads(progress.read_text())["rows"]
    assert 400 <= done < 6_000
    resumed = _run(model, src, out, "--resume")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err.decode()
    assert not parts_dir(out).exists()
    if suffix == ".jsonl":
        assert out.read_text() == whole.read_text()
    else:
        import pyarrow.parquet as pq

        assert pq.read_table(str(out)).equals(pq.read_table(str(whole)))


def test_resume_refuses_a_changed_input(model, tmp_path) -> None:
    src = _input(tmp_path / "pairs.jsonl", 300)
    out = tmp_path / "scored.jsonl"
    proc = _run(model, src, out)
    proc.wait()
    assert out.is_file()
    # A run killed at its start leaves its parts: simulate by starting one and rewriting the input after.
    from shoptune.relevance.ensemble import resolve_artifact
    from shoptune.relevance.resumable import fingerprint, start_parts

    out2 = tmp_path / "again.jsonl"
    start_parts(out2, fingerprint(src, resolve_artifact(model)), resume=False)
    _input(src, 301)
    with pytest.raises(ShoptuneError, match="--resume: .* was started from another input or model"):
        predict(model, src, out2, resume=True)
