"""`shoptune data build`: outputs, manifest, on-error skip and atomic replacement."""

import json

import pytest

from shoptune.data.build import BuildConfig, build, load_build_config, read_manifest
from shoptune.data.store import load_dataset_split, load_records
from shoptune.errors import ConfigError, DataError

HD = ["hd_query_product", "hd_relevance_mc", "hd_query_ranking"]


def test_build_demo_home_depot(tmp_path, demo_data):
    cfg = BuildConfig(data_root=str(demo_data), tasks=HD, seed=7)
    manifest = build(cfg, tmp_path / "out")
    assert set(manifest["tasks"]) == set(HD)
    assert manifest["seed"] == 7 and manifest["shoptune_version"]
    assert list(manifest["sources"]) == ["home_depot_search_relevance/train.csv"]
    info = manifest["tasks"]["hd_query_product"]
    assert sum(info["labels"]["train"].values()) == info["counts"]["train"] > 0
    ds = load_dataset_split(tmp_path / "out", "hd_query_product", "train")
    assert ds.num_rows == info["counts"]["train"] and set(ds.column_names) >= {"left", "right", "label"}
    recs = load_records(tmp_path / "out", "hd_query_ranking", "test")
    assert all(isinstance(r.output, list) for r in recs)
    assert read_manifest(tmp_path / "out") == manifest
    # Same seed, same data -> same build.
    again = build(cfg, tmp_path / "again")
    assert again["tasks"] == manifest["tasks"]


def test_no_query_or_product_straddles_splits(tmp_path, demo_data):
    build(BuildConfig(data_root=str(demo_data), tasks=["hd_query_product"]), tmp_path / "o")
    homes: dict[str, set] = {}
    for split in ("train", "dev", "test"):
        for rec in load_records(tmp_path / "o", "hd_query_product", split):
            for g in rec.metadata["groups"]:
                homes.setdefault(g, set()).add(split)
    assert homes and all(len(s) == 1 for s in homes.values())


def _broken_root(tmp_path, demo_data):
    root = tmp_path / "raw" / "home_depot_search_relevance"
    root.mkdir(parents=True)
    good = (demo_data / "home_depot_search_relevance" / "train.csv").read_bytes()
    (root / "train.csv").write_bytes(good + b'"999999","1","Broken","q","9"\r\n')
    return tmp_path / "raw"


