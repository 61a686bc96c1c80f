"""Shared test helpers.

Django's own ``collectstatic`` with ``ManifestStaticFilesStorage`` is the oracle:
``run_django`` runs it in-process on a source tree, ``run_staticpipe`` runs
``staticpipe.pipeline.run`` on the same tree into another root, and
``assert_same_output`` compares the two roots (manifest bytes, file set, bytes
of every file). The ``trees`` fixture bundles these for one test's ``tmp_path``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from staticpipe import pipeline
from staticpipe.config import from_mapping
from staticpipe.options import RunOptions, Summary

MANIFEST_STORAGE = "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
# The same storage with enough passes to converge on long reference chains in an
# order Django's 5 passes cannot resolve: the fixed point Django would reach.
PATIENT_STORAGE = "staticpipe_test_storages.PatientManifestStorage"


# -- slow tests run only with --runslow (CI passes it) -------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--runslow", action="store_true", default=False, help="also run @pytest.mark.slow tests"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):  # a quick stand-in gives way to its slow version
        skip = pytest.mark.skip(reason="quick version: --runslow runs the slow one")
        marker = "quick_version"
    else:
        skip = pytest.mark.skip(reason="slow: run with --runslow")
        marker = "slow"
    for item in items:
        if marker in item.keywords:
            item.add_marker(skip)
    if config.getoption("--runslow"):  # the long ones first: side by side (-n), not last
        items.sort(key=lambda item: "slow" not in item.keywords)


# A source directory: a path, or (prefix, path) as in STATICFILES_DIRS.
Dir = str | os.PathLike | tuple[str, str | os.PathLike]


# -- Django, in-process --------------------------------------------------------
def _setup_django() -> None:
    """Configure Django once per test session (only the staticfiles app)."""
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            INSTALLED_APPS=["django.contrib.staticfiles"],
            STATIC_URL="/static/",
            SECRET_KEY="staticpipe-tests",
            USE_TZ=True,
        )
        import django

        django.setup()
    if "staticpipe_test_storages" not in sys.modules:  # importable by PATIENT_STORAGE
        from django.contrib.staticfiles.storage import ManifestStaticFilesStorage

        class PatientManifestStorage(ManifestStaticFilesStorage):
            max_post_process_passes = 50

        module = types.ModuleType("staticpipe_test_storages")
        module.PatientManifestStorage = PatientManifestStorage
        sys.modules[module.__name__] = module


def _reset_django_caches() -> None:
    """Forget every cached finder and storage (override_settings' signals do
    this too; doing it here as well keeps one test's tree out of the next)."""
    from django.contrib.staticfiles import finders
    from django.contrib.staticfiles.storage import staticfiles_storage
    from django.core.files.storage import default_storage, storages
    from django.utils.functional import empty

    finders.get_finder.cache_clear()
    finders.searched_locations.clear()
    storages._backends = None
    storages._storages = {}
    storages.__dict__.pop("backends", None)
    staticfiles_storage._wrapped = empty
    default_storage._wrapped = empty


def _django_dirs(dirs: Iterable[Dir]) -> list:
    return [(entry[0], str(entry[1])) if isinstance(entry, tuple) else str(entry) for entry in dirs]


def run_django(
    static_root: str | os.PathLike,
    dirs: Iterable[Dir] = (),
    packages: Iterable[str] = (),
    ignore: Iterable[str] = (),
    static_url: str = "/static/",
    default_ignore: bool = True,
    storage: str = MANIFEST_STORAGE,
    verbosity: int = 0,
    stdout=None,
    clear: bool = False,
) -> Path:
    """Django's ``collectstatic`` (non-interactive) into ``static_root``;
    ``verbosity``, ``stdout`` (a file its messages go to) and ``clear`` as
    call_command's.

    Raises whatever Django raises (e.g. ``RuntimeError: Max post-process passes
    exceeded``, ``ValueError: The file ... could not be found``).
    """
    _setup_django()
    from django.core.management import call_command
    from django.test.utils import override_settings

    static_root = Path(static_root)
    with override_settings(
        STATIC_ROOT=str(static_root),
        STATIC_URL=static_url,
        STATICFILES_DIRS=_django_dirs(dirs),
        INSTALLED_APPS=["django.contrib.staticfiles", *packages],
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": storage},
        },
    ):
        _reset_django_caches()
        try:
            call_command(
                "collectstatic",
                interactive=False,
                verbosity=verbosity,
                ignore_patterns=list(ignore),
                use_default_ignore_patterns=default_ignore,
                clear=clear,
                **({} if stdout is None else {"stdout": stdout}),
            )
        finally:
            _reset_django_caches()
    return static_root


