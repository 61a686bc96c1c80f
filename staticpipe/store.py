"""Per-file state read and updated by name: a phase's rows in an SQLite table.

A phase keeps one row per file (collect's records, post-processing's entries
and its inverted references) in a table of ``<state>/files.sqlite3``, and the
rest of its state (settings, identities, short lists) in its small state file
(state.py). That file also holds the *token* written with the rows' last change:
the file is written after the rows, so a file whose token is not the database's
(a run stopped between the two, a file or database from elsewhere) counts as no
state at all. An edit reads the few rows it needs and writes the rows it
changed, so its cost does not grow with the tree; a pass over every file reads
every row once, in bulk.

Rows are marshalled values (lists, tuples, strings, numbers, None). The database
runs in WAL mode without a sync per commit: a commit is atomic (a killed run
leaves the rows as they were before it or after it), and a token that does not
match after a power loss means one full run.
"""

from __future__ import annotations

import marshal
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any

from .errors import StaticpipeError

FILE = "files.sqlite3"

# Looked up one by one beyond this many rows, a table reads all its rows at once
# instead: a pass over every file costs one bulk read, not a query per file.
BULK_AFTER = 256

_TABLES = ("collect", "post", "referrers")


class StoreError(StaticpipeError):
    pass


def database_path(state_dir: Path) -> Path:
    return state_dir / FILE


class Database:
    """The state directory's database, opened when first used."""

    def __init__(self, state_dir: Path):
        self.path = database_path(state_dir)
        self._connection: sqlite3.Connection | None = None

    def connection(self) -> sqlite3.Connection:
        if self._connection is None:
            try:
                self._connection = self._open()
            except sqlite3.DatabaseError:  # not a database, or damaged: start again
                remove(self.path.parent)
                self._connection = self._open()
        return self._connection

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            statements = ["CREATE TABLE IF NOT EXISTS tokens (name TEXT PRIMARY KEY, token TEXT)"]
            statements += [
                f"CREATE TABLE IF NOT EXISTS {table} (name TEXT PRIMARY KEY, value BLOB) "
                "WITHOUT ROWID"
                for table in _TABLES
            ]
            for statement in statements:
                connection.execute(statement)
        except BaseException:
            connection.close()
            raise
        return connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def token(self, group: str) -> str | None:
        """The token of the rows ``group`` (a phase) last wrote; None: none."""
        if self._connection is None and not self.path.exists():
            return None  # (not made here: a dry run writes nothing)
        try:
            row = (
                self.connection()
                .execute("SELECT token FROM tokens WHERE name = ?", (group,))
                .fetchone()
            )
        except sqlite3.DatabaseError:
            return None
        return row[0] if row else None

    def table(self, name: str, token: str | None, group: str, **options: Any) -> Table:
        """``name``'s rows, if ``token`` (from the phase's state file) is the one
        the database holds for ``group``; else an empty table."""
        valid = token is not None and self.token(group) == token
        return Table(self, name, token if valid else None, **options)

    def commit(self, group: str, tables: list[Table]) -> str:
        """Write the tables' changes (all their rows, for a table that did not
        start from valid rows) in one transaction; return the group's new token,
        for the phase's state file."""
        token = secrets.token_hex(8)
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
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path}: {error}") from None
        for table in tables:
            table.committed(self, token)
        return token

    def invalidate(self, group: str) -> None:
        """Make ``group``'s rows count as none (its state file no longer matches)."""
        try:
            self.connection().execute("DELETE FROM tokens WHERE name = ?", (group,))
        except sqlite3.DatabaseError:
            pass


def remove(state_dir: Path) -> None:
    """Delete the database (and its WAL files)."""
    path = database_path(state_dir)
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(f"{path}{suffix}")
        except FileNotFoundError:
            pass


_ABSENT = object()


