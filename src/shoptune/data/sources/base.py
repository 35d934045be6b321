"""The source-adapter contract: read a raw file into validated rows, then derive records through views.

A *source* knows one raw format (``read``). A *view* turns the rows of one source into records for one
task (query-product pairs, a multiple-choice question, ...). A task YAML names the source, the view
and its parameters, so one dataset can feed several tasks.

Example:
    >>> from shoptune.data.sources import get_source
    >>> src = get_source("home_depot")
    >>> sorted(src.views)  # doctest: +SKIP
    ['query_product', 'query_query', 'relevance_mc']
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import ValidationError

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import Row
from shoptune.errors import DataError
from shoptune.records import InstructionExample, Label, PairExample, Record

RecordType = Literal["pair", "instruction"]
ViewFn = Callable[[Any, list[Row], "ViewContext"], Iterator[Record]]


@dataclass(frozen=True)
class ViewInfo:
    """A registered view: its function, the record type it yields and a one-line description."""

    name: str
    fn: ViewFn
    record_type: RecordType
    doc: str


def view(name: str, record_type: RecordType) -> Callable[[ViewFn], ViewFn]:
    """Mark a Source method as a view. The method takes (rows, ctx) and yields records."""

    def mark(fn: ViewFn) -> ViewFn:
        fn.__shoptune_view__ = (name, record_type)  # type: ignore[attr-defined]
        return fn

    return mark


@dataclass
class ViewContext:
    """What a view needs to build records: the task identity, its parameters and a seeded RNG.

    ``pair`` and ``instruction`` fill in the task's name, capability and language, attach the split
    groups (keys that must never straddle train/dev/test) and turn validation errors into DataErrors
    that name the source row.
    """

    task: str
    capability: str
    language: str
    params: dict[str, Any] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    log: ErrorLog = field(default_factory=ErrorLog)

    def param(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)

    def shuffled(self, answer: str, distractors: list[str]) -> list[str]:
        """The options of a multiple-choice record: the answer among its distractors, in an order drawn from the
        task's RNG (so the answer's position carries no signal)."""
        options = [answer, *distractors]
        self.rng.shuffle(options)
        return options

    def pair(
        self, row: Row | None, left: str, right: str, label: Label | str, *, groups: list[str], **meta: Any
    ) -> PairExample | None:
        return self._build(
            row,
            PairExample,
            task=self.task,
            left=left,
            right=right,
            label=label,
            metadata=self._meta(row, groups, meta),
        )

    def instruction(
        self,
        row: Row | None,
        *,
        instruction: str,
        output: str | list[str],
        input: str = "",
        options: list[str] | None = None,
        groups: list[str],
        language: str | None = None,
        **meta: Any,
    ) -> InstructionExample | None:
        return self._build(
            row,
            InstructionExample,
            task=self.task,
            capability=self.capability,
            instruction=instruction,
            input=input,
            options=list(options or []),
            output=output,
            language=language or self.language,
            metadata=self._meta(row, groups, meta),
        )

    @staticmethod
    def _meta(row: Row | None, groups: list[str], meta: dict[str, Any]) -> dict[str, Any]:
        out = {"groups": [g for g in groups if g], **meta}
        if row is not None and "_row" in row:
            out["source_row"] = row["_row"]
        return out

    def _build(self, row: Row | None, cls: type, **fields: Any) -> Any:
        try:
            return cls(**fields)
        except ValidationError as exc:
            first = exc.errors()[0]
            field_name = ".".join(str(p) for p in first.get("loc", ())) or "-"
            file = row.get("_file", "?") if row else "?"
            number = row.get("_row", 0) if row else 0
            self.log.handle(DataError(file, number, field_name, first["msg"]))
            return None


class Source:
    """Base class of every source adapter. Subclasses set ``name`` and implement ``read``."""

    name: ClassVar[str]
    title: ClassVar[str] = ""
    #: What to pass as PATH: a file, or a folder (e.g. an EcomInstruct task folder).
    path_hint: ClassVar[str] = "a file"
    #: The view `shoptune data validate` runs to count records.
    default_view: ClassVar[str] = ""
    views: ClassVar[dict[str, ViewInfo]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found: dict[str, ViewInfo] = {}
        for attr in dir(cls):
            fn = getattr(cls, attr, None)
            marker = getattr(fn, "__shoptune_view__", None)
            if marker:
                name, record_type = marker
                doc = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
                found[name] = ViewInfo(name, fn, record_type, doc)
        cls.views = found

    def read(self, path: Path, log: ErrorLog) -> list[Row]:
        """Read and validate the raw file (or folder) into rows; row errors go through ``log``."""
        raise NotImplementedError

    def records(self, rows: list[Row], view_name: str, ctx: ViewContext) -> Iterator[Record]:
        """Run one view over already-read rows, dropping rows the error log chose to skip."""
        if view_name not in self.views:
            raise KeyError(f"source '{self.name}' has no view '{view_name}' (views: {', '.join(sorted(self.views))})")
        for record in self.views[view_name].fn(self, rows, ctx):
            if record is not None:
                yield record

    def valid_rows(self, rows: Iterator[Row], parse: Callable[[Row], Row | None], log: ErrorLog) -> list[Row]:
        """Apply a per-row parser, routing its DataErrors through the log (skip or raise)."""
        out: list[Row] = []
        for row in rows:
            try:
                parsed = parse(row)
            except DataError as error:
                log.handle(error)
                continue
            if parsed is not None:
                out.append(parsed)
        return out


def input_files(path: Path, pattern: str, *, recursive: bool = False, what: str = "") -> list[Path]:
    """``path`` itself, or the files in the folder ``path`` that match ``pattern`` (sorted; below it too when
    ``recursive``). A folder without one is a DataError saying what was looked for (``what``, default the pattern).

    Example:
        >>> input_files(Path("train.csv"), "*.csv")
        [PosixPath('train.csv')]
    """
    path = Path(path)
    if not path.is_dir():
        return [path]
    files = sorted(path.rglob(pattern) if recursive else path.glob(pattern))
    if not files:
        raise DataError(path, 0, "-", f"folder holds no {what or pattern + ' file'}")
    return files


def located(row: Row, **fields: Any) -> Row:
    """A parsed row: ``fields`` after the raw row's file and row number (kept for error messages and metadata)."""
    return {"_row": row["_row"], "_file": row["_file"], **fields}


