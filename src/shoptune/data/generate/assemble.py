"""A reply becomes a record: parsed (JSON object or text), assembled from the record templates into the task's
instruction schema, then checked field by field. Every rejection carries a stage and a cause, which the report
counts.

Stages: ``parse`` (malformed_json, not_an_object, no_match, missing_field, template_error), ``schema`` (a field
of the wrong type or empty), ``length``, ``language``, ``consistency`` (answer_not_in_options, duplicate_options,
too_few_options, answer_not_in_input, no_options) and ``rule`` (the config's own rules, by name).

A record template or rule that fails on one reply's values (``response.count + 1`` with a text count) rejects that
reply (``template_error``, or the rule's name); one that breaks the sandbox's limits, or cannot run at all, is a
config error naming the config file and the key.

Example:
    >>> extract_json_object('Sure! ```json\\n{"output": "yes"}\\n``` Hope that helps.')
    {'output': 'yes'}
"""

from __future__ import annotations

import functools
import json
import random
import re
from dataclasses import dataclass
from typing import Any

import jinja2

from shoptune.data.generate.config import JINJA, FiltersConfig, ParseConfig, RecordConfig, normalise
from shoptune.errors import ConfigError
from shoptune.tasks.prompts import render_error
from shoptune.tasks.spec import TaskSpec

#: What a reply's own values can make a record template or rule raise: that reply is rejected, the run goes on.
_VALUE_ERRORS = (ArithmeticError, LookupError, TypeError, ValueError, AttributeError)


class Reject(Exception):
    """Why a reply or an example is not kept: the pipeline stage and a short cause."""

    def __init__(self, stage: str, cause: str, detail: str = "") -> None:
        super().__init__(f"{stage}: {cause} {detail}".strip())
        self.stage, self.cause, self.detail = stage, cause, detail


def extract_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in ``text`` (code fences and chatter around it allowed); Reject otherwise."""
    found_json = False
    for match in re.finditer(r"[{\[]", text):
        try:
            value, _ = json.JSONDecoder().raw_decode(text[match.start() :])
        except json.JSONDecodeError:
            continue
        found_json = True
        if isinstance(value, dict):
            return value
    if found_json:
        raise Reject("parse", "not_an_object", text[:80])
    raise Reject("parse", "malformed_json", text[:80])


def parse_reply(text: str, cfg: ParseConfig) -> dict[str, Any]:
    """The reply as ``response``: a JSON object, or the regex's named groups (format text)."""
    if cfg.format == "json":
        return extract_json_object(text)
    if cfg.pattern is None:
        return {}
    match = re.search(cfg.pattern, text, flags=re.S)
    if match is None:
        raise Reject("parse", "no_match", text[:80])
    return {k: (v or "").strip() for k, v in match.groupdict().items()}


@functools.lru_cache(maxsize=256)
def _template(text: str) -> jinja2.Template:
    """A record template compiled once, not once per reply."""
    return JINJA.from_string(text)


def _render(template: str, context: dict[str, Any], field: str, record: RecordConfig) -> str:
    try:
        return _template(template).render(**context).strip()
    except jinja2.UndefinedError as exc:
        raise Reject("parse", "missing_field", f"record.{field}: {exc.message}") from None
    except _VALUE_ERRORS as exc:
        raise Reject("parse", "template_error", f"record.{field}: {render_error(exc)}") from None
    except JINJA.render_errors as exc:
        raise ConfigError(record.template_message(f"record.{field}", exc)) from None


def assemble(
    context: dict[str, Any], response: dict[str, Any], text: str, record: RecordConfig, rng: random.Random
) -> dict[str, Any]:
    """The record's fields from the templates (or the reply's own keys); types checked (stage ``schema``)."""
    ctx = {**context, "response": response, "text": text.strip()}
    fields: dict[str, Any] = {}
    for name in ("instruction", "input", "output"):
        template = getattr(record, name)
        if template is not None:
            fields[name] = _render(template, ctx, name, record)
        elif name in response:
            fields[name] = response[name]
        elif name == "input":
            fields[name] = ""
        else:
            raise Reject("parse", "missing_field", name)
    if record.options is not None:
        options: Any = [_render(t, ctx, f"options.{i}", record) for i, t in enumerate(record.options)]
    else:
        options = response.get("options", [])
    for name in ("instruction", "input"):
        if not isinstance(fields[name], str):
            raise Reject("schema", f"{name}_not_text", repr(fields[name])[:80])
    if not fields["instruction"].strip():
        raise Reject("schema", "empty_instruction")
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise Reject("schema", "options_not_a_list_of_text", repr(options)[:80])
    output = fields["output"]
    if isinstance(output, int | float) and not isinstance(output, bool) and options:
        # "output": 2 for a choice question: the option's number (0-based, as the prompts number them).
        index = int(output)
        output = options[index] if 0 <= index < len(options) and index == output else str(output)
    if isinstance(output, list):
        if not output or not all(isinstance(o, str) and o.strip() for o in output):
            raise Reject("schema", "output_not_text", repr(output)[:80])
        output = [o.strip() for o in output]
    elif not isinstance(output, str) or not output.strip():
        raise Reject("schema", "output_not_text" if not isinstance(output, str) else "empty_output", repr(output)[:80])
    else:
        output = output.strip()
    options = [o.strip() for o in options]
    if record.shuffle_options:
        rng.shuffle(options)
    return {
        "instruction": fields["instruction"].strip(),
        "input": fields["input"].strip(),
        "options": options,
        "output": output,
    }


