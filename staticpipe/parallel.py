"""Run I/O-bound work (copies, links: they release the GIL) on a few threads."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def bounded_map(
    function: Callable[[T], R], items: Iterable[T], workers: int, window: int = 256
) -> Iterator[R]:
    """``map`` on a thread pool, results in order, at most ``window`` pending.

    ``Executor.map`` submits every item up front: one future per file, tens of
    MB on a large tree. This keeps memory flat in the number of items.
    """
    pending: deque[Future[R]] = deque()
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
