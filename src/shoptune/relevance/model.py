"""One relevance model for many pair tasks: a backbone, a routing, and 3-way heads on the unified scale.

Routing (how the model knows which task a pair belongs to):

``none``       no task information: one shared head (the prefix ablation's baseline);
``prefix``     the task's name as a text prefix, one shared head;
``multihead``  shared backbone, one head per task;
``mhp``        multi-head plus private copies of the top k transformer layers per task.

Families: ``cross_encoder`` (any HF encoder via AutoModel, fully fine-tuned, pooled [CLS] / pooler output) and
``decoder`` (any causal LM's base model, LoRA on the shared layers, heads on the last token's hidden state).

MHP is implemented without touching the backbone's code: the shared layer list is cut to L-k layers, and for
each forward pass the task's private k layers are appended and removed again. The backbone's own forward
(masks, rotary positions, ...) therefore runs unchanged for any architecture whose blocks sit in one
``nn.ModuleList``. Batches are task-homogeneous (MT-DNN style), so a forward pass serves exactly one task.

Example:
    >>> from shoptune.relevance.config import ModelSpec
    >>> model, tok = build_model(ModelSpec(name="tests/tiny-enc", routing="mhp"), ["a", "b"])  # doctest: +SKIP
    >>> batch = collate(encode_pairs(tok, model.info, ["red"], ["red shoe"], ["a"]), tok.pad_token_id)  # doctest: +SKIP
    >>> model(batch, "a").shape  # doctest: +SKIP
    torch.Size([1, 3])
"""

from __future__ import annotations

import contextlib
import copy
import json
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from shoptune.errors import ShoptuneError
from shoptune.models import check_safetensors_only
from shoptune.records import LABELS
from shoptune.relevance.config import ModelSpec
from shoptune.text import clip_chars

ARTIFACT_FILE = "relevance.json"
EXTRAS_FILE = "heads_and_private.safetensors"
FORMAT_VERSION = 1

# peft and transformers warn about APIs they call themselves; nothing a user could act on.
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)


@dataclass
class ModelInfo:
    """What a trained relevance model is: enough to rebuild it and to format its inputs."""

    family: str
    routing: str
    tasks: list[str]
    base_model: str
    private_layers: int = 0
    max_length: int = 128
    task_prefix: bool = False
    labels: list[str] = field(default_factory=lambda: list(LABELS))
    #: Per task: the adapter, view and view params it was built from (eval maps raw files through this).
    task_sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Fitted decision rules (per-task temperature and label biases; :mod:`shoptune.relevance.decision`), stored
    #: as JSON; None = argmax (models trained before rules existed, or with ``decision.rule: argmax``).
    decision: dict[str, Any] | None = None

    @property
    def per_task_heads(self) -> bool:
        return self.routing in ("multihead", "mhp")


# --------------------------------------------------------------------------------------------- inputs
DECODER_TEMPLATE = ("Left: ", "\nRight: ", "\nRelevance:")


