"""Per-file state as rows (store.py): runs stopped part-way and damaged databases
still end in what a clean build gives.

Every test drives real runs in this process on real files in ``tmp_path`` and
compares static_root with a clean build of the same sources.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from sites import Site

from staticpipe.ledger import store


def _site(path: Path, extra: str = "") -> Site:
    return Site(path, extra=f'missing = "ignore"\n{extra}')


class Killed(BaseException):
    """The process dies here: nothing after it runs (no error handling either)."""


def _killed_after_committing(group: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next run dies right after it commits ``group``'s rows (and their entry)."""
    real = store.Database.commit

    def commit(self, name, *args, **kwargs):
        token = real(self, name, *args, **kwargs)
        if name == group:
            raise Killed
        return token

    monkeypatch.setattr(store.Database, "commit", commit)


@pytest.mark.parametrize("group", ["collect", "post"])
def test_a_watcher_run_after_a_run_killed_after_a_commit_drops_a_removed_file(
    tmp_path, monkeypatch, group
):
    # The killed run committed the copy rows (b.png's gone), and maybe the
    # post-processing rows, but wrote no manifest: the next run must not take the
    # later phases' state as made from the earlier ones, nor leave b.png's outputs.
    site = _site(tmp_path / "site")
    site.write("a.png", b"A")
    site.write("b.png", b"B")
    site.write("x.css", "x { background: url(b.png) }\n")
    assert site.collect() == 0
    (site.path / "assets" / "b.png").unlink()
    site.write("x.css", "x { background: url(a.png) }\n")
    with monkeypatch.context() as patch:
        _killed_after_committing(group, patch)
        with pytest.raises(Killed):
            site.watcher_run()
    site.watcher_run()
    site.assert_equals_clean_build(tmp_path / "clean")


def _damage(site: Site, edit) -> None:
    path = store.database_path(site.state)
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    data = bytearray(path.read_bytes())
    edit(data)
    path.write_bytes(bytes(data))


def test_a_state_database_with_damaged_rows_means_one_full_run(tmp_path):
    site = _site(tmp_path / "site")
    site.write("a.png", b"A")
    site.write("x.css", "x { background: url(a.png) }\n")
    assert site.collect() == 0

    def rows(data: bytearray) -> None:  # every page but the first (the schema)
        data[4096:] = b"\xab" * (len(data) - 4096)

    _damage(site, rows)
    site.write("a.png", b"AA")
    assert site.collect() == 0
    site.assert_equals_clean_build(tmp_path / "clean")
    assert site.collect() == 0


def test_a_state_database_with_a_damaged_schema_means_one_full_run(tmp_path):
    site = _site(tmp_path / "site")
    site.write("a.png", b"A")
    assert site.collect() == 0

    def schema(data: bytearray) -> None:  # an index's name, no longer UTF-8
        at = data.find(b"sqlite_autoindex_tokens_1")
        assert at > 0
        data[at + 17 : at + 23] = b"\xff\xfe\xfd\xfc\xfb\xfa"

    _damage(site, schema)
    assert site.collect() == 0
    site.assert_equals_clean_build(tmp_path / "clean")


def test_a_run_stopped_by_an_undecodable_file_still_redoes_what_references_a_rehashed_file(
    tmp_path,
):
    # (also before the rows: the stopped run saves b.png's new entry, and the next
    # run finds no md5 changed, so a.css is left naming b.png's old hashed name)
    site = _site(tmp_path / "site", 'encoding_errors = "error"')
    site.write("b.png", b"B")
    site.write("a.css", "x { background: url(b.png) }\n")
    assert site.collect() == 0
    site.write("b.png", b"BB")
    site.write("c.css", b"y { color: red } /* \xff */\n")
    assert site.collect() != 0
    site.write("c.css", "y { color: red }\n")
    assert site.collect() == 0
    site.assert_equals_clean_build(tmp_path / "clean")


def _damage_every_record(site: Site) -> None:
    """Bytes that are no marshalled value where the collect records are."""
    connection = sqlite3.connect(store.database_path(site.state))
    connection.execute("UPDATE collect SET value = x'ff00'")
    connection.commit()
    connection.close()


