"""Answer parsing: agreement with the KDD Cup 2024 starter kit's ShoppingBenchTaskParsers, robustness, and
the conservative UNPARSED sentinel."""

from __future__ import annotations

import pytest

from shoptune.evaluation.parsing import (
    ANSWER_FILTERS,
    PAIR_LABELS,
    UNPARSED,
    Parsed,
    parse_answer,
    parse_generation,
    parse_label,
    parse_label_set,
    parse_multiple_choice,
    parse_ner,
    parse_ranking,
    parse_retrieval,
    strip_label_prefix,
)

# ---------------------------------------------------------------------------------------------------------
# Official agreement. Expected values are what the starter kit's parser returns for the same text (the
# examples in its parsers.py `__main__` block, plus cases worked through its rules by hand).


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2", 2),  # official example
        ("  3", 3),  # official strips first
        ("1. Because the cable fits.", 1),  # official reads the first character
        ("0\nexplanation", 0),
        ("12", 1),  # official reads only the first character, so "12" is 1
    ],
)
def test_multiple_choice_agrees_with_official(text: str, expected: int) -> None:
    assert parse_multiple_choice(text) == Parsed(expected, True)


def test_multiple_choice_official_failure_is_unparsed() -> None:
    # Official example: "a" -> -1 (failure); ours is the UNPARSED sentinel.
    assert parse_multiple_choice("a") is UNPARSED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1, 2, 3, 4, 5", [1, 2, 3, 4, 5]),  # official example
        ("[1, 2, 3, 4, 5]", [1, 2, 3, 4, 5]),  # official example: tolerant to [ ]
        ("1, 4, 5, aicrowd, 6", [1, 4, 5, 6]),  # official example: non-numeric items skipped
        ("5, 4, 3, 2, 1, 6", [5, 4, 3, 2, 1]),  # official keeps the first 5
        ("1, 2, 3, 4, 5, 1", [1, 2, 3, 4, 5]),  # duplicate after the 5th: official ignores it
        ("Answer: 3, 1, 2", [3, 1, 2]),  # official drops letters: " 3" -> 3
        ("Product 2, Product 5, Product 1", [2, 5, 1]),  # official: " 2", " 5", " 1"
        ("1, 2, and 3", [1, 2, 3]),  # official: " and 3" -> "  3" -> 3
    ],
)
def test_ranking_agrees_with_official(text: str, expected: list[int]) -> None:
    assert parse_ranking(text) == Parsed(expected, True)


def test_ranking_duplicates_are_rejected_like_official() -> None:
    # Official example: "1, 2, 2, 3" -> [] (repeated numbers); ours is unparsed, which also scores 0.
    assert parse_ranking("1, 2, 2, 3") is UNPARSED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100, 200, 300", [100, 200, 300]),  # official examples from here on
        ("100, 200", [100, 200]),
        ("100, 200, jjhg", [100, 200]),
        ("100, 200, 300, 400", [100, 200, 300]),
        ("1, 1, 2", [1, 1, 2]),  # official keeps duplicates for retrieval
        ("[4, 9, 2]", [4, 9, 2]),
    ],
)
def test_retrieval_agrees_with_official(text: str, expected: list[int]) -> None:
    assert parse_retrieval(text) == Parsed(expected, True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("['New York', 'ShopBench', 'Amazon']", ["New York", "ShopBench", "Amazon"]),  # official example
        ("New York, ShopBench, Amazon", ["New York", "ShopBench", "Amazon"]),  # official example
        (" Apple ,  USB-C ", ["Apple", "USB-C"]),  # official fallback strips each item
        ('["4K", "HDMI 2.1"]', ["4K", "HDMI 2.1"]),
        ("Amazon", ["Amazon"]),  # official: literal_eval fails -> split -> ["Amazon"]
    ],
)
def test_ner_agrees_with_official(text: str, expected: list[str]) -> None:
    assert parse_ner(text) == Parsed(expected, True)


