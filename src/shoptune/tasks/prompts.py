"""Prompt rendering: one Jinja template per task (or a default per kind), shared by training and evaluation.

Options are numbered from 0, as in ShopBench, so the answer to a multiple-choice question is an index.

Example:
    >>> from shoptune.records import LABELS, InstructionExample, PairExample
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

import math
import re
import string
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes, pass_context
from jinja2.compiler import CodeGenerator
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

# ============================================================================================ the sandbox
#: The most characters (or items) one value a template builds may hold: a string, a list, a dict.
MAX_ITEMS = 1_000_000
#: The most bits an integer a template computes may have (Python prints at most 4300 digits anyway).
MAX_INT_BITS = 65_536
#: The most loop iterations and calls one render may take.
MAX_STEPS = 200_000
#: The most characters one render may build or read through filters, operators and calls, its output included.
MAX_WORK = 20_000_000
#: The most characters a rendered template may have.
MAX_OUTPUT = 1_000_000

_SEQUENCES = (str, bytes, list, tuple, dict, set, frozenset)
#: Where a render keeps its budget: a key no template can name (not an identifier), shared with derived contexts.
_BUDGET_KEY = "shoptune:budget"
#: printf-style conversion specs: flags, width and precision (``*`` takes them from the arguments).
_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


class TemplateLimitError(jinja2.exceptions.SecurityError):
    """A template asked for more than the sandbox allows: a huge value, too many steps or too long an output."""


class _Budget:
    __slots__ = ("_steps", "_work")

    def __init__(self) -> None:
        self._steps = 0
        self._work = 0


def _size(value: Any) -> int:
    return len(value) if isinstance(value, _SEQUENCES) else 0


def _int_like(value: Any) -> bool:
    return isinstance(value, int)


def _too_large(what: str, size: int, limit: int = MAX_ITEMS, unit: str = "characters or items") -> None:
    if size > limit:
        raise TemplateLimitError(f"template limit: {what} would make {size} {unit} (at most {limit})")


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any = None) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _printf_widths(text: str, args: Any) -> int:
    """The widths and precisions a printf-style format asks for, ``*`` ones taken from ``args``."""
    numbers = [a for a in (args if isinstance(args, tuple) else (args,)) if _int_like(a)]
    total = 0
    for width, precision in _PRINTF_SPEC.findall(text):
        for part in (width, precision):
            if part == "*":
                total += max((abs(n) for n in numbers), default=0)
            elif part:
                total += int(part) if len(part) <= 9 else MAX_ITEMS + 1
    return total


def _format_widths(text: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """The widths and precisions a ``str.format`` string asks for (nested fields taken as the largest argument)."""
    numbers = [a for a in (*args, *kwargs.values()) if _int_like(a)]
    total = 0
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        return 0  # str.format itself says what is wrong
    for _, _, spec, _ in parsed:
        if not spec:
            continue
        if "{" in spec:
            total += max((abs(n) for n in numbers), default=0)
        total += sum(int(d) if len(d) <= 9 else MAX_ITEMS + 1 for d in re.findall(r"\d+", spec))
    return total


def _replaced_size(text: str, old: Any, new: Any, count: Any) -> int:
    old, new = str(old), str(new)
    hits = len(text) + 1 if not old else text.count(old)
    if _int_like(count) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * (len(new) - len(old))


def _joined(items: Any, separator: Any) -> tuple[list[Any], int]:
    """The items (as a list, so a generator is read once) and the length of joining them with ``separator``."""
    listed = list(items)
    _too_large("joining", len(listed))
    return listed, sum(len(str(i)) for i in listed) + len(str(separator)) * max(0, len(listed) - 1)


# Checks before a filter runs, for those whose arguments say how much they build.
FilterCheck = Callable[[Any, tuple[Any, ...], dict[str, Any]], None]


def _check_size_argument(name: str, argument: str, default: int) -> FilterCheck:
    """A check for a filter whose first argument is the size it builds (center's width, batch's linecount...)."""

    def check(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        size = _arg(args, kwargs, 0, argument, default)
        if _int_like(size):
            _too_large(name, size)

    return check


def _check_indent(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    width = _arg(args, kwargs, 0, "width", 4)
    each = len(width) if isinstance(width, str) else width if _int_like(width) else 0
    _too_large("indent", _size(str(value)) + each * (str(value).count("\n") + 1))


def _check_tojson(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    indent = _arg(args, kwargs, 0, "indent", None)
    if (_int_like(indent) and indent > 16) or (isinstance(indent, str) and len(indent) > 16):
        raise TemplateLimitError("template limit: tojson indent is at most 16")


def _check_wordwrap(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    wrapstring = _arg(args, kwargs, 2, "wrapstring", None)
    if isinstance(wrapstring, str):
        _too_large("wordwrap", len(str(value)) * (1 + len(wrapstring)))


def _check_replace(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    old, new = _arg(args, kwargs, 0, "old", ""), _arg(args, kwargs, 1, "new", "")
    _too_large("replace", _replaced_size(str(value), old, new, _arg(args, kwargs, 2, "count", None)))


def _check_format(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    _too_large("format", len(str(value)) + _printf_widths(str(value), args or tuple(kwargs.values())))


_FILTER_CHECKS: dict[str, FilterCheck] = {
    "center": _check_size_argument("center", "width", 80),
    "indent": _check_indent,
    "batch": _check_size_argument("batch", "linecount", 0),
    "slice": _check_size_argument("slice", "slices", 0),
    "tojson": _check_tojson,
    "wordwrap": _check_wordwrap,
    "replace": _check_replace,
    "format": _check_format,
}


def _lipsum_checked(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002
    if not all(_int_like(v) for v in (n, min, max)) or n > 100 or max > 1000:
        raise TemplateLimitError("template limit: lipsum makes at most 100 paragraphs of at most 1000 words")
    return str(jinja2.utils.generate_lorem_ipsum(n=n, html=html, min=min, max=max))


def _loop_step(literal: int) -> str:
    """Placed at the top of every loop body and macro: one step, and the body's own text counted as work."""
    raise AssertionError("called only through the sandbox")  # pragma: no cover