def encode_pairs(
    tokenizer: PreTrainedTokenizerBase,
    info: ModelInfo,
    lefts: Sequence[str],
    rights: Sequence[str],
    tasks: Sequence[str],
) -> list[dict[str, list[int]]]:
    """Token ids (and segment ids for encoders) of each pair, cut to ``info.max_length``.

    The cross-encoder reads ``[CLS] (task: )left [SEP] right [SEP]``; the decoder reads
    ``(task\\n)Left: left\\nRight: right\\nRelevance:`` and is pooled on the final ':' token. Both cut the
    longer side first, so the prefix and the decoder's template always survive.

    Each text is first cut to a character bound tied to ``info.max_length`` (:func:`shoptune.text.clip_chars`), so
    a huge text costs no more than one just over the limit; on real data the tokens kept are the same. (Only
    when both sides of a pair are over the bound and the budget is odd can the side that keeps the odd token
    differ, as the tokenizer then compares the clipped sides' lengths.)
    """
    lefts = [clip_chars(text, info.max_length) for text in lefts]
    rights = [clip_chars(text, info.max_length) for text in rights]
    if info.family == "decoder":
        return _encode_decoder(tokenizer, info, lefts, rights, tasks)
    out: list[dict[str, list[int]]] = [{} for _ in lefts]
    by_task: dict[str, list[int]] = {}
    for i, task in enumerate(tasks):
        by_task.setdefault(task, []).append(i)
    for task, members in by_task.items():
        # The prefix is inserted after truncation, so a long pair can never cut it.
        prefix = tokenizer(f"{task}:", add_special_tokens=False)["input_ids"] if info.task_prefix else []
        enc = tokenizer(
            [lefts[i] for i in members],
            [rights[i] for i in members],
            truncation="longest_first",
            max_length=info.max_length - len(prefix),
        )
        keys = [k for k in ("input_ids", "token_type_ids") if k in enc]
        for j, i in enumerate(members):
            feature = {k: list(enc[k][j]) for k in keys}
            if prefix:
                start = enc.sequence_ids(j).index(0)  # first token of the left text, after [CLS] / <s>
                feature["input_ids"][start:start] = prefix
                if "token_type_ids" in feature:
                    feature["token_type_ids"][start:start] = [0] * len(prefix)
            out[i] = feature
    return out


def _encode_decoder(
    tokenizer: PreTrainedTokenizerBase,
    info: ModelInfo,
    lefts: Sequence[str],
    rights: Sequence[str],
    tasks: Sequence[str],
) -> list[dict[str, list[int]]]:
    def ids(texts: Sequence[str]) -> list[list[int]]:
        return tokenizer(list(texts), add_special_tokens=False)["input_ids"]

    head, mid, tail = (ids([piece])[0] for piece in DECODER_TEMPLATE)
    prefixes = {t: ids([f"{t}\n"])[0] if info.task_prefix else [] for t in set(tasks)}
    out = []
    for left, right, task in zip(ids(lefts), ids(rights), tasks, strict=True):
        fixed = len(prefixes[task]) + len(head) + len(mid) + len(tail)
        n_left, n_right = fit_longest_first(len(left), len(right), info.max_length - fixed)
        out.append({"input_ids": [*prefixes[task], *head, *left[:n_left], *mid, *right[:n_right], *tail]})
    return out


def fit_longest_first(a: int, b: int, budget: int) -> tuple[int, int]:
    """Lengths to keep of two sides so they fit ``budget``, trimming the longer side first.

    >>> fit_longest_first(10, 3, 8), fit_longest_first(10, 9, 8), fit_longest_first(2, 3, 8)
    ((5, 3), (4, 4), (2, 3))
    """
    budget = max(budget, 0)
    if a + b <= budget:
        return a, b
    short = min(a, b)
    if short <= budget // 2:
        return (budget - short, b) if a > b else (a, budget - short)
    half = budget // 2
    # The longer side (the left one on a tie) keeps the odd token, as tokenizers' longest_first does.
    return (budget - half, half) if a >= b else (half, budget - half)


