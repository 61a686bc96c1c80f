"""Django's settings as the configuration: a real Django project (tests/django_site.py)
built by ``python -m staticpipe`` from its settings alone, byte for byte as Django's
own collectstatic builds it; findstatic as Django's; one-line errors; permissions."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_same_output, read_manifest, tree_files
from django_site import Site
from projects import Project

SETTINGS_TABLE = '[tool.staticpipe]\ndjango_settings = "mysite.settings"\n'


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path / "site")


def one_line_error(run, *needles: str) -> str:
    """The run failed with one ``staticpipe: error:`` line naming ``needles``."""
    assert run.returncode != 0
    assert "Traceback" not in run.stderr, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_build_from_settings_alone_equals_djangos_collectstatic(site, tmp_path):
    site.write({"pyproject.toml": SETTINGS_TABLE})
    run = site.staticpipe("collect")
    assert "static files copied to" in run.stdout
    django_root = site.django_build(tmp_path / "django_root")
    assert_same_output(django_root, site.root)
    names = read_manifest(site.root)
    # STATICFILES_DIRS (plain and prefixed), the admin, an app by its AppConfig
    # path (label "store"), an app by module name; the custom StaticFilesConfig's
    # *.scss ignored
    for name in ("css/site.css", "vendor/lib.js", "admin/css/base.css", "shop/css/shop.css",
                 "blog/css/blog.css"):  # fmt: skip
        assert name in names
    assert not any(name.endswith(".scss") for name in names)
    # staticpipe's state lives in the project directory, not in STATIC_ROOT
    assert (site.path / ".staticpipe").is_dir()
    again = site.staticpipe("collect")
    assert "0 static files copied" in again.stdout or "-- collect" in again.stdout
    # --no-default-ignore drops the StaticFilesConfig's patterns, as collectstatic's
    site.staticpipe("collect", "--no-default-ignore")
    assert "css/theme.scss" in read_manifest(site.root)


def test_settings_module_from_the_environment_and_the_table_wins(site, tmp_path):
    run = site.staticpipe("collect", DJANGO_SETTINGS_MODULE="mysite.settings")
    assert "static files copied to" in run.stdout
    assert_same_output(site.django_build(tmp_path / "django_root"), site.root)
    # a table wins over the environment; its keys override the settings
    site.write(
        {"pyproject.toml": SETTINGS_TABLE + 'static_root = "out/static"\npackages = ["blog"]\n'}
    )
    site.staticpipe("collect", DJANGO_SETTINGS_MODULE="elsewhere.settings")
    names = read_manifest(site.path / "out" / "static")
    assert "blog/css/blog.css" in names and "css/site.css" in names
    assert not any(name.startswith(("admin/", "shop/")) for name in names)  # packages replaced
    # a table without django_settings is a plain staticpipe configuration
    site.write({"pyproject.toml": '[tool.staticpipe]\nstatic_root = "plain"\ndirs = ["assets"]\n'})
    site.staticpipe("collect", DJANGO_SETTINGS_MODULE="mysite.settings")
    assert "admin/css/base.css" not in read_manifest(site.path / "plain")


def findstatic_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith(".  ")]


def test_findstatic_prints_what_djangos_findstatic_prints(site):
    site.write({"pyproject.toml": SETTINGS_TABLE})
    site.write({"blog/static/css/site.css": "/* shadowed by assets/css/site.css */\n"})
    for args in (
        ["css/site.css", "vendor/lib.js", "admin/js/core.js", "store/nothing.css", "-v", "2"],
        ["css/site.css", "blog/css/blog.css"],
        ["css/site.css", "--first", "-v", "0"],
    ):
        ours = site.staticpipe("findstatic", *args)
        django = site.manage("findstatic", *args)
        assert findstatic_lines(ours.stdout) == findstatic_lines(django.stdout), args
        assert ours.stderr.strip() == django.stderr.strip(), args


# -- one line for every bad input -------------------------------------------------
def test_settings_module_that_cannot_be_imported_is_one_line(site):
    site.write({"pyproject.toml": '[tool.staticpipe]\ndjango_settings = "mysite.setings"\n'})
    one_line_error(
        site.staticpipe("collect", check=False),
        'django_settings = "mysite.setings"', "cannot import it", "No module named",
    )  # fmt: skip
    run = site.staticpipe("collect", check=False, DJANGO_SETTINGS_MODULE="nosuch.settings")
    site.write({"pyproject.toml": "[tool.other]\n"})
    run = site.staticpipe("collect", check=False, DJANGO_SETTINGS_MODULE="nosuch.settings")
    one_line_error(run, "DJANGO_SETTINGS_MODULE=nosuch.settings", "cannot import it")
    site.write({"pyproject.toml": "[tool.staticpipe]\ndjango_settings = 5\n"})
    one_line_error(
        site.staticpipe("collect", check=False), "django_settings = 5", "a settings module"
    )


def test_django_not_installed_is_one_line(site):
    site.write({"pyproject.toml": SETTINGS_TABLE})
    script = (
        "import sys; sys.modules['django'] = None\n"  # `import django` fails, as uninstalled
        "from staticpipe.__main__ import main; sys.exit(main(['collect']))\n"
    )
    one_line_error(
        site.run("-c", script, check=False),
        'django_settings = "mysite.settings"', "Django is not installed", "staticpipe[django]",
    )  # fmt: skip


def test_broken_installed_app_is_one_line(site):
    site.write({"pyproject.toml": SETTINGS_TABLE})
    site.set_apps(("shop.apps.ShopConfg",))
    one_line_error(
        site.staticpipe("collect", check=False),
        "django.setup() failed", "ShopConfg",
    )  # fmt: skip


@pytest.mark.parametrize(
    "settings, needles",
    [
        (
            'STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder",'
            ' "mysite.finders.CdnFinder"]',
            ["STATICFILES_FINDERS", '"mysite.finders.CdnFinder" is not supported'],
        ),
        (
            'STORAGES["staticfiles"] = {"BACKEND": "django.core.files.storage.InMemoryStorage"}',
            ["InMemoryStorage", "not a file system storage"],
        ),
        ("STATIC_ROOT = None", ["STATIC_ROOT"]),
    ],
)
def test_unsupported_settings_are_one_line(site, settings, needles):
    site.write({"pyproject.toml": SETTINGS_TABLE})
    path = site.path / "mysite" / "settings.py"
    path.write_text(path.read_text() + settings + "\n")
    one_line_error(site.staticpipe("collect", check=False), *needles)


def test_the_table_stands_in_for_an_unset_static_root(site):
    site.write({"pyproject.toml": SETTINGS_TABLE + 'static_root = "build/static"\n'})
    path = site.path / "mysite" / "settings.py"
    path.write_text(path.read_text() + "STATIC_ROOT = None\n")
    site.staticpipe("collect")
    assert (site.path / "build/static/staticfiles.json").is_file()


# -- permissions: Django's defaults, whatever the umask ---------------------------
def modes(root: Path) -> tuple[set[int], set[int]]:
    files, dirs = set(), set()
    for directory, _subdirs, names in os.walk(root):
        dirs.add(stat.S_IMODE(os.stat(directory).st_mode))
        files.update(stat.S_IMODE(os.lstat(os.path.join(directory, n)).st_mode) for n in names)
    return files, dirs


def collect_with_umask(cwd: Path, umask: int, *args: str) -> None:
    script = (
        f"import os, sys; os.umask({umask:#o})\n"
        "from staticpipe.__main__ import main; sys.exit(main(sys.argv[1:]))\n"
    )
    subprocess.run([sys.executable, "-c", script, *args], cwd=cwd, check=True, capture_output=True)


def test_default_permissions_are_djangos_whatever_the_umask(tmp_path):
    project = Project(tmp_path / "p")
    project.write("css/a.css", "a { background: url(../img/x.png) }")
    project.write("img/x.png", b"png")
    collect_with_umask(project.path, 0o077, "collect")
    assert modes(project.root) == ({0o644}, {0o755})
    project.write_config(
        "[tool.staticpipe]\nstatic_root = 'build/static'\ndirs = ['assets']\n"
        "file_permissions_mode = 0o640\ndirectory_permissions_mode = 0o750\n"
    )
    shutil.rmtree(project.root)  # (--clear, as Django's, keeps the directories)
    collect_with_umask(project.path, 0o022, "collect", "--clear")
    assert modes(project.root) == ({0o640}, {0o750})


def test_permissions_from_django_settings(site):
    site.write({"pyproject.toml": SETTINGS_TABLE})
    collect_with_umask(site.path, 0o077, "collect")
    assert modes(site.root) == ({0o644}, {0o755})
    path = site.path / "mysite" / "settings.py"
    path.write_text(
        path.read_text()
        + "FILE_UPLOAD_PERMISSIONS = 0o640\nFILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750\n"
    )
    shutil.rmtree(site.root)
    collect_with_umask(site.path, 0o022, "collect", "--clear")
    assert modes(site.root) == ({0o640}, {0o750})
    assert tree_files(site.root)  # the build is there


def test_an_appconfig_path_in_packages_is_one_line(site):
    """Copied from INSTALLED_APPS into a plain table (no django_settings)."""
    site.write({"pyproject.toml": "[tool.staticpipe]\nstatic_root = 'out'\n"})
    with (site.path / "pyproject.toml").open("a") as handle:
        handle.write('packages = ["blog", "shop.apps.ShopConfig"]\n')
    one_line_error(
        site.staticpipe("collect", check=False),
        'packages: "shop.apps.ShopConfig": an AppConfig path', '("shop")', "django_settings",
    )  # fmt: skip


def test_a_damaged_manifest_in_static_root_is_rebuilt(site, tmp_path):
    """Django's storage cannot even be made with it (``Couldn't load manifest``);
    reading the settings does not need it, and the build replaces it."""
    site.write({"pyproject.toml": SETTINGS_TABLE})
    site.staticpipe("collect")
    (site.root / "staticfiles.json").write_text("{not json")
    site.staticpipe("collect", "--clear")
    assert_same_output(site.django_build(tmp_path / "django_root"), site.root)


def test_whitenoise_compressed_storage_builds_whitenoises_gz_and_br_files(site, tmp_path):
    site.write({"pyproject.toml": SETTINGS_TABLE})
    path = site.path / "mysite" / "settings.py"
    backend = "whitenoise.storage.CompressedManifestStaticFilesStorage"
    path.write_text(path.read_text() + f'STORAGES["staticfiles"] = {{"BACKEND": "{backend}"}}\n')
    site.staticpipe("collect")
    django_root = site.django_build(tmp_path / "django_root")  # WhiteNoise's own build
    ours, theirs = tree_files(site.root), tree_files(django_root)
    compressed = sorted(name for name in theirs if name.endswith((".gz", ".br")))
    assert any(name.endswith(".css.br") for name in compressed)
    assert {name: ours.get(name) for name in compressed} == {
        name: theirs[name] for name in compressed
    }  # the same files, byte for byte, and no others:
    assert sorted(name for name in ours if name.endswith((".gz", ".br"))) == compressed
