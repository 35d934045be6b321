"""On-disk form of built tasks: one Parquet file per task and split, readable as HF datasets.

Lists of outputs and free-form metadata are stored as JSON text, so every task shares one Arrow schema
per record type and any Parquet reader can open the files.

Example:
    >>> from shoptune.data.store import load_records
    >>> recs = load_records("runs/demo/data", "hd_query_product", "test")  # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
from datasets.exceptions import DatasetGenerationError
from pydantic import ValidationError

from shoptune.errors import DataError
from shoptune.records import InstructionExample, PairExample, Record

# Per-file "Creating parquet" bars would drown the build's own progress bar.
datasets.disable_progress_bars()

INSTRUCTION_FEATURES = datasets.Features(
    {
        "task": datasets.Value("string"),
        "capability": datasets.Value("string"),
        "instruction": datasets.Value("string"),
        "input": datasets.Value("string"),
        "options": datasets.List(datasets.Value("string")),
        "output": datasets.Value("string"),
        "output_is_list": datasets.Value("bool"),
        "language": datasets.Value("string"),
        "metadata": datasets.Value("string"),
    }
)
PAIR_FEATURES = datasets.Features(
    {
        "task": datasets.Value("string"),
        "left": datasets.Value("string"),
        "right": datasets.Value("string"),
        "label": datasets.Value("string"),
        "metadata": datasets.Value("string"),
    }
)


def to_row(record: Record) -> dict:
    if isinstance(record, PairExample):
        return {
            "task": record.task,
            "left": record.left,
            "right": record.right,
            "label": record.label.value,
            "metadata": json.dumps(record.metadata, ensure_ascii=False),
        }
    is_list = isinstance(record.output, list)
    return {
        "task": record.task,
        "capability": record.capability,
        "instruction": record.instruction,
        "input": record.input,
        "options": list(record.options),
        "output": json.dumps(record.output, ensure_ascii=False) if is_list else record.output,
        "output_is_list": is_list,
        "language": record.language,
        "metadata": json.dumps(record.metadata, ensure_ascii=False),
    }


def from_row(row: dict) -> Record:
    metadata = json.loads(row["metadata"])
    if "left" in row:
        return PairExample(
            task=row["task"], left=row["left"], right=row["right"], label=row["label"], metadata=metadata
        )
    output = json.loads(row["output"]) if row["output_is_list"] else row["output"]
    return InstructionExample(
        task=row["task"],
        capability=row["capability"],
        instruction=row["instruction"],
        input=row["input"],
        options=row["options"],
        output=output,
        language=row["language"],
        metadata=metadata,
    )


def write_split(records: list[Record], path: Path, record_type: str) -> None:
    """Write one split as Parquet (an empty split still gets a file with the right schema)."""
    features = PAIR_FEATURES if record_type == "pair" else INSTRUCTION_FEATURES
    rows = [to_row(r) for r in records]
    columns = {name: [row[name] for row in rows] for name in features}
    datasets.Dataset.from_dict(columns, features=features).to_parquet(str(path))


def split_path(root: str | Path, task: str, split: str) -> Path:
    return Path(root) / "tasks" / task / f"{split}.parquet"


def load_dataset_split(root: str | Path, task: str, split: str) -> datasets.Dataset:
    """The split as an HF Dataset (columns as in the Parquet file).

    A damaged or foreign file is a DataError naming it (row 0), not pyarrow's or datasets' traceback.
    """
    path = split_path(root, task, split)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such built split (run `shoptune data build` first)")
    check_parquet(path)
    try:
        if pq.ParquetFile(str(path)).metadata.num_rows == 0:
            # An empty split (a generated task has train only): datasets refuses to load it from the file.
            return datasets.Dataset(pq.read_table(str(path)))
        return datasets.Dataset.from_parquet(str(path))
    except (pa.ArrowException, OSError, DatasetGenerationError) as exc:
        raise parquet_error(path, exc) from None


def check_parquet(path: str | Path) -> None:
    """Open a Parquet file's footer (cheap): DataError naming the file when it is not readable Parquet."""
    try:
        pq.ParquetFile(str(path)).close()
    except (pa.ArrowException, OSError) as exc:
        raise parquet_error(path, exc) from None


def parquet_error(path: str | Path, exc: BaseException) -> DataError:
    """One-line DataError for an unreadable Parquet file (datasets wraps the reader's error: unwrap it)."""
    cause = (exc.__cause__ or exc.__context__) if isinstance(exc, DatasetGenerationError) else exc
    reason = (str(cause or exc).splitlines() or [type(exc).__name__])[0]
    return DataError(path, 0, "-", f"not a readable Parquet file ({reason}); rebuild it with `shoptune data build`")


def load_records(root: str | Path, task: str, split: str) -> list[Record]:
    """The split as validated shoptune records; a row that is not a valid record names the file, row and field."""
    path = split_path(root, task, split)
    out: list[Record] = []
    for number, row in enumerate(load_dataset_split(root, task, split), start=1):
        try:
            out.append(from_row(row))
        except KeyError as exc:
            raise DataError(path, 0, str(exc.args[0]), "missing column; rebuild with `shoptune data build`") from None
        except json.JSONDecodeError as exc:
            field = "metadata" if row.get("metadata") == exc.doc else "output"
            raise DataError(path, number, field, f"invalid JSON ({exc.msg})") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ())) or "-"
            raise DataError(path, number, field, first["msg"]) from None
    return out
