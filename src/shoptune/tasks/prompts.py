"""Prompt rendering: one Jinja template per task (or a default per kind), shared by training and evaluation.

Options are numbered from 0, as in ShopBench, so the answer to a multiple-choice question is an index.

Example:
    >>> from shoptune.records import LABELS, InstructionExample, PairExample

#: Kinds whose options are numbered from 1, as ShopBench numbers products in retrieval and ranking prompts.
ONE_BASED_KINDS = frozenset({"retrieval", "ranking"})

PAIR_OPTIONS = {"exact": "exact match", "partial": "partial match", "irrelevant": "irrelevant"}
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
from jinja2 import nodes
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

from shoptune.errors import ConfigError
from shoptune.records import LABELS, InstructionExample, PairExample

#: Kinds whose options are numbered from 1, as ShopBench numbers products in retrieval and ranking prompts.
ONE_BASED_KINDS = frozenset({"retrieval", "ranking"})

PAIR_OPTIONS = {"exact": "exact match", "partial": "partial match", "irrelevant": "irrelevant"}

DEFAULT_TEMPLATE = (
    "{{ instruction }}\n"
    "{% if input %}{{ input }}\n{% endif %}"
    "{% for option in options %}{{ loop.index0 + first_index }}. {{ option }}\n{% endfor %}"
    "Answer:"
)

#: Prompts come from task files anyone may write, so they render in Jinja's sandbox: no attribute walk
#: (``cycler.__init__.__globals__``) reaches Python, and no call changes a value (``x.append``, ``d.update``).
_ENV = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)


def template_problem(text: str, env: jinja2.Environment = _ENV, *, expression: bool = False) -> str | None:
    """Why ``text`` is not a usable template (or, with ``expression``, a Jinja expression) of ``env``; else None.

    Checked when a task or config is read: a syntax error, or a name with ``__`` (Python internals, which the
    sandbox refuses at render time anyway), is then one line naming the file and the key, before any work.

    >>> template_problem("{{ input }")
    "Jinja syntax error at line 1: unexpected '}'"
    >>> template_problem("{{ lipsum.__globals__ }}")
    "unsafe template: '__globals__' (names with '__' reach Python's internals)"
    """
    try:
        if expression:
            env.compile_expression(text)
            tree: nodes.Node = Parser(env, text, state="variable").parse_expression()
        else:
            tree = env.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        if expression:
            return f"not a Jinja expression ({exc.message})"
        return f"Jinja syntax error at line {exc.lineno}: {exc.message}"
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        if isinstance(node, nodes.Getattr):
            names = [node.attr]
        elif isinstance(node, nodes.Getitem):
            names = [node.arg.value] if isinstance(node.arg, nodes.Const) else []
        else:
            names = [a.value for a in node.args if isinstance(a, nodes.Const)] if node.name == "attr" else []
        for name in names:
            if isinstance(name, str) and "__" in name:
                return f"unsafe template: {name!r} (names with '__' reach Python's internals)"
    return None


def render_error(exc: jinja2.TemplateError) -> str:
    """A Jinja error as the part of a one-line message after the key."""
    if isinstance(exc, jinja2.exceptions.SecurityError):
        return f"unsafe template ({exc})"
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"Jinja syntax error at line {exc.lineno}: {exc.message}"
    return str(exc.message or type(exc).__name__)


@lru_cache(maxsize=256)
def _compile(template: str) -> jinja2.Template:
    return _ENV.from_string(template)


def first_index(kind: str) -> int:
    return 1 if kind in ONE_BASED_KINDS else 0


def render_prompt(example: InstructionExample, template: str = "", kind: str = "") -> str:
    """Render the model input for one example (without the answer)."""
    fields = {**example.metadata, **example.model_dump(exclude={"metadata"})}
    try:
        return _compile(template or DEFAULT_TEMPLATE).render(**fields, first_index=first_index(kind))
    except jinja2.TemplateError as exc:
        raise ConfigError(f"task {example.task!r}: key 'prompt': {render_error(exc)}") from None


def render_target(example: InstructionExample, kind: str = "") -> str:
    """The answer text the model is trained to produce.

    Choice tasks answer with the option's number; retrieval and ranking with 1-based item numbers (records
    store 0-based indices); list outputs are joined with ", "; everything else is the output text.
    """
    if example.options and isinstance(example.output, str):
        return str(example.options.index(example.output) + first_index(kind))
    if isinstance(example.output, list):
        if kind in ONE_BASED_KINDS:
            return ", ".join(str(int(i) + 1) for i in example.output)
        return ", ".join(example.output)
    return example.output


def pair_as_instruction(pair: PairExample, capability: str, description: str = "") -> InstructionExample:
    """Ask a relevance pair as a 3-way multiple-choice question, for decoder LLMs and SFT mixtures."""
    question = description or "How relevant is the second item to the first?"
    options = [PAIR_OPTIONS[label] for label in LABELS]
    return InstructionExample(
        task=pair.task,
        capability=capability,
        instruction=question,
        input=f"First: {pair.left}\nSecond: {pair.right}",
        options=options,
        output=PAIR_OPTIONS[pair.label.value],
        metadata=pair.metadata,
    )


def chat_prompt(tokenizer, user_text: str) -> str:
    """Wrap a rendered prompt in the model's chat template (with the assistant turn opened).

    Models without a chat template (base models such as Gemma 3 270M) get the raw prompt followed by a
    space, so that the answer continues "Answer: 0" as in ShopBench. Training and evaluation both call this,
    so a model is always scored on exactly the format it was trained on.
    """
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": user_text}], tokenize=False, add_generation_prompt=True
        )
    return user_text + " "