def collate(features: Sequence[dict[str, list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a list of encoded pairs into a batch with an attention mask.

    >>> collate([{"input_ids": [5, 6, 7]}, {"input_ids": [8]}], 0)["attention_mask"].tolist()
    [[1, 1, 1], [1, 0, 0]]
    """
    longest = max(len(f["input_ids"]) for f in features)
    batch: dict[str, torch.Tensor] = {}
    for key in features[0]:
        fill = pad_id if key == "input_ids" else 0
        batch[key] = torch.tensor([f[key] + [fill] * (longest - len(f[key])) for f in features], dtype=torch.long)
    batch["attention_mask"] = torch.tensor(
        [[1] * len(f["input_ids"]) + [0] * (longest - len(f["input_ids"])) for f in features], dtype=torch.long
    )
    return batch


# --------------------------------------------------------------------------------------------- model
def find_layers(backbone: nn.Module) -> nn.ModuleList:
    """The backbone's list of transformer blocks (BERT ``encoder.layer``, Llama ``layers``, GPT-2 ``h``, ...)."""
    n_layers = getattr(getattr(backbone, "config", None), "num_hidden_layers", None)
    lists = [m for m in backbone.modules() if isinstance(m, nn.ModuleList) and len(m) > 0]
    for candidate in lists:
        if n_layers is None or len(candidate) == n_layers:
            return candidate
    raise ShoptuneError(f"cannot find the transformer block list of {type(backbone).__name__} (needed for mhp)")


#: Encoders whose layers take ``(hidden_states, additive_mask)``: mhp's private tail runs them on its own.
BERT_LIKE = frozenset({"bert", "roberta", "xlm-roberta", "camembert", "electra"})


class RelevanceModel(nn.Module):
    """Backbone + routing + 3-way head(s). ``forward(batch, task)`` returns logits over :data:`LABELS`."""

    def __init__(self, backbone: nn.Module, info: ModelInfo, head_dropout: float = 0.1) -> None:
        super().__init__()
        self.info = info
        self.backbone = backbone
        config = backbone.config
        hidden = config.hidden_size
        self.layers = find_layers(backbone) if info.routing == "mhp" else None
        self.private = nn.ModuleDict()
        if info.routing == "mhp":
            total = len(self.layers)
            k = info.private_layers
            if not 0 < k < total:
                raise ShoptuneError(f"mhp needs 0 < private_layers < {total} (the backbone's layers), got {k}")
            top = list(self.layers[total - k :])
            for task in info.tasks:
                self.private[task] = nn.ModuleList(copy.deepcopy(top))
            del self.layers[total - k :]
        self.dropout = nn.Dropout(head_dropout)
        names = info.tasks if info.per_task_heads else ["shared"]
        self.heads = nn.ModuleDict({name: nn.Linear(hidden, len(info.labels)) for name in names})
        for head in self.heads.values():
            nn.init.normal_(head.weight, std=0.02)
            nn.init.zeros_(head.bias)

    def head(self, task: str) -> nn.Linear:
        return self.heads[task if self.info.per_task_heads else "shared"]

    @contextlib.contextmanager
    def routed(self, task: str) -> Iterator[None]:
        """Within this block the backbone runs with ``task``'s private top layers (mhp); otherwise a no-op."""
        if self.layers is None:
            yield
            return
        if task not in self.private:
            raise ShoptuneError(f"task {task!r} has no private layers (tasks: {', '.join(self.info.tasks)})")
        shared = len(self.layers)
        self.layers.extend(self.private[task])
        try:
            yield
        finally:
            del self.layers[shared:]

    def pooled(self, batch: dict[str, torch.Tensor], task: str) -> torch.Tensor:
        """The pair's vector: the pooler output / [CLS] state (encoder) or the last real token's state (decoder)."""
        inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        if self.info.family == "decoder":
            inputs["use_cache"] = False
        with self.routed(task):
            out = self.backbone(**inputs)
        if self.info.family == "cross_encoder":
            pooler = getattr(out, "pooler_output", None)
            return pooler if pooler is not None else out.last_hidden_state[:, 0]
        last = batch["attention_mask"].sum(dim=1) - 1  # right padding: the last real token
        return out.last_hidden_state[torch.arange(last.shape[0], device=last.device), last]

    def forward(self, batch: dict[str, torch.Tensor], task: str) -> torch.Tensor:
        return self.head(task)(self.dropout(self.pooled(batch, task)))

    # ------------------------------------------------------------------------ batches that mix tasks
    @property
    def shares_trunk(self) -> bool:
        """Whether rows of different tasks can share one trunk pass (:meth:`mixed_logits`): cross-encoders whose
        routing ends in a head, and mhp on BERT-style layers (the tail calls a layer with hidden states and an
        additive mask; other encoders' layers want more, e.g. rotary positions)."""
        if self.info.family != "cross_encoder":
            return False
        return self.info.routing != "mhp" or getattr(self.backbone.config, "model_type", "") in BERT_LIKE

    def trunk(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The part every task shares (cross-encoders): the hidden states after the shared layers (mhp), or the
        pooled pair vector (prefix, multihead, none), for rows of any tasks."""
        if self.info.family != "cross_encoder":
            raise ShoptuneError("trunk/tail split: only cross-encoders share one trunk pass across tasks")
        inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        out = self.backbone(**inputs)  # mhp: ``self.layers`` holds only the shared layers outside ``routed``
        if self.info.routing == "mhp":
            return out.last_hidden_state
        pooler = getattr(out, "pooler_output", None)
        return pooler if pooler is not None else out.last_hidden_state[:, 0]

    def tail(self, hidden: torch.Tensor, attention_mask: torch.Tensor | None, task: str) -> torch.Tensor:
        """One task's end on :meth:`trunk`'s output: its private layers and the pooler (mhp), then its head."""
        if self.info.routing == "mhp":
            if task not in self.private:
                raise ShoptuneError(f"task {task!r} has no private layers (tasks: {', '.join(self.info.tasks)})")
            # The additive mask the encoder builds for its own layers: 0 where a token is real, the dtype's
            # minimum where it is padding (so padding never changes a score).
            blocked = torch.finfo(hidden.dtype).min
            mask = torch.zeros(attention_mask.shape, dtype=hidden.dtype, device=hidden.device)
            mask = mask.masked_fill(attention_mask == 0, blocked)
            for layer in self.private[task]:
                hidden = layer(hidden, mask[:, None, None, :])
            pooler = getattr(self.backbone, "pooler", None)
            hidden = pooler(hidden) if pooler is not None else hidden[:, 0]
        return self.head(task)(self.dropout(hidden))

    def mixed_logits(self, batch: dict[str, torch.Tensor], tasks: Sequence[str]) -> torch.Tensor:
        """Logits of a batch whose rows may belong to different tasks. A cross-encoder runs its trunk once over
        every row, then each task's tail over its rows (a mixed-task stream shares its encoder passes); other models
        (decoders, mhp on non-BERT encoders: :attr:`shares_trunk`) run one forward per task on that task's rows.

        Example:
            >>> batch = collate(feats, pad_id)  # doctest: +SKIP
            >>> logits = model.mixed_logits(batch, ["hd_query_product", "wands_query_class"])  # doctest: +SKIP
        """
        groups: dict[str, list[int]] = {}
        for i, task in enumerate(tasks):
            groups.setdefault(task, []).append(i)
        out = torch.empty((len(tasks), len(self.info.labels)), device=batch["input_ids"].device)
        if not self.shares_trunk:
            for task, rows in groups.items():
                out[rows] = self({k: v[rows] for k, v in batch.items()}, task).float()
            return out
        hidden = self.trunk(batch)
        mask = batch["attention_mask"]
        for task, rows in groups.items():
            out[rows] = self.tail(hidden[rows], mask[rows], task).float()
        return out

    # ------------------------------------------------------------------------------ parameter groups
    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Trainable parameters by role: shared backbone (full or LoRA), private layers, heads."""
        groups: dict[str, list[nn.Parameter]] = {"shared": [], "private": [], "heads": []}
        for name, param in self.named_parameters():
            if not param.requires_grad:
                continue
            role = name.split(".", 1)[0]
            groups["private" if role == "private" else "heads" if role == "heads" else "shared"].append(param)
        return groups


# --------------------------------------------------------------------------------------------- building
def build_model(
    spec: ModelSpec, tasks: Sequence[str], *, seed: int = 0, task_sources: dict[str, dict[str, Any]] | None = None
) -> tuple[RelevanceModel, PreTrainedTokenizerBase]:
    """A fresh relevance model on a pretrained backbone (heads seeded with ``seed``).

    Example:
        >>> model, tok = build_model(ModelSpec(family="decoder", routing="prefix"), ["t"])  # doctest: +SKIP
    """
    from shoptune.models import load_causal_lm, load_encoder_tokenizer, resolve_model

    name = spec.model_name
    try:
        kind = resolve_model(name).kind
        if spec.family == "cross_encoder":
            if kind == "causal_lm":
                raise ShoptuneError(f"{name!r} is a causal LM; use model.family: decoder for it")
            backbone, tokenizer = load_encoder_tokenizer(name)
        else:
            if kind == "encoder":
                raise ShoptuneError(f"{name!r} is an encoder; use model.family: cross_encoder for it")
            lm, tokenizer = load_causal_lm(name)
            backbone = lm.base_model  # the transformer without the LM head: no vocabulary-sized logits to pay for
    except ValueError as exc:  # ModelNotFoundError and friends: one readable line
        raise ShoptuneError(str(exc)) from None
    info = ModelInfo(
        family=spec.family,
        routing=spec.routing,
        tasks=list(tasks),
        base_model=name,
        private_layers=spec.private_layers if spec.routing == "mhp" else 0,
        max_length=spec.max_length,
        task_prefix=spec.routing == "prefix",
        task_sources=dict(task_sources or {}),
    )
    torch.manual_seed(seed)
    model = RelevanceModel(backbone, info, head_dropout=spec.head_dropout)
    if spec.family == "decoder":
        _add_lora(model, spec)
    return model, tokenizer


def _add_lora(model: RelevanceModel, spec: ModelSpec) -> None:
    """Wrap the (already cut) shared backbone with LoRA; private layers and heads stay fully trainable."""
    from peft import get_peft_model

    from shoptune.models.lora import peft_lora_config

    if not spec.lora.enabled:
        return  # every backbone weight trains
    # No task_type: the backbone is the transformer without its LM head, not a causal LM peft should wrap as one.
    model.backbone = get_peft_model(model.backbone, peft_lora_config(spec.lora))
    for module in (model.private, model.heads):
        for param in module.parameters():
            param.requires_grad_(True)


# --------------------------------------------------------------------------------------------- saving
def save_model(model: RelevanceModel, tokenizer: PreTrainedTokenizerBase, out: str | Path) -> Path:
    """Write a self-contained, servable artifact folder.

    Layout: ``relevance.json`` (ModelInfo), ``backbone/`` (a plain HF model + tokenizer; LoRA merged in; for
    mhp the full-depth model of the first task), ``heads_and_private.safetensors`` (heads and private layers).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    backbone = model.backbone
    if hasattr(backbone, "merge_and_unload"):  # peft: fold LoRA into the weights, so serving needs no peft
        backbone = copy.deepcopy(backbone).merge_and_unload()
    first = model.info.tasks[0]
    with _full_depth(model, backbone, first):
        backbone.save_pretrained(out / "backbone")
    tokenizer.save_pretrained(out / "backbone")
    extras = {f"heads.{k}": v.detach().contiguous() for k, v in model.heads.state_dict().items()}
    extras.update({f"private.{k}": v.detach().contiguous() for k, v in model.private.state_dict().items()})
    save_file(extras, str(out / EXTRAS_FILE))
    meta = {"format": "shoptune-relevance", "version": FORMAT_VERSION, "kind": "model", **asdict(model.info)}
    (out / ARTIFACT_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return out


@contextlib.contextmanager
def _full_depth(model: RelevanceModel, backbone: nn.Module, task: str) -> Iterator[None]:
    """Temporarily give ``backbone`` (possibly a merged copy) ``task``'s private layers at the top."""
    if model.layers is None:
        yield
        return
    layers = find_layers_cut(backbone, len(model.layers))
    shared = len(layers)
    layers.extend(model.private[task])
    try:
        yield
    finally:
        del layers[shared:]


def find_layers_cut(backbone: nn.Module, n_shared: int) -> nn.ModuleList:
    """The block list of a backbone whose top layers were cut off (its config still says the full depth)."""
    for module in backbone.modules():
        if isinstance(module, nn.ModuleList) and len(module) == n_shared and n_shared > 0:
            return module
    raise ShoptuneError("cannot find the shared transformer blocks of the backbone")


def load_model(path: str | Path) -> tuple[RelevanceModel, PreTrainedTokenizerBase]:
    """Load an artifact written by :func:`save_model` (in eval mode).

    Example:
        >>> model, tok = load_model("runs/rel/model")  # doctest: +SKIP
    """
    path = Path(path)
    meta = read_artifact(path)
    if meta.get("kind") != "model":
        raise ShoptuneError(f"{path}: a {meta.get('kind')} artifact, not a single model (use load_predictor)")
    fields = {k: v for k, v in meta.items() if k in ModelInfo.__dataclass_fields__}
    info = ModelInfo(**fields)
    check_safetensors_only(path / "backbone")  # a backbone of pickled weights is refused, unread
    # A saved artifact is always local: a missing backbone folder must not be looked up on the hub.
    backbone: PreTrainedModel = AutoModel.from_pretrained(
        str(path / "backbone"), dtype=torch.float32, local_files_only=True, use_safetensors=True
    )
    tokenizer = AutoTokenizer.from_pretrained(str(path / "backbone"), local_files_only=True)
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    model = RelevanceModel(backbone, info, head_dropout=0.0)
    extras = load_file(str(path / EXTRAS_FILE))
    missing, unexpected = model.load_state_dict(extras, strict=False)
    expected = {k for k in model.state_dict() if k.startswith(("heads.", "private."))}
    absent = sorted(expected & set(missing))
    if absent or unexpected:
        raise ShoptuneError(
            f"{path / EXTRAS_FILE}: does not match relevance.json (missing {absent[:3]}, "
            f"unexpected {list(unexpected)[:3]})"
        )
    model.eval()
    return model, tokenizer


def read_artifact(path: str | Path) -> dict[str, Any]:
    """The ``relevance.json`` of a model, ensemble or per-task artifact folder."""
    file = Path(path) / ARTIFACT_FILE
    if not file.is_file():
        raise ShoptuneError(f"{path}: not a relevance model folder (no {ARTIFACT_FILE})")
    from shoptune.data.readers import read_json  # damaged JSON or bytes: one line naming the file

    meta = read_json(file)
    if not isinstance(meta, dict) or meta.get("format") != "shoptune-relevance":
        raise ShoptuneError(f"{file}: not a shoptune relevance artifact")
    return meta


def export_sequence_classifier(
    model: RelevanceModel, tokenizer: PreTrainedTokenizerBase, task: str, out: str | Path
) -> Path:
    """Write one task's slice of a cross-encoder as a plain ``AutoModelForSequenceClassification`` folder.

    The backbone (with ``task``'s private layers on top for mhp) plus ``task``'s head become e.g. a
    ``BertForSequenceClassification`` with 3 labels, which sentence-transformers' ``CrossEncoder`` loads as is
    (a prefix-routed model additionally needs ``"task: "`` in front of each left text).

    Example:
        >>> export_sequence_classifier(model, tok, "hd_query_product", "exports/hd")  # doctest: +SKIP
        >>> CrossEncoder("exports/hd", max_length=128).predict([("drill", "cordless drill")])  # doctest: +SKIP
    """
    from transformers import AutoModelForSequenceClassification

    if model.info.family != "cross_encoder":
        raise ShoptuneError("only cross-encoders export as sequence classifiers")
    config = copy.deepcopy(model.backbone.config)
    config.num_labels = len(model.info.labels)
    config.id2label = dict(enumerate(model.info.labels))
    config.label2id = {label: i for i, label in enumerate(model.info.labels)}
    config.architectures = None
    seq = AutoModelForSequenceClassification.from_config(config)
    classifier = getattr(seq, "classifier", None)
    base = getattr(seq, seq.base_model_prefix)
    if not isinstance(classifier, nn.Linear) or getattr(base, "pooler", None) is None:
        raise ShoptuneError(f"{type(seq).__name__} is not pooler -> linear classifier; cannot export exactly")
    with model.routed(task):
        base.load_state_dict(model.backbone.state_dict(), strict=True)
    head = model.head(task)
    with torch.no_grad():
        classifier.weight.copy_(head.weight)
        classifier.bias.copy_(head.bias)
    out = Path(out)
    seq.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def count_parameters(model: nn.Module) -> int:
    """Unique parameters (shared tensors counted once)."""
    seen: dict[int, int] = {}
    for param in model.parameters():
        seen[id(param)] = param.numel()
    return sum(seen.values())
