"""Demo subset of the Ditto entity-matching files used by the built-in tasks (Abt-Buy, Walmart-Amazon
Structured, WDC computers small): per file a fixed number of match and non-match lines, picked by the
sha256 of the line, kept in file order and byte for byte. Stdlib only; reproducible.

Run from the repository root:  python demo/subsets/ditto_er_products.py
"""

import hashlib
import shutil
from pathlib import Path

SRC = Path("../shared/data/ditto_er_products")
DST = Path("demo/data/ditto_er_products")
# file -> (non-matches, matches) kept
PLAN = {
    "er_magellan/Textual/Abt-Buy/train.txt": (28, 12),
    "er_magellan/Textual/Abt-Buy/valid.txt": (10, 5),
    "er_magellan/Textual/Abt-Buy/test.txt": (10, 5),
    "er_magellan/Structured/Walmart-Amazon/train.txt": (28, 12),
    "er_magellan/Structured/Walmart-Amazon/valid.txt": (10, 5),
    "er_magellan/Structured/Walmart-Amazon/test.txt": (10, 5),
    "wdc/computers/train.txt.small": (28, 12),
    "wdc/computers/valid.txt.small": (10, 5),
    "wdc/computers/test.txt": (10, 5),
}
DEMO_NOTE = """
## Demo subset
Only the files of the built-in tasks, each with the same name and format (UTF-8, tab-separated, LF):
`er_magellan/Textual/Abt-Buy`, `er_magellan/Structured/Walmart-Amazon` and `wdc/computers`
(`train.txt.small`, `valid.txt.small`, `test.txt`). Each train file keeps 28 non-matches + 12 matches,
each valid/test file 10 + 5: the lines of each label with the smallest sha256(line), in file order and
unchanged. Made by `demo/subsets/ditto_er_products.py`.
Attribution and terms: Ditto (megagonlabs/ditto, Apache-2.0, LICENSE.ditto.txt) serialisation of the
Magellan/DeepMatcher benchmarks and the WDC Product Corpus v2, research use; cite Mudgal et al. SIGMOD'18,
Primpeli et al. WWW'19, Li et al. VLDB'21.
"""


def main() -> None:
    for rel, (n_neg, n_pos) in PLAN.items():
        lines = (SRC / rel).read_bytes().splitlines(keepends=True)
        ranked = sorted(range(len(lines)), key=lambda i: hashlib.sha256(lines[i]).digest())
        keep: set[int] = set()
        for label, count in ((b"0", n_neg), (b"1", n_pos)):
            keep |= set([i for i in ranked if lines[i].rstrip(b"\r\n").rsplit(b"\t", 1)[-1] == label][:count])
        out = DST / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(b"".join(lines[i] for i in sorted(keep)))
        print(f"{out}: {len(keep)} of {len(lines)} lines")
    shutil.copyfile(SRC / "LICENSE.ditto.txt", DST / "LICENSE.ditto.txt")
    source_md = (SRC / "SOURCE.md").read_text(encoding="utf-8").rstrip("\n") + "\n" + DEMO_NOTE
    (DST / "SOURCE.md").write_text(source_md, encoding="utf-8")


if __name__ == "__main__":
    main()
