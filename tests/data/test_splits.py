from collections import defaultdict

from shoptune.data.splits import bucket, cap, pooled_split
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


def _homes(splits):
    homes = defaultdict(set)
    for split, recs in splits.items():
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


def _split(recs, seed, ratios, **options):
    result = pooled_split({"t": recs}, seed=seed, ratios=ratios, **options)
    return result.splits["t"], result.dropped_for_leakage["t"]


def test_every_key_sits_on_one_side_and_few_records_are_dropped():
    recs = _pairs()
    splits, dropped = _split(recs, 3, (0.6, 0.2, 0.2))
    assert all(len(s) == 1 for s in _homes(splits).values())
    assert sum(len(v) for v in splits.values()) + dropped == len(recs) and all(splits.values())
    # without a bound on component size nothing is dropped (the connected graph may then sit in one split)
    whole, none_dropped = _split(recs, 3, (0.6, 0.2, 0.2), max_component=None)
    assert none_dropped == 0 and all(len(s) == 1 for s in _homes(whole).values())


def test_split_is_independent_of_row_order():
    recs = _pairs()
    a, _ = _split(recs, 5, (0.8, 0.1, 0.1))
    b, _ = _split(list(reversed(recs)), 5, (0.8, 0.1, 0.1))
    assert {s: {r.left + r.right for r in v} for s, v in a.items()} == {
        s: {r.left + r.right for r in v} for s, v in b.items()
    }


def test_cap_is_stable_and_growing():
    items = list(range(100))
    small, large = cap(items, 10, 1, "x"), cap(items, 20, 1, "x")
    assert len(small) == 10 and set(small) <= set(large) and cap(items, 10, 1, "x") == small
