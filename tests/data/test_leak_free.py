"""Issue 21, points 1 and 2: splits are leak-free across every task of one source, `data audit` proves it, and a
leak fails the build unless it is allowed (and then recorded)."""

from __future__ import annotations

import json

import pytest

import shoptune
from conftest import run_cli
from shoptune.data import build as build_module
from shoptune.data.audit import audit_build, record_keys
from shoptune.data.build import BuildConfig, build
from shoptune.data.splits import pooled_split
from shoptune.data.store import load_records
from shoptune.errors import LeakError
from shoptune.records import PairExample

HD = ["hd_query_query", "hd_query_product", "hd_query_ranking", "hd_relevance_mc"]
SPLITS = ("train", "dev", "test")


def _homes(data_dir, tasks):
    """key -> the set of splits it occurs in, over all the given tasks."""
    homes: dict[str, set[str]] = {}
    for task in tasks:
        for split in SPLITS:
            for rec in load_records(data_dir, task, split):
                for key in record_keys(rec):
                    homes.setdefault(key, set()).add(split)
    return homes


@pytest.fixture(scope="module")
def built(tmp_path_factory, demo_data):
    out = tmp_path_factory.mktemp("leakfree") / "data"
    cfg = BuildConfig(data_root=str(demo_data), tasks=[*HD, "tm_wdcproducts_pairs", "ditto_abt_buy_pairs"])
    return out, build(cfg, out)


def test_no_key_of_a_source_sits_in_two_splits_of_any_task(built):
    out, manifest = built
    straddling = {k: s for k, s in _homes(out, HD).items() if len(s) > 1}
    assert not straddling, f"{len(straddling)} keys in two splits, e.g. {next(iter(straddling.items()))}"
    for task in HD:
        assert manifest["tasks"][task]["split"] == "grouped"
        assert manifest["tasks"][task]["source_pool"] == sorted(HD)
    assert manifest["audit"]["leaks"] == {} and manifest["allow_leaks"] is False


def test_carved_dev_shares_no_offer_with_train(built):
    out, manifest = built
    info = manifest["tasks"]["tm_wdcproducts_pairs"]
    assert info["split"] == "shipped" and info["shipped_splits"] == ["train", "test"]
    train = {k for r in load_records(out, "tm_wdcproducts_pairs", "train") for k in record_keys(r)}
    dev = load_records(out, "tm_wdcproducts_pairs", "dev")
    assert dev and not any(train & set(record_keys(r)) for r in dev)


def test_shipped_splits_are_kept_and_their_overlap_recorded(built):
    _, manifest = built
    info, audit = manifest["tasks"]["ditto_abt_buy_pairs"], manifest["audit"]
    assert info["split"] == "shipped" and info["shipped_splits"] == ["train", "dev", "test"]
    assert audit["shipped_overlap"]["ditto_abt_buy_pairs"] > 0 and "ditto_abt_buy_pairs" not in audit["leaks"]
    assert audit["tasks"]["ditto_abt_buy_pairs"]["shared_with_own_train"]["test"] > 0


def test_a_key_that_is_primary_in_one_record_and_secondary_in_another_has_one_home():
    """The old purge step decided a secondary key's split from its secondary votes only (issue 21, finding 1)."""

    def pair(task, a, b):
        return PairExample(task=task, left=a, right=b, label="exact", metadata={"groups": [f"q:{a}", f"q:{b}"]})

    qq = [pair("qq", f"{i}", f"{(i * 7 + 3) % 300}") for i in range(300)]
    qp = [
        PairExample(task="qp", left=f"{i}", right="p", label="exact", metadata={"groups": [f"q:{i}", f"p:{i % 40}"]})
        for i in range(300)
    ]
    result = pooled_split({"qq": qq, "qp": qp}, seed=13, ratios=(0.8, 0.1, 0.1))
    homes: dict[str, set[str]] = {}
    for splits in result.splits.values():
        for split, recs in splits.items():
            for rec in recs:
                for key in rec.metadata["groups"]:
                    homes.setdefault(key, set()).add(split)
    assert all(len(s) == 1 for s in homes.values())
    kept = sum(len(r) for s in result.splits.values() for r in s.values())
    assert kept + sum(result.dropped_for_leakage.values()) == 600 and kept > 400


