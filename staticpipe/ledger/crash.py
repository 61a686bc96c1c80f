"""Test-only crash injection at the pipeline's commit points.

A *commit point* is a durable write after which a killed run must still leave a
consistent tree that the next normal run completes: each ledger transaction
(``store.Database``), each atomic replacement of a file the pipeline keeps
(``staticfiles.json``, ``staticfiles.integrity.json``, ``doit.json``, the
compression cache's count) and each batch of deletions (garbage, pruned and
stale outputs). Each calls ``point(label)`` right after its write is durable.

Two environment variables, read once at import (unset: ``point`` only tests
one flag):

- ``STATICPIPE_COMMIT_LOG=<file>``: append ``<n>\\t<label>`` to the file at each
  point (how a test enumerates the points a run passes);
- ``STATICPIPE_CRASH_AT=<n>``: at the n-th point (1 is the first) the process
  dies with ``os._exit(137)``, as under SIGKILL: no cleanup, no ``finally``,
  no atexit, nothing flushed; ``<label>#<n>``: at the n-th point of that label
  (the same point of a run whose other points differ).

tests/test_commit_points.py uses them; nothing else should.
"""

from __future__ import annotations

import os
import threading

_WHERE = os.environ.get("STATICPIPE_CRASH_AT") or "0"
_LABEL, _, _NTH = _WHERE.rpartition("#")  # ("", "", n) without a label
_AT = int(_NTH or 0)  # 0: never
_LOG = os.environ.get("STATICPIPE_COMMIT_LOG") or None
_ARMED = bool(_AT or _LOG)
_count = 0
_labelled = 0
_lock = threading.Lock()


def point(label: str) -> None:
    """A commit point just passed (``label``: what was written, e.g.
    ``ledger:post``, ``file:staticfiles.json``, ``delete:garbage``)."""
    if not _ARMED:
        return
    global _count, _labelled
    with _lock:
        _count += 1
        if _LOG is not None:
            with open(_LOG, "a", encoding="utf-8") as log:
                log.write(f"{_count}\t{label}\n")
        if _LABEL:
            _labelled += label == _LABEL
            if label == _LABEL and _labelled == _AT:
                os._exit(137)
        elif _count == _AT:
            os._exit(137)
