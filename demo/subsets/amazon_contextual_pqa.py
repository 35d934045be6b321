"""Demo subset of amazon_contextual_pqa (semiPQA, hetPQA, ePQA): every file, a few whole questions each.

Evidence files (ePQA/dev.csv, hetPQA/evidence_ranking/dev.csv, semiPQA/attribute_ranking/*.csv): every
row of N questions, chosen in sha256(qid) order among the questions whose candidates carry at least two
different labels (so the retrieval and ranking views can use them) and whose rows are small (a size cap,
to keep the subset small). Answer-generation and data-to-text files: the first N rows in sha256(row)
order. Rows are copied unchanged and written in the original dialect (csv, QUOTE_MINIMAL, "\\n"); the
header is kept. Stdlib only; reproducible.

Run from the repository root:  python demo/subsets/amazon_contextual_pqa.py
"""

import csv
import hashlib
import sys
from collections import defaultdict
from pathlib import Path

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

SRC = Path("../shared/data/amazon_contextual_pqa")
DST = Path("demo/data/amazon_contextual_pqa")

# file -> (delimiter, questions to keep, max bytes per question)
EVIDENCE = {
    "ePQA/dev.csv": (",", 64, 2400),
    "hetPQA/evidence_ranking/dev.csv": ("\t", 96, 1000),
    "semiPQA/attribute_ranking/dev.csv": ("\t", 34, 1100),
    "semiPQA/attribute_ranking/testseen.csv": ("\t", 8, 1100),
    "semiPQA/attribute_ranking/testunseen.csv": ("\t", 8, 1100),
}
# file -> rows to keep
PLAIN = {
    "hetPQA/answer_generation/train.csv": 45,
    "hetPQA/answer_generation/dev.csv": 10,
    "hetPQA/answer_generation/test.csv": 10,
    "semiPQA/data-to-text/train.csv": 45,
    "semiPQA/data-to-text/dev.csv": 10,
    "semiPQA/data-to-text/test_seen.csv": 8,
    "semiPQA/data-to-text/test_unseen.csv": 8,
}


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read(rel: str, delimiter: str) -> tuple[list[str], list[list[str]]]:
    with (SRC / rel).open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter=delimiter))
    return rows[0], rows[1:]


def write(rel: str, delimiter: str, header: list[str], rows: list[list[str]]) -> None:
    path = DST / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter=delimiter, lineterminator="\n").writerows([header, *rows])
    print(f"{path}: {len(rows)} rows, {path.stat().st_size} bytes")


def keep_questions(header: list[str], body: list[list[str]], delimiter: str, count: int, cap: int) -> list[list[str]]:
    qid, label = header.index("qid"), header.index("label")
    by_question: dict[str, list[list[str]]] = defaultdict(list)
    for row in body:
        by_question[row[qid]].append(row)
    usable = [
        q
        for q, rows in by_question.items()
        if len({r[label] for r in rows}) >= 2 and sum(len(delimiter.join(r)) + 1 for r in rows) <= cap
    ]
    chosen = set(sorted(usable, key=digest)[:count])
    return [row for row in body if row[qid] in chosen]  # original order, whole questions


def main() -> None:
    for rel, (delimiter, count, cap) in EVIDENCE.items():
        header, body = read(rel, delimiter)
        write(rel, delimiter, header, keep_questions(header, body, delimiter, count, cap))
    for rel, count in PLAIN.items():
        header, body = read(rel, "\t")
        chosen = {id(r) for r in sorted(body, key=lambda r: digest("\t".join(r)))[:count]}
        write(rel, "\t", header, [r for r in body if id(r) in chosen])


if __name__ == "__main__":
    main()
