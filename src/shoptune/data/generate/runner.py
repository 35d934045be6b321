"""`shoptune data generate`: plan the requests, send them in rounds, filter every reply, write the task.

Requests cycle through the seeds (request i asks about seed i mod n, its sample i div n) and are sent in rounds:
the first asks for 1.2 x target; each later one for what is still missing divided by the share kept so far (x 1.2),
until ``target`` examples pass every filter, ``max_requests`` were sent, or the token budget is spent. Quality
control reruns over all checkpointed replies after each round (it is deterministic), so filters may change on
``--resume`` and no reply is paid for twice.

Output (``OUT``)::

    examples.jsonl          the kept examples (instruction, input, options, output, groups, provenance)
    task/<name>.yaml        the task spec: add ``OUT/task`` to a build's task_dirs
    SOURCE.md               provenance: model, prompt, seeds, filters, counts
    report.json, report.md  what was requested, kept and dropped, by stage and cause
    dropped.jsonl           every dropped reply or example with its stage and cause
    checkpoints/            every reply as it arrived (see ``store``)
    generation.json         the config; a resumed run must keep what defines the requests

Example:
    >>> cfg = load_generate_config("configs/generate/shopper_requests.yaml")  # doctest: +SKIP
    >>> report = run_generation(cfg, "runs/generated/shopper_requests")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from shoptune.config import refuse_changed_config
from shoptune.data.generate import source as _source  # noqa: F401  (registers the `generated` adapter)
from shoptune.data.generate.assemble import Checks, Reject, assemble, parse_reply
from shoptune.data.generate.backends import Budget, Request, make_backend
from shoptune.data.generate.config import JINJA, GenerateConfig, task_spec
from shoptune.data.generate.quality import (
    Contamination,
    Deduplicator,
    Embedder,
    content_id,
    example_text,
    fixed_fields,
    judge_score,
    variable_text,
)
from shoptune.data.generate.report import write_outputs
from shoptune.data.generate.seeds import load_seeds
from shoptune.data.generate.store import ReplyStore
from shoptune.errors import ConfigError, ShoptuneError
from shoptune.io import atomic_write_json, claim_output, clean_stale, open_folder
from shoptune.tasks.registry import load_tasks
from shoptune.tasks.spec import TaskSpec

STATE_FILE = "generation.json"
Log = Callable[[str], None]


# ============================================================================================ requests
@dataclass
class Plan:
    """Request i, rendered from its seed: deterministic in (config, seeds)."""

    cfg: GenerateConfig
    seeds: list[dict[str, Any]]
    spec: TaskSpec

    def __post_init__(self) -> None:
        self.system = JINJA.from_string(self.cfg.prompt.system) if self.cfg.prompt.system else None
        self.user = JINJA.from_string(self.cfg.prompt.user)

    def context(self, i: int) -> dict[str, Any]:
        """What every template sees: the seed's fields (also as ``seed``), ``others``, ``sample`` and ``task``."""
        n = len(self.seeds)
        seed = self.seeds[i % n]
        rng = random.Random(f"{self.cfg.seed}:others:{i}")
        others: list[dict[str, Any]] = []
        if self.cfg.seeds.others:
            pool = [j for j in rng.sample(range(n), min(n, self.cfg.seeds.others + 1)) if j != i % n]
            others = [self.seeds[j] for j in pool[: self.cfg.seeds.others]]
        task = self.spec.model_dump(mode="json", include={"name", "capability", "kind", "language", "description"})
        flat = {k: v for k, v in seed.items() if k != "task"}
        return {**flat, "seed": seed, "others": others, "sample": i // n, "task": task}

    def request(self, i: int) -> Request:
        ctx = self.context(i)
        try:
            messages = []
            if self.system is not None:
                messages.append({"role": "system", "content": self.system.render(**ctx)})
            messages.append({"role": "user", "content": self.user.render(**ctx)})
        except jinja2.UndefinedError as exc:
            fields = ", ".join(sorted(k for k in ctx if k != "seed"))
            raise ConfigError(self.cfg.template_message("prompt", f"{exc.message} (variables: {fields})")) from None
        except JINJA.render_errors as exc:
            raise ConfigError(self.cfg.template_message("prompt", exc)) from None
        seed = int(hashlib.sha256(f"{self.cfg.seed}:{i}".encode()).hexdigest()[:8], 16)
        return Request(id=request_id(i), messages=messages, seed=seed, meta={"index": i})


def request_id(i: int) -> str:
    return f"g{i:06d}"


class _Anything(str):
    """A stand-in reply for checking the record templates: every field and item exists."""

    def __getattr__(self, name: str) -> _Anything:
        return _Anything("x")

    def __getitem__(self, key: Any) -> _Anything:  # type: ignore[override]
        return _Anything("x")


def check_record_templates(plan: Plan) -> None:
    """Render the record templates once with a stand-in reply: a seed field they name that does not exist is a
    config error now, not a "missing_field" on every reply later."""
    record = plan.cfg.record
    ctx = {**plan.context(0), "response": _Anything("x"), "text": "x"}
    templates = {name: getattr(record, name) for name in ("instruction", "input", "output")}
    templates.update({f"options.{i}": t for i, t in enumerate(record.options or [])})
    for name, template in templates.items():
        if template is None:
            continue
        try:
            JINJA.from_string(template).render(**ctx)
        except jinja2.UndefinedError as exc:
            variables = ", ".join(sorted(ctx))
            raise ConfigError(
                plan.cfg.template_message(f"record.{name}", f"{exc.message} (variables: {variables})")
            ) from None
        except JINJA.render_errors as exc:
            raise ConfigError(plan.cfg.template_message(f"record.{name}", exc)) from None


def source_entities(context: dict[str, Any]) -> list[str]:
    """The ids of the source entities an example is built from: the group keys (``p:...``, ``q:...``) of its seed
    and of the ``others`` its prompt showed, in that order, each once."""
    keys: dict[str, None] = {}
    for record in [context["seed"], *context["others"]]:
        keys.update(dict.fromkeys(str(k) for k in (record.get("metadata") or {}).get("groups") or []))
    return list(keys)


# ============================================================================================ quality control
@dataclass
class Outcome:
    """One round's quality control over every reply so far."""

    kept: list[dict[str, Any]] = field(default_factory=list)
    dropped: dict[str, Counter[str]] = field(default_factory=dict)
    dropped_rows: list[dict[str, Any]] = field(default_factory=list)
    ok_replies: int = 0

    def drop(self, stage: str, cause: str, row: dict[str, Any]) -> None:
        self.dropped.setdefault(stage, Counter())[cause] += 1
        self.dropped_rows.append({"stage": stage, "cause": cause, **row})


class QualityControl:
    def __init__(self, cfg: GenerateConfig, spec: TaskSpec, plan: Plan, log: Log) -> None:
        self.cfg, self.spec, self.plan, self.log = cfg, spec, plan, log
        self.checks = Checks(cfg.filters, spec)
        self.contamination: Contamination | None = None
        if cfg.filters.decontam is not None:
            started = time.monotonic()
            self.contamination = Contamination(cfg.filters.decontam)
            log(
                f"decontamination index: {len(self.contamination.index):,} {cfg.filters.decontam.ngram}-grams "
                f"of {self.contamination.documents:,} evaluation items, {len(self.contamination.entities):,} "
                f"evaluation entity keys ({time.monotonic() - started:.0f} s)"
            )
        self.embedder = Embedder(cfg.filters.dedup.embedding_model) if cfg.filters.dedup.near == "embedding" else None
        #: Record fields the same in every example (a fixed instruction): left out of the n-gram check.
        self.fixed = fixed_fields(cfg.record)

    def candidates(self, issued: int, store: ReplyStore, out: Outcome) -> list[dict[str, Any]]:
        """Replies of requests 0..issued-1 parsed, assembled and through the cheap checks, in request order."""
        found = []
        for i in range(issued):
            rid = request_id(i)
            reply = store.replies.get(rid)
            ctx = self.plan.context(i)
            row = {"request_id": rid, "seed_id": ctx["seed"]["id"]}
            if reply is None:
                out.drop("request", "not_sent", row)
                continue
            row["text"] = reply.text
            if reply.status != "ok":
                out.drop("request", reply.cause or "failed", {**row, "detail": reply.detail})
                continue
            out.ok_replies += 1
            try:
                response = parse_reply(reply.text, self.cfg.parse)
                fields = assemble(ctx, response, reply.text, self.cfg.record, random.Random(f"{self.cfg.seed}:{rid}"))
                self.checks.run(fields, {**ctx, "response": response, "text": reply.text.strip()})
            except Reject as exc:
                out.drop(exc.stage, exc.cause, {**row, "detail": exc.detail})
                continue
            found.append(
                {
                    "index": i,
                    "reply": reply,
                    "context": ctx,
                    "fields": fields,
                    "row": row,
                    "entities": source_entities(ctx),
                }
            )
        return found

    def run(self, issued: int, store: ReplyStore, budget: Budget, judge_backend: Any = None) -> Outcome:
        out = Outcome()
        found = self.candidates(issued, store, out)
        dedup_cfg = self.cfg.filters.dedup
        if self.embedder is not None:
            self.embedder.encode_all([example_text(c["fields"], dedup_cfg.fields) for c in found])
        dedup = Deduplicator(dedup_cfg, self.embedder)
        survivors = []
        decontam = self.cfg.filters.decontam
        for cand in found:
            # Contamination first: a duplicate is only remembered (and later copies dropped) if it may be kept.
            if self.contamination is not None and decontam is not None:
                hit = self.contamination.entity(cand["entities"])
                if hit is not None:
                    out.drop("contamination", "contaminated_entity", {**cand["row"], "detail": hit})
                    continue
                share = self.contamination.overlap(variable_text(cand["fields"], self.fixed))
                cand["overlap"] = round(share, 3)
                if share > decontam.threshold:
                    out.drop("contamination", "ngram_overlap", {**cand["row"], "detail": f"{share:.2f}"})
                    continue
            kind = dedup.check(example_text(cand["fields"], dedup_cfg.fields))
            if kind is not None:
                out.drop("duplicate", kind, cand["row"])
                continue
            survivors.append(cand)
        if self.cfg.filters.judge is not None:
            survivors = self._judge(survivors, store, judge_backend, budget, out)
        target = self.cfg.target
        for cand in survivors[target:]:
            out.drop("surplus", "over_target", cand["row"])
        out.kept = survivors[:target]
        return out

    def _judge(
        self, survivors: list[dict[str, Any]], store: ReplyStore, backend: Any, budget: Budget, out: Outcome
    ) -> list[dict[str, Any]]:
        """Grade survivors in order, in chunks of what is still missing, until target pass or none are left.

        Returns those that passed, then the ungraded rest (beyond the target, so they count as surplus)."""
        judge = self.cfg.filters.judge
        assert judge is not None
        system = JINJA.from_string(judge.prompt.system) if judge.prompt.system else None
        user = JINJA.from_string(judge.prompt.user)
        passed: list[dict[str, Any]] = []
        position = 0
        while position < len(survivors) and len(passed) < self.cfg.target:
            chunk = survivors[position : position + max(self.cfg.target - len(passed), self.cfg.checkpoint_every)]
            position += len(chunk)
            requests = []
            for cand in chunk:
                fields = cand["fields"]
                cand["judge_id"] = "j" + content_id({**fields, "judge_prompt": judge.prompt.digest()})
                if store.done(cand["judge_id"]):
                    continue
                ctx = {**fields, "example": fields, "seed": cand["context"]["seed"]}
                try:
                    messages = [{"role": "system", "content": system.render(**ctx)}] if system else []
                    messages.append({"role": "user", "content": user.render(**ctx)})
                except jinja2.UndefinedError as exc:
                    problem = f"{exc.message} (variables: {', '.join(ctx)})"
                    raise ConfigError(self.cfg.template_message("filters.judge.prompt", problem)) from None
                except JINJA.render_errors as exc:
                    raise ConfigError(self.cfg.template_message("filters.judge.prompt", exc)) from None
                requests.append(Request(id=cand["judge_id"], messages=messages, seed=self.cfg.seed))
            if requests:
                self.log(f"judging {len(requests)} examples")
                try:
                    backend.run(requests, store.add, budget)
                finally:
                    store.flush()
            for cand in chunk:
                reply = store.replies.get(cand["judge_id"])
                if reply is None:
                    out.drop("judge", "not_sent", cand["row"])
                    continue
                if reply.status != "ok":
                    out.drop("judge", f"request_{reply.cause}", cand["row"])
                    continue
                score = judge_score(reply.text, judge.scale)
                if score is None:
                    out.drop("judge", "unparsed", {**cand["row"], "detail": reply.text[:80]})
                elif score < judge.threshold:
                    out.drop("judge", "below_threshold", {**cand["row"], "detail": str(score)})
                else:
                    cand["judge"] = {"model": reply.model or backend.model, "score": score}
                    passed.append(cand)
        return passed + survivors[position:]


# ============================================================================================ the run
def start(cfg: GenerateConfig, out: Path, resume: bool, spec: TaskSpec) -> None:
    """Refuse an --out holding another run (or a changed one on --resume), then record this run's config."""
    saved = out / STATE_FILE
    if saved.is_file() and not resume:
        raise ShoptuneError(f"{out}: already holds a generation; pass --resume to continue it or choose another --out")
    if saved.is_file():
        try:
            previous = json.loads(saved.read_text(encoding="utf-8"))["key"]
        except (json.JSONDecodeError, KeyError, UnicodeDecodeError):
            raise ShoptuneError(f"{saved}: damaged; remove the folder to start again") from None
        refuse_changed_config(out, previous, cfg.request_key())
    open_folder(out, "generation")
    clean_stale(out / "examples.jsonl")
    state = {"key": cfg.request_key(), "config": cfg.model_dump(mode="json"), "task": spec.model_dump(mode="json")}
    atomic_write_json(saved, state)


def _inputs(cfg: GenerateConfig, registry: dict[str, Any]) -> list[Path]:
    """The files a generation reads (its --out may not be, hold or sit inside one of them)."""
    seeds = cfg.seeds
    if seeds.data:
        return [Path(seeds.data)]
    source = seeds.source or (registry[seeds.task].source if seeds.task in registry else None)
    if source is None:
        return []
    return [Path(seeds.data_root) / p for p in source.all_paths()]


def run_generation(cfg: GenerateConfig, out: str | Path, *, resume: bool = False, log: Log = print) -> dict[str, Any]:
    """Generate, filter and write the task; returns the report. Everything checkable is checked before any work."""
    began = time.monotonic()
    registry = load_tasks(cfg.seeds.task_dirs)
    out = claim_output(out, "generation", inputs=_inputs(cfg, registry)).resolve()
    spec = task_spec(cfg, registry, out / "examples.jsonl")
    backend = make_backend(cfg.backend, log)
    judge_backend = make_backend(cfg.filters.judge.backend, log) if cfg.filters.judge else None
    seeds, origin = load_seeds(cfg)
    plan = Plan(cfg, seeds, spec)
    plan.request(0)  # a prompt variable the seeds lack: one line now
    check_record_templates(plan)
    qc = QualityControl(cfg, spec, plan, log)
    start(cfg, out, resume, spec)
    store = ReplyStore(out / "checkpoints", cfg.checkpoint_every)
    budget = Budget(cfg.budget_tokens, spent=store.tokens_spent())
    limit = cfg.max_requests_or_default()
    log(f"{len(seeds)} seeds ({origin['from']}); target {cfg.target} examples, at most {limit} requests")
    issued, rounds = 0, 0
    while True:
        outcome = qc.run(issued, store, budget, judge_backend)
        kept = len(outcome.kept)
        if rounds:
            log(f"round {rounds}: {issued} requests, {outcome.ok_replies} replies, {kept} examples kept")
        if kept >= cfg.target:
            stopped = "target reached"
            break
        if issued >= limit:
            stopped = "max_requests reached"
            break
        if budget.stopped:
            stopped = "token budget spent"
            break
        size = _round_size(cfg, kept, outcome.ok_replies, issued, limit)
        todo = [plan.request(i) for i in range(issued, issued + size) if not store.done(request_id(i))]
        issued += size
        rounds += 1
        sent_before = len(store.replies)
        try:
            backend.run(todo, store.add, budget)
        finally:
            store.flush()
        log(f"round {rounds}: sent {len(store.replies) - sent_before} of {len(todo)} requests")
    report = write_outputs(
        out,
        cfg=cfg,
        spec=spec,
        outcome=outcome,
        store=store,
        issued=issued,
        stopped=stopped,
        backend=backend,
        judge_backend=judge_backend,
        origin=origin,
        contamination=qc.contamination,
        wall_seconds=time.monotonic() - began,
    )
    return report


def _round_size(cfg: GenerateConfig, kept: int, replies: int, issued: int, limit: int) -> int:
    missing = cfg.target - kept
    if not replies:
        size = math.ceil(1.2 * missing)
    else:
        rate = max(kept / replies, 0.05)
        size = math.ceil(1.2 * missing / rate)
    return max(1, min(max(size, cfg.checkpoint_every), limit - issued))
