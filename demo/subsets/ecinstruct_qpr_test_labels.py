"""Demo subset of the ECInstruct query-product ranking labels: the first 100 label lists of label.json,
written in the original layout (one JSON document, 4-space indent, no final newline). Stdlib only.

Run from the repository root:  python demo/subsets/ecinstruct_qpr_test_labels.py
"""

import json
import shutil
from pathlib import Path

SRC = Path("../shared/data/ecinstruct_qpr_test_labels")
DST = Path("demo/data/ecinstruct_qpr_test_labels")
KEEP = 100

DEMO_NOTE = """
## Demo subset
`label.json` keeps the first 100 of the 1,000 label lists, in the original layout (one JSON list, 4-space
indent, no final newline) (`demo/subsets/ecinstruct_qpr_test_labels.py`).
Attribution and terms: ninglab/eCeLLM (ECInstruct), CC BY 4.0; ESCI labels from the Amazon Shopping Queries
Dataset (Apache-2.0).
"""


def main() -> None:
    data = json.loads((SRC / "label.json").read_text(encoding="utf-8"))
    DST.mkdir(parents=True, exist_ok=True)
    (DST / "label.json").write_text(json.dumps(data[:KEEP], indent=4), encoding="utf-8")
    shutil.copyfile(SRC / "SOURCE.md", DST / "SOURCE.md")
    with (DST / "SOURCE.md").open("a", encoding="utf-8") as f:
        f.write(DEMO_NOTE)
    print(f"{DST / 'label.json'}: {KEEP} of {len(data)} label lists")


if __name__ == "__main__":
    main()
