"""Demo subset of EcomGPT EcomInstruct v1 test tasks: 6 task folders, the first 70 rows of each test.json
(150 for Multi_CPR, whose rows come in groups of 3 per query; 100 for the coarse classification), extended
to whole "first-line" groups (a Multi_CPR query keeps all its rows); meta-info.json copied unchanged.

Rows are taken in file order among those whose sentence is at most 300 characters (keeps the subset
small); the two Lenovo folders (one shared test.json upstream) keep the same rows, as do tasks of one
dataset. Stdlib only; reproducible.

Run from the repository root:  python demo/subsets/ecominstruct_v1_test.py
"""

import json
import shutil
from pathlib import Path

SRC = Path("../shared/data/ecominstruct_v1_test")
DST = Path("demo/data/ecominstruct_v1_test")
#: Task folder -> rows to keep (enough for >= 5 dev records after a 0.7/0.1/0.2 grouped split).
FOLDERS = {
    "Lenovo/tasks/EN-Lenovo-NER-NER": 70,
    "Lenovo/tasks/EN-Lenovo-Condition_Extract-Condition_Extract": 70,
    "MEPAVE/tasks/ZH-MEPAVE-NER-attribute_value_extraction": 70,
    "Multi_CPR/tasks/ZH-Multi_CPR-CLS-query_item_matching": 150,
    "OpenBG_Align/tasks/ZH-OpenBG_Align-CLS-item_coarse_classify": 100,
    "OpenBG_Align/tasks/ZH-OpenBG_Align-Generate-title_generate": 70,
}
MAX_CHARS = 300

DEMO_NOTE = """
## Demo subset
Six task folders are kept: `Lenovo/tasks/EN-Lenovo-NER-NER`,
`Lenovo/tasks/EN-Lenovo-Condition_Extract-Condition_Extract`,
`MEPAVE/tasks/ZH-MEPAVE-NER-attribute_value_extraction`,
`Multi_CPR/tasks/ZH-Multi_CPR-CLS-query_item_matching`,
`OpenBG_Align/tasks/ZH-OpenBG_Align-CLS-item_coarse_classify`,
`OpenBG_Align/tasks/ZH-OpenBG_Align-Generate-title_generate`.
Each `meta-info.json` is copied unchanged; each `test.json` keeps, in file order, the first 70 rows (150 for
Multi_CPR CLS, 100 for item_coarse_classify) whose `sentences` is at most 300 characters, extended so that the
rows sharing the last kept first line (e.g. one Multi_CPR query) stay together
(`demo/subsets/ecominstruct_v1_test.py`).
The two held-out tasks (EN-ABSA-CLS-review_topic_category, EN-Reddit_QA-Extract-Extract_QA) are not here.
Attribution and terms: Alibaba-NLP/EcomGPT (no license stated; upstream Lenovo, MEPAVE/JD.com, Multi-CPR and
OpenBG/Alibaba terms apply), research use only.
"""


def first_line(line: str) -> str:
    return " ".join(json.loads(line)["sentences"].split("\n")[0].lower().split())


def subset(lines: list[str], rows: int) -> list[str]:
    """The first `rows` short rows, extended to the end of the last group so no group is cut."""
    short = [line for line in lines if len(json.loads(line)["sentences"]) <= MAX_CHARS]
    kept = short[:rows]
    last = first_line(kept[-1])
    kept += [line for line in short[rows:] if first_line(line) == last]
    return kept


def main() -> None:
    for folder, rows in FOLDERS.items():
        src, dst = SRC / folder, DST / folder
        dst.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / "meta-info.json", dst / "meta-info.json")
        text = (src / "test.json").read_text(encoding="utf-8")
        lines = [line for line in text.splitlines(keepends=True) if line.strip()]
        kept = subset(lines, rows)
        (dst / "test.json").write_text("".join(kept), encoding="utf-8")
        print(f"{dst}: {len(kept)} of {len(lines)} rows")
    shutil.copyfile(SRC / "SOURCE.md", DST / "SOURCE.md")
    with (DST / "SOURCE.md").open("a", encoding="utf-8") as f:
        f.write(DEMO_NOTE)


if __name__ == "__main__":
    main()
