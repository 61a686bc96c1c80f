"""The finders' listing, reused while no source directory has changed.

Adding, removing or renaming a file changes its directory's mtime. A full walk
records the mtime of every directory it listed; the next discovery stats those
directories only (one stat per directory, not one ``scandir`` entry per file)
and walks again if any moved, appeared, vanished, or was modified so close to
the recording that a later change could share its timestamp (at or after the
filesystem clock read before the walk, on the state directory's filesystem; else
within fsutil.RACY_NS of the walk's start). File *contents*
are not discovery's concern: collect compares every source's stat.
"""

from __future__ import annotations

import time

from ..config import Config
from ..fs import fsutil
from ..ledger import state
from . import finders
from .finders import Found, Visited


def state_file(config: Config):
    return config.state_path / "found.state"


def _unchanged(visited: Visited, since: int, clock: fsutil.FsClock | None) -> bool:
    return not any(fsutil.mtime_moved(path, mtime, since, clock) for path, mtime in visited.items())


def _clock(config: Config) -> fsutil.FsClock | None:
    """The state directory's filesystem clock (sources on other filesystems are
    judged by the wall clock)."""
    try:
        config.state_path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return fsutil.fs_clock(config.state_path)


def forget(config: Config) -> None:
    """Walk again next time (a listed source turned out to be gone)."""
    state.discard(state_file(config))


def find_all(config: Config) -> dict[str, Found]:
    """``finders.find_all(config)``, from the last walk if no directory changed."""
    return find_all_reusing(config)[0]


def find_all_reusing(
    config: Config, duplicates: list[str] | None = None, save: bool = True
) -> tuple[dict[str, Found], bool]:
    """:func:`find_all`, and whether it reused the last walk (True) or walked.
    ``duplicates`` receives the names found again in a later location (saved
    with the walk: every run reports them, as Django's collectstatic does).
    ``save``: False (a command that only reports) saves no new walk."""
    where = finders.locations(config)
    key = (
        [(str(location.root), location.prefix) for location in where],
        list(config.ignore_patterns),
        list(config.ignore_globs),
        str(config.static_root),
        str(config.state_path),
    )
    saved = state.load(state_file(config))
    since, clock = saved.get("time", 0) - fsutil.RACY_NS, saved.get("clock")
    if saved.get("key") == key and _unchanged(saved["dirs"], since, clock):
        make = tuple.__new__  # Found from its saved (name, source, location) at C speed
        found = {fields[0]: make(Found, fields) for fields in saved["files"]}
        if duplicates is not None:
            duplicates.extend(saved.get("duplicates", ()))
        return found, True
    started = time.time_ns()
    clock = _clock(config)  # before the walk reads any directory's mtime
    visited: Visited = {}
    again: list[str] = []
    found = finders.find_all(config, visited=visited, where=where, duplicates=again)
    if duplicates is not None:
        duplicates.extend(again)
    files = [(item.name, item.source, item.location) for item in found.values()]
    if not save:
        return found, False
    try:
        saved = {"key": key, "time": started, "clock": clock, "dirs": visited, "files": files}
        saved["duplicates"] = again
        state.save(state_file(config), saved)
    except OSError:
        pass  # a read-only state directory only costs the next run a walk
    return found, False
