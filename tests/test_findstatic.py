"""``doit findstatic`` prints what Django's ``findstatic`` prints, at each
verbosity, with options before or after the paths."""

from __future__ import annotations

import io

import pytest
from conftest import _django_dirs, _reset_django_caches, _setup_django
from projects import Project

CONFIG = """\
[tool.staticpipe]
static_root = "build/static"
dirs = ["assets", { prefix = "vendor", path = "third" }, "more"]
"""


@pytest.fixture
def project(tmp_path) -> Project:
    project = Project(tmp_path / "site", CONFIG)
    project.write("css/a.css", "a")
    project.write("css/a.css", "again", base="more")  # a second match
    project.write("lib.js", "v", base="third")
    return project


def django_findstatic(project: Project, paths: list[str], **options) -> tuple[str, str]:
    _setup_django()
    from django.core.management import call_command
    from django.test.utils import override_settings

    dirs = [project.path / "assets", ("vendor", project.path / "third"), project.path / "more"]
    out, err = io.StringIO(), io.StringIO()
    with override_settings(STATICFILES_DIRS=_django_dirs(dirs)):
        _reset_django_caches()
        try:
            call_command("findstatic", *paths, stdout=out, stderr=err, **options)
        finally:
            _reset_django_caches()
    return out.getvalue(), err.getvalue()


PATHS = ["css/a.css", "vendor/lib.js", "nope.css"]


@pytest.mark.parametrize("verbosity", [0, 1, 2])
@pytest.mark.parametrize("first", [False, True])
def test_findstatic_prints_what_django_prints(project, verbosity, first):
    flags = ["-v", str(verbosity)] + (["--first"] if first else [])
    ours = project.doit("findstatic", *flags, *PATHS)
    django_out, django_err = django_findstatic(
        project,
        PATHS,
        verbosity=verbosity,
        all=not first,  # --first is dest="all"
    )
    assert ours.stdout.replace(".  findstatic\n", "", 1) == django_out
    assert ours.stderr == django_err


def test_options_after_the_paths(project):
    before = project.doit("findstatic", "-v", "2", "--first", *PATHS)
    after = project.doit("findstatic", *PATHS, "--first", "--verbosity=2")
    mixed = project.doit("findstatic", "css/a.css", "-v2", "vendor/lib.js", "--first", "nope.css")
    assert before.stdout == after.stdout == mixed.stdout
    assert before.stderr == after.stderr == mixed.stderr
