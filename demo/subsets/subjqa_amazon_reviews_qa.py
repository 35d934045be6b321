"""Demo subset of SubjQA (Amazon domains): every file, a few whole question-review pairs each.

A pair (q_review_id) is kept with ALL its annotation rows. Pairs are taken in sha256(q_review_id) order
among those whose review is at most MAX_REVIEW characters (to keep the subset small), half of them
answerable (some annotator marked a span) and half unanswerable, so both views get records from every
file. Rows are copied unchanged and written in the original dialect (csv, QUOTE_MINIMAL, "\\n").
Stdlib only; reproducible.

Run from the repository root:  python demo/subsets/subjqa_amazon_reviews_qa.py
"""

import csv
import hashlib
import sys
from collections import defaultdict
from pathlib import Path

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

SRC = Path("../shared/data/subjqa_amazon_reviews_qa")
DST = Path("demo/data/subjqa_amazon_reviews_qa")
MAX_REVIEW = 750
# split -> (answerable pairs, unanswerable pairs) per file
PAIRS = {"train": (17, 7), "dev": (4, 3), "test": (4, 3)}


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def subset(header: list[str], body: list[list[str]], answerable: int, unanswerable: int) -> list[list[str]]:
    pair, review, span = header.index("q_review_id"), header.index("review"), header.index("human_ans_spans")
    by_pair: dict[str, list[list[str]]] = defaultdict(list)
    for row in body:
        by_pair[row[pair]].append(row)
    short = sorted((k for k, rows in by_pair.items() if len(rows[0][review]) <= MAX_REVIEW), key=digest)
    has_span = {k: any(r[span] != "ANSWERNOTFOUND" for r in by_pair[k]) for k in short}
    chosen = {*[k for k in short if has_span[k]][:answerable], *[k for k in short if not has_span[k]][:unanswerable]}
    return [row for row in body if row[pair] in chosen]  # original order


def main() -> None:
    for src in sorted(SRC.glob("*/splits/*.csv")):
        with src.open(encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
        kept = subset(rows[0], rows[1:], *PAIRS[src.stem])
        dst = DST / src.relative_to(SRC)
        dst.parent.mkdir(parents=True, exist_ok=True)
        with dst.open("w", encoding="utf-8", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows([rows[0], *kept])
        print(f"{dst}: {len(kept)} of {len(rows) - 1} rows, {dst.stat().st_size} bytes")


if __name__ == "__main__":
    main()
