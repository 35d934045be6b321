"""WANDS (Wayfair ANnotation DataSet) queries with their gold product class, plus LLM-enriched attributes.

PATH is the folder holding the two files, or ``query.csv`` itself with the enriched file beside it::

    query.csv                           TAB-separated UTF-8: query_id, query, query_class (class may be empty)
    query_attributes_llm_enriched.csv   comma-separated: query, ..., query_classification, ...  (optional)

``query_classification`` holds up to ~5 Wayfair category paths (``Furniture / Office Furniture / Desks``)
separated by `` sep ``. They are LLM-generated (silver); they are only used to place each gold class in
Wayfair's hierarchy, never as labels themselves. Queries with an empty class are read but left out.

Placing a class (``class_paths``): among the silver paths of all queries of that class, take the path
prefix whose segment shares most content words with the class name (summed word-overlap over the queries;
e.g. "Cabinet and Drawer Pulls" -> ``Home Improvement / Hardware / Cabinet Hardware / Cabinet & Drawer
Pulls``); with no overlap at all, the most frequent department / category of the queries' top paths.

Labels (``query_class``): (query, its gold class) -> exact; (query, another class placed under the same
department / category, i.e. the first two path segments) -> partial; (query, a class of a different
department, where both are placed, sharing no content word with the query or the gold class) ->
irrelevant. Without the enriched file no class can be placed: only exact and irrelevant (no shared
word) pairs are made. The placement is silver: a class seen in one query with off-target silver paths
can be misplaced (e.g. "Free Weights" lands under Appliances), which makes a few partial/irrelevant
labels noisy.

Example:
    >>> from shoptune.data.sources import get_source
    >>> from shoptune.data.errorlog import ErrorLog
    >>> rows = get_source("wands").read("wands_queries", ErrorLog())  # doctest: +SKIP
    >>> rows[0]["query"], rows[0]["query_class"]  # doctest: +SKIP
    ('salon chair', 'Massage Chairs')
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import Row, iter_csv, require
from shoptune.data.sources import register
from shoptune.data.sources.base import FirstSeen, Source, ViewContext, located, view
from shoptune.errors import DataError
from shoptune.records import Label, Record
from shoptune.text import clip, norm_key

QUERY_FILE = "query.csv"
ENRICHED_FILE = "query_attributes_llm_enriched.csv"
QUERY_COLUMNS = ["query_id", "query", "query_class"]
ENRICHED_COLUMNS = ["query", "query_classification"]
PATH_SEP = " sep "
_STOP = {"and", "or", "the", "a", "an", "of", "for", "with", "in", "on", "to", "set", "sets", "accessories"}
_WORD = re.compile(r"[a-z0-9]+")

Placement = tuple[str, ...]


@lru_cache(maxsize=65536)
def content_words(text: str) -> frozenset[str]:
    """Lower-cased words without stop words, crudely singularised, so "Beds" and "bed" match.

    Example:
        >>> sorted(content_words("Dining Tables & Chairs for the Patio"))
        ['chair', 'dining', 'patio', 'table']
    """
    out = set()
    for word in _WORD.findall(text.lower().replace("é", "e")):
        if word in _STOP:
            continue
        if len(word) > 3 and word.endswith("ies"):
            word = word[:-3] + "y"
        elif len(word) > 3 and word.endswith("es") and word[-3] in "sxh":
            word = word[:-2]
        elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.add(word)
    return frozenset(out)


def split_paths(value: str) -> list[Placement]:
    """The silver category paths of one query, best first.

    Example:
        >>> split_paths("Rugs / Area Rugs sep Rugs / Kitchen Mats ")
        [('Rugs', 'Area Rugs'), ('Rugs', 'Kitchen Mats')]
    """
    out = []
    for part in value.split(PATH_SEP):
        segments = tuple(s.strip() for s in part.split(" / ") if s.strip())
        if segments:
            out.append(segments)
    return out


def class_paths(rows: list[Row]) -> dict[str, Placement]:
    """Place every gold class in Wayfair's hierarchy from its queries' silver paths (see the module doc).

    Example:
        >>> rows = [{"query_class": "Area Rugs", "paths": [("Rugs", "Area Rugs"), ("Rugs", "Doormats")]}]
        >>> class_paths(rows)
        {'Area Rugs': ('Rugs', 'Area Rugs')}
    """
    by_class: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        if row["query_class"]:
            by_class[row["query_class"]].append(row)
    out: dict[str, Placement] = {}
    for cls in sorted(by_class):
        words = content_words(cls)
        overlap: Counter[Placement] = Counter()
        top: Counter[Placement] = Counter()
        for row in by_class[cls]:
            if row["paths"]:
                top[row["paths"][0][:2]] += 1
            # Each prefix scores once per query, so a department repeated over a query's paths cannot
            # outvote the one segment that names the class.
            scores: dict[Placement, float] = {}
            for path in row["paths"]:
                for depth in range(1, len(path) + 1):
                    seg = content_words(path[depth - 1])
                    if words and seg and words & seg:
                        scores[path[:depth]] = len(words & seg) / len(words | seg)
            overlap.update(scores)
        best = overlap or top
        if best:
            # Highest score; ties go to the shorter (more general) path, then alphabetical: deterministic.
            out[cls] = min(best, key=lambda p: (-best[p], len(p), p))
    return out


@register
class Wands(Source):
    name = "wands"
    title = "WANDS (Wayfair) queries with their product class"
    path_hint = "a folder with query.csv (TAB-separated) and query_attributes_llm_enriched.csv, or query.csv"
    default_view = "query_class"

    def read(self, path: Path, log: ErrorLog) -> list[Row]:
        path = Path(path)
        queries = path / QUERY_FILE if path.is_dir() else path
        enriched = queries.parent / ENRICHED_FILE
        query_ids = FirstSeen("query_id")

        def parse(row: Row) -> Row:
            query_id = require(row, "query_id").strip()
            query = require(row, "query").strip()
            query_ids.claim(row, query_id)
            # An empty class is documented (6 queries): kept as None, skipped by the views.
            query_class = (row.get("query_class") or "").strip() or None
            return located(row, query_id=query_id, query=query, key=norm_key(query), query_class=query_class)

        rows = self.valid_rows(iter_csv(queries, required=QUERY_COLUMNS, log=log, delimiter="\t"), parse, log)
        silver = _read_enriched(enriched, log) if enriched.exists() else {}
        for row in rows:
            row["paths"] = silver.get(row["key"], [])
        return rows

    @view("query_class", "pair")
    def query_class(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Query-category pairs: gold class -> exact, a class placed in the gold class's department / category
        -> partial, an unrelated class of another department -> irrelevant (one of each per query)."""
        labelled = _labelled(rows)
        placed = class_paths(labelled)
        classes = sorted({row["query_class"] for row in labelled})
        for row in labelled:
            gold = row["query_class"]
            partial = _partials(gold, classes, placed)
            unrelated = _unrelated(row, classes, placed)
            groups = [f"q:{row['key']}"]
            yield ctx.pair(row, row["query"], gold, Label.exact, groups=groups)
            if partial:
                yield ctx.pair(
                    row, row["query"], ctx.rng.choice(partial), Label.partial, groups=groups, gold_class=gold
                )
            if unrelated:
                yield ctx.pair(
                    row, row["query"], ctx.rng.choice(unrelated), Label.irrelevant, groups=groups, gold_class=gold
                )

    @view("query_class_cls", "instruction")
    def query_class_cls(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Classification: pick the query's product class from a small option list (the gold class plus
        unrelated classes, so that exactly one option fits)."""
        labelled = _labelled(rows)
        placed = class_paths(labelled)
        classes = sorted({row["query_class"] for row in labelled})
        size = int(ctx.param("options", 5))
        for row in labelled:
            pool = _unrelated(row, classes, placed)
            distractors = ctx.rng.sample(pool, min(size - 1, len(pool)))
            if not distractors:
                continue
            options = ctx.shuffled(row["query_class"], distractors)
            yield ctx.instruction(
                row,
                instruction="A customer searched a home-goods store. Which product class does the search query "
                "ask for?",
                input=f"Query: {clip(row['query'], 300)}",
                options=options,
                output=row["query_class"],
                groups=[f"q:{row['key']}"],
            )


def _read_enriched(path: Path, log: ErrorLog) -> dict[str, list[Placement]]:
    """Silver paths per normalised query (the first row of a repeated query wins)."""
    out: dict[str, list[Placement]] = {}
    for row in iter_csv(path, required=ENRICHED_COLUMNS, log=log):
        try:
            key = norm_key(require(row, "query"))
        except DataError as error:
            log.handle(error)
            continue
        out.setdefault(key, split_paths(row.get("query_classification") or ""))
    return out


def _labelled(rows: list[Row]) -> list[Row]:
    return sorted((r for r in rows if r["query_class"]), key=lambda r: (r["key"], r["query_id"]))


def _partials(gold: str, classes: list[str], placed: dict[str, Placement]) -> list[str]:
    """Other classes placed under the same department / category as the gold class."""
    home = placed.get(gold, ())
    if len(home) < 2:
        return []
    return [c for c in classes if c != gold and placed.get(c, ())[:2] == home[:2]]


def _unrelated(row: Row, classes: list[str], placed: dict[str, Placement]) -> list[str]:
    """Classes of another department (when both are placed) sharing no content word with query or gold class."""
    gold = row["query_class"]
    words = content_words(row["query"]) | content_words(gold)
    department = placed.get(gold, ("",))[0]
    out = []
    for cls in classes:
        if cls == gold or content_words(cls) & words:
            continue
        other = placed.get(cls, ("",))[0]
        if department and other and other == department:
            continue
        out.append(cls)
    return out
