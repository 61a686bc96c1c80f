"""Per-file state read and updated by name: a phase's entries in an SQLite table.

The whole state of a project is this one database, ``<state>/files.sqlite3``:
a phase keeps one row per file (collect's records, post-processing's entries
and its inverted references) in a table, and the rest of its state (settings,
short lists) in small *entries* (state.py), in the same database. Every commit
gives what it writes a new *token*; a phase's entry is committed with its
table's rows, under the same token, so an entry always describes the rows
there (a table whose token is not its entry's counts as no state at all).

Entries are kept in buckets of about ``BUCKET`` names (by a CRC of the name),
one row per bucket holding them marshalled: an edit reads and rewrites the few
buckets of the names it looks at, so its cost does not grow with the tree, and
a full build writes a few hundred rows, not one per file (a row per file made
writing every entry ~5x slower than pickling them). A pass over every name
reads every bucket once.

The database runs in WAL mode without syncs: a commit is atomic (a killed run
leaves the table as it was before it or after it); after a power loss, a token
that does not match or a damaged database mean one full run.
"""

from __future__ import annotations

import io
import marshal
import os
import pickle
import secrets
import sqlite3
import zlib
from collections.abc import Iterator, Mapping, MutableMapping
from itertools import chain
from pathlib import Path
from typing import Any

from ..errors import StaticpipeError
from . import crash

FILE = "files.sqlite3"
BUCKET = 64  # names per bucket when a table is written in full
SCHEMA = 3  # the tables' layout (PRAGMA user_version): another one is dropped

# collect's records; post-processing's entries and inverted references; the rows
# of the phases made with engine/derived.py
_TABLES = ("collect", "post", "referrers", "compress", "integrity")


class StoreError(StaticpipeError):
    pass


class StoreDamaged(StoreError):
    """The database could not be read or written (damaged, or not one of ours): it
    was removed, so its phases' state counts as none; a phase that meets this
    starts again from no state (see tasks.py, pipeline.py)."""


# What reading a damaged database or value can raise (SQLite's message itself
# may be undecodable, marshal's data too short or of the wrong type).
_DAMAGE = (sqlite3.DatabaseError, UnicodeDecodeError, ValueError, EOFError, TypeError)


def database_path(state_dir: Path) -> Path:
    return state_dir / FILE


def remove(state_dir: Path) -> None:
    """Delete the database (and its WAL files)."""
    path = database_path(state_dir)
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(f"{path}{suffix}")
        except FileNotFoundError:
            pass


