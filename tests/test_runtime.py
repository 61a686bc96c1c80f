"""``staticpipe.static_url`` and the Jinja2 integration, on a real build.

URLs are compared with Django's own ``ManifestStaticFilesStorage.url`` reading
the same ``staticfiles.json``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from projects import Project

import staticpipe
from staticpipe import pipeline
from staticpipe.config import load_config
from staticpipe.errors import StaticpipeError
from staticpipe.runtime import MissingStaticFile, StaticURLs

CONFIG = """\
[tool.staticpipe]
static_root = "build/static"
dirs = ["assets"]
"""


def build(project: Project) -> dict[str, str]:
    pipeline.run(load_config(project.path), log=lambda _message: None)
    return project.manifest()


@pytest.fixture
def project(tmp_path: Path) -> Project:
    project = Project(tmp_path / "site", CONFIG)
    project.write("css/app.css", 'body { background: url("../img/a.png"); }\n')
    project.write("img/a.png", b"png")
    project.write("fonts/f.eot", b"eot")
    project.write("a b.css", "p {}\n")
    build(project)
    return project


def test_static_url_from_the_nearest_pyproject(project, monkeypatch):
    monkeypatch.chdir(project.path / "assets" / "css")  # found from a subdirectory
    manifest = project.manifest()
    assert staticpipe.static_url("css/app.css") == "/static/" + manifest["css/app.css"]
    assert manifest["css/app.css"] != "css/app.css"


def test_strict_lookup_names_the_missing_path(project, monkeypatch):
    monkeypatch.chdir(project.path)
    with pytest.raises(MissingStaticFile, match="'css/nope.css'") as error:
        staticpipe.static_url("css/nope.css")
    assert isinstance(error.value, ValueError)  # as Django's
    assert "staticfiles.json" in str(error.value)


def test_strict_without_a_manifest_names_path_and_manifest(tmp_path):
    project = Project(tmp_path / "unbuilt", CONFIG)
    urls = StaticURLs(project.path)
    with pytest.raises(MissingStaticFile) as error:
        urls("css/app.css")
    message = str(error.value)
    assert "'css/app.css'" in message
    assert str(project.root / "staticfiles.json") in message
    assert "doit collect" in message


def test_non_strict_falls_back_to_the_plain_url(project):
    project.write_config(CONFIG + "manifest_strict = false\n")
    urls = StaticURLs(project.path)
    assert urls("css/nope.css") == "/static/css/nope.css"
    assert urls("css/app.css") == "/static/" + project.manifest()["css/app.css"]
    assert StaticURLs(project.path, strict=True)("css/app.css").startswith("/static/css/app.")
    with pytest.raises(MissingStaticFile):
        StaticURLs(project.path, strict=True)("css/nope.css")


def test_the_manifest_is_cached_and_reloaded_when_it_changes(project):
    urls = StaticURLs(project.path)
    first = urls("css/app.css")
    cache = urls.manifest(project.root / "staticfiles.json")
    assert cache.get() is cache.get()  # not re-read while unchanged

    project.write("img/a.png", b"another png")  # app.css references it: new hash
    second_manifest = build(project)
    second = urls("css/app.css")
    assert second != first
    assert second == "/static/" + second_manifest["css/app.css"]


def test_the_config_file_is_reloaded_when_it_changes(project):
    urls = StaticURLs(project.path / "pyproject.toml")
    hashed = project.manifest()["css/app.css"]
    assert urls("css/app.css") == f"/static/{hashed}"
    project.write_config(CONFIG + 'static_url = "https://cdn.example/s/"\n')
    assert urls("css/app.css") == f"https://cdn.example/s/{hashed}"


def test_explicit_config_or_manifest(project, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no pyproject.toml here or above
    hashed = project.manifest()["css/app.css"]
    assert staticpipe.static_url("css/app.css", config=project.path) == f"/static/{hashed}"
    config = load_config(project.path)
    assert staticpipe.static_url("css/app.css", config=config) == f"/static/{hashed}"
    manifest = project.root / "staticfiles.json"
    assert staticpipe.static_url("css/app.css", manifest=manifest) == f"/static/{hashed}"
    assert StaticURLs(manifest=manifest, base_url="/assets/")("css/app.css") == f"/assets/{hashed}"
    assert StaticURLs(manifest=tmp_path / "none.json", strict=False)("x.css") == "/static/x.css"
    with pytest.raises(StaticpipeError, match="no pyproject.toml with a"):
        staticpipe.static_url("css/app.css")


def test_plain_storage_has_no_manifest(project):
    project.write_config(CONFIG + 'storage = "plain"\n')
    assert StaticURLs(project.path)("css/nope.css") == "/static/css/nope.css"


NAMES = [
    "css/app.css",
    "css/app.css?v=1",
    "css/app.css#top",
    "css/app.css?v=1#top",
    "fonts/f.eot?#iefix",
    "a b.css",
    "img/",
]


def test_urls_match_djangos_manifest_storage(project):
    from conftest import _setup_django

    _setup_django()  # the suite's one Django configuration, whichever test runs first
    from django.contrib.staticfiles.storage import ManifestStaticFilesStorage

    django_storage = ManifestStaticFilesStorage(location=str(project.root), base_url="/static/")
    urls = StaticURLs(project.path)
    for name in NAMES:
        assert urls(name) == django_storage.url(name), name
    with pytest.raises(ValueError, match="css/nope.css"):
        django_storage.url("css/nope.css")


def test_jinja_global_and_filter(project):
    jinja2 = pytest.importorskip("jinja2")
    from staticpipe.jinja import install

    env = jinja2.Environment(autoescape=True)
    urls = install(env, config=project.path)
    hashed = "/static/" + project.manifest()["css/app.css"]
    template = env.from_string(
        '<link href="{{ static("css/app.css") }}"><a href="{{ "css/app.css"|static }}">'
    )
    assert template.render() == f'<link href="{hashed}"><a href="{hashed}">'
    assert urls("css/app.css") == hashed
    with pytest.raises(MissingStaticFile, match="nope.css"):
        env.from_string('{{ static("nope.css") }}').render()

    other = jinja2.Environment()
    install(other, urls, name="asset")
    assert other.from_string('{{ asset("css/app.css") }}').render() == hashed


def test_module_level_lookups_are_cached_per_directory(project, tmp_path, monkeypatch):
    second = Project(tmp_path / "second", CONFIG)
    second.write("css/app.css", "h1 {}\n")
    build(second)
    monkeypatch.chdir(project.path)
    one = staticpipe.static_url("css/app.css")
    monkeypatch.chdir(second.path)
    two = staticpipe.static_url("css/app.css")
    assert one != two
    assert two == "/static/" + second.manifest()["css/app.css"]
