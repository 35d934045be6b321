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
    """The split as an HF Dataset (columns as in the Parquet file)."""
    path = split_path(root, task, split)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such built split (run `shoptune data build` first)")
    return datasets.Dataset.from_parquet(str(path))


def load_records(root: str | Path, task: str, split: str) -> list[Record]:
    """The split as validated shoptune records."""
    return [from_row(row) for row in load_dataset_split(root, task, split)]
