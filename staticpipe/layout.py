"""The directories a run writes, checked against those it reads, before any work.

A build writes static_root and the state directory and reads the source
locations (``dirs``, then each package's ``static/``). If they overlap, a run
collects its own outputs again, writes into the sources, or (``--clear``,
``doit clean``) deletes them; each such layout is refused here with one line
naming the keys. A ``dirs`` entry that does not exist is refused by a build
too: Django only warns (staticfiles.W004), and a typo then silently ships a
site without its files (``doit watch`` waits for it to appear instead).

The state directory is one staticpipe owns: it holds a ``CACHEDIR.TAG`` (the
cache directory convention, so backup tools skip it), written when it is made.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .config import Config, Location
from .errors import ConfigError

TAG_NAME = "CACHEDIR.TAG"
TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This directory holds staticpipe's build state; it is re-created as needed.\n"
)


def check(config: Config, locations: Iterable[Location]) -> None:
    """Raise ConfigError if this layout would lose or pollute files."""
    where = config.where
    sources = list(locations)
    root = _real(config.static_root)
    state = _real(config.state_path)
    project = _real(config.project_dir)
    _check_root(where, root, project, sources)
    _check_state(where, state, root, project, sources)


def _real(path: Path) -> str:
    return os.path.realpath(path)


def _inside(path: str, parent: str) -> bool:
    """``path`` is ``parent`` or below it."""
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _source(location: Location) -> str:
    return f"source directory {location.root}"


def check_dirs_exist(config: Config) -> None:
    """A build refuses a ``dirs`` entry that is missing (the watcher instead
    waits for it to appear)."""
    where = config.where
    for location in config.dirs:
        _check_exists(where, location.root)


def _check_exists(where: str, root: Path) -> None:
    if not root.exists():
        raise ConfigError(f"{where}: dirs: {root} does not exist (expected a directory)")
    if not root.is_dir():
        raise ConfigError(f"{where}: dirs: {root} is not a directory")


def _refuse_project(head: str, path: str, project: str, expected: str) -> None:
    """``path`` must not be the project directory nor one above it."""
    if _inside(project, path):
        what = "is" if path == project else "contains"
        raise ConfigError(f"{head} {what} the project directory: expected a directory {expected}")


def _check_root(where: str, root: str, project: str, sources: list[Location]) -> None:
    head = f"{where}: static_root {root}"
    _refuse_project(head, root, project, "of its own (collect --clear empties static_root)")
    for location in sources:
        source = _real(location.root)
        if root == source:
            raise ConfigError(f"{head} is the {_source(location)}: expected another directory")
        if _inside(root, source):
            raise ConfigError(
                f"{head} is inside the {_source(location)}: its outputs would be "
                "collected as sources (expected a directory outside every source)"
            )
        if _inside(source, root):
            raise ConfigError(
                f"{head} contains the {_source(location)}: collect --clear would "
                "delete it (expected a directory outside every source)"
            )


def _check_state(where: str, state: str, root: str, project: str, sources: list[Location]) -> None:
    head = f"{where}: state_dir {state}"
    _refuse_project(head, state, project, "staticpipe owns (the default .staticpipe)")
    if _inside(state, root) or _inside(root, state):
        raise ConfigError(f"{head} overlaps static_root {root}: expected a separate directory")
    for location in sources:
        source = _real(location.root)
        if _inside(state, source) or _inside(source, state):
            raise ConfigError(
                f"{head} overlaps the {_source(location)}: expected a directory "
                "outside every source"
            )


def claim_state_dir(config: Config) -> None:
    """Make the state directory ours before a run writes it: create it with its
    tag, or refuse one that holds files without it (nor, from earlier versions,
    our lock file): never one of the user's directories."""
    state_dir = config.state_path
    try:
        entries = os.listdir(state_dir)
    except (FileNotFoundError, NotADirectoryError):
        entries = []
    if TAG_NAME in entries:
        return
    if entries and "lock" not in entries:
        where = config.where
        raise ConfigError(
            f"{where}: state_dir {state_dir} holds files staticpipe did not write: "
            "expected a new or empty directory (staticpipe deletes what is in it)"
        )
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / TAG_NAME).write_text(TAG)
