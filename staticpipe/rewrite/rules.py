"""What the other phases need to know of post-processing, without importing it
(and its regexes): where its state is and what an entry holds, the token of the
settings that change its output, and the word JS rewriting looks for."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from ..config import Config
from ..ledger import state, store
from . import hashhook
from .hashing import hashed_path, md5_parts

RULES_VERSION = "4"  # bump when the rewriting rules change: old outputs are redone

# The word every JS pattern's match contains (Django's: ``//# sourceMappingURL=``
# lines): a JS file without it has nothing to rewrite. The copy phase notes which
# copied JS files are ASCII without it, so post-processing need not read them.
JS_NEEDLE = "sourceMappingURL"


class Entry(NamedTuple):
    """Post-processing's record of one file (a tuple: tens of thousands are kept)."""

    md5: str  # of the collected original
    hashed: str  # the hashed name written
    plain: bool = False  # hashed from the md5 alone (its bytes are the original's)
    refs: tuple[str, ...] | None = None  # names a CSS/JS file references, if parsed
    raw: bool = False  # CSS/JS that could not be decoded: hashed as it is
    key: str | None = None  # what its output depends on (md5 + referenced hashed names)
    warnings: tuple[str, ...] = ()  # its rewrite's warnings, repeated when it is reused


# Field positions in a saved entry (saved as a plain tuple: see rewriting.load_state).
MD5, HASHED, PLAIN, REFS, RAW, KEY, WARNINGS = map(Entry._fields.index, Entry._fields)

# A saved entry is the tuple of an Entry's fields or, for a plain file (hashed by
# its md5 alone: ``Entry(md5, hashed_path(name, md5), plain=True)``, nothing
# parsed, no warnings), that md5 alone. Most files are plain: one string each is
# a fraction of a tuple and its strings to load, save and hold. With a
# ``file_hash`` hook the hashed name is the hook's, not the md5's: every entry is
# saved whole (``compact(entry, hooked=True)``).
SavedEntry = tuple | str


def compact(entry: Entry, hooked: bool = False) -> SavedEntry:
    """The saved form of ``entry``. (Plain entries made without a hook always
    have the hashed name their md5 gives, so it need not be kept; ``hooked``:
    this one's name came from a ``file_hash`` hook, keep it.)"""
    plain = entry.plain and entry.refs is None and entry.key is None
    if plain and not entry.raw and not entry.warnings and not hooked:
        return entry.md5
    return tuple(entry)


def saved_md5(fields: SavedEntry) -> str:
    return fields if isinstance(fields, str) else fields[MD5]


def saved_refs(fields: SavedEntry) -> tuple[str, ...]:
    """The names it references (none if not parsed)."""
    return () if isinstance(fields, str) else fields[REFS] or ()


def saved_hashed(name: str, fields: SavedEntry) -> str:
    return hashed_path(name, fields) if isinstance(fields, str) else fields[HASHED]


def expand(name: str, fields: SavedEntry) -> Entry:
    """The saved entry of the file ``name`` as an ``Entry``."""
    if isinstance(fields, str):
        return Entry(fields, hashed_path(name, fields), plain=True)
    return tuple.__new__(Entry, fields)  # C speed: a version-checked file


def post_state_file(config: Config) -> Path:
    return config.state_path / "postprocess.state"


def load_post(config: Config, repair: bool = True) -> tuple[dict[str, Any], str | None]:
    """Post-processing's saved state and the token of the entry it was read
    from (None: no valid state). Its ``files`` (name -> SavedEntry) and
    ``referrers`` (reference target -> the names referencing it) are tables
    (store.py), read by name as asked: empty ones if the rows do not match."""
    saved, identity = state.load_identified(post_state_file(config))
    db = store.Database(config.state_path, repair)
    files = db.table("post", identity, "post")
    referrers = db.table("referrers", files.token, "post")
    if files.token is None or referrers.token is None or db.generation:
        # (no valid rows, or the database was found damaged on the way: none)
        saved, identity = {}, None
        files, referrers = db.table("post", None, "post"), db.table("referrers", None, "post")
    saved["files"], saved["referrers"] = files, referrers
    return saved, identity


def no_post(config: Config) -> dict[str, Any]:
    """An empty post-processing state (every file is hashed again), whatever is saved."""
    db = store.Database(config.state_path, repair=False)
    return {
        "files": db.table("post", None, "post"),
        "referrers": db.table("referrers", None, "post"),
    }


def readable_settings(config: Config) -> dict[str, Any]:
    """The settings every hashed output depends on, as the user wrote them (the
    settings token is their digest, with the file_hash hook's fingerprint)."""
    return {
        "static_url": config.static_url,
        "js_modules": config.js_modules,
        "missing": config.missing,
        "missing_sourcemap": config.sourcemap_policy,
        "encoding_errors": config.encoding_errors,
        "file_hash": config.file_hash,
    }


def settings_token(config: Config) -> str:
    """What every output depends on besides the files: another token redoes all.
    A ``file_hash`` hook adds its value and its module file's size and mtime
    (hashhook.fingerprint); without one the token is what it always was."""
    return md5_parts(
        [
            RULES_VERSION,
            config.static_url,
            str(config.js_modules),
            config.missing,
            config.sourcemap_policy,
            config.encoding_errors,
            *hashhook.fingerprint(config),
        ]
    )
