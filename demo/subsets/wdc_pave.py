"""Demo subset of WDC PAVE: wdc_with_all_attributes and wdc_normalized, train_large.jsonl and test.jsonl.
train_large keeps the first 7 offers of every category and test the first 2 (file order) among offers whose
description is at most 300 characters; the same offer ids are kept in both variants (lines verbatim).
Stdlib only; reproducible.

Run from the repository root:  python demo/subsets/wdc_pave.py
"""

import json
import shutil
from collections import Counter
from pathlib import Path

SRC = Path("../shared/data/wdc_pave")
DST = Path("demo/data/wdc_pave")
VARIANTS = ("wdc_with_all_attributes", "wdc_normalized")
PER_CATEGORY = {"train_large.jsonl": 7, "test.jsonl": 2}
MAX_DESCRIPTION = 300

DEMO_NOTE = """
## Demo subset
Variants `wdc_with_all_attributes` and `wdc_normalized`, files `train_large.jsonl` and `test.jsonl` only:
`train_large` keeps the first 7 offers of every category and `test` the first 2, in file order, among offers
whose `input_description` is at most 300 characters; both variants keep the same offer ids (35 + 10 offers),
lines copied verbatim; `processed_datasets/README.md` is copied (`demo/subsets/wdc_pave.py`).
Attribution and terms: wbsg-uni-mannheim/wdc-pave (Web Data Commons product offers; no license stated),
research use only.
"""


def pick(lines: list[str], per_category: int) -> set:
    seen: Counter[str] = Counter()
    ids = set()
    for line in lines:
        row = json.loads(line)
        if len(row.get("input_description") or "") <= MAX_DESCRIPTION and seen[row["category"]] < per_category:
            seen[row["category"]] += 1
            ids.add(row["id"])
    return ids


def main() -> None:
    for name, per_category in PER_CATEGORY.items():
        first = (SRC / "processed_datasets" / VARIANTS[0] / name).read_text(encoding="utf-8")
        ids = pick(first.splitlines(keepends=True), per_category)
        for variant in VARIANTS:
            lines = (SRC / "processed_datasets" / variant / name).read_text(encoding="utf-8").splitlines(keepends=True)
            kept = [line for line in lines if json.loads(line)["id"] in ids]
            (DST / "processed_datasets" / variant).mkdir(parents=True, exist_ok=True)
            (DST / "processed_datasets" / variant / name).write_text("".join(kept), encoding="utf-8")
            print(f"{DST / 'processed_datasets' / variant / name}: {len(kept)} of {len(lines)} offers")
    shutil.copyfile(SRC / "processed_datasets" / "README.md", DST / "processed_datasets" / "README.md")
    shutil.copyfile(SRC / "SOURCE.md", DST / "SOURCE.md")
    with (DST / "SOURCE.md").open("a", encoding="utf-8") as f:
        f.write(DEMO_NOTE)


if __name__ == "__main__":
    main()
