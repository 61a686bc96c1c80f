"""The ledger's small entries: every phase's own state, in the one database.

All of a project's state lives in ``<state>/files.sqlite3`` (store.py): the
per-file tables, and one *entry* per piece of phase state (its settings, the
listing, what it was made from, short lists), named as the files they once were
(``collect.state``, ``found.json``...). Saving an entry is one transaction that
gives it a new *token*; "was this made from that" is one comparison of tokens,
and a run killed part-way leaves each entry as it was before or after its save.

Entries are pickled (they hold packed arrays, tuples, sets): private to the
pipeline, read and written on every run. An unreadable entry, or one of another
``VERSION``, counts as none; so does a damaged database (removed, see store.py).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

from . import store
from .store import VERSION, dumps, loads  # the entries' format

__all__ = [
    "VERSION", "close_all", "discard", "exists", "load", "load_identified", "packed", "save",
    "token",
]  # fmt: skip


_OPEN = 4  # databases kept open by this process (a test suite makes hundreds)
_databases: OrderedDict[str, tuple[store.Database, tuple[int, int]]] = OrderedDict()


def _database(path: Path) -> store.Database:
    """The database of the state directory holding ``path`` (an entry's name),
    open once per process while it is the same file (not removed meanwhile)."""
    directory = str(path.parent)
    held = _databases.pop(directory, None)
    database_file = store.database_path(path.parent)
    try:
        info = os.stat(database_file)
        current = (info.st_dev, info.st_ino)
    except OSError:
        current = None
    if held is not None and held[1] == current:
        _databases[directory] = held
        return held[0]
    if held is not None:
        held[0].close()
    database = store.Database(path.parent)
    database.connection()  # (made now if there was none)
    info = os.stat(database_file)
    _databases[directory] = (database, (info.st_dev, info.st_ino))
    while len(_databases) > _OPEN:
        _databases.popitem(last=False)[1][0].close()
    return database


def close_all() -> None:
    """Close every database this process holds open (the end of a run in a
    process that lives on: the watcher, the server, tests)."""
    while _databases:
        _databases.popitem()[1][0].close()


def _existing(path: Path) -> store.Database | None:
    """The database holding ``path``'s entry, if there is one (none is made)."""
    if not store.database_path(path.parent).exists():
        return None
    try:
        return _database(path)
    except store.StoreError:
        return None


def load(path: Path) -> dict[str, Any]:
    """The saved entry, or {} if there is none or it is unreadable or of another version."""
    return load_identified(path)[0]


def load_identified(path: Path) -> tuple[dict[str, Any], str | None]:
    """``load``, and the token of the very entry it read (None if none was read):
    another run may save it again right after."""
    database = _existing(path)
    if database is None:
        return {}, None
    value, token = database.entry(path.name)
    data = loads(value)
    return (data, token) if data else ({}, None)


def save(path: Path, data: dict[str, Any], shared: bool = True) -> str:
    """Save ``data`` as the entry ``path`` names; return its new token.
    ``shared=False``: no object appears twice in ``data``, so the pickler keeps
    no memo of every object written (MBs for tens of thousands of records)."""
    return _database(path).put(path.name, dumps(data, shared))


def packed(path: Path, data: dict[str, Any], shared: bool = True) -> dict[str, bytes]:
    """``data`` as the entry ``path`` names, for a commit that saves it together
    with the rows it describes (``store.Database.commit(..., entries=)``)."""
    return {path.name: dumps(data, shared)}


def token(path: Path) -> str | None:
    """The token of the entry ``path`` names (None: there is none)."""
    database = _existing(path)
    return None if database is None else database.token(path.name)  # (not its bytes)


def exists(path: Path) -> bool:
    return token(path) is not None


def discard(path: Path) -> None:
    database = _existing(path)
    if database is not None:
        database.drop(path.name)
