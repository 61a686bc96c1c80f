"""Per-phase state files (JSON) under the state directory, written atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .fsutil import write_bytes

VERSION = 1


def load(path: Path) -> dict[str, Any]:
    """The saved state, or {} if there is none or it is unreadable or of another version."""
    try:
        with open(path, "rb") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return {}
    return data


def save(path: Path, data: dict[str, Any]) -> None:
    data = {**data, "version": VERSION}
    write_bytes(str(path), json.dumps(data, separators=(",", ":")).encode())


def discard(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