def _leak_one(monkeypatch, task):
    """Make split_pool copy one test record of ``task`` into its train split: a leak made by hand."""
    real = build_module.split_pool

    def leaky(specs, raws, infos, seed):
        out = real(specs, raws, infos, seed)
        if task in out:
            out[task]["train"].append(out[task]["test"][0])
        return out

    monkeypatch.setattr(build_module, "split_pool", leaky)


def test_a_leak_fails_the_build_unless_allowed(monkeypatch, tmp_path, demo_data):
    _leak_one(monkeypatch, "hd_query_product")
    cfg = BuildConfig(data_root=str(demo_data), tasks=["hd_query_product"])
    with pytest.raises(LeakError, match=r"^task hd_query_product: \d+ dev/test records share") as exc:
        build(cfg, tmp_path / "refused")
    assert "\n" not in str(exc.value) and not (tmp_path / "refused").exists()
    manifest = build(cfg.model_copy(update={"allow_leaks": True}), tmp_path / "allowed")
    leaks = manifest["audit"]["leaks"]
    assert manifest["allow_leaks"] is True and list(leaks) == ["hd_query_product"] and leaks["hd_query_product"] >= 1
    on_disk = json.loads((tmp_path / "allowed" / "manifest.json").read_text())
    assert on_disk["audit"]["leaks"] == leaks
    # The audit of the folder finds the same leak, and an exact duplicate text across splits.
    report = shoptune.audit_data(tmp_path / "allowed")
    assert report["leaks"] == leaks
    assert report["tasks"]["hd_query_product"]["exact_duplicates"]["test"] >= 1


def test_cli_audit_and_allow_leaks(monkeypatch, tmp_path, repo):
    config = repo / "configs" / "data_demo.yaml"
    code, out, _ = run_cli("data", "build", config, "--out", tmp_path / "ok", "--tasks", "hd_query_product")
    assert code == 0
    code, out, err = run_cli("data", "audit", tmp_path / "ok")
    assert code == 0 and "no leaks" in out and "hd_query_product" in out
    _leak_one(monkeypatch, "hd_query_product")
    code, _, err = run_cli("data", "build", config, "--out", tmp_path / "bad", "--tasks", "hd_query_product")
    assert code != 0 and "task hd_query_product: " in err and len(err.strip().splitlines()) == 1
    args = ("data", "build", config, "--out", tmp_path / "bad", "--tasks", "hd_query_product", "--allow-leaks")
    code, _, err = run_cli(*args)
    assert code == 0 and "leaks allowed" in err and "hd_query_product" in err
    code, _, err = run_cli("data", "audit", tmp_path / "bad")
    assert code == 1 and "leak: hd_query_product: " in err


def test_audit_counts_the_old_leaks(tmp_path, demo_data):
    """An audit of a build whose query-query test shares queries with train (the old purge) reports them."""
    out = tmp_path / "data"
    build(BuildConfig(data_root=str(demo_data), tasks=HD), out)
    qq_train = load_records(out, "hd_query_query", "train")
    test = load_records(out, "hd_query_product", "test")
    # A query-query train pair made of a test query of hd_query_product: a leak across tasks of one source.
    leak = PairExample(
        task="hd_query_query",
        left=test[0].left,
        right="other",
        label="exact",
        metadata={"groups": [record_keys(test[0])[0], "q:zzz-other"]},
    )
    from shoptune.data.store import split_path, write_split

    write_split([*qq_train, leak], split_path(out, "hd_query_query", "train"), "pair")
    report = audit_build(out)
    shared = sum(1 for r in test if record_keys(r)[0] == record_keys(test[0])[0])
    assert report["tasks"]["hd_query_product"]["shared_with_other_train"]["test"]["hd_query_query"] == shared
    assert report["leaks"]["hd_query_product"] >= shared
