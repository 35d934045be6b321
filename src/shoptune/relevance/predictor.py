"""Serving relevance models: one predictor interface over single models, per-task collections and ensembles.

Fast path on CPU: pairs are tokenized once, grouped by task, sorted by length and cut into dynamic batches
under a token budget (short pairs travel in big batches, long ones in small), run under
``torch.inference_mode`` and, when the CPU has native bf16 (avx512_bf16 / AMX), bf16 autocast.

Decisions: a model artifact may carry fitted decision rules (:mod:`.decision`: a per-task temperature and label
biases). ``predict_proba`` returns the served probabilities (the temperature applied), ``predict`` also the
labels of the rule and of plain argmax; a model without rules is served by argmax.

Example:
    >>> predictor = load_predictor("runs/rel/model")  # doctest: +SKIP
    >>> pair = Pair("1", "hd_query_product", "angle bracket", "Simpson angle")
    >>> probs = predictor.predict_proba([pair])  # doctest: +SKIP
    >>> probs.shape  # doctest: +SKIP
    (1, 3)
    >>> LABELS[predictor.predict([pair]).labels[0]]  # doctest: +SKIP
    'partial'
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

import numpy as np
import torch

from shoptune import validate
from shoptune.errors import ArgumentTypeError, DataError, ShoptuneError, python_api
from shoptune.records import LABELS
from shoptune.relevance.config import Family, Routing
from shoptune.relevance.data import Pair
from shoptune.relevance.decision import DecisionRules
from shoptune.relevance.export import EXPORT_KIND, ExportedModel, check_export_meta, load_exported
from shoptune.relevance.model import (
    ARTIFACT_FILE,
    EXTRAS_FILE,
    RelevanceModel,
    collate,
    encode_pairs,
    load_model,
    read_artifact,
)
from shoptune.tasks.spec import TASK_NAME_PATTERN
from shoptune.training.batching import length_grouped

Progress = Callable[[int], None]
Bf16 = bool | Literal["auto"]


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (otherwise autocast to bf16 is slower than float32).

    >>> isinstance(cpu_has_bf16(), bool)
    True
    """
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(flag in flags for flag in ("avx512_bf16", "amx_bf16"))


def use_bf16(setting: Bf16, device: torch.device | None = None) -> bool:
    """Whether to autocast to bf16: "auto" asks the device that computes (a GPU's bf16 support, else the CPU's)."""
    if setting != "auto":
        return bool(setting)
    if device is not None and device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return cpu_has_bf16()


@dataclass
class Prediction:
    """Scores of pairs (rows in input order): probabilities and label indices into :data:`LABELS`."""

    #: Served probabilities: the model's softmax with its fitted temperature (ensembles: see EnsemblePredictor).
    probs: np.ndarray
    #: The model's own probabilities, before any temperature (== probs without one).
    raw: np.ndarray
    #: Labels by argmax (ensembles: the vote of the members' argmax labels); always the argmax of ``probs``.
    argmax: np.ndarray
    #: Labels by the fitted decision rule (== argmax without one): what is served.
    labels: np.ndarray

    @classmethod
    def empty(cls, n: int) -> Prediction:
        zeros = np.zeros((n, len(LABELS)), dtype=np.float32)
        return cls(zeros, zeros.copy(), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64))

    @classmethod
    def from_raw(cls, raw: np.ndarray, tasks: Sequence[str], rules: DecisionRules | None) -> Prediction:
        """Apply ``rules`` (None: argmax) to raw probability rows of pairs of ``tasks``."""
        if rules is None:
            argmax = raw.argmax(axis=-1)
            return cls(raw, raw, argmax, argmax)
        probs, labels = rules.apply(raw, tasks)
        return cls(probs, raw, raw.argmax(axis=-1), labels)

    def put(self, rows: Sequence[int], part: Prediction) -> None:
        for name in ("probs", "raw", "argmax", "labels"):
            getattr(self, name)[list(rows)] = getattr(part, name)


