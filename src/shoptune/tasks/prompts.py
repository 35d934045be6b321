"""Prompt rendering: one Jinja template per task (or a default per kind), shared by training and evaluation.

Options are numbered from 0, as in ShopBench, so the answer to a multiple-choice question is an index.

Example:
    >>> from shoptune.records import InstructionExample
    >>> ex = InstructionExample(task="t", capability="c", instruction="Pick one.", input="Q",
    ...                         options=["a", "b"], output="b")
    >>> print(render_prompt(ex))
    Pick one.
    Q
    0. a
    1. b
    Answer:
"""

from __future__ import annotations

from functools import lru_cache

import jinja2

from shoptune.records import InstructionExample

DEFAULT_TEMPLATE = (
    "{{ instruction }}\n"
    "{% if input %}{{ input }}\n{% endif %}"
    "{% for option in options %}{{ loop.index0 }}. {{ option }}\n{% endfor %}"
    "Answer:"
)

_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)


@lru_cache(maxsize=256)
def _compile(template: str) -> jinja2.Template:
    return _ENV.from_string(template)


def render_prompt(example: InstructionExample, template: str = "") -> str:
    """Render the model input for one example (without the answer)."""
    fields = example.model_dump()
    fields.update(example.metadata)
    return _compile(template or DEFAULT_TEMPLATE).render(**fields)


def render_target(example: InstructionExample) -> str:
    """The answer text the model is trained to produce: option index for choice tasks, else the output."""
    if example.options and isinstance(example.output, str):
        return str(example.options.index(example.output))
    if isinstance(example.output, list):
        return ", ".join(example.output)
    return example.output
