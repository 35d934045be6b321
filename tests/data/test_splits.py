from collections import defaultdict

from shoptune.data.splits import bucket, cap, grouped_split
from shoptune.records import PairExample


def _pairs(n_queries=200, per_query=3):
    # Products shared across queries make the query-product graph connected, as in real search logs.
    return [
        PairExample(
            task="t",
            left=f"q{q}",
            right=f"p{(q * 7 + k) % 400}",
            label="exact",
            metadata={"groups": [f"q:{q}", f"p:{(q * 7 + k) % 400}"]},
        )
        for q in range(n_queries)
        for k in range(per_query)
    ]


def _homes(result):
    homes = defaultdict(set)
    for split, recs in result.splits.items():
        for r in recs:
            for g in r.metadata["groups"]:
                homes[g].add(split)
    return homes


def test_bucket_is_deterministic_and_seeded():
    assert bucket("q:angle bracket", 1, (0.8, 0.1, 0.1)) == bucket("q:angle bracket", 1, (0.8, 0.1, 0.1))
    assert {bucket(f"k{i}", 1, (0.8, 0.1, 0.1)) for i in range(200)} == {"train", "dev", "test"}
    assert [bucket(f"k{i}", 1, (0.5, 0.25, 0.25)) for i in range(50)] != [
        bucket(f"k{i}", 2, (0.5, 0.25, 0.25)) for i in range(50)
    ]


def test_purge_keeps_every_key_on_one_side():
    recs = _pairs()
    result = grouped_split(recs, seed=3, ratios=(0.6, 0.2, 0.2), group="purge")
    assert all(len(s) == 1 for s in _homes(result).values())
    kept = sum(len(v) for v in result.splits.values())
    assert kept + result.dropped_for_leakage == len(recs) and all(result.splits.values())


def test_all_merges_components_and_first_ignores_secondary_keys():
    recs = _pairs()
    merged = grouped_split(recs, seed=3, ratios=(0.6, 0.2, 0.2), group="all")
    assert all(len(s) == 1 for s in _homes(merged).values())
    first = grouped_split(recs, seed=3, ratios=(0.6, 0.2, 0.2), group="first")
    assert sum(len(v) for v in first.splits.values()) == len(recs)
    assert all(len(s) == 1 for g, s in _homes(first).items() if g.startswith("q:"))


def test_split_is_independent_of_row_order():
    recs = _pairs()
    a = grouped_split(recs, seed=5, ratios=(0.8, 0.1, 0.1))
    b = grouped_split(list(reversed(recs)), seed=5, ratios=(0.8, 0.1, 0.1))
    assert {s: {r.left + r.right for r in v} for s, v in a.splits.items()} == {
        s: {r.left + r.right for r in v} for s, v in b.splits.items()
    }


def test_cap_is_stable_and_growing():
    items = list(range(100))
    small, large = cap(items, 10, 1, "x"), cap(items, 20, 1, "x")
    assert len(small) == 10 and set(small) <= set(large) and cap(items, 10, 1, "x") == small