class Predictor(Protocol):
    """Anything that scores pairs on the 3-point scale."""

    tasks: list[str]

    def predict_proba(self, pairs: Sequence[Pair], progress: Progress | None = None) -> np.ndarray: ...


def predict_with(predictor: Predictor, pairs: Sequence[Pair], progress: Progress | None = None) -> Prediction:
    """``predictor.predict`` for predictors that decide with rules; argmax of ``predict_proba`` for any other."""
    predict = getattr(predictor, "predict", None)
    if callable(predict):
        return predict(pairs, progress)
    probs = np.asarray(predictor.predict_proba(pairs, progress))
    return Prediction.from_raw(probs, [p.task for p in pairs], None)


#: A mixed-task batch's padded tokens stay within this multiple of its real ones (rows of different tasks differ
#: widely in length; 32 mixed pairs packed by the token budget alone were 69% padding, 1.5x the compute).
MAX_PADDING = 1.25


class ModelPredictor:
    """Batched inference of one :class:`RelevanceModel`.

    Moderate batches are fastest on CPU: 2048 padded tokens / 32 pairs ran ~1.3x faster than 8192 / 256 with
    MiniLM on one core (the activations of a big batch fall out of cache).
    """

    def __init__(
        self,
        model: RelevanceModel | ExportedModel,
        tokenizer: Any,
        *,
        max_tokens: int = 2048,
        max_batch_size: int = 32,
        bf16: Bf16 = "auto",
        rules: DecisionRules | None = None,
    ) -> None:
        # A RelevanceModel runs in torch; an ExportedModel (``relevance export``) in OpenVINO / ONNX Runtime.
        self.model = model.eval() if isinstance(model, RelevanceModel) else model
        #: Where the torch model's batches go (the model's own device: the GPU when load_predictor found one).
        self.device = next(model.parameters()).device if isinstance(model, RelevanceModel) else torch.device("cpu")
        self.tokenizer = tokenizer
        self.tasks = list(model.info.tasks)
        self.max_tokens = max_tokens
        self.max_batch_size = max_batch_size
        self.bf16 = use_bf16(bf16, self.device)
        #: The decision rules served (by default the model's own, from its relevance.json; None = argmax).
        self.rules = rules if rules is not None else model_rules(model)

    def predict_proba(self, pairs: Sequence[Pair], progress: Progress | None = None) -> np.ndarray:
        """Served probabilities over :data:`LABELS` (rows in input order; the model's temperature applied)."""
        return self.predict(pairs, progress).probs

    def predict(self, pairs: Sequence[Pair], progress: Progress | None = None) -> Prediction:
        """Probabilities and labels (argmax and the model's decision rule) of ``pairs``."""
        return Prediction.from_raw(self.raw_proba(pairs, progress), [p.task for p in pairs], self.rules)

    def decision_summary(self) -> dict[str, dict[str, Any]]:
        """Per task: the rule served (``decision_rule``, ``temperature``, ``decision_bias``)."""
        out: dict[str, dict[str, Any]] = {}
        for task in self.tasks:
            rule = self.rules.tasks.get(task) if self.rules is not None else None
            if rule is None:
                out[task] = {"decision_rule": "argmax", "temperature": 1.0}
            else:
                out[task] = {"decision_rule": rule.rule, "temperature": rule.temperature, "decision_bias": rule.bias}
        return out

    def raw_proba(self, pairs: Sequence[Pair], progress: Progress | None = None) -> np.ndarray:
        """The model's softmax over :data:`LABELS` (rows in input order), before any temperature."""
        check_tasks(pairs, self.tasks)
        out = np.zeros((len(pairs), len(LABELS)), dtype=np.float32)
        if isinstance(self.model, ExportedModel) or self.model.shares_trunk:
            # A cross-encoder's tasks share each trunk pass: batch across tasks, by length (a mixed-task stream,
            # as a server sees, then runs as few encoder passes as a single-task one).
            return self._raw_proba_mixed(pairs, out, progress)
        by_task: dict[str, list[int]] = defaultdict(list)
        for i, pair in enumerate(pairs):
            by_task[pair.task].append(i)
        for task, members in by_task.items():
            feats = encode_pairs(
                self.tokenizer,
                self.model.info,
                [pairs[i].left for i in members],
                [pairs[i].right for i in members],
                [task] * len(members),
            )
            lengths = [len(f["input_ids"]) for f in feats]
            for batch in length_grouped(
                lengths, batch_tokens=self.max_tokens, max_batch=self.max_batch_size, window=None
            ):
                probs = self._mixed_forward([feats[j] for j in batch], [task] * len(batch))
                out[[members[j] for j in batch]] = probs
                if progress:
                    progress(len(batch))
        return out

    def _raw_proba_mixed(self, pairs: Sequence[Pair], out: np.ndarray, progress: Progress | None) -> np.ndarray:
        tasks = [p.task for p in pairs]
        feats = encode_pairs(self.tokenizer, self.model.info, [p.left for p in pairs], [p.right for p in pairs], tasks)
        lengths = [len(f["input_ids"]) for f in feats]
        batches = length_grouped(
            lengths, batch_tokens=self.max_tokens, max_batch=self.max_batch_size, window=None, max_padding=MAX_PADDING
        )
        for batch in batches:
            out[batch] = self._mixed_forward([feats[j] for j in batch], [tasks[j] for j in batch])
            if progress:
                progress(len(batch))
        return out

    def _mixed_forward(self, feats: list[dict[str, list[int]]], tasks: list[str]) -> np.ndarray:
        """Probabilities of one batch (its rows' tasks may differ: :meth:`RelevanceModel.mixed_logits`)."""
        batch = collate(feats, self.tokenizer.pad_token_id)
        if isinstance(self.model, ExportedModel):
            logits = torch.from_numpy(self.model.logits(batch, tasks))
        else:
            with torch.inference_mode(), self._autocast():
                logits = self.model.mixed_logits({k: v.to(self.device) for k, v in batch.items()}, tasks)
        return torch.softmax(logits.float(), dim=-1).cpu().numpy()

    def _autocast(self) -> Any:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)


