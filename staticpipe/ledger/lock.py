"""One run at a time per state directory: an exclusive ``flock`` on ``<state>/lock``.

Two concurrent runs on one project would do the work twice or interleave their
state and garbage; the second waits for the first instead. The run holding the
lock owns the state directory, and so its ``tmp`` directory: the temporary names
of files written into static_root go there (fsutil.claim_root), where a
killed run's leftovers are not served and the next run removes them.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ..config import Config
from ..fs import fsutil

_held: dict[str, int] = {}  # state dir -> fd, for locks this process holds


def _acquire(config: Config) -> int:
    config.state_path.mkdir(parents=True, exist_ok=True)
    fd = os.open(config.state_path / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"staticpipe: waiting for another run using {config.state_path} ...", file=sys.stderr)
        fcntl.flock(fd, fcntl.LOCK_EX)
    fsutil.claim_root(str(config.static_root), str(config.state_path / "tmp"))
    return fd


def hold(config: Config) -> None:
    """Take the lock until this process exits (a doit run)."""
    key = str(config.state_path)
    if key not in _held:
        _held[key] = _acquire(config)


def release(config: Config) -> None:
    """Let go of the lock ``hold`` took (a process that goes on after its run)."""
    fd = _held.pop(str(config.state_path), None)
    if fd is not None:
        os.close(fd)


@contextmanager
def locked(config: Config) -> Iterator[None]:
    """Hold the lock for a block (a watcher's rebuild); re-entrant within a process."""
    key = str(config.state_path)
    if key in _held:
        yield
        return
    _held[key] = fd = _acquire(config)
    try:
        yield
    finally:
        del _held[key]
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
