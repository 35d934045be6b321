"""Demo subset of amazon_review_sentiment_small.

amazon_cells_labelled.txt: the first 75 positive and 75 negative lines in sha256(line) order, kept in
their original order and copied byte for byte (no header, as the original).
Musical_Instruments_5_sample50.jsonl: copied whole (it is already a 50-line fixture).
Stdlib only; reproducible.

Run from the repository root:  python demo/subsets/amazon_review_sentiment_small.py
"""

import hashlib
import shutil
from pathlib import Path

SRC = Path("../shared/data/amazon_review_sentiment_small")
DST = Path("demo/data/amazon_review_sentiment_small")
PER_LABEL = 75


def main() -> None:
    DST.mkdir(parents=True, exist_ok=True)
    lines = [
        line for line in (SRC / "amazon_cells_labelled.txt").read_bytes().splitlines(keepends=True) if line.strip()
    ]
    order = sorted(range(len(lines)), key=lambda i: hashlib.sha256(lines[i]).hexdigest())
    chosen: list[int] = []
    for label in (b"1", b"0"):
        chosen += [i for i in order if lines[i].rstrip(b"\r\n").rsplit(b"\t", 1)[-1].strip() == label][:PER_LABEL]
    (DST / "amazon_cells_labelled.txt").write_bytes(b"".join(lines[i] for i in sorted(chosen)))
    shutil.copyfile(SRC / "Musical_Instruments_5_sample50.jsonl", DST / "Musical_Instruments_5_sample50.jsonl")
    for path in sorted(DST.iterdir()):
        print(f"{path}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
