"""Per-phase state files under the state directory, written atomically.

Pickle, not JSON: these files are private to the pipeline, hold one record per
file (tens of thousands), and are read and written on every run; pickle does
that several times faster. Any unreadable or foreign file counts as no state.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any, BinaryIO

from .fsutil import stat_identity, write_with

VERSION = 5  # 5: per-file rows in files.sqlite3 (store.py)


def load(path: Path) -> dict[str, Any]:
    """The saved state, or {} if there is none or it is unreadable or of another version."""
    return load_identified(path)[0]


def load_identified(path: Path) -> tuple[dict[str, Any], tuple[int, int, int] | None]:
    """``load``, and the identity (fsutil.identity) of the very file it read
    (None if none was read): another run may replace the file right after."""
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            data = pickle.load(handle)
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError):
        return {}, None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return {}, None
    return data, stat_identity(info)


def save(path: Path, data: dict[str, Any], shared: bool = True) -> None:
    """Pickle ``data`` straight into the file (no bytes copy of the whole state in
    memory). ``shared=False``: no object appears twice in ``data``, so the pickler
    keeps no memo of every object written (MBs for tens of thousands of records)."""
    data = {**data, "version": VERSION}

    def dump(handle: BinaryIO) -> None:
        pickler = pickle.Pickler(handle, pickle.HIGHEST_PROTOCOL)
        pickler.fast = not shared
        pickler.dump(data)

    write_with(str(path), dump)


def discard(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