def model_rules(model: RelevanceModel | ExportedModel) -> DecisionRules | None:
    """The decision rules stored with a model (``ModelInfo.decision``), or None (argmax)."""
    block = getattr(model.info, "decision", None)
    return DecisionRules.from_json(block) if block else None


class PerTaskPredictor:
    """One model per task (the single-task baselines), served behind one interface; models load lazily."""

    def __init__(self, members: dict[str, Path], **predictor_kwargs: Any) -> None:
        self.members = members
        self.tasks = sorted(members)
        self.kwargs = predictor_kwargs
        self._loaded: dict[str, ModelPredictor] = {}

    def member(self, task: str) -> ModelPredictor:
        if task not in self._loaded:
            model, tok = _load_model(self.members[task])
            self._loaded[task] = ModelPredictor(model, tok, **self.kwargs)
        return self._loaded[task]

    def predict_proba(self, pairs: Sequence[Pair], progress: Progress | None = None) -> np.ndarray:
        return self.predict(pairs, progress).probs

    def predict(self, pairs: Sequence[Pair], progress: Progress | None = None) -> Prediction:
        """Each task's pairs scored by its own model, with that model's decision rule."""
        check_tasks(pairs, self.tasks)
        out = Prediction.empty(len(pairs))
        by_task: dict[str, list[int]] = defaultdict(list)
        for i, pair in enumerate(pairs):
            by_task[pair.task].append(i)
        for task, members in by_task.items():
            out.put(members, self.member(task).predict([pairs[i] for i in members], progress))
        return out

    def decision_summary(self) -> dict[str, dict[str, Any]]:
        """Each loaded member's rule for its task (members load when they first score)."""
        return {task: m.decision_summary().get(task, {}) for task, m in self._loaded.items()}


