"""Run I/O-bound work (copies, links: they release the GIL) on a few threads."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from itertools import zip_longest
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

CHUNK = 32


def fill(
    results: list[R | None],
    function: Callable[[T], R],
    items: Sequence[T],
    workers: int,
    chunk: int = CHUNK,
) -> None:
    """``results[i] = function(items[i])`` for every i, on ``workers`` threads (the
    calling one included); the first exception is raised once all threads stopped,
    with ``results`` holding what finished (None elsewhere).

    Threads take runs of ``chunk`` consecutive items, not one item at a time (a
    future per item costs more than a small file's copy), and the runs are dealt
    from both halves of the list in turn: consecutive items usually share a
    directory, and two threads creating files in one directory contend for its
    lock in the kernel.
    """
    count = len(items)
    if workers <= 1 or count <= chunk:
        for index, item in enumerate(items):
            results[index] = function(item)
        return
    starts = list(range(0, count, chunk))
    half = (len(starts) + 1) // 2
    order = [s for pair in zip_longest(starts[:half], starts[half:]) for s in pair if s is not None]
    taken = itertools.count()  # next() on it is atomic: threads never take a run twice
    errors: list[BaseException] = []

    def work() -> None:
        while not errors:
            position = next(taken)
            if position >= len(order):
                return
            start = order[position]
            try:
                for index in range(start, min(start + chunk, count)):
                    results[index] = function(items[index])
            except BaseException as error:  # noqa: BLE001 - re-raised by the caller's thread
                errors.append(error)
                return

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers - 1)]
    for thread in threads:
        thread.start()
    try:
        work()
    finally:
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]


class Background:
    """``function()`` on its own thread; ``join()`` waits and raises what it raised."""

    def __init__(self, function: Callable[[], object]):
        self._error: BaseException | None = None

        def run() -> None:
            try:
                function()
            except BaseException as error:  # noqa: BLE001 - re-raised by join()
                self._error = error

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def join(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error
