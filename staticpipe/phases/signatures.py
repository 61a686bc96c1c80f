"""Has any source changed since its copy? One stat per source, one comparison.

The collect phase records, for every file it copies, the source's stat as it
was read (size, mtime, ctime, inode: a content change behind a restored mtime
still moves ctime, a replaced file has a new inode). This module keeps those
signatures packed in one array, in the listing's order, next to the identity of
the listing (the ``found.json`` entry) they belong to. A later run stats every source, packs
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
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

from ..config import Config
from ..ledger import state
from ..sources.finders import Found
from .collect import Record

_FIELDS = 4  # fsutil.FileStat's fields (a record's ``stat``), in their order
_MISSING = (-1, -1, -1, -1)  # a source that could not be stat'ed, or was never copied
_MISSING_BYTES = array("q", [-1]).tobytes()
_BLOCK = 256  # entries compared at once


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
        append((info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino))  # a FileStat's
    return packed


def load(config: Config, listing: tuple | None, records: str | None) -> array | None:
    """The saved signatures, if they belong to ``listing`` (the ``found.json`` entry's token)
    and to the collect records whose token (store.py) is ``records``."""
    if listing is None or records is None:
        return None
    saved = state.load(state_file(config))
    if saved.get("listing") != listing or saved.get("records") != records:
        return None
    raw = saved.get("signatures", b"")
    packed = Packed("q")
    packed.frombytes(raw)
    # a name saved without a signature: 8 bytes of 0xff can only be a -1 field
    # (fields are never negative otherwise), and a search of bytes runs at C speed
    packed.unrecorded = _MISSING_BYTES in raw
    packed.records = records
    return packed


@dataclass
class Look:
    """The copy phase's look at the sources: the signatures saved when they were
    last copied, and the names whose source moved since (``changed``)."""

    saved: Packed | None
    changed: set[str] | None  # None: not known (every source is looked at)


class Packed(array):
    """Signatures as loaded; ``unrecorded``: some name has none (_MISSING)."""

    unrecorded = True
    records: str | None = None


def changed(found: Mapping[str, Found], saved: array | None) -> set[str] | None:
    """The names whose source's signature is not the saved one, and the names
    saved without one (no record: never copied); None if nothing usable was
    saved (then every source must be looked at)."""
    if saved is None or len(saved) != _FIELDS * len(found):
        return None
    now = current(item.source for item in found.values())
    unrecorded = getattr(saved, "unrecorded", True)
    if now == saved and not unrecorded:
        return set()
    names = list(found)
    result = Changed()
    step = _FIELDS * _BLOCK
    for block in range(0, len(now), step):  # blocks compared at C speed
        if not unrecorded and now[block : block + step] == saved[block : block + step]:
            continue
        for start in range(block, min(block + step, len(now)), _FIELDS):
            entry = saved[start : start + _FIELDS]
            if now[start : start + _FIELDS] != entry or entry[0] == -1:
                name = names[start // _FIELDS]
                result.add(name)
                result.positions[name] = start
    return result


class Changed(set):
    """Names (``changed``), with where each one's entry starts in the array."""

    def __init__(self) -> None:
        super().__init__()
        self.positions: dict[str, int] = {}


def save(
    config: Config,
    found: Mapping[str, Found],
    records: Mapping[str, Record],
    listing: tuple | None,
    previous: array | None = None,
    moved: Iterable[str] | None = None,
    token: str | None = None,
    positions: Mapping[str, int] | None = None,
) -> None:
    """Record the signature each source was copied from (its collect record), in
    the listing's order; a name without a record is ``_MISSING`` (always looked at).

    ``previous``: the signatures loaded for this same listing, of which only the
    ``moved`` names' entries can differ from their records (the names copied, and
    those found changed but then not copied): those are patched, not every one
    rebuilt (nothing is written if there are none, and the records' ``token``
    is the one they were saved with). ``positions``: where some of them start
    in the array (``Changed.positions``), if known."""
    if listing is None or token is None:
        state.discard(state_file(config))
        return
    if previous is not None and moved is not None and len(previous) == _FIELDS * len(found):
        names = list(moved)
        if not names and getattr(previous, "records", None) == token:
            return
        packed = previous  # (the caller's copy: patched in place)
        position = positions or {}
        listed = None
        for name in names:
            start = position.get(name)
            if start is None and name in found:  # (not one of the changed: rare)
                listed = list(found) if listed is None else listed
                start = listed.index(name) * _FIELDS
            if start is not None:
                packed[start : start + _FIELDS] = array(
                    "q", _fields(records.get(name), found[name])
                )
    else:
        packed = array("q")
        append = packed.extend
        for name, item in found.items():
            append(_fields(records.get(name), item))
    state.save(
        state_file(config),
        {"listing": listing, "records": token, "signatures": packed.tobytes()},
    )


_STAT = attrgetter("size", "mtime_ns", "ctime_ns", "inode")  # a record's stat, at C speed


def _fields(record: Record | None, item: Found) -> tuple:
    return _STAT(record) if record is not None and record.source == item.source else _MISSING


def discard(config: Config) -> None:
    state.discard(state_file(config))
