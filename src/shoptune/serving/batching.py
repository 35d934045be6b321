"""Micro-batching: requests from many clients join one queue; one worker takes the first request, waits at most
``max_wait_ms`` for more until the batch holds ``max_batch`` pairs, and scores them in one call off the event loop
(a thread), so the server keeps accepting while the model runs and concurrent clients share forward passes.

Example:
    >>> import asyncio, numpy as np
    >>> async def demo():
    ...     batcher = MicroBatcher(lambda xs: [x * 2 for x in xs], max_batch=8, max_wait_ms=1)
    ...     await batcher.start()
    ...     out = await asyncio.gather(batcher.submit([1, 2]), batcher.submit([3]))
    ...     await batcher.stop()
    ...     return out, batcher.batches
    >>> asyncio.run(demo())
    ([[2, 4], [6]], [3])
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Job:
    items: Sequence[Any]
    future: asyncio.Future = field(repr=False)


class MicroBatcher:
    """Batches the items of concurrent ``submit`` calls into calls of ``run`` (items in, one result per item out).

    ``batches`` records each call's size (the metrics read it); ``depth()`` is the queue's length in items."""

    def __init__(
        self,
        run: Callable[[list[Any]], Sequence[Any]],
        *,
        max_batch: int,
        max_wait_ms: float,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.run = run
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.on_batch = on_batch
        self.batches: list[int] = []
        self._queue: asyncio.Queue[_Job] | None = None
        self._worker: asyncio.Task | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shoptune-model")
        self._queued = 0

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._loop())

    def depth(self) -> int:
        return self._queued

    async def submit(self, items: Sequence[Any]) -> list[Any]:
        """The results of ``items``, in order, once their batch has run."""
        if self._queue is None:
            raise RuntimeError("the batcher is not started")
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._queued += len(items)
        await self._queue.put(_Job(items, future))
        return await future

    async def stop(self) -> None:
        """Finish what is queued, then stop the worker and its thread."""
        if self._queue is not None:
            await self._queue.join()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        self._pool.shutdown(wait=True)

    async def _loop(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await self._queue.get()]
            size = len(jobs[0].items)
            deadline = loop.time() + self.max_wait
            while size < self.max_batch:
                try:
                    job = await asyncio.wait_for(self._queue.get(), max(0.0, deadline - loop.time()))
                except TimeoutError:
                    break
                jobs.append(job)
                size += len(job.items)
            await self._run(jobs, size, loop)

    async def _run(self, jobs: list[_Job], size: int, loop: asyncio.AbstractEventLoop) -> None:
        assert self._queue is not None
        items = [x for job in jobs for x in job.items]
        self._queued -= size
        self.batches.append(size)
        if self.on_batch:
            self.on_batch(size)
        try:
            results = await loop.run_in_executor(self._pool, self.run, items)
        except Exception as exc:  # every request of the batch hears of it; the server keeps serving
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(exc)
        else:
            start = 0
            for job in jobs:
                if not job.future.done():  # a client that timed out has gone
                    job.future.set_result(list(results[start : start + len(job.items)]))
                start += len(job.items)
        finally:
            for _ in jobs:
                self._queue.task_done()
