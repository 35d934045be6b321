"""Built splits on disk: a damaged or foreign Parquet file is one line naming it, never pyarrow's traceback."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shoptune.data.store import load_dataset_split, load_records, split_path, write_split
from shoptune.errors import DataError
from shoptune.records import PairExample


def _pairs(n: int = 3000) -> list[PairExample]:
    text = [hashlib.sha1(str(i).encode()).hexdigest() * 3 for i in range(n)]  # incompressible enough
    return [PairExample(task="t", left=text[i], right=text[-i - 1], label="exact", metadata={"i": i}) for i in range(n)]


@pytest.fixture
def built(tmp_path: Path) -> Path:
    path = split_path(tmp_path / "build", "t", "test")
    path.parent.mkdir(parents=True)
    write_split(_pairs(), path, "pair")
    return tmp_path / "build"


def test_good_split_loads(built: Path) -> None:
    records = load_records(built, "t", "test")
    assert len(records) == 3000 and records[5].metadata == {"i": 5}


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "body":
        third = len(data) // 3
        path.write_bytes(data[:third] + bytes(200) + data[third + 200 :])
    elif how == "text":
        path.write_text("task,left,right\nt,a,b\n")
    else:
        path.write_bytes(b"")


@pytest.mark.parametrize("how", ["truncated", "body", "text", "empty"])
@pytest.mark.parametrize("loader", [load_records, load_dataset_split])
def test_damaged_split_is_one_line_naming_the_file(built: Path, how: str, loader) -> None:
    path = split_path(built, "t", "test")
    _damage(path, how)
    with pytest.raises((pa.ArrowException, OSError)) as raw:  # what pyarrow raises by itself
        pq.read_table(path)
    assert not isinstance(raw.value, DataError)
    with pytest.raises(DataError) as info:
        loader(built, "t", "test")
    error = info.value
    assert error.file == str(path) and error.row == 0 and "\n" not in str(error)
    assert error.message.startswith("not a readable Parquet file (")
    assert error.message.endswith("); rebuild it with `shoptune data build`")


def test_split_without_a_column_or_with_bad_metadata(built: Path) -> None:
    path = split_path(built, "t", "test")
    pq.write_table(pa.table({"task": ["t"], "left": ["a"], "right": ["b"], "label": ["exact"]}), path)
    with pytest.raises(DataError, match=r"test\.parquet: file, field 'metadata': missing column"):
        load_records(built, "t", "test")
    pq.write_table(
        pa.table(
            {
                "task": ["t", "t"],
                "left": ["a", "a"],
                "right": ["b", "b"],
                "label": ["exact", "nope"],
                "metadata": ["{}", "{}"],
            }
        ),
        path,
    )
    with pytest.raises(DataError, match=r"test\.parquet: row 2, field 'label'"):
        load_records(built, "t", "test")
    pq.write_table(
        pa.table({"task": ["t"], "left": ["a"], "right": ["b"], "label": ["exact"], "metadata": ["{broken"]}), path
    )
    with pytest.raises(DataError, match=r"test\.parquet: row 1, field 'metadata': invalid JSON"):
        load_records(built, "t", "test")


def test_missing_split_still_says_run_data_build(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="run `shoptune data build` first"):
        load_records(tmp_path, "t", "test")
