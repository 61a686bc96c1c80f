"""Real static trees from PyPI wheels: staticpipe against Django's collectstatic.

The trees (Django's admin, Django REST framework, Font Awesome, CKEditor,
Swagger UI/ReDoc, TinyMCE; about 11,400 files) come from pinned wheels, see
``benchmarks/realtrees.py``; they are downloaded once into a gitignored cache
(``$STATICPIPE_REALTREES_CACHE`` or ``benchmarks/.cache``). When the registry
cannot be reached these tests skip, saying why; they never pass on nothing.

Django 5.2's ManifestStaticFilesStorage succeeds on every one of the pinned
trees collected together, so there staticpipe must match it byte for byte:
the manifest and every file. Where Django fails on a real tree (here: the
common ``--ignore '*.map'``, which leaves CSS/JS pointing at sourcemaps that
are not collected), the test says so and asserts staticpipe's documented
behaviour instead (``missing_sourcemap``).

The oracle is ``run_django`` from conftest.py (collectstatic with
ManifestStaticFilesStorage, in process). staticpipe is run the way users run
it: ``doit collect`` in a project directory with a pyproject.toml and a
one-line dodo.py. Output trees are compared file by file, streaming (they hold
~230 MB each).
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from conftest import run_django
from old_outputs import PRUNE_ALL, assert_clean_build_plus_old_versions
from projects import Project

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import realtrees  # noqa: E402

pytestmark = pytest.mark.slow

STATIC_URL = "/static/"
MIN_FILES = 11_000  # the pinned trees hold 11,449 files: never compare nothing


# -- helpers ---------------------------------------------------------------------


def files_under(root: Path) -> dict[str, Path]:
    result = {}
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path = Path(directory, name)
            result[path.relative_to(root).as_posix()] = path
    return result


def differences(expected: Path, actual: Path) -> list[str]:
    """What differs between two output trees (names, then bytes), file by file."""
    want, got = files_under(expected), files_under(actual)
    problems = [f"missing: {name}" for name in sorted(set(want) - set(got))]
    problems += [f"extra: {name}" for name in sorted(set(got) - set(want))]
    for name in sorted(set(want) & set(got)):
        if not filecmp.cmp(want[name], got[name], shallow=False):
            problems.append(f"bytes differ: {name}")
    return problems


def assert_same_output(expected: Path, actual: Path) -> None:
    problems = differences(expected, actual)
    assert not problems, f"{len(problems)} differences, first ones:\n" + "\n".join(problems[:30])


def staticpipe_project(path: Path, dirs: list[Path], **settings) -> Project:
    lines = ["[tool.staticpipe]", 'static_root = "build/static"']
    lines.append(f"static_url = {json.dumps(settings.pop('static_url', STATIC_URL))}")
    lines.append(f"dirs = {json.dumps([str(d) for d in dirs])}")
    for key, value in settings.items():
        lines.append(f"{key} = {json.dumps(value)}")
    return Project(path, "\n".join(lines) + "\n")


def manifest_paths(root: Path) -> dict[str, str]:
    return json.loads((root / "staticfiles.json").read_bytes())["paths"]


def find(dirs: list[Path], suffix: str) -> Path:
    matches = [p for d in dirs for p in d.rglob("*") if p.as_posix().endswith(suffix)]
    assert len(matches) == 1, (suffix, matches)
    return matches[0]


# -- fixtures --------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_dirs() -> list[Path]:
    try:
        dirs = realtrees.static_dirs()
    except realtrees.RegistryUnavailable as exc:
        pytest.skip(f"real trees unavailable (PyPI unreachable?): {exc}")
    assert realtrees.count_files(dirs) >= MIN_FILES
    return dirs


@pytest.fixture(scope="module")
def django_root(real_dirs, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("django") / "static"
    run_django(root, real_dirs)
    return root


# -- the tests -------------------------------------------------------------------


def test_real_trees_identical_to_django(real_dirs, django_root, tmp_path):
    project = staticpipe_project(tmp_path / "project", real_dirs)
    project.doit("collect")

    # The manifest: same bytes (paths, their order, version, hash).
    assert (project.root / "staticfiles.json").read_bytes() == (
        django_root / "staticfiles.json"
    ).read_bytes()
    paths = manifest_paths(project.root)
    assert len(paths) >= MIN_FILES
    # Not vacuous: CSS references really were rewritten (Font Awesome -> webfonts).
    all_css = paths["fontawesomefree/css/all.css"]
    font = paths["fontawesomefree/webfonts/fa-solid-900.woff2"]
    assert font != "fontawesomefree/webfonts/fa-solid-900.woff2"
    assert font.rsplit("/", 1)[1].encode() in (project.root / all_css).read_bytes()
    forms = (project.root / paths["admin/css/forms.css"]).read_bytes()
    assert f'@import url("{paths["admin/css/widgets.css"].split("/")[-1]}")'.encode() in forms

    # Every file, original and hashed: same names, same bytes.
    assert_same_output(django_root, project.root)

    # A no-op re-run changes nothing.
    project.doit("collect")
    assert_same_output(django_root, project.root)


def test_real_trees_incremental_edits_equal_django_clean_build(real_dirs, tmp_path):
    """Edit a copy of the trees; the incremental result equals Django's clean build
    plus the old versions kept."""
    sources = tmp_path / "sources"
    dirs = []
    for index, directory in enumerate(real_dirs):
        copy = sources / f"{index}-{directory.parent.name}" / "static"
        shutil.copytree(directory, copy)
        dirs.append(copy)
    project = staticpipe_project(tmp_path / "project", dirs)
    project.doit("collect")

    # An image that several CSS files reference (all.css, solid.css, their .min.css, ...).
    font = find(dirs, "fontawesomefree/webfonts/fa-solid-900.woff2")
    font.write_bytes(font.read_bytes() + b"\0edited")
    # A CSS file that another imports (admin/css/forms.css @imports widgets.css).
    widgets = find(dirs, "admin/css/widgets.css")
    widgets.write_text(widgets.read_text() + "\n.edited { color: red; }\n")
    # Delete, add, rename.
    find(dirs, "fontawesomefree/svgs/solid/house.svg").unlink()
    added = dirs[0] / "admin" / "css" / "added.css"
    added.write_text('.x { background: url("../img/search.svg") }\n@import "widgets.css";\n')
    old = find(dirs, "fontawesomefree/svgs/regular/star.svg")
    old.rename(old.with_name("star-renamed.svg"))

    before = manifest_paths(project.root)
    project.doit("collect")
    after = manifest_paths(project.root)
    assert after["fontawesomefree/css/all.css"] != before["fontawesomefree/css/all.css"]
    assert after["admin/css/forms.css"] != before["admin/css/forms.css"]
    assert "fontawesomefree/svgs/solid/house.svg" not in after
    assert "fontawesomefree/svgs/regular/star-renamed.svg" in after

    expected = tmp_path / "django" / "static"
    run_django(expected, dirs)
    assert (project.root / "staticfiles.json").read_bytes() == (
        expected / "staticfiles.json"
    ).read_bytes()
    # the old versions kept, as Django keeps them: pruned, Django's clean build exactly
    assert_clean_build_plus_old_versions(expected, project.root, project.state)
    assert (project.root / before["fontawesomefree/css/all.css"]).exists()
    config = (project.path / "pyproject.toml").read_text()
    project.write_config(config + PRUNE_ALL)
    project.doit("prune")
    assert_same_output(expected, project.root)


def _sourcemap_trees(real_dirs: list[Path]) -> list[Path]:
    """The trees whose CSS/JS reference sourcemaps: DRF's Bootstrap, Swagger UI, ReDoc."""
    wanted = ("rest_framework", "drf_spectacular_sidecar")
    dirs = [d for d in real_dirs if d.parent.name in wanted]
    assert len(dirs) == 2, dirs
    return dirs


