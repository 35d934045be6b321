"""A template from a stranger's task file or generate config may divide by zero, add text to a number or ask for a
ten-gigabyte string: each is one ConfigError naming the task (or file) and the key, refused before any memory is
spent, never an "unexpected" error. Task prompts and generate configs share the one sandbox that enforces it."""

from __future__ import annotations

import time

import jinja2
import pytest

from shoptune.data.generate.config import JINJA
from shoptune.errors import ConfigError
from shoptune.records import InstructionExample
from shoptune.tasks.prompts import (
    _ENV,
    MAX_OUTPUT,
    SafeTemplates,
    TemplateLimitError,
    render_error,
    render_prompt,
    template_problem,
)

EXAMPLE = InstructionExample(
    task="my_task", capability="c", instruction="Pick one.", input="Q", options=["a", "b"], output="b"
)

#: The template's own errors: one line saying what Python said.
TEMPLATE_ERRORS = {
    "{{ 1/0 }}": "ZeroDivisionError",
    "{{ 7 // 0 }}": "ZeroDivisionError",
    "{{ 7 % 0 }}": "ZeroDivisionError",
    "{{ instruction + 5 }}": "TypeError",
    "{{ '{0}'.format() }}": "IndexError",
    "{{ range(10**6) }}": "Range too big",
    "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(1) }}": "recursion too deep",
    "{{ 2.0 ** 100000 }}": "OverflowError",
}

#: Asking for more than the sandbox allows: refused before the value is made (each would take gigabytes or hours).
LIMITS = [
    "{{ 9**99999 }}",
    "{{ 2 ** (10**100) }}",
    "{{ 'a' * 10**10 }}",
    "{{ [0] * 10**10 }}",
    "{{ (10**40000) * (10**40000) }}",
    "{% set s = 'x' * 999999 %}{% set s = s ~ s %}{{ s | length }}",
    "{% set s = 'x' * 999999 %}{{ (s + s) | length }}",
    "{{ 'x' | center(10**10) }}",
    "{{ 'x'.center(10**10) }}",
    "{{ 'x'.ljust(10000000000) }}",
    "{{ (1).to_bytes(10**10, 'big') }}",
    "{{ '{:>9999999999}'.format(1) }}",
    "{{ '{:{}}'.format('x', 10**10) }}",
    "{{ '%*s' % (10**10, 'x') }}",
    "{{ '%10000000000s' | format('x') }}",
    "{{ range(100000) | join('x' * 999999) }}",
    "{{ ('a' * 999999) | replace('a', 'aa') }}",
    "{{ ('a' * 999999).replace('a', 'aa') }}",
    "{{ ('x' * 999999).translate({120: 'y' * 1000}) }}",
    "{{ 'a\tb'.expandtabs(10**8) }}",
    "{{ ('x\n' * 500000) | indent(100) }}",
    "{{ [1] | batch(10**10, 'x') | list }}",
    "{{ range(10) | slice(10**10) | list }}",
    "{{ {'a': 1} | tojson(indent=10**10) }}",
    "{{ ([[1] * 999999] * 1000) | sum(start=[]) }}",
    "{{ lipsum(10**6) }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% macro m(n) %}{% if n %}{{ m(n - 1) }}{{ m(n - 1) }}{% endif %}{% endmacro %}{{ m(60) }}",
    "{% for i in range(100000) %}{{ 'x' * 999 }}{% endfor %}",
    "{% filter upper %}{% for i in range(100000) %}{% for j in range(10) %}"
    + "x" * 100
    + "{% endfor %}{% endfor %}{% endfilter %}",
]


@pytest.mark.parametrize(("template", "expected"), TEMPLATE_ERRORS.items())
def test_a_template_error_is_one_line_naming_the_task_and_key(template, expected):
    assert template_problem(template) is None  # valid Jinja: it fails only when rendered
    with pytest.raises(ConfigError) as err:
        render_prompt(EXAMPLE, template)
    message = str(err.value)
    assert message.startswith("task 'my_task': key 'prompt': ") and expected in message, message
    assert "\n" not in message


@pytest.mark.parametrize("template", LIMITS)
def test_a_template_asking_for_too_much_is_refused_quickly(template):
    started = time.monotonic()
    with pytest.raises(ConfigError) as err:
        render_prompt(EXAMPLE, template)
    message = str(err.value)
    assert message.startswith("task 'my_task': key 'prompt': template limit: "), message
    assert "\n" not in message
    assert time.monotonic() - started < 20


def test_the_rendered_text_is_capped():
    ok = "{% for i in range(900) %}" + "x" * 1000 + "{% endfor %}"
    assert len(render_prompt(EXAMPLE, ok)) == 900_000
    with pytest.raises(ConfigError, match="template limit: the rendered text"):
        render_prompt(EXAMPLE, "{% for i in range(1100) %}{{ 'x' * 1000 }}{% endfor %}")
    assert MAX_OUTPUT == 1_000_000


def test_a_render_names_the_task_file_when_the_caller_knows_it(tmp_path):
    with pytest.raises(ConfigError, match=r"^tasks/mine\.yaml: key 'prompt': template error: ZeroDivisionError"):
        render_prompt(EXAMPLE, "{{ 1/0 }}", source="tasks/mine.yaml")


def test_ordinary_templates_render_as_before():
    template = (
        "{{ instruction | upper }} {% for o in options %}[{{ loop.index0 + first_index }}:{{ o }}]{% endfor %}"
        "{{ ' ' ~ (options | join('/')) ~ ' ' ~ ('-' * 3) ~ ' ' ~ (2 ** 10) ~ ' ' ~ ('%05.1f' % 3.14159) }}"
        "{{ ' ' ~ '{:>4}'.format(input) ~ ' ' ~ (options | map('upper') | list | tojson) }}"
        "{% macro twice(x) %}{{ x }}{{ x }}{% endmacro %} {{ twice(output) }}"
    )
    assert render_prompt(EXAMPLE, template, kind="ranking") == (
        'PICK ONE. [1:a][2:b] a/b --- 1024 003.1    Q ["A", "B"] bb'
    )
    assert render_prompt(EXAMPLE).endswith("0. a\n1. b\nAnswer:")


def test_one_sandbox_for_task_prompts_and_generate_configs():
    assert isinstance(_ENV, SafeTemplates) and isinstance(JINJA, SafeTemplates)
    assert isinstance(_ENV, jinja2.sandbox.ImmutableSandboxedEnvironment)
    assert {"*", "**", "+", "//", "%"} <= SafeTemplates.intercepted_binops
    # Expressions (seeds.where, filters.rules) run under the same limits.
    with pytest.raises(TemplateLimitError):
        JINJA.compile_expression("'x' * 10**10 == ''")()
    with pytest.raises(ZeroDivisionError):
        JINJA.compile_expression("1 // 0")()
    assert JINJA.compile_expression("words(seed) | length")(seed="Red, cotton shirt") == 3


def test_an_unknown_filter_is_refused_when_the_template_is_read():
    assert template_problem("{{ input | nofilter }}") == "Jinja syntax error at line 1: No filter named 'nofilter'."


def test_render_error_describes_each_kind_of_failure():
    assert render_error(TemplateLimitError("template limit: x")) == "template limit: x"
    assert render_error(jinja2.exceptions.SecurityError("no")) == "unsafe template (no)"
    assert render_error(jinja2.exceptions.SecurityError("no"), "expression") == "unsafe expression (no)"
    assert render_error(MemoryError()) == "template error: out of memory"
    assert render_error(TypeError("a\nb")) == "template error: TypeError: a b"