def vote(member_probs: np.ndarray, member_labels: np.ndarray | None = None) -> np.ndarray:
    """Majority vote over members' labels (default: their argmax); a tie goes to the tied label with the larger
    summed probability.

    ``member_probs`` is shaped (members, pairs, labels), ``member_labels`` (members, pairs); returns label indices
    per pair.

    >>> p = np.array([[[.6, .3, .1]], [[.1, .5, .4]], [[.2, .3, .5]]])  # one vote each: tie of all three
    >>> vote(p).tolist()  # summed: exact .9, partial 1.1, irrelevant 1.0
    [1]
    >>> vote(p, np.array([[2], [2], [2]])).tolist()  # every member's rule says irrelevant
    [2]
    """
    n_labels = member_probs.shape[-1]
    chosen = member_probs.argmax(axis=-1) if member_labels is None else np.asarray(member_labels)
    votes = np.eye(n_labels, dtype=np.int64)[chosen].sum(axis=0)  # (pairs, labels)
    summed = member_probs.sum(axis=0)
    top = votes == votes.max(axis=-1, keepdims=True)
    return np.where(top, summed, -np.inf).argmax(axis=-1)


class EnsemblePredictor:
    """Majority vote of several predictors (ties: the tied label with the largest summed probability).

    ``predict_proba`` returns the members' mean (served) probabilities, adjusted so that the vote of the members'
    argmax labels is the argmax (where vote and mean disagree, its mass is raised just above the runner-up), so
    every consumer of probabilities sees the vote. ``predict`` also votes with the members' decision rules:
    ``labels`` is the majority of the members' rule labels (each member's own rule; argmax for members without
    one), ties broken the same way; that is what the ensemble serves.
    """

    def __init__(self, members: list[Predictor], names: list[str] | None = None) -> None:
        if not members:
            raise ShoptuneError("an ensemble needs at least one member")
        self.members = members
        self.names = names or [str(i) for i in range(len(members))]
        self.tasks = sorted(set.intersection(*(set(m.tasks) for m in members)))

    def member_probs(self, pairs: Sequence[Pair], progress: Progress | None = None) -> np.ndarray:
        return np.stack([m.predict_proba(pairs, progress) for m in self.members])

    def predict_proba(self, pairs: Sequence[Pair], progress: Progress | None = None) -> np.ndarray:
        return self.predict(pairs, progress).probs

    def predict(self, pairs: Sequence[Pair], progress: Progress | None = None) -> Prediction:
        check_tasks(pairs, self.tasks)
        members = [predict_with(m, pairs, progress) for m in self.members]
        probs = np.stack([m.probs for m in members])
        probs_out = combine_votes(probs)
        raw = combine_votes(np.stack([m.raw for m in members]))
        labels = vote(probs, np.stack([m.labels for m in members]))
        return Prediction(probs_out, raw, probs_out.argmax(axis=-1), labels)

    def decision_summary(self) -> dict[str, dict[str, Any]]:
        return dict.fromkeys(self.tasks, {"decision_rule": "vote of the members' rules"})


def combine_votes(member_probs: np.ndarray) -> np.ndarray:
    """Probability rows whose argmax is the vote (see :class:`EnsemblePredictor`)."""
    mean = member_probs.mean(axis=0)
    winner = vote(member_probs)
    rows = np.arange(mean.shape[0])
    others = mean.copy()
    others[rows, winner] = -np.inf
    runner_up = others.max(axis=-1)
    lift = np.maximum(runner_up + 1e-6 - mean[rows, winner], 0.0)
    mean[rows, winner] += lift
    return mean / mean.sum(axis=-1, keepdims=True)


def check_tasks(pairs: Iterable[Pair], known: Sequence[str]) -> None:
    unknown = sorted({p.task for p in pairs} - set(known))
    if unknown:
        raise ShoptuneError(f"the model does not know task(s) {', '.join(unknown)} (it knows: {', '.join(known)})")


