"""Bounded work on a user's pair files: a line over the limit is one line naming the file and row, found without
reading the line whole; a huge text is cut to a character bound before it is tokenised, keeping the same tokens.
"""

from __future__ import annotations

import gzip
import json
import random
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shoptune.data.readers import LineTooLong, stream_lines
from shoptune.errors import DataError
from shoptune.relevance.data import MAX_LINE_BYTES, Pair, iter_pair_file
from shoptune.relevance.model import ModelInfo, encode_pairs
from shoptune.text import CHARS_PER_TOKEN, clip_chars

WORDS = ["red", "shoe", "lamp", "sofa", "blue", "cup", "cordless", "drill", "kit", "oak", "table", "42", "size"]
BIG = 40_000_000  # the 40 MB line


def _text(n_chars: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    words: list[str] = []
    size = 0
    while size < n_chars:
        words.append(rng.choice(WORDS))
        size += len(words[-1]) + 1
    return " ".join(words)[:n_chars]


@pytest.fixture(scope="module")
def huge_jsonl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "pairs.jsonl"
    with path.open("w") as fh:
        fh.write('{"task": "alpha", "right": "red shoe", "left": "')
        chunk = "red shoe lamp " * 10_000
        for _ in range(BIG // len(chunk) + 1):
            fh.write(chunk)
        fh.write('"}\n{"task": "alpha", "left": "a", "right": "b"}\n')
    return path


# --------------------------------------------------------------------------------------------- line limit
def test_a_40mb_line_fails_fast_naming_the_file_and_row_without_reading_it_whole(huge_jsonl: Path) -> None:
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(DataError) as info:
            next(iter_pair_file(huge_jsonl))
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert info.value.row == 1 and message.startswith(f"{huge_jsonl}: row 1, field '-': ") and "\n" not in message
    assert f"{MAX_LINE_BYTES:,} bytes" in message and "--max-line-bytes" in message
    assert elapsed < 5, elapsed
    assert peak < 8 * MAX_LINE_BYTES, peak  # a bounded readline: the 40 MB line never sits in memory


def test_the_limit_can_be_raised_or_lifted(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"task": "alpha", "left": "x" * 3000, "right": "y"}) + "\n")
    with pytest.raises(DataError, match="row 1, field '-': line over the limit of 2,000 bytes"):
        list(iter_pair_file(path, max_line_bytes=2000))
    assert len(next(iter_pair_file(path, max_line_bytes=4000)).left) == 3000
    assert len(next(iter_pair_file(path, max_line_bytes=None)).left) == 3000


def test_a_line_exactly_at_the_limit_is_read(tmp_path: Path) -> None:
    line = json.dumps({"task": "alpha", "left": "abc", "right": "d"})
    path = tmp_path / "p.jsonl"
    path.write_text(f"{line}\n{line}")  # the last line without its newline
    assert len(list(iter_pair_file(path, max_line_bytes=len(line)))) == 2
    with pytest.raises(DataError, match="row 1"):
        list(iter_pair_file(path, max_line_bytes=len(line) - 1))


def test_stream_lines_names_the_long_line_plain_and_gzip(tmp_path: Path) -> None:
    data = b"short\n" + b"x" * 5000 + b"\nshort\n"
    (tmp_path / "a.txt").write_bytes(data)
    (tmp_path / "a.txt.gz").write_bytes(gzip.compress(data))
    for name in ("a.txt", "a.txt.gz"):
        with pytest.raises(LineTooLong) as info:
            list(stream_lines(tmp_path / name, max_line_bytes=4096))
        assert info.value.row == 2 and info.value.limit == 4096
        assert [n for n, _ in stream_lines(tmp_path / name, max_line_bytes=5000)] == [1, 2, 3]


def test_a_long_csv_line_or_record_names_its_data_row(tmp_path: Path) -> None:
    long_line = tmp_path / "line.csv"
    long_line.write_text(f"task,left,right\nalpha,a,b\nalpha,{'x' * 5000},b\n")
    with pytest.raises(DataError) as info:
        list(iter_pair_file(long_line, max_line_bytes=4096))
    assert info.value.row == 2 and "line over the limit of 4,096 bytes" in str(info.value)
    # A quoted field over many short lines: the record, not each line, is measured.
    spread = tmp_path / "record.csv"
    spread.write_text('task,left,right\nalpha,a,b\nalpha,"' + "word\n" * 2000 + '",b\n')
    with pytest.raises(DataError) as info:
        list(iter_pair_file(spread, max_line_bytes=4096))
    assert info.value.row == 2 and "record over the limit" in str(info.value)
    assert len(list(iter_pair_file(spread, max_line_bytes=20_000))) == 2


