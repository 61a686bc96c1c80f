"""``doit findstatic PATH...``: where static files are found, in Django's words.

As Django's ``findstatic``: ``-v 0`` prints bare real paths, 1 ``Found 'x'
here:`` and the paths, 2 also ``Looking in the following locations:``; a path
found nowhere is ``No matching file found for 'x'.`` on stderr (at 1 and up).
Options may follow the paths (doit parses task options only before them).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from .config import Config
from .errors import StaticpipeError
from .sources import finders

PARAMS: list[dict[str, Any]] = [
    {"name": "first", "long": "first", "type": bool, "default": False,
     "help": "Only print the first match."},
    {"name": "verbosity", "long": "verbosity", "short": "v", "type": int, "default": 1,
     "help": "0: bare paths, 1: Django's lines, 2: also the locations searched."},
]  # fmt: skip


def split_options(args: list[str], first: bool, verbosity: int) -> tuple[list[str], bool, int]:
    """The paths among ``args``, with ``--first`` and ``-v N`` found after them."""
    paths: list[str] = []
    items = iter(args)
    for arg in items:
        value = None
        if arg == "--first":
            first = True
            continue
        if arg in ("-v", "--verbosity"):
            value = next(items, "")
        elif arg.startswith("--verbosity="):
            value = arg.partition("=")[2]
        elif arg.startswith("-v") and arg[2:].isdigit():
            value = arg[2:]
        else:
            paths.append(arg)
            continue
        if not value.isdigit():
            raise StaticpipeError(f"{arg} {value}: expected a verbosity, 0 to 3")
        verbosity = int(value)
    return paths, first, verbosity


def report(config: Config, path: str, first: bool, verbosity: int) -> tuple[str, str]:
    """What Django's findstatic prints for ``path``: (stdout text, stderr text)."""
    searched: list[str] = []
    matches = [
        os.path.realpath(match)
        for match in finders.find(config, path.lstrip("/"), first=first, searched=searched)
    ]
    locations = ""
    if verbosity >= 2:
        locations = "\nLooking in the following locations:\n  " + "\n  ".join(searched)
    if matches:
        if verbosity >= 1:
            return f"Found '{path}' here:\n  " + "\n  ".join(matches) + locations, ""
        return "\n".join(matches), ""
    if verbosity >= 1:
        return "", f"No matching file found for '{path}'." + ("\n" + locations if locations else "")
    return "", ""


def main(
    get_config: Callable[[], Config], paths: list[str], first: bool, verbosity: int = 1
) -> None:
    """Print each path's matches; StaticpipeError for a bad config or no paths."""
    paths, first, verbosity = split_options(paths, first, verbosity)
    config = get_config()
    if not paths:
        raise StaticpipeError("findstatic needs at least one path")
    for path in paths:
        out, err = report(config, path, first, verbosity)
        if out:
            print(out)
        if err:
            print(err, file=sys.stderr)