# --------------------------------------------------------------------------------------------- loading
#: Keys each artifact kind's ``relevance.json`` must have, with the JSON type they hold.
ARTIFACT_KEYS: dict[str, dict[str, type]] = {
    "model": {"family": str, "routing": str, "tasks": list, "base_model": str},
    EXPORT_KIND: {"family": str, "routing": str, "tasks": list, "base_model": str, "runtime": str, "graphs": dict},
    "per_task": {"members": dict},
    "ensemble": {"members": list},
}


def read_artifact_checked(path: str | Path) -> dict[str, Any]:
    """The ``relevance.json`` of an artifact folder, checked: one line naming the file when it is broken.

    Broken means: not UTF-8 JSON, not an object, an unknown ``kind``, a key of that kind missing or of the
    wrong type, a member entry without its path, ``task_sources`` not task -> {adapter, view, params}, or (kind
    ``model``) any key outside its schema (:func:`check_model_meta`) or the weight files it points to missing.

    Example:
        >>> read_artifact_checked("runs/rel/model")["kind"]  # doctest: +SKIP
        'model'
    """
    from shoptune.data.readers import read_json

    path = Path(path)
    file = path / ARTIFACT_FILE
    if not file.is_file():
        return read_artifact(path)  # its message: "not a relevance model folder (no relevance.json)"
    meta = read_json(file)
    if not isinstance(meta, dict):
        raise DataError(file, 0, "-", f"expected a JSON object, got {type(meta).__name__}")
    if meta.get("format") != "shoptune-relevance":
        raise DataError(file, 0, "format", "not a shoptune relevance artifact (expected 'shoptune-relevance')")
    kind = meta.get("kind")
    if kind not in ARTIFACT_KEYS:
        raise DataError(
            file, 0, "kind", f"unknown artifact kind {kind!r} (expected one of: {', '.join(ARTIFACT_KEYS)})"
        )
    for key, kind_type in ARTIFACT_KEYS[kind].items():
        if key not in meta:
            raise DataError(file, 0, key, f"missing key (a {kind} artifact needs: {', '.join(ARTIFACT_KEYS[kind])})")
        if not isinstance(meta[key], kind_type) or not meta[key]:
            raise DataError(file, 0, key, f"expected a non-empty {_json_type(kind_type)}, got {meta[key]!r:.60}")
    _check_task_sources(file, meta.get("task_sources"))
    if kind == "model":
        check_model_meta(path, meta)
    elif kind == EXPORT_KIND:
        check_info_meta(path, meta)
        check_export_meta(path, meta)
    elif kind == "per_task":
        for task, rel in meta["members"].items():
            if not isinstance(rel, str) or not rel:
                raise DataError(file, 0, f"members.{task}", f"expected a member folder path, got {rel!r:.60}")
    else:
        for i, member in enumerate(meta["members"]):
            if not isinstance(member, dict) or not isinstance(member.get("path"), str) or not member["path"]:
                raise DataError(file, 0, f"members.{i}.path", f"expected a member folder path, got {member!r:.60}")
    return meta


#: A task name as a task file may give it (:class:`shoptune.tasks.spec.TaskSpec`): no ".", no "/", no spaces.
TASK_NAME = re.compile(TASK_NAME_PATTERN)
#: The token budgets a model artifact may ask for (``model.max_length`` of the recipe).
MAX_LENGTH_RANGE = (8, 8192)
#: At most this many private top layers per task (mhp); the backbone's depth bounds it further.
MAX_PRIVATE_LAYERS = 64


