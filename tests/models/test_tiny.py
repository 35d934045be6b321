"""Tiny random models: they build without downloads, save, load back with the Auto classes, and behave."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import AutoModel, AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from shoptune.testing import (
    build_tiny_gguf,
    make_tiny_causal_lm,
    make_tiny_causal_tokenizer,
    make_tiny_encoder,
    make_tiny_encoder_tokenizer,
)

CHAT = [{"role": "user", "content": "Is this jacket waterproof?"}, {"role": "assistant", "content": "Yes."}]


def test_causal_tokenizer_round_trips_any_text() -> None:
    tok = make_tiny_causal_tokenizer()
    text = 'Red shoes, size 42 — ünïcode 🙂 {"brand": "Acme"}'
    assert tok.decode(tok(text)["input_ids"]) == text  # byte-level: nothing becomes <unk>
    assert 256 < len(tok) <= 320


def test_causal_tokenizer_special_tokens_mirror_smollm2() -> None:
    tok = make_tiny_causal_tokenizer()
    assert (tok.bos_token, tok.eos_token, tok.pad_token) == ("<|im_start|>", "<|im_end|>", "<|im_end|>")
    distinct = make_tiny_causal_tokenizer(distinct_pad=True)
    assert distinct.pad_token == "<|pad|>" and distinct.pad_token_id != distinct.eos_token_id


def test_chat_template_renders_chatml_with_generation_prompt() -> None:
    tok = make_tiny_causal_tokenizer()
    text = tok.apply_chat_template(CHAT[:1], tokenize=False, add_generation_prompt=True)
    assert text == "<|im_start|>user\nIs this jacket waterproof?<|im_end|>\n<|im_start|>assistant\n"
    ids = tok.apply_chat_template(CHAT, tokenize=True, return_dict=True)["input_ids"]
    assert ids.count(tok.eos_token_id) == 2


def test_tiny_causal_lm_is_small_and_runs() -> None:
    model, tok = make_tiny_causal_lm()
    assert model.config.num_hidden_layers == 2 and model.config.hidden_size == 32
    assert sum(p.numel() for p in model.parameters()) < 100_000
    batch = tok(["hello", "a longer product title"], padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (2, batch["input_ids"].shape[1], len(tok))


def test_tiny_causal_lm_is_deterministic_per_seed() -> None:
    (a, tok_a), (b, tok_b), (c, _) = make_tiny_causal_lm(seed=1), make_tiny_causal_lm(seed=1), make_tiny_causal_lm()
    assert tok_a.get_vocab() == tok_b.get_vocab()
    assert torch.equal(a.model.embed_tokens.weight, b.model.embed_tokens.weight)
    assert not torch.equal(a.model.embed_tokens.weight, c.model.embed_tokens.weight)


def test_saved_causal_lm_loads_back_with_auto_classes(tiny_lm: Path) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_lm)
    tok = AutoTokenizer.from_pretrained(tiny_lm)
    original, original_tok = make_tiny_causal_lm()
    assert tok.chat_template == original_tok.chat_template
    assert tok.pad_token == "<|im_end|>"
    batch = tok("wireless earbuds", return_tensors="pt")
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, original(**batch).logits)
    out = model.generate(**batch, max_new_tokens=4, do_sample=False, pad_token_id=tok.pad_token_id)
    prompt_len = batch["input_ids"].shape[1]
    assert prompt_len < out.shape[1] <= prompt_len + 4


def test_encoder_tokenizer_is_deterministic_and_bert_like() -> None:
    tok = make_tiny_encoder_tokenizer()
    assert tok.get_vocab() == make_tiny_encoder_tokenizer().get_vocab()
    pair = tok("Blue shirt", "red cotton pants")
    tokens = tok.convert_ids_to_tokens(pair["input_ids"])
    assert tokens[0] == "[CLS]" and tokens.count("[SEP]") == 2
    assert set(pair["token_type_ids"]) == {0, 1}  # cross-encoders need segment ids for the second text


def test_saved_encoder_loads_back_with_auto_classes(tiny_encoder: Path) -> None:
    model = AutoModel.from_pretrained(tiny_encoder)
    tok = AutoTokenizer.from_pretrained(tiny_encoder)
    original, _ = make_tiny_encoder()
    batch = tok(["a blue shirt", "shoes"], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
        assert torch.equal(hidden, original(**batch).last_hidden_state)
    assert hidden.shape[-1] == 32


def test_saved_encoder_is_a_cross_encoder_base(tiny_encoder: Path) -> None:
    model = AutoModelForSequenceClassification.from_pretrained(tiny_encoder, num_labels=1)
    tok = AutoTokenizer.from_pretrained(tiny_encoder)
    with torch.no_grad():
        scores = model(**tok(["red shoes"], ["running shoes, red"], return_tensors="pt")).logits
    assert scores.shape == (1, 1)


def test_saved_encoder_has_sentence_transformers_modules(tiny_encoder: Path) -> None:
    modules = json.loads((tiny_encoder / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[-1] for m in modules] == ["Transformer", "Pooling", "Normalize"]
    pooling = json.loads((tiny_encoder / "1_Pooling" / "config.json").read_text())
    assert pooling["word_embedding_dimension"] == 32 and pooling["pooling_mode_mean_tokens"]


def test_tiny_gguf_loads_back_as_the_same_model_and_tokenizer(tmp_path: Path) -> None:
    gguf = build_tiny_gguf(tmp_path / "tiny.gguf")
    model = AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file=gguf.name)
    tok = AutoTokenizer.from_pretrained(tmp_path, gguf_file=gguf.name)
    original, original_tok = make_tiny_causal_lm()
    text = "Red shoes — ünïcode<|im_end|>"
    assert tok(text)["input_ids"] == original_tok(text)["input_ids"]
    assert tok.chat_template == original_tok.chat_template and tok.eos_token == "<|im_end|>"
    batch = original_tok("wireless earbuds", return_tensors="pt")
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, original(**batch).logits)
