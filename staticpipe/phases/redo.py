"""What an incremental post-processing run redoes: the inverted reference index.

A file's entry depends on its md5 and on what its references resolve to. The
saved entries' references, inverted (what each file or directory is referenced
by), are kept in the ledger beside the entries and patched run after run
(``update_referrers``), so that the names to redo after an edit are found from
the changed names outward, without reading every entry (``names_to_redo``).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

from ..rewrite.rules import KEY, PLAIN, SavedEntry, saved_md5, saved_refs
from .collect import Record


def names_to_redo(
    saved: dict[str, SavedEntry],
    records: dict[str, Record],
    order: list[str],
    missing: list[str] | tuple = (),
    dirty: set[str] | None = None,
    referrers: Mapping[str, list[str]] | None = None,
    new: set[str] | None = None,
    gone: set[str] | None = None,
) -> list[str]:
    """The names, in ``order``, whose post-processing entries may change since
    ``saved`` (the last run's, same settings) now that the files are ``records``.

    A file's entry depends on its md5 and on what its references resolve to: so
    the files whose md5 changed or that are new, then, transitively, the files
    referencing any of those, a removed file, or a directory that appeared or
    went away. Also redone: files whose last rewrite had errors (to report them
    again), and ``missing``, whose outputs are gone. Every other entry is reused
    as it is, without being looked at.

    ``dirty``: those first ones, if the caller knows them (a superset will do):
    then no record is compared with its entry. ``referrers``: ``saved``'s
    references inverted (``invert_refs``), if the caller has them. ``new`` and
    ``gone``: the names in ``records`` only and in ``saved`` only, if known.
    """
    if dirty is None:  # new, changed md5, or rewritten with errors last time
        dirty = {
            name
            for name, record in records.items()
            if (fields := saved.get(name)) is None
            or saved_md5(fields) != record.md5
            or unsettled(fields)
        }
    dirty = dirty.union(missing)
    if gone is None:
        gone = saved.keys() - records.keys()
    if new is None:
        new = records.keys() - saved.keys()
    touched = dirty | gone
    for name in new | gone:  # its directories may be new or gone
        while name:
            name = name.rpartition("/")[0]
            touched.add(name or ".")
    if referrers is None:
        referrers = invert_refs(saved)
    redo = set(dirty)
    pending = list(touched)
    while pending:
        for name in referrers.get(pending.pop(), ()):
            if name not in redo:
                redo.add(name)
                pending.append(name)
    return list(filter(redo.__contains__, order))  # in order, at C speed


def referrer_key(ref: str) -> str:
    """A reference as resolve() looks it up, or a directory (``dir/``), as the
    name or directory it depends on ("." for the root)."""
    return ref.rstrip("/") or "."


def invert_refs(files: dict[str, SavedEntry]) -> dict[str, list[str]]:
    """What each file or directory is referenced by, from the entries' refs."""
    referrers: dict[str, list[str]] = {}
    for name, fields in files.items():
        for ref in saved_refs(fields):
            referrers.setdefault(referrer_key(ref), []).append(name)
    return referrers


def update_referrers(
    referrers: MutableMapping[str, list[str]],
    name: str,
    old: SavedEntry | None,
    new: SavedEntry | None,
) -> None:
    """``referrers`` after ``name``'s entry went from ``old`` to ``new`` (None: none).
    Lists are replaced, not changed in place (a table writes what it is given)."""
    before = saved_refs(old) if old is not None else ()
    after = saved_refs(new) if new is not None else ()
    if before == after:
        return
    for ref in before:
        key = referrer_key(ref)
        names = referrers.get(key)
        if names is not None and name in names:
            names = list(names)
            names.remove(name)
            if names:
                referrers[key] = names
            else:
                del referrers[key]
    for ref in after:
        key = referrer_key(ref)
        referrers[key] = [*referrers.get(key, ()), name]


def unsettled(fields: SavedEntry) -> bool:
    """Not plain, no key: redone on every run. Rewritten with errors (until
    fixed), or written over its collected copy (``rewriting._Run.write_over``)."""
    return not isinstance(fields, str) and not fields[PLAIN] and fields[KEY] is None
