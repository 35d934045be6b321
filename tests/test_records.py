import pytest
from pydantic import ValidationError

from shoptune.records import InstructionExample, Label, PairExample


def test_pair_example_validates_label():
    ex = PairExample(task="t", left="a", right="b", label="partial")
    assert ex.label is Label.partial
    with pytest.raises(ValidationError, match="label"):
        PairExample(task="t", left="a", right="b", label="somewhat")


def test_pair_example_rejects_blank_sides():
    with pytest.raises(ValidationError, match="left"):
        PairExample(task="t", left="   ", right="b", label="exact")


def test_instruction_output_must_be_an_option():
    ok = InstructionExample(task="t", capability="c", instruction="i", options=["a", "b"], output="b")
    assert ok.output == "b"
    with pytest.raises(ValidationError, match="not one of the options"):
        InstructionExample(task="t", capability="c", instruction="i", options=["a", "b"], output="c")


def test_instruction_allows_list_outputs():
    ex = InstructionExample(task="t", capability="c", instruction="i", output=["x", "y"])
    assert ex.output == ["x", "y"]
