"""The per-file tables (store.py): read by name, written as changes, trusted only
with the token their phase's state file holds."""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from staticpipe.ledger import store


def _written(tmp_path, entries: dict, group: str = "collect") -> tuple[store.Database, str]:
    db = store.Database(tmp_path)
    table = db.table("collect", None, group)
    for name, value in entries.items():
        table[name] = value
    return db, db.commit(group, [table])


def _reopened(tmp_path, token: str | None, group: str = "collect") -> store.Table:
    return store.Database(tmp_path).table("collect", token, group)


ENTRIES = {f"dir{i % 7}/file{i}.css": [f"/src/{i}", i, "md5", None, (1, "x")] for i in range(1000)}


def test_a_committed_table_reads_back_every_entry(tmp_path):
    _, token = _written(tmp_path, ENTRIES)
    table = _reopened(tmp_path, token)
    assert dict(table.items()) == {name: list(v) for name, v in ENTRIES.items()}
    assert len(table) == len(ENTRIES)


def _rows(tmp_path) -> dict[int, bytes]:
    """The collect table's rows as SQLite holds them (bucket -> value)."""
    connection = sqlite3.connect(store.database_path(tmp_path))
    try:
        return dict(connection.execute("SELECT bucket, value FROM collect"))
    finally:
        connection.close()


def _damage_rows_without(tmp_path, name: str) -> None:
    """Every row but the one holding ``name``: bytes no value is made of."""
    connection = sqlite3.connect(store.database_path(tmp_path))
    for bucket, value in _rows(tmp_path).items():
        if name.encode() not in value:
            connection.execute("UPDATE collect SET value = x'ff00' WHERE bucket = ?", (bucket,))
    connection.commit()
    connection.close()


def test_a_lookup_reads_only_the_bucket_of_its_name(tmp_path):
    _, token = _written(tmp_path, ENTRIES)
    assert len(_rows(tmp_path)) > 2
    _damage_rows_without(tmp_path, "dir3/file10.css")  # (read, they would fail)
    table = _reopened(tmp_path, token)
    assert table["dir3/file10.css"][1] == 10
    assert table.get("dir3/file10.css")[0] == "/src/10"
    with pytest.raises(store.StoreDamaged):  # (what reading the others would do)
        _reopened(tmp_path, token).load()


def test_many_lookups_read_every_bucket_at_once(tmp_path):
    _, token = _written(tmp_path, ENTRIES)
    table = _reopened(tmp_path, token)
    for name in list(ENTRIES)[:600]:
        assert name in table
    assert table.complete


def test_a_token_that_is_not_the_databases_means_no_entries(tmp_path):
    _, token = _written(tmp_path, ENTRIES)
    assert _reopened(tmp_path, "another").token is None
    assert len(_reopened(tmp_path, "another")) == 0
    assert _reopened(tmp_path, token, group="post").token is None  # another phase's token
    assert _reopened(tmp_path, None).token is None


def test_changes_are_written_and_only_their_buckets(tmp_path):
    _, token = _written(tmp_path, ENTRIES)
    db = store.Database(tmp_path)
    table = db.table("collect", token, "collect")
    table["dir1/file1.css"] = "changed"
    del table["dir2/file2.css"]
    table["new/file.css"] = "new"
    before = _rows(tmp_path)
    token = db.commit("collect", [table])
    after = _rows(tmp_path)
    assert after.keys() == before.keys()
    assert 1 <= sum(after[bucket] != before[bucket] for bucket in after) <= 3
    expected = {**ENTRIES, "dir1/file1.css": "changed", "new/file.css": "new"}
    del expected["dir2/file2.css"]
    reread = _reopened(tmp_path, token)
    assert {name: reread[name] for name in expected} == {
        name: list(v) if isinstance(v, list) else v for name, v in expected.items()
    }
    assert len(reread) == len(expected) and "dir2/file2.css" not in reread


def test_deleting_a_missing_name_is_a_key_error(tmp_path):
    _, token = _written(tmp_path, ENTRIES)
    table = _reopened(tmp_path, token)
    with pytest.raises(KeyError):
        del table["nowhere.css"]
    assert not table.changed


