"""Demo subset of Shopee product matching: whole label_groups, ~1 in 45 by hash, plus look-alike groups.

A group is kept when sha256(label_group) % 45 == 0 and it has at most 6 postings. For each kept posting,
the other-group posting with the highest title-token Jaccard (>= 0.5, found through shared tokens) adds
its whole group too (at most 60 such groups, also of size <= 6), so the demo holds exact, partial and
irrelevant pairs. Rows keep the original order and bytes (UTF-8, LF, minimal quoting). Stdlib only.

Run from the repository root:  python demo/subsets/shopee_product_matching.py
"""

import csv
import hashlib
import re
from collections import defaultdict
from pathlib import Path

SRC = Path("../shared/data/shopee_product_matching")
DST = Path("demo/data/shopee_product_matching")
MAX_GROUP, MAX_NEIGHBOURS = 6, 60
DEMO_NOTE = """
## Demo subset
`train.csv` here keeps whole `label_group`s (every posting of the group, original order, bytes and
dialect: UTF-8, LF, minimal quoting): the groups of at most 6 postings whose sha256(label_group) is
0 modulo 45, plus up to 60 "look-alike" groups (size <= 6) holding the other-group posting with the
highest title-token Jaccard (>= 0.5) to a kept posting, so partial pairs exist. 743 rows, 279 groups.
Made by `demo/subsets/shopee_product_matching.py`.
Attribution and terms: Shopee - Price Match Guarantee, Kaggle 2021 competition data (Shopee), research /
non-commercial use under the Kaggle competition rules; not for redistribution beyond this demo.
"""


def tokens(title: str) -> frozenset:
    return frozenset(t for t in re.findall(r"\w+", title.lower()) if len(t) > 1)


def main() -> None:
    lines = (SRC / "train.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    rows = [next(csv.reader([line])) for line in body]  # one record per line in this file
    groups: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        groups[row[4]].append(i)
    small = {g for g, members in groups.items() if len(members) <= MAX_GROUP}
    keep = {g for g in sorted(small) if int(hashlib.sha256(g.encode()).hexdigest(), 16) % 45 == 0}

    toks = [tokens(row[3]) for row in rows]
    index: dict[str, list[int]] = defaultdict(list)
    for i, ts in enumerate(toks):
        for t in ts:
            index[t].append(i)
    added: set[str] = set()
    for g in sorted(keep):
        for i in groups[g]:
            best, best_group = 0.5, None
            for t in sorted(toks[i]):
                if len(index[t]) > 50:
                    continue  # only rare tokens (brands, codes) point at look-alikes
                for j in index[t]:
                    other = rows[j][4]
                    if other == g or other not in small:
                        continue
                    score = len(toks[i] & toks[j]) / len(toks[i] | toks[j])
                    if score >= best and rows[i][3].lower() != rows[j][3].lower():
                        best, best_group = score, other
            if best_group and best_group not in keep and len(added) < MAX_NEIGHBOURS:
                added.add(best_group)
    keep |= added
    kept = [line for line, row in zip(body, rows, strict=True) if row[4] in keep]
    DST.mkdir(parents=True, exist_ok=True)
    (DST / "train.csv").write_text(header + "".join(kept), encoding="utf-8", newline="")
    source_md = (SRC / "SOURCE.md").read_text(encoding="utf-8").rstrip("\n") + "\n" + DEMO_NOTE
    (DST / "SOURCE.md").write_text(source_md, encoding="utf-8")
    print(f"{DST / 'train.csv'}: {len(kept)} of {len(body)} rows, {len(keep)} groups ({len(added)} look-alikes)")


if __name__ == "__main__":
    main()
