"""Bad configurations: one line on stderr naming the key, the value and what is
expected, exit code 1, no traceback, printed once, nothing written or deleted.

Each case runs the real ``doit collect`` (a dodo.py importing the tasks) and the
real ``python -m staticpipe collect``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from old_outputs import PRUNE_ALL
from projects import Project

TABLE = "[tool.staticpipe]\n"
ROOT = 'static_root = "build/static"\n'
DIRS = 'dirs = ["assets"]\n'

# (id, pyproject.toml text, what the one line must say)
CASES = [
    ("static_root-int", TABLE + "static_root = 5\n" + DIRS, "static_root = 5: expected a path"),
    ("static_root-empty", TABLE + 'static_root = ""\n' + DIRS, 'static_root = "": expected a path'),
    ("static_url-int", TABLE + ROOT + DIRS + "static_url = 7\n", "static_url = 7: expected a URL"),
    ("static_url-no-slash", TABLE + ROOT + DIRS + 'static_url = "/s"\n',
     "static_url = \"/s\": expected a URL ending with '/'"),
    ("ignore-int", TABLE + ROOT + DIRS + "ignore = [1]\n", "ignore = [1]: expected a list of strings"),  # noqa: E501
    ("ignore-str", TABLE + ROOT + DIRS + 'ignore = "*.scss"\n',
     'ignore = "*.scss": expected a list of strings'),
    ("dirs-str", TABLE + ROOT + 'dirs = "assets"\n', 'dirs = "assets": expected a list'),
    ("dirs-prefix-int", TABLE + ROOT + "dirs = [[1, \"assets\"]]\n", 'dirs = [[1, "assets"]]: expected'),  # noqa: E501
    ("dirs-table-prefix-int", TABLE + ROOT + 'dirs = [{ prefix = 5, path = "assets" }]\n',
     "prefix = 5"),
    ("packages-int", TABLE + ROOT + DIRS + "packages = [5]\n", "packages = [5]: expected"),
    ("packages-empty", TABLE + ROOT + DIRS + 'packages = [""]\n', 'packages = [""]: expected'),
    ("packages-path", TABLE + ROOT + DIRS + 'packages = ["../../etc"]\n',
     '"../../etc" is not'),
    ("package-not-found", TABLE + ROOT + DIRS + 'packages = ["no_such_pkg_xyz"]\n',
     'packages: "no_such_pkg_xyz": no such package'),
    ("bool", TABLE + ROOT + DIRS + 'js_modules = "yes"\n', 'js_modules = "yes": expected true or false'),  # noqa: E501
    ("choice", TABLE + ROOT + DIRS + 'missing = "sometimes"\n',
     'missing = "sometimes": expected one of "error", "warn", "ignore"'),
    ("mode", TABLE + ROOT + DIRS + 'file_permissions_mode = "rw"\n',
     'file_permissions_mode = "rw": expected a file mode'),
    ("file_hash-shape", TABLE + ROOT + DIRS + 'file_hash = "myhash"\n',
     'file_hash = "myhash": expected "package.module:function"'),
    ("unknown-key", TABLE + ROOT + DIRS + 'static_ur = "/s/"\n',
     "unknown key static_ur in [tool.staticpipe] (did you mean static_url?)"),
    ("no-static_root", TABLE + DIRS, "needs static_root"),
    ("toml-syntax", TABLE + ROOT + 'dirs = ["assets"\n', "pyproject.toml:4:1: invalid TOML"),
    ("toml-bad-value", TABLE + 'static_root = "build" x\n',
     "pyproject.toml:2:23: invalid TOML: Expected newline"),
    ("table-not-table", '[tool]\nstaticpipe = 5\n', "tool.staticpipe = 5: expected a table"),
    ("table-a-list", '[tool]\nstaticpipe = [1]\n', "tool.staticpipe = [1]: expected a table"),
    ("dirs-missing", TABLE + ROOT + 'dirs = ["nope"]\n', "nope does not exist"),
    ("dirs-a-file", TABLE + ROOT + 'dirs = ["assets/a.css"]\n', "a.css is not a directory"),
    ("root-is-project", TABLE + 'static_root = "."\n' + DIRS, "is the project directory"),
    ("root-above-project", TABLE + 'static_root = ".."\n' + DIRS, "contains the project directory"),
    ("root-is-source", TABLE + 'static_root = "assets"\n' + DIRS, "is the source directory"),
    ("root-in-source", TABLE + 'static_root = "assets/build"\n' + DIRS,
     "is inside the source directory"),
    ("root-holds-source", TABLE + 'static_root = "public"\ndirs = ["public/src"]\n',
     "contains the source directory"),
    ("state-is-project", TABLE + ROOT + DIRS + 'state_dir = "."\n', "is the project directory"),
    ("state-empty", TABLE + ROOT + DIRS + 'state_dir = ""\n', 'state_dir = "": expected a path'),
    ("state-is-source", TABLE + ROOT + DIRS + 'state_dir = "assets"\n',
     "overlaps the source directory"),
    ("state-in-root", TABLE + ROOT + DIRS + 'state_dir = "build/static/.state"\n',
     "overlaps static_root"),
    ("state-not-ours", TABLE + ROOT + DIRS + 'state_dir = "docs"\n',
     "holds files staticpipe did not write"),
]  # fmt: skip


def _project(tmp_path: Path, text: str) -> Project:
    project = Project(tmp_path / "site", text)
    project.write("a.css", ".a { color: red; }\n")
    (project.path / "public" / "src").mkdir(parents=True)
    (project.path / "docs").mkdir()
    (project.path / "docs" / "notes.txt").write_text("mine")
    return project


def _files(base: Path) -> dict[str, bytes]:
    return {
        path.relative_to(base).as_posix(): path.read_bytes()
        for path in sorted(base.rglob("*"))
        if path.is_file()
    }


def _assert_one_line_error(result, expected: str) -> None:
    assert result.returncode == 1, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("staticpipe: error: "), result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert "TaskFailed" not in result.stdout


@pytest.mark.parametrize("text, expected", [case[1:] for case in CASES], ids=[c[0] for c in CASES])
def test_bad_config_is_one_line_naming_it_and_changes_nothing(tmp_path, text, expected):
    project = _project(tmp_path, text)
    (project.path / "dodo.py").unlink()  # doit's own files: compare the rest
    before = _files(tmp_path)
    (project.path / "dodo.py").write_text("from staticpipe.tasks import *  # noqa: F403\n")
    result = subprocess.run(
        [sys.executable, "-m", "staticpipe", "collect", "--clear"],
        cwd=project.path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    _assert_one_line_error(result, expected)
    if not expected.endswith("invalid TOML") and "TOML" not in expected:
        _assert_one_line_error(project.doit("collect", "--clear", check=False), expected)
        _assert_one_line_error(project.doit("clean", "collect", check=False), expected)
    after = _files(tmp_path)
    after.pop("site/dodo.py")
    after.pop("site/.staticpipe-doit.sqlite3", None)  # doit opens its database first
    assert after == before


def test_bad_config_for_watch_and_serve_is_one_line(tmp_path):
    project = _project(tmp_path, TABLE + "static_root = 5\n" + DIRS)
    for task in (["watch"], ["serve", "--port", "0"]):
        result = project.doit(*task, check=False)
        _assert_one_line_error(result, "static_root = 5: expected a path")


@pytest.mark.parametrize("port", ["99999", "-5"])
def test_serve_with_an_impossible_port_is_one_line(tmp_path, port):
    project = _project(tmp_path, TABLE + ROOT + DIRS)
    result = project.doit("serve", "--port", port, check=False)
    _assert_one_line_error(result, f"--port {port}: expected a port number")


def test_verbosity_out_of_range_is_one_line(tmp_path):
    project = _project(tmp_path, TABLE + ROOT + DIRS)
    _assert_one_line_error(project.doit("collect", "-v", "7", check=False), "--verbosity 7")


def test_a_build_that_finds_nothing_after_a_good_one_asks_for_clear(tmp_path):
    project = _project(tmp_path, TABLE + ROOT + DIRS)
    project.doit("collect")
    before = _files(project.root)
    (project.path / "asets").mkdir()  # a typo in dirs, of a directory that exists
    project.write_config(TABLE + ROOT + 'dirs = ["asets"]\n')
    for run in (["doit", "collect"], ["staticpipe", "collect"]):
        result = subprocess.run([sys.executable, "-m", *run], cwd=project.path,
                                capture_output=True, text=True, timeout=120)  # fmt: skip
        _assert_one_line_error(
            result, "would remove every file of the previous one (1, e.g. 'a.css')"
        )
        assert "--clear" in result.stderr
        assert _files(project.root) == before  # the site is untouched
    assert project.doit("collect", "--clear", "--dry-run").returncode == 0
    project.doit("collect", "--clear")  # meant: the build is emptied
    assert project.manifest() == {}
    assert not (project.root / "a.css").exists()


def test_a_build_that_renames_every_file_is_a_build_like_any(tmp_path):
    project = _project(tmp_path, TABLE + ROOT + DIRS)
    project.doit("collect")
    first = project.manifest()["a.css"]
    renamed = TABLE + ROOT + 'dirs = [{ prefix = "app", path = "assets" }]\n'
    project.write_config(renamed)
    project.doit("collect")
    assert sorted(project.manifest()) == ["app/a.css"]
    # the old names stay, as Django keeps them, until pruned
    assert (project.root / "a.css").exists() and (project.root / first).exists()
    project.write_config(renamed + PRUNE_ALL)
    project.doit("prune")
    hashed = project.manifest()["app/a.css"]
    assert sorted(_files(project.root)) == sorted(["app/a.css", hashed, "staticfiles.json"])
