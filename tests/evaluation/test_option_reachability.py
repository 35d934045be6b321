"""Every option of a multiple-choice question can be chosen: with 20 numbered options and digit-by-digit
tokenisation, a summed log-probability ranks "1" above "12" whatever the model thinks, so options that begin another
option are scored with the end-of-answer marker the model was trained to emit after its answer."""

from __future__ import annotations

import torch

from shoptune.evaluation.items import EvalItem
from shoptune.evaluation.lm import LMScorer
from shoptune.evaluation.runner import run_model, scored_options
from shoptune.tasks.prompts import chat_prompt
from shoptune.testing import make_tiny_causal_lm
from shoptune.training.examples import end_of_answer

OPTIONS = [str(i) for i in range(20)]
PROMPT = "Which department? " + " ".join(f"{i}. dept {i}" for i in range(20)) + "\nAnswer:"


def _model_that_answers_12():
    """A tiny LM taught, as SFT would, to answer "12" and close its turn."""
    torch.manual_seed(0)
    model, tok = make_tiny_causal_lm(seed=0)
    chat = chat_prompt(tok, PROMPT)
    ids = tok(chat + "12" + end_of_answer(tok), add_special_tokens=False, return_tensors="pt")["input_ids"]
    labels = ids.clone()
    labels[:, : len(tok(chat, add_special_tokens=False)["input_ids"])] = -100
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(40):
        model(input_ids=ids, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return model.eval(), tok


def test_option_12_of_20_can_be_chosen():
    model, tok = _model_that_answers_12()
    scorer = LMScorer(model, tok, batch_size=4)
    item = EvalItem(
        task="t",
        group="held-out",
        kind="multiple_choice",
        prompt=PROMPT,
        target=12,
        metrics=["accuracy"],
        choices=OPTIONS,
    )
    [(raw, parsed)] = run_model([item], scorer)
    assert parsed.value == 12, raw
    # Scored without the marker (the old formulation), "12" loses to its own prefix "1", however sure the model is.
    plain = scorer.choice_logprobs([chat_prompt(tok, PROMPT)], [OPTIONS])[0]
    assert plain[1] > plain[12]


def test_prefix_free_options_are_scored_as_before():
    assert scored_options(["0", "1", "2", "3"], "<|im_end|>") == ["0", "1", "2", "3"]
    assert scored_options(["A", "B"], "</s>") == ["A", "B"]
    assert scored_options(OPTIONS, "<|im_end|>")[12] == "12<|im_end|>"