def check_model_meta(path: Path, meta: dict[str, Any]) -> None:
    """The keys of a kind ``model`` ``relevance.json``, strictly: each of its JSON type (a boolean is ``true`` or
    ``false``, not ``"yes"``), numbers in range, the labels shoptune scores, task names a task file could have,
    and what it says about the backbone (its family, its depth for mhp) matching ``backbone/config.json``. A value
    that would crash the model or silently change its scores is reported here, as one line naming the key."""
    from shoptune.data.readers import read_json

    check_info_meta(path, meta)
    for needed in ("backbone/config.json", EXTRAS_FILE):
        if not (path / needed).is_file():
            raise DataError(path / needed, 0, "-", f"file not found (the model folder {path} is incomplete)")
    _check_backbone(path, meta, read_json(path / "backbone" / "config.json"))


def check_info_meta(path: Path, meta: dict[str, Any]) -> None:
    """The ModelInfo keys of a model's or an export's ``relevance.json`` (see :func:`check_model_meta`)."""
    file = path / ARTIFACT_FILE

    def bad(key: str, problem: str) -> DataError:
        return DataError(file, 0, key, problem)

    tasks = meta["tasks"]
    for task in tasks:
        if not isinstance(task, str) or not TASK_NAME.match(task):
            raise bad("tasks", f"{task!r:.40} is not a task name (lower-case letters, digits, '_' and '-')")
    if len(set(tasks)) != len(tasks):
        raise bad("tasks", "lists a task twice")
    for key, allowed in (("family", get_args(Family)), ("routing", get_args(Routing))):
        if meta.get(key) not in allowed:
            raise bad(key, f"{meta.get(key)!r:.40} is not one of {', '.join(allowed)}")
    if not meta["base_model"].strip():
        raise bad("base_model", "expected a model name, got an empty string")
    routing = meta["routing"]
    _json_int(file, meta, "max_length", 128, *MAX_LENGTH_RANGE)
    private = _json_int(file, meta, "private_layers", 0, 0, MAX_PRIVATE_LAYERS)
    if routing == "mhp" and private < 1:
        raise bad("private_layers", f"mhp routing needs at least 1 private layer, got {private}")
    if routing != "mhp" and private != 0:
        raise bad("private_layers", f"expected 0 for {routing} routing (only mhp has private layers), got {private}")
    prefix = meta.get("task_prefix", False)
    if not isinstance(prefix, bool):
        raise bad("task_prefix", f"expected true or false, got {prefix!r:.40}")
    if prefix != (routing == "prefix"):
        raise bad("task_prefix", f"expected {str(routing == 'prefix').lower()} for {routing} routing, got {prefix}")
    labels = meta.get("labels", list(LABELS))
    if labels != list(LABELS):
        raise bad("labels", f"expected {list(LABELS)} (the labels shoptune scores), got {labels!r:.60}")
    if meta.get("decision") is not None:
        DecisionRules.from_json(meta["decision"], file)  # a damaged rule is reported now, not at serving


