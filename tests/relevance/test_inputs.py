"""Bad inputs of the relevance commands end in one line naming the file (and row), never a traceback.

Pair files for `relevance predict` (other encodings, gzip under a plain name, damaged gzip or Parquet), a
build's manifest.json, and an artifact's relevance.json. Before these checks the same inputs raised
UnicodeDecodeError, zlib.error / EOFError / BadGzipFile, ArrowInvalid, JSONDecodeError, KeyError or TypeError.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import gzip_damaged_by_zlib
from shoptune.errors import DataError, ShoptuneError
from shoptune.relevance.data import iter_pair_file, pair_tasks, read_build_manifest
from shoptune.relevance.predictor import artifact_info, load_predictor

ROWS = [{"left": f"mug {i} café", "right": "red mug", "task": "alpha"} for i in range(3)]
JSONL = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS)
CSV = "left,right,task\n" + "".join(f"{r['left']},{r['right']},{r['task']}\n" for r in ROWS)


def _many_lines(n: int = 4000) -> bytes:
    return "".join(
        json.dumps({"left": hashlib.sha1(str(i).encode()).hexdigest(), "right": "r", "task": "alpha"}) + "\n"
        for i in range(n)
    ).encode()


def corrupt_gzip(n: int = 4000) -> bytes:
    """A gzip stream damaged half way into garbage that only its final CRC check catches (BadGzipFile)."""
    data = bytearray(gzip.compress(_many_lines(n), mtime=0))
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(range(64))
    return bytes(data)


def zlib_damaged_gzip(n: int = 4000) -> bytes:
    """A gzip stream with one byte flipped after its middle where deflate itself fails (zlib.error)."""
    return gzip_damaged_by_zlib(gzip.compress(_many_lines(n), mtime=0))


def corrupt_parquet() -> bytes:
    import io

    sink = io.BytesIO()
    pq.write_table(pa.table({"left": [hashlib.sha1(str(i).encode()).hexdigest() for i in range(3000)]}), sink)
    data = sink.getvalue()
    return data[: len(data) // 2]  # footer gone: ArrowInvalid


#: name -> (file name, bytes, substring of the one-line error). Reused by the CLI table below.
BAD_PAIR_FILES: dict[str, tuple[str, bytes, str]] = {
    "utf16-bom-jsonl": (
        "pairs.jsonl",
        JSONL.encode("utf-16"),
        "file, field '-': wrong encoding: looks like UTF-16 text (byte order mark FF FE), expected utf-8 text; "
        "save it as UTF-8",
    ),
    "utf16-nobom-jsonl": (
        "pairs.jsonl",
        JSONL.encode("utf-16-le"),
        "file, field '-': wrong encoding: looks like UTF-16 text without a byte order mark",
    ),
    "utf16-bom-csv": ("pairs.csv", CSV.encode("utf-16"), "wrong encoding: looks like UTF-16 text (byte order mark"),
    "cp1252-jsonl": (
        "pairs.jsonl",
        JSONL.encode("cp1252"),
        "row 1, field '-': wrong encoding: line 1 is not valid utf-8 (byte 0xe9: invalid continuation byte); "
        "looks like Latin-1 / Windows-1252 text; save it as UTF-8",
    ),
    "cp1252-csv": (
        "pairs.csv",
        CSV.encode("cp1252"),
        "row 2, field '-': wrong encoding: line 2 is not valid utf-8 (byte 0xe9",
    ),
    "gzip-named-jsonl": (
        "pairs.jsonl",
        gzip.compress(JSONL.encode()),
        "file, field '-': not utf-8 text: looks like gzip-compressed data; name it pairs.jsonl.gz",
    ),
    "gzip-named-csv": (
        "pairs.csv",
        gzip.compress(CSV.encode()),
        "not utf-8 text: looks like gzip-compressed data; name it pairs.csv.gz",
    ),
    "corrupt-gzip-body": ("pairs.jsonl.gz", zlib_damaged_gzip(), "corrupt gzip data from line"),
    "corrupt-gzip-crc": ("pairs.jsonl.gz", corrupt_gzip(), "corrupt gzip data: garbage from line"),
    "truncated-gzip": ("pairs.jsonl.gz", gzip.compress(_many_lines(), mtime=0)[:60000], "corrupt gzip data from line"),
    "not-gzip": ("pairs.jsonl.gz", JSONL.encode(), "file, field '-': not a valid gzip file (Not a gzipped file"),
    "corrupt-parquet": ("pairs.parquet", corrupt_parquet(), "file, field '-': not a readable Parquet file ("),
    "json-list-line": ("pairs.jsonl", b'["left", "right"]\n', "row 1, field '-': expected a JSON object"),
    "invalid-json": ("pairs.jsonl", JSONL.encode() + b'{"left": "cut', "row 4, field '-': invalid JSON"),
}


@pytest.mark.parametrize("case", sorted(BAD_PAIR_FILES))
def test_bad_pair_file_is_one_line_naming_the_file(tmp_path: Path, case: str) -> None:
    name, data, expected = BAD_PAIR_FILES[case]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ShoptuneError) as info:
        list(iter_pair_file(path))
    message = str(info.value)
    assert message.startswith(f"{path}: ") and expected in message and "\n" not in message


@pytest.mark.parametrize("damage", [zlib_damaged_gzip, corrupt_gzip])
def test_damaged_gzip_surfaces_after_good_pairs_were_streamed(tmp_path: Path, damage) -> None:
    path = tmp_path / "pairs.jsonl.gz"
    path.write_bytes(damage())
    seen = 0
    with pytest.raises(DataError, match=r"corrupt gzip data(: garbage)? from line \d+ on") as info:
        for seen, _ in enumerate(iter_pair_file(path), start=1):  # noqa: B007
            pass
    assert seen > 100 and info.value.row == seen + 1  # the pairs before the damage were scored


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("p.jsonl", JSONL.encode()),
        ("p.jsonl.gz", gzip.compress(JSONL.encode())),
        ("p.json.gz", gzip.compress(JSONL.encode())),
        ("p.csv", b"\xef\xbb\xbf" + CSV.encode()),
        ("p.csv.gz", gzip.compress(CSV.encode())),
    ],
)
def test_good_pair_files_in_every_format(tmp_path: Path, name: str, data: bytes) -> None:
    (tmp_path / name).write_bytes(data)
    pairs = list(iter_pair_file(tmp_path / name))
    assert [p.left for p in pairs] == [r["left"] for r in ROWS] and pairs[0].task == "alpha"


# --------------------------------------------------------------------------------------------- manifest.json
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b'{"tasks": {"a": ',
            "row 1, field '-': invalid JSON (Expecting value); rebuild it with `shoptune data build`",
        ),
        (b"", "file, field '-': file is empty"),
        ('{"tasks": {}}'.encode("utf-16"), "wrong encoding: looks like UTF-16 text"),
        ('{"note": "café", "tasks": {}}'.encode("cp1252"), "row 1, field '-': wrong encoding: line 1 is not valid"),
        (b"[1, 2]", "file, field '-': expected a JSON object, got list"),
        (b'{"seed": 1}', "file, field 'tasks': missing key; rebuild it with `shoptune data build`"),
        (b'{"tasks": ["a"]}', "file, field 'tasks': expected an object of task name -> task info"),
        (b'{"tasks": {"a": 3}}', "file, field 'tasks': expected an object"),
    ],
    ids=["invalid-json", "empty", "utf16", "cp1252", "list", "no-tasks", "tasks-list", "task-not-object"],
)
def test_broken_build_manifest_is_one_line(tmp_path: Path, data: bytes, expected: str) -> None:
    (tmp_path / "manifest.json").write_bytes(data)
    for read in (read_build_manifest, pair_tasks):
        with pytest.raises(DataError) as info:
            read(tmp_path)
        assert str(info.value) == f"{tmp_path / 'manifest.json'}: {expected}" or (
            str(info.value).startswith(f"{tmp_path / 'manifest.json'}: ") and expected in str(info.value)
        )


def test_missing_manifest_still_reads_as_no_tasks(tmp_path: Path) -> None:
    assert read_build_manifest(tmp_path) == {"tasks": {}}


def test_corrupt_train_split_found_by_folder_scan(tmp_path: Path) -> None:
    split = tmp_path / "tasks" / "alpha" / "train.parquet"
    split.parent.mkdir(parents=True)
    split.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=r"train\.parquet: file, field '-': not a readable Parquet file"):
        pair_tasks(tmp_path)


# --------------------------------------------------------------------------------------------- relevance.json
GOOD_MODEL = {
    "format": "shoptune-relevance",
    "version": 1,
    "kind": "model",
    "family": "cross_encoder",
    "routing": "multihead",
    "tasks": ["alpha"],
    "base_model": "tiny",
}
BAD_ARTIFACTS: dict[str, tuple[bytes, str]] = {
    "invalid-json": (b'{"format": "shoptune-relevance", "kind": ', "row 1, field '-': invalid JSON"),
    "empty": (b"", "file, field '-': file is empty"),
    "utf16": (json.dumps(GOOD_MODEL).encode("utf-16"), "wrong encoding: looks like UTF-16 text"),
    "list": (b"[]", "file, field '-': expected a JSON object, got list"),
    "not-ours": (b'{"kind": "model"}', "file, field 'format': not a shoptune relevance artifact"),
    "no-kind": (
        json.dumps({"format": "shoptune-relevance"}).encode(),
        "file, field 'kind': unknown artifact kind None (expected one of: model, exported, per_task, ensemble)",
    ),
    "model-no-tasks": (
        json.dumps({k: v for k, v in GOOD_MODEL.items() if k != "tasks"}).encode(),
        "file, field 'tasks': missing key (a model artifact needs: family, routing, tasks, base_model)",
    ),
    "model-tasks-not-list": (
        json.dumps({**GOOD_MODEL, "tasks": "alpha"}).encode(),
        "file, field 'tasks': expected a non-empty list, got 'alpha'",
    ),
    "per-task-no-members": (
        json.dumps({"format": "shoptune-relevance", "kind": "per_task"}).encode(),
        "file, field 'members': missing key",
    ),
    "per-task-bad-member": (
        json.dumps({"format": "shoptune-relevance", "kind": "per_task", "members": {"alpha": 3}}).encode(),
        "file, field 'members.alpha': expected a member folder path, got 3",
    ),
    "model-decision-not-object": (
        json.dumps({**GOOD_MODEL, "decision": [1]}).encode(),
        "file, field 'decision.tasks': expected an object with a 'tasks' object",
    ),
    "model-decision-bad-temperature": (
        json.dumps({**GOOD_MODEL, "decision": {"tasks": {"alpha": {"temperature": -1}}}}).encode(),
        "file, field 'decision.tasks.alpha.temperature': expected a positive number, got -1",
    ),
    "model-decision-bad-bias": (
        json.dumps({**GOOD_MODEL, "decision": {"tasks": {"alpha": {"bias": {"maybe": 1.0}}}}}).encode(),
        "file, field 'decision.tasks.alpha.bias': expected an object of exact/partial/irrelevant -> number",
    ),
    "ensemble-member-without-path": (
        json.dumps({"format": "shoptune-relevance", "kind": "ensemble", "members": [{"name": "a"}]}).encode(),
        "file, field 'members.0.path': expected a member folder path",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_ARTIFACTS))
def test_broken_relevance_json_is_one_line_naming_it(tmp_path: Path, case: str) -> None:
    data, expected = BAD_ARTIFACTS[case]
    (tmp_path / "relevance.json").write_bytes(data)
    for read in (artifact_info, load_predictor):
        with pytest.raises(ShoptuneError) as info:
            read(tmp_path)
        message = str(info.value)
        assert message.startswith(f"{tmp_path / 'relevance.json'}: ") and expected in message and "\n" not in message


def test_model_artifact_without_its_weights_names_the_missing_file(tmp_path: Path) -> None:
    (tmp_path / "relevance.json").write_text(json.dumps(GOOD_MODEL))
    with pytest.raises(DataError) as info:
        load_predictor(tmp_path)
    assert str(info.value) == (
        f"{tmp_path / 'backbone' / 'config.json'}: file, field '-': file not found "
        f"(the model folder {tmp_path} is incomplete)"
    )


def test_broken_member_of_an_ensemble_names_the_member_file(tmp_path: Path) -> None:
    (tmp_path / "m0").mkdir()
    (tmp_path / "m0" / "relevance.json").write_text("{")
    ensemble = {"format": "shoptune-relevance", "kind": "ensemble", "members": [{"name": "m0", "path": "m0"}]}
    (tmp_path / "relevance.json").write_text(json.dumps(ensemble))
    for read in (artifact_info, load_predictor):
        with pytest.raises(DataError, match=r"m0/relevance\.json: row 1, field '-': invalid JSON"):
            read(tmp_path)


# --------------------------------------------------------------------------------------------- real CLI
@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory, tiny_encoder: Path, make_config) -> Path:
    """An untrained tiny one-task model artifact: enough to reach the input reading in `relevance predict`."""
    from shoptune.relevance.model import build_model, save_model

    cfg = make_config(tmp_path_factory.mktemp("d"), tiny_encoder, "cross_encoder", "multihead")
    model, tok = build_model(cfg.model, ["alpha"])
    return save_model(model, tok, tmp_path_factory.mktemp("art") / "model")


def test_predict_cli_reads_a_good_file(artifact: Path, tmp_path: Path, cli) -> None:
    (tmp_path / "pairs.jsonl.gz").write_bytes(gzip.compress(JSONL.encode()))
    code, out, err = cli(
        "relevance",
        "predict",
        "--model",
        artifact,
        "--input",
        tmp_path / "pairs.jsonl.gz",
        "--out",
        tmp_path / "o.jsonl",
    )
    assert code == 0, err
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 3


# Parquet is left out: the CLI counts a Parquet input's rows (shoptune.relevance.api.count_rows) before reading it.
@pytest.mark.parametrize("case", sorted(c for c in BAD_PAIR_FILES if c != "corrupt-parquet"))
def test_predict_cli_bad_input_is_one_line_exit_2(artifact: Path, tmp_path: Path, cli, case: str) -> None:
    name, data, expected = BAD_PAIR_FILES[case]
    path = tmp_path / name
    path.write_bytes(data)
    code, out, err = cli("relevance", "predict", "--model", artifact, "--input", path, "--out", tmp_path / "o.jsonl")
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    # Only the error line counts (the progress bar may have drawn its first frame above it).
    assert code == 2 and len(errors) == 1 and err.strip().endswith(errors[0]) and "Traceback" not in err, err
    assert errors[0].startswith(f"error: {path}: ") and expected in errors[0]
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize("case", ["invalid-json", "utf16", "model-no-tasks", "ensemble-member-without-path"])
def test_predict_cli_broken_artifact_is_one_line_exit_2(tmp_path: Path, cli, case: str) -> None:
    data, expected = BAD_ARTIFACTS[case]
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "relevance.json").write_bytes(data)
    (tmp_path / "pairs.jsonl").write_text(JSONL, encoding="utf-8")
    code, out, err = cli(
        "relevance",
        "predict",
        "--model",
        tmp_path / "model",
        "--input",
        tmp_path / "pairs.jsonl",
        "--out",
        tmp_path / "o.jsonl",
    )
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"error: {tmp_path / 'model' / 'relevance.json'}: ") and expected in lines[0]