class Database:
    """The state directory's database, opened when first used."""

    def __init__(self, state_dir: Path, repair: bool = True):
        self.path = database_path(state_dir)
        self.repair = repair  # False (a dry run): a damaged database is left as it is
        self._connection: sqlite3.Connection | None = None
        self.generation = 0  # how many times it was found damaged (and removed)

    def connection(self) -> sqlite3.Connection:
        if self._connection is None:
            try:
                self._connection = self._open()
            except _DAMAGE:  # not a database, or damaged: start again
                if not self.repair:
                    raise
                remove(self.path.parent)
                self._connection = self._open()
        return self._connection

    def damaged(self, error: BaseException) -> StoreDamaged:
        """Remove the damaged database (unless ``repair`` is off); the error to raise."""
        self.close()
        self.generation += 1  # tables read before: their rows are gone (Table._check)
        if self.repair:
            remove(self.path.parent)
        what = "removed: state starts again" if self.repair else "left as it is"
        return StoreDamaged(f"{self.path}: damaged ({error}); {what}")

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=OFF")
            # a bucket is read once per run: SQLite's page cache (2 MB by default,
            # per connection) would only add to peak memory
            connection.execute("PRAGMA cache_size=-256")
            made = connection.execute("PRAGMA user_version").fetchone()[0] != SCHEMA
            if made:
                for table in ("tokens", "shapes", "headers", *_TABLES):  # another layout
                    connection.execute(f"DROP TABLE IF EXISTS {table}")
                connection.execute(f"PRAGMA user_version = {SCHEMA}")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS tokens (name TEXT PRIMARY KEY, token TEXT)"
            )
            connection.execute(
                "CREATE TABLE IF NOT EXISTS shapes (name TEXT PRIMARY KEY, buckets INTEGER)"
            )
            connection.execute(  # a phase's own small state, written with its rows
                "CREATE TABLE IF NOT EXISTS headers (name TEXT PRIMARY KEY, value BLOB)"
            )
            for table in _TABLES:
                connection.execute(
                    f"CREATE TABLE IF NOT EXISTS {table} (bucket INTEGER PRIMARY KEY, value BLOB)"
                )
        except BaseException:
            connection.close()
            raise
        if made:
            crash.point("ledger:schema")
        return connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _value(self, sql: str, key: str) -> Any:
        if self._connection is None and not self.path.exists():
            return None  # (not made here: a dry run writes nothing)
        try:
            row = self.connection().execute(sql, (key,)).fetchone()
        except _DAMAGE as error:
            self.damaged(error)  # (its state counts as none: nothing read yet)
            return None
        return row[0] if row else None

    def token(self, group: str) -> str | None:
        """The token of the entries ``group`` (a phase) last wrote; None: none."""
        return self._value("SELECT token FROM tokens WHERE name = ?", group)

    def entry(self, name: str) -> tuple[bytes | None, str | None]:
        """An entry's stored bytes (state.py) and token; (None, None): none."""
        if self._connection is None and not self.path.exists():
            return None, None
        try:
            row = (
                self.connection()
                .execute(
                    "SELECT tokens.token, headers.value FROM tokens LEFT JOIN headers "
                    "ON headers.name = tokens.name WHERE tokens.name = ?",
                    (name,),
                )
                .fetchone()
            )
        except _DAMAGE as error:
            self.damaged(error)
            return None, None
        return (row[1], row[0]) if row else (None, None)

    def header(self, group: str) -> dict[str, Any]:
        """The entry ``group`` committed with its rows last ({}: none), with its
        ``token``."""
        value, token = self.entry(group)
        header = loads(value)
        return {**header, "token": token} if header else {}

    def put(self, name: str, value: bytes) -> str:
        """Save an entry's bytes alone; return its new token."""
        return self.commit(name, [], value)

    def drop(self, name: str) -> None:
        """Forget an entry (and its token)."""
        try:
            connection = self.connection()
            connection.execute("BEGIN IMMEDIATE")
            dropped = connection.execute("DELETE FROM tokens WHERE name = ?", (name,)).rowcount
            connection.execute("DELETE FROM headers WHERE name = ?", (name,))
            connection.execute("COMMIT")
        except _DAMAGE as error:
            raise self.damaged(error) from None
        if dropped:
            crash.point(f"ledger:drop {name}")

    def table(
        self,
        name: str,
        token: str | None,
        group: str,
        row: type[tuple] | None = None,
        kind: type[Table] | None = None,
    ) -> Table:
        """``name``'s entries, if ``token`` (from the phase's entry) is the
        one the database holds for ``group``; else an empty table. ``row``: the
        NamedTuple its entries are (saved as plain tuples); ``kind``: a Table
        class of the phase's own."""
        valid = token is not None and self.token(group) == token
        buckets = self._value("SELECT buckets FROM shapes WHERE name = ?", name) if valid else None
        if not buckets:
            valid = False
        kind = kind or Table
        return kind(self, name, token if valid else None, buckets if valid else None, row)

    def commit(
        self,
        group: str,
        tables: list[Table],
        header: dict[str, Any] | bytes | None = None,
        entries: Mapping[str, bytes] | None = None,
    ) -> str:
        """Write the tables' changes in one transaction (all of a table's entries
        if it did not start from valid ones), with ``header`` (the group's entry:
        its own small state, or its stored bytes) if given, and ``entries``
        (state.py's, by name: the phase's state that names these rows) under the
        same new token; return that token."""
        if isinstance(header, dict):
            header = dumps(header)
        token = secrets.token_hex(8)
        broken = next((table for table in tables if table.broken), None)
        if broken is not None:
            raise StoreDamaged(f"{self.path}: damaged; not written")
        try:
            connection = self.connection()
            connection.execute("BEGIN IMMEDIATE")
            try:
                held = connection.execute(
                    "SELECT token FROM tokens WHERE name = ?", (group,)
                ).fetchone()
                held = held[0] if held else None
                for table in tables:
                    table.write(connection, held)
                connection.execute(
                    "INSERT OR REPLACE INTO tokens (name, token) VALUES (?, ?)", (group, token)
                )
                named = {**(entries or {}), **({group: header} if header is not None else {})}
                for name, value in named.items():
                    connection.execute(
                        "INSERT OR REPLACE INTO tokens (name, token) VALUES (?, ?)", (name, token)
                    )
                    connection.execute(
                        "INSERT OR REPLACE INTO headers (name, value) VALUES (?, ?)",
                        (name, value),
                    )
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        except _DAMAGE as error:
            raise self.damaged(error) from None
        crash.point(f"ledger:{group}")
        for table in tables:
            table.token = token
        return token


