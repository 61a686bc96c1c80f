"""What the copy phase keeps to see source changes: one signature per source in
its own state (signatures.py), nothing per source in doit's database."""

from __future__ import annotations

import os
import sqlite3

from projects import Project

from staticpipe.config import load_config
from staticpipe.ledger import state
from staticpipe.phases import collect, signatures
from staticpipe.sources import discovery


def _site(tmp_path) -> Project:
    project = Project(tmp_path / "site")
    project.write("css/a.css", "a { background: url(../img/x.png) }")
    project.write("img/x.png", "png")
    project.write("img/y.png", "png")
    project.doit("collect")
    return project


def _saved(config):
    """The signatures saved for the listing and the collect records in place."""
    listing = state.token(config.state_path / "found.json")
    return signatures.load(config, listing, collect.load_records(config).token)


def test_doit_keeps_no_state_per_source_and_edits_are_still_seen(tmp_path):
    project = _site(tmp_path)
    db = sqlite3.connect(project.path / ".staticpipe-doit.sqlite3")
    (row,) = db.execute("select task_data from doit where task_id = 'collect_copy'").fetchone()
    assert str(project.path / "assets" / "img" / "x.png") not in row
    assert project.doit("collect").summary.startswith("0 static files copied")
    (project.path / "assets" / "img" / "x.png").unlink()
    project.write("css/a.css", "a { color: red }")
    assert project.doit("collect").summary.startswith("1 static file copied")


def test_signatures_name_exactly_the_changed_sources(tmp_path):
    project = _site(tmp_path)
    config = load_config(project.path / "pyproject.toml")
    found = discovery.find_all(config)
    assert signatures.changed(found, _saved(config)) == set()
    edited = project.write("img/y.png", "png!")
    touched = project.path / "assets" / "img" / "x.png"
    info = touched.stat()
    os.utime(touched, ns=(info.st_atime_ns, info.st_mtime_ns))  # same mtime, new ctime
    changed = signatures.changed(found, _saved(config))
    assert changed == {"img/y.png", "img/x.png"}
    assert {found[name].source for name in changed} == {str(edited), str(touched)}


def test_signatures_of_another_listing_are_not_used(tmp_path):
    project = _site(tmp_path)
    config = load_config(project.path / "pyproject.toml")
    token = collect.load_records(config).token
    assert signatures.load(config, (0, 0, 0), token) is None
    assert signatures.changed(discovery.find_all(config), None) is None


def test_signatures_of_other_collect_records_are_not_used(tmp_path):
    project = _site(tmp_path)
    config = load_config(project.path / "pyproject.toml")
    listing = state.token(config.state_path / "found.json")
    assert signatures.load(config, listing, collect.load_records(config).token) is not None
    assert signatures.load(config, listing, "another") is None
    assert signatures.load(config, listing, None) is None


def test_after_an_edit_run_the_signatures_are_the_sources_again(tmp_path):
    project = _site(tmp_path)
    config = load_config(project.path / "pyproject.toml")
    project.write("img/y.png", "png, edited")
    project.write("img/z.png", "new")  # a new file: a new listing, every signature rebuilt
    assert project.doit("collect").summary.startswith("2 static files copied")
    project.write("img/y.png", "png, edited again")  # same listing: one signature patched
    assert project.doit("collect").summary.startswith("1 static file copied")
    found = discovery.find_all(config)
    assert signatures.changed(found, _saved(config)) == set()


def test_per_source_states_left_by_an_older_version_are_dropped_once(tmp_path):
    import json

    project = _site(tmp_path)
    source = str(project.path / "assets" / "img" / "x.png")
    db = sqlite3.connect(project.path / ".staticpipe-doit.sqlite3")
    data = {}
    for path in (project.path / "assets").rglob("*.*"):  # what a version with sources
        data[str(path)] = "1:2:3:4"  # as file_deps saved: a state per source
    db.execute(
        "insert or replace into doit (task_id, task_data) values ('collect_copy', ?)",
        (json.dumps(data),),
    )
    db.commit()
    db.close()
    assert project.doit("collect").summary.startswith("0 static files copied")
    db = sqlite3.connect(project.path / ".staticpipe-doit.sqlite3")
    row = db.execute("select task_data from doit where task_id = 'collect_copy'").fetchone()
    assert row is None or source not in row[0]
