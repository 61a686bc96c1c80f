"""A source file replaced by a directory of the same name, or a directory by a
file: the next run adapts static_root to the new shape, ending as Django's clean
build of the same sources plus the old versions not in the way (as Django keeps
them; pruned, exactly Django's clean build), whatever the mode."""

from __future__ import annotations

import shutil

import pytest
from conftest import assert_same_output, run_django, tree_files
from old_outputs import PRUNE_ALL, assert_clean_build_plus_old_versions
from projects import DEFAULT_CONFIG, Project


def _project(tmp_path) -> Project:
    project = Project(tmp_path / "site")
    project.write("css/a.css", ".a { background: url(../img/x.png) }\n")
    project.write("css/b.css", ".b {}\n")
    project.write("img/x.png", b"PNG")
    return project


def _file_becomes_a_directory(project: Project) -> None:
    (project.path / "assets" / "css" / "a.css").unlink()
    project.write("css/a.css/c.css", ".c { color: red }\n")


def _directory_becomes_a_file(project: Project) -> None:
    shutil.rmtree(project.path / "assets" / "css" / "a.css")
    project.write("css/a.css", ".a {}\n")
    shutil.rmtree(project.path / "assets" / "img")
    project.write("img", b"now a file")


@pytest.mark.parametrize("change", [_file_becomes_a_directory, _directory_becomes_a_file])
@pytest.mark.parametrize("options", [(), ("--link",)])
def test_the_next_run_adapts_static_root_to_the_new_shape(tmp_path, change, options):
    project = _project(tmp_path)
    if change is _directory_becomes_a_file:
        _file_becomes_a_directory(project)  # and back: both directions
    project.doit("collect", *options)
    change(project)
    sources = {path: path.read_bytes() for path in (project.path / "assets").rglob("*")
               if path.is_file()}  # fmt: skip

    project.doit("collect", *options)

    assert not [path for path in sources if path.is_symlink()]  # never written through a link
    assert {path: path.read_bytes() for path in sources} == sources

    django = run_django(tmp_path / "django", [project.path / "assets"])
    # (symlinks: what they point at) and the old versions not in the way, kept
    assert_clean_build_plus_old_versions(django, project.root, project.state)
    project.write_config(DEFAULT_CONFIG + PRUNE_ALL)  # (no build setting changes)
    project.doit("prune")
    assert tree_files(project.root) == tree_files(django)
    if not options:
        assert_same_output(django, project.root)
    assert project.doit("collect", *options).summary.startswith("0 static files")


def test_a_file_not_written_by_staticpipe_in_the_way_is_a_one_line_error(tmp_path):
    project = _project(tmp_path)
    project.doit("collect")
    (project.root / "notes").write_text("mine")  # where a directory now goes
    project.write("notes/n.txt", "n")

    result = project.doit("collect", check=False)

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"staticpipe: error: {project.root / 'notes'}: in the way of 'notes/n.txt' in "
        "static_root and not written by staticpipe; move it away"
    ]
    assert (project.root / "notes").read_text() == "mine"
