"""What a generation writes at the end: the examples, the task file, SOURCE.md, report.json and report.md.

Every file is written atomically (a kill leaves the previous version or the new one). The report counts every
request once: ``requests.issued = kept + sum(dropped)``, each dropped one under the stage that dropped it.

Example:
    >>> markdown_counts({"parse": {"malformed_json": 3}, "duplicate": {"exact": 2}})
    '| parse | malformed_json | 3 |\\n| duplicate | exact | 2 |'
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from shoptune import __version__
from shoptune.data.generate.backends import USAGE_CLAMPED
from shoptune.data.generate.quality import fixed_fields
from shoptune.io import atomic_open, atomic_write_json, atomic_write_text

if TYPE_CHECKING:
    from shoptune.data.generate.config import GenerateConfig
    from shoptune.data.generate.quality import Contamination
    from shoptune.data.generate.runner import Outcome
    from shoptune.data.generate.store import ReplyStore
    from shoptune.tasks.spec import TaskSpec

#: The order stages are reported in (the order the pipeline applies them).
STAGES = (
    "request",
    "parse",
    "schema",
    "length",
    "language",
    "consistency",
    "rule",
    "contamination",
    "duplicate",
    "judge",
    "surplus",
)


def example_row(cand: dict[str, Any], spec: TaskSpec, backend: Any, cfg: GenerateConfig) -> dict[str, Any]:
    """One kept example as a line of examples.jsonl: the record's fields, its split groups and its provenance."""
    seed = cand["context"]["seed"]
    reply = cand["reply"]
    provenance: dict[str, Any] = {
        "backend": backend.name,
        "model": reply.model or backend.model,
        "prompt_hash": cfg.prompt.digest(),
        "seed_id": seed["id"],
        "seed_task": seed.get("task"),
        "request_id": cand["row"]["request_id"],
        "sample": cand["context"]["sample"],
        "time": reply.time,
    }
    if "overlap" in cand:
        provenance["eval_overlap"] = cand["overlap"]
    if "judge" in cand:
        provenance["judge"] = cand["judge"]
    seed_groups = list((seed.get("metadata") or {}).get("groups") or [])
    return {
        **cand["fields"],
        "language": spec.language,
        # The seed's own keys first: an example follows its seed's split, so one made from a training seed never
        # lands beside that seed's query or product in another split.
        "groups": [*seed_groups, f"seed:{seed['id']}"],
        # The ids of the entities the example was built from (its seed's and the shown others' group keys): what
        # entity-level decontamination checks, and what a later audit can check again.
        "metadata": {"generation": provenance, "source_entities": list(cand.get("entities", []))},
    }


def count_dropped(outcome: Outcome) -> dict[str, dict[str, int]]:
    return {stage: dict(outcome.dropped[stage].most_common()) for stage in STAGES if outcome.dropped.get(stage)}


def markdown_counts(dropped: dict[str, dict[str, int]]) -> str:
    return "\n".join(f"| {stage} | {cause} | {n} |" for stage, causes in dropped.items() for cause, n in causes.items())


