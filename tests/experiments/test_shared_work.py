"""Several workers on one sweep folder: each run is claimed once, stale claims are taken over, and a worker that
finds the rest held waits for them (issue 25's scale-out on one machine, used by the issue-22 reruns)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from shoptune.experiments.sweep import Unit, work_shared
from shoptune.io import claim_work, foreign_files, read_marker, release_work, staging_dir


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_claim_is_exclusive_and_listed_in_the_marked_folder(tmp_path: Path) -> None:
    with staging_dir(tmp_path / "sweep", kind="sweep"):
        pass
    claim = tmp_path / "sweep" / "claims" / "a-seed-13"
    assert claim_work(claim)
    assert claim_work(claim)  # this process already holds it
    assert "claims/a-seed-13" in read_marker(tmp_path / "sweep")["files"]
    assert foreign_files(tmp_path / "sweep") == []  # a resumed sweep is not refused for a live claim
    release_work(claim)
    assert not claim.exists()
    assert "claims/a-seed-13" not in read_marker(tmp_path / "sweep")["files"]


def test_a_live_process_keeps_its_claim_and_a_dead_one_loses_it(tmp_path: Path) -> None:
    claim = tmp_path / "claims" / "x"
    claim.parent.mkdir()
    claim.write_text(f"{socket.gethostname()} {os.getppid()}")  # the test runner's parent: alive
    assert not claim_work(claim)
    claim.write_text(f"{socket.gethostname()} {_dead_pid()}")
    assert claim_work(claim)
    assert claim.read_text() == f"{socket.gethostname()} {os.getpid()}"


def test_a_claim_from_another_host_is_never_taken_over(tmp_path: Path) -> None:
    claim = tmp_path / "x"
    claim.write_text(f"not-{socket.gethostname()} {_dead_pid()}")
    assert not claim_work(claim)


def test_an_empty_claim_is_stale_only_after_the_grace_period(tmp_path: Path) -> None:
    claim = tmp_path / "x"
    claim.write_text("")
    assert not claim_work(claim)
    old = time.time() - 3600
    os.utime(claim, (old, old))
    assert claim_work(claim)


def test_work_shared_skips_held_units_then_waits_for_them(tmp_path: Path) -> None:
    claims = tmp_path / "claims"
    done: dict[str, bool] = {"a": False, "b": False}
    order: list[str] = []

    def unit(name: str) -> Unit:
        def do() -> None:
            order.append(name)
            done[name] = True

        return Unit(name, name, lambda: done[name], do)

    # Another (live) worker holds "a"; it finishes it a moment later.
    claims.mkdir()
    (claims / "a").write_text(f"{socket.gethostname()} {os.getppid()}")

    def other_worker() -> None:
        time.sleep(0.3)
        done["a"] = True
        (claims / "a").unlink()

    thread = threading.Thread(target=other_worker)
    thread.start()
    said: list[str] = []
    work_shared([unit("a"), unit("b")], claims, log=said.append, poll_s=0.05)
    thread.join()
    assert order == ["b"]  # "a" was never done twice
    assert done == {"a": True, "b": True}
    assert said and "waiting for 1 run(s)" in said[0] and "a" in said[0]
    assert not any(claims.iterdir())  # every claim given back


def test_a_failed_unit_gives_its_claim_back(tmp_path: Path) -> None:
    def boom() -> None:
        raise RuntimeError("out of memory")

    claims = tmp_path / "claims"
    with pytest.raises(RuntimeError, match="out of memory"):
        work_shared([Unit("a", "a", lambda: False, boom)], claims, log=print, poll_s=0.01)
    assert not (claims / "a").exists()  # a retry (this worker or another) may take it
