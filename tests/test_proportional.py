"""An edit redoes what it affects, not the whole tree.

Each test builds a real project with the real pipeline, edits files, then runs
again and looks at what the run post-processed (its summary), and at
``outputs.suspect`` for static_root's directories. Each also checks that the
incremental result equals a clean build, so "did less" never means "got it
wrong".
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import write_tree
from old_outputs import assert_clean_build_plus_old_versions

from staticpipe import pipeline
from staticpipe.config import Config, from_mapping
from staticpipe.engine import outputs
from staticpipe.errors import MissingReferenceError
from staticpipe.fs import fsutil
from staticpipe.sources import discovery

TREE = {
    "img/a.png": b"A",
    "img/b.png": b"B",
    "css/a.css": ".a { background: url(../img/a.png); }\n",
    "css/b.css": ".b { background: url(../img/b.png); }\n",
    "css/uses-a.css": '@import "a.css";\n.u { color: red; }\n',
    "css/plain.css": ".p { color: blue; }\n",
    "js/app.js": "console.log(1);\n",
}


def _config(project: Path, **settings) -> Config:
    return from_mapping({"static_root": "build/static", "dirs": ["assets"], **settings}, project)


def _redone(project: Path, **settings) -> list[str]:
    """What an incremental run post-processed (hashed and wrote anew)."""
    return sorted(pipeline.run(_config(project, **settings)).post_processed)


def _assert_equals_clean_build(project: Path, tmp_path: Path, **settings) -> None:
    clean = tmp_path / "clean"
    shutil.copytree(project / "assets", clean / "assets")
    pipeline.run(_config(clean, **settings))
    pipeline.run(_config(project, **settings))
    # (and the old versions kept, as Django keeps them)
    assert_clean_build_plus_old_versions(
        clean / "build" / "static", project / "build" / "static", project / ".staticpipe"
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    write_tree(project / "assets", TREE)
    pipeline.run(_config(project))
    return project


def test_nothing_changed_redoes_nothing(project):
    assert _redone(project) == []


def test_an_edited_image_redoes_it_and_the_css_that_reaches_it(project, tmp_path):
    (project / "assets" / "img" / "a.png").write_bytes(b"A2")
    assert _redone(project) == ["css/a.css", "css/uses-a.css", "img/a.png"]
    _assert_equals_clean_build(project, tmp_path)


def test_an_edited_stylesheet_redoes_it_and_its_importers(project, tmp_path):
    (project / "assets" / "css" / "a.css").write_text(".a { background: url(../img/b.png); }\n")
    assert _redone(project) == ["css/a.css", "css/uses-a.css"]
    _assert_equals_clean_build(project, tmp_path)


def test_a_removed_image_redoes_the_css_that_named_it(project, tmp_path):
    (project / "assets" / "img" / "b.png").unlink()
    with pytest.raises(MissingReferenceError, match=r"css/b\.css.*img/b\.png"):
        pipeline.run(_config(project))


def test_a_new_directory_redoes_the_css_that_names_it(tmp_path):
    project = tmp_path / "project"
    write_tree(
        project / "assets",
        {**TREE, "css/dir.css": ".d { background: url(fonts/); }\n"},
    )
    pipeline.run(_config(project, missing="ignore"))  # css/fonts/ is missing: left as written
    (project / "assets" / "css" / "fonts").mkdir()
    (project / "assets" / "css" / "fonts" / "f.woff2").write_bytes(b"F")
    assert _redone(project, missing="ignore") == ["css/dir.css", "css/fonts/f.woff2"]
    _assert_equals_clean_build(project, tmp_path, missing="ignore")


def test_a_file_whose_rewrite_failed_is_redone_and_reported_again(project):
    (project / "assets" / "css" / "bad.css").write_text(".x { background: url(gone.png); }\n")
    with pytest.raises(MissingReferenceError, match="gone.png"):
        pipeline.run(_config(project))
    (project / "assets" / "img" / "b.png").write_bytes(b"B2")  # an unrelated edit
    with pytest.raises(MissingReferenceError, match=r"css/bad\.css.*gone\.png"):
        pipeline.run(_config(project))


def test_a_deleted_output_is_written_again_and_nothing_else(project, tmp_path):
    config = _config(project)
    hashed = json.loads((project / "build" / "static" / "staticfiles.json").read_bytes())
    hashed = hashed["paths"]["css/b.css"]
    os.unlink(project / "build" / "static" / hashed)
    assert pipeline.run(config).post_processed == ["css/b.css"]
    _assert_equals_clean_build(project, tmp_path)


def test_output_directories_a_run_just_changed_are_not_suspect_next_time(project):
    if fsutil.fs_clock(project) is None:
        pytest.skip("no filesystem clock here (no O_TMPFILE): the wall-clock window applies")
    config = _config(project)
    for round_ in range(5):  # each run changes css/ and img/ right before recording them
        (project / "assets" / "img" / "a.png").write_bytes(b"A%d" % round_)
        pipeline.run(config)
        found = discovery.find_all(config)
        assert outputs.suspect(config, found) == set()
    os.unlink(project / "build" / "static" / "img" / "b.png")  # a later change is still seen
    assert outputs.suspect(config, discovery.find_all(config)) == {"img"}
