"""Demo subset of WANDS queries: the first 200 data rows of query.csv (query_id 0-199, including the
queries without a class among them) and, in its original order and with all its columns, every row of
query_attributes_llm_enriched.csv whose query is one of those 200. Stdlib only; reproducible.

Run from the repository root:  python demo/subsets/wands_queries.py
"""

import csv
import io
import shutil
from pathlib import Path

SRC = Path("../shared/data/wands_queries")
DST = Path("demo/data/wands_queries")
QUERIES = 200


def main() -> None:
    DST.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SRC / "LICENSE.wands.txt", DST / "LICENSE.wands.txt")
    lines = (SRC / "query.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    kept = lines[1 : QUERIES + 1]
    (DST / "query.csv").write_text(lines[0] + "".join(kept), encoding="utf-8")
    wanted = {line.rstrip("\n").split("\t")[1] for line in kept}
    with (SRC / "query_attributes_llm_enriched.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    enriched = [rows[0]] + [row for row in rows[1:] if row[0] in wanted]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(enriched)  # the original's dialect (round-trips exactly)
    (DST / "query_attributes_llm_enriched.csv").write_text(out.getvalue(), encoding="utf-8")
    print(f"{DST}: {len(kept)} queries, {len(enriched) - 1} enriched rows")


if __name__ == "__main__":
    main()
