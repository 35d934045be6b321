"""Home Depot Product Search Relevance (Kaggle 2016) `train.csv`: latin-1 CSV of query-product ratings.

Columns: ``id, product_uid, product_title, search_term, relevance`` where relevance is the mean of
several human ratings on 1 (irrelevant) .. 3 (exact).

Label derivation (the project's standard 3-point mapping): mean rating >= 2.5 -> exact,
1.75 <= rating < 2.5 -> partial, rating < 1.75 -> irrelevant.

Example:
    >>> from shoptune.data.sources import get_source
    >>> from shoptune.data.errorlog import ErrorLog
    >>> rows = get_source("home_depot").read("train.csv", ErrorLog())  # doctest: +SKIP
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import Row, as_float, iter_csv, require
from shoptune.data.sources import register
from shoptune.data.sources.base import Source, ViewContext, view
from shoptune.errors import DataError
from shoptune.records import Label, Record
from shoptune.text import norm_key

COLUMNS = ["id", "product_uid", "product_title", "search_term", "relevance"]


def grade(rating: float) -> Label:
    """Map a mean 1..3 rating onto the 3-point scale."""
    if rating >= 2.5:
        return Label.exact
    if rating >= 1.75:
        return Label.partial
    return Label.irrelevant


@register
class HomeDepot(Source):
    name = "home_depot"
    title = "Home Depot search relevance (query, product title, mean rating 1-3)"
    path_hint = "train.csv (latin-1 CSV with id, product_uid, product_title, search_term, relevance)"
    default_view = "query_product"

    def read(self, path: Path, log: ErrorLog) -> list[Row]:
        return self.valid_rows(iter_csv(path, required=COLUMNS, log=log, encoding="latin-1"), _parse, log)

    @view("query_product", "pair")
    def query_product(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Query-product relevance graded from the mean human rating."""
        for row in rows:
            yield ctx.pair(
                row,
                row["search_term"],
                row["product_title"],
                grade(row["rating"]),
                groups=[f"q:{row['query_key']}", f"p:{row['product_uid']}"],
                rating=row["rating"],
            )

    @view("query_query", "pair")
    def query_query(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Query-query similarity: two queries rated exact for the same product are exact paraphrases;
        exact for one and partial for the other -> partial; a random query of another product -> irrelevant."""
        by_product: dict[str, dict[str, list[tuple[Row, Label]]]] = defaultdict(lambda: defaultdict(list))
        for row in rows:
            by_product[row["product_uid"]][row["query_key"]].append((row, grade(row["rating"])))
        queries = sorted({row["query_key"]: row["search_term"] for row in rows}.items())
        max_per_product = int(ctx.param("max_pairs_per_product", 2))
        for uid in sorted(by_product):
            graded = sorted((key, items[0][0], items[0][1]) for key, items in by_product[uid].items())
            made = 0
            for i, (key_a, row_a, label_a) in enumerate(graded):
                for key_b, row_b, label_b in graded[i + 1 :]:
                    if made >= max_per_product or Label.irrelevant in (label_a, label_b):
                        continue
                    label = Label.exact if label_a == label_b == Label.exact else Label.partial
                    made += 1
                    yield ctx.pair(
                        row_a,
                        row_a["search_term"],
                        row_b["search_term"],
                        label,
                        groups=[f"q:{key_a}", f"q:{key_b}"],
                        product_uid=uid,
                    )
                    other_key, other_text = ctx.rng.choice(queries)
                    if other_key not in by_product[uid]:
                        yield ctx.pair(
                            row_a,
                            row_a["search_term"],
                            other_text,
                            Label.irrelevant,
                            groups=[f"q:{key_a}", f"q:{other_key}"],
                            product_uid=uid,
                        )

    @view("relevance_mc", "instruction")
    def relevance_mc(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Multiple choice: how relevant is this product to this query (exact / partial / irrelevant)?"""
        options = ["exact match", "partial match", "irrelevant"]
        answer = {Label.exact: options[0], Label.partial: options[1], Label.irrelevant: options[2]}
        for row in rows:
            yield ctx.instruction(
                row,
                instruction="A customer searched an online home-improvement store. How relevant is the product "
                "to the search query?",
                input=f"Query: {row['search_term']}\nProduct: {row['product_title']}",
                options=options,
                output=answer[grade(row["rating"])],
                groups=[f"q:{row['query_key']}", f"p:{row['product_uid']}"],
            )

    @view("query_ranking", "instruction")
    def query_ranking(self, rows: list[Row], ctx: ViewContext) -> Iterator[Record]:
        """Ranking: order a query's candidate products by relevance (gains from the mean ratings)."""
        by_query: dict[str, list[Row]] = defaultdict(list)
        for row in rows:
            by_query[row["query_key"]].append(row)
        size = int(ctx.param("candidates", 5))
        for key in sorted(by_query):
            candidates = by_query[key]
            if len(candidates) < 3 or len({c["rating"] for c in candidates}) < 2:
                continue  # nothing to rank
            candidates = ctx.rng.sample(candidates, min(size, len(candidates)))
            # ShopBench/ESCI-style gains on 0..1: exact=1, partial=0.1, irrelevant=0.
            gains = [
                {Label.exact: 1.0, Label.partial: 0.1, Label.irrelevant: 0.0}[grade(c["rating"])] for c in candidates
            ]
            order = sorted(range(len(candidates)), key=lambda i: (-candidates[i]["rating"], i))
            yield ctx.instruction(
                candidates[0],
                instruction="Rank the products from most to least relevant to the search query. "
                "Answer with the product numbers, best first, separated by commas.",
                input=f"Query: {candidates[0]['search_term']}",
                options=[c["product_title"] for c in candidates],
                output=[str(i) for i in order],
                groups=[f"q:{key}", *(f"p:{c['product_uid']}" for c in candidates)],
                gains=gains,
            )


def _parse(row: Row) -> Row:
    require(row, "product_uid")
    require(row, "product_title")
    require(row, "search_term")
    rating = as_float(row, "relevance")
    if not 1.0 <= rating <= 3.0:
        raise DataError(row["_file"], row["_row"], "relevance", f"unknown label {rating!r}: ratings lie in 1..3")
    row["rating"] = rating
    row["query_key"] = norm_key(row["search_term"])
    return row
