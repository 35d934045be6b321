"""Ownership by marker only: the marker records the kind and every file shoptune wrote; nothing else is proof."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoptune.io import (
    MARKER,
    OutputError,
    atomic_write_json,
    atomic_write_text,
    claim_file,
    claim_output,
    foreign_files,
    mark_file,
    open_folder,
    read_marker,
    record_written,
    safe_component,
    staging_dir,
)


def _build(path: Path) -> Path:
    with staging_dir(path, kind="build") as tmp:
        (tmp / "tasks" / "t").mkdir(parents=True)
        (tmp / "tasks" / "t" / "train.parquet").write_bytes(b"x")
        atomic_write_json(tmp / "manifest.json", {})
    return path


def test_the_marker_lists_what_shoptune_wrote(tmp_path):
    build = _build(tmp_path / "b")
    marker = read_marker(build)
    assert marker["kind"] == "build" and marker["files"] == ["manifest.json", "tasks/t/train.parquet"]
    assert foreign_files(build) == []
    assert claim_output(build, "build") == build  # its own kind, only its own files: may be replaced


def test_a_user_file_inside_a_marked_folder_is_never_deleted(tmp_path):
    build = _build(tmp_path / "b")
    (build / "notes.txt").write_text("mine")
    (build / "tasks" / "t" / "extra.csv").write_text("mine too")
    assert foreign_files(build) == ["notes.txt", "tasks/t/extra.csv"]
    with pytest.raises(OutputError, match=r"2 file\(s\) shoptune did not write \(e.g. notes.txt\)"):
        _build(build)
    assert (build / "notes.txt").read_text() == "mine"


def test_a_folder_of_another_kind_is_refused(tmp_path):
    build = _build(tmp_path / "b")
    for kind in ("sweep", "generation", "ensemble", "demo", "sft-run"):
        with pytest.raises(OutputError, match=f"shoptune build folder, not a {kind} folder"):
            claim_output(build, kind)


def test_file_names_are_no_proof_of_ownership(tmp_path):
    app = tmp_path / "web"
    (app / "src").mkdir(parents=True)
    (app / "manifest.json").write_text("{}")  # a web app's manifest, not a data build's
    (app / "src" / "app.js").write_text("console.log(1)")
    for kind in ("build", "ensemble", "eval", "sft-run", "demo"):
        with pytest.raises(OutputError, match="did not write"):
            claim_output(app, kind)
    assert (app / "src" / "app.js").exists()


def test_an_unlisted_marker_of_an_older_version_is_not_trusted(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    (old / MARKER).write_text(json.dumps({"kind": "data-build", "shoptune_version": "0.3.0"}))
    (old / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="lists no files"):
        claim_output(old, "build")


def test_growing_folders_record_each_write(tmp_path):
    run = open_folder(tmp_path / "run", "sft-run")
    atomic_write_json(run / "config.json", {})
    atomic_write_text(run / "eval" / "metrics.json", "{}")
    with (run / "train_log.jsonl").open("a") as fh:
        fh.write("{}\n")
    record_written(run / "train_log.jsonl")
    with staging_dir(run / "adapter", kind="sft-adapter") as tmp:  # a part with a marker of its own
        (tmp / "adapter_model.safetensors").write_bytes(b"w")
    assert read_marker(run)["files"] == ["config.json", "eval/metrics.json", "train_log.jsonl"]
    assert foreign_files(run) == []
    (run / "adapter" / "README.txt").write_text("mine")
    (run / "eval" / "mine").mkdir()
    (run / "eval" / "mine" / "a.txt").write_text("mine")
    (run / "checkpoints" / "step-000001").mkdir(parents=True)  # only marked parts below: nothing of the user's
    (run / "checkpoints" / "step-000001" / MARKER).write_text(json.dumps({"kind": "checkpoint", "files": []}))
    assert foreign_files(run) == ["adapter/README.txt", "eval/mine/a.txt"]
    with pytest.raises(OutputError, match="adapter/README.txt"):
        claim_output(run, "sft-run")


def test_outputs_may_not_overlap_inputs(tmp_path):
    member = _build(tmp_path / "a")
    for out in (member, member / "sub", tmp_path):
        with pytest.raises(OutputError, match="inside the input"):
            claim_output(out, "ensemble", inputs=[member])
    assert claim_output(tmp_path / "elsewhere", "ensemble", inputs=[member, "a-model-name"])


def test_single_files_need_a_sidecar_or_overwrite(tmp_path):
    user = tmp_path / "preds.jsonl"
    user.write_text("the user's\n")
    with pytest.raises(OutputError, match="did not write it; pass --overwrite"):
        claim_file(user)
    with pytest.raises(OutputError, match="^out .*preds.jsonl: exists"):
        claim_file(user, option="out")
    assert claim_file(user, overwrite=True) == user
    ours = tmp_path / "ours.jsonl"
    atomic_write_text(ours, "1\n")
    mark_file(ours)
    assert claim_file(ours) == ours  # written by shoptune and unchanged since
    ours.write_text("edited by the user\n")
    os.utime(ours, ns=(1, 1))
    with pytest.raises(OutputError, match="did not write it"):
        claim_file(ours)


def test_a_link_is_refused_and_overwrite_writes_its_target(tmp_path):
    target = tmp_path / "real.jsonl"
    target.write_text("x")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    with pytest.raises(OutputError, match="is a link"):
        claim_file(link)
    assert claim_file(link, overwrite=True) == target


# ------------------------------------------------------------------------------------------ names
@pytest.mark.parametrize(
    "name", ["", ".", "..", "../../x", "/etc", "a/b", "a\\b", "a\x00b", "tab\there", ".hidden", " pad", "x" * 201]
)
def test_unsafe_names_are_refused(name):
    with pytest.raises(OutputError, match="not usable as a folder name"):
        safe_component(name, "grid level")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(min_size=0, max_size=40))
def test_a_safe_name_is_one_component_inside_its_parent(tmp_path, name):
    try:
        component = safe_component(name, "arm")
    except OutputError:
        return
    joined = (tmp_path / component).resolve()
    assert joined.parent == tmp_path.resolve() and joined.name == component
    assert component not in (".", "..") and not component.startswith(".")


def test_checkpoint_pruning_keeps_a_step_folder_holding_a_users_file(tmp_path):
    import torch

    from shoptune.training.checkpoint import remove_checkpoints, save_checkpoint, step_folders

    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    folder = tmp_path / "checkpoints"
    first = save_checkpoint(folder, 1, model, optimizer, scheduler, {})
    (first / "notes.txt").write_text("mine")
    for step in (2, 3):
        save_checkpoint(folder, step, model, optimizer, scheduler, {})
    assert [p.name for p in step_folders(folder)] == ["step-000001", "step-000002", "step-000003"]
    remove_checkpoints(folder)
    assert (first / "notes.txt").read_text() == "mine" and [p.name for p in step_folders(folder)] == ["step-000001"]


def test_a_nested_output_of_another_kind_is_not_part_of_its_parent(tmp_path):
    build = _build(tmp_path / "b")
    with staging_dir(build / "my-eval", kind="eval") as tmp:  # the user evaluated into the build
        (tmp / "metrics.json").write_text("{}")
    assert foreign_files(build) == ["my-eval/metrics.json"]
    forged = build / "old"
    forged.mkdir()
    (forged / MARKER).write_text("{}")  # a marker without a list vouches for nothing
    (forged / "notes.txt").write_text("mine")
    assert foreign_files(build) == ["my-eval/metrics.json", "old/notes.txt"]
    with pytest.raises(OutputError, match="did not write"):
        _build(build)
    run = open_folder(tmp_path / "run", "sft-run")
    with staging_dir(run / "adapter", kind="sft-adapter") as tmp:  # a part of an SFT run
        (tmp / "adapter_config.json").write_text("{}")
    assert foreign_files(run) == []


def test_temp_names_are_no_licence_to_delete(tmp_path):
    from shoptune.io import clean_stale

    (tmp_path / "b").mkdir()
    _build(tmp_path / "b2")
    inside = tmp_path / "b2" / ".notes.txt.tmp-999999"  # a user's file named like a temp file, in a marked folder
    inside.write_text("mine")
    beside = tmp_path / ".b2.tmp-999998"
    beside.write_text("mine too")
    assert foreign_files(tmp_path / "b2") == [".notes.txt.tmp-999999"]
    clean_stale(tmp_path / "b2")
    assert beside.read_text() == "mine too" and inside.read_text() == "mine"


def test_a_killed_atomic_write_leaves_a_listed_temp_file_that_is_cleaned(tmp_path):
    from shoptune.io import atomic_path

    run = open_folder(tmp_path / "run", "generation")
    with pytest.raises(RuntimeError), atomic_path(run / "examples.jsonl") as tmp:
        tmp.write_text("half")
        assert f".examples.jsonl.tmp-{os.getpid()}" in read_marker(run)["files"]  # listed while it exists
        raise RuntimeError("killed")
    assert read_marker(run)["files"] == [] and foreign_files(run) == []


def test_a_file_of_the_folder_is_not_a_single_file_output(tmp_path):
    run = open_folder(tmp_path / "run", "sft-run")
    atomic_write_text(run / "train_log.jsonl", "{}\n")
    with pytest.raises(OutputError, match="did not write it"):
        claim_file(run / "train_log.jsonl")  # relevance predict --out RUN/train_log.jsonl must not replace it
    atomic_write_text(run / "preds.jsonl", "{}\n")
    mark_file(run / "preds.jsonl")
    assert claim_file(run / "preds.jsonl") == run / "preds.jsonl"


def test_a_part_killed_while_being_written_is_shoptunes(tmp_path):
    run = open_folder(tmp_path / "run", "sft-run")
    staging = run / "checkpoints" / f".step-000002.tmp-{os.getpid() + 100000}"
    staging.mkdir(parents=True)
    (staging / MARKER).write_text(json.dumps({"kind": "staging", "format": 2, "files": []}))
    (staging / "optim.json").write_text("{}")  # written straight into the staging folder, never listed
    assert foreign_files(run) == []


def test_a_process_killed_between_the_rename_and_the_marker_update_leaves_no_foreign_file(tmp_path, monkeypatch):
    """The final name is listed before the rename: a kill right after it (before the marker's last update) must not
    leave a file the folder calls foreign, or the run could never be resumed (seen once in the sweep SIGKILL test)."""
    import shoptune.io as io

    run = open_folder(tmp_path / "run", "sft-run")
    real = io._update_list

    def killed(path, key, *, add, drop=None):
        if drop is not None:  # the update that follows the rename
            raise KeyboardInterrupt("killed")
        return real(path, key, add=add, drop=drop)

    monkeypatch.setattr(io, "_update_list", killed)
    with pytest.raises(KeyboardInterrupt):
        io.atomic_write_text(run / "config.json", "{}")
    monkeypatch.setattr(io, "_update_list", real)
    assert (run / "config.json").is_file()
    assert foreign_files(run) == []
