"""``manage.py collectstatic`` on staticpipe's engine, the system check, and the
site itself: a real Django project (tests/django_site.py) driven by subprocesses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import assert_same_output, read_manifest, tree_files
from django_site import NEW_APP, STATICPIPE_STORAGE, Site
from projects import mtimes

ON_STATICPIPE = {"SITE_STATICPIPE_APP": "1", "SITE_STORAGE": STATICPIPE_STORAGE}


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path / "site")


def summary(text: str) -> str:
    lines = [line for line in text.splitlines() if "static file" in line]
    return lines[-1] if lines else ""


def test_manage_collectstatic_runs_the_pipeline_and_a_no_op_rerun_does_no_work(site, tmp_path):
    django_root = site.django_build(tmp_path / "django_root")
    first = site.manage("collectstatic", "--noinput", **ON_STATICPIPE)
    count = len(read_manifest(django_root))
    assert summary(first.stdout) == (
        f"{count} static files copied to '{site.root}', {count} post-processed."
    )
    assert_same_output(django_root, site.root)
    assert (site.path / ".staticpipe").is_dir()  # staticpipe's state: the pipeline ran
    before = mtimes(site.root)
    again = site.manage("collectstatic", "--noinput", **ON_STATICPIPE)
    assert summary(again.stdout) == f"0 static files copied to '{site.root}', {count} unmodified."
    assert mtimes(site.root) == before  # nothing written
    # doit collect on the same project and state agrees: nothing to do
    site.write({"pyproject.toml": '[tool.staticpipe]\ndjango_settings = "mysite.settings"\n'})
    run = site.staticpipe("collect", **ON_STATICPIPE)
    assert "0 static files copied" in run.stdout or "-- collect" in run.stdout
    assert mtimes(site.root) == before


def test_djangos_command_with_staticpipes_storage_is_djangos(site, tmp_path):
    """Without the app (or listed after staticfiles) the storage is Django's own."""
    django_root = site.django_build(tmp_path / "django_root")
    site.manage("collectstatic", "--noinput", SITE_STORAGE=STATICPIPE_STORAGE)
    assert_same_output(django_root, site.root)
    assert not (site.path / ".staticpipe").exists()


@pytest.mark.slow
def test_collectstatic_options(site, tmp_path):
    django_root = site.django_build(tmp_path / "django_root")
    # --dry-run writes nothing
    dry = site.manage("collectstatic", "--noinput", "--dry-run", **ON_STATICPIPE)
    assert "static files copied" in dry.stdout and not site.root.exists()
    # -v 2: a line per file, in Django's words
    verbose = site.manage("collectstatic", "--noinput", "-v", "2", **ON_STATICPIPE)
    assert "Copying '" in verbose.stdout and "Post-processed 'css/site.css' as '" in verbose.stdout
    assert_same_output(django_root, site.root)
    # -v 0: nothing
    assert site.manage("collectstatic", "--noinput", "-v", "0", **ON_STATICPIPE).stdout == ""
    # --ignore: Django's glob patterns, on top of the app's
    site.manage("collectstatic", "--noinput", "-i", "blog", "-i", "*.js", **ON_STATICPIPE)
    names = read_manifest(site.root)
    assert "css/site.css" in names and "vendor/lib.js.map" in names
    assert not any(name.endswith(".js") or name.startswith("blog/") for name in names)
    # --clear: everything written again, ending as Django's --clear
    stray = site.root / "stray.txt"
    stray.write_text("left by hand")
    cleared = site.manage("collectstatic", "--noinput", "--clear", **ON_STATICPIPE)
    assert "Deleting 'stray.txt'" in cleared.stdout and not stray.exists()
    assert_same_output(django_root, site.root)
    # --link: symlinks to the sources, hashed files real
    site.manage("collectstatic", "--noinput", "--clear", "--link", **ON_STATICPIPE)
    assert (site.root / "css" / "site.css").is_symlink()
    assert read_manifest(site.root) == read_manifest(django_root)
    # --no-default-ignore drops the custom StaticFilesConfig's patterns too
    site.manage("collectstatic", "--noinput", "--clear", "--no-default-ignore", **ON_STATICPIPE)
    assert "css/theme.scss" in read_manifest(site.root)
    # a bad input is CommandError's one line
    site.write({"shop/static/shop/css/broken.css": "a { background: url(nowhere.png) }\n"})
    failed = site.manage("collectstatic", "--noinput", check=False, **ON_STATICPIPE)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "CommandError:" in failed.stderr and "shop/css/broken.css" in failed.stderr


