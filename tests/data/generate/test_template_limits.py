"""A generation config's templates run in the sandbox task prompts run in: arithmetic that fails (1/0, 'a' + 1) or
asks for too much ('x' * 10**10) is one line naming the config file and the key, exit 2, before any request is
sent; a record template or rule that fails on one reply's values rejects that reply and the run goes on."""

from __future__ import annotations

import random

import pytest

from conftest import one_error_line, run_cli
from data.generate._cli_entry import ensure_registered
from data.generate.conftest import make_config, task_spec, write_config
from shoptune.data.generate.assemble import Checks, Reject, assemble
from shoptune.data.generate.config import FiltersConfig, RecordConfig, load_generate_config
from shoptune.errors import ConfigError

HUGE = "{{ 'x' * 10**10 }}"


def _judge(user: str) -> dict:
    return {"backend": {"kind": "openai", "model": "m", "base_url": "http://127.0.0.1:9"}, "prompt": {"user": user}}


@pytest.mark.parametrize(
    ("key", "change", "expected"),
    [
        ("prompt", {"prompt": {"user": HUGE}}, "template limit"),
        ("prompt", {"prompt": {"user": "{{ 1/0 }}"}}, "ZeroDivisionError"),
        ("prompt", {"prompt": {"user": "{{ input + 5 }}"}}, "TypeError"),
        ("prompt", {"prompt": {"user": "{{ 9**99999 }}"}}, "template limit"),
        ("prompt", {"prompt": {"user": "x", "system": "{{ 'ab' | center(10**10) }}"}}, "template limit"),
        ("record.input", {"record": {"input": HUGE}}, "template limit"),
        ("record.output", {"record": {"output": "{{ response.n + 1 }}"}}, "TypeError"),
        ("seeds.where", {"seeds": {"where": "(seed.input * 10**10) != ''"}}, "template limit"),
        ("seeds.where", {"seeds": {"where": "seed.input > 5"}}, "TypeError"),
    ],
)
def test_a_failing_template_is_one_line_naming_the_file_and_key(
    llm, tmp_path, seeds, monkeypatch, key, change, expected
):
    monkeypatch.chdir(tmp_path)
    ensure_registered()
    base = make_config(llm.url, seeds)
    cfg = {**base, **change}
    if "seeds" in change:
        cfg["seeds"] = {**base["seeds"], **change["seeds"]}
    path = write_config(tmp_path / "bad.yaml", cfg)
    line = one_error_line(*run_cli("data", "generate", path, "--out", tmp_path / "out"))
    assert f"bad.yaml: {key}: " in line and expected in line, line
    assert not llm.arrivals


def test_a_config_read_in_python_names_the_file_too(tmp_path, seeds):
    path = write_config(tmp_path / "mine.yaml", make_config("http://127.0.0.1:9", seeds))
    cfg = load_generate_config(path)
    for section in (cfg, cfg.seeds, cfg.record, cfg.filters):
        assert section.template_message("k", ZeroDivisionError("division by zero")) == (
            f"{path}: k: template error: ZeroDivisionError: division by zero"
        )


def test_a_record_template_failing_on_one_reply_rejects_that_reply():
    record = RecordConfig.model_validate({"output": "{{ response.n + 1 }}"})
    context = {"seed": {}, "input": "q"}
    reply = {"instruction": "Pick one.", "options": ["a", "b"]}
    assert assemble(context, {**reply, "n": 1}, "", record, random.Random(0))["output"] == "2"
    with pytest.raises(Reject) as err:
        assemble(context, {**reply, "n": "one"}, "", record, random.Random(0))
    assert (err.value.stage, err.value.cause) == ("parse", "template_error")
    # Too much is the config's fault, whatever the reply: one line, the run stops.
    huge = RecordConfig.model_validate({"output": "{{ response.n * 10**10 }}"})
    with pytest.raises(ConfigError, match=r"^record\.output: template limit"):
        assemble(context, {**reply, "n": "x"}, "", huge, random.Random(0))


def test_a_rule_failing_on_one_example_rejects_it():
    spec = task_spec()
    example = {"instruction": "Which fits?", "input": "a warm coat", "options": ["Coat", "Hose"], "output": "Coat"}
    checks = Checks(FiltersConfig.model_validate({"language": None, "rules": {"r": "input + 1 > 0"}}), spec)
    with pytest.raises(Reject) as err:
        checks.run(example, {})
    assert (err.value.stage, err.value.cause) == ("rule", "r")
    checks = Checks(FiltersConfig.model_validate({"language": None, "rules": {"r": "(input * 10**10) != ''"}}), spec)
    with pytest.raises(ConfigError, match=r"^filters\.rules\.r: template limit"):
        checks.run(example, {})
