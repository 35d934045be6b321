"""Evidence ranking files of amazon-science/contextual-product-qa: per question, labelled candidates.

Three formats, detected per file from its header line (every file has a header):

====================  =========  ============================================================  ======
format                separator  columns used (others are ignored)                             labels
====================  =========  ============================================================  ======
ePQA ``dev.csv``      comma      qid, question, ASIN, candidate, source, title, label           0/1/2
hetPQA evidence       TAB        qid, ASIN, question, candidate, label, source                  0/1
semiPQA attributes    TAB        qid, question, candidate, label                                0/1
====================  =========  ============================================================  ======

Detection: a comma-separated header, or one with an ``answer`` or ``title`` column, is ePQA; else a
header with ``ASIN``, ``source`` or ``confidence`` is hetPQA; else semiPQA. The columns of the detected
format must all be present (a missing one is reported by name). ePQA fields are quoted and may span
lines. ePQA labels: 2 = the candidate fully answers the question, 1 = partly, 0 = irrelevant.

A candidate with blank text carries no evidence and is dropped (ePQA ``dev.csv`` has one).
Questions are keyed by (file, qid): qids of different files are unrelated.

Example:
    >>> detect_format("qid\\tqa_pair_id\\tquestion\\tcandidate\\tlabel\\n")
    ('semipqa', '\\t')
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import Row, as_choice, iter_csv, read_bytes, require
from shoptune.data.sources import register
from shoptune.data.sources.base import Source, ViewContext, view
from shoptune.records import Record
from shoptune.text import clip, norm_key


@dataclass(frozen=True)
class Format:
    columns: tuple[str, ...]
    labels: tuple[int, ...]
    #: Default gains for the ranking view (ShopBench/ESCI style: full answer 1, partial 0.1).
    gains: dict[int, float]


FORMATS: dict[str, Format] = {
    "epqa": Format(
        ("qid", "question", "ASIN", "candidate", "source", "title", "label"), (0, 1, 2), {0: 0.0, 1: 0.1, 2: 1.0}
    ),
    "hetpqa": Format(("qid", "ASIN", "question", "candidate", "label", "source"), (0, 1), {0: 0.0, 1: 1.0}),
    "semipqa": Format(("qid", "question", "candidate", "label"), (0, 1), {0: 0.0, 1: 1.0}),
}

RETRIEVAL_INSTRUCTION = (
    "A customer asked a question about a product. Which of the numbered evidence texts answer it? "
    "Answer with the numbers of all answering texts, separated by commas."
)
RANKING_INSTRUCTION = (
    "A customer asked a question about a product. Rank the numbered evidence texts from the one that "
    "best answers the question to the least useful. Answer with the numbers, best first, separated by commas."
)


def detect_format(header_line: str) -> tuple[str, str]:
    """(format name, delimiter) from a file's first line."""
    delimiter = "\t" if "\t" in header_line else ","
    names = {name.strip().strip('"') for name in header_line.strip().split(delimiter)}
    if delimiter == "," or names & {"answer", "title"}:
        return "epqa", delimiter
    if names & {"ASIN", "source", "confidence"}:
        return "hetpqa", delimiter
    return "semipqa", delimiter


