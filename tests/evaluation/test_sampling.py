"""`--limit N` is a representative sample (seeded, stratified by label, spread over groups, the same for every
model), and items that share a query or product are resampled together by the bootstrap."""

from __future__ import annotations

from collections import Counter

import pytest

from shoptune.data.build import BuildConfig, build
from shoptune.data.store import load_records
from shoptune.evaluation.collect import collect_items
from shoptune.evaluation.parsing import Parsed
from shoptune.evaluation.runner import score
from shoptune.evaluation.sampling import cluster_of, label_of
from shoptune.tasks.prompts import PAIR_OPTIONS


@pytest.fixture(scope="module")
def data(tmp_path_factory, demo_data):
    out = tmp_path_factory.mktemp("sampling") / "data"
    build(BuildConfig(data_root=str(demo_data), tasks=["hd_query_product"]), out)
    return out


def test_limit_is_stratified_spread_and_stable(data):
    full = load_records(data, "hd_query_product", "test")
    shares = Counter(PAIR_OPTIONS[label_of(r)] for r in full)  # items name a pair's grade by its option text
    items = collect_items(["hd_query_product"], data=data, limit=30)
    again = collect_items(["hd_query_product"], data=data, limit=30)
    assert [i.prompt for i in items] == [i.prompt for i in again]  # the same items for every model compared
    picked = Counter(i.target for i in items)
    for label, n in shares.items():  # each label within one item of its share of the whole split
        assert abs(picked[label] - 30 * n / len(full)) <= 1, (label, picked, shares)
    clusters = [i.meta["cluster"] for i in items]
    first = [cluster_of(r) for r in full[:30]]
    assert len(set(clusters)) >= len(set(first))  # spread over at least as many queries as the first 30 rows


def test_the_first_rows_are_not_the_sample(data):
    full = load_records(data, "hd_query_product", "test")
    items = collect_items(["hd_query_product"], data=data, limit=20)
    assert [i.meta["cluster"] for i in items] != [cluster_of(r) for r in full[:20]]


def test_items_of_one_group_are_resampled_together(data):
    items = collect_items(["hd_query_product"], data=data, limit=40)
    answers = [(str(i.target), Parsed(value=i.target, ok=True)) for i in items]
    entry = score(items, answers, n_resamples=50).metrics["tasks"]["hd_query_product"]
    groups = len({i.meta["cluster"] for i in items})
    assert groups < len(items) and entry["bootstrap"] == f"cluster ({groups} groups)"