def test_ignored_sourcemaps_django_fails_staticpipe_warns(real_dirs, tmp_path):
    """``--ignore '*.map'`` on real trees: Django aborts, staticpipe follows its policy.

    Django: ValueError "The file '...bootstrap.min.css.map' could not be found",
    no manifest. staticpipe: with the default ``missing = "error"`` it fails too,
    naming file, line and URL; with ``missing_sourcemap = "warn"`` the build
    succeeds, prints one warning per reference and leaves those URLs as written,
    and every other file is byte-identical to Django's build of the full trees.
    """
    dirs = _sourcemap_trees(real_dirs)

    # Django fails.
    django_failed = tmp_path / "django" / "static"
    with pytest.raises(ValueError, match=r"\.map' could not be found"):
        run_django(django_failed, dirs, ignore=["*.map"])
    assert not (django_failed / "staticfiles.json").exists()

    # staticpipe, default policy: a clear error, no manifest.
    project = staticpipe_project(tmp_path / "strict", dirs, ignore=["*.map"])
    failed = project.doit("collect", check=False)
    assert failed.returncode != 0
    output = failed.stdout + failed.stderr
    assert "bootstrap.min.css.map" in output
    assert not (project.root / "staticfiles.json").exists()

    # staticpipe, missing_sourcemap = "warn": succeeds, one warning per reference.
    project = staticpipe_project(
        tmp_path / "warn", dirs, ignore=["*.map"], missing_sourcemap="warn"
    )
    result = project.doit("collect")
    output = result.stdout + result.stderr
    referencing = {
        "rest_framework/css/bootstrap.min.css": "bootstrap.min.css.map",
        "rest_framework/css/bootstrap-theme.min.css": "bootstrap-theme.min.css.map",
        "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css": "swagger-ui.css.map",
        "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js": "redoc.standalone.js.map",
    }
    for name, url in referencing.items():
        # "file:line: url": one line per reference, naming the referencing file.
        base = name.rsplit("/", 1)[1]
        warned = [
            line
            for line in output.splitlines()
            if "warning" in line and f"{base}:" in line and url in line
        ]
        assert len(warned) == 1, (url, output[-3000:])
    paths = manifest_paths(project.root)
    assert not any(name.endswith(".map") for name in paths)

    # Compare with what Django makes from the full trees (maps included).
    expected = tmp_path / "django-full" / "static"
    run_django(expected, dirs)
    django_paths = manifest_paths(expected)
    for name, url in referencing.items():
        # Django's bytes with the sourcemap comment put back as written (Django
        # also normalises its spacing); every other reference is rewritten as
        # Django does.
        hashed_map = django_paths[f"{name.rsplit('/', 1)[0]}/{url}"].rsplit("/", 1)[1]
        django_bytes = (expected / django_paths[name]).read_bytes()
        (rewritten,) = [line for line in django_bytes.split(b"\n") if hashed_map.encode() in line]
        source = find(dirs, name).read_bytes()
        (original,) = [
            line for line in source.split(b"\n") if b"sourceMappingURL=" + url.encode() in line
        ]
        assert django_bytes.count(rewritten) == 1
        want = django_bytes.replace(rewritten, original)
        assert (project.root / paths[name]).read_bytes() == want, name
        digest = hashlib.md5(want).hexdigest()[:12]
        stem, ext = os.path.splitext(name)
        assert paths[name] == f"{stem}.{digest}{ext}"

    # Everything else: same names and bytes as Django's.
    skipped = {name for name in django_paths if name.endswith(".map")}
    skipped |= {django_paths[name] for name in skipped}
    skipped |= {*referencing, *(django_paths[name] for name in referencing)}
    skipped |= {paths[name] for name in referencing} | {"staticfiles.json"}
    kept = {name: hashed for name, hashed in django_paths.items() if name not in skipped}
    assert len(kept) > 30
    assert {name: paths[name] for name in kept} == kept
    problems = [
        problem
        for problem in differences(expected, project.root)
        if problem.split(": ", 1)[1] not in skipped
    ]
    assert not problems, "\n".join(problems[:30])
