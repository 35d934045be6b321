"""Duplicates and contamination: which generated examples add nothing, and which leak evaluation data.

- Exact duplicates: the same normalised text (case, spacing, punctuation ignored) as an earlier example.
- Near duplicates: MinHash-LSH over word shingles (``datasketch``), confirmed by the MinHash Jaccard estimate, or
  the cosine of sentence embeddings (the bundled MiniLM by default). The earlier example is kept.
- Contamination, by entity: an example built from a seed (or shown ``others``) whose group keys (``p:...``,
  ``q:...``) include a key of a dev or test split of any task of the named data builds (``contaminated_entity``).
- Contamination, by text: the share of the word n-grams of an example's variable content (the fields a record
  template fills from the seed or the model; a fixed instruction is left out, or it would dilute the share) that
  occur in evaluation data (every built test split of the named data builds, and the named files). N-grams found
  in more than ``max_df`` evaluation items are boilerplate (a task's instruction template), not a leak, and are
  not counted.

Example:
    >>> from shoptune.data.generate.config import DedupConfig
    >>> dedup = Deduplicator(DedupConfig(near="minhash", threshold=0.5))
    >>> dedup.check("a red cotton t-shirt for women, size m"), dedup.check("A red cotton T-shirt for women; size M")
    (None, 'exact')
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from shoptune.data.generate.assemble import normalise
from shoptune.data.generate.config import JINJA, DecontamConfig, DedupConfig, RecordConfig
from shoptune.errors import ConfigError, DataError
from shoptune.records import InstructionExample, PairExample, Record
from shoptune.tasks.spec import SPLITS

_WORDS = re.compile(r"\w+")


def example_text(fields: dict[str, Any], which: list[str] | tuple[str, ...]) -> str:
    """The text of an example's chosen fields, one per line (list outputs and options joined)."""
    parts = []
    for name in which:
        value = fields[name]
        parts.append("\n".join(value) if isinstance(value, list) else str(value))
    return "\n".join(parts)