def test_generation_agrees_with_official() -> None:
    # Official: response.strip().
    assert parse_generation("  This is a generated response.\n") == Parsed("This is a generated response.", True)


# ---------------------------------------------------------------------------------------------------------
# Robustness beyond the official parser.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Answer: 2", 2),
        ("2.", 2),
        ("(2)", 2),
        ("[3]", 3),
        ("**1**", 1),
        ("Option 2", 2),
        ("**Answer:** 1", 1),
        ("The answer is 3.", 3),
        ("Let me think. Cables differ in speed.\nSo the answer is (0).", 0),
    ],
)
def test_multiple_choice_is_robust(text: str, expected: int) -> None:
    assert parse_multiple_choice(text).value == expected


@pytest.mark.parametrize("text", ["", "   \n", "B", "I am not sure.", "Answer: 12", "Answer: none"])
def test_multiple_choice_without_an_answer_is_unparsed(text: str) -> None:
    assert parse_multiple_choice(text) is UNPARSED


def test_multiple_choice_range_check() -> None:
    assert parse_multiple_choice("7", n_choices=4) is UNPARSED
    assert parse_multiple_choice("3", n_choices=4).value == 3
    # The registry filter takes the range from the choices list.
    assert parse_answer("multiple_choice", "5", labels=["a", "b", "c", "d"]) is UNPARSED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Answer: [1, 3, 4]", [1, 3, 4]),
        ("[1, 3, 4]\nExplanation: product 2 is a case, not a cable.", [1, 3, 4]),
        ("Here are the top 3 products:\n2, 5, 1\nThey all match.", [2, 5, 1]),
        ("1, 2, 3 because product 4 is the wrong size", [1, 2, 3]),  # official: [1, 2]
        ("7，2，9", [7, 2, 9]),  # full-width commas
    ],
)
def test_retrieval_is_robust(text: str, expected: list[int]) -> None:
    assert parse_retrieval(text).value == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The ranking is: 3, 1, 2, 5, 4", [3, 1, 2, 5, 4]),
        ("3, 1, 2, 5, 4\n\nProduct 3 matches the query best.", [3, 1, 2, 5, 4]),  # official: [3, 1, 2, 5]
        ("1, 2, 3, 4, 5 (product 5 is least relevant)", [1, 2, 3, 4, 5]),  # official: [1, 2, 3, 4]
        ("Ranking:\n[2, 1, 3]", [2, 1, 3]),
    ],
)
def test_ranking_is_robust(text: str, expected: list[int]) -> None:
    assert parse_ranking(text).value == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "I cannot rank these products.",
        "1 2 3 4 5",  # no commas: official reads nothing either
        "1. Product 3\n2. Product 1",  # an enumerated explanation is ambiguous: not guessed
    ],
)
def test_list_without_an_answer_is_unparsed(text: str) -> None:
    assert parse_ranking(text) is UNPARSED
    assert parse_retrieval(text) is UNPARSED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[New York, Amazon]", ["New York", "Amazon"]),  # official: ['[New York', 'Amazon]']
        ("Entities: Apple, USB-C\nThese are a brand and a port.", ["Apple", "USB-C"]),
        ("['Apple', 'USB-C']\nBoth appear in the title.", ["Apple", "USB-C"]),
        ("Apple, , USB-C,", ["Apple", "USB-C"]),  # empty items dropped
        ('"Apple", "USB-C"', ["Apple", "USB-C"]),  # official keeps the quotes
        ("[]", []),  # an explicit "no entities"
    ],
)
def test_ner_is_robust(text: str, expected: list[str]) -> None:
    assert parse_ner(text) == Parsed(expected, True)


@pytest.mark.parametrize("text", ["", "  \n ", ", ,"])
def test_ner_without_an_answer_is_unparsed(text: str) -> None:
    assert parse_ner(text) is UNPARSED


