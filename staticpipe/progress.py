"""A progress bar on stderr for long phases, when stderr is a terminal (tqdm).

Nothing when stderr is not a terminal (CI logs, pipes), at ``-v 0``, or for
short work: a bar that flashes for a fraction of a second is noise.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS = 500  # fewer: done before a bar is worth drawing


class Bar:
    """A tqdm bar that any thread may advance: tqdm's count is a plain ``+=``
    and its redraw reads shared fields, so every update takes the bar's lock
    (post-processing advances it from its link threads and its own)."""

    def __init__(self, shown: Any) -> None:
        self.shown = shown
        self.lock = threading.Lock()

    @property
    def n(self) -> int:
        return self.shown.n

    def update(self, count: int = 1) -> None:
        with self.lock:
            self.shown.update(count)

    def close(self) -> None:
        with self.lock:
            self.shown.close()


def bar(total: int, what: str, verbosity: int) -> Bar | None:
    """A tqdm bar for ``total`` items (thread-safe: ``Bar``), or None where none is shown."""
    # The process's own stderr: doit wraps sys.stderr in a writer that also
    # captures (tqdm draws nothing through it), and a bar is no output to keep.
    stream = sys.__stderr__
    if verbosity < 1 or total < MIN_ITEMS or stream is None or not stream.isatty():
        return None
    from tqdm import tqdm

    return Bar(tqdm(total=total, desc=what, unit=" files", file=stream, leave=False))


def counting(function: Callable[[T], R], progress: Any) -> Callable[[T], R]:
    """``function``, advancing ``progress`` (a ``Bar``, or a tqdm bar: then
    wrapped in one) once per call, from any thread."""
    shown = progress if isinstance(progress, Bar) else Bar(progress)

    def counted(item: T) -> R:
        result = function(item)
        shown.update(1)
        return result

    return counted