class Deduplicator:
    """Checks examples in order against every earlier one that was kept; ``check`` says "exact", "near" or None."""

    def __init__(self, cfg: DedupConfig, embedder: Any = None) -> None:
        self.cfg = cfg
        self.seen: set[str] = set()
        self.lsh: Any = None
        self.hashes: dict[str, Any] = {}
        self.embedder = embedder
        self.vectors: list[np.ndarray] = []
        if cfg.near == "minhash":
            from datasketch import MinHashLSH

            self.lsh = MinHashLSH(threshold=cfg.threshold, num_perm=cfg.num_perm)

    def check(self, text: str) -> str | None:
        norm = normalise(text)
        digest = hashlib.sha1(norm.encode()).hexdigest()
        if self.cfg.exact and digest in self.seen:
            return "exact"
        if self.cfg.near == "minhash":
            signature = self._minhash(norm)
            for key in self.lsh.query(signature):
                if signature.jaccard(self.hashes[key]) >= self.cfg.threshold:
                    return "near"
            if digest not in self.hashes:
                self.lsh.insert(digest, signature)
                self.hashes[digest] = signature
        elif self.cfg.near == "embedding":
            vector = self.embedder(text)
            if self.vectors and float(np.max(np.stack(self.vectors) @ vector)) >= self.cfg.embedding_threshold:
                return "near"
            self.vectors.append(vector)
        self.seen.add(digest)
        return None

    def _minhash(self, norm: str) -> Any:
        from datasketch import MinHash

        words = norm.split()
        n = self.cfg.shingle
        shingles = {" ".join(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}
        signature = MinHash(num_perm=self.cfg.num_perm, seed=1)
        signature.update_batch([s.encode() for s in shingles])
        return signature


class Embedder:
    """Unit-length sentence embeddings, cached by text (each text is encoded once per run)."""

    def __init__(self, model: str) -> None:
        from shoptune.models import load_sentence_transformer

        self.model = load_sentence_transformer(model)
        self.cache: dict[str, np.ndarray] = {}

    def encode_all(self, texts: list[str]) -> None:
        new = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if new:
            vectors = self.model.encode(new, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
            self.cache.update(zip(new, np.asarray(vectors, dtype=np.float32), strict=True))

    def __call__(self, text: str) -> np.ndarray:
        if text not in self.cache:
            self.encode_all([text])
        return self.cache[text]


# ============================================================================================ decontamination
def ngram_hashes(text: str, n: int) -> np.ndarray:
    """Hashes of the text's distinct word n-grams (lower case); empty when it has fewer than n words."""
    words = _WORDS.findall(text.lower())
    grams = {hash(" ".join(words[i : i + n])) for i in range(len(words) - n + 1)}
    return np.fromiter(grams, dtype=np.int64, count=len(grams))


def record_text(record: Record) -> str:
    if isinstance(record, PairExample):
        return f"{record.left}\n{record.right}"
    assert isinstance(record, InstructionExample)
    output = record.output if isinstance(record.output, str) else "\n".join(record.output)
    return "\n".join([record.instruction, record.input, *record.options, output])


FIELDS = ("instruction", "input", "options", "output")


def fixed_fields(record: RecordConfig) -> dict[str, list[str]]:
    """The record fields whose template uses no variable, with their text: the same in every example (a task's
    instruction, a fixed option such as "none of these"), so not content that could come from evaluation data.
    A field left to the model's reply is variable.

    >>> fixed_fields(RecordConfig(instruction="Which product fits?", input="Query: {{ response.q }}",
    ...                           options=["{{ input }}", "None of these"]))
    {'instruction': ['Which product fits?'], 'options': ['None of these']}
    """
    import jinja2.meta

    def constant(template: str) -> bool:
        return not jinja2.meta.find_undeclared_variables(JINJA.parse(template))

    fixed: dict[str, list[str]] = {}
    for name in ("instruction", "input", "output"):
        template = getattr(record, name)
        if template is not None and constant(template):
            fixed[name] = [JINJA.from_string(template).render().strip()]
    options = [JINJA.from_string(t).render().strip() for t in record.options or [] if constant(t)]
    if options:
        fixed["options"] = options
    return fixed


def variable_text(fields: dict[str, Any], fixed: dict[str, list[str]]) -> str:
    """An example's text without its fixed fields (and fixed options): what the n-gram check compares.

    >>> variable_text({"instruction": "Which?", "input": "Query: drill", "options": ["Drill", "None"],
    ...                "output": "Drill"}, {"instruction": ["Which?"], "options": ["None"]})
    'Query: drill\\nDrill\\nDrill'
    """
    parts: list[str] = []
    for name in FIELDS:
        value = fields[name]
        if name == "options":
            rest = list(fixed.get("options", []))
            for option in value:
                if option in rest:
                    rest.remove(option)
                else:
                    parts.append(option)
        elif name not in fixed:
            parts.extend(value if isinstance(value, list) else [str(value)])
    return "\n".join(parts)


class Contamination:
    """The evaluation data's entity keys and n-gram index: ``entity(keys)`` names the first key found in a dev or
    test split, ``overlap(text)`` is the share of the text's n-grams found in the evaluation texts."""

    def __init__(self, cfg: DecontamConfig) -> None:
        self.cfg = cfg
        self.sources: dict[str, int] = {}
        #: Every group key of the ``entity_splits`` of the builds -> the first ``build:task:split`` holding it.
        self.entities: dict[str, str] = {}
        chunks = [ngram_hashes(text, cfg.ngram) for text in self._documents()]
        if chunks:
            grams, counts = np.unique(np.concatenate(chunks), return_counts=True)
            self.index = np.sort(grams[counts <= cfg.max_df])
            self.boilerplate = int((counts > cfg.max_df).sum())
        else:
            self.index, self.boilerplate = np.zeros(0, dtype=np.int64), 0
        self.documents = len(chunks)

    def _documents(self) -> Iterator[str]:
        from shoptune.data.build import read_manifest
        from shoptune.data.store import load_records, split_path

        wanted = set(self.cfg.splits) | set(self.cfg.entity_splits)
        for build in self.cfg.builds:
            manifest = read_manifest(build)
            for task in manifest["tasks"]:
                for split in [s for s in SPLITS if s in wanted]:
                    if not split_path(build, task, split).is_file():
                        continue
                    records = load_records(build, task, split)
                    if split in self.cfg.entity_splits:
                        where = f"{build}:{task}:{split}"
                        for record in records:
                            for key in record.metadata.get("groups") or []:
                                self.entities.setdefault(str(key), where)
                    if split in self.cfg.splits:
                        self.sources[f"{build}:{task}:{split}"] = len(records)
                        yield from map(record_text, records)
        for file in self.cfg.files:
            texts = list(_file_texts(Path(file)))
            self.sources[file] = len(texts)
            yield from texts

    def entity(self, keys: list[str]) -> str | None:
        """``KEY in BUILD:TASK:SPLIT`` for the first of ``keys`` that an evaluation split holds; None if none does."""
        for key in keys:
            if key in self.entities:
                return f"{key} in {self.entities[key]}"
        return None

    def overlap(self, text: str) -> float:
        grams = ngram_hashes(text, self.cfg.ngram)
        if not len(grams) or not len(self.index):
            return 0.0
        where = np.searchsorted(self.index, grams)
        found = self.index[np.minimum(where, len(self.index) - 1)] == grams
        return float(found.mean())


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _file_texts(path: Path) -> Iterator[str]:
    """Evaluation items of a file: JSON lines (all strings of each object), .json, .txt lines, .parquet rows."""
    from shoptune.data.errorlog import ErrorLog
    from shoptune.data.readers import iter_jsonl, read_json

    suffixes = [s.lower() for s in path.suffixes]
    if ".parquet" in suffixes:
        import pyarrow.parquet as pq

        for row in pq.read_table(path).to_pylist():
            yield "\n".join(_strings(row))
    elif ".jsonl" in suffixes:
        for row in iter_jsonl(path, log=ErrorLog()):
            row.pop("_file", None)
            yield "\n".join(_strings(row))
    elif ".json" in suffixes:
        data = read_json(path)
        for item in data if isinstance(data, list) else [data]:
            yield "\n".join(_strings(item))
    elif ".txt" in suffixes:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise DataError(path, 0, "-", f"not UTF-8 text ({exc.reason})") from None
        yield from (line for line in lines if line.strip())
    else:
        raise ConfigError(f"filters.decontam.files: {path}: expected .jsonl, .json, .txt or .parquet")


def judge_score(text: str, scale: tuple[float, float]) -> float | None:
    """The first number in a judge's reply, when it lies on the scale; None otherwise.

    >>> judge_score("Score: 4/5", (1, 5)), judge_score("great", (1, 5)), judge_score("9", (1, 5))
    (4.0, None, None)
    """
    match = re.search(r"-?\d+(?:\.\d+)?", text)
    if match is None:
        return None
    value = float(match.group())
    return value if scale[0] <= value <= scale[1] else None


def content_id(fields: dict[str, Any]) -> str:
    """A stable id of an example's content (judge replies are stored under it)."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
