"""shoptune.io: atomic files and folders, and never deleting what shoptune did not write."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from shoptune.io import (
    MARKER,
    OutputError,
    atomic_open,
    atomic_write_json,
    atomic_write_text,
    claim_output,
    clean_stale,
    remove_owned,
    staging_dir,
    write_marker,
)


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def test_atomic_write_replaces_and_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "metrics.json"
    atomic_write_json(path, {"a": 1})
    with pytest.raises(RuntimeError), atomic_open(path) as fh:
        fh.write('{"half": ')
        raise RuntimeError("killed mid-write")
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temp file left behind
    atomic_write_text(path, "new")
    assert path.read_text() == "new"


def test_file_output_onto_a_folder_is_one_clear_error(tmp_path):
    with pytest.raises(OutputError, match="is a folder"):
        atomic_write_text(tmp_path, "x")


def test_claim_refuses_user_folders_and_files(tmp_path):
    user = tmp_path / "d"
    user.mkdir()
    (user / "notes.txt").write_text("x")
    with pytest.raises(OutputError, match="did not write"):
        claim_output(user, "build")
    with pytest.raises(OutputError, match="not a folder shoptune wrote"):
        claim_output(user / "notes.txt", "build")
    with pytest.raises(OutputError, match="is a file"):
        claim_output(user / "notes.txt" / "sub", "build")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert claim_output(empty, "build") == empty and claim_output(tmp_path / "new", "build") == tmp_path / "new"
    (user / "manifest.json").write_text("{}")
    with pytest.raises(OutputError, match="did not write"):
        claim_output(user, "build")  # a file name is no proof of ownership: only the marker is


def test_staging_dir_swaps_in_marks_and_cleans_up(tmp_path):
    final = tmp_path / "out"
    with staging_dir(final, kind="build") as tmp:
        (tmp / "a.txt").write_text("1")
    assert sorted(p.name for p in final.iterdir()) == [MARKER, "a.txt"]
    inode = final.stat().st_ino
    with staging_dir(final, kind="build") as tmp:
        (tmp / "b.txt").write_text("2")
    assert sorted(p.name for p in final.iterdir()) == [MARKER, "b.txt"]
    assert final.stat().st_ino != inode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no .out.tmp-* / .out.old-* left
    with pytest.raises(RuntimeError), staging_dir(final, kind="build") as tmp:
        (tmp / "c.txt").write_text("3")
        raise RuntimeError("build failed")
    assert sorted(p.name for p in final.iterdir()) == [MARKER, "b.txt"]  # the previous output is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_staging_dir_refuses_a_user_folder_before_running_the_body(tmp_path):
    final = tmp_path / "d"
    final.mkdir()
    (final / "notes.txt").write_text("mine")
    ran = []
    with pytest.raises(OutputError), staging_dir(final, kind="build"):
        ran.append(True)
    assert not ran and (final / "notes.txt").read_text() == "mine"


def test_clean_stale_removes_only_dead_processes_leftovers(tmp_path):
    dead, alive = _dead_pid(), os.getpid()
    for name in (f".out.tmp-{dead}", f".out.old-{dead}", f".out.tmp-{alive}", f".other.tmp-{dead}"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "big.bin").write_bytes(b"x")
        write_marker(tmp_path / name, "build")
    mine = tmp_path / f".out.tmp-{dead + 1}"  # a user's folder and file that merely have such names
    mine.mkdir()
    (mine / "thesis.tex").write_text("mine")
    (tmp_path / f".out.old-{dead + 2}").write_text("mine too")
    removed = clean_stale(tmp_path / "out")
    assert sorted(p.name for p in removed) == [f".out.old-{dead}", f".out.tmp-{dead}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f".other.tmp-{dead}", f".out.tmp-{alive}", mine.name, f".out.old-{dead + 2}"]
    )


def test_remove_owned_refuses_user_folders(tmp_path):
    user = tmp_path / "sft"
    user.mkdir()
    (user / "mine.txt").write_text("x")
    with pytest.raises(OutputError):
        remove_owned(user, "sft-run")
    assert (user / "mine.txt").exists()
    (user / "mine.txt").unlink()
    write_marker(user, "sft-run")
    remove_owned(user, "sft-run")
    assert not user.exists()
