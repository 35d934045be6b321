"""`scale` in a build config is a finite number > 0: text, yes/no, infinity or an integer too large for a float is
one line naming the file and the key; a scale that leaves a task's split cap below one example is refused before
any data is read, naming the task and the cap. A build's manifest names only real task names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import DEMO_DATA, one_error_line, run_cli
from shoptune.data.build import BuildConfig, build, check_scale, read_manifest, scaled_cap
from shoptune.errors import ConfigError, DataError
from shoptune.tasks import load_tasks


def _config(tmp_path: Path, scale: str) -> Path:
    path = tmp_path / "build.yaml"
    path.write_text(f"data_root: {DEMO_DATA}\ntasks: [hd_relevance_mc]\nscale: {scale}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("scale", "expected"),
    [
        (".inf", "finite number"),
        ("-.inf", "scale"),
        (".nan", "finite number"),
        ("1e400", "not the text '1e400'"),
        ("'0.5'", "not the text '0.5'"),
        ("true", "not True"),
        ("[0.5]", "not [0.5]"),
        ("1" + "0" * 400, "finite number"),
        ("0", "greater than 0"),
    ],
)
def test_a_scale_that_is_not_a_positive_number_isone_error_line(tmp_path, scale, expected):
    line = one_error_line(*run_cli("data", "build", _config(tmp_path, scale), "--out", tmp_path / "out"))
    assert "build.yaml" in line and "key 'scale'" in line and expected in line, line
    assert not (tmp_path / "out").exists()


def test_a_scale_leaving_a_cap_below_one_example_is_refused_before_reading(tmp_path, monkeypatch):
    import shoptune.data.build as build_module

    def no_reading(*args, **kwargs):
        raise AssertionError("data read before the scale was checked")

    monkeypatch.setattr(build_module.RowCache, "read", no_reading)
    line = one_error_line(*run_cli("data", "build", _config(tmp_path, "1.0e-9"), "--out", tmp_path / "out"))
    assert "key 'scale'" in line and "task 'hd_relevance_mc'" in line and "max_examples.train 4000" in line, line
    assert "below one" in line, line
    assert not (tmp_path / "out").exists()


def test_scaled_caps():
    spec = load_tasks()["hd_relevance_mc"]  # train 4000, dev 300, test 300
    assert [scaled_cap(spec, s, 0.5) for s in ("train", "dev", "test")] == [2000, 150, 150]
    assert scaled_cap(spec, "train", None) == 4000
    assert scaled_cap(spec, "dev", 1 / 300) == 1  # 0.99999... is one example, as before
    assert scaled_cap(spec, "train", 1e300) is None  # more than any file holds: no cap
    with pytest.raises(ConfigError, match=r"task 'hd_relevance_mc' with max_examples\.dev 300 x 0\.001 = 0\.3 "):
        check_scale(BuildConfig(tasks=["hd_relevance_mc"], scale=0.001), [spec])
    assert BuildConfig(scale=2).scale == 2 and BuildConfig(scale=0.1).scale == 0.1


def test_a_small_scale_still_builds(tmp_path):
    manifest = build(BuildConfig(data_root=str(DEMO_DATA), tasks=["hd_relevance_mc"], scale=0.01), tmp_path / "o")
    assert manifest["tasks"]["hd_relevance_mc"]["counts"]["dev"] <= 3


# ---------------------------------------------------------------------------------------------- the manifest
def _build_with(tmp_path: Path, tasks: dict) -> Path:
    folder = tmp_path / "build"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"tasks": tasks}), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("tasks", "expected"),
    [
        ({"al.pha": {"record_type": "pair"}}, "'al.pha' is not a task name"),
        ({"../up": {}}, "'../up' is not a task name"),
        ({"Alpha": {}}, "'Alpha' is not a task name"),
        ({"alpha\n": {}}, "is not a task name"),
        ({"alpha": []}, "field 'tasks.alpha': not a mapping"),
        ({"alpha": {"spec": {"name": "alpha"}}}, "field 'tasks.alpha.spec'"),
    ],
)
def test_a_manifest_naming_no_real_task_isone_error_line(tmp_path, tasks, expected):
    folder = _build_with(tmp_path, tasks)
    with pytest.raises(DataError) as err:
        read_manifest(folder)
    message = str(err.value)
    assert message.startswith(f"{folder / 'manifest.json'}: file, field ") and expected in message, message
    line = one_error_line(*run_cli("data", "stats", folder))
    assert "manifest.json" in line and expected.split(" is ")[0] in line, line


def test_a_spec_naming_another_task_is_refused(tmp_path):
    spec = load_tasks()["hd_relevance_mc"].model_dump(mode="json")
    folder = _build_with(tmp_path, {"alpha": {"spec": spec}})
    with pytest.raises(DataError, match="names another task"):
        read_manifest(folder)
    folder = _build_with(tmp_path / "ok", {"hd_relevance_mc": {"spec": spec}, "beta__atom-1": {}})
    assert set(read_manifest(folder)["tasks"]) == {"hd_relevance_mc", "beta__atom-1"}