# -- staticpipe ----------------------------------------------------------------
def run_staticpipe(
    static_root: str | os.PathLike,
    dirs: Iterable[Dir] = (),
    packages: Iterable[str] = (),
    ignore: Iterable[str] = (),
    static_url: str = "/static/",
    default_ignore: bool = True,
    state_dir: str | os.PathLike | None = None,
    options: RunOptions | None = None,
    **settings,
) -> tuple[Summary, list[str]]:
    """``staticpipe.pipeline.run`` into ``static_root``; returns (summary, log lines).

    The state directory defaults to a sibling of ``static_root`` so nothing but
    outputs lands in the root. Extra keyword arguments are ``[tool.staticpipe]``
    keys (``missing="warn"``, ``js_modules=True``, ...).
    """
    static_root = Path(static_root)
    data = {
        "static_root": str(static_root),
        "static_url": static_url,
        "dirs": [
            {"prefix": entry[0], "path": str(entry[1])} if isinstance(entry, tuple) else str(entry)
            for entry in dirs
        ],
        "packages": list(packages),
        "ignore": list(ignore),
        "default_ignore": default_ignore,
        "state_dir": str(state_dir or static_root.with_name(static_root.name + ".state")),
        **settings,
    }
    config = from_mapping(data, static_root.parent)
    lines: list[str] = []
    summary = pipeline.run(config, options or RunOptions(), log=lines.append)
    return summary, lines


# -- comparing outputs -----------------------------------------------------------
def tree_files(root: str | os.PathLike) -> dict[str, bytes]:
    """Every file under ``root`` (POSIX relative path -> bytes)."""
    root = Path(root)
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() or path.is_symlink()
    }


def read_manifest(root: str | os.PathLike) -> dict[str, str]:
    """The ``paths`` of ``root/staticfiles.json``."""
    return json.loads((Path(root) / "staticfiles.json").read_bytes())["paths"]


def assert_same_output(expected_root: str | os.PathLike, actual_root: str | os.PathLike):
    """Manifest bytes identical, same file set, every file byte-identical."""
    expected, actual = tree_files(expected_root), tree_files(actual_root)
    assert "staticfiles.json" in expected, f"no manifest in {expected_root}"
    assert "staticfiles.json" in actual, f"no manifest in {actual_root}"
    want, got = expected["staticfiles.json"], actual["staticfiles.json"]
    if want != got:  # the parsed form first: a readable diff of names and order
        assert list(json.loads(got)["paths"].items()) == list(json.loads(want)["paths"].items()), (
            "manifest paths differ (name or order)"
        )
        assert got == want, "manifest bytes differ"
    assert sorted(actual) == sorted(expected), "different files in the two roots"
    for name in expected:
        assert actual[name] == expected[name], f"{name}: bytes differ"


# -- the fixture -----------------------------------------------------------------
def write_tree(base: Path, files: Mapping[str, str | bytes]) -> Path:
    """Create ``files`` (relative POSIX path -> text or bytes) under ``base``."""
    for name, content in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_bytes(content.encode("utf-8"))
        else:
            path.write_bytes(content)
    base.mkdir(parents=True, exist_ok=True)
    return base


@dataclass
class Trees:
    """Source trees and output roots inside one test's ``tmp_path``."""

    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    packages: list[str] = field(default_factory=list)

    @property
    def django_root(self) -> Path:
        return self.tmp / "django_root"

    @property
    def staticpipe_root(self) -> Path:
        return self.tmp / "staticpipe_root"

    def write(self, files: Mapping[str, str | bytes], where: str = "src") -> Path:
        return write_tree(self.tmp / where, files)

    def package(self, files: Mapping[str, str | bytes]) -> str:
        """A uniquely named importable package whose ``static/`` holds ``files``."""
        suffix = re.sub(r"\W", "_", self.tmp.name)
        name = f"sp_test_pkg_{len(self.packages)}_{suffix}"
        base = self.tmp / "site" / name
        write_tree(base, {"__init__.py": "", **{f"static/{k}": v for k, v in files.items()}})
        self.monkeypatch.syspath_prepend(str(self.tmp / "site"))
        self.packages.append(name)
        return name

    def django(self, dirs: Iterable[Dir] = (), **kwargs) -> Path:
        return run_django(self.django_root, dirs, **kwargs)

    def staticpipe(self, dirs: Iterable[Dir] = (), **kwargs) -> Path:
        run_staticpipe(self.staticpipe_root, dirs, **kwargs)
        return self.staticpipe_root

    def assert_parity(self, dirs: Iterable[Dir] = (), **kwargs) -> dict[str, str]:
        """Run both on the same sources, assert identical output; the manifest."""
        dirs = list(dirs)
        self.django(dirs, **kwargs)
        self.staticpipe(dirs, **kwargs)
        assert_same_output(self.django_root, self.staticpipe_root)
        return read_manifest(self.staticpipe_root)

    def output(self, name: str, root: Path | None = None) -> bytes:
        """The bytes staticpipe wrote for ``name``'s hashed file."""
        root = root or self.staticpipe_root
        return (root / read_manifest(root)[name]).read_bytes()


@pytest.fixture
def trees(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    made = Trees(tmp_path, monkeypatch)
    yield made
    for name in made.packages:
        for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[module]
