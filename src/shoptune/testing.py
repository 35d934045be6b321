"""Tiny randomly initialised models for fast unit tests.

Nothing here downloads anything: the tokenizers are trained in milliseconds on a handful of built-in strings,
and the model weights are random (seeded, so two builds with the same seed are identical). The causal LM
mirrors the bundled SmolLM2 checkpoint where it matters to callers: a byte-level BPE tokenizer (any text
encodes, nothing maps to an unknown token), a ChatML chat template, ``bos=<|im_start|>``,
``eos=<|im_end|>`` and, by default, ``pad == eos`` -- so code tested on the tiny model meets the same
special-token situation as on the real one.

Example:
    >>> from shoptune.testing import build_tiny_causal_lm
    >>> path = build_tiny_causal_lm(tmp_path / "tiny-lm")  # doctest: +SKIP
    >>> model, tok = load_causal_lm(str(path))  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    BertConfig,
    BertModel,
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
)

if TYPE_CHECKING:
    import gguf
    import numpy as np

__all__ = [
    "TINY_CHAT_TEMPLATE",
    "build_tiny_causal_lm",
    "build_tiny_encoder",
    "build_tiny_gguf",
    "make_tiny_causal_lm",
    "make_tiny_causal_tokenizer",
    "make_tiny_encoder",
    "make_tiny_encoder_tokenizer",
]

# ChatML, the same turn format as SmolLM2-Instruct, minus its default system prompt (kept out so tiny
# sequences stay short). `add_generation_prompt` opens an assistant turn, as generation code expects.
TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# A few strings in the project's domain; they only decide which BPE merges/WordPiece entries exist.
_CORPUS: tuple[str, ...] = (
    "Wireless noise cancelling headphones with 30 hour battery life.",
    "Stainless steel water bottle, 750 ml, keeps drinks cold for 24 hours.",
    "Men's running shoes, breathable mesh, size 42, color black.",
    "The product arrived quickly and works great. Five stars!",
    "Terrible quality, the zipper broke after two days. Would not buy again.",
    "Query: red cotton t-shirt for women. Product: Women's crew neck tee, 100% cotton, red.",
    "Is this laptop bag waterproof? Yes, it has a water resistant coating.",
    'Extract the attributes as JSON: {"brand": "Acme", "color": "blue", "size": "M"}',
    "Category: Electronics > Audio > Headphones. Price: $59.99. In stock.",
    "user assistant system: You are a helpful shopping assistant. Answer briefly.",
    "Classify the sentiment of this review: positive, negative or neutral.",
    "Generate a product title for: organic green tea, 100 bags, loose leaf.",
)

_CAUSAL_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
_CAUSAL_PAD = "<|pad|>"
_ENCODER_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def make_tiny_causal_tokenizer(*, vocab_size: int = 320, distinct_pad: bool = False) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer with a ChatML chat template.

    ``distinct_pad=True`` adds a separate ``<|pad|>`` token; the default ``pad == eos`` mirrors SmolLM2.

    Example:
        >>> tok = make_tiny_causal_tokenizer()
        >>> tok.decode(tok("Red shoes, size 42")["input_ids"])
        'Red shoes, size 42'
    """
    specials = [*_CAUSAL_SPECIALS, _CAUSAL_PAD] if distinct_pad else list(_CAUSAL_SPECIALS)
    backend = Tokenizer(models.BPE())
    # Byte-level like GPT-2/SmolLM2: every string encodes losslessly, so tests never hit unknown tokens.
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(_CORPUS, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        unk_token="<|endoftext|>",
        pad_token=_CAUSAL_PAD if distinct_pad else "<|im_end|>",
        chat_template=TINY_CHAT_TEMPLATE,
        model_max_length=256,
    )


def make_tiny_causal_lm(
    *, seed: int = 0, distinct_pad: bool = False
) -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast]:
    """Build an in-memory tiny Llama-style causal LM (2 layers, hidden 32) and its tokenizer.

    Example:
        >>> model, tok = make_tiny_causal_lm()
        >>> model(**tok("hello", return_tensors="pt")).logits.shape[-1] == len(tok)
        True
    """
    tokenizer = make_tiny_causal_tokenizer(distinct_pad=distinct_pad)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,  # grouped-query attention, like SmolLM2, so GQA code paths are exercised
        max_position_embeddings=256,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model.eval()
    return model, tokenizer