def test_a_state_database_with_a_damaged_value_means_one_full_run(tmp_path):
    # (a page's bytes flipped inside a value: SQLite keeps no checksums)
    site = _site(tmp_path / "site")
    site.write("a.png", b"A")
    assert site.collect() == 0
    _damage_every_record(site)
    site.write("a.png", b"AA")
    assert site.collect() == 0
    site.assert_equals_clean_build(tmp_path / "clean")


def test_a_deleted_state_database_means_one_full_run_that_leaves_no_old_outputs(tmp_path):
    # the old hashed names are known from the manifest in place, not from the state
    site = _site(tmp_path / "site")
    site.write("a.png", b"A")
    site.write("gone.png", b"G")
    site.write("x.css", "x { background: url(a.png) }\n")
    assert site.collect() == 0
    store.remove(site.state)
    site.write("a.png", b"AA")
    (site.path / "assets" / "gone.png").unlink()
    assert site.collect() == 0
    site.assert_equals_clean_build(tmp_path / "clean")


@pytest.mark.parametrize("damage", [b'{"paths": {"a.png": "a.', b"not json", b'{"version": "9"}'])
@pytest.mark.parametrize("runner", ["doit", "watcher"])
def test_state_lost_with_a_damaged_manifest_still_ends_as_a_clean_build(tmp_path, damage, runner):
    # no record and no manifest to read: the outputs that prove themselves (a
    # hashed name that is its bytes' md5, and its copy; a reference cycle's
    # members, by the hash of the whole component) go; the rest stays
    site = _site(tmp_path / "site")
    site.write("a.png", b"A")
    site.write("gone.png", b"G")
    site.write("sub/gone.css", "g { background: url(../a.png) }\n")
    site.write("x.css", "x { background: url(a.png) }\n")
    site.write("ring/a.css", ".a { background: url(b.css) }\n")
    site.write("ring/b.css", ".b { background: url(a.css) } .i { background: url(../a.png) }\n")
    assert site.collect() == 0
    root = site.path / "build" / "static"
    (root / "mine.txt").write_text("not written by staticpipe")
    (root / "mine.0123456789ab.txt").write_text("a hashed-looking name of my own")
    shutil.rmtree(site.state)
    (root / "staticfiles.json").write_bytes(damage)
    site.write("a.png", b"AA")  # (b.css refers to it: the cycle is renamed too)
    (site.path / "assets" / "gone.png").unlink()
    (site.path / "assets" / "sub" / "gone.css").unlink()

    if runner == "doit":
        assert site.collect() == 0
    else:
        site.watcher_run()

    mine = {"mine.txt", "mine.0123456789ab.txt"}
    for name in mine:
        assert (root / name).is_file()
        (root / name).unlink()  # (a clean build has neither)
    site.assert_equals_clean_build(tmp_path / "clean")


def test_names_an_old_manifest_gives_outside_static_root_are_never_deleted(tmp_path):
    site = _site(tmp_path / "site")
    site.write("a.png", b"A")
    assert site.collect() == 0
    outside = site.path / "build" / "keep.txt"
    outside.write_text("not ours")
    manifest = site.path / "build" / "static" / "staticfiles.json"
    manifest.write_text(
        '{"paths": {"../keep.txt": "../keep.txt", "/etc/x": "a/../../keep.txt"}, "version": "1.1"}'
    )
    store.remove(site.state)
    assert site.collect() == 0
    assert outside.read_text() == "not ours"


def test_a_dry_run_leaves_a_damaged_state_database_in_place(tmp_path):
    site = _site(tmp_path / "site")
    site.write("a.png", b"A")
    assert site.collect() == 0
    _damage_every_record(site)
    site.write("a.png", b"AA")
    assert site.collect("--dry-run") == 0
    connection = sqlite3.connect(store.database_path(site.state))
    assert connection.execute("SELECT value FROM collect").fetchone() == (b"\xff\x00",)
    connection.close()


def test_switching_to_plain_storage_after_state_was_lost_leaves_no_hashed_files(tmp_path):
    site = _site(tmp_path / "site")
    site.write("a.png", b"A")
    site.write("x.css", "x { background: url(a.png) }\n")
    assert site.collect() == 0
    store.remove(site.state)
    site.configure('missing = "ignore"\nstorage = "plain"')
    assert site.collect() == 0
    root = site.path / "build" / "static"
    left = sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())
    assert left == ["a.png", "x.css"]
