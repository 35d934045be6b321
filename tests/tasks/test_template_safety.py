"""A task file may come from anyone: its prompt renders in Jinja's sandbox, so no template reaches Python, and a
bad template is one line naming the file and the key as soon as the task is read (`tasks list` too)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoptune.errors import ConfigError
from shoptune.records import InstructionExample
from shoptune.tasks import load_tasks
from shoptune.tasks.prompts import render_prompt

TASK = """
name: my_task
capability: price_reasoning
kind: multiple_choice
metric: accuracy
source: {{adapter: home_depot, path: x.csv, view: relevance_mc}}
prompt: {prompt}
"""

#: Each names Python's internals outright: refused when the task file is read.
PLAIN_PAYLOADS = [
    "{{ cycler.__init__.__globals__.os.system('touch PWNED') }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ self._TemplateReference__context }}",
    "{{ lipsum.__globals__ }}",
    "{{ cycler['__init__'] }}",
    "{{ cycler | attr('__init__') }}",
]

#: The same attack with the names built at render time: the file reads, the sandbox refuses the render.
HIDDEN_PAYLOAD = (
    "{% set i = '__in' ~ 'it__' %}{% set g = '__glob' ~ 'als__' %}{{ cycler[i][g].os.system('touch PWNED') }}"
)

EXAMPLE = InstructionExample(
    task="my_task", capability="c", instruction="Pick one.", input="Q", options=["a", "b"], output="b"
)


def _task_dir(tmp_path: Path, prompt: str) -> Path:
    folder = tmp_path / "tasks"
    folder.mkdir(parents=True)
    (folder / "mine.yaml").write_text(TASK.format(prompt=repr(prompt)), encoding="utf-8")
    return folder


@pytest.mark.parametrize("payload", PLAIN_PAYLOADS)
def test_a_prompt_reaching_python_is_refused_when_the_task_is_read(tmp_path, monkeypatch, payload):
    monkeypatch.chdir(tmp_path)
    folder = _task_dir(tmp_path, payload)
    with pytest.raises(ConfigError) as err:
        load_tasks([folder])
    message = str(err.value)
    assert "mine.yaml: key 'prompt': unsafe template" in message and "\n" not in message
    assert not (tmp_path / "PWNED").exists()


def test_a_hidden_payload_runs_no_code_and_is_one_line_naming_the_task(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = load_tasks([_task_dir(tmp_path, HIDDEN_PAYLOAD)])["my_task"]
    with pytest.raises(ConfigError) as err:
        render_prompt(EXAMPLE, spec.prompt, kind=spec.kind)
    message = str(err.value)
    assert message.startswith("task 'my_task': key 'prompt': unsafe template") and "\n" not in message
    assert not (tmp_path / "PWNED").exists()


def test_a_prompt_renders_its_fields_but_cannot_change_them():
    template = "{{ instruction | upper }} {% for o in options %}[{{ loop.index0 + first_index }}:{{ o }}]{% endfor %}"
    assert render_prompt(EXAMPLE, template, kind="ranking") == "PICK ONE. [1:a][2:b]"
    assert render_prompt(EXAMPLE, "{{ '{} of {}'.format(output, options | length) }}") == "b of 2"
    with pytest.raises(ConfigError, match="unsafe template"):
        render_prompt(EXAMPLE, "{{ options.append('z') }}{{ options }}")
    assert EXAMPLE.options == ["a", "b"]


def test_an_undefined_variable_is_one_line_naming_the_task():
    with pytest.raises(ConfigError, match=r"^task 'my_task': key 'prompt': 'nope' is undefined$"):
        render_prompt(EXAMPLE, "{{ nope }}")


def test_a_jinja_syntax_error_is_refused_when_the_task_is_read(tmp_path):
    folder = _task_dir(tmp_path, "{{ instruction }")
    with pytest.raises(ConfigError, match=r"mine\.yaml: key 'prompt': Jinja syntax error at line 1"):
        load_tasks([folder])


def test_tasks_list_names_the_file_and_key_of_a_bad_prompt(tmp_path, cli):
    for name, prompt in (("syntax", "{% if %}"), ("unsafe", PLAIN_PAYLOADS[0])):
        folder = _task_dir(tmp_path / name, prompt)
        code, out, err = cli("tasks", "list", "--task-dir", folder)
        assert code == 2, (out, err)
        assert err.startswith("error: ") and err.count("\n") == 1, err
        assert "mine.yaml: key 'prompt'" in err, err
