"""TailorMatch product -> category files (``abt-buy/categories/v2_complete.csv`` and the like).

Format: UTF-8 CSV with header ``,id,name,category`` (the first, unnamed column is a pandas index and is
ignored). ``category`` is a coarse Amazon-style top-level category such as ``Computers_and_Accessories``;
some values are wrapped in quotes (``'Other_Electronics'``), which are stripped. The labels were most
likely assigned by an LLM for TailorMatch's domain experiments: silver labels. PATH may also be a folder:
every ``*.csv`` directly inside it is read (sorted by name), e.g. a ``categories/`` folder.

Catch-all categories (``Others``, ``Other``, ``Misc``, ...) say nothing about the product, so their
products are left out of both views and they are never offered as an answer.

Label derivation (view ``product_category``): the product's own category -> exact; a *related* category
-> partial; any other category of the file -> irrelevant. Related = sharing a department in
:data:`DEPARTMENTS` (a hand-made grouping of the Amazon top-level categories, e.g. Camera_and_Photo and
Computers_and_Accessories are both electronics; Books and Movies_and_TV are both media). Evidence for
the grouping: in the Abt-Buy/Amazon-Google gold matches, two listings of the same product get two
different categories mostly within these departments (e.g. Computers vs Other_Electronics, Toys vs Video
Games, Home_and_Garden vs Tools). Categories outside the map get only exact/irrelevant pairs.

Example:
    >>> category_text("'Cell_Phones_and_Accessories'")
    'Cell Phones and Accessories'
    >>> related("Camera_and_Photo", "Computers and Accessories"), related("Books", "Automotive")
    (True, False)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import Row, iter_csv, require
from shoptune.data.sources import register
from shoptune.data.sources.base import FirstSeen, Source, ViewContext, input_files, located, view
from shoptune.errors import DataError
from shoptune.records import Label, Record
from shoptune.text import clip, norm_key

COLUMNS = ["id", "name", "category"]
CATCH_ALL = frozenset({"others", "other", "misc", "miscellaneous", "unknown", "none", "n/a", "na"})
#: Departments of Amazon-style top-level categories (keys as produced by :func:`category_key`).
DEPARTMENTS: dict[str, frozenset[str]] = {
    "electronics": frozenset(
        {
            "computers_and_accessories",
            "other_electronics",
            "camera_and_photo",
            "cell_phones_and_accessories",
            "office_products",
            "electronics",
            "computers",
            "software",
        }
    ),
    "home": frozenset(
        {
            "home_and_garden",
            "tools_and_home_improvement",
            "kitchen_and_dining",
            "appliances",
            "furniture",
            "patio_lawn_and_garden",
        }
    ),
    "media": frozenset({"books", "movies_and_tv", "cds_and_vinyl", "video_games", "digital_music"}),
    "play": frozenset({"toys_and_games", "video_games", "baby"}),
    "fashion": frozenset(
        {"clothing", "jewelry", "shoes", "watches", "luggage_and_travel_gear", "clothing_shoes_and_jewelry"}
    ),
    "care": frozenset({"health_and_beauty", "beauty", "health_and_personal_care", "baby"}),
}
_NON_WORD = re.compile(r"[^a-z0-9]+")


def category_text(raw: str) -> str:
    """The display form of a raw category: quotes stripped, underscores as spaces."""
    return " ".join(raw.strip().strip("'\"").replace("_", " ").split())


def category_key(text: str) -> str:
    """A spelling-independent key: ``Camera & Photo`` and ``Camera_and_Photo`` both -> ``camera_and_photo``."""
    return _NON_WORD.sub("_", text.lower().replace("&", " and ")).strip("_")


def related(a: str, b: str) -> bool:
    """Two different categories in one department of :data:`DEPARTMENTS`."""
    ka, kb = category_key(a), category_key(b)
    return ka != kb and any(ka in members and kb in members for members in DEPARTMENTS.values())


@register
class TailorMatchCategories(Source):
    name = "tailormatch_categories"
    title = "TailorMatch product -> category files (,id,name,category; silver labels)"
    path_hint = "a categories CSV (e.g. abt-buy/categories/v2_complete.csv) or a folder of them"
    default_view = "product_category"

    def read(self, path: Path, log: ErrorLog) -> list[Row]:
        rows: list[Row] = []
        for file in input_files(path, "*.csv", what="*.csv category files"):
            ids = FirstSeen("id", show=repr)  # ids are unique per file
            rows.extend(self.valid_rows(iter_csv(file, required=COLUMNS, log=log), lambda r, s=ids: _parse(r, s), log))
        return rows

    @view("product_category", "pair")
    def product_category(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Product-category relevance: own category -> exact, same department -> partial, other -> irrelevant."""
        labels = _label_space(rows)
        negatives = int(ctx.param("negatives", 1))
        max_chars = int(ctx.param("max_chars", 300))
        for row, own in _products(rows):
            name, groups = clip(row["name"], max_chars), [f"p:{norm_key(row['name'])}"]
            for category in own:
                yield ctx.pair(row, name, category, Label.exact, groups=groups, product_id=row["id"])
            close = [c for c in labels if c not in own and any(related(c, o) for o in own)]
            if close:
                yield ctx.pair(row, name, ctx.rng.choice(close), Label.partial, groups=groups, product_id=row["id"])
            far = [c for c in labels if c not in own and not any(related(c, o) for o in own)]
            for category in ctx.rng.sample(far, min(negatives, len(far))):
                yield ctx.pair(row, name, category, Label.irrelevant, groups=groups, product_id=row["id"])

    @view("category_mc", "instruction")
    def category_mc(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Multiple choice: which category does this product belong to?"""
        labels = _label_space(rows)
        n_options = int(ctx.param("options", 4))
        max_chars = int(ctx.param("max_chars", 300))
        for row, own in _products(rows):
            if len(own) > 1:
                continue  # the same product name filed under two categories: no single right answer
            gold = own[0]
            # Unrelated distractors first: with silver labels a sibling category may be just as right.
            far = [c for c in labels if c != gold and not related(c, gold)]
            close = [c for c in labels if related(c, gold)]
            picked = ctx.rng.sample(far, min(n_options - 1, len(far)))
            picked += ctx.rng.sample(close, min(n_options - 1 - len(picked), len(close)))
            if len(picked) < n_options - 1:
                continue
            options = ctx.shuffled(gold, picked)
            yield ctx.instruction(
                row,
                instruction="Which category of an online store does this product belong to?",
                input=f"Product: {clip(row['name'], max_chars)}",
                options=options,
                output=gold,
                groups=[f"p:{norm_key(row['name'])}"],
                product_id=row["id"],
            )


def _label_space(rows: list[Row]) -> list[str]:
    """Every informative category of the file(s), sorted: the candidates for partial/irrelevant pairs."""
    return sorted({row["category"] for row in rows if category_key(row["category"]) not in CATCH_ALL})


def _products(rows: list[Row]) -> Iterator[tuple[Row, list[str]]]:
    """One entry per distinct product name (its first row, sorted by file and id) with all its categories.

    Listings that share a name are one product for the labels: a category given to any of them is never
    offered as partial or irrelevant. Names filed only under a catch-all category are left out.
    """
    by_name: dict[str, list[Row]] = {}
    for row in sorted(rows, key=lambda r: (r["_file"], r["id"])):
        by_name.setdefault(norm_key(row["name"]), []).append(row)
    for key in sorted(by_name):
        group = by_name[key]
        own = sorted({r["category"] for r in group if category_key(r["category"]) not in CATCH_ALL})
        if own:
            yield group[0], own


def _parse(row: Row, ids: FirstSeen) -> Row:
    ident = require(row, "id").strip()
    ids.check(row, ident)
    category = category_text(require(row, "category"))
    if not category:
        raise DataError(row["_file"], row["_row"], "category", f"empty category {row['category']!r}")
    ids.add(row, ident)
    return located(row, id=ident, category=category, name=" ".join(require(row, "name").split()))
