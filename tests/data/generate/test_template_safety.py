"""A generation config may come from anyone: its templates and expressions run in Jinja's sandbox, so none reaches
Python; one that names Python's internals is refused when the config is read, and one that builds the names at
render time is refused then: either way one line naming the key, no code run and no request sent."""

from __future__ import annotations

import pytest

from data.generate.conftest import make_config, task_spec, write_config
from shoptune.data.generate.assemble import Checks
from shoptune.data.generate.config import FiltersConfig, load_generate_config
from shoptune.errors import ConfigError

TEMPLATE = "{{ cycler.__init__.__globals__.os.system('touch PWNED') }}"
EXPRESSION = "cycler.__init__.__globals__.os.system('touch PWNED') == 0"
#: The same attack with the names built at render time, which no check of the text can see.
HIDDEN_TEMPLATE = (
    "{% set i = '__in' ~ 'it__' %}{% set g = '__glob' ~ 'als__' %}{{ cycler[i][g].os.system('touch PWNED') }}"
)
HIDDEN_EXPRESSION = "cycler['__in' ~ 'it__']['__glob' ~ 'als__'].os.system('touch PWNED') == 0"


def _judge(user: str) -> dict:
    return {"backend": {"kind": "openai", "model": "m", "base_url": "http://127.0.0.1:9"}, "prompt": {"user": user}}


def _changes(base: dict) -> dict[str, dict]:
    """Key -> the config with the payload there."""
    return {
        "prompt.user": {**base, "prompt": {"user": TEMPLATE}},
        "prompt.system": {**base, "prompt": {**base["prompt"], "system": "{{ lipsum.__globals__ }}"}},
        "record.input": {**base, "record": {"input": "{{ ''.__class__.__mro__[1].__subclasses__() }}"}},
        "record.options.0": {**base, "record": {"options": ["{{ self._TemplateReference__context }}"]}},
        "task.prompt": {**base, "task": {**base["task"], "prompt": TEMPLATE}},
        "filters.judge.prompt.user": {**base, "filters": {"judge": _judge(TEMPLATE)}},
        "seeds.where": {**base, "seeds": {**base["seeds"], "where": EXPRESSION}},
        "filters.rules.ok": {**base, "filters": {"rules": {"ok": EXPRESSION}}},
    }


def test_a_template_or_expression_reaching_python_is_refused_when_the_config_is_read(tmp_path, seeds, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = make_config("http://127.0.0.1:9", seeds)
    for key, cfg in _changes(base).items():
        with pytest.raises(ConfigError) as err:
            load_generate_config(write_config(tmp_path / "bad.yaml", cfg))
        message = str(err.value)
        assert f"bad.yaml: key '{key}': unsafe template" in message and "\n" not in message, (key, message)
    assert not (tmp_path / "PWNED").exists()


def test_a_hidden_payload_runs_no_code_and_sends_nothing(llm, tmp_path, seeds, cli_generate, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = make_config(llm.url, seeds)
    cases = {
        "prompt: unsafe template": {**base, "prompt": {"user": HIDDEN_TEMPLATE}},
        "record.input: unsafe template": {**base, "record": {"input": HIDDEN_TEMPLATE}},
        "seeds.where: unsafe expression": {**base, "seeds": {**base["seeds"], "where": HIDDEN_EXPRESSION}},
    }
    for i, (expected, cfg) in enumerate(cases.items()):
        path = write_config(tmp_path / "bad.yaml", cfg)
        code, out, err = cli_generate("data", "generate", path, "--out", tmp_path / f"out{i}")
        assert code == 2, (expected, out, err)
        assert err.startswith("error: ") and err.count("\n") == 1 and expected in err, (expected, err)
        assert not (tmp_path / "PWNED").exists(), expected
    assert not llm.arrivals


def test_a_hidden_payload_in_a_rule_runs_no_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = task_spec()
    checks = Checks(FiltersConfig.model_validate({"language": None, "rules": {"ok": HIDDEN_EXPRESSION}}), spec)
    example = {"instruction": "Which fits?", "input": "a warm coat", "options": ["Coat", "Hose"], "output": "Coat"}
    with pytest.raises(ConfigError, match=r"^filters\.rules\.ok: unsafe expression \(access to attribute"):
        checks.run(example, {})
    assert not (tmp_path / "PWNED").exists()
