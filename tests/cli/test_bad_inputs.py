"""Bad inputs walked through the real entry point (`shoptune.cli.main`): each ends in a non-zero exit and one
line that names the file, row, field, key or option, never a traceback, and nothing is scored or written first.

A case is a command line as a user types it, with ``{placeholders}``: a key of the ``world`` fixture (a tiny LM,
an SFT run, a relevance run, a data build) or a bad input that ``MAKERS`` creates in the test's folder.
"""

from __future__ import annotations

import gzip
import json
import shlex
import shutil
import string
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import run_cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DEMO = Path(__file__).resolve().parents[2] / "demo" / "data"
PAIRS = json.dumps({"left": "red shirt", "right": "red shirt", "task": "alpha"}) + "\n"


def _user_dir(w: dict, t: Path) -> Path:
    d = t / "d"
    d.mkdir(exist_ok=True)
    (d / "notes.txt").write_text("x")
    return d


def _file(t: Path, name: str = "f.txt", data: bytes = b"mine") -> Path:
    path = t / name
    path.write_bytes(data)
    return path


def _dir(t: Path, name: str) -> Path:
    (t / name).mkdir()
    return t / name


def _broken_manifest(w: dict, t: Path) -> Path:
    _file(_dir(t, "build"), "manifest.json", b'{"tasks": {')
    return t / "build"


def _damaged_sft_checkpoint(w: dict, t: Path) -> Path:
    run = Path(shutil.copytree(w["sft_killed"], t / "killed"))
    _file(sorted((run / "checkpoints").glob("step-*"))[-1], "optim.safetensors", b"\x00garbage")
    return run


def _damaged_relevance_checkpoint(w: dict, t: Path) -> Path:
    run = Path(shutil.copytree(w["rel_killed"], t / "rel-killed"))
    _file(sorted((run / "checkpoints").glob("step-*"))[-1], "trainable.safetensors", b"\x00" * 10)
    return run


def _corrupt_parquet(w: dict, t: Path) -> Path:
    data = Path(shutil.copytree(w["data"], t / "data"))
    _file(data / "tasks" / "hd_relevance_mc", "test.parquet", b"PAR1 not really")
    return data


def _broken_artifact(w: dict, t: Path) -> Path:
    model = Path(shutil.copytree(w["rel"] / "model", t / "model"))
    _file(model, "relevance.json", b'{"format": "shoptune-relevance", "kind": ')
    return model


