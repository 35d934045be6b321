"""Demo subset of the Amazon Multilingual Counterfactual Dataset: every TSV, a few lines each.

Per file: the header plus the first POS counterfactual and NEG other lines in sha256(line) order,
kept in their original order. Lines are copied byte for byte (the files are read with QUOTE_NONE, and
EN-ext's CRLF line ends are kept). README.txt is copied whole. Stdlib only; reproducible.

Run from the repository root:  python demo/subsets/amazon_multilingual_counterfactual.py
"""

import hashlib
import shutil
from pathlib import Path

SRC = Path("../shared/data/amazon_multilingual_counterfactual")
DST = Path("demo/data/amazon_multilingual_counterfactual")
# split -> (counterfactual lines, other lines) per file
LINES = {"train": (14, 26), "valid": (4, 5), "test": (4, 5)}


def main() -> None:
    DST.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SRC / "README.txt", DST / "README.txt")
    for src in sorted(SRC.glob("*.tsv")):
        header, *body = src.read_bytes().splitlines(keepends=True)
        pos_n, neg_n = LINES[src.stem.rsplit("_", 1)[1]]
        label = {i: line.rstrip(b"\r\n").rsplit(b"\t", 1)[-1] for i, line in enumerate(body)}
        order = sorted(range(len(body)), key=lambda i: hashlib.sha256(body[i]).hexdigest())
        chosen = [i for i in order if label[i] == b"1"][:pos_n] + [i for i in order if label[i] == b"0"][:neg_n]
        dst = DST / src.name
        dst.write_bytes(header + b"".join(body[i] for i in sorted(chosen)))
        print(f"{dst}: {len(chosen)} of {len(body)} lines, {dst.stat().st_size} bytes")


if __name__ == "__main__":
    main()