def check(site: Site, *args: str) -> str:
    run = site.manage("check", *args, check=False, **ON_STATICPIPE)
    return run.stdout + run.stderr


def test_check_reports_a_stale_build_and_is_silent_after_a_rebuild(site):
    assert "staticpipe." not in check(site)  # no build yet: nothing to say
    assert "staticpipe.E001" in check(site, "--deploy")  # but nothing to deploy
    site.manage("collectstatic", "--noinput", "-v", "0", **ON_STATICPIPE)
    assert "staticpipe." not in check(site) and "staticpipe." not in check(site, "--deploy")
    # a new app in INSTALLED_APPS: its files are not in the build
    site.write(NEW_APP)
    site.set_apps(("news",))
    text = check(site)
    assert "staticpipe.W001" in text and "'news/" in text and "not in staticfiles.json" in text
    site.manage("collectstatic", "--noinput", "-v", "0", **ON_STATICPIPE)
    assert "staticpipe." not in check(site)
    # a source edited after the build
    source = site.path / "assets" / "css" / "site.css"
    source.write_text(source.read_text() + "p { color: red }\n")
    text = check(site)
    assert "staticpipe.W001" in text and "site.css is newer than its collected copy" in text
    site.manage("collectstatic", "--noinput", "-v", "0", **ON_STATICPIPE)
    assert "staticpipe." not in check(site)


def test_check_reports_a_damaged_manifest_instead_of_failing(site):
    site.manage("collectstatic", "--noinput", "-v", "0", **ON_STATICPIPE)
    manifest = site.root / "staticfiles.json"
    manifest.write_text('{"paths": {"css/site.css": "css/site.css"}, "version": "9"}')
    run = site.manage("check", check=False, **ON_STATICPIPE)
    assert "Traceback" not in run.stderr
    assert "staticpipe.W001" in run.stdout + run.stderr
    site.manage("collectstatic", "--noinput", "-v", "0", **ON_STATICPIPE)  # repairs it
    assert "staticpipe." not in check(site)


def test_check_warns_when_the_app_comes_after_staticfiles(site):
    settings = site.path / "mysite" / "settings.py"
    settings.write_text(settings.read_text() + 'INSTALLED_APPS.append("staticpipe.django")\n')
    run = site.manage("check", check=False, SITE_STORAGE=STATICPIPE_STORAGE)
    assert "staticpipe.W003" in run.stdout + run.stderr


@pytest.mark.slow
def test_every_static_url_renders_and_whitenoise_serves_it(site):
    site.manage("collectstatic", "--noinput", "-v", "0", **ON_STATICPIPE)
    pages = site.pages(**ON_STATICPIPE)
    files = tree_files(site.root)
    names = read_manifest(site.root)
    for page in ("/", "/blog/", "/admin/login/"):
        assert pages[page]["status"] == 200, page
        served = pages[page]["files"]
        assert served, f"{page} names no static file"
        for url, (status, body) in served.items():
            assert status == 200, url
            name = url.removeprefix("/static/")
            assert name in names.values(), f"{url} is not a hashed name"
            assert body.encode("latin-1") == files[name], url
    home = json.dumps(pages["/"])
    assert re.search(r"/static/css/site\.[0-9a-f]{12}\.css", home)
    assert re.search(r"/static/vendor/lib\.[0-9a-f]{12}\.js", home)


def test_check_names_settings_staticpipe_refuses(site):
    site.write(
        {
            "mysite/finders.py": (
                "from django.contrib.staticfiles.finders import BaseFinder\n\n\n"
                "class CdnFinder(BaseFinder):\n"
                "    def find(self, path, find_all=False, **kwargs):\n        return []\n\n"
                "    def list(self, ignore_patterns):\n        return []\n"
            )
        }
    )
    settings = site.path / "mysite" / "settings.py"
    settings.write_text(
        settings.read_text()
        + 'STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.AppDirectoriesFinder",'
        ' "mysite.finders.CdnFinder"]\n'
    )
    text = check(site)
    assert "staticpipe.W002" in text and '"mysite.finders.CdnFinder" is not supported' in text
