"""A cheap check that static_root still holds every output: directory mtimes.

Deleting, adding or renaming a file changes its directory's mtime. After a run
the mtime of every output directory is recorded; a later up-to-date check then
looks at files only in directories whose mtime moved (or that were modified in
the same timestamp tick as the recording, so that a later change could share the
timestamp), one stat per directory instead of one per file.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from ..config import Config
from ..fs import fsutil
from ..ledger import state
from ..phases.cleanup import MANIFEST_NAME


def _file(config: Config) -> Path:
    return config.state_path / "outputs.state"


def directories(names: Iterable[str]) -> set[str]:
    """The directories (relative, POSIX; "" for the root) that hold ``names``."""
    return {name.rpartition("/")[0] for name in names}


def record(
    config: Config,
    names: Iterable[str],
    listing: Any = None,
    touched: Iterable[str] | None = None,
    checked: Iterable[str] = (),
) -> None:
    """Remember the mtimes of the directories that hold ``names`` (after a run).

    ``listing``: what identifies ``names`` (the identity of the walk they come
    from): a later ``suspect`` given the same one reuses the directory list.
    ``touched``: every path (relative to static_root) this run wrote or deleted,
    if known, and ``checked``: the directories this run found suspect. Then
    only those directories (and their parents) are read again, if the last
    record was made for the same listing: every other one was found unmoved at
    the start of this run (``suspect``) and keeps its recorded mtime, so a
    change made meanwhile is still seen by the next run."""
    root = str(config.static_root)
    saved = state.load(_file(config))
    held = _held(saved, names, listing)
    previous: dict[str, int] = {}
    again: Iterable[str] = held
    if (
        touched is not None
        and listing is not None
        and saved.get("listing") == listing
        and saved.get("root") == root
        and "dirs" in saved
    ):
        previous = saved["dirs"]
        again = set(held) & _with_parents(directories(touched)).union(checked)
    paths = {directory: os.path.join(root, directory) for directory in again}
    clock = fsutil.fs_clock(root)  # before any directory's mtime is read
    dirs = _mtimes(paths)
    latest = max(dirs.values(), default=None)
    if clock is not None and latest is not None and latest >= clock.now_ns:
        # Directories this run changed in the clock's own tick would be suspect
        # next time (a later change could share their mtime): read again once the
        # tick has passed. Those changes are all this run's, a few ms ago.
        later = fsutil.clock_past(root, latest)
        if later is not None:
            clock, dirs = later, _mtimes(paths)
    if previous:  # the others as recorded (one that is gone now: not held)
        dirs = {**{d: m for d, m in previous.items() if d not in paths}, **dirs}
    manifest = fsutil.file_stat(os.path.join(root, MANIFEST_NAME))
    saved = {"root": root, "time": time.time_ns(), "clock": clock, "dirs": dirs}
    held_by = {"listing": listing, "held": sorted(held)} if listing is not None else {}
    state.save(_file(config), {**saved, "manifest": manifest, **held_by})


def _with_parents(directories: Iterable[str]) -> set[str]:
    """The directories and every directory above them, up to the root ("")."""
    result = {""}
    for directory in directories:
        while directory and directory not in result:
            result.add(directory)
            directory = directory.rpartition("/")[0]
    return result


def _held(saved: dict, names: Iterable[str], listing: Any) -> Collection[str]:
    """``directories(names)``, from ``saved`` (this file's state) if it was
    recorded for ``listing`` (one pass over every name saved)."""
    if listing is not None and saved.get("listing") == listing and "held" in saved:
        return saved["held"]
    return directories(names)


def _mtimes(paths: dict[str, str]) -> dict[str, int]:
    mtimes = {}
    for directory, path in paths.items():
        try:
            mtimes[directory] = os.stat(path).st_mtime_ns
        except OSError:
            continue
    return mtimes


def manifest_unchanged(config: Config) -> bool:
    """The manifest is the very file the last run wrote (same inode, mtime, ctime, size)."""
    saved = state.load(_file(config))
    if saved.get("root") != str(config.static_root) or not saved.get("manifest"):
        return False
    path = os.path.join(str(config.static_root), MANIFEST_NAME)
    return fsutil.file_stat(path) == saved["manifest"]


def forget(config: Config) -> None:
    state.discard(_file(config))


def suspect(config: Config, names: Iterable[str], listing: Any = None) -> set[str] | None:
    """Directories (relative to static_root) whose files must be checked one by one.

    None means "all of them": nothing was recorded for this root. ``listing``:
    as for ``record``.
    """
    saved = state.load(_file(config))
    root = str(config.static_root)
    if saved.get("root") != root:
        return None
    recorded, clock = saved.get("dirs", {}), saved.get("clock")
    since = saved.get("time", 0) - fsutil.RACY_NS
    result = set()
    for directory in _held(saved, names, listing):
        mtime = recorded.get(directory)  # None: never recorded, so not known to hold it
        if mtime is None or fsutil.mtime_moved(os.path.join(root, directory), mtime, since, clock):
            result.add(directory)
    return result