class Table(MutableMapping[str, Any]):
    """One phase table as a dict: rows read when first asked for (all of them at
    once after ``BULK_AFTER`` single reads, or for any pass over every key),
    changes kept in memory until the phase commits them.

    ``bulk``: called with every (name, value) read in bulk, returns the pair to
    keep (collect shares the listing's strings this way)."""

    def __init__(
        self,
        db: Database,
        name: str,
        token: str | None,
        bulk: Callable[[str, Any], tuple[str, Any]] | None = None,
    ):
        if name not in _TABLES:
            raise ValueError(name)
        self.name = name
        self._db, self.token = db, token  # token None: no valid rows, start empty
        self._rows: dict[str, Any] = {}  # read or changed so far
        self._dirty: set[str] = set()  # names set or deleted since loaded
        self._absent: set[str] = set()  # looked up: no row
        self._complete = token is None  # every row is in _rows
        self._rewrite = token is None  # on commit: replace every row
        self._singles = 0
        self._bulk = bulk
        self.racy: list[str] = []  # (collect's: the racy records' names)

    def db(self) -> Database:
        return self._db

    # -- reading ---------------------------------------------------------------
    def __getitem__(self, name: str) -> Any:
        value = self._rows.get(name, _ABSENT)
        if value is _ABSENT:
            if self._complete or name in self._dirty or name in self._absent:
                raise KeyError(name)
            value = self._read(name)
            if value is _ABSENT:
                raise KeyError(name)
        return value

    def _read(self, name: str) -> Any:
        self._singles += 1
        if self._singles > BULK_AFTER:
            self.load()
            return self._rows.get(name, _ABSENT)
        row = self._query(f"SELECT value FROM {self.name} WHERE name = ?", (name,)).fetchone()
        if row is None:
            self._absent.add(name)
            return _ABSENT
        value = self._rows[name] = marshal.loads(row[0])
        return value

    def _query(self, sql: str, parameters: tuple = ()) -> sqlite3.Cursor:
        try:
            return self._db.connection().execute(sql, parameters)
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self._db.path}: {error}; run again") from None

    def load(self) -> dict[str, Any]:
        """Every row, read once (the table then answers from memory)."""
        if not self._complete:
            rows, skip, loads, bulk = self._rows, self._dirty, marshal.loads, self._bulk
            for name, blob in self._query(f"SELECT name, value FROM {self.name}"):
                if name in skip or name in rows:
                    continue
                if bulk is None:
                    rows[name] = loads(blob)
                else:
                    key, value = bulk(name, loads(blob))
                    rows[key] = value
            self._complete = True
        return self._rows

    def __iter__(self) -> Iterator[str]:
        return iter(self.load())

    def __len__(self) -> int:
        return len(self.load())

    def __contains__(self, name: object) -> bool:
        try:
            self[name]  # type: ignore[index]
        except KeyError:
            return False
        return True

    # -- changing --------------------------------------------------------------
    def __setitem__(self, name: str, value: Any) -> None:
        self._rows[name] = value
        self._dirty.add(name)
        self._absent.discard(name)

    def __delitem__(self, name: str) -> None:
        self[name]  # KeyError if there is none
        del self._rows[name]
        self._dirty.add(name)

    def replace(self, rows: Mapping[str, Any]) -> None:
        """Every row at once: the commit writes them all, in place of the old ones."""
        self._rows = dict(rows)
        self._dirty, self._absent = set(), set()
        self._complete = self._rewrite = True

    def write(self, connection: sqlite3.Connection, held: str | None) -> None:
        """Its part of a commit (``held``: the group's token in the database now)."""
        dumps = marshal.dumps
        if self._rewrite or held != self.token:
            if not self._rewrite:  # another run changed the rows since they were read
                raise StoreError("state changed by another run meanwhile; run again")
            connection.execute(f"DELETE FROM {self.name}")
            connection.executemany(
                f"INSERT INTO {self.name} (name, value) VALUES (?, ?)",
                ((name, dumps(value)) for name, value in self._rows.items()),
            )
            return
        rows = self._rows
        upserts = [(name, dumps(rows[name])) for name in self._dirty if name in rows]
        deletes = [(name,) for name in self._dirty if name not in rows]
        if upserts:
            connection.executemany(
                f"INSERT OR REPLACE INTO {self.name} (name, value) VALUES (?, ?)", upserts
            )
        if deletes:
            connection.executemany(f"DELETE FROM {self.name} WHERE name = ?", deletes)

    def committed(self, db: Database, token: str) -> None:
        self._db, self.token = db, token
        self._absent.update(name for name in self._dirty if name not in self._rows)
        self._dirty.clear()
        self._rewrite = False

    @property
    def changed(self) -> bool:
        """Anything to write (a table without valid rows is always written)."""
        return self._rewrite or bool(self._dirty)
