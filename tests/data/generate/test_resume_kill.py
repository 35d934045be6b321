"""A real SIGKILL in the middle of a generation: no file is left half-written, and the resumed run sends only the
requests whose replies were not checkpointed, ending with the same examples as an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from data.generate.conftest import make_config, seed_row, write_config, write_seeds
from shoptune.data.generate.config import load_generate_config
from shoptune.data.generate.runner import run_generation
from shoptune.data.generate.store import ReplyStore

ENTRY = Path(__file__).with_name("_cli_entry.py")


def _launch(config: Path, out: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    argv = [sys.executable, str(ENTRY), "data", "generate", str(config), "--out", str(out), *extra]
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_sigkill_mid_run_then_resume_pays_nothing_twice(llm, tmp_path):
    rows = [seed_row(f"need number {i}: a thing for room {i}", f"Product {i}") for i in range(24)]
    seeds = write_seeds(tmp_path / "seeds.jsonl", rows)
    cfg = make_config(llm.url, seeds, target=24, max_requests=24, checkpoint_every=2)
    cfg["backend"]["concurrency"] = 2
    config = write_config(tmp_path / "gen.yaml", cfg)
    out = tmp_path / "out"
    llm.delay = 0.1  # ~20 replies a second: the kill lands mid-run
    proc = _launch(config, out)
    checkpoints = out / "checkpoints"
    start = time.time()
    while not (checkpoints.is_dir() and len(list(checkpoints.glob("part-*.jsonl"))) >= 3):
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.time() - start < 60, "timed out"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "examples.jsonl").exists() and not (out / "report.json").exists()
    # every part file that exists is whole (written to a temp file and renamed)
    saved = ReplyStore(checkpoints, every=1).replies
    assert 6 <= len(saved) < 24
    for part in checkpoints.glob("part-*.jsonl"):
        assert all(json.loads(line)["status"] == "ok" for line in part.read_text().splitlines())
    saved_texts = {reply.text for reply in saved.values()}
    saved_prompts = {p for p in llm.attempts if p.split("ECHO:", 1)[1].strip() in saved_texts}
    assert len(saved_prompts) == len(saved)

    llm.delay = 0.0
    proc = _launch(config, out, "--resume")
    assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    report = json.loads((out / "report.json").read_text())
    assert report["kept"] == 24
    for prompt in saved_prompts:
        assert llm.attempts[prompt] == 1  # checkpointed replies were not asked for again
    # only replies in flight or in the unwritten buffer (concurrency 2 + checkpoint_every 2 - 1) were paid twice
    assert sum(llm.answered.values()) - 24 <= 3

    clean = tmp_path / "clean"
    fresh = run_generation(load_generate_config(config), clean, log=lambda m: None)
    resumed = [json.loads(line) for line in (out / "examples.jsonl").read_text().splitlines()]
    uninterrupted = [json.loads(line) for line in (clean / "examples.jsonl").read_text().splitlines()]
    assert fresh["kept"] == 24
    assert [(r["input"], r["options"], r["output"]) for r in resumed] == [
        (r["input"], r["options"], r["output"]) for r in uninterrupted
    ]
    leftovers = [p.name for p in out.rglob("*") if ".tmp-" in p.name]
    assert not leftovers
