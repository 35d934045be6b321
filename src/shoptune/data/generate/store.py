"""Checkpoints of a generation: every reply (or final failure) of every request, as it arrives.

Replies are buffered and written every ``checkpoint_every`` replies as a new part file
``OUT/checkpoints/part-NNNNNN.jsonl``, each written atomically (temp file, fsync, rename): a kill leaves whole
part files and loses at most the unwritten buffer. A restart reads every part and sends only the requests with no
reply yet, so what was checkpointed is never paid for twice. Transport failures (timeouts, dropped connections,
429 and 5xx after every retry, malformed bodies) cost no tokens and are sent again on resume; replies the model
did write (truncated or empty ones included) are not.

Example:
    >>> store = ReplyStore(Path(tempfile.mkdtemp()), every=2)  # doctest: +SKIP
    >>> store.add(Reply(id="g000000", status="ok", text="{}"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shoptune.errors import DataError
from shoptune.io import atomic_write_text, clean_stale

#: Failures that cost nothing and may succeed later: sent again when a run resumes.
TRANSIENT = frozenset({"timeout", "connection", "http_429", "http_5xx", "bad_body", "empty_choices"})


@dataclass
class Reply:
    """The outcome of one request: the model's text, or why there is none."""

    id: str
    status: str  # "ok" | "failed"
    text: str = ""
    cause: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    #: True when the server reported no usage and the token counts are estimates (4 characters a token).
    usage_estimated: bool = False
    attempts: int = 1
    #: Retries by cause (a request that succeeded on its third try has two here).
    retries: dict[str, int] = field(default_factory=dict)
    model: str = ""
    time: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    seconds: float = 0.0
    detail: str = ""

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def paid(self) -> bool:
        """Whether the reply stands (a resumed run does not send its request again)."""
        return self.status == "ok" or self.cause not in TRANSIENT

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class ReplyStore:
    """All replies of a run by request id, loaded from the part files and appended to in atomic parts."""

    def __init__(self, folder: Path, every: int) -> None:
        self.folder = folder
        self.every = every
        self.replies: dict[str, Reply] = {}
        self._buffer: list[Reply] = []
        self._next_part = 0
        self._load()

    def _load(self) -> None:
        if not self.folder.is_dir():
            return
        for temp in self.folder.glob(".part-*.jsonl.tmp-*"):  # a part being written when a run was killed
            clean_stale(self.folder / temp.name[1:].rsplit(".tmp-", 1)[0])
        parts = sorted(self.folder.glob("part-*.jsonl"))
        for part in parts:
            for number, line in enumerate(part.read_text(encoding="utf-8").splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    reply = Reply(**json.loads(line))
                except (json.JSONDecodeError, TypeError) as exc:
                    raise DataError(part, number, "-", f"not a checkpointed reply ({exc}); remove the file") from None
                self.replies[reply.id] = reply
        if parts:
            self._next_part = int(parts[-1].stem.split("-")[1]) + 1

    def done(self, request_id: str) -> bool:
        reply = self.replies.get(request_id)
        return reply is not None and reply.paid

    def add(self, reply: Reply) -> None:
        self.replies[reply.id] = reply
        self._buffer.append(reply)
        if len(self._buffer) >= self.every:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        text = "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in self._buffer)
        atomic_write_text(self.folder / f"part-{self._next_part:06d}.jsonl", text)
        self._next_part += 1
        self._buffer = []

    def tokens_spent(self) -> int:
        return sum(r.tokens for r in self.replies.values())
