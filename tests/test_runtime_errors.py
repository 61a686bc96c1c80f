"""Run-time lookups fail with one line naming the culprit, as a staticpipe error.

A bad ``[tool.staticpipe]`` is a ``ConfigError`` naming the file; an unreadable
``staticfiles.json`` a ``ManifestError`` naming the manifest; a missing one a
``MissingStaticFile``. Never a ``KeyError``, ``TypeError`` or JSON error from
deep inside.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from projects import Project

import staticpipe
from staticpipe import pipeline
from staticpipe.config import load_config
from staticpipe.errors import ConfigError, StaticpipeError
from staticpipe.runtime import ManifestError, MissingStaticFile, StaticURLs

CONFIG = """\
[tool.staticpipe]
static_root = "build/static"
dirs = ["assets"]
"""


@pytest.fixture
def project(tmp_path: Path) -> Project:
    project = Project(tmp_path / "site", CONFIG)
    project.write("css/app.css", "p {}\n")
    pipeline.run(load_config(project.path), log=lambda _message: None)
    return project


def one_line_error(kind: type[StaticpipeError], lookup, *culprits: str) -> str:
    """The message of the ``kind`` that ``lookup()`` raises: one line, naming ``culprits``."""
    with pytest.raises(kind) as error:
        lookup()
    message = str(error.value)
    assert "\n" not in message, message
    for culprit in culprits:
        assert culprit in message, message
    return message


MANIFESTS: dict[str, bytes] = {
    "truncated JSON": b'{"paths": {"css/app.css": ',
    "not UTF-8": b"\xff\xfe\x00garbage",
    "a JSON list": b"[]",
    "no version": b'{"paths": {}}',
    "a future version": b'{"paths": {}, "version": "9.0", "hash": ""}',
    "paths not a mapping": b'{"paths": ["css/app.css"], "version": "1.1", "hash": ""}',
    "a hashed name not a string": b'{"paths": {"css/app.css": 5}, "version": "1.1"}',
}


@pytest.mark.parametrize("content", MANIFESTS.values(), ids=MANIFESTS.keys())
def test_a_malformed_manifest_is_a_manifest_error_naming_it(project, content):
    manifest = project.root / "staticfiles.json"
    manifest.write_bytes(content)
    urls = StaticURLs(project.path)
    one_line_error(ManifestError, lambda: urls("css/app.css"), str(manifest))
    # the same error again (remembered, not re-read), and a ValueError as Django's
    with pytest.raises(ValueError, match="staticfiles.json"):
        urls("css/app.css")
    with pytest.raises(ManifestError):  # non-strict lookups do not hide a broken build
        StaticURLs(project.path, strict=False)("css/app.css")


def test_a_manifest_that_is_a_directory_is_a_manifest_error(project):
    manifest = project.root / "staticfiles.json"
    manifest.unlink()
    manifest.mkdir()
    message = one_line_error(
        ManifestError, lambda: StaticURLs(project.path)("css/app.css"), str(manifest)
    )
    assert "directory" in message.lower()


def test_a_repaired_manifest_is_read_again(project):
    manifest = project.root / "staticfiles.json"
    good = manifest.read_bytes()
    urls = StaticURLs(project.path)
    manifest.write_bytes(b"{")
    with pytest.raises(ManifestError):
        urls("css/app.css")
    manifest.write_bytes(good)
    assert urls("css/app.css") == "/static/" + json.loads(good)["paths"]["css/app.css"]


def test_a_missing_manifest_names_it(project):
    manifest = project.root / "staticfiles.json"
    manifest.unlink()
    one_line_error(
        MissingStaticFile,
        lambda: staticpipe.static_url("css/app.css", config=project.path),
        str(manifest),
        "'css/app.css'",
    )


CONFIGS: dict[str, tuple[str, str]] = {  # text, the key the message names ("" for none yet)
    "invalid TOML": ("[tool.staticpipe\n", ""),
    "no static_root": ("[tool.staticpipe]\ndirs = []\n", "static_root"),
    "an unknown key": (CONFIG + "statc_url = '/s/'\n", "statc_url"),
    "manifest_strict not a boolean": (CONFIG + "manifest_strict = 'yes'\n", "manifest_strict"),
    "dirs not a list": ('[tool.staticpipe]\nstatic_root = "b"\ndirs = "assets"\n', "dirs"),
    "static_url without a slash": (CONFIG + "static_url = '/s'\n", "static_url"),
    "static_url a number": (CONFIG + "static_url = 5\n", ""),
    "static_root a number": ("[tool.staticpipe]\nstatic_root = 5\n", ""),
    "a bad storage": (CONFIG + "storage = 'cdn'\n", "storage"),
}


@pytest.mark.parametrize("text, key", CONFIGS.values(), ids=CONFIGS.keys())
def test_a_bad_configuration_is_a_config_error_naming_the_file(tmp_path, text, key):
    project = Project(tmp_path / "site", text)
    config_file = str(project.path / "pyproject.toml")
    for lookup in (
        lambda: StaticURLs(project.path),  # at start-up, not at the first lookup
        lambda: staticpipe.static_url("css/app.css", config=project.path),
    ):
        one_line_error(ConfigError, lookup, config_file, key)


def test_a_configuration_that_is_not_utf8_is_a_config_error(tmp_path):
    project = Project(tmp_path / "site")
    (project.path / "pyproject.toml").write_bytes(b'[tool.staticpipe]\nstatic_root = "\xff"\n')
    one_line_error(
        ConfigError,
        lambda: StaticURLs(project.path)("css/app.css"),
        str(project.path / "pyproject.toml"),
    )


def test_a_configuration_broken_after_start_is_a_config_error(project):
    urls = StaticURLs(project.path)
    assert urls("css/app.css").startswith("/static/css/app.")
    project.write_config(CONFIG + "missing = 'sometimes'\n")
    one_line_error(ConfigError, lambda: urls("css/app.css"), str(project.path), "missing")
    os.remove(project.path / "pyproject.toml")
    one_line_error(ConfigError, lambda: urls("css/app.css"), "no such configuration file")
    project.write_config(CONFIG)
    assert urls("css/app.css").startswith("/static/css/app.")


def test_an_explicit_configuration_that_does_not_exist_is_a_config_error(tmp_path):
    missing = tmp_path / "nowhere" / "pyproject.toml"
    one_line_error(ConfigError, lambda: StaticURLs(missing), str(missing))
    one_line_error(
        ConfigError, lambda: staticpipe.static_url("x.css", config=missing), str(missing)
    )
    one_line_error(ConfigError, lambda: StaticURLs(tmp_path), str(tmp_path / "pyproject.toml"))


def test_a_pyproject_without_the_table_is_a_config_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    config_file = str(tmp_path / "pyproject.toml")
    one_line_error(ConfigError, lambda: StaticURLs(tmp_path), config_file, "[tool.staticpipe]")


def test_a_python_file_as_configuration_points_at_for_module(tmp_path):
    module = tmp_path / "app.py"
    module.write_text("")
    one_line_error(ConfigError, lambda: StaticURLs(module), str(module), "for_module")


def test_no_configuration_anywhere_names_the_caller_and_the_current_directory(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    one_line_error(
        ConfigError,
        lambda: staticpipe.static_url("css/app.css"),
        "no pyproject.toml with a [tool.staticpipe] table",
        __file__,
        str(tmp_path),
    )
    one_line_error(ConfigError, lambda: StaticURLs(), __file__, str(tmp_path))


def test_a_broken_pyproject_on_the_way_up_is_a_config_error_naming_it(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[tool\n")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    one_line_error(
        ConfigError, lambda: staticpipe.static_url("x.css"), str(tmp_path / "pyproject.toml")
    )


def test_for_module_of_a_module_not_imported_is_a_config_error():
    one_line_error(ConfigError, lambda: StaticURLs.for_module("no_such_module_xyz"), "no_such")
