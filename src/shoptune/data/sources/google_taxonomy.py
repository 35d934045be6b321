"""Google Product Taxonomy `taxonomy-with-ids.<locale>.txt`: one category per line, a tree of up to 7 levels.

Format (UTF-8 text; ``#`` lines are comments such as the version header)::

    # Google_Product_Taxonomy_Version: 2021-09-21
    1 - Animals & Pet Supplies
    3 - Animals & Pet Supplies > Pet Supplies > Bird Supplies

Each data row is ``<numeric id> - <L1> > <L2> > ...``. The tree is rebuilt from the paths themselves,
so a category whose parent row is absent still has a parent (its path prefix).

Labels for product-type similarity (``type_similarity``), from the tree distance of two categories:
direct parent/child below the top level -> exact (every product of the child type is a product of the
parent type, e.g. "Bird Supplies" / "Bird Cages & Stands"); siblings, or else two non-lineal categories
under the same L2 ancestor -> partial (related types of one department, e.g. "Bird Cages & Stands" /
"Bird Food"); categories of different L1 verticals -> irrelevant. Other distances (same L1, different
L2; grandparent/grandchild) are ambiguous and never sampled.

Example:
    >>> from shoptune.data.sources import get_source
    >>> from shoptune.data.errorlog import ErrorLog
    >>> rows = get_source("google_taxonomy").read("taxonomy-with-ids.en-US.txt", ErrorLog())  # doctest: +SKIP
    >>> rows[2]["path"]  # doctest: +SKIP
    ('Animals & Pet Supplies', 'Pet Supplies')
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import Row, decode_lines
from shoptune.data.sources import register
from shoptune.data.sources.base import Source, ViewContext, view
from shoptune.errors import DataError
from shoptune.records import Label, Record

SEPARATOR = " > "
_LINE = re.compile(r"^\s*(?P<id>\S+?)\s+-\s+(?P<path>.*?)\s*$")

Path_ = tuple[str, ...]


@dataclass
class Tree:
    """The taxonomy as parent/children maps over path tuples, plus display names.

    Example:
        >>> t = Tree.build([("A",), ("A", "B"), ("A", "B", "C"), ("A", "B", "D")])
        >>> t.children[("A", "B")]
        [('A', 'B', 'C'), ('A', 'B', 'D')]
        >>> t.name(("A", "B", "C"))
        'C'
    """

    nodes: list[Path_]
    children: dict[Path_, list[Path_]] = field(default_factory=dict)
    name_counts: Counter[str] = field(default_factory=Counter)

    @classmethod
    def build(cls, paths: list[Path_]) -> Tree:
        nodes = sorted(set(paths))
        children: dict[Path_, list[Path_]] = defaultdict(list)
        for node in nodes:
            if len(node) > 1:
                children[node[:-1]].append(node)
        return cls(nodes, dict(children), Counter(node[-1] for node in nodes))

    def name(self, node: Path_) -> str:
        """The leaf name; qualified by its parent where the leaf name is not unique in the file."""
        if self.name_counts[node[-1]] > 1 and len(node) > 1:
            return f"{node[-2]}{SEPARATOR}{node[-1]}"
        return node[-1]

    def siblings(self, node: Path_) -> list[Path_]:
        return [n for n in self.children.get(node[:-1], []) if n != node] if len(node) > 1 else []


@register
class GoogleTaxonomy(Source):
    name = "google_taxonomy"
    title = "Google Product Taxonomy (id - L1 > L2 > ... category tree)"
    path_hint = "taxonomy-with-ids.<locale>.txt (UTF-8, '<id> - L1 > L2 > ...' per line, '#' comment lines)"
    default_view = "type_similarity"

    def read(self, path: Path, log: ErrorLog) -> list[Row]:
        rows: list[Row] = []
        seen_ids: dict[str, int] = {}
        seen_paths: dict[Path_, int] = {}
        number = 0
        for _, text in decode_lines(path, "utf-8", log):
            if not text.strip() or text.lstrip().startswith("#"):
                continue  # blank lines and the version header are not data rows
            number += 1
            try:
                row = _parse(text, path, number)
                _check_unique(row, seen_ids, seen_paths)
            except DataError as error:
                log.handle(error)
                continue
            rows.append(row)
        if number == 0:
            raise DataError(path, 0, "-", "no category rows (only comments or blank lines)")
        return rows

    @view("type_similarity", "pair")
    def type_similarity(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Product-type similarity of two categories by tree distance: parent/child -> exact, siblings or same
        L2 ancestor -> partial, different L1 -> irrelevant. Categories are grouped in blocks of L2 subtrees so
        that no category ever appears in two splits."""
        tree = Tree.build([row["path"] for row in rows])
        row_of = {row["path"]: row for row in rows}
        by_l2: dict[Path_, list[Path_]] = defaultdict(list)
        for node in tree.nodes:
            if len(node) >= 2:
                by_l2[node[:2]].append(node)
        for block in _blocks(sorted(by_l2), ctx, int(ctx.param("l2_per_block", 2))):
            group = "c:" + " | ".join(SEPARATOR.join(l2) for l2 in block)
            for l2 in block:
                foreign = [n for other in block if other[0] != l2[0] for n in by_l2[other]]
                for node in by_l2[l2]:
                    row = row_of.get(node)
                    for label, other in _partners(tree, node, by_l2[l2], foreign, ctx):
                        yield ctx.pair(row, tree.name(node), tree.name(other), label, groups=[group],
                                       left_path=SEPARATOR.join(node), right_path=SEPARATOR.join(other))

    @view("parent_mc", "instruction")
    def parent_mc(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Multiple choice: which category is the direct parent of X (distractors: the parent's siblings and
        categories of the parent's depth elsewhere)?"""
        tree = Tree.build([row["path"] for row in rows])
        by_depth: dict[int, list[Path_]] = defaultdict(list)
        for node in tree.nodes:
            by_depth[len(node)].append(node)
        size = int(ctx.param("options", 4))
        for row in sorted(rows, key=lambda r: r["path"]):
            node = row["path"]
            if len(node) < 2 or tree.name_counts[node[-1]] > 1:
                continue  # a top-level category has no parent; a repeated name makes the question ambiguous
            parent = node[:-1]
            answer = parent[-1]
            lineage = {node[: i + 1][-1] for i in range(len(node))}
            uncles = [n[-1] for n in tree.siblings(parent)]
            elsewhere = [n[-1] for n in by_depth[len(parent)] if n[0] != node[0]]
            distractors: list[str] = []
            for pool, quota in ((uncles, 2), (elsewhere, size - 1)):
                pool = sorted(set(pool) - lineage - set(distractors))
                distractors += ctx.rng.sample(pool, min(quota, size - 1 - len(distractors), len(pool)))
            if not distractors:
                continue
            options = [answer, *distractors]
            ctx.rng.shuffle(options)
            yield ctx.instruction(
                row,
                instruction="In an online shop's product taxonomy, which category is the direct parent of the "
                "given category? Answer with the category name.",
                input=f"Category: {node[-1]}",
                options=options,
                output=answer,
                groups=[f"c:{SEPARATOR.join(node[:2])}"],
                path=SEPARATOR.join(node),
            )


def _parse(text: str, path: Path, number: int) -> Row:
    match = _LINE.match(text)
    if match is None:
        raise DataError(path, number, "id", f"row cut off or malformed: expected '<id> - <path>', got {text.strip()!r}")
    if not match["id"].isdigit():
        raise DataError(path, number, "id", f"not a number: {match['id']!r}")
    parts = tuple(part.strip() for part in match["path"].split(">"))
    if not match["path"] or any(not part for part in parts):
        raise DataError(path, number, "path", f"empty category name in {match['path']!r} (row cut off?)")
    return {"_row": number, "_file": str(path), "id": match["id"], "path": parts}


def _check_unique(row: Row, seen_ids: dict[str, int], seen_paths: dict[Path_, int]) -> None:
    if row["id"] in seen_ids:
        raise DataError(row["_file"], row["_row"], "id", f"duplicate id {row['id']} (first at row {seen_ids[row['id']]})")
    if row["path"] in seen_paths:
        raise DataError(row["_file"], row["_row"], "path",
                        f"duplicate category {SEPARATOR.join(row['path'])!r} (first at row {seen_paths[row['path']]})")
    seen_ids[row["id"]] = row["_row"]
    seen_paths[row["path"]] = row["_row"]


def _blocks(l2s: list[Path_], ctx: ViewContext, size: int) -> list[list[Path_]]:
    """Partition the L2 subtrees into seeded blocks of `size` (the split unit), each spanning >= 2 verticals
    where possible, so irrelevant partners come from inside the block and never cross a split.

    Example:
        >>> import random
        >>> ctx = ViewContext(task="t", capability="c", language="en", rng=random.Random(0))
        >>> sorted(len(b) for b in _blocks([("A", "x"), ("A", "y"), ("B", "z"), ("B", "w")], ctx, 2))
        [2, 2]
    """
    order = list(l2s)
    ctx.rng.shuffle(order)
    blocks: list[list[Path_]] = []
    current: list[Path_] = []
    for l2 in order:
        current.append(l2)
        if len(current) >= max(2, size) and len({n[0] for n in current}) > 1:
            blocks.append(current)
            current = []
    if current:  # leftovers join the last block (or form one, if the taxonomy is tiny)
        if blocks:
            blocks[-1].extend(current)
        else:
            blocks.append(current)
    return blocks


def _partners(tree: Tree, node: Path_, same_l2: list[Path_], foreign: list[Path_],
              ctx: ViewContext) -> Iterator[tuple[Label, Path_]]:
    """Up to one exact, one partial and one irrelevant partner for `node` (balanced labels)."""
    kin = [n for n in [node[:-1], *tree.children.get(node, [])] if len(n) >= 2]
    if kin:
        yield Label.exact, ctx.rng.choice(kin)
    siblings = tree.siblings(node) if len(node) >= 3 else []
    if not siblings and len(node) >= 3:
        siblings = [n for n in same_l2 if not _lineal(n, node)]
    if siblings:
        yield Label.partial, ctx.rng.choice(siblings)
    if foreign and (kin or siblings):
        yield Label.irrelevant, ctx.rng.choice(foreign)


def _lineal(a: Path_, b: Path_) -> bool:
    """True when one path is an ancestor of (or equal to) the other."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]
