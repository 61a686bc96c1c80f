"""Has any source changed since its copy? One stat per source, one comparison.

The collect phase records, for every file it copies, the source's stat as it
was read (size, mtime, ctime, inode: a content change behind a restored mtime
still moves ctime, a replaced file has a new inode). This module keeps those
signatures packed in one array, in the listing's order, next to the identity of
the listing (found.json) they belong to. A later run stats every source, packs
the results the same way and compares the two arrays: equal arrays mean no
source changed, and otherwise the entries that differ name the sources to look
at. That is the copy phase's change check, instead of doit's per-file_dep
check, which costs several times more per file and saves a state per source in
doit's database on every run that copies something.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Iterable, Mapping
from pathlib import Path

from . import state
from .config import Config
from .finders import Found

_FIELDS = 4  # size, mtime_ns, ctime_ns, inode: as collect records them ([1:5])
_MISSING = (-1, -1, -1, -1)  # a source that could not be stat'ed, or was never copied


def state_file(config: Config) -> Path:
    return config.state_path / "signatures.state"


def current(sources: Iterable[str]) -> array:
    """Every source's signature now, packed (``_MISSING`` where stat fails)."""
    packed = array("q")
    append = packed.extend
    stat = os.stat
    for source in sources:
        try:
            info = stat(source)
        except OSError:
            append(_MISSING)
            continue
        append((info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino))
    return packed


def load(config: Config, listing: tuple | None) -> array | None:
    """The saved signatures, if they belong to ``listing`` (found.json's identity)."""
    if listing is None:
        return None
    saved = state.load(state_file(config))
    if saved.get("listing") != listing:
        return None
    packed = array("q")
    packed.frombytes(saved.get("signatures", b""))
    return packed


def changed(found: Mapping[str, Found], saved: array | None) -> set[str] | None:
    """The names whose source's signature is not the saved one; None if nothing
    usable was saved (then every source must be looked at)."""
    if saved is None or len(saved) != _FIELDS * len(found):
        return None
    now = current(item.source for item in found.values())
    if now == saved:
        return set()
    result = set()
    for index, name in enumerate(found):
        start = index * _FIELDS
        if now[start : start + _FIELDS] != saved[start : start + _FIELDS]:
            result.add(name)
    return result


def save(
    config: Config,
    found: Mapping[str, Found],
    records: Mapping[str, list],
    listing: tuple | None,
    previous: array | None = None,
    moved: Iterable[str] | None = None,
) -> None:
    """Record the signature each source was copied from (its collect record), in
    the listing's order; a name without a record is ``_MISSING`` (always looked at).

    ``previous``: the signatures loaded for this same listing, of which only the
    ``moved`` names' entries can differ from their records (the names copied, and
    those found changed but then not copied): those are patched, not every one
    rebuilt (nothing is written if there are none)."""
    if listing is None:
        state.discard(state_file(config))
        return
    if previous is not None and moved is not None and len(previous) == _FIELDS * len(found):
        names = list(moved)
        if not names:
            return
        packed = array("q", previous)
        position = dict(zip(found, range(0, len(previous), _FIELDS), strict=True))
        for name in names:
            record, start = records.get(name), position.get(name)
            if start is not None:
                packed[start : start + _FIELDS] = array("q", _fields(record, found[name]))
    else:
        packed = array("q")
        append = packed.extend
        for name, item in found.items():
            append(_fields(records.get(name), item))
    state.save(state_file(config), {"listing": listing, "signatures": packed.tobytes()})


def _fields(record: list | None, item: Found) -> tuple | list:
    return record[1:5] if record is not None and record[0] == item.source else _MISSING


def discard(config: Config) -> None:
    state.discard(state_file(config))
