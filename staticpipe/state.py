"""Per-phase state files under the state directory, written atomically.

Pickle, not JSON: these files are private to the pipeline, hold one record per
file (tens of thousands), and are read and written on every run; pickle does
that several times faster. Any unreadable or foreign file counts as no state.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

from .fsutil import write_with

VERSION = 2


def load(path: Path) -> dict[str, Any]:
    """The saved state, or {} if there is none or it is unreadable or of another version."""
    try:
        with open(path, "rb") as handle:
            data = pickle.load(handle)
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError):
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return {}
    return data


def save(path: Path, data: dict[str, Any]) -> None:
    """Pickle ``data`` straight into the file (no bytes copy of the whole state in memory)."""
    data = {**data, "version": VERSION}
    write_with(str(path), lambda handle: pickle.dump(data, handle, pickle.HIGHEST_PROTOCOL))


def discard(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
