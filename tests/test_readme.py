"""The README's "Python API" section runs as written, and every function its table names exists."""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_api_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Python API\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_the_python_api_example_runs_as_a_doctest() -> None:
    # A code fence ends an example's expected output, as a blank line does in a docstring.
    section = re.sub(r"(?m)^```.*$", "", python_api_section())
    parser = doctest.DocTestParser()
    test = parser.get_doctest(section, {}, "README.md#python-api", str(README), 0)
    assert len(test.examples) >= 5
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} README examples failed (output above)"


def test_every_function_the_table_names_exists() -> None:
    names = set(re.findall(r"`(shoptune(?:\.relevance)?\.[a-z_]+)\(", python_api_section()))
    assert len(names) >= 15
    for dotted in sorted(names):
        module, _, name = dotted.rpartition(".")
        assert callable(getattr(importlib.import_module(module), name)), dotted