def write_outputs(
    out: Path,
    *,
    cfg: GenerateConfig,
    spec: TaskSpec,
    outcome: Outcome,
    store: ReplyStore,
    issued: int,
    stopped: str,
    backend: Any,
    judge_backend: Any,
    origin: dict[str, Any],
    contamination: Contamination | None,
    wall_seconds: float,
) -> dict[str, Any]:
    rows = [example_row(c, spec, backend, cfg) for c in outcome.kept]
    with atomic_open(out / "examples.jsonl") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    with atomic_open(out / "dropped.jsonl") as fh:
        for row in outcome.dropped_rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    atomic_write_text(out / "task" / f"{spec.name}.yaml", task_yaml(spec, out))

    replies = [store.replies[k] for k in sorted(store.replies) if k.startswith("g")]
    judged = [store.replies[k] for k in sorted(store.replies) if k.startswith("j")]
    retries: Counter[str] = Counter()
    for reply in [*replies, *judged]:
        retries.update(reply.retries)
    dropped = count_dropped(outcome)
    report: dict[str, Any] = {
        "task": {"name": spec.name, "capability": spec.capability, "kind": spec.kind.value},
        "backend": backend.describe(),
        "judge": judge_backend.describe() if judge_backend else None,
        "prompt_hash": cfg.prompt.digest(),
        "target": cfg.target,
        "kept": len(rows),
        "stopped": stopped,
        "requests": {
            "issued": issued,
            "max_requests": cfg.max_requests_or_default(),
            "replies_ok": outcome.ok_replies,
            "attempts": sum(r.attempts for r in replies),
            "retries_by_cause": dict(retries.most_common()),
            "judge_requests": len(judged),
        },
        "tokens": {
            "prompt": sum(r.prompt_tokens for r in [*replies, *judged]),
            "completion": sum(r.completion_tokens for r in [*replies, *judged]),
            "total": store.tokens_spent(),
            "budget": cfg.budget_tokens,
            "estimated_replies": sum(r.usage_estimated for r in [*replies, *judged]),
            # usage a server reported as negative or not a whole number: replaced by the estimate, never trusted
            "clamped_usage_replies": sum(r.detail.startswith(USAGE_CLAMPED) for r in [*replies, *judged]),
        },
        "dropped": dropped,
        "dropped_total": sum(n for causes in dropped.values() for n in causes.values()),
        "seeds": origin,
        "decontamination": None
        if contamination is None
        else {
            "entity_splits": list(contamination.cfg.entity_splits),
            "entity_keys": len(contamination.entities),
            "ngram": contamination.cfg.ngram,
            "ngram_fields": "variable content: every field but "
            + (", ".join(f"fixed {name}" for name in fixed) if (fixed := fixed_fields(cfg.record)) else "none"),
            "threshold": contamination.cfg.threshold,
            "evaluation_items": contamination.documents,
            "indexed_ngrams": len(contamination.index),
            "boilerplate_ngrams": contamination.boilerplate,
            "sources": len(contamination.sources),
        },
        "wall_seconds": round(wall_seconds, 1),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "shoptune_version": __version__,
        "files": {
            "examples": str(out / "examples.jsonl"),
            "task": str(out / "task" / f"{spec.name}.yaml"),
            "task_dir": str(out / "task"),
        },
    }
    atomic_write_json(out / "report.json", report)
    atomic_write_text(out / "report.md", report_markdown(report))
    atomic_write_text(out / "SOURCE.md", source_markdown(report, cfg, spec, out))
    return report


def task_yaml(spec: TaskSpec, out: Path) -> str:
    """The task file ``data build`` reads, with ``task_dirs: [OUT/task]`` (or ``--task-dir OUT/task``)."""
    header = (
        f"# Generated by `shoptune data generate` (see {out / 'SOURCE.md'}).\n"
        f"# To build it, add {out / 'task'} to a build config's task_dirs.\n"
    )
    return header + yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def report_markdown(report: dict[str, Any]) -> str:
    req, tok = report["requests"], report["tokens"]
    lines = [
        f"# Generated task `{report['task']['name']}`",
        "",
        f"{report['kept']} of {report['target']} examples kept ({report['stopped']}); "
        f"{req['issued']} requests issued, {req['replies_ok']} usable replies, {report['dropped_total']} dropped.",
        "",
        "| | |",
        "|---|---|",
        f"| backend | {report['backend']['backend']}: {report['backend']['model']} |",
        f"| capability / kind | {report['task']['capability']} / {report['task']['kind']} |",
        f"| seeds | {report['seeds']['used']} of {report['seeds']['read']} ({report['seeds']['from']}) |",
        f"| prompt hash | {report['prompt_hash']} |",
        f"| tokens | {tok['total']:,} ({tok['prompt']:,} prompt + {tok['completion']:,} completion)"
        + (f", budget {tok['budget']:,}" if tok["budget"] else "")
        + " |",
        f"| attempts | {req['attempts']} (retries: {_inline(req['retries_by_cause']) or 'none'}) |",
        f"| wall time (this invocation) | {report['wall_seconds']:.0f} s |",
    ]
    if report["judge"]:
        lines.append(f"| judge | {report['judge']['backend']}: {report['judge']['model']} |")
    if report["decontamination"]:
        dec = report["decontamination"]
        if dec["entity_splits"]:
            lines.append(
                f"| entity decontamination | seed and option entities vs {dec['entity_keys']:,} keys of the "
                f"{', '.join(dec['entity_splits'])} splits |"
            )
        lines.append(
            f"| decontamination | {dec['ngram']}-grams of the {dec['ngram_fields']} vs {dec['evaluation_items']:,} "
            f"evaluation items, dropped above {dec['threshold']:.0%} overlap |"
        )
    lines += ["", "## Dropped, by stage and cause", "", "| stage | cause | examples |", "|---|---|---|"]
    lines.append(markdown_counts(report["dropped"]) or "| - | - | 0 |")
    return "\n".join(lines) + "\n"


