"""Demo subset of ExtractGPT AE-110k / OA-Mine: for each dataset, train.jsonl keeps the first 4 offers of
every category and test.jsonl the first 2 of every category (file order), lines copied verbatim.
(train_0.2.jsonl, a subset of train.jsonl, is not included.) Stdlib only; reproducible.

Run from the repository root:  python demo/subsets/ae110k_oamine_extractgpt.py
"""

import json
import shutil
from collections import Counter
from pathlib import Path

SRC = Path("../shared/data/ae110k_oamine_extractgpt")
DST = Path("demo/data/ae110k_oamine_extractgpt")
PER_CATEGORY = {"train.jsonl": 4, "test.jsonl": 2}

DEMO_NOTE = """
## Demo subset
For `ae-110k/` and `oa-mine/`: `train.jsonl` keeps the first 4 offers of every category and `test.jsonl` the
first 2 of every category, in file order, lines copied verbatim (40 + 20 offers per dataset);
`train_0.2.jsonl`
is not included (`demo/subsets/ae110k_oamine_extractgpt.py`).
Attribution and terms: wbsg-uni-mannheim/ExtractGPT (Apache-2.0 repo); AE-110k (AliExpress, academic
research only) and OA-Mine (Amazon) data, research use only.
"""


def main() -> None:
    for dataset in ("ae-110k", "oa-mine"):
        (DST / dataset).mkdir(parents=True, exist_ok=True)
        for name, per_category in PER_CATEGORY.items():
            lines = (SRC / dataset / name).read_text(encoding="utf-8").splitlines(keepends=True)
            seen: Counter[str] = Counter()
            kept = []
            for line in lines:
                category = json.loads(line)["category"]
                if seen[category] < per_category:
                    seen[category] += 1
                    kept.append(line)
            (DST / dataset / name).write_text("".join(kept), encoding="utf-8")
            print(f"{DST / dataset / name}: {len(kept)} of {len(lines)} offers")
    shutil.copyfile(SRC / "SOURCE.md", DST / "SOURCE.md")
    with (DST / "SOURCE.md").open("a", encoding="utf-8") as f:
        f.write(DEMO_NOTE)


if __name__ == "__main__":
    main()
