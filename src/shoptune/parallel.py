"""Ray as the engine that spreads shoptune's work over processes and machines (``--engine ray``).

Two shapes of work use it, through the two functions here:

- :func:`run_workers`: N Ray tasks run the same loop at once. A sweep's workers each claim runs from the sweep
  folder (``shoptune.io.claim_work``) until none is left, exactly as several ``experiment run --resume``
  processes would; the folder must be on a filesystem every node sees.
- :func:`ordered_map`: items (chunks of pairs) go to a pool of Ray actors, each holding one loaded model, and the
  results come back in the order the items went in, with a bounded number in flight, so the driver can stream a
  file larger than memory and write its output in input order (``relevance predict --engine ray``).

By default ``ray.init()`` starts a Ray on this machine with ``workers`` CPU slots; ``address`` joins an existing
cluster instead (``ray://host:10001`` or ``auto``). A worker takes one GPU when the cluster has GPUs, else one CPU
slot, and runs torch on one thread per slot, so a run's results equal the serial run's at one thread.

Example:
    >>> from shoptune.parallel import ordered_map
    >>> list(ordered_map(Squarer, (), iter([1, 2, 3]), workers=2))  # doctest: +SKIP
    [1, 4, 9]
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from shoptune.errors import ShoptuneError

#: The local Ray's shared-object store: small, since only chunks of pairs and their predictions travel through it
#: (Ray's default takes 30% of the machine's memory).
LOCAL_OBJECT_STORE_BYTES = 256 * 1024**2


def start_ray(workers: int, address: str | None = None) -> Any:
    """Start (or join, with ``address``) Ray; returns the ``ray`` module. One line when Ray is not installed."""
    try:
        import ray
    except ImportError:
        raise ShoptuneError("--engine ray needs the 'ray' package: pip install 'shoptune[ray]'") from None
    if not ray.is_initialized():
        # The workers must never fetch anything either: the same offline rule as the driver.
        env = {"env_vars": {"HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"), "OMP_NUM_THREADS": "1"}}
        if address:
            ray.init(address=address, runtime_env=env, log_to_driver=True)
        else:
            ray.init(
                num_cpus=workers,
                object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                include_dashboard=False,
                runtime_env=env,
                log_to_driver=True,
            )
    return ray


def slot(ray: Any, workers: int) -> dict[str, float]:
    """What one worker reserves: a GPU when the cluster has at least one per worker, a share of the GPUs when it
    has fewer (so every worker starts), else one CPU slot."""
    gpus = ray.cluster_resources().get("GPU", 0)
    if gpus <= 0:
        return {"num_cpus": 1}
    return {"num_gpus": min(1.0, gpus / workers)}


def run_workers(work: Callable[[int], None], workers: int, address: str | None = None) -> None:
    """Run ``work(i)`` for ``i`` in ``range(workers)`` as Ray tasks at once; wait for all, re-raise the first error."""
    ray = start_ray(workers, address)
    task = ray.remote(**slot(ray, workers), max_retries=0)(_call)
    refs = [task.remote(work, i) for i in range(workers)]
    for ref in refs:
        _get(ray, ref)


def _call(work: Callable[[int], None], index: int) -> None:
    import torch

    torch.set_num_threads(1)
    work(index)


def ordered_map(
    actor: type,
    args: tuple[Any, ...],
    items: Iterable[Any],
    *,
    workers: int,
    address: str | None = None,
    method: str = "__call__",
    in_flight: int = 2,
) -> Iterator[Any]:
    """``actor(*args).method(item)`` for every item, on ``workers`` Ray actors, yielded in the items' order.

    At most ``in_flight`` items per actor are submitted ahead of the one being yielded, so the items may come from
    a stream larger than memory."""
    ray = start_ray(workers, address)
    remote = ray.remote(**slot(ray, workers))(actor)
    pool = [remote.remote(*args) for _ in range(workers)]
    pending: deque[Any] = deque()
    try:
        for n, item in enumerate(items):
            pending.append(getattr(pool[n % workers], method).remote(item))
            if len(pending) >= in_flight * workers:
                yield _get(ray, pending.popleft())
        while pending:
            yield _get(ray, pending.popleft())
    finally:
        for handle in pool:
            ray.kill(handle)


def _get(ray: Any, ref: Any) -> Any:
    """``ray.get``, with a worker's failure as one line: a shoptune error as itself (its line names the file,
    row or key), anything else as its type and first line, never Ray's remote traceback."""
    try:
        return ray.get(ref)
    except (ray.exceptions.RayTaskError, ray.exceptions.RayActorError) as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, ShoptuneError):
            raise cause from None
        if cause is not None:
            raise ShoptuneError(f"a Ray worker failed: {type(cause).__name__}: {_first_line(cause)}") from None
        # An actor that died in its constructor: Ray keeps only the text, whose last line is the error itself.
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise ShoptuneError(f"a Ray worker failed: {lines[-1] if lines else type(exc).__name__}") from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""