# -- entries: a phase's small state, pickled (state.py) --------------------------
VERSION = 9  # of the entries' contents (9: collect.Record, fsutil.FsClock; 8: FileStat)


def dumps(data: dict[str, Any], shared: bool = True) -> bytes:
    """An entry's stored bytes (what ``loads`` reads back)."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, pickle.HIGHEST_PROTOCOL)
    pickler.fast = not shared
    pickler.dump({**data, "version": VERSION})
    return buffer.getvalue()


def loads(value: bytes | None) -> dict[str, Any]:
    """An entry from its stored bytes ({}: none, unreadable, another version)."""
    if value is None:
        return {}
    try:
        data = pickle.loads(value)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError):
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return {}
    return data


def bucket_of(name: str, buckets: int) -> int:
    return zlib.crc32(name.encode("utf-8", "surrogateescape")) % buckets


def _decode(blob: bytes) -> dict[str, Any]:
    """A bucket as stored (TypeError, like marshal's own errors, if it is none)."""
    bucket = marshal.loads(blob)
    if not isinstance(bucket, dict):
        raise TypeError("not a bucket")
    return bucket


class Table(MutableMapping[str, Any]):
    """One phase's entries as a dict: a bucket is read when one of its names is
    first asked for (every bucket at once after a quarter of them, or for any
    pass over every name); changes are kept in memory until the phase commits.

    A table without valid entries in the database starts empty and *flat*: one
    dict of every entry, however the database buckets them. A flat table's
    commit writes every entry, in buckets of about ``BUCKET``, and it stays flat
    (lookups need no CRC; a later commit in the same run writes all again)."""

    def __init__(
        self,
        db: Database,
        name: str,
        token: str | None,
        buckets: int | None = None,
        row: type[tuple] | None = None,
    ):
        if name not in _TABLES:
            raise ValueError(name)
        self.name = name
        self._db, self.token = db, token  # token None: no valid entries, start empty
        self._flat = token is None  # one dict in memory; a commit writes every entry
        self._count = 1 if self._flat else buckets or 1  # buckets in memory's layout
        self._buckets: dict[int, dict[str, Any]] = {0: {}} if self._flat else {}
        self._dirty: set[int] = set()  # buckets changed since read or written
        self._reads = 0
        self._generation = db.generation
        self.broken = False  # a read failed: the database was damaged
        self._row = row

    def db(self) -> Database:
        return self._db

    @property
    def complete(self) -> bool:
        return len(self._buckets) == self._count

    # -- reading ---------------------------------------------------------------
    def _index(self, name: str) -> int:
        return bucket_of(name, self._count) if self._count > 1 else 0

    def _bucket(self, name: str) -> dict[str, Any]:
        return self._read(self._index(name))

    def _read(self, index: int) -> dict[str, Any]:
        bucket = self._buckets.get(index)
        if bucket is None:
            self._check()
            self._reads += 1
            if self._reads > max(16, self._count // 4):
                self.load()
                return self._buckets[index]
            try:
                row = self._db.connection().execute(
                    f"SELECT value FROM {self.name} WHERE bucket = ?", (index,)
                )
                row = row.fetchone()
                bucket = self._decode(row[0]) if row else {}
            except _DAMAGE as error:
                raise self._damaged(error) from None
            self._buckets[index] = bucket
        return bucket

    def _decode(self, blob: bytes) -> dict[str, Any]:
        bucket = _decode(blob)
        if self._row is not None:  # (a wrong length is damage: TypeError)
            make = self._row._make  # type: ignore[attr-defined]
            return {name: make(fields) for name, fields in bucket.items()}
        return bucket

    def _saved(self, bucket: dict[str, Any]) -> dict[str, Any]:
        """A bucket as marshal saves it (rows as plain tuples)."""
        if self._row is not None:
            return {name: tuple(fields) for name, fields in bucket.items()}
        return bucket

    def _damaged(self, error: BaseException) -> StoreDamaged:
        self.broken = True
        return self._db.damaged(error)

    def _check(self) -> None:
        """Its rows are still in the database (not removed as damaged since read)."""
        if self._generation != self._db.generation and not self._flat:
            self.broken = True
            raise StoreDamaged(f"{self._db.path}: removed as damaged during the run")

    def __getitem__(self, name: str) -> Any:
        return self._bucket(name)[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self._bucket(name).get(name, default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._bucket(name)

    def load(self) -> MutableMapping[str, Any]:
        """Read every bucket not read yet (the table then answers from memory)."""
        if not self.complete:
            self._check()
            buckets = self._buckets
            try:
                rows = self._db.connection().execute(f"SELECT bucket, value FROM {self.name}")
                for index, blob in rows:
                    if index not in buckets:
                        buckets[index] = self._decode(blob)
            except _DAMAGE as error:
                raise self._damaged(error) from None
            for index in range(self._count):
                buckets.setdefault(index, {})
        return self

    def __iter__(self) -> Iterator[str]:
        self.load()
        return chain.from_iterable(list(self._buckets.values()))

    def __len__(self) -> int:
        self.load()
        return sum(map(len, self._buckets.values()))

    def items(self):  # at C speed over each bucket (no lookup by name)
        self.load()
        return chain.from_iterable(bucket.items() for bucket in list(self._buckets.values()))

    def values(self):
        self.load()
        return chain.from_iterable(bucket.values() for bucket in list(self._buckets.values()))

    # -- changing --------------------------------------------------------------
    def _changing(self, name: str) -> dict[str, Any]:
        index = self._index(name)
        bucket = self._read(index)
        self._dirty.add(index)
        return bucket

    def __setitem__(self, name: str, value: Any) -> None:
        self._changing(name)[name] = value

    def __delitem__(self, name: str) -> None:
        bucket = self._bucket(name)
        if name not in bucket:
            raise KeyError(name)
        del self._changing(name)[name]

    def replace(self, entries: dict[str, Any]) -> None:
        """Every entry at once (the table takes ``entries`` over: no copy of every
        one), written in full by the commit, in place of the old ones."""
        self._count, self._buckets = 1, {0: entries}
        self._flat, self._dirty = True, {0}

    @property
    def changed(self) -> bool:
        """Anything to write (a table without valid entries is always written)."""
        return self.token is None or bool(self._dirty)

    def write(self, connection: sqlite3.Connection, held: str | None) -> None:
        """Its part of a commit (``held``: the group's token in the database now)."""
        dumps = marshal.dumps
        self._check()
        full = self._flat or (self.complete and self._misshapen())
        if not full and held != self.token:
            raise StoreError("state changed by another run meanwhile; run again")
        if full and (self.changed or held != self.token):
            if len(self._buckets) == 1:  # (a flat table: no copy of it)
                (entries,) = self._buckets.values()
            else:
                entries = {}
                for bucket in self._buckets.values():
                    entries.update(bucket)
            count = max(1, len(entries) // BUCKET)
            members: list[list[str]] = [[] for _ in range(count)]  # names, not entries
            if count == 1:
                members[0] = list(entries)
            else:
                for name in entries:
                    members[bucket_of(name, count)].append(name)
            connection.execute(f"DELETE FROM {self.name}")
            connection.executemany(  # one bucket's dict at a time: no copy of them all
                f"INSERT INTO {self.name} (bucket, value) VALUES (?, ?)",
                (
                    (index, dumps(self._saved({name: entries[name] for name in names})))
                    for index, names in enumerate(members)
                ),
            )
            connection.execute(
                "INSERT OR REPLACE INTO shapes (name, buckets) VALUES (?, ?)", (self.name, count)
            )
            del members  # (in memory the table stays flat: every entry in one dict)
            self._count, self._buckets, self._flat = 1, {0: entries}, True
            self._generation = self._db.generation
        elif self._dirty:
            connection.executemany(
                f"INSERT OR REPLACE INTO {self.name} (bucket, value) VALUES (?, ?)",
                (
                    (index, dumps(self._saved(self._buckets[index])))
                    for index in sorted(self._dirty)
                ),
            )
        self._dirty.clear()

    def _misshapen(self) -> bool:
        """Buckets far from ``BUCKET`` names (the tree grew or shrank a lot)."""
        size = sum(map(len, self._buckets.values()))
        return size > 4 * BUCKET * self._count or (self._count > 1 and size < self._count)
