"""The ``static_server`` fixture, loaded through the ``pytest11`` entry point.

Each test writes a small project (pyproject.toml with ``[tool.staticpipe]``,
static files, a test module using the fixture) and runs pytest on it in a
subprocess, so the plugin is found the way users get it: installed.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

pytest_plugins = ["pytester"]

# Plugins the inner runs do not need (hypothesis alone costs a second to import).
FAST = ("-p", "no:hypothesispytest", "-p", "no:benchmark")

PROJECT = """\
[tool.staticpipe]
static_root = "build/static"
static_url = "/assets/"
dirs = ["static", { prefix = "lib", path = "vendor" }]

[tool.pytest.ini_options]
addopts = "-p no:cacheprovider"
"""

TESTS = """\
import os
from urllib.error import HTTPError
from urllib.request import urlopen

import pytest

SERVERS = []


def test_serves_from_the_finders(static_server):
    SERVERS.append(static_server.url)
    assert static_server.url.startswith("http://127.0.0.1:")
    assert static_server.static_url == static_server.url + "/assets/"
    with urlopen(static_server.url_for("css/app.css")) as response:
        assert response.read() == b"body { color: red; }"
        assert response.headers["Content-Type"] == "text/css; charset=utf-8"
    with urlopen(static_server.static_url + "lib/x.js") as response:
        assert response.read() == b"var x;"
    with pytest.raises(HTTPError) as error:
        urlopen(static_server.static_url + ".secret")
    assert error.value.code == 404
    assert not os.path.exists("build")  # no collect step


def test_same_server_for_the_session(static_server):
    assert SERVERS == [static_server.url]
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".toml", pyproject=PROJECT)
    (pytester.path / "static/css").mkdir(parents=True)
    (pytester.path / "static/css/app.css").write_text("body { color: red; }")
    (pytester.path / "static/.secret").write_text("hidden")
    (pytester.path / "vendor").mkdir()
    (pytester.path / "vendor/x.js").write_text("var x;")
    return pytester


def test_entry_point_is_registered():
    names = {entry.value for entry in entry_points(group="pytest11")}
    assert "staticpipe.pytest_plugin" in names


def test_static_server_fixture_in_a_project(project: pytest.Pytester):
    project.makepyfile(test_static=TESTS)
    result = project.runpytest_subprocess("-v", *FAST)
    result.assert_outcomes(passed=2)


def test_staticpipe_config_ini_option_and_fixture_override(project: pytest.Pytester):
    other = project.path / "sub"
    (other / "files").mkdir(parents=True)
    (other / "files/only-here.txt").write_text("here")
    (other / "pyproject.toml").write_text(
        '[tool.staticpipe]\nstatic_root = "out"\ndirs = ["files"]\n'
    )
    (project.path / "pyproject.toml").write_text(
        PROJECT + 'staticpipe_config = "sub/pyproject.toml"\n'
    )
    project.makepyfile(
        test_other="""
        from urllib.request import urlopen

        def test_other_config(static_server):
            assert static_server.static_url.endswith("/static/")
            with urlopen(static_server.url_for("only-here.txt")) as response:
                assert response.read() == b"here"
        """
    )
    project.runpytest_subprocess(*FAST).assert_outcomes(passed=1)

    project.makeconftest(
        """
        import pytest
        from staticpipe.config import from_mapping

        @pytest.fixture(scope="session")
        def staticpipe_config(tmp_path_factory):
            root = tmp_path_factory.mktemp("made")
            (root / "made.txt").write_text("made in a fixture")
            return from_mapping({"static_root": "out", "dirs": ["."]}, root)
        """
    )
    project.makepyfile(
        test_other="""
        from urllib.request import urlopen

        def test_overridden(static_server):
            with urlopen(static_server.url_for("made.txt")) as response:
                assert response.read() == b"made in a fixture"
        """
    )
    project.runpytest_subprocess(*FAST).assert_outcomes(passed=1)


def test_a_missing_configuration_is_a_fixture_error(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        def test_needs_it(static_server):
            pass
        """
    )
    result = pytester.runpytest_subprocess(*FAST)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no pyproject.toml with a [[]tool.staticpipe[]] table*"])
