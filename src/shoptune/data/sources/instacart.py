"""Instacart Online Grocery products with their aisle (fine category) and department (coarse category).

PATH is either the folder holding the three Kaggle files, or ``products.csv`` itself with the two lookup
files beside it (both are read the same way)::

    products.csv     product_id, product_name, aisle_id, department_id   (comma-separated, UTF-8, quoted)
    aisles.csv       aisle_id, aisle
    departments.csv  department_id, department

An ``aisle_id`` or ``department_id`` that is not in its lookup file is an unknown label (a row error).
Products filed under the placeholder aisle/department ``missing`` are read but left out of every view:
"missing" is not a category. An aisle's department is taken from its products (Instacart's aisles.csv
has no department column).

Labels (``product_aisle``): the product's own aisle -> exact; another aisle of the same department ->
partial; an aisle of another department -> irrelevant.

Example:
    >>> from shoptune.data.sources import get_source
    >>> from shoptune.data.errorlog import ErrorLog
    >>> rows = get_source("instacart").read("instacart_products_subset", ErrorLog())  # doctest: +SKIP
    >>> rows[0]["aisle"], rows[0]["department"]  # doctest: +SKIP
    ('cookies cakes', 'snacks')
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import Row, iter_csv, require
from shoptune.data.sources import register
from shoptune.data.sources.base import FirstSeen, Source, ViewContext, located, view
from shoptune.errors import DataError
from shoptune.records import Label, Record
from shoptune.text import clip, norm_key

PRODUCTS, AISLES, DEPARTMENTS = "products.csv", "aisles.csv", "departments.csv"
COLUMNS = ["product_id", "product_name", "aisle_id", "department_id"]
#: Instacart's placeholder for products without a category.
MISSING = "missing"
#: Above this many departments the label set goes into the instruction instead of the options.
MAX_OPTIONS = 30


def locate(path: Path) -> tuple[Path, Path, Path]:
    """The three files, from the folder or from products.csv (lookup files beside it).

    Example:
        >>> [str(p) for p in locate(Path("data/instacart/products.csv"))]
        ['data/instacart/products.csv', 'data/instacart/aisles.csv', 'data/instacart/departments.csv']
    """
    folder = path if path.is_dir() else path.parent
    products = folder / PRODUCTS if path.is_dir() else path
    return products, folder / AISLES, folder / DEPARTMENTS


@register
class Instacart(Source):
    name = "instacart"
    title = "Instacart grocery products with aisle and department"
    path_hint = "a folder with products.csv, aisles.csv, departments.csv (or products.csv with the other two beside it)"
    default_view = "product_aisle"

    def read(self, path: Path, log: ErrorLog) -> list[Row]:
        products, aisles_file, departments_file = locate(Path(path))
        if not products.exists():
            raise DataError(products, 0, "-", "file not found")
        aisles = _lookup(aisles_file, "aisle_id", "aisle", log)
        departments = _lookup(departments_file, "department_id", "department", log)
        products_seen = FirstSeen("product_id")
        label_set = sorted(set(departments.values()))  # one shared list: the department_cls label set

        def parse(row: Row) -> Row:
            product_id = require(row, "product_id").strip()
            name = require(row, "product_name").strip()
            aisle = _resolve(row, "aisle_id", aisles, aisles_file)
            department = _resolve(row, "department_id", departments, departments_file)
            products_seen.claim(row, product_id)
            return located(
                row,
                product_id=product_id,
                name=name,
                key=norm_key(name),
                aisle=aisle,
                department=department,
                all_departments=label_set,
            )

        return self.valid_rows(iter_csv(products, required=COLUMNS, log=log), parse, log)

    @view("product_aisle", "pair")
    def product_aisle(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Product-category pairs: own aisle -> exact, another aisle of its department -> partial, an aisle of
        another department -> irrelevant (one of each per product)."""
        rows, by_department = _categorised(rows)
        aisles = sorted({a for names in by_department.values() for a in names})
        for row in rows:
            same = sorted(by_department[row["department"]] - {row["aisle"]})
            other = [a for a in aisles if a not in by_department[row["department"]]]
            groups = [f"p:{row['key']}"]
            meta = {"department": row["department"]}
            yield ctx.pair(row, clip(row["name"], 300), row["aisle"], Label.exact, groups=groups, **meta)
            if same:
                yield ctx.pair(row, clip(row["name"], 300), ctx.rng.choice(same), Label.partial, groups=groups, **meta)
            if other:
                yield ctx.pair(
                    row, clip(row["name"], 300), ctx.rng.choice(other), Label.irrelevant, groups=groups, **meta
                )

    @view("aisle_type_similarity", "pair")
    def aisle_type_similarity(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Product-type similarity of two products: same aisle -> exact (same product type, not the same
        product), same department but another aisle -> partial, another department -> irrelevant. Every
        product is used in one small cluster only, so no product straddles splits."""
        rows, _ = _categorised(rows)
        order = list(rows)
        ctx.rng.shuffle(order)
        pools: dict[str, dict[str, list[Row]]] = defaultdict(lambda: defaultdict(list))
        for row in order:
            pools[row["department"]][row["aisle"]].append(row)
        used: set[str] = set()

        def take(department: str, aisle_filter: Callable[[str], bool]) -> Row | None:
            aisles = [a for a in sorted(pools[department]) if aisle_filter(a) and _unused(pools[department][a], used)]
            if not aisles:
                return None
            partner = _unused(pools[department][ctx.rng.choice(aisles)], used)
            used.add(partner["product_id"])
            return partner

        for row in order:
            if row["product_id"] in used:
                continue
            used.add(row["product_id"])
            dept, aisle = row["department"], row["aisle"]
            others = [d for d in sorted(pools) if d != dept and any(_unused(p, used) for p in pools[d].values())]
            partners = [
                (Label.exact, take(dept, lambda a, own=aisle: a == own)),
                (Label.partial, take(dept, lambda a, own=aisle: a != own)),
                (Label.irrelevant, take(ctx.rng.choice(others), lambda a: True) if others else None),
            ]
            for label, partner in partners:
                if partner is not None:
                    yield ctx.pair(
                        row,
                        clip(row["name"], 300),
                        clip(partner["name"], 300),
                        label,
                        groups=[f"p:{row['key']}", f"p:{partner['key']}"],
                        left_aisle=aisle,
                        right_aisle=partner["aisle"],
                    )

    @view("aisle_mc", "instruction")
    def aisle_mc(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Multiple choice: in which aisle is this product sold (one distractor from the same department, the
        rest from other departments)?"""
        rows, by_department = _categorised(rows)
        aisles = sorted({a for names in by_department.values() for a in names})
        size = int(ctx.param("options", 4))
        for row in rows:
            same = sorted(by_department[row["department"]] - {row["aisle"]})
            other = [a for a in aisles if a not in by_department[row["department"]]]
            distractors = ctx.rng.sample(same, min(1, len(same), size - 1))
            distractors += ctx.rng.sample(other, min(size - 1 - len(distractors), len(other)))
            if not distractors:
                continue
            options = ctx.shuffled(row["aisle"], distractors)
            yield ctx.instruction(
                row,
                instruction="In which aisle of an online grocery store is this product sold?",
                input=f"Product: {clip(row['name'], 300)}",
                options=options,
                output=row["aisle"],
                groups=[f"p:{row['key']}"],
                department=row["department"],
            )

    @view("department_cls", "instruction")
    def department_cls(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Classification: the department of a grocery product (label set: departments.csv without 'missing')."""
        rows, _ = _categorised(rows)
        if not rows:
            return
        labels = [d for d in rows[0]["all_departments"] if d.lower() != MISSING]
        instruction = "Classify the grocery product into its store department."
        if len(labels) > MAX_OPTIONS:
            instruction += " Departments: " + ", ".join(labels) + "."
        for row in rows:
            yield ctx.instruction(
                row,
                instruction=instruction,
                input=f"Product: {clip(row['name'], 300)}",
                options=labels if len(labels) <= MAX_OPTIONS else [],
                output=row["department"],
                groups=[f"p:{row['key']}"],
            )


def _lookup(path: Path, id_field: str, name_field: str, log: ErrorLog) -> dict[str, str]:
    """An id -> name lookup file; a duplicate id or an empty name is a row error, no rows a file error."""
    out: dict[str, str] = {}
    ids = FirstSeen(id_field)
    for row in iter_csv(path, required=[id_field, name_field], log=log):
        try:
            key = require(row, id_field).strip()
            name = require(row, name_field).strip()
            ids.claim(row, key)
        except DataError as error:
            log.handle(error)
            continue
        out[key] = name
    if not out:
        raise DataError(path, 0, id_field, "no rows")
    return out


def _resolve(row: Row, field: str, lookup: dict[str, str], lookup_file: Path) -> str:
    value = require(row, field).strip()
    if value not in lookup:
        raise DataError(
            row["_file"],
            row["_row"],
            field,
            f"unknown label {value!r}: not an {field} of {lookup_file.name} ({len(lookup)} known)",
        )
    return lookup[value]


def _categorised(rows: list[Row]) -> tuple[list[Row], dict[str, set[str]]]:
    """Rows with a real aisle and department, in a stable order, and each department's aisles."""
    kept = sorted(
        (r for r in rows if MISSING not in (r["aisle"].lower(), r["department"].lower())),
        key=lambda r: (r["key"], r["product_id"]),
    )
    by_department: dict[str, set[str]] = defaultdict(set)
    for row in kept:
        by_department[row["department"]].add(row["aisle"])
    return kept, by_department


def _unused(pool: list[Row], used: set[str]) -> Row | None:
    """The next unused row of a pool, dropping used ones from its end (pools are pre-shuffled)."""
    while pool and pool[-1]["product_id"] in used:
        pool.pop()
    return pool[-1] if pool else None