def test_generation_empty_is_unparsed() -> None:
    assert parse_generation(" \n ") is UNPARSED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Exact", "exact"),
        ("partial.", "partial"),
        ("**Irrelevant**", "irrelevant"),
        ("Answer: Partial. The product lacks the requested size.", "partial"),
        ("The product is irrelevant to the query.", "irrelevant"),
        ("exact\nBecause the title matches.", "exact"),
    ],
)
def test_pair_labels(text: str, expected: str) -> None:
    assert parse_label(text, PAIR_LABELS) == Parsed(expected, True)
    assert parse_answer("pair", text).value == expected


@pytest.mark.parametrize("text", ["", "It is either exact or partial.", "maybe", "exactly"])
def test_pair_without_a_single_label_is_unparsed(text: str) -> None:
    assert parse_label(text, PAIR_LABELS) is UNPARSED


def test_label_spelling_and_longest_match() -> None:
    labels = ["Partial", "Partially Relevant", "Not Relevant"]
    # The label comes back in the task's own spelling.
    assert parse_label("partial", labels).value == "Partial"
    # Longest label first: "partially relevant" opens the line, not just "partial".
    assert parse_label("Partially relevant, since the colour differs.", labels).value == "Partially Relevant"
    # "relevant" is no label here, and "not relevant" is found anywhere in the line.
    assert parse_label("I would say not relevant.", labels).value == "Not Relevant"


def test_label_set_follows_ecomgpt() -> None:
    # EcomGPT EN_CLS: strip, remove '.', split on ', '; items are not stripped further.
    assert parse_label_set(" Price, Quality. ") == Parsed(["Price", "Quality"], True)
    assert parse_label_set("a,b").value == ["a,b"]
    assert parse_label_set("U.S. shipping").value == ["US shipping"]
    assert parse_label_set("") is UNPARSED
    assert parse_label_set(" . ") is UNPARSED


def test_strip_label_prefix_leaves_answers_alone() -> None:
    assert strip_label_prefix("Answer: 1, 2") == "1, 2"
    assert strip_label_prefix("The final answer is 2") == "2"
    # Not a known lead-in: an entity containing a colon survives.
    assert strip_label_prefix("Size: 10") == "Size: 10"


# ---------------------------------------------------------------------------------------------------------
# The answer-filter registry.


def test_registry_covers_every_kind() -> None:
    expected = {
        "multiple_choice": ("2", 2),
        "multiple-choice": ("2", 2),
        "multichoice": ("2", 2),
        "retrieval": ("1, 2, 3, 4", [1, 2, 3]),
        "ranking": ("2, 1, 3", [2, 1, 3]),
        "ner": ("a, b", ["a", "b"]),
        "named_entity_recognition": ("a, b", ["a", "b"]),
        "generation": (" text ", "text"),
        "pair": ("Exact", "exact"),
        "label_set": ("x, y", ["x", "y"]),
    }
    for kind, (text, value) in expected.items():
        assert parse_answer(kind, text) == Parsed(value, True), kind
    assert parse_answer("classification", "Positive!", labels=["positive", "negative"]).value == "positive"
    assert set(expected) | {"classification"} == set(ANSWER_FILTERS)


def test_registry_errors() -> None:
    with pytest.raises(ValueError, match="unknown task kind"):
        parse_answer("essay", "text")
    with pytest.raises(ValueError, match="label list"):
        parse_answer("classification", "positive")


def test_pathological_outputs_do_not_crash() -> None:
    # int() refuses over 4300 digits; a run-away number is simply not an item.
    assert parse_ranking("1, " + "9" * 5000 + " because").value == [1]
    assert parse_retrieval("9" * 5000) is UNPARSED
    # ast.literal_eval on deep nesting fails inside; the comma fallback takes over.
    assert parse_ner("[" * 5000).ok
    assert parse_multiple_choice("(" * 5000) is UNPARSED