def _json_int(file: Path, meta: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = meta.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(file, 0, key, f"expected a whole number, got {value!r:.40}")
    if not low <= value <= high:
        raise DataError(file, 0, key, f"expected a number from {low} to {high}, got {value}")
    return value


def _check_backbone(path: Path, meta: dict[str, Any], config: Any) -> None:
    """The family and the mhp depth of ``relevance.json`` against the saved backbone's ``config.json``."""
    from shoptune.models.resolve import detect_kind

    if not isinstance(config, dict):
        raise DataError(path / "backbone" / "config.json", 0, "-", "expected a JSON object")
    family, kind = meta["family"], detect_kind(config)
    if (family, kind) in (("cross_encoder", "causal_lm"), ("decoder", "encoder")):
        what = "a causal LM" if kind == "causal_lm" else "an encoder"
        raise DataError(path / ARTIFACT_FILE, 0, "family", f"{family}, but backbone/config.json is {what}")
    layers = config.get("num_hidden_layers")
    private = meta.get("private_layers", 0)
    if meta["routing"] == "mhp" and isinstance(layers, int) and not isinstance(layers, bool) and private >= layers:
        raise DataError(
            path / ARTIFACT_FILE,
            0,
            "private_layers",
            f"{private}, but the backbone has {layers} layers (mhp needs fewer private layers than that)",
        )


def _check_task_sources(file: Path, sources: Any) -> None:
    """``task_sources`` (optional): task name -> {adapter, view, params}, as the data build recorded them."""
    if sources is None:
        return
    if not isinstance(sources, dict):
        raise DataError(file, 0, "task_sources", f"expected an object of task name -> source, got {sources!r:.40}")
    for task, source in sources.items():
        key = f"task_sources.{task}"
        if not isinstance(source, dict):
            raise DataError(file, 0, key, f"expected an object with adapter, view and params, got {source!r:.40}")
        for name in ("adapter", "view"):
            if source.get(name) is not None and not isinstance(source[name], str):
                raise DataError(file, 0, f"{key}.{name}", f"expected a string, got {source[name]!r:.40}")
        if source.get("params") is not None and not isinstance(source["params"], dict):
            raise DataError(file, 0, f"{key}.params", f"expected an object, got {source['params']!r:.40}")


def _json_type(kind_type: type) -> str:
    return {str: "string", list: "list", dict: "object"}[kind_type]


def _load_model(path: Path) -> tuple[RelevanceModel, Any]:
    """load_model with the folder's damaged files reported as one line naming the folder.

    ``relevance.json`` is checked first (:func:`read_artifact_checked`); what is left to go wrong is in the weights
    and the backbone's files: unreadable (OSError, SafetensorError), or not the shapes ``relevance.json`` describes
    (RuntimeError from ``load_state_dict``: a head of the wrong size), or a backbone config transformers rejects
    (ValueError, KeyError, TypeError).
    """
    from safetensors import SafetensorError

    from shoptune.models import default_device

    read_artifact_checked(path)
    try:
        model, tokenizer = load_model(path)
        return model.to(default_device()), tokenizer
    except ShoptuneError as exc:  # load_model's own lines (weights not matching relevance.json): name the folder
        message = str(exc)
        raise ShoptuneError(message if str(path) in message else f"{path}: damaged model: {message}") from None
    except (OSError, SafetensorError) as exc:
        raise ShoptuneError(f"{path}: cannot load the relevance model ({_first_line(exc)})") from None
    except (RuntimeError, ValueError, KeyError, TypeError, IndexError, *_config_errors()) as exc:
        raise ShoptuneError(f"{path}: damaged model: {_first_line(exc)}") from None


def _config_errors() -> tuple[type[Exception], ...]:
    """What transformers raises for a ``config.json`` field of the wrong type (huggingface_hub's strict check)."""
    try:
        from huggingface_hub.errors import StrictDataclassError
    except ImportError:  # older huggingface_hub: no strict config dataclasses
        return ()
    return (StrictDataclassError,)


def _first_line(exc: BaseException) -> str:
    """The first non-empty line of an error, said plainly where the library's wording points elsewhere."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    first = lines[0] if lines else type(exc).__name__
    if first.startswith("Error(s) in loading state_dict") and len(lines) > 1:  # the details are on the next lines
        return f"{EXTRAS_FILE} does not match relevance.json ({lines[1][:200]})"
    if "ignore_mismatched_sizes" in first:  # "... look at the above report!": a report the CLI does not show
        return "the backbone's weights do not match backbone/config.json"
    if first.endswith(":") and len(lines) > 1:  # "Validation error for field 'hidden_size':" + the reason below
        first = f"{first} {lines[1]}"
    return first[:300]


@python_api
def load_predictor(path: str | Path, *, max_tokens: int = 2048, bf16: Bf16 = "auto") -> Predictor:
    """A predictor for any relevance artifact folder (``str`` or ``Path``): a model, a per-task collection or an
    ensemble. ``max_tokens``: padded tokens per batch (at least 1); ``bf16``: True, False or "auto".

    Example:
        >>> load_predictor("runs/ens").tasks  # doctest: +SKIP
        ['hd_query_product', 'wands_query_class']
    """
    path = validate.path_arg(path, "path")
    max_tokens = validate.positive_int(max_tokens, "max_tokens")
    if not isinstance(bf16, bool) and bf16 != "auto":
        raise ArgumentTypeError("bf16", f"must be True, False or 'auto', not {type(bf16).__name__}", bf16)
    meta = read_artifact_checked(path)
    kind = meta["kind"]
    if kind == "model":
        model, tok = _load_model(path)
        return ModelPredictor(model, tok, max_tokens=max_tokens, bf16=bf16)
    if kind == EXPORT_KIND:
        exported, tok = load_exported(path, meta, bf16=use_bf16(bf16))
        return ModelPredictor(exported, tok, max_tokens=max_tokens, bf16=False)
    if kind == "per_task":
        members = {task: member_path(path, rel) for task, rel in meta["members"].items()}
        for member in members.values():
            read_artifact_checked(member)  # a broken member fails now, not half way through scoring
        return PerTaskPredictor(members, max_tokens=max_tokens, bf16=bf16)
    paths = [member_path(path, m["path"]) for m in meta["members"]]
    return EnsemblePredictor(
        [load_predictor(p, max_tokens=max_tokens, bf16=bf16) for p in paths],
        [m.get("name", str(p)) for m, p in zip(meta["members"], paths, strict=True)],
    )


def member_path(root: Path, rel: str) -> Path:
    """A member path from a manifest: relative to the manifest's folder unless absolute."""
    p = Path(rel)
    return p if p.is_absolute() else (root / p)


def artifact_info(path: str | Path) -> dict[str, Any]:
    """The manifest of an artifact, with ``task_sources`` gathered from its members when it has none."""
    path = Path(path)
    meta = read_artifact_checked(path)
    if meta["kind"] in ("model", EXPORT_KIND):
        return meta
    sources: dict[str, Any] = dict(meta.get("task_sources") or {})
    paths = (
        [member_path(path, r) for r in meta["members"].values()]
        if meta["kind"] == "per_task"
        else [member_path(path, m["path"]) for m in meta["members"]]
    )
    for p in paths:
        for task, src in (artifact_info(p).get("task_sources") or {}).items():
            sources.setdefault(task, src)
    return {**meta, "task_sources": sources}


# --------------------------------------------------------------------------------------------- streaming
def stream_predictions(
    predictor: Predictor, pairs: Iterable[Pair], *, chunk: int = 4096, progress: Progress | None = None
) -> Iterator[tuple[Pair, np.ndarray, int]]:
    """(pair, served probabilities, served label index) in input order, scoring ``chunk`` pairs at a time."""
    buffer: list[Pair] = []
    for pair in pairs:
        buffer.append(pair)
        if len(buffer) >= chunk:
            yield from _scored(predictor, buffer, progress)
            buffer = []
    if buffer:
        yield from _scored(predictor, buffer, progress)


def _scored(
    predictor: Predictor, pairs: list[Pair], progress: Progress | None
) -> Iterator[tuple[Pair, np.ndarray, int]]:
    prediction = predict_with(predictor, pairs, progress)
    yield from zip(pairs, prediction.probs, (int(x) for x in prediction.labels), strict=True)


def prediction_row(pair: Pair, probs: np.ndarray, label: int | None = None) -> dict[str, Any]:
    """One line of predictions.jsonl: ``prediction`` is the served label (the decision rule's, ``label``; argmax of
    ``probs`` when not given), ``prediction_argmax`` the argmax of the probabilities."""
    argmax = LABELS[int(np.argmax(probs))]
    served = argmax if label is None else LABELS[int(label)]
    row: dict[str, Any] = {
        "id": pair.id,
        "task": pair.task,
        "left": pair.left,
        "right": pair.right,
        "prediction": served,
        "prediction_argmax": argmax,
        "probs": {k: round(float(v), 6) for k, v in zip(LABELS, probs, strict=True)},
    }
    if pair.label is not None:
        row["label"] = pair.label
        row["correct"] = served == pair.label
    return row
