"""No command ever removes or changes a file shoptune did not write: ownership is known by the ``.shoptune``
marker (its kind and its list of written files), never guessed from a file name.

Each case of the outside probe is run through the real entry point; a property-based test then fills user folders
with random file names and points every command's output at them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import one_error_line, run_cli
from shoptune.io import MARKER

PAIRS = json.dumps({"left": "red shirt", "right": "red shirt", "task": "alpha"}) + "\n"


def snapshot(root: Path) -> dict[str, str]:
    """Every file and link under ``root`` with a digest of its bytes (links by their target)."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            found[rel] = "link:" + str(path.readlink())
        elif path.is_file():
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def web_app(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "manifest.json").write_text('{"name": "my web app"}')
    (root / "src" / "app.js").write_text("console.log('mine')")
    return root


def refused(*argv: str | Path, says: str = "") -> str:
    line = one_error_line(*run_cli(*argv))
    assert says in line, (says, line)
    return line


# ---------------------------------------------------------------------- the probe's cases, one by one
def test_build_into_a_web_app_with_a_manifest(world, tmp_path):
    app = web_app(tmp_path / "app")
    before = snapshot(app)
    refused("data", "build", world["demo_config"], "--tasks", "hd_relevance_mc", "--out", app, says="did not write")
    assert snapshot(app) == before


def test_ensemble_into_a_folder_holding_any_relevance_json(world, tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "relevance.json").write_text('{"mine": true}')
    before = snapshot(d)
    members = ["--member", world["rel"], "--member", world["rel"], "--name", "a", "--name", "b"]
    refused("relevance", "ensemble", *members, "--out", d, says="did not write")
    assert snapshot(d) == before


def test_ensemble_onto_one_of_its_members(world, tmp_path):
    a = Path(shutil.copytree(world["rel"], tmp_path / "a"))
    before = snapshot(a)
    members = ["--member", a, "--member", world["rel"], "--name", "a", "--name", "b"]
    refused("relevance", "ensemble", *members, "--out", a, says="inside the input")
    refused("relevance", "ensemble", *members, "--out", a / "model" / "ens", says="inside the input")
    assert snapshot(a) == before


def test_demo_skip_training_into_a_folder_holding_a_build_manifest(tmp_path):
    p = tmp_path / "p"
    (p / "data").mkdir(parents=True)
    (p / "data" / "manifest.json").write_text('{"tasks": {}}')
    (p / "thesis.tex").write_text("mine")
    before = snapshot(p)
    refused("demo", "--skip-training", "--out", p, says="did not write")
    assert snapshot(p) == before and not (p / MARKER).exists()


