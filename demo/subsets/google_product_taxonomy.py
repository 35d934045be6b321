"""Demo subset of the Google Product Taxonomy: the version header plus every row of eight whole L1
verticals (whole subtrees, so every kept category's parent is kept too). Stdlib only; reproducible.

Run from the repository root:  python demo/subsets/google_product_taxonomy.py
"""

from pathlib import Path

NAME = "taxonomy-with-ids.en-US.txt"
SRC = Path("../shared/data/google_product_taxonomy") / NAME
DST = Path("demo/data/google_product_taxonomy") / NAME
VERTICALS = {
    "Animals & Pet Supplies",
    "Apparel & Accessories",
    "Baby & Toddler",
    "Business & Industrial",
    "Furniture",
    "Luggage & Bags",
    "Office Supplies",
    "Toys & Games",
}


def keep(line: str) -> bool:
    if line.startswith("#"):
        return True  # the version header
    path = line.split(" - ", 1)[1]
    return path.split(" > ", 1)[0] in VERTICALS


def main() -> None:
    lines = SRC.read_text(encoding="utf-8").split("\n")
    kept = [line for line in lines if line and keep(line)]
    DST.parent.mkdir(parents=True, exist_ok=True)
    # The original has no newline after its last row; keep that.
    DST.write_text("\n".join(kept), encoding="utf-8")
    print(f"{DST}: {len(kept) - 1} of {len(lines) - 1} categories")


if __name__ == "__main__":
    main()
