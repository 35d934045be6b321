"""Demo subset of TailorMatch: the files of the built-in tasks plus one file of each other format the
adapters read (a gold-standard .json.gz, a chat .jsonl). Rows are picked by the sha256 of the line,
per label or per category, kept in file order and byte for byte (a .gz is re-compressed with mtime 0).
Stdlib only; reproducible.

Run from the repository root:  python demo/subsets/tailormatch_wdcproducts_em.py
"""

import csv
import gzip
import hashlib
import json
from collections import defaultdict
from pathlib import Path

SRC = Path("../shared/data/tailormatch_wdcproducts_em")
DST = Path("demo/data/tailormatch_wdcproducts_em")
WDC = "wdc_products/preprocessed_wdcproducts80cc20rnd000un"
# file -> (answer No / label 0 lines, Yes / 1 lines)
PAIR_PLAN = {
    f"{WDC}_train_medium.csv": (80, 40),
    f"{WDC}_valid_small.csv": (30, 10),
    f"{WDC}_valid_small_gpt.jsonl": (20, 10),
    "walmart-amazon/walmart-amazon-gs.json.gz": (40, 20),
}
# categories file -> lines kept per raw category value (so quoted variants such as 'Camera_and_Photo' stay)
CATEGORY_PLAN = {"abt-buy/categories/v2_complete.csv": 14, "amazon-google/categories/complete.csv": 12}
DEMO_NOTE = """
## Demo subset
Same file names and formats (UTF-8, LF; `.json.gz` re-compressed), rows unchanged and in file order,
picked by smallest sha256(line) per group:
- `wdc_products/..._train_medium.csv`: 80 No + 40 Yes; `..._valid_small.csv`: 30 No + 10 Yes;
  `..._valid_small_gpt.jsonl`: 20 No + 10 Yes;
- `walmart-amazon/walmart-amazon-gs.json.gz`: 40 label-0 + 20 label-1 lines;
- `abt-buy/categories/v2_complete.csv`: up to 14 products per raw category value;
  `amazon-google/categories/complete.csv`: up to 12 per category (catch-all `Others` included).
Made by `demo/subsets/tailormatch_wdcproducts_em.py`.
Attribution and terms: TailorMatch (wbsg-uni-mannheim, Steiner/Peeters/Bizer; no license file), derived
from WDC Products (Peeters et al. 2023, Web Data Commons / Common Crawl) and the Leipzig/Magellan
benchmarks; research use only.
"""


def answer(rel: str, header: str | None, line: str) -> str:
    """The label of one line: CSV completion, chat assistant turn, or JSON `label`."""
    if rel.endswith(".csv"):
        return next(csv.DictReader([header, line]))["completion"].strip().lower()
    obj = json.loads(line)
    if "messages" in obj:
        return obj["messages"][-1]["content"].strip().lower()
    return str(obj["label"])


def pick(lines: list[str], key, quota: dict[str, int], default: int = 0) -> list[str]:
    """Per key, the `quota[key]` lines with the smallest sha256, in file order."""
    ranked = sorted(range(len(lines)), key=lambda i: hashlib.sha256(lines[i].encode()).digest())
    taken: dict[str, int] = defaultdict(int)
    keep = set()
    for i in ranked:
        k = key(lines[i])
        if taken[k] < quota.get(k, default):
            taken[k] += 1
            keep.add(i)
    return [lines[i] for i in sorted(keep)]


def write(rel: str, text: str) -> None:
    out = DST / rel
    out.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    out.write_bytes(gzip.compress(data, mtime=0) if rel.endswith(".gz") else data)


def main() -> None:
    for rel, (n_no, n_yes) in PAIR_PLAN.items():
        raw = (SRC / rel).read_bytes()
        text = (gzip.decompress(raw) if rel.endswith(".gz") else raw).decode("utf-8")
        lines = text.splitlines(keepends=True)
        header = lines.pop(0) if rel.endswith(".csv") else None
        quota = {"no": n_no, "0": n_no, "yes": n_yes, "1": n_yes}
        kept = pick(lines, lambda line, r=rel, h=header: answer(r, h, line), quota)
        write(rel, (header or "") + "".join(kept))
        print(f"{DST / rel}: {len(kept)} of {len(lines)} rows")
    for rel, per_category in CATEGORY_PLAN.items():
        lines = (SRC / rel).read_text(encoding="utf-8").splitlines(keepends=True)
        header = lines.pop(0)
        kept = pick(lines, lambda line, h=header: next(csv.DictReader([h, line]))["category"], {}, per_category)
        write(rel, header + "".join(kept))
        print(f"{DST / rel}: {len(kept)} of {len(lines)} rows")
    source_md = (SRC / "SOURCE.md").read_text(encoding="utf-8").rstrip("\n") + "\n" + DEMO_NOTE
    (DST / "SOURCE.md").write_text(source_md, encoding="utf-8")


if __name__ == "__main__":
    main()