def test_failed_build_leaves_previous_output_untouched(tmp_path, demo_data):
    out = tmp_path / "out"
    build(BuildConfig(data_root=str(demo_data), tasks=["hd_query_product"]), out)
    before = (out / "manifest.json").read_text()
    with pytest.raises(DataError, match="unknown label"):
        build(BuildConfig(data_root=str(_broken_root(tmp_path, demo_data)), tasks=["hd_query_product"]), out)
    assert (out / "manifest.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "raw"]  # no temp folders left behind


def test_on_error_skip_counts_in_manifest(tmp_path, demo_data):
    root = _broken_root(tmp_path, demo_data)
    manifest = build(BuildConfig(data_root=str(root), tasks=["hd_query_product"], on_error="skip"), tmp_path / "o")
    info = manifest["tasks"]["hd_query_product"]
    assert info["skipped_rows"] == 1 and "unknown label" in info["skipped_examples"][0]
    assert manifest["skipped_rows_total"] == 1


def test_config_errors_name_the_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data_root: x\nsead: 3\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: key 'sead'"):
        load_build_config(path)
    path.write_text("tasks: [no_such_task]\n")
    from shoptune.data.build import select_tasks

    with pytest.raises(ConfigError, match="no_such_task"):
        select_tasks(load_build_config(path))


def test_relative_paths_resolve_against_config(tmp_path, demo_data):
    path = tmp_path / "sub" / "c.yaml"
    path.parent.mkdir()
    path.write_text(json.dumps({"data_root": "../data", "seed": 1}))
    assert load_build_config(path).data_root == str((tmp_path / "data").resolve())


def test_atomic_build_writes_derived_tasks_with_their_specs(tmp_path, demo_data):
    from shoptune.data.build import task_specs
    from shoptune.tasks import load_tasks

    cfg = BuildConfig(data_root=str(demo_data), tasks=["hd_query_product", "subjqa_answer_extraction"], atomic=True)
    manifest = build(cfg, tmp_path / "o")
    derived = {n: i for n, i in manifest["tasks"].items() if "derived_from" in i}
    assert "hd_query_product__grade_3way" in derived and "subjqa_answer_extraction__answer_span" in derived
    assert all(i["counts"]["train"] > 0 for i in derived.values())
    specs = task_specs(manifest, load_tasks())
    assert set(specs) == set(manifest["tasks"])
    assert specs["hd_query_product__grade_3way"].kind.value == "multiple_choice"
    recs = load_records(tmp_path / "o", "hd_query_product__match_yes_no", "test")
    assert recs and all(r.metadata["derived_from"] == "hd_query_product" for r in recs)


def test_task_overrides_change_one_task_for_one_build(tmp_path, demo_data):
    # Another copy of the source file and a smaller training cap, for hd_query_product only.
    root = tmp_path / "raw"
    (root / "hd_copy").mkdir(parents=True)
    (root / "hd_copy" / "train.csv").write_bytes((demo_data / "home_depot_search_relevance" / "train.csv").read_bytes())
    override = {"source": {"path": "hd_copy/train.csv"}, "split": {"max_examples": {"train": 7}}}
    cfg = BuildConfig(data_root=str(root), tasks=["hd_query_product"], task_overrides={"hd_query_product": override})
    manifest = build(cfg, tmp_path / "o")
    info = manifest["tasks"]["hd_query_product"]
    assert info["counts"]["train"] == 7 and info["files"] == ["hd_copy/train.csv"]
    assert list(manifest["sources"]) == ["hd_copy/train.csv"]
    # The registry itself is untouched: a build without the override reads the task's own file.
    plain = BuildConfig(data_root=str(demo_data), tasks=["hd_query_product"])
    assert build(plain, tmp_path / "p")["tasks"]["hd_query_product"]["counts"]["train"] > 7


def test_task_override_errors_name_the_task_and_key(tmp_path):
    from shoptune.data.build import select_tasks

    path = tmp_path / "c.yaml"
    path.write_text("task_overrides:\n  no_such_task: {split: {ratios: [0.5, 0.5]}}\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: task_overrides\.no_such_task: unknown task"):
        load_build_config(path)  # reported when the config is read, naming the file
    with pytest.raises(ConfigError, match=r"task_overrides\.no_such_task: unknown task"):
        select_tasks(BuildConfig(task_overrides={"no_such_task": {}}))
    path.write_text("task_overrides:\n  hd_query_product: {split: {polcy: grouped}}\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: task_overrides\.hd_query_product: key 'split\.polcy'"):
        load_build_config(path)
    path.write_text("task_overrides:\n  hd_query_product: {name: other}\n")
    with pytest.raises(ConfigError, match="may not rename"):
        load_build_config(path)


def test_a_build_read_by_several_processes_equals_one_read_by_one(tmp_path, demo_data):
    """`--num-proc` (issue 25): source pools read in parallel give the very same splits and manifest entries;
    a bad row found in a worker process is still one line naming the file and row."""
    tasks = ["hd_query_product", "hd_relevance_mc", "ic_aisle_mc", "review_sentiment_cells", "amcd_counterfactual_en"]
    one = build(BuildConfig(data_root=str(demo_data), tasks=tasks), tmp_path / "one")
    two = build(BuildConfig(data_root=str(demo_data), tasks=tasks, num_proc=2), tmp_path / "two")
    assert one["tasks"] == two["tasks"] and one["audit"] == two["audit"]
    for task in tasks:
        for split in ("train", "dev", "test"):
            assert load_records(tmp_path / "one", task, split) == load_records(tmp_path / "two", task, split)
    cfg = BuildConfig(data_root=str(_broken_root(tmp_path, demo_data)), tasks=HD, num_proc=2)
    with pytest.raises(DataError, match=r"train\.csv: row \d+, field .*unknown label"):
        build(cfg, tmp_path / "bad")