def build_tiny_causal_lm(out_dir: str | Path, *, seed: int = 0, distinct_pad: bool = False) -> Path:
    """Save a tiny causal LM + tokenizer to ``out_dir`` (loadable with AutoModelForCausalLM/AutoTokenizer).

    Example:
        >>> path = build_tiny_causal_lm(tmp_path / "tiny-lm")  # doctest: +SKIP
        >>> AutoModelForCausalLM.from_pretrained(path)  # doctest: +SKIP
    """
    out = Path(out_dir)
    model, tokenizer = make_tiny_causal_lm(seed=seed, distinct_pad=distinct_pad)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def make_tiny_encoder_tokenizer(*, vocab_size: int = 320) -> PreTrainedTokenizerFast:
    """Train a lower-casing WordPiece tokenizer that adds ``[CLS] ... [SEP]`` like BERT.

    Example:
        >>> tok = make_tiny_encoder_tokenizer()
        >>> tok.convert_ids_to_tokens(tok("Blue shirt")["input_ids"])[0]
        '[CLS]'
    """
    normalizer = normalizers.BertNormalizer(lowercase=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend = Tokenizer(models.WordPiece(_encoder_vocab(normalizer, pre_tokenizer, vocab_size), unk_token="[UNK]"))
    backend.normalizer = normalizer
    backend.pre_tokenizer = pre_tokenizer
    backend.decoder = decoders.WordPiece()
    cls_id, sep_id = backend.token_to_id("[CLS]"), backend.token_to_id("[SEP]")
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",  # token_type_ids 1 for the second text, as cross-encoders expect
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
        # BERT consumes segment ids; without this the tokenizer would drop them for text pairs.
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )


def _encoder_vocab(
    normalizer: normalizers.Normalizer, pre_tokenizer: pre_tokenizers.PreTokenizer, vocab_size: int
) -> dict[str, int]:
    # Built by hand instead of with WordPieceTrainer: the trainer breaks ties in hash order, so its vocab
    # (and thus every token id) changed from one process to the next. Printable ASCII and "##"-continuations
    # keep ordinary test strings off [UNK]; the rest are the corpus's most frequent words.
    chars = [chr(c) for c in range(33, 127) if not chr(c).isupper()]
    continuations = [f"##{c}" for c in chars if c.isalnum()]
    counts = Counter(
        word
        for text in _CORPUS
        for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))
        if len(word) > 1
    )
    words = [w for w, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
    tokens = list(dict.fromkeys([*_ENCODER_SPECIALS, *chars, *continuations, *words]))[:vocab_size]
    return {token: i for i, token in enumerate(tokens)}


def make_tiny_encoder(*, seed: int = 0) -> tuple[BertModel, PreTrainedTokenizerFast]:
    """Build an in-memory tiny BERT-style encoder (2 layers, hidden 32) and its tokenizer.

    Example:
        >>> model, tok = make_tiny_encoder()
        >>> model(**tok("hello", return_tensors="pt")).last_hidden_state.shape[-1]
        32
    """
    tokenizer = make_tiny_encoder_tokenizer()
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = BertModel(config)
    model.eval()
    return model, tokenizer


def build_tiny_encoder(out_dir: str | Path, *, seed: int = 0, sentence_transformers: bool = True) -> Path:
    """Save a tiny encoder + tokenizer to ``out_dir`` (loadable with AutoModel/AutoTokenizer).

    With ``sentence_transformers=True`` (default) the directory also holds the module files of a
    sentence-transformers model (Transformer -> mean pooling -> normalize, the layout of all-MiniLM-L6-v2),
    so ``SentenceTransformer(out_dir)`` loads it without guessing a pooling.

    Example:
        >>> path = build_tiny_encoder(tmp_path / "tiny-enc")  # doctest: +SKIP
        >>> AutoModel.from_pretrained(path)  # doctest: +SKIP
    """
    out = Path(out_dir)
    model, tokenizer = make_tiny_encoder(seed=seed)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    if sentence_transformers:
        _write_sentence_transformers_files(out, dim=model.config.hidden_size, max_seq_length=128)
    return out


def _write_sentence_transformers_files(out: Path, *, dim: int, max_seq_length: int) -> None:
    # Written by hand rather than via sentence_transformers.save(): importing that library costs seconds,
    # and these three small files are all it needs to rebuild the pipeline.
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (out / "modules.json").write_text(json.dumps(modules, indent=2))
    (out / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": max_seq_length, "do_lower_case": False}, indent=2)
    )
    pooling = out / "1_Pooling"
    pooling.mkdir(exist_ok=True)
    (pooling / "config.json").write_text(
        json.dumps(
            {
                "word_embedding_dimension": dim,
                "pooling_mode_cls_token": False,
                "pooling_mode_mean_tokens": True,
                "pooling_mode_max_tokens": False,
                "pooling_mode_mean_sqrt_len_tokens": False,
            },
            indent=2,
        )
    )
    (out / "2_Normalize").mkdir(exist_ok=True)


def build_tiny_gguf(path: str | Path, *, seed: int = 0) -> Path:
    """Write the tiny causal LM (same weights and tokenizer as ``make_tiny_causal_lm(seed=seed)``) as a GGUF file.

    Lets tests exercise the real GGUF -> safetensors conversion in milliseconds. Tensors are stored as F32 in
    llama.cpp's layout (q/k rows permuted, as its converter does), so transformers' GGUF loader gives back
    exactly the in-memory model.

    Example:
        >>> gguf = build_tiny_gguf(tmp_path / "tiny.gguf")  # doctest: +SKIP
        >>> AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)  # doctest: +SKIP
    """
    import gguf  # imported here: only this builder needs the GGUF writer

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    model, tokenizer = make_tiny_causal_lm(seed=seed)
    cfg = model.config
    writer = gguf.GGUFWriter(str(out), "llama")
    writer.add_name("shoptune tiny llama")
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(cfg.num_attention_heads)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_rope_freq_base(float(cfg.rope_parameters["rope_theta"]))
    writer.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    writer.add_vocab_size(cfg.vocab_size)
    _add_gguf_tokenizer(writer, tokenizer)
    for name, tensor in _gguf_tensors(model).items():
        writer.add_tensor(name, tensor)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


def _add_gguf_tokenizer(writer: gguf.GGUFWriter, tokenizer: PreTrainedTokenizerFast) -> None:
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    specials = set(tokenizer.all_special_tokens)
    merges = json.loads(tokenizer.backend_tokenizer.to_str())["model"]["merges"]
    writer.add_tokenizer_model("gpt2")  # llama.cpp's name for byte-level BPE
    writer.add_tokenizer_pre("gpt2")
    writer.add_token_list([token for token, _ in vocab])
    writer.add_token_types([3 if token in specials else 1 for token, _ in vocab])  # 3 = CONTROL, 1 = NORMAL
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    writer.add_bos_token_id(tokenizer.bos_token_id)
    writer.add_eos_token_id(tokenizer.eos_token_id)
    writer.add_unk_token_id(tokenizer.unk_token_id)
    writer.add_pad_token_id(tokenizer.pad_token_id)
    writer.add_add_bos_token(False)
    writer.add_chat_template(tokenizer.chat_template)


def _gguf_tensors(model: LlamaForCausalLM) -> dict[str, np.ndarray]:
    cfg = model.config
    state = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}

    # llama.cpp's rotary layout for q/k; transformers undoes it on load.
    def permute(w: np.ndarray, heads: int) -> np.ndarray:
        return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)

    tensors: dict[str, np.ndarray] = {
        "token_embd.weight": state["model.embed_tokens.weight"],
        "output_norm.weight": state["model.norm.weight"],
    }
    for i in range(cfg.num_hidden_layers):
        p = f"model.layers.{i}."
        tensors |= {
            f"blk.{i}.attn_norm.weight": state[p + "input_layernorm.weight"],
            f"blk.{i}.attn_q.weight": permute(state[p + "self_attn.q_proj.weight"], cfg.num_attention_heads),
            f"blk.{i}.attn_k.weight": permute(state[p + "self_attn.k_proj.weight"], cfg.num_key_value_heads),
            f"blk.{i}.attn_v.weight": state[p + "self_attn.v_proj.weight"],
            f"blk.{i}.attn_output.weight": state[p + "self_attn.o_proj.weight"],
            f"blk.{i}.ffn_norm.weight": state[p + "post_attention_layernorm.weight"],
            f"blk.{i}.ffn_gate.weight": state[p + "mlp.gate_proj.weight"],
            f"blk.{i}.ffn_up.weight": state[p + "mlp.up_proj.weight"],
            f"blk.{i}.ffn_down.weight": state[p + "mlp.down_proj.weight"],
        }
    return tensors  # no "output.weight": embeddings are tied, which is how llama.cpp marks that