def test_changes_on_top_of_another_runs_commit_are_refused(tmp_path):
    _, token = _written(tmp_path, ENTRIES)
    mine = _reopened(tmp_path, token)
    theirs_db = store.Database(tmp_path)
    theirs = theirs_db.table("collect", token, "collect")
    theirs["a.css"] = 1
    theirs_db.commit("collect", [theirs])
    mine["b.css"] = 2
    with pytest.raises(store.StoreError, match="another run"):
        mine.db().commit("collect", [mine])


class _Row(NamedTuple):
    source: str
    size: int


def test_a_table_with_a_row_type_reads_its_rows_back_named(tmp_path):
    rows = {f"dir{i % 5}/file{i}.css": _Row(f"/src/{i}", i) for i in range(300)}
    db = store.Database(tmp_path)
    table = db.table("collect", None, "collect", row=_Row)
    table.update(rows)
    token = db.commit("collect", [table])
    again = store.Database(tmp_path).table("collect", token, "collect", row=_Row)
    assert again["dir1/file1.css"].size == 1
    assert dict(again.items()) == rows
    again["dir1/file1.css"] = _Row("/src/edited", 7)  # (a commit of one bucket)
    token = again.db().commit("collect", [again])
    edited = store.Database(tmp_path).table("collect", token, "collect", row=_Row)
    assert edited["dir1/file1.css"] == _Row("/src/edited", 7)
    assert edited["dir2/file2.css"] == rows["dir2/file2.css"]


def test_rows_of_another_shape_are_damage(tmp_path):
    _, token = _written(tmp_path, {"a.css": ("/src/a", 1, "a field more")})
    table = store.Database(tmp_path).table("collect", token, "collect", row=_Row)
    with pytest.raises(store.StoreDamaged):
        table.get("a.css")


def test_a_damaged_database_is_started_again(tmp_path):
    _, token = _written(tmp_path, ENTRIES)
    for suffix in ("-wal", "-shm"):
        store.database_path(tmp_path).with_name(store.FILE + suffix).unlink(missing_ok=True)
    store.database_path(tmp_path).write_bytes(b"not a database at all" * 100)
    table = _reopened(tmp_path, token)
    assert table.token is None and len(table) == 0
    table["a.css"] = 1
    assert _reopened(tmp_path, table.db().commit("collect", [table]))["a.css"] == 1


def test_a_database_of_another_layout_is_started_again(tmp_path):
    _, token = _written(tmp_path, ENTRIES)
    connection = sqlite3.connect(store.database_path(tmp_path))
    connection.execute(f"PRAGMA user_version = {store.SCHEMA + 1}")
    connection.commit()
    connection.close()
    assert _reopened(tmp_path, token).token is None


def test_a_table_that_grew_a_lot_is_written_in_new_buckets(tmp_path):
    _, token = _written(tmp_path, {"a.css": 1})
    db = store.Database(tmp_path)
    table = db.table("collect", token, "collect")
    for index in range(20 * store.BUCKET):
        table[f"n{index}.css"] = index
    table.load()
    token = db.commit("collect", [table])
    reread = _reopened(tmp_path, token)
    assert len(reread) == 20 * store.BUCKET + 1
    assert len(_rows(tmp_path)) > 1


names = st.text(st.characters(codec="utf-8", exclude_characters="\0"), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(
    first=st.dictionaries(names, st.integers(), max_size=300),
    edits=st.lists(st.tuples(names, st.one_of(st.none(), st.integers())), max_size=40),
)
def test_a_table_edited_and_reread_equals_the_dict_edited_alike(tmp_path_factory, first, edits):
    directory = tmp_path_factory.mktemp("store")
    _, token = _written(directory, first)
    db = store.Database(directory)
    table = db.table("collect", token, "collect")
    expected = dict(first)
    for name, value in edits:
        if value is None:
            if name in expected:
                del table[name]
                del expected[name]
        else:
            table[name] = expected[name] = value
    token = db.commit("collect", [table])
    assert dict(_reopened(directory, token).items()) == expected
