"""Demo subset of the Instacart products: aisles.csv and departments.csv whole, and every product of six
departments (bakery, beverages, babies, pets, personal care and the placeholder 'missing'), lines copied
unchanged. Stdlib only; reproducible.

Run from the repository root:  python demo/subsets/instacart_products_subset.py
"""

import csv
import shutil
from pathlib import Path

SRC = Path("../shared/data/instacart_products_subset")
DST = Path("demo/data/instacart_products_subset")
DEPARTMENTS = {"bakery", "beverages", "babies", "pets", "personal care", "missing"}


def main() -> None:
    DST.mkdir(parents=True, exist_ok=True)
    for name in ("aisles.csv", "departments.csv"):
        shutil.copyfile(SRC / name, DST / name)
    with (SRC / "departments.csv").open(encoding="utf-8", newline="") as f:
        wanted = {row["department_id"] for row in csv.DictReader(f) if row["department"] in DEPARTMENTS}
    lines = (SRC / "products.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    # Every product is on one line (checked: 9,289 lines = 9,289 CSV records), so lines are copied as-is.
    kept = [line for line in body if next(csv.reader([line]))[3] in wanted]
    (DST / "products.csv").write_text(header + "".join(kept), encoding="utf-8")
    print(f"{DST / 'products.csv'}: {len(kept)} of {len(body)} products")


if __name__ == "__main__":
    main()
