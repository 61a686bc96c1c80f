"""``static_url()`` with no arguments: the configuration nearest the caller's file.

An application lives in one directory and is started from another, as a Flask
app run by a service manager is: each test runs a real Python process whose
current directory is a *different* staticpipe project (with another
``static_url``), so a lookup from the current directory gives a wrong URL, not
only an error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from projects import Project

from staticpipe import pipeline
from staticpipe.config import load_config

APP_CONFIG = """\
[tool.staticpipe]
static_root = "build/static"
dirs = ["assets"]
"""
OTHER_CONFIG = APP_CONFIG + 'static_url = "/other/"\n'


def build(project: Project) -> Project:
    pipeline.run(load_config(project.path), log=lambda _message: None)
    return project


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def run(code: str, cwd: Path, *pythonpath: Path) -> dict:
    """``code`` in a new interpreter started in ``cwd``; it prints one JSON value."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, pythonpath))}
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def site(tmp_path: Path) -> Project:
    """The application's project: sources, a build, and the app package ``webapp``."""
    project = Project(tmp_path / "site", APP_CONFIG)
    project.write("css/app.css", "body { color: red; }\n")
    return build(project)


@pytest.fixture
def elsewhere(tmp_path: Path) -> Project:
    """Where the process is started: another project, with the same file names."""
    project = Project(tmp_path / "elsewhere", OTHER_CONFIG)
    project.write("css/app.css", "body { color: blue; }\n")
    return build(project)


def expected(project: Project, name: str = "css/app.css") -> str:
    return "/static/" + project.manifest()[name]


def test_a_module_finds_the_configuration_next_to_its_file(site, elsewhere):
    write(
        site.path / "webapp" / "views.py",
        """\
        from staticpipe import static_url

        def stylesheet():
            return static_url("css/app.css")
        """,
    )
    write(site.path / "webapp" / "__init__.py", "")
    result = run(
        """\
        import json
        from webapp import views
        print(json.dumps([views.stylesheet(), views.stylesheet()]))
        """,
        elsewhere.path,
        site.path,
    )
    assert result == [expected(site)] * 2


def test_static_urls_and_jinja_install_find_the_configuration_of_the_creating_module(
    site, elsewhere
):
    pytest.importorskip("jinja2")
    write(
        site.path / "webapp" / "templates" / "page.html",
        '<link href="{{ static("css/app.css") }}">',
    )
    write(
        site.path / "webapp" / "__init__.py",
        """\
        from pathlib import Path

        import jinja2
        from staticpipe import StaticURLs
        from staticpipe.jinja import install

        loader = jinja2.FileSystemLoader(Path(__file__).parent / "templates")
        env = jinja2.Environment(loader=loader)
        install(env)  # as Flask's install(app.jinja_env)
        urls = StaticURLs()
        """,
    )
    result = run(
        """\
        import json
        import webapp
        page = webapp.env.get_template("page.html").render()
        print(json.dumps([page, webapp.urls("css/app.css")]))
        """,
        elsewhere.path,
        site.path,
    )
    assert result == [f'<link href="{expected(site)}">', expected(site)]


def test_static_url_as_a_jinja_global_finds_the_rendering_module(site, elsewhere):
    """``env.globals["static"] = static_url``: Jinja's frames and the template's
    own are skipped, the module that renders counts."""
    pytest.importorskip("jinja2")
    write(site.path / "webapp" / "templates" / "page.html", '{{ static("css/app.css") }}')
    write(
        site.path / "webapp" / "__init__.py",
        """\
        from pathlib import Path

        import jinja2
        from staticpipe import static_url

        loader = jinja2.FileSystemLoader(Path(__file__).parent / "templates")
        env = jinja2.Environment(loader=loader)
        env.globals["static"] = static_url

        def render():
            from_file = env.get_template("page.html").render()
            return [from_file, env.from_string('{{ static("css/app.css") }}').render()]
        """,
    )
    result = run(
        "import json, webapp; print(json.dumps(webapp.render()))", elsewhere.path, site.path
    )
    assert result == [expected(site)] * 2


def test_for_module_finds_the_configuration_of_the_named_module(site, elsewhere, tmp_path):
    """A helper outside any project builds the lookup for the app it serves."""
    shared = tmp_path / "shared"
    write(
        shared / "urlhelpers.py",
        """\
        from staticpipe import StaticURLs

        def for_app(module_name):
            return StaticURLs.for_module(module_name)

        def implicit():
            return StaticURLs()  # this file's: none near it, so the current directory's
        """,
    )
    write(
        site.path / "webapp" / "__init__.py",
        """\
        import urlhelpers

        urls = urlhelpers.for_app(__name__)
        fallback = urlhelpers.implicit()
        """,
    )
    result = run(
        """\
        import json, webapp
        print(json.dumps([webapp.urls("css/app.css"), webapp.fallback("css/app.css")]))
        """,
        elsewhere.path,
        site.path,
        shared,
    )
    assert result == [expected(site), "/other/" + elsewhere.manifest()["css/app.css"]]


def test_a_module_without_a_configuration_near_it_uses_the_current_directory(elsewhere, tmp_path):
    write(
        tmp_path / "lonely" / "script_helpers.py",
        """\
        from staticpipe import static_url

        def stylesheet():
            return static_url("css/app.css")
        """,
    )
    result = run(
        "import json, script_helpers; print(json.dumps(script_helpers.stylesheet()))",
        elsewhere.path / "assets",  # found from a subdirectory, as before
        tmp_path / "lonely",
    )
    assert result == "/other/" + elsewhere.manifest()["css/app.css"]


def test_code_given_to_python_c_uses_the_current_directory(elsewhere):
    result = run(
        "import json, staticpipe; print(json.dumps(staticpipe.static_url('css/app.css')))",
        elsewhere.path,
    )
    assert result == "/other/" + elsewhere.manifest()["css/app.css"]