def test_predict_onto_a_users_file_or_link(world, tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(PAIRS)
    mine = tmp_path / "existing.jsonl"
    mine.write_text("the user's own rows\n")
    target = tmp_path / "target.jsonl"
    target.write_text("pointed at\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    before = snapshot(tmp_path)
    predict = ["relevance", "predict", "--model", world["rel"], "--input", pairs]
    refused(*predict, "--out", mine, says="shoptune did not write it")
    refused(*predict, "--out", link, says="is a link")
    refused(*predict, "--out", pairs, says="inside the input")
    assert snapshot(tmp_path) == before


def test_eval_folders_with_metrics_files_are_not_taken(world, tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "metrics.json").write_text('{"mine": 1}')
    (d / "predictions.jsonl").write_text("{}\n")
    before = snapshot(d)
    refused("eval", "--model", world["lm"], "--tasks", "hd_relevance_mc", "--data", world["data"], "--out", d)
    refused("relevance", "eval", "--model", world["rel"], "--data", world["pairs_build"], "--out", d)
    refused("relevance", "compare", "routing", "--runs", world["rel"], "--runs", world["rel"], "--out", d)
    assert snapshot(d) == before


def test_sft_into_a_folder_that_looks_like_a_run(world, tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "train_log.jsonl").write_text('{"step": 1}\n')
    (d / "config.json").write_text('{"mine": true}')
    before = snapshot(d)
    refused("train", "sft", world["sft_yaml"], "--out", d, says="did not write")
    assert snapshot(d) == before and not (d / MARKER).exists()


def test_rebuilding_a_build_keeps_a_note_the_user_put_inside(world, tmp_path):
    out = tmp_path / "build"
    code, _, err = run_cli("data", "build", world["demo_config"], "--tasks", "hd_relevance_mc", "--out", out)
    assert code == 0, err
    (out / "notes.txt").write_text("mine")
    refused("data", "build", world["demo_config"], "--tasks", "hd_relevance_mc", "--out", out, says="notes.txt")
    assert (out / "notes.txt").read_text() == "mine"
    (out / "notes.txt").unlink()
    code, _, err = run_cli("data", "build", world["demo_config"], "--tasks", "hd_relevance_mc", "--out", out)
    assert code == 0, err  # without the note it is shoptune's own again, and replaced


def test_a_command_replaces_and_resumes_only_its_own_kind(world, tmp_path):
    build = tmp_path / "build"
    code, _, err = run_cli("data", "build", world["demo_config"], "--tasks", "hd_relevance_mc", "--out", build)
    assert code == 0, err
    before = snapshot(build)
    members = ["--member", world["rel"], "--member", world["rel"], "--name", "a", "--name", "b"]
    refused("relevance", "ensemble", *members, "--out", build, says="not a ensemble folder")
    refused("train", "sft", world["sft_yaml"], "--out", build, "--resume", says="not a sft-run folder")
    refused("train", "relevance", world["rel_yaml"], "--out", build, "--resume", says="not a relevance-run folder")
    refused("demo", "--skip-training", "--out", build, says="not a demo folder")
    gen = tmp_path / "gen.yaml"
    gen.write_text(
        yaml.safe_dump(
            {
                "task": {"name": "g", "capability": "user_behavior_alignment", "kind": "generation"},
                "seeds": {"task": "hd_relevance_mc", "data": str(world["data"])},
                "prompt": {"user": "{{ seed.input }}"},
                "backend": {"kind": "openai", "model": "m", "base_url": "http://127.0.0.1:9", "require_api_key": False},
                "target": 1,
            }
        )
    )
    refused("data", "generate", gen, "--out", build, "--resume", says="not a generation folder")
    assert snapshot(build) == before


# ---------------------------------------------------------------------- property: random user folders
NAME = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"), min_size=1, max_size=12
).filter(lambda s: s not in (".", ".."))
TREE = st.lists(st.lists(NAME, min_size=1, max_size=3), min_size=1, max_size=6)


def _commands(world: dict, out: Path, a_file: Path) -> list[list[str | Path]]:
    members = ["--member", world["rel"], "--member", world["rel"], "--name", "a", "--name", "b"]
    pairs = world["root"] / "pairs.jsonl"
    if not pairs.exists():
        pairs.write_text(PAIRS)
    return [
        ["data", "build", world["demo_config"], "--tasks", "hd_relevance_mc", "--out", out],
        ["relevance", "ensemble", *members, "--out", out],
        ["demo", "--skip-training", "--out", out],
        ["eval", "--model", world["lm"], "--tasks", "hd_relevance_mc", "--data", world["data"], "--out", out],
        ["relevance", "eval", "--model", world["rel"], "--data", world["pairs_build"], "--out", out],
        ["relevance", "compare", "routing", "--runs", world["rel"], "--runs", world["rel"], "--out", out],
        ["train", "sft", world["sft_yaml"], "--out", out],
        ["train", "relevance", world["rel_yaml"], "--out", out],
        ["export", world["adapter"], "--out", out],
        ["experiments", "heldout", world["sft"], "--out", out],
        ["relevance", "predict", "--model", world["rel"], "--input", pairs, "--out", a_file],
        ["report", world["sft"], "--out", a_file],
    ]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=TREE, data=st.binary(min_size=0, max_size=64))
def test_no_command_changes_a_file_in_a_user_folder(world, tmp_path_factory, tree, data):
    root = tmp_path_factory.mktemp("user")
    folder = root / "mine"
    folder.mkdir()
    for parts in tree:
        path = folder.joinpath(*parts)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                path.write_bytes(data)
        except OSError:  # a name the file system will not take, or a file where a folder was asked for
            continue
    files = [p for p in folder.rglob("*") if p.is_file()]
    if not files:
        return
    before = snapshot(root)
    html = folder / "report.html"  # a user's file where a report would go
    html.write_bytes(data)
    jsonl = folder / "preds.jsonl"
    jsonl.write_bytes(data)
    before = snapshot(root)
    for argv in _commands(world, folder, jsonl) + [_commands(world, folder, html)[-1]]:
        code, _, err = run_cli(*argv)
        assert code != 0, (argv, err)
        assert snapshot(root) == before, argv


def test_overwrite_is_explicit_and_a_link_keeps_pointing(world, tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(PAIRS)
    mine = tmp_path / "existing.jsonl"
    mine.write_text("the user's own rows\n")
    predict = ["relevance", "predict", "--model", world["rel"], "--input", pairs]
    code, _, err = run_cli(*predict, "--out", mine, "--overwrite")
    assert code == 0, err
    assert json.loads(mine.read_text().splitlines()[0])["left"] == "red shirt"
    code, _, err = run_cli(*predict, "--out", mine)  # now shoptune's own, unchanged since: replaced freely
    assert code == 0, err
    target = tmp_path / "target.jsonl"
    target.write_text("x\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    code, _, err = run_cli(*predict, "--out", link, "--overwrite")
    assert code == 0, err
    assert link.is_symlink() and "red shirt" in target.read_text()
    html = tmp_path / "mine.html"
    html.write_text("<p>mine</p>")
    refused("report", world["sft"], "--out", html, says="pass --overwrite")
    code, _, err = run_cli("report", world["sft"], "--out", html, "--overwrite")
    assert code == 0, err and "<p>mine</p>" not in html.read_text()