def test_a_parquet_row_with_huge_texts_names_its_row_and_field(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "p.parquet"
    table = pa.table({"task": ["alpha", "alpha"], "left": ["a", "b"], "right": ["c", "y" * 5000]})
    pq.write_table(table, path)
    with pytest.raises(DataError) as info:
        list(iter_pair_file(path, max_line_bytes=4096))
    assert (info.value.row, info.value.field) == (2, "right") and "5,001 characters" in str(info.value)


# --------------------------------------------------------------------------------------------- clipping
class _Spy:
    """A tokenizer that records the longest text it was given."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self.longest = 0

    def __call__(self, *texts: Any, **kwargs: Any) -> Any:
        for arg in texts:
            for text in [arg] if isinstance(arg, str) else arg:
                self.longest = max(self.longest, len(text))
        return self._tokenizer(*texts, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tokenizer, name)


def _tokenizer(family: str) -> Any:
    from shoptune.testing import make_tiny_causal_tokenizer, make_tiny_encoder_tokenizer

    return make_tiny_encoder_tokenizer() if family == "cross_encoder" else make_tiny_causal_tokenizer()


def _unclipped(tokenizer: Any, info: ModelInfo, lefts: list[str], rights: list[str], tasks: list[str]) -> Any:
    """encode_pairs as it was before texts were clipped: every text tokenised whole."""
    import shoptune.relevance.model as model_module

    original = model_module.clip_chars
    model_module.clip_chars = lambda text, *args, **kwargs: text
    try:
        return encode_pairs(tokenizer, info, lefts, rights, tasks)
    finally:
        model_module.clip_chars = original


@pytest.mark.parametrize("family", ["cross_encoder", "decoder"])
@pytest.mark.parametrize("prefix", [False, True])
def test_encode_pairs_tokenises_a_bounded_text_and_keeps_the_same_tokens(family: str, prefix: bool) -> None:
    info = ModelInfo(family=family, routing="prefix", tasks=["alpha"], base_model="tiny", max_length=48)
    info.task_prefix = prefix
    bound = CHARS_PER_TOKEN * info.max_length
    sizes = [(10, 20), (400, 15), (15, 400), (bound - 1, 30), (bound + 1, 30), (40_000, 12), (12, 40_000)]
    sizes += [(90, 85), (3000, 2500)]  # both over the token budget, within the character bound
    lefts = [_text(a, seed=i) for i, (a, _) in enumerate(sizes)]
    rights = [_text(b, seed=100 + i) for i, (_, b) in enumerate(sizes)]
    tasks = ["alpha"] * len(sizes)
    spy = _Spy(_tokenizer(family))
    got = encode_pairs(spy, info, lefts, rights, tasks)
    assert spy.longest <= bound
    assert got == _unclipped(_tokenizer(family), info, lefts, rights, tasks)
    assert all(len(f["input_ids"]) <= info.max_length for f in got)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory, tiny_encoder: Path, make_config) -> Path:
    from shoptune.relevance.model import build_model, save_model

    cfg = make_config(tmp_path_factory.mktemp("d"), tiny_encoder, "cross_encoder", "multihead")
    model, tok = build_model(cfg.model, ["alpha"])
    return save_model(model, tok, tmp_path_factory.mktemp("art") / "model")


@pytest.fixture(scope="module")
def predictor(artifact: Path) -> Any:
    from shoptune.relevance.predictor import load_predictor

    return load_predictor(artifact, bf16=False)


def test_predict_cli_on_a_40mb_line_is_one_line_naming_file_and_row(
    artifact: Path, huge_jsonl: Path, tmp_path: Path, cli
) -> None:
    started = time.monotonic()
    code, _, err = cli(
        "relevance", "predict", "--model", artifact, "--input", huge_jsonl, "--out", tmp_path / "o.jsonl"
    )
    elapsed = time.monotonic() - started
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in err, err
    assert errors[0].startswith(f"error: {huge_jsonl}: row 1, field '-': line over the limit of ")
    assert elapsed < 5 and not (tmp_path / "o.jsonl").exists()


def test_a_40kb_left_text_is_scored_quickly_and_as_its_clipped_version(predictor: Any) -> None:
    left = _text(40_000, seed=7)
    max_length = predictor.model.info.max_length
    pairs = [Pair("1", "alpha", left, "red shoe"), Pair("2", "alpha", "oak table", "blue cup")]
    clipped = [Pair("1", "alpha", clip_chars(left, max_length), "red shoe"), pairs[1]]
    assert len(clipped[0].left) == CHARS_PER_TOKEN * max_length < len(left)
    spy = _Spy(predictor.tokenizer)
    predictor.tokenizer = spy
    try:
        started = time.monotonic()
        full = predictor.predict(pairs)
        elapsed = time.monotonic() - started
    finally:
        predictor.tokenizer = spy._tokenizer
    assert spy.longest <= CHARS_PER_TOKEN * max_length and elapsed < 5, (spy.longest, elapsed)
    cut = predictor.predict(clipped)
    np.testing.assert_array_equal(full.probs, cut.probs)
    np.testing.assert_array_equal(full.labels, cut.labels)


def test_a_40mb_text_under_a_raised_limit_scores_in_seconds(huge_jsonl: Path, predictor: Any) -> None:
    from shoptune.relevance.predictor import stream_predictions

    started = time.monotonic()
    pairs = list(iter_pair_file(huge_jsonl, max_line_bytes=None))
    (first, probs, _), (_, other, _) = list(stream_predictions(predictor, pairs))
    assert len(first.left) > BIG and time.monotonic() - started < 10
    assert np.isfinite(probs).all() and np.isfinite(other).all()
