"""Shared fixtures. Tests never touch the network: HF_HUB_OFFLINE is forced here too."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
DEMO_DATA = REPO / "demo" / "data"
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def demo_data() -> Path:
    return DEMO_DATA


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside the repository")
    return SHARED_DATA


def run_cli(*args: str | Path) -> tuple[int, str, str]:
    """Run the real console entry point (`shoptune.cli.main`) in-process: (exit code, stdout, stderr).

    In-process keeps a table of many bad inputs to seconds; it is the same `main()` the `shoptune` script calls,
    so the one-line error handling is what a user sees.
    """
    import contextlib
    import io
    import sys

    from shoptune import cli

    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["shoptune", *map(str, args)]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            cli.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = argv
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def cli():
    """`cli("eval", "--model", ...)` -> (exit code, stdout, stderr) through the real entry point."""
    return run_cli


def gzip_damaged_by_zlib(data: bytes) -> bytes:
    """A gzip stream with one byte flipped after its middle where deflate itself fails (zlib.error), so a
    reader sees good lines first and the damage part-way through."""
    import zlib

    deflate = data[10:-8]  # gzip.compress writes a 10-byte header and an 8-byte trailer around raw deflate
    state = zlib.decompressobj(-15)
    state.decompress(deflate[: len(deflate) // 2])
    for offset in range(len(deflate) // 2, len(deflate)):
        trial = state.copy()  # the stream decoded up to `offset`: only the flipped byte and a little after run
        try:
            trial.decompress(bytes([deflate[offset] ^ 0xFF]) + deflate[offset + 1 : offset + 4096])
        except zlib.error:
            bad = bytearray(data)
            bad[10 + offset] ^= 0xFF
            return bytes(bad)
        state.decompress(deflate[offset : offset + 1])
    raise AssertionError("no offset gives a zlib.error")


def one_error_line(code: int, out: str, err: str) -> str:
    """The one line a refused command prints: exit 2, a single non-empty stderr line, no traceback."""
    assert code == 2, (code, out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in out + err and "unexpected" not in err, err
    return lines[0]
