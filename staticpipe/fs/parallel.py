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
    with ``results`` holding what finished (None elsewhere)."""
    if workers <= 1 or len(items) <= chunk:
        for index, item in enumerate(items):
            results[index] = function(item)
        return
    _Runs(results, function, items, workers - 1, chunk).finish()


class _Runs:
    """``results[i] = function(items[i])`` started on ``threads`` background threads;
    ``finish()`` has the calling thread take its share of what is left, then waits
    for the others and raises the first exception (``results`` holds what finished).
    (Python work on the calling thread meanwhile makes every thread wait for
    the GIL after each system call: post-processing measured it no faster.)

    Threads take runs of ``chunk`` consecutive items, not one item at a time (a
    future per item costs more than a small file's copy), and the runs are dealt
    from both halves of the list in turn: consecutive items usually share a
    directory, and two threads creating files in one directory contend for its
    lock in the kernel.
    """

    def __init__(
        self,
        results: list[R | None],
        function: Callable[[T], R],
        items: Sequence[T],
        threads: int,
        chunk: int = CHUNK,
    ):
        self.results, self.function, self.items, self.chunk = results, function, items, chunk
        starts = list(range(0, len(items), chunk))
        half = (len(starts) + 1) // 2
        pairs = zip_longest(starts[:half], starts[half:])
        self.order = [start for pair in pairs for start in pair if start is not None]
        self.taken = itertools.count()  # next() on it is atomic: no run is taken twice
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self.work, daemon=True) for _ in range(threads)]
        for thread in self.threads:
            thread.start()

    def work(self) -> None:
        count = len(self.items)
        while not self.errors:
            position = next(self.taken)
            if position >= len(self.order):
                return
            start = self.order[position]
            try:
                for index in range(start, min(start + self.chunk, count)):
                    self.results[index] = self.function(self.items[index])
            except BaseException as error:  # noqa: BLE001 - re-raised by finish()
                self.errors.append(error)
                return

    def finish(self) -> None:
        try:
            self.work()
        finally:
            for thread in self.threads:
                thread.join()
        if self.errors:
            raise self.errors[0]
