"""What staticpipe saves in doit's dependency database: each file_dep path once."""

from __future__ import annotations

import json
import sqlite3

from projects import Project

from staticpipe.tasks import StateCodec


def test_deps_list_is_saved_as_a_rule_and_read_back_as_the_same_paths():
    codec = StateCodec()
    data = {
        "checker:": "StatChecker",
        "/src/a.css": "1:2:3:4",
        "/src/b.png": "5:6:7:8",
        "/src/deleted.png": "9:9:9:9",  # a former file_dep: doit keeps its state
        "deps:": ("/src/b.png", "/src/a.css"),
    }
    text = codec.encode(data)
    assert text.count("/src/a.css") == 1
    assert sorted(codec.decode(text)["deps:"]) == ["/src/a.css", "/src/b.png"]


def test_deps_that_are_not_all_keys_are_saved_as_doit_saves_them():
    codec = StateCodec()
    data = {"deps:": ["x:", "y"], "x:": "1", "y": "2"}
    assert json.loads(codec.encode(data)) == {"deps:": ["x:", "y"], "x:": "1", "y": "2"}
    assert codec.decode(codec.encode({"result:": "abc"})) == {"result:": "abc"}


def test_copy_task_saves_each_source_path_once_and_stays_up_to_date(tmp_path):
    project = Project(tmp_path / "site")
    project.write("css/a.css", "a { background: url(../img/x.png) }")
    project.write("img/x.png", "png")
    project.doit("collect")
    db = sqlite3.connect(project.path / ".staticpipe-doit.sqlite3")
    (row,) = db.execute("select task_data from doit where task_id = 'collect_copy'").fetchone()
    source = str(project.path / "assets" / "img" / "x.png")
    assert row.count(source) == 1
    assert project.doit("collect").summary.startswith("0 static files copied")
    (project.path / "assets" / "img" / "x.png").unlink()
    project.write("css/a.css", "a { color: red }")
    assert project.doit("collect").summary.startswith("1 static file copied")
