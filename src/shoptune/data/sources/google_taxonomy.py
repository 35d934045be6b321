"""Google Product Taxonomy `taxonomy-with-ids.<locale>.txt`: one category per line, a tree of up to 7 levels.

Format (UTF-8 text; ``#`` lines are comments such as the version header)::

    # Google_Product_Taxonomy_Version: 2021-09-21
    1 - Animals & Pet Supplies
    3 - Animals & Pet Supplies > Pet Supplies > Bird Supplies

Each data row is ``<numeric id> - <L1> > <L2> > ...``; error messages number rows by file line. The
tree is rebuilt from the paths themselves, so a category whose parent row is absent still has a parent
(its path prefix).

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
from shoptune.data.sources.base import FirstSeen, Source, ViewContext, view
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
        ids = FirstSeen("id")
        paths = FirstSeen("path", "category", show=lambda path: repr(SEPARATOR.join(path)))
        found = 0
        # Rows are numbered by file line (the version header is line 1), as the decoder numbers bad bytes.
        for number, text in decode_lines(path, "utf-8", log):
            if not text.strip() or text.lstrip().startswith("#"):
                continue  # blank lines and the version header are not categories
            found += 1
            try:
                row = _parse(text, path, number)
                ids.check(row, row["id"])
                paths.check(row, row["path"])
            except DataError as error:
                log.handle(error)
                continue
            ids.add(row, row["id"])
            paths.add(row, row["path"])
            rows.append(row)
        if found == 0:
            raise DataError(path, 0, "-", "no category rows (only comments or blank lines)")
        return rows

    @view("type_similarity", "pair")
    def type_similarity(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Product-type similarity of two categories by tree distance: parent/child -> exact, siblings or same
        L2 ancestor -> partial, different L1 -> irrelevant. Both sides come from one block of subtrees (the
        split group), so no category ever appears in two splits."""
        tree = Tree.build([row["path"] for row in rows])
        row_of = {row["path"]: row for row in rows}
        seen: set[frozenset[Path_]] = set()
        units = _units(tree, int(ctx.param("unit_nodes", 40)))
        for block in _blocks(units, ctx, int(ctx.param("units_per_block", 2))):
            group = "c:" + " + ".join(name for name, _ in block)
            for _, unit in block:
                foreign = [n for _, other in block if other[0][0] != unit[0][0] for n in other]
                for node in unit:
                    for label, other in _partners(tree, node, unit, foreign, ctx):
                        if frozenset((node, other)) in seen:
                            continue  # (child, parent) may already have been drawn as (parent, child)
                        seen.add(frozenset((node, other)))
                        yield ctx.pair(
                            row_of.get(node),
                            tree.name(node),
                            tree.name(other),
                            label,
                            groups=[group],
                            left_path=SEPARATOR.join(node),
                            right_path=SEPARATOR.join(other),
                        )

    @view("parent_mc", "instruction")
    def parent_mc(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Multiple choice: which category is the direct parent of X (distractors: up to two siblings of the
        parent, then categories of the parent's depth from other verticals)? Grouped by subtree unit."""
        tree = Tree.build([row["path"] for row in rows])
        by_depth: dict[int, list[Path_]] = defaultdict(list)
        for node in tree.nodes:
            by_depth[len(node)].append(node)
        size = int(ctx.param("options", 4))
        # The same subtree units as type_similarity: a category and its siblings share a split.
        unit_of = {n: name for name, nodes in _units(tree, int(ctx.param("unit_nodes", 40))) for n in nodes}
        for row in sorted(rows, key=lambda r: r["path"]):
            node = row["path"]
            if len(node) < 2 or tree.name_counts[node[-1]] > 1:
                continue  # a top-level category has no parent; a repeated name makes the question ambiguous
            parent = node[:-1]
            answer = parent[-1]
            lineage = set(node)  # the category itself and all its ancestors are never distractors
            uncles = sorted({n[-1] for n in tree.siblings(parent)} - lineage)
            distractors = ctx.rng.sample(uncles, min(2, size - 1, len(uncles)))
            # Fill up with categories of the parent's depth from other verticals (a bounded sample, so the
            # view stays linear in the taxonomy size).
            level = by_depth[len(parent)]
            for other in ctx.rng.sample(level, min(len(level), 8 * size)):
                if len(distractors) >= size - 1:
                    break
                if other[0] != node[0] and other[-1] not in lineage and other[-1] not in distractors:
                    distractors.append(other[-1])
            if not distractors:
                continue
            options = ctx.shuffled(answer, distractors)
            yield ctx.instruction(
                row,
                instruction="In an online shop's product taxonomy, which category is the direct parent of the "
                "given category? Answer with the category name.",
                input=f"Category: {node[-1]}",
                options=options,
                output=answer,
                groups=[f"c:{unit_of[node]}"],
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


Unit = tuple[str, list[Path_]]


def _units(tree: Tree, max_nodes: int) -> list[Unit]:
    """Cut each L2 subtree into units of whole L3 subtrees (about `max_nodes` nodes each, default 40; the L2 category
    itself joins its first unit). Units are the finest split grain that keeps parents with their children.

    Example:
        >>> t = Tree.build([("A",), ("A", "B"), ("A", "B", "C"), ("A", "B", "C", "x"), ("A", "B", "D")])
        >>> [(name, len(nodes)) for name, nodes in _units(t, 2)]
        [('A > B#0', 3), ('A > B#1', 1)]
    """
    by_l3: dict[Path_, list[Path_]] = defaultdict(list)
    for node in tree.nodes:
        if len(node) >= 3:
            by_l3[node[:3]].append(node)
    present = set(tree.nodes)
    units: list[Unit] = []
    for l2 in sorted({node[:2] for node in tree.nodes if len(node) >= 2}):
        current: list[Path_] = [l2] if l2 in present else []
        chunks: list[list[Path_]] = []
        for l3 in sorted(k for k in by_l3 if k[:2] == l2):
            if len(current) > 1 and len(current) + len(by_l3[l3]) > max_nodes:
                chunks.append(current)
                current = []
            current = current + by_l3[l3]
        if current:
            chunks.append(current)
        units += [(f"{SEPARATOR.join(l2)}#{i}", chunk) for i, chunk in enumerate(chunks)]
    return units


def _blocks(units: list[Unit], ctx: ViewContext, size: int) -> list[list[Unit]]:
    """Partition the units into seeded blocks of `size` units (the split group), each spanning >= 2 verticals
    where possible, so irrelevant partners come from inside the block and never cross a split.

    Example:
        >>> import random
        >>> ctx = ViewContext(task="t", capability="c", language="en", rng=random.Random(0))
        >>> units = [(k, [(k[0], k)]) for k in ["Ax", "Ay", "Bz", "Bw"]]
        >>> sorted(len(b) for b in _blocks(units, ctx, 2))
        [2, 2]
    """
    order = list(units)
    ctx.rng.shuffle(order)
    blocks: list[list[Unit]] = []
    current: list[Unit] = []
    for unit in order:
        current.append(unit)
        if len(current) >= max(2, size) and len({nodes[0][0] for _, nodes in current}) > 1:
            blocks.append(current)
            current = []
    if current:  # leftovers join the last block (or form one, if the taxonomy is tiny)
        if blocks:
            blocks[-1].extend(current)
        else:
            blocks.append(current)
    return blocks


def _partners(
    tree: Tree, node: Path_, unit: list[Path_], foreign: list[Path_], ctx: ViewContext
) -> Iterator[tuple[Label, Path_]]:
    """Up to one exact, one partial and one irrelevant partner for `node`, all from its block."""
    members = set(unit)
    kin = [n for n in [node[:-1], *tree.children.get(node, [])] if len(n) >= 2 and n in members]
    if kin:
        yield Label.exact, ctx.rng.choice(kin)
    siblings: list[Path_] = []
    if len(node) >= 3:
        siblings = [n for n in tree.siblings(node) if n in members]
        siblings = siblings or [n for n in unit if len(n) >= 3 and not _lineal(n, node)]
    if siblings:
        yield Label.partial, ctx.rng.choice(siblings)
    if foreign and (kin or siblings):
        yield Label.irrelevant, ctx.rng.choice(foreign)


def _lineal(a: Path_, b: Path_) -> bool:
    """True when one path is an ancestor of (or equal to) the other."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]