@dataclass
class Checks:
    """The cheap per-example filters: length, language and answer consistency."""

    filters: FiltersConfig
    spec: TaskSpec

    def __post_init__(self) -> None:
        lang = self.filters.language
        self.expect = None if lang is None else {c.lower() for c in (lang.expect or [self.spec.language])}
        self._langid: Any = None
        self.rules = {name: JINJA.compile_expression(rule) for name, rule in self.filters.rules.items()}

    def run(self, fields: dict[str, Any], context: dict[str, Any]) -> None:
        """Every check in order; the first that fails raises Reject. ``context``: the reply and the seed."""
        self.length(fields)
        self.language(fields)
        self.consistency(fields)
        for name, rule in self.rules.items():
            try:
                ok = rule(**{**context, **fields})
            except jinja2.UndefinedError as exc:
                raise Reject("rule", name, f"undefined: {exc.message}") from None
            except _VALUE_ERRORS as exc:
                raise Reject("rule", name, render_error(exc, "expression")) from None
            except JINJA.render_errors as exc:
                raise ConfigError(self.filters.template_message(f"filters.rules.{name}", exc, "expression")) from None
            if not ok:
                raise Reject("rule", name)

    def length(self, fields: dict[str, Any]) -> None:
        bounds = self.filters.length
        output = fields["output"] if isinstance(fields["output"], str) else ", ".join(fields["output"])
        values = {"instruction": [fields["instruction"]], "input": [fields["input"]], "output": [output]}
        values["options"] = fields["options"]
        for name, texts in values.items():
            low, high = getattr(bounds, name)
            for text in texts:
                if len(text) < low:
                    raise Reject("length", f"{name}_too_short", f"{len(text)} < {low} characters")
                if len(text) > high:
                    raise Reject("length", f"{name}_too_long", f"{len(text)} > {high} characters")

    def language(self, fields: dict[str, Any]) -> None:
        if self.expect is None or self.filters.language is None:
            return
        output = fields["output"] if isinstance(fields["output"], str) else " ".join(fields["output"])
        text = " ".join([fields["instruction"], fields["input"], output])
        if len(text) < self.filters.language.min_chars:
            return
        if self._langid is None:
            import py3langid

            self._langid = py3langid
        detected, _ = self._langid.classify(text)
        if detected.lower() not in self.expect:
            raise Reject("language", f"detected_{detected}", text[:80])

    def consistency(self, fields: dict[str, Any]) -> None:
        mode = self.filters.consistency
        options, output = fields["options"], fields["output"]
        if mode == "auto":
            if options:
                mode = "options"
            elif self.spec.kind.value in ("extraction", "ner"):
                mode = "span"
            else:
                return
        if mode == "options":
            if not options:
                raise Reject("consistency", "no_options")
            if len(options) < 2:
                raise Reject("consistency", "too_few_options")
            if len({normalise(o) for o in options}) < len(options):
                raise Reject("consistency", "duplicate_options")
            answers = output if isinstance(output, list) else [output]
            if self.spec.kind.value in ("retrieval", "ranking"):
                return  # answers are option numbers, not option texts
            if any(a not in options for a in answers):
                raise Reject("consistency", "answer_not_in_options", str(output)[:80])
        elif mode == "span":
            source = f" {normalise(fields['input'] or fields['instruction'])} "
            answers = output if isinstance(output, list) else [output]
            for answer in answers:
                span = normalise(answer)
                if not span or f" {span} " not in source:
                    raise Reject("consistency", "answer_not_in_input", answer[:80])