@register
class PqaEvidence(Source):
    name = "pqa_evidence"
    title = "Product-QA evidence ranking (hetPQA evidence_ranking, semiPQA attribute_ranking, ePQA dev)"
    path_hint = (
        "an evidence file: ePQA/dev.csv (comma, labels 0/1/2), hetPQA/evidence_ranking/*.csv or "
        "semiPQA/attribute_ranking/*.csv (TAB, labels 0/1)"
    )
    default_view = "retrieval"

    def read(self, path: Path, log: ErrorLog) -> list[Row]:
        first_line = read_bytes(path).split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")
        fmt_name, delimiter = detect_format(first_line)
        fmt = FORMATS[fmt_name]
        labels = {str(label): label for label in fmt.labels}

        def parse(row: Row) -> Row | None:
            require(row, "qid")
            require(row, "question")
            row["label"] = as_choice(row, "label", labels)
            if not row["candidate"].strip():
                return None  # blank evidence: nothing to show the model
            row["format"] = fmt_name
            row["top_label"] = max(fmt.labels)
            row["title"] = row.get("title", "").strip()
            return row

        rows = iter_csv(path, required=list(fmt.columns), log=log, delimiter=delimiter)
        return self.valid_rows(rows, parse, log)

    @view("retrieval", "instruction")
    def retrieval(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Retrieval: pick the evidence texts that answer the question (output = their indices).

        Params: ``candidates`` (default 8) options per question; ``min_label`` the lowest label that
        counts as answering (default: the top of the file's scale, i.e. 1 for 0/1 files, 2 for ePQA).
        Questions without a positive or without a negative candidate are skipped.
        """
        size = max(2, int(ctx.param("candidates", 8)))
        max_chars = int(ctx.param("max_candidate_chars", 200))
        for (_file, qid), cands in _questions(rows):
            threshold = int(ctx.param("min_label", cands[0]["top_label"]))
            positives = [c for c in cands if c["label"] >= threshold]
            negatives = [c for c in cands if c["label"] < threshold]
            if not positives or not negatives:
                continue
            positives = ctx.rng.sample(positives, min(len(positives), size - 1))
            negatives = ctx.rng.sample(negatives, min(len(negatives), size - len(positives)))
            chosen = positives + negatives
            ctx.rng.shuffle(chosen)
            yield ctx.instruction(
                cands[0],
                instruction=RETRIEVAL_INSTRUCTION,
                input=_question_input(cands[0]),
                options=[clip(c["candidate"], max_chars) for c in chosen],
                output=[str(i) for i, c in enumerate(chosen) if c["label"] >= threshold],
                groups=_groups(cands[0]),
                qid=qid,
                format=cands[0]["format"],
                labels=[c["label"] for c in chosen],
            )

    @view("ranking", "instruction")
    def ranking(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Ranking: order a question's evidence texts by how well they answer it (gains from labels).

        Gains default to 2 -> 1.0, 1 -> 0.1, 0 -> 0 for ePQA's 0/1/2 scale and 1 -> 1.0, 0 -> 0 for 0/1
        files; override with the ``gains`` param (label -> gain). ``candidates`` (default 5) per question;
        each list holds at least one best-labelled and one lower-labelled candidate.
        """
        size = max(2, int(ctx.param("candidates", 5)))
        max_chars = int(ctx.param("max_candidate_chars", 200))
        override = {int(k): float(v) for k, v in (ctx.param("gains") or {}).items()}
        for (_file, qid), cands in _questions(rows):
            best_label = max(c["label"] for c in cands)
            best = [c for c in cands if c["label"] == best_label]
            lower = [c for c in cands if c["label"] < best_label]
            if not lower:
                continue  # all candidates equally good: nothing to rank
            first, second = ctx.rng.choice(best), ctx.rng.choice(lower)
            rest = [c for c in cands if c is not first and c is not second]
            chosen = [first, second, *ctx.rng.sample(rest, min(len(rest), size - 2))]
            ctx.rng.shuffle(chosen)
            gains_of = {**FORMATS[cands[0]["format"]].gains, **override}
            order = sorted(range(len(chosen)), key=lambda i: (-chosen[i]["label"], i))
            yield ctx.instruction(
                cands[0],
                instruction=RANKING_INSTRUCTION,
                input=_question_input(cands[0]),
                options=[clip(c["candidate"], max_chars) for c in chosen],
                output=[str(i) for i in order],
                groups=_groups(cands[0]),
                gains=[gains_of.get(c["label"], 0.0) for c in chosen],
                qid=qid,
                format=cands[0]["format"],
            )


def _questions(rows: list[Row]) -> list[tuple[tuple[str, str], list[Row]]]:
    """Rows grouped per (file, qid), in a deterministic order, candidates in file order."""
    by_question: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in rows:
        by_question[(row["_file"], row["qid"].strip())].append(row)
    return sorted(by_question.items(), key=lambda item: (item[0][0], len(item[0][1]), item[0][1]))


def _question_input(row: Row) -> str:
    text = f"Question: {' '.join(row['question'].split())}"
    return f"{text}\nProduct: {row['title']}" if row["title"] else text


def _groups(row: Row) -> list[str]:
    # The question id is the unit of the split; the question text also keeps a question asked twice
    # (under different ids) on one side.
    return [f"q:{row['format']}:{row['qid'].strip()}", f"qt:{norm_key(row['question'])}"]
