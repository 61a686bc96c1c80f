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


def bar(total: int, what: str, verbosity: int) -> Any | None:
    """A tqdm bar for ``total`` items, or None where none is shown."""
    # The process's own stderr: doit wraps sys.stderr in a writer that also
    # captures (tqdm draws nothing through it), and a bar is no output to keep.
    stream = sys.__stderr__
    if verbosity < 1 or total < MIN_ITEMS or stream is None or not stream.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=what, unit=" files", file=stream, leave=False)


def counting(function: Callable[[T], R], progress: Any) -> Callable[[T], R]:
    """``function``, advancing ``progress`` once per call (from any thread: tqdm's
    count is a plain ``+=``, so the updates take a lock)."""
    lock = threading.Lock()

    def counted(item: T) -> R:
        result = function(item)
        with lock:
            progress.update(1)
        return result

    return counted
