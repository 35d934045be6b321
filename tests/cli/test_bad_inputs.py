"""Bad inputs walked through the real entry point (`shoptune.cli.main`): each ends in a non-zero exit and one
line that names the file, row, field, key or option, never a traceback, and nothing is scored or written first.

Each case is (id, a function of (world, tmp) returning the argv, the substrings the error must contain).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import run_cli


def _user_dir(tmp: Path) -> Path:
    d = tmp / "d"
    d.mkdir(exist_ok=True)
    (d / "notes.txt").write_text("x")
    return d


def _file(tmp: Path, name: str = "f.txt", data: bytes = b"mine") -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def _broken_manifest(tmp: Path) -> Path:
    d = tmp / "build"
    d.mkdir()
    (d / "manifest.json").write_text('{"tasks": {')
    return d


def _corrupt_checkpoint(world: dict, tmp: Path) -> Path:
    import shutil

    run = tmp / "killed"
    shutil.copytree(world["sft_killed"], run)
    last = sorted((run / "checkpoints").glob("step-*"))[-1]
    (last / "optim.pt").write_bytes(b"\x00garbage")
    return run


def _not_an_adapter(tmp: Path) -> Path:
    d = tmp / "adapter"
    d.mkdir()
    return d


def _corrupt_parquet(world: dict, tmp: Path) -> Path:
    import shutil

    data = tmp / "data"
    shutil.copytree(world["data"], data)
    (data / "tasks" / "hd_relevance_mc" / "test.parquet").write_bytes(b"PAR1 not really")
    return data


def _pairs_jsonl(tmp: Path) -> Path:
    path = tmp / "pairs.jsonl"
    path.write_text(json.dumps({"left": "red shirt", "right": "red shirt", "task": "alpha"}) + "\n")
    return path


Argv = Callable[[dict, Path], list]
CASES: list[tuple[str, Argv, tuple[str, ...]]] = [
    # ------------------------------------------------------------------ outputs shoptune does not own
    (
        "build-into-user-folder",
        lambda w, t: ["data", "build", w["demo_config"], "--out", _user_dir(t)],
        ("d", "did not write"),
    ),
    (
        "build-onto-a-file",
        lambda w, t: ["data", "build", w["demo_config"], "--out", _file(t)],
        ("f.txt", "not a folder"),
    ),
    ("export-into-user-folder", lambda w, t: ["export", w["adapter"], "--out", _user_dir(t)], ("d", "did not write")),
    ("export-onto-a-file", lambda w, t: ["export", w["adapter"], "--out", _file(t)], ("f.txt", "not a folder")),
    (
        "eval-out-is-a-file",
        lambda w, t: ["eval", "--model", w["lm"], "--tasks", "hd_relevance_mc", "--data", w["data"], "--out", _file(t)],
        ("--out", "f.txt"),
    ),
    (
        "sft-into-user-folder",
        lambda w, t: ["train", "sft", w["sft_yaml"], "--out", _user_dir(t)],
        ("--out", "did not write"),
    ),
    (
        "relevance-into-user-folder",
        lambda w, t: ["train", "relevance", w["rel_yaml"], "--out", _user_dir(t)],
        ("--out", "did not write"),
    ),
    (
        "ensemble-into-user-folder",
        lambda w, t: [
            "relevance",
            "ensemble",
            "--member",
            w["rel"],
            "--member",
            w["rel"],
            "--name",
            "a",
            "--name",
            "b",
            "--out",
            _user_dir(t),
        ],
        ("did not write",),
    ),
    (
        "relevance-eval-out-is-a-file",
        lambda w, t: ["relevance", "eval", "--model", w["rel"], "--data", w["pairs"], "--out", _file(t)],
        ("--out", "f.txt"),
    ),
    (
        "predict-out-is-a-folder",
        lambda w, t: [
            "relevance",
            "predict",
            "--model",
            w["rel"],
            "--input",
            _pairs_jsonl(t),
            "--out",
            _user_dir(t).rename(t / "o.jsonl"),
        ],
        ("--out", "o.jsonl", "is a folder"),
    ),
    (
        "eval-split",
        lambda w, t: [
            "eval",
            "--model",
            w["lm"],
            "--tasks",
            "hd_relevance_mc",
            "--data",
            w["data"],
            "--split",
            "nosuch",
            "--out",
            t / "o",
        ],
        ("--split", "nosuch"),
    ),
    (
        "eval-shots",
        lambda w, t: [
            "eval",
            "--model",
            w["lm"],
            "--tasks",
            "hd_relevance_mc",
            "--data",
            w["data"],
            "--shots",
            "-2",
            "--out",
            t / "o",
        ],
        ("--shots",),
    ),
    (
        "eval-limit-0",
        lambda w, t: [
            "eval",
            "--model",
            w["lm"],
            "--tasks",
            "hd_relevance_mc",
            "--data",
            w["data"],
            "--limit",
            "0",
            "--out",
            t / "o",
        ],
        ("--limit",),
    ),
    (
        "eval-limit-negative",
        lambda w, t: [
            "eval",
            "--model",
            w["lm"],
            "--tasks",
            "hd_relevance_mc",
            "--data",
            w["data"],
            "--limit",
            "-1",
            "--out",
            t / "o",
        ],
        ("--limit",),
    ),
    (
        "eval-batch-size-0",
        lambda w, t: [
            "eval",
            "--model",
            w["lm"],
            "--tasks",
            "hd_relevance_mc",
            "--data",
            w["data"],
            "--batch-size",
            "0",
            "--out",
            t / "o",
        ],
        ("--batch-size",),
    ),
    (
        "eval-adapter-not-an-adapter",
        lambda w, t: [
            "eval",
            "--model",
            w["lm"],
            "--adapter",
            _not_an_adapter(t),
            "--tasks",
            "hd_relevance_mc",
            "--data",
            w["data"],
            "--out",
            t / "o",
        ],
        ("--adapter", "adapter_config.json"),
    ),
    (
        "eval-adapter-missing",
        lambda w, t: [
            "eval",
            "--model",
            w["lm"],
            "--adapter",
            t / "nope",
            "--tasks",
            "hd_relevance_mc",
            "--data",
            w["data"],
            "--out",
            t / "o",
        ],
        ("--adapter", "nope"),
    ),
    (
        "relevance-eval-limit-negative",
        lambda w, t: [
            "relevance",
            "eval",
            "--model",
            w["rel"],
            "--data",
            w["pairs"],
            "--limit",
            "-3",
            "--out",
            t / "o",
        ],
        ("--limit",),
    ),
    (
        "relevance-eval-limit-0",
        lambda w, t: ["relevance", "eval", "--model", w["rel"], "--data", w["pairs"], "--limit", "0", "--out", t / "o"],
        ("--limit",),
    ),
    (
        "relevance-eval-bootstrap-0",
        lambda w, t: [
            "relevance",
            "eval",
            "--model",
            w["rel"],
            "--data",
            w["pairs"],
            "--bootstrap",
            "0",
            "--out",
            t / "o",
        ],
        ("--bootstrap",),
    ),
    (
        "relevance-eval-split",
        lambda w, t: [
            "relevance",
            "eval",
            "--model",
            w["rel"],
            "--data",
            w["pairs"],
            "--split",
            "nosuch",
            "--out",
            t / "o",
        ],
        ("--split",),
    ),
    (
        "relevance-eval-on-error",
        lambda w, t: [
            "relevance",
            "eval",
            "--model",
            w["rel"],
            "--data",
            w["pairs"],
            "--on-error",
            "ignore",
            "--out",
            t / "o",
        ],
        ("--on-error", "ignore"),
    ),
    (
        "build-on-error",
        lambda w, t: ["data", "build", w["demo_config"], "--out", t / "o", "--on-error", "ignore"],
        ("--on-error", "ignore"),
    ),
    (
        "validate-on-error",
        lambda w, t: ["data", "validate", "--source", "home_depot", _file(t), "--on-error", "continue"],
        ("--on-error", "continue"),
    ),
    (
        "validate-view",
        lambda w, t: ["data", "validate", "--source", "home_depot", "--view", "nosuch", _file(t)],
        ("--view", "nosuch"),
    ),
    (
        "predict-chunk-0",
        lambda w, t: [
            "relevance",
            "predict",
            "--model",
            w["rel"],
            "--input",
            _pairs_jsonl(t),
            "--out",
            t / "o.jsonl",
            "--chunk",
            "0",
        ],
        ("--chunk",),
    ),
    (
        "predict-missing-input",
        lambda w, t: ["relevance", "predict", "--model", w["rel"], "--input", t / "nope.jsonl", "--out", t / "o.jsonl"],
        ("--input", "nope.jsonl"),
    ),
    (
        "ensemble-name-count",
        lambda w, t: [
            "relevance",
            "ensemble",
            "--member",
            w["rel"],
            "--member",
            w["rel"],
            "--name",
            "a",
            "--out",
            t / "ens",
        ],
        ("--name", "2 members"),
    ),
    ("tasks-list-kind", lambda w, t: ["tasks", "list", "--kind", "bogus"], ("--kind", "bogus")),
    ("tasks-list-capability", lambda w, t: ["tasks", "list", "--capability", "bogus"], ("--capability", "bogus")),
    ("heldout-only", lambda w, t: ["experiments", "heldout", w["sft"], "--only", "both"], ("--only", "both")),
    ("heldout-limit-0", lambda w, t: ["experiments", "heldout", w["sft"], "--limit", "0"], ("--limit",)),
    # ------------------------------------------------------------------ --set, one parser for both recipes
    (
        "sft-set-no-equals",
        lambda w, t: ["train", "sft", w["sft_yaml"], "--out", t / "o", "--set", "optim.lr"],
        ("--set", "optim.lr", "KEY=VALUE"),
    ),
    (
        "relevance-set-no-equals",
        lambda w, t: ["train", "relevance", w["rel_yaml"], "--out", t / "o", "--set", "train.lr"],
        ("--set", "train.lr", "KEY=VALUE"),
    ),
    (
        "sft-set-under-a-scalar",
        lambda w, t: ["train", "sft", w["sft_yaml"], "--out", t / "o", "--set", "optim.lr.x=1"],
        ("--set", "optim.lr"),
    ),
    (
        "relevance-set-under-a-scalar",
        lambda w, t: ["train", "relevance", w["rel_yaml"], "--out", t / "o", "--set", "train.lr.x=1"],
        ("--set", "train.lr"),
    ),
    (
        "sft-set-bad-yaml",
        lambda w, t: ["train", "sft", w["sft_yaml"], "--out", t / "o", "--set", "data.tasks=[a,"],
        ("--set", "data.tasks", "YAML"),
    ),
    (
        "sft-set-unknown-key",
        lambda w, t: ["train", "sft", w["sft_yaml"], "--out", t / "o", "--set", "optim.lrr=1"],
        ("optim.lrr",),
    ),
    # ------------------------------------------------------------------ damaged files shoptune wrote
    ("stats-broken-manifest", lambda w, t: ["data", "stats", _broken_manifest(t)], ("manifest.json", "not valid JSON")),
    (
        "eval-broken-parquet",
        lambda w, t: [
            "eval",
            "--model",
            w["lm"],
            "--tasks",
            "hd_relevance_mc",
            "--data",
            _corrupt_parquet(w, t),
            "--out",
            t / "o",
        ],
        ("test.parquet",),
    ),
    (
        "sft-resume-damaged-checkpoint",
        lambda w, t: ["train", "sft", w["sft_yaml"], "--out", _corrupt_checkpoint(w, t), "--resume"],
        ("step-", "damaged checkpoint"),
    ),
    (
        "sft-resume-changed-config",
        lambda w, t: [
            "train",
            "sft",
            w["sft_yaml"],
            "--out",
            _corrupt_checkpoint(w, t),
            "--resume",
            "--set",
            "optim.lr=0.01",
        ],
        ("optim.lr", "changed config"),
    ),
    (
        "heldout-not-an-adapter",
        lambda w, t: ["experiments", "heldout", _not_an_adapter(t)],
        ("adapter", "shoptune_run.json"),
    ),
]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHOPBENCH_BAD = {
    "mc_answer_not_a_number": "row 2, field 'output_field': multiple-choice answer must be an option number",
    "unknown_metric": "row 2, field 'metric': unknown metric",
    "retrieval_int_target": "row 2, field 'output_field': retrieval expects a non-empty list",
    "mc_answer_outside_options": "row 2, field 'output_field': answer 7 is not one of the options",
    "mc_no_options": "row 2, field 'input_field': multiple-choice prompt lists no options",
}
# ShopBench files are checked row by row before the model loads: a model that does not exist is never reached.
CASES += [
    (
        f"shopbench-{name}",
        lambda w, t, name=name: [
            "eval",
            "--model",
            "no-such-model",
            "--tasks",
            f"shopbench:{FIXTURES / 'shopbench_bad' / name}.jsonl",
            "--out",
            t / "o",
        ],
        (f"{name}.jsonl", message),
    )
    for name, message in SHOPBENCH_BAD.items()
]
CASES += [
    (
        "task-yaml-unknown-metric",
        lambda w, t: ["tasks", "list", "--task-dir", FIXTURES / "tasks_bad_metric"],
        ("bad_metric.yaml", "key 'metric'", "unknown metric"),
    ),
    (
        "eval-missing-shopbench-file",
        lambda w, t: ["eval", "--model", "no-such-model", "--tasks", f"shopbench:{t / 'nope.jsonl'}", "--out", t / "o"],
        ("nope.jsonl",),
    ),
]

PAIRS = json.dumps({"left": "red shirt", "right": "red shirt", "task": "alpha"}) + "\n"
DEMO = Path(__file__).resolve().parents[2] / "demo" / "data"


def _damaged_gzip(tmp: Path) -> Path:
    body = "".join(json.dumps({"left": f"shirt {i}", "right": f"red {i}", "task": "alpha"}) + "\n" for i in range(3000))
    data = bytearray(gzip.compress(body.encode()))
    data[len(data) // 2] ^= 0xFF  # flip a byte mid-stream: zlib fails part-way through the file
    return _file(tmp, "pairs.jsonl.gz", bytes(data))


def _meta_info_cp1252(tmp: Path) -> Path:
    import shutil

    task = tmp / "EN-Lenovo-NER-NER"
    shutil.copytree(DEMO / "ecominstruct_v1_test" / "Lenovo" / "tasks" / task.name, task)
    meta = json.loads((task / "meta-info.json").read_text(encoding="utf-8"))
    meta["defi"] = "@CAFE@ " + str(meta.get("defi", ""))
    text = json.dumps(meta, indent=1).replace("@CAFE@", "Café")  # one Windows-1252 byte, the rest ASCII
    (task / "meta-info.json").write_bytes(text.encode("cp1252"))
    return task


def _broken_artifact(world: dict, tmp: Path) -> Path:
    import shutil

    model = tmp / "model"
    shutil.copytree(world["rel"] / "model", model)
    (model / "relevance.json").write_text('{"format": "shoptune-relevance", "kind": ')
    return model


# Files in the wrong encoding or damaged, found before the model loads.
CASES += [
    (
        "predict-utf16",
        lambda w, t: [
            "relevance",
            "predict",
            "--model",
            w["rel"],
            "--input",
            _file(t, "p.jsonl", PAIRS.encode("utf-16")),
            "--out",
            t / "o.jsonl",
        ],
        ("p.jsonl", "UTF-16"),
    ),
    (
        "predict-utf16-no-bom",
        lambda w, t: [
            "relevance",
            "predict",
            "--model",
            w["rel"],
            "--input",
            _file(t, "p.jsonl", PAIRS.encode("utf-16-le")),
            "--out",
            t / "o.jsonl",
        ],
        ("p.jsonl", "UTF-16", "without a byte order mark"),
    ),
    (
        "predict-gzip-under-jsonl",
        lambda w, t: [
            "relevance",
            "predict",
            "--model",
            w["rel"],
            "--input",
            _file(t, "p.jsonl", gzip.compress(PAIRS.encode())),
            "--out",
            t / "o.jsonl",
        ],
        ("p.jsonl", "gzip", "p.jsonl.gz"),
    ),
    (
        "predict-cp1252-csv",
        lambda w, t: [
            "relevance",
            "predict",
            "--model",
            w["rel"],
            "--input",
            _file(t, "p.csv", "left,right,task\ncafé,café,alpha\n".encode("cp1252")),
            "--out",
            t / "o.jsonl",
        ],
        ("p.csv", "line 2", "utf-8"),
    ),
    (
        "predict-damaged-gzip",
        lambda w, t: ["relevance", "predict", "--model", w["rel"], "--input", _damaged_gzip(t), "--out", t / "o.jsonl"],
        ("pairs.jsonl.gz", "corrupt gzip"),
    ),
    (
        "predict-broken-relevance-json",
        lambda w, t: [
            "relevance",
            "predict",
            "--model",
            _broken_artifact(w, t),
            "--input",
            _pairs_jsonl(t),
            "--out",
            t / "o.jsonl",
        ],
        ("relevance.json", "invalid JSON"),
    ),
    (
        "predict-broken-parquet",
        lambda w, t: [
            "relevance",
            "predict",
            "--model",
            w["rel"],
            "--input",
            _file(t, "p.parquet", b"PAR1 nope"),
            "--out",
            t / "o.jsonl",
        ],
        ("p.parquet", "Parquet"),
    ),
    (
        "validate-esci-utf16",
        lambda w, t: [
            "data",
            "validate",
            "--source",
            "esci_labels",
            _file(t, "label.json", '[["E", "S"]]'.encode("utf-16")),
        ],
        ("label.json", "UTF-16"),
    ),
    (
        "validate-esci-gzip-named-json",
        lambda w, t: [
            "data",
            "validate",
            "--source",
            "esci_labels",
            _file(t, "label.json", gzip.compress(b'[["E", "S"]]')),
        ],
        ("label.json", "label.json.gz"),
    ),
    (
        "validate-ecominstruct-meta-info-cp1252",
        lambda w, t: ["data", "validate", "--source", "ecominstruct", _meta_info_cp1252(t)],
        ("meta-info.json", "utf-8"),
    ),
    (
        "validate-home-depot-utf16",
        lambda w, t: [
            "data",
            "validate",
            "--source",
            "home_depot",
            _file(
                t,
                "train.csv",
                (DEMO / "home_depot_search_relevance" / "train.csv").read_bytes().decode("latin-1").encode("utf-16"),
            ),
        ],
        ("train.csv", "UTF-16"),
    ),
    (
        "relevance-eval-broken-manifest",
        lambda w, t: ["relevance", "eval", "--model", w["rel"], "--data", _broken_manifest(t), "--out", t / "o"],
        ("manifest.json",),
    ),
    (
        "eval-misspelled-model",
        lambda w, t: [
            "eval",
            "--model",
            "smollm2",
            "--tasks",
            "hd_relevance_mc",
            "--data",
            w["data"],
            "--limit",
            "1",
            "--out",
            t / "o",
        ],
        ("smollm2", "--allow-hub", "smollm2-135m-instruct"),
    ),
]


def _damaged_relevance_checkpoint(world: dict, tmp: Path) -> Path:
    import shutil

    run = tmp / "rel-killed"
    shutil.copytree(world["rel_killed"], run)
    (run / "checkpoint" / "trainable.safetensors").write_bytes(b"\x00" * 10)
    return run


def _copy(src: Path, tmp: Path) -> Path:
    import shutil

    return Path(shutil.copytree(src, tmp / src.name))


CASES += [
    (
        "relevance-resume-damaged-checkpoint",
        lambda w, t: ["train", "relevance", w["rel_yaml"], "--out", _damaged_relevance_checkpoint(w, t), "--resume"],
        ("checkpoint", "damaged checkpoint"),
    ),
    (
        "relevance-resume-changed-config",
        lambda w, t: [
            "train",
            "relevance",
            w["rel_yaml"],
            "--out",
            _copy(w["rel_killed"], t),
            "--resume",
            "--set",
            "train.lr=0.5",
        ],
        ("train.lr", "changed config"),
    ),
]


@pytest.mark.parametrize(("argv", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_naming_it(world, tmp_path, argv: Argv, expected: tuple[str, ...]) -> None:
    code, out, err = run_cli(*argv(world, tmp_path))
    assert code != 0, out + err
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    for text in expected:
        assert text in lines[0], (text, lines[0])


# ---------------------------------------------------------------------- nothing of the user's is lost
def test_data_build_and_export_keep_the_users_files(world, tmp_path) -> None:
    user = _user_dir(tmp_path)
    a_file = _file(tmp_path, "keep.bin", b"precious")
    for argv in (
        ["data", "build", world["demo_config"], "--tasks", "hd_relevance_mc", "--out", user],
        ["data", "build", world["demo_config"], "--tasks", "hd_relevance_mc", "--out", a_file],
        ["export", world["adapter"], "--out", user],
        ["export", world["adapter"], "--out", a_file],
    ):
        code, _, _ = run_cli(*argv)
        assert code == 2
    assert (user / "notes.txt").read_text() == "x" and a_file.read_bytes() == b"precious"
    # No hidden temp folder (a whole merged model) is left behind by a refused export.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "keep.bin"]


def test_shoptune_outputs_are_replaced_in_place(world, tmp_path) -> None:
    out = tmp_path / "build"
    for _ in range(2):  # the second build replaces the first: it is shoptune's own
        code, _, err = run_cli("data", "build", world["demo_config"], "--tasks", "hd_relevance_mc", "--out", out)
        assert code == 0, err
    merged = tmp_path / "merged"
    for _ in range(2):
        code, _, err = run_cli("export", world["adapter"], "--out", merged)
        assert code == 0, err
    assert (merged / "config.json").is_file() and (merged / ".shoptune").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build", "merged"]


def test_relevance_eval_limit_is_honoured(world, tmp_path) -> None:
    code, _, err = run_cli(
        "relevance", "eval", "--model", world["rel"], "--data", world["pairs"], "--limit", "2", "--out", tmp_path / "o"
    )
    assert code == 0, err
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["overall"]["n"] == 4  # 2 pairs of each of the two tasks


# ---------------------------------------------------------------------- the catch-all
def test_unexpected_errors_are_one_line_unless_debug(monkeypatch, tmp_path) -> None:
    import shoptune.tasks

    def boom(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(shoptune.tasks, "load_tasks", boom)
    code, _, err = run_cli("tasks", "list")
    assert code == 1 and "Traceback" not in err and "RuntimeError: boom" in err and "--debug" in err
    with pytest.raises(RuntimeError, match="boom"):
        run_cli("--debug", "tasks", "list")


def test_os_errors_name_the_file(tmp_path) -> None:
    code, _, err = run_cli("data", "validate", "--source", "home_depot", tmp_path / "missing.csv")
    assert code == 2 and "missing.csv" in err and "Traceback" not in err


def test_help_and_version_still_exit_zero() -> None:
    assert run_cli("--version")[0] == 0
    assert run_cli("eval", "--help")[0] == 0


def test_relevance_eval_on_error_skip_reports_and_counts_the_skipped_rows(world, tmp_path) -> None:
    from relevance.test_resume_and_cli import HD_CSV

    csv = tmp_path / "train.csv"
    bad = HD_CSV + '"7","100006","Ryobi Drill","drill","very relevant"\r\n'
    csv.write_bytes(bad.encode("latin-1"))
    argv = ["relevance", "eval", "--model", world["rel"], "--source", "home_depot", "--input", csv]
    code, _, err = run_cli(*argv, "--out", tmp_path / "strict")
    assert code == 2 and "row 7" in err and "relevance" in err
    code, _, err = run_cli(*argv, "--on-error", "skip", "--out", tmp_path / "o")
    assert code == 0, err
    assert "skipped 1 bad rows" in err and "row 7" in err
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["skipped_rows"] == 1 and "row 7" in metrics["skipped_examples"][0]