def _damaged_gzip(w: dict, t: Path) -> Path:
    body = "".join(json.dumps({"left": f"shirt {i}", "right": f"red {i}", "task": "alpha"}) + "\n" for i in range(3000))
    data = bytearray(gzip.compress(body.encode()))
    data[len(data) // 2] ^= 0xFF  # flip a byte mid-stream: zlib fails part-way through the file
    return _file(t, "pairs.jsonl.gz", bytes(data))


def _meta_info_cp1252(w: dict, t: Path) -> Path:
    task = Path(shutil.copytree(DEMO / "ecominstruct_v1_test" / "Lenovo" / "tasks" / "EN-Lenovo-NER-NER", t / "task"))
    meta = json.loads((task / "meta-info.json").read_text(encoding="utf-8"))
    meta["defi"] = "@CAFE@ " + str(meta.get("defi", ""))
    text = json.dumps(meta, indent=1).replace("@CAFE@", "Café")  # one Windows-1252 byte, the rest ASCII
    _file(task, "meta-info.json", text.encode("cp1252"))
    return task


class _Payload:
    """A pickle that would run a shell command when unpickled: shoptune must never unpickle a checkpoint."""

    def __reduce__(self):
        import os

        return (os.system, ("touch PWNED",))


def _pickled_sft_checkpoint(w: dict, t: Path, name: str) -> Path:
    import pickle

    run = Path(shutil.copytree(w["sft_killed"], t / "killed"))
    _file(sorted((run / "checkpoints").glob("step-*"))[-1], name, pickle.dumps(_Payload()))
    return run


def _task_dir(t: Path, prompt: str) -> Path:
    folder = _dir(t, "tasks")
    body = (
        "name: my_task\ncapability: shopping_concept_understanding\nkind: pair_relevance\nmetric: accuracy\n"
        "source: {adapter: home_depot, path: x.csv, view: query_product}\n"
        f"prompt: {json.dumps(prompt)}\n"
    )
    _file(folder, "mine.yaml", body.encode())
    return folder


def _web_app(w: dict, t: Path) -> Path:
    app = _dir(t, "app")
    _file(app, "manifest.json", b'{"name": "my web app"}')
    _file(_dir(app, "src"), "app.js", b"console.log(1)")
    return app


def _fewer_tasks_member(w: dict, t: Path) -> Path:
    model = Path(shutil.copytree(w["rel"] / "model", t / "alpha-only"))
    meta = json.loads((model / "relevance.json").read_text())
    meta["tasks"] = ["alpha"]
    _file(model, "relevance.json", json.dumps(meta).encode())
    return model


def _scale_negative(w: dict, t: Path) -> Path:
    return _file(t, "build.yaml", f"data_root: {DEMO}\ntasks: [hd_relevance_mc]\nscale: -1\n".encode())


def _damaged_lm_config(w: dict, t: Path) -> Path:
    model = Path(shutil.copytree(w["lm"], t / "lm"))
    config = json.loads((model / "config.json").read_text())
    config["hidden_size"] = "x"
    _file(model, "config.json", json.dumps(config).encode())
    return model


def _family_quantum(w: dict, t: Path) -> Path:
    model = Path(shutil.copytree(w["rel"] / "model", t / "model"))
    meta = json.loads((model / "relevance.json").read_text())
    meta["family"] = "quantum"
    _file(model, "relevance.json", json.dumps(meta).encode())
    return model


HD_TRAIN = DEMO / "home_depot_search_relevance" / "train.csv"
Maker = Callable[[dict, Path], Path]
MAKERS: dict[str, Maker] = {
    "user_dir": _user_dir,
    "a_file": lambda w, t: _file(t),
    "out_dir_named_jsonl": lambda w, t: _dir(t, "o.jsonl"),
    "empty_dir": lambda w, t: _dir(t, "adapter"),
    "pairs": lambda w, t: _file(t, "pairs.jsonl", PAIRS.encode()),
    "broken_manifest": _broken_manifest,
    "damaged_sft_checkpoint": _damaged_sft_checkpoint,
    "damaged_relevance_checkpoint": _damaged_relevance_checkpoint,
    "killed_relevance_run": lambda w, t: Path(shutil.copytree(w["rel_killed"], t / "rel-killed")),
    "corrupt_parquet": _corrupt_parquet,
    "broken_artifact": _broken_artifact,
    "damaged_gzip": _damaged_gzip,
    "meta_info_cp1252": _meta_info_cp1252,
    "utf16_pairs": lambda w, t: _file(t, "p.jsonl", PAIRS.encode("utf-16")),
    "utf16le_pairs": lambda w, t: _file(t, "p.jsonl", PAIRS.encode("utf-16-le")),
    "gzip_named_jsonl": lambda w, t: _file(t, "p.jsonl", gzip.compress(PAIRS.encode())),
    "cp1252_csv": lambda w, t: _file(t, "p.csv", "left,right,task\ncafé,café,alpha\n".encode("cp1252")),
    "not_parquet": lambda w, t: _file(t, "p.parquet", b"PAR1 nope"),
    "esci_utf16": lambda w, t: _file(t, "label.json", '[["E", "S"]]'.encode("utf-16")),
    "esci_gzip_named_json": lambda w, t: _file(t, "label.json", gzip.compress(b'[["E", "S"]]')),
    "hd_utf16": lambda w, t: _file(t, "train.csv", HD_TRAIN.read_bytes().decode("latin-1").encode("utf-16")),
    "bad_metric_dir": lambda w, t: FIXTURES / "tasks_bad_metric",
    "shopbench_bad": lambda w, t: FIXTURES / "shopbench_bad",
    "pickled_optim_pt": lambda w, t: _pickled_sft_checkpoint(w, t, "optim.pt"),
    "pickled_optim_safetensors": lambda w, t: _pickled_sft_checkpoint(w, t, "optim.safetensors"),
    "jinja_syntax_dir": lambda w, t: _task_dir(t, "{% if %}"),
    "unsafe_prompt_dir": lambda w, t: _task_dir(t, "{{ cycler.__init__.__globals__.os.system('touch PWNED') }}"),
    "web_app": _web_app,
    "users_jsonl": lambda w, t: _file(t, "existing.jsonl", b"the user's rows\n"),
    "fewer_tasks_member": _fewer_tasks_member,
    "scale_negative": _scale_negative,
    "family_quantum": _family_quantum,
    "a_build": lambda w, t: Path(shutil.copytree(w["data"], t / "build")),
    "damaged_lm_config": _damaged_lm_config,
    "huge_line": lambda w, t: _file(t, "big.jsonl", json.dumps({"left": "x" * 40_000_000, "right": "y"}).encode()),
}

EVAL = "eval --model {lm} --tasks hd_relevance_mc --data {data}"
REL_EVAL = "relevance eval --model {rel} --data {pairs_build}"
PREDICT = "relevance predict --model {rel}"
SHOPBENCH = "eval --model no-such-model --out {tmp}/o --tasks shopbench:{shopbench_bad}"  # checked before the load
# (id, command line, substrings of the one error line)
CASES: list[tuple[str, str, tuple[str, ...]]] = [
    # ---------------------------------------------------------------- outputs shoptune does not own
    ("build-into-user-folder", "data build {demo_config} --out {user_dir}", ("d", "did not write")),
    ("build-onto-a-file", "data build {demo_config} --out {a_file}", ("f.txt", "not a folder")),
    ("export-into-user-folder", "export {adapter} --out {user_dir}", ("d", "did not write")),
    ("export-onto-a-file", "export {adapter} --out {a_file}", ("f.txt", "not a folder")),
    ("eval-out-is-a-file", EVAL + " --out {a_file}", ("--out", "f.txt")),
    ("sft-into-user-folder", "train sft {sft_yaml} --out {user_dir}", ("--out", "did not write")),
    ("relevance-into-user-folder", "train relevance {rel_yaml} --out {user_dir}", ("--out", "did not write")),
    (
        "ensemble-into-user-folder",
        "relevance ensemble --member {rel} --member {rel} --name a --name b --out {user_dir}",
        ("did not write",),
    ),
    ("relevance-eval-out-is-a-file", REL_EVAL + " --out {a_file}", ("--out", "f.txt")),
    ("predict-out-is-a-folder", PREDICT + " --input {pairs} --out {out_dir_named_jsonl}", ("--out", "is a folder")),
    # ---------------------------------------------------------------- options, checked before any model loads
    ("eval-split", EVAL + " --split nosuch --out {tmp}/o", ("--split", "nosuch")),
    ("eval-shots", EVAL + " --shots -2 --out {tmp}/o", ("--shots",)),
    ("eval-limit-0", EVAL + " --limit 0 --out {tmp}/o", ("--limit",)),
    ("eval-limit-negative", EVAL + " --limit -1 --out {tmp}/o", ("--limit",)),
    ("eval-batch-size-0", EVAL + " --batch-size 0 --out {tmp}/o", ("--batch-size",)),
    ("eval-adapter-not-an-adapter", EVAL + " --adapter {empty_dir} --out {tmp}/o", ("--adapter", "adapter_config")),
    ("eval-adapter-missing", EVAL + " --adapter {tmp}/nope --out {tmp}/o", ("--adapter", "nope")),
    (
        "eval-misspelled-model",
        "eval --model smollm2 --tasks hd_relevance_mc --data {data} --out {tmp}/o",
        ("smollm2", "--allow-hub", "smollm2-135m-instruct"),
    ),
    ("relevance-eval-limit-negative", REL_EVAL + " --limit -3 --out {tmp}/o", ("--limit",)),
    ("relevance-eval-limit-0", REL_EVAL + " --limit 0 --out {tmp}/o", ("--limit",)),
    ("relevance-eval-bootstrap-0", REL_EVAL + " --bootstrap 0 --out {tmp}/o", ("--bootstrap",)),
    ("relevance-eval-split", REL_EVAL + " --split nosuch --out {tmp}/o", ("--split",)),
    ("relevance-eval-on-error", REL_EVAL + " --on-error ignore --out {tmp}/o", ("--on-error", "ignore")),
    ("build-on-error", "data build {demo_config} --out {tmp}/o --on-error ignore", ("--on-error", "ignore")),
    ("validate-on-error", "data validate --source home_depot {a_file} --on-error continue", ("--on-error",)),
    ("validate-view", "data validate --source home_depot --view nosuch {a_file}", ("--view", "nosuch")),
    ("predict-chunk-0", PREDICT + " --input {pairs} --out {tmp}/o.jsonl --chunk 0", ("--chunk",)),
    ("predict-missing-input", PREDICT + " --input {tmp}/nope.jsonl --out {tmp}/o.jsonl", ("--input", "nope.jsonl")),
    ("ensemble-name-count", "relevance ensemble --member {rel} --member {rel} --name a --out {tmp}/e", ("--name",)),
    ("tasks-list-kind", "tasks list --kind bogus", ("--kind", "bogus")),
    ("tasks-list-capability", "tasks list --capability bogus", ("--capability", "bogus")),
    ("heldout-only", "experiments heldout {sft} --only both", ("--only", "both")),
    ("heldout-limit-0", "experiments heldout {sft} --limit 0", ("--limit",)),
    ("heldout-not-an-adapter", "experiments heldout {empty_dir}", ("adapter", "shoptune_run.json")),
    # ---------------------------------------------------------------- --set: one parser for both recipes
    ("sft-set-no-equals", "train sft {sft_yaml} --out {tmp}/o --set optim.lr", ("--set", "optim.lr", "KEY=VALUE")),
    ("relevance-set-no-equals", "train relevance {rel_yaml} --out {tmp}/o --set train.lr", ("--set", "KEY=VALUE")),
    ("sft-set-under-a-scalar", "train sft {sft_yaml} --out {tmp}/o --set optim.lr.x=1", ("--set", "optim.lr")),
    ("relevance-set-under-a-scalar", "train relevance {rel_yaml} --out {tmp}/o --set train.lr.x=1", ("train.lr",)),
    ("sft-set-bad-yaml", "train sft {sft_yaml} --out {tmp}/o --set 'data.tasks=[a,'", ("--set", "YAML")),
    ("sft-set-unknown-key", "train sft {sft_yaml} --out {tmp}/o --set optim.lrr=1", ("--set", "optim.lrr")),
    # ---------------------------------------------------------------- damaged files shoptune wrote
    ("stats-broken-manifest", "data stats {broken_manifest}", ("manifest.json", "not valid JSON")),
    (
        "relevance-eval-broken-manifest",
        "relevance eval --model {rel} --data {broken_manifest} --out {tmp}/o",
        ("manifest.json",),
    ),
    (
        "eval-broken-parquet",
        "eval --model {lm} --tasks hd_relevance_mc --data {corrupt_parquet} --out {tmp}/o",
        ("test.parquet",),
    ),
    (
        "sft-resume-damaged-checkpoint",
        "train sft {sft_yaml} --out {damaged_sft_checkpoint} --resume",
        ("step-", "damaged checkpoint"),
    ),
    (
        "sft-resume-changed-config",
        "train sft {sft_yaml} --out {damaged_sft_checkpoint} --resume --set optim.lr=0.01",
        ("optim.lr", "changed config"),
    ),
    (
        "relevance-resume-damaged-checkpoint",
        "train relevance {rel_yaml} --out {damaged_relevance_checkpoint} --resume",
        ("checkpoint", "damaged checkpoint"),
    ),
    (
        "relevance-resume-changed-config",
        "train relevance {rel_yaml} --out {killed_relevance_run} --resume --set train.lr=0.5",
        ("train.lr", "changed"),
    ),
    (
        "predict-broken-relevance-json",
        "relevance predict --model {broken_artifact} --input {pairs} --out {tmp}/o.jsonl",
        ("relevance.json", "invalid JSON"),
    ),
    # ---------------------------------------------------------------- wrong encodings and damaged raw files
    ("predict-utf16", PREDICT + " --input {utf16_pairs} --out {tmp}/o.jsonl", ("p.jsonl", "UTF-16")),
    ("predict-utf16-no-bom", PREDICT + " --input {utf16le_pairs} --out {tmp}/o.jsonl", ("UTF-16", "byte order mark")),
    ("predict-gzip-named-jsonl", PREDICT + " --input {gzip_named_jsonl} --out {tmp}/o.jsonl", ("gzip", "p.jsonl.gz")),
    ("predict-cp1252-csv", PREDICT + " --input {cp1252_csv} --out {tmp}/o.jsonl", ("p.csv", "line 2", "utf-8")),
    ("predict-damaged-gzip", PREDICT + " --input {damaged_gzip} --out {tmp}/o.jsonl", ("pairs.jsonl.gz", "corrupt")),
    ("predict-not-parquet", PREDICT + " --input {not_parquet} --out {tmp}/o.jsonl", ("p.parquet", "Parquet")),
    ("validate-esci-utf16", "data validate --source esci_labels {esci_utf16}", ("label.json", "UTF-16")),
    (
        "validate-esci-gzip-named-json",
        "data validate --source esci_labels {esci_gzip_named_json}",
        ("label.json", "label.json.gz"),
    ),
    (
        "validate-ecominstruct-cp1252",
        "data validate --source ecominstruct {meta_info_cp1252}",
        ("meta-info.json", "utf-8"),
    ),
    ("validate-home-depot-utf16", "data validate --source home_depot {hd_utf16}", ("train.csv", "UTF-16")),
    # ---------------------------------------------------------------- ShopBench rows and task YAMLs
    (
        "shopbench-mc-answer-not-a-number",
        SHOPBENCH + "/mc_answer_not_a_number.jsonl",
        ("row 2, field 'output_field': multiple-choice answer must be an option number",),
    ),
    ("shopbench-unknown-metric", SHOPBENCH + "/unknown_metric.jsonl", ("row 2, field 'metric': unknown metric",)),
    (
        "shopbench-retrieval-int-target",
        SHOPBENCH + "/retrieval_int_target.jsonl",
        ("row 2, field 'output_field': retrieval expects a non-empty list",),
    ),
    (
        "shopbench-mc-answer-outside-options",
        SHOPBENCH + "/mc_answer_outside_options.jsonl",
        ("row 2, field 'output_field': answer 7 is not one of the options",),
    ),
    (
        "shopbench-mc-no-options",
        SHOPBENCH + "/mc_no_options.jsonl",
        ("row 2, field 'input_field': multiple-choice prompt lists no options",),
    ),
    (
        "shopbench-missing-file",
        "eval --model no-such-model --tasks shopbench:{tmp}/nope.jsonl --out {tmp}/o",
        ("nope.jsonl",),
    ),
    ("task-yaml-unknown-metric", "tasks list --task-dir {bad_metric_dir}", ("bad_metric.yaml", "key 'metric'")),
    # ---------------------------------------------------------------- issue 20: a user's files, a stranger's config
    ("build-into-a-web-app", "data build {demo_config} --out {web_app}", ("app", "did not write", "manifest.json")),
    ("predict-onto-a-users-file", PREDICT + " --input {pairs} --out {users_jsonl}", ("existing.jsonl", "--overwrite")),
    ("predict-onto-its-input", PREDICT + " --input {pairs} --out {pairs}", ("pairs.jsonl", "inside the input")),
    (
        "ensemble-onto-a-member",
        "relevance ensemble --member {rel} --member {rel} --name a --name b --out {rel}",
        ("inside the input",),
    ),
    (
        "ensemble-of-mismatched-members",
        "relevance ensemble --member {rel} --member {fewer_tasks_member} --name a --name b --out {tmp}/e",
        ("different tasks", "b lacks shade"),
    ),
    (
        "sft-into-a-data-build",
        "train sft {sft_yaml} --out {a_build} --resume",
        ("build folder", "not a sft-run folder"),
    ),
    (
        "sft-resume-pickle-beside",
        "train sft {sft_yaml} --out {pickled_optim_pt} --resume",
        ("optim.pt", "did not write"),
    ),
    (
        "sft-resume-pickle-as-tensors",
        "train sft {sft_yaml} --out {pickled_optim_safetensors} --resume",
        ("step-", "damaged checkpoint"),
    ),
    ("tasks-list-jinja-syntax", "tasks list --task-dir {jinja_syntax_dir}", ("mine.yaml", "prompt", "Jinja syntax")),
    ("tasks-list-unsafe-prompt", "tasks list --task-dir {unsafe_prompt_dir}", ("mine.yaml", "prompt", "unsafe")),
    ("build-scale-negative", "data build {scale_negative} --out {tmp}/o", ("build.yaml", "scale", "greater than 0")),
    (
        "eval-damaged-model-config",
        "eval --model {damaged_lm_config} --tasks hd_relevance_mc --data {data} --out {tmp}/o",
        ("lm", "damaged model folder", "hidden_size"),
    ),
    ("predict-40mb-line", PREDICT + " --input {huge_line} --out {tmp}/o.jsonl", ("big.jsonl", "row 1", "--max-line")),
    (
        "predict-max-line-negative",
        PREDICT + " --input {pairs} --out {tmp}/o.jsonl --max-line-bytes -1",
        ("--max-line",),
    ),
    (
        "predict-family-quantum",
        PREDICT.replace("{rel}", "{family_quantum}") + " --input {pairs} --out {tmp}/o.jsonl",
        ("relevance.json", "family", "quantum"),
    ),
]


def command_line(template: str, world: dict, tmp: Path) -> list[str]:
    """The argv of a case: placeholders become world paths or freshly made bad inputs."""
    names = {field for _, field, _, _ in string.Formatter().parse(template) if field}
    values = {"tmp": tmp, **{k: v for k, v in world.items() if k in names}}
    values.update({name: MAKERS[name](world, tmp) for name in names if name in MAKERS})
    return shlex.split(template.format(**values))


@pytest.mark.parametrize(("template", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_naming_it(
    world, tmp_path, monkeypatch, template: str, expected: tuple[str, ...]
) -> None:
    monkeypatch.chdir(tmp_path)  # a payload that ran would leave PWNED here
    code, out, err = run_cli(*command_line(template, world, tmp_path))
    assert not (tmp_path / "PWNED").exists()
    assert code != 0, out + err
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    for text in expected:
        assert text in lines[0], (text, lines[0])


# ---------------------------------------------------------------------- nothing of the user's is lost
def test_data_build_and_export_keep_the_users_files(world, tmp_path) -> None:
    user = _user_dir({}, tmp_path)
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
        "relevance",
        "eval",
        "--model",
        world["rel"],
        "--data",
        world["pairs_build"],
        "--limit",
        "2",
        "--out",
        tmp_path / "o",
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