class _GuardedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with every loop iteration and macro call counted and ``~`` checked."""

    def visit_Template(self, node: nodes.Template, frame: Any = None) -> None:
        for block in list(node.find_all((nodes.For, nodes.Macro, nodes.CallBlock))):
            if getattr(block, "_shoptune_counted", False):
                continue
            literal = sum(len(d.data) for part in block.body for d in part.find_all(nodes.TemplateData))
            counter = nodes.Call(nodes.EnvironmentAttribute("loop_step"), [nodes.Const(literal)], [], None, None)
            block.body.insert(0, nodes.Output([counter]).set_lineno(block.lineno))
            block._shoptune_counted = True  # type: ignore[attr-defined]
        super().visit_Template(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Any) -> None:
        self.write("environment.guarded_concat(context, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _GuardedTemplate(jinja2.Template):
    """A template whose render has a budget (steps and work) and whose output is capped at MAX_OUTPUT."""

    def new_context(self, vars: dict[str, Any] | None = None, shared: bool = False, locals: Any = None) -> Any:  # noqa: A002
        context = super().new_context(vars, shared, locals)
        context.vars[_BUDGET_KEY] = _Budget()
        return context

    def render(self, *args: Any, **kwargs: Any) -> str:
        parts, size = [], 0
        for chunk in self.generate(*args, **kwargs):
            size += len(chunk)
            _too_large("the rendered text", size, MAX_OUTPUT, "characters")
            parts.append(chunk)
        return "".join(parts)


class SafeTemplates(ImmutableSandboxedEnvironment):
    """The one Jinja environment every template and expression from a file runs in (task prompts, generate configs).

    Jinja's immutable sandbox (no attribute walk reaches Python, no call changes a value), plus limits on what a
    template may build: no value over :data:`MAX_ITEMS` characters or items (``'a' * 10**10`` is refused before
    it is made), no integer over :data:`MAX_INT_BITS` bits (``9**99999``), at most :data:`MAX_STEPS` loop
    iterations and calls and :data:`MAX_WORK` characters of work per render, and at most :data:`MAX_OUTPUT`
    characters rendered. Breaking a limit raises :class:`TemplateLimitError` (a ``SecurityError``); the errors a
    render may raise otherwise are :attr:`render_errors`.

    >>> SafeTemplates().from_string("{{ 'ab' * 2 }}").render()
    'abab'
    >>> SafeTemplates().from_string("{{ 'a' * 10**10 }}").render()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shoptune.tasks.prompts.TemplateLimitError: template limit: 'str' * 'int' would make 10000000000 characters ...
    """

    intercepted_binops = frozenset({"*", "**", "+", "//", "%"})
    code_generator_class = _GuardedCodeGenerator
    template_class = _GuardedTemplate
    #: What rendering a user's template may raise: Jinja's errors and the template's own (1/0, 'a' + 1, ...).
    render_errors: tuple[type[BaseException], ...] = (
        jinja2.TemplateError,
        ArithmeticError,
        LookupError,
        TypeError,
        ValueError,
        AttributeError,
        MemoryError,
        RecursionError,
    )

    def __init__(self, **options: Any) -> None:
        options.setdefault("undefined", jinja2.StrictUndefined)
        options.setdefault("autoescape", False)
        options.setdefault("keep_trailing_newline", False)
        super().__init__(finalize=self._finalize, **options)
        self.loop_step = _loop_step
        self.globals["lipsum"] = _lipsum_checked
        self.filters = {name: self._guard_filter(name, f) for name, f in self.filters.items()}

    # ---------------------------------------------------------------------------- the budget of one render
    @staticmethod
    def _budget(context: Any) -> _Budget:
        budget = context.resolve_or_missing(_BUDGET_KEY) if context is not None else None
        return budget if isinstance(budget, _Budget) else _Budget()

    def charge(self, context: Any, work: int, steps: int = 1) -> None:
        budget = self._budget(context)
        budget._steps += steps
        budget._work += work
        if budget._steps > MAX_STEPS:
            raise TemplateLimitError(f"template limit: more than {MAX_STEPS} loop iterations and calls")
        if budget._work > MAX_WORK:
            raise TemplateLimitError(f"template limit: more than {MAX_WORK} characters built or read")

    def produced(self, context: Any, value: Any, what: str) -> Any:
        """Check and count a value an operator, filter or call made."""
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            _too_large(what, value.bit_length(), MAX_INT_BITS, "bits")
        size = _size(value)
        _too_large(what, size)
        self.charge(context, size, steps=0)
        return value

    @pass_context
    def _finalize(self, context: Any, value: Any) -> Any:
        text = value if isinstance(value, str) else str(value)
        self.charge(context, len(text), steps=0)
        return text

    # ---------------------------------------------------------------------------- operators, `~`, filters, calls
    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        what = f"{type(left).__name__!r} {operator} {type(right).__name__!r}"
        self.charge(context, _size(left) + _size(right))
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, _SEQUENCES) and _int_like(times):
                    _too_large(what, len(seq) * max(0, times))
            if _int_like(left) and _int_like(right):
                _too_large(what, left.bit_length() + right.bit_length(), MAX_INT_BITS, "bits")
        elif operator == "**" and _int_like(left) and _int_like(right) and right > 0 and abs(left) > 1:
            bits = MAX_INT_BITS + 1 if right.bit_length() > 32 else math.ceil(right * math.log2(abs(left)))
            _too_large(what, bits, MAX_INT_BITS, "bits")
        elif operator == "+" and isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
            _too_large(what, len(left) + len(right))
        elif operator == "%" and isinstance(left, str):
            _too_large(what, len(left) + _printf_widths(left, right if isinstance(right, tuple) else (right,)))
        return self.produced(context, super().call_binop(context, operator, left, right), what)

    def guarded_concat(self, context: Any, parts: tuple[Any, ...]) -> str:
        texts = [p if isinstance(p, str) else str(p) for p in parts]
        size = sum(map(len, texts))
        _too_large("'~'", size)
        self.charge(context, size)
        return "".join(texts)

    def _guard_filter(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        pass_arg = getattr(getattr(func, "jinja_pass_arg", None), "name", None)
        check = _FILTER_CHECKS.get(name)
        what = f"filter {name!r}"

        @pass_context
        def guarded(context: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
            self.charge(context, _size(value))
            if check is not None:
                check(value, args, kwargs)
            if name == "join":
                value, size = _joined(value, _arg(args, kwargs, 0, "d", ""))
                _too_large(what, size)
            elif name == "sum":
                value = list(value)
                start = _arg(args, kwargs, 1, "start", 0)
                _too_large(what, len(value) + sum(_size(v) for v in value) + _size(start))
            if pass_arg == "context":
                result = func(context, value, *args, **kwargs)
            elif pass_arg == "eval_context":
                result = func(context.eval_ctx, value, *args, **kwargs)
            elif pass_arg == "environment":
                result = func(self, value, *args, **kwargs)
            else:
                result = func(value, *args, **kwargs)
            return self.produced(context, result, what)

        return guarded

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        if __obj is _loop_step:
            __self.charge(__context, args[0] if args and _int_like(args[0]) else 0)
            return ""
        __self.charge(__context, sum(_size(a) for a in args))
        target = getattr(__obj, "__wrapped__", __obj)  # str.format comes wrapped by the sandbox
        owner, name = getattr(target, "__self__", None), getattr(target, "__name__", "")
        what = f"{type(owner).__name__}.{name}()" if owner is not None else f"{name or 'call'}()"
        if isinstance(owner, str | bytes | int) and not isinstance(owner, bool):
            values = [*args, *(v for k, v in kwargs.items() if not k.startswith("_"))]
            if name in ("format", "format_map"):
                fields = dict(args[0]) if name == "format_map" and args and isinstance(args[0], dict) else kwargs
                positional = () if name == "format_map" else args
                _too_large(what, len(str(owner)) + _format_widths(str(owner), positional, fields))
            elif any(_int_like(v) and abs(v) > MAX_ITEMS for v in values):
                _too_large(what, max(abs(v) for v in values if _int_like(v)))
            elif name == "join" and args:
                listed, size = _joined(args[0], owner)
                _too_large(what, size)
                args = (listed, *args[1:])
            elif name == "replace" and isinstance(owner, str) and len(args) >= 2:
                _too_large(what, _replaced_size(owner, args[0], args[1], args[2] if len(args) > 2 else -1))
            elif name == "expandtabs" and isinstance(owner, str):
                tab = _arg(args, kwargs, 0, "tabsize", 8)
                _too_large(what, len(owner) + owner.count("\t") * (tab if _int_like(tab) else 8))
            elif name == "translate" and isinstance(owner, str) and args and isinstance(args[0], dict):
                longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
                _too_large(what, len(owner) * max(1, longest))
        result = super().call(__context, __obj, *args, **kwargs)
        return __self.produced(__context, result, what)


#: Prompts come from task files anyone may write, so they render in the sandbox: no attribute walk
#: (``cycler.__init__.__globals__``) reaches Python, no call changes a value (``x.append``, ``d.update``), and no
#: value, loop or output grows past the limits above.
_ENV = SafeTemplates()


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
    if not expression:
        try:  # what parsing lets through and compiling does not: an unknown filter or test, a bad assignment
            env.compile(tree)
        except jinja2.TemplateSyntaxError as exc:
            return f"Jinja syntax error at line {exc.lineno}: {exc.message}"
    return None


def render_error(exc: BaseException, what: str = "template") -> str:
    """What went wrong rendering a template (or evaluating an expression), as the part of a one-line message
    after the key: a Jinja error, a limit of the sandbox, or the template's own error (``1/0``, ``'a' + 1``).

    >>> render_error(ZeroDivisionError("division by zero"))
    'template error: ZeroDivisionError: division by zero'
    """
    if isinstance(exc, TemplateLimitError):
        return str(exc)
    if isinstance(exc, jinja2.exceptions.SecurityError):
        return f"unsafe {what} ({exc})"
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"Jinja syntax error at line {exc.lineno}: {exc.message}"
    if isinstance(exc, jinja2.TemplateError):
        return str(exc.message or type(exc).__name__)
    if isinstance(exc, MemoryError):
        return f"{what} error: out of memory"
    if isinstance(exc, RecursionError):
        return f"{what} error: recursion too deep"
    reason = " ".join(str(exc).split())[:200]
    return f"{what} error: {type(exc).__name__}" + (f": {reason}" if reason else "")


@lru_cache(maxsize=256)
def _compile(template: str) -> jinja2.Template:
    return _ENV.from_string(template)


def first_index(kind: str) -> int:
    return 1 if kind in ONE_BASED_KINDS else 0


def render_prompt(
    example: InstructionExample, template: str = "", kind: str = "", *, source: str | Path | None = None
) -> str:
    """Render the model input for one example (without the answer).

    A template that fails (an undefined field, ``1/0``, a limit of the sandbox) is one :class:`ConfigError` naming
    the task's file (``source``, when the caller knows it) or else the task, and the key ``prompt``.
    """
    fields = {**example.metadata, **example.model_dump(exclude={"metadata"})}
    try:
        return _compile(template or DEFAULT_TEMPLATE).render(**fields, first_index=first_index(kind))
    except SafeTemplates.render_errors as exc:
        where = str(source) if source is not None else f"task {example.task!r}"
        raise ConfigError(f"{where}: key 'prompt': {render_error(exc)}") from None


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
