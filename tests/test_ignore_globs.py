"""``doit collect --ignore`` takes Django's glob-style patterns and selects the
files Django's ``collectstatic --ignore`` selects, on the same tree; the
``ignore`` key of pyproject.toml stays gitignore-style."""

from __future__ import annotations

import pytest
from conftest import read_manifest, run_django
from projects import Project

FILES = [
    "file.txt", "x.psd", "top.css",
    "sub/file.txt", "sub/keep.css", "sub/deep/file.txt", "sub/deep/other.js",
    "a/b/file.txt", "a/b/c.txt", "a/sub/x.txt",
    "node_modules/lib.js", "deep/y.txt",
]  # fmt: skip
VENDOR = ["v.js", "sub/v.txt", "sub/deep/w.txt"]

CONFIG = """\
[tool.staticpipe]
static_root = "build/static"
dirs = ["assets", { prefix = "vendor", path = "third" }]
"""


@pytest.fixture
def project(tmp_path) -> Project:
    project = Project(tmp_path / "site", CONFIG)
    for name in FILES:
        project.write(name, name)
    for name in VENDOR:
        project.write(name, name, base="third")
    return project


@pytest.mark.parametrize(
    "patterns",
    [
        ["sub/deep"], ["*/file.txt"], ["*.txt"], ["sub"], ["file.txt"], ["deep/*"],
        ["sub/*"], ["a/b/*.txt"], ["node_modules"], ["*.psd", "node_modules"],
        ["./sub/deep/file.txt"], ["sub/deep/"], ["*"], ["vendor/*"], ["SUB"],
    ],
    ids=lambda patterns: " ".join(patterns),
)  # fmt: skip
def test_ignore_option_selects_what_django_selects(project, tmp_path, patterns):
    args = [arg for pattern in patterns for arg in ("-i", pattern)]
    project.doit("collect", *args)
    django = run_django(
        tmp_path / "django",
        [project.path / "assets", ("vendor", project.path / "third")],
        ignore=patterns,
    )
    assert set(project.manifest()) == set(read_manifest(django))


def test_ignore_key_stays_gitignore_style(project):
    project.write_config(CONFIG + 'ignore = ["/sub/deep/", "*.psd"]\n')
    project.doit("collect")
    names = set(project.manifest())
    assert "sub/deep/file.txt" not in names and "x.psd" not in names
    assert "sub/file.txt" in names and "vendor/sub/deep/w.txt" not in names


def test_changing_the_ignore_option_changes_the_listing(project):
    project.doit("collect")
    assert "sub/deep/file.txt" in project.manifest()
    project.doit("collect", "-i", "deep")
    assert not [name for name in project.manifest() if "/deep/" in name]
    project.doit("collect")
    assert "sub/deep/file.txt" in project.manifest()