class FirstSeen:
    """Where each value of one key field was first seen, so a repeated value is a DataError naming both rows.

    ``check`` raises on a repeat and ``add`` records a value: a parser adds once the whole row is valid, so a
    row skipped for another error does not claim its key.

    Example:
        >>> ids = FirstSeen("id")
        >>> ids.add({"_file": "f.csv", "_row": 1}, "a")
        >>> ids.check({"_file": "f.csv", "_row": 3}, "a")
        Traceback (most recent call last):
        ...
        shoptune.errors.DataError: f.csv: row 3, field 'id': duplicate id a (first at row 1)
    """

    def __init__(self, field: str, noun: str = "", show: Callable[[Any], str] = str) -> None:
        self.field = field
        self.noun = noun or field  #: what the message calls a value, e.g. "category" for the field "path"
        self.show = show  #: how the message prints a value
        self.first: dict[Any, int] = {}

    def check(self, row: Row, value: Any) -> None:
        if value in self.first:
            message = f"duplicate {self.noun} {self.show(value)} (first at row {self.first[value]})"
            raise DataError(row["_file"], row["_row"], self.field, message)

    def add(self, row: Row, value: Any) -> None:
        self.first[value] = row["_row"]

    def claim(self, row: Row, value: Any) -> None:
        """``check`` then ``add``: for a parser with nothing left to validate after the key."""
        self.check(row, value)
        self.add(row, value)