def _settings(cfg: GenerateConfig) -> str:
    backend = cfg.backend.model_dump(include={"temperature", "top_p", "max_tokens", "stop", "prefill"})
    return ", ".join(f"{k} {v!r}" for k, v in backend.items())


def _inline(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def source_markdown(report: dict[str, Any], cfg: GenerateConfig, spec: TaskSpec, out: Path) -> str:
    """Provenance of the generated task, in the manner of the SOURCE.md beside every real dataset."""
    seeds = report["seeds"]
    backend = report["backend"]
    dedup = cfg.filters.dedup
    near_threshold = dedup.threshold if dedup.near == "minhash" else dedup.embedding_threshold
    lines = [
        f"# {spec.name} — generated instruction examples ({spec.capability}, {spec.kind.value})",
        "",
        "**Synthetic data.** Every example here was written by a language model from a real seed record and kept "
        "only after the filters below. None is a human-written or human-checked row.",
        "",
        f"- **Generated by**: `shoptune data generate` (shoptune {report['shoptune_version']}), {report['created']}",
        f"- **Model**: {backend['model']} ({backend['backend']} backend"
        + (f", {backend['base_url']}" if "base_url" in backend else "")
        + ")",
        f"- **Prompt**: hash `{report['prompt_hash']}` (sha256 of the system and user templates, below)",
        f"- **Seeds**: {seeds['used']} records of {seeds['from']}, split {seeds['split']}"
        + (f", where `{seeds['where']}`" if seeds.get("where") else "")
        + ". Their terms of use apply to these examples too (see that dataset's SOURCE.md).",
        f"- **Rows**: {report['kept']} examples (target {report['target']}) from {report['requests']['issued']} "
        f"requests; dropped and why: `report.md`.",
        f"- **Sampling**: {_settings(cfg)}",
        f"- **Splits**: grouped by the seed's own keys, then the seed id (ratios {list(spec.split.ratios)}): an "
        "example follows its seed, so seeds from a training split give training examples only.",
        "- **Per example** (`metadata.generation`): backend, model, prompt hash, seed record id and task, request "
        "id, time"
        + (", judge grade" if cfg.filters.judge else "")
        + (", evaluation n-gram overlap" if cfg.filters.decontam else "")
        + "; `metadata.source_entities`: the group keys of the seed and of the other records its prompt showed",
        "",
        "## Filters",
        "",
        f"- length (characters): {cfg.filters.length.model_dump()}",
        f"- language: {cfg.filters.language.model_dump() if cfg.filters.language else 'not checked'}",
        f"- answer consistency: {cfg.filters.consistency}",
        f"- duplicates: exact {dedup.exact}, near {dedup.near} (threshold {near_threshold}) "
        f"on {', '.join(dedup.fields)}",
    ]
    lines += [f"- rule `{name}`: `{rule}`" for name, rule in cfg.filters.rules.items()]
    if cfg.filters.decontam:
        dec = cfg.filters.decontam
        if dec.entity_splits and dec.builds:
            lines.append(
                f"- decontamination by entity: no seed or shown other record whose group keys (`metadata."
                f"source_entities`) are in the {', '.join(dec.entity_splits)} splits of {', '.join(dec.builds)}"
            )
        lines.append(
            f"- decontamination: {dec.ngram}-gram overlap of the variable fields (not a fixed instruction) above "
            f"{dec.threshold} with the {', '.join(dec.splits)} splits of {', '.join(dec.builds) or '-'} and files "
            f"{', '.join(dec.files) or '-'}"
        )
    if cfg.filters.judge:
        lines.append(f"- judge: {report['judge']['model']}, grade >= {cfg.filters.judge.threshold}")
    lines += [
        "",
        "## Use",
        "",
        f"Add `{out / 'task'}` to a build config's `task_dirs` and build it (`shoptune data build`), then name "
        f"`{spec.name}` in an SFT config's `data.tasks`.",
        "",
        "## Prompt",
        "",
    ]
    if cfg.prompt.system:
        lines += ["System:", "", "```jinja", cfg.prompt.system.rstrip(), "```", ""]
    lines += ["User:", "", "```jinja", cfg.prompt.user.rstrip(), "```", ""]
    return "\n".join(lines)
