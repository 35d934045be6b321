"""Bounded work in the LM evaluator and SFT: a huge prompt or answer is cut to a character bound tied to
``max_length`` before it is tokenised (from the side truncation drops), and the tokens kept are the same."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from shoptune.evaluation.items import _mc_choices
from shoptune.evaluation.lm import LMScorer
from shoptune.tasks.prompts import chat_prompt
from shoptune.text import CHARS_PER_TOKEN, clip_chars
from shoptune.training.examples import IGNORE, encode_example, end_of_answer

WORDS = ["red", "shoe", "lamp", "sofa", "blue", "cup", "cordless", "drill", "kit", "oak", "table", "42", "size"]


def _text(n_chars: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n_chars // 3))[:n_chars]


class _Spy:
    """A tokenizer that records the longest text it was given."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self.longest = 0

    def __call__(self, text: Any, *args: Any, **kwargs: Any) -> Any:
        for one in [text] if isinstance(text, str) else text:
            self.longest = max(self.longest, len(one))
        return self._tokenizer(text, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tokenizer, name)


@pytest.fixture(scope="module")
def tiny() -> tuple[Any, Any]:
    from shoptune.testing import make_tiny_causal_lm

    return make_tiny_causal_lm()


def test_clip_chars_keeps_the_side_truncation_keeps() -> None:
    text = "START " + "x" * 10_000 + " END"
    assert clip_chars(text, 8).startswith("START ") and len(clip_chars(text, 8)) == 8 * CHARS_PER_TOKEN
    assert clip_chars(text, 8, keep="end").endswith(" END") and len(clip_chars(text, 8, keep="end")) == 512
    assert clip_chars("short", 1) == "short" and clip_chars("abc", 0) == "abc"  # never below one token's worth
    with pytest.raises(ValueError):
        clip_chars("abc", 1, keep="middle")  # type: ignore[arg-type]


def test_scorer_tokenises_a_bounded_prompt_and_scores_as_before(tiny) -> None:
    model, tokenizer = tiny
    max_length = 40
    question = "\nWhich fits? 0. red shoe 1. oak table\nAnswer: "
    prompts = [_text(200_000, seed=1) + question, _text(30, seed=2) + question, _text(3000, seed=3) + question]
    options = [["0", "1"], ["red shoe", "oak table"], ["0", "1"]]
    spy = _Spy(tokenizer)
    scorer = LMScorer(model, spy, batch_size=4, max_length=max_length)
    started = time.monotonic()
    scores = scorer.choice_logprobs(prompts, options)
    generated = scorer.generate(prompts, 3)
    assert spy.longest <= CHARS_PER_TOKEN * max_length + max(len(o) for opts in options for o in opts)
    assert time.monotonic() - started < 10

    # As before clipping: each prompt tokenised whole, then its end kept.
    whole = LMScorer(model, tokenizer, batch_size=4, max_length=max_length)
    whole._clip = lambda prompt: prompt  # type: ignore[method-assign]
    assert scores == whole.choice_logprobs(prompts, options)
    assert generated == whole.generate(prompts, 3)


def _encode_whole(tokenizer: Any, prompt: str, answer: str, max_length: int) -> tuple[list[int], list[int]]:
    """encode_example before clipping: both texts tokenised whole, then cut."""
    prompt_ids = tokenizer(chat_prompt(tokenizer, prompt), add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(answer + end_of_answer(tokenizer), add_special_tokens=False)["input_ids"]
    answer_ids = answer_ids[: max_length - 1]
    prompt_ids = prompt_ids[-(max_length - len(answer_ids)) :]
    return prompt_ids + answer_ids, [IGNORE] * len(prompt_ids) + answer_ids


@pytest.mark.parametrize(
    ("prompt_chars", "answer_chars"),
    [(40, 5), (100_000, 5), (100_000, 100_000), (20, 100_000), (3000, 40)],
)
def test_sft_example_keeps_the_prompts_end_and_the_answers_start(tiny, prompt_chars: int, answer_chars: int) -> None:
    _, tokenizer = tiny
    max_length = 48
    prompt = "FIRST " + _text(prompt_chars, seed=4) + " Question: which? Answer:"
    answer = "LEAD " + _text(answer_chars, seed=5)
    spy = _Spy(tokenizer)
    seq = encode_example(spy, prompt=prompt, answer=answer, max_length=max_length)
    assert spy.longest <= CHARS_PER_TOKEN * max_length
    assert (seq.input_ids, seq.labels) == _encode_whole(tokenizer, prompt, answer, max_length)
    assert len(seq) <= max_length


def test_option_lines_of_a_prompt_of_blank_lines_are_found_in_linear_time() -> None:
    prompt = "A question\n" + "\n" * 60_000 + "0. red\n1. blue\n \n  2) green\nAnswer:"
    started = time.monotonic()
    assert _mc_choices(prompt) == ["0", "1", "2"]
    assert time.monotonic() - started < 1  # was quadratic: 60,000 blank lines took about 30 s
