"""TailorMatch entity-matching prompts: prompt/completion CSVs and OpenAI chat JSONL (``*_gpt.jsonl``).

Two file formats, told apart by extension:

- ``*.csv`` (UTF-8, header ``prompt,completion``)::

      "Do the two product descriptions refer to the same real-world product? Entity 1: 'WD Blue SN550 1TB'.
      Entity 2: 'WD SSD 1TB BLUE SATA3'.",No

- ``*.jsonl`` / ``*.json`` (gzip optional), one chat per line::

      {"messages": [{"role": "user", "content": "Do the two entity descriptions ... Entity 1: '...'.
       Entity 2: '...'."}, {"role": "assistant", "content": "Yes"}]}

The answer (completion, or the assistant turn after the last user turn) is Yes/No (any case, trailing
period allowed). The two offers are cut out of the prompt at ``Entity 1: '...'. Entity 2: '...'.`` (also
``Product``/``Offer``/``Record`` 1/2); an offer text may itself contain quotes.

Label derivation: Yes -> exact, No -> irrelevant. The prompts carry no hard-negative flag, so there is no
partial grade.

Example:
    >>> split_prompt("Same product? Entity 1: 'Maxxis 27.5''x2.50 tire'. Entity 2: 'HyperX 8GB'.")
    ("Maxxis 27.5''x2.50 tire", 'HyperX 8GB')
"""

from __future__ import annotations

import re
from pathlib import Path

from shoptune.data.errorlog import ErrorLog
from shoptune.data.readers import Row, iter_csv, iter_jsonl
from shoptune.data.sources import register
from shoptune.data.sources._offer_pairs import OfferPairSource
from shoptune.errors import DataError
from shoptune.records import Label
from shoptune.text import clip, norm_key

_NOUN = r"(?:Entity|Product|Offer|Record|Item)"
# Greedy first offer up to the LAST "'. Entity 2: '" would break on titles containing it; the lazy match
# anchored on the full separator and the end of the prompt is exact for every TailorMatch prompt.
_OFFERS = re.compile(rf"{_NOUN} 1:\s*'(.*?)'\.?\s+{_NOUN} 2:\s*'(.*)'\.?\s*$", re.S)
_ANSWERS = {"yes": Label.exact, "no": Label.irrelevant}


def split_prompt(prompt: str) -> tuple[str, str] | None:
    """The two offer texts of a matching prompt, or None when the prompt does not name two entities."""
    match = _OFFERS.search(prompt)
    if not match:
        return None
    left, right = (" ".join(part.split()) for part in match.groups())
    return (left, right) if left and right else None


def answer_label(text: str) -> Label | None:
    """Yes/No (any case, optional trailing period) -> exact/irrelevant; None for anything else."""
    return _ANSWERS.get(text.strip().rstrip(".").strip().lower())


@register
class TailorMatchPrompts(OfferPairSource):
    name = "tailormatch_prompts"
    title = "TailorMatch matching prompts (prompt/completion CSV or chat JSONL, answer Yes/No)"
    path_hint = "a prompt,completion .csv or a chat .jsonl (e.g. wdcproducts..._train_small_simple_gpt.jsonl)"
    default_view = "pairs"

    def read(self, path: Path, log: ErrorLog) -> list[Row]:
        path = Path(path)
        if ".csv" in [s.lower() for s in path.suffixes]:
            raw = iter_csv(path, required=["prompt", "completion"], log=log)
            return self.valid_rows(
                raw, lambda row: _parse(row, row.get("prompt"), row.get("completion"), "prompt", "completion"), log
            )
        return self.valid_rows(iter_jsonl(path, log=log), _parse_chat, log)

    def offer_text(self, offer: str, max_chars: int) -> str:
        return clip(offer, max_chars)

    def pair_groups(self, row: Row) -> list[str]:
        return _groups(row)


def _groups(row: Row) -> list[str]:
    return [f"p:{norm_key(row['left'])}", f"p:{norm_key(row['right'])}"]


def _parse(row: Row, prompt: object, answer: object, prompt_field: str, answer_field: str) -> Row:
    file, number = row["_file"], row["_row"]
    if not isinstance(prompt, str) or not prompt.strip():
        raise DataError(file, number, prompt_field, "empty value")
    if not isinstance(answer, str) or not answer.strip():
        raise DataError(file, number, answer_field, "empty value")
    label = answer_label(answer)
    if label is None:
        raise DataError(file, number, answer_field, f"unknown label {answer!r} (expected one of: No, Yes)")
    offers = split_prompt(prompt)
    if offers is None:
        raise DataError(file, number, prompt_field, f"no \"Entity 1: '...'. Entity 2: '...'\" in {prompt[:80]!r}")
    return {"_row": number, "_file": file, "left": offers[0], "right": offers[1], "label": label}


def _parse_chat(row: Row) -> Row:
    """The last user turn and the assistant turn that answers it."""
    messages = row.get("messages")
    if not isinstance(messages, list) or not messages:
        raise DataError(row["_file"], row["_row"], "messages", "missing or not a list of chat turns")
    user_at = max((i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "user"), default=None)
    if user_at is None:
        raise DataError(row["_file"], row["_row"], "messages", "no user turn")
    reply = next((m for m in messages[user_at + 1 :] if isinstance(m, dict) and m.get("role") == "assistant"), None)
    if reply is None:
        raise DataError(row["_file"], row["_row"], "messages", "no assistant turn after the user turn (row cut off?)")
    return _parse(
        row,
        messages[user_at].get("content"),
        reply.get("content"),
        "messages.user.content",
        "messages.assistant.content",
    )
