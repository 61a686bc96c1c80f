"""``doit findstatic PATH...``: where static files are found, in Django's words."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from . import finders
from .config import Config
from .errors import StaticpipeError

PARAMS: list[dict[str, Any]] = [
    {"name": "first", "long": "first", "type": bool, "default": False,
     "help": "Only print the first match."},
]  # fmt: skip


def main(get_config: Callable[[], Config], paths: list[str], first: bool) -> None:
    """Print each path's matches; StaticpipeError for a bad config or no paths."""
    config = get_config()
    # doit parses task options only before positional arguments; accept
    # Django's "findstatic PATH --first" order too.
    first = first or "--first" in paths
    paths = [path for path in paths if path != "--first"]
    if not paths:
        raise StaticpipeError("findstatic needs at least one path")
    for path in paths:
        matches = finders.find(config, path.lstrip("/"), first=first)
        if not matches:
            print(f"No matching file found for '{path}'.", file=sys.stderr)
            continue
        print(f"Found '{path}' here:")
        for match in matches:
            print(f"  {match}")
