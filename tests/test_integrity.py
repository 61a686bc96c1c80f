"""Subresource integrity (issue #13): ``staticpipe.integrity``'s core, the run-time
lookups (``static_integrity``, ``StaticURLs.integrity``), the Jinja2 and Django tag
helpers, and the values in a real browser.

Every site here is built by the real pipeline (``pipeline.run``). The build phase
that writes ``staticfiles.integrity.json`` does not exist yet: ``write_integrity``
writes it with the core's ``build`` + ``write``, as that phase will after a clear
run. When the phase lands, its own tests (``integrity = "sha384"`` in the config,
incremental runs) replace this helper.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import json
import os
import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django_site import Site as DjangoSite
from projects import Project

from staticpipe import integrity, pipeline, static_integrity
from staticpipe.config import load_config
from staticpipe.errors import ConfigError, StaticpipeError
from staticpipe.integrity import IntegrityError
from staticpipe.rewrite.hashing import CHUNK
from staticpipe.runtime import MissingStaticFile, StaticURLs

CONFIG = """\
[tool.staticpipe]
static_root = "build/static"
dirs = ["assets"]
"""

FILES: dict[str, str | bytes] = {
    "css/base.css": 'body { background: url("../img/a.png"); }\n',
    "css/a&b.css": "p { color: blue }\n",
    "js/app.js": "window.appRan = true;\n",
    "img/a.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
}


def independent_sri(data: bytes, algorithm: str) -> str:
    """The value as the SRI spec defines it, without staticpipe's code."""
    return f"{algorithm}-{base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


def build(project: Project) -> dict[str, str]:
    pipeline.run(load_config(project.path), log=lambda _message: None)
    return project.manifest()


def write_integrity(root: Path, algorithm: str = "sha384") -> dict[str, str]:
    """What the build phase will write after a clear run (it does not exist yet;
    its tests replace this): every hashed file's value, from the manifest."""
    paths = json.loads((root / "staticfiles.json").read_bytes())["paths"]
    values = integrity.build(root, paths, algorithm)
    integrity.write(integrity.integrity_path(root), values, algorithm)
    return values


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and message, message
    return message


@pytest.fixture
def project(tmp_path: Path) -> Project:
    project = Project(tmp_path / "site", CONFIG)
    for name, content in FILES.items():
        project.write(name, content)
    build(project)
    write_integrity(project.root)
    return project


# -- the core ------------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", integrity.ALGORITHMS)
def test_values_are_the_sri_of_each_hashed_files_final_bytes(project, algorithm):
    manifest = project.manifest()
    values = write_integrity(project.root, algorithm)
    assert set(values) == set(manifest.values())  # keys: hashed names, each one
    for hashed in manifest.values():
        data = (project.root / hashed).read_bytes()
        assert values[hashed] == independent_sri(data, algorithm)
    # the rewritten stylesheet's value is that of its rewritten bytes, not the source's
    base = manifest["css/base.css"]
    assert manifest["img/a.png"].encode() in (project.root / base).read_bytes()
    assert values[base] != independent_sri(FILES["css/base.css"].encode(), algorithm)
    document = json.loads(integrity.integrity_path(project.root).read_bytes())
    assert document == {"version": 1, "algorithm": algorithm, "integrity": values}
    assert list(document["integrity"]) == sorted(values)
    assert integrity.read(integrity.integrity_path(project.root)) == values


def test_sri_of_bytes_and_of_a_file_read_in_chunks(tmp_path):
    # the SRI spec's / MDN's example: alert('Hello, world.'); in sha384
    assert integrity.sri(b"alert('Hello, world.');", "sha384") == (
        "sha384-H8BRh8j48O9oYatfu5AZzq6A9RINhZO5H16dQZngK7T62em8MUt1FLm52t+eX6xO"
    )
    big = tmp_path / "big.bin"
    data = os.urandom(CHUNK * 2 + 123)  # more than one chunk, not a multiple of it
    big.write_bytes(data)
    for algorithm in integrity.ALGORITHMS:
        assert integrity.sri(big, algorithm) == independent_sri(data, algorithm)
        assert integrity.sri(str(big), algorithm) == independent_sri(data, algorithm)
    with pytest.raises(ValueError, match="md5"):
        integrity.sri(b"x", "md5")


def test_updated_render_and_write():
    old = {"a.1.css": "sha384-A", "b.2.js": "sha384-B", "c.3.png": "sha384-C"}
    new = integrity.updated(old, {"a.9.css": "sha384-N", "c.3.png": "sha384-D"}, ["a.1.css"])
    assert new == {"a.9.css": "sha384-N", "b.2.js": "sha384-B", "c.3.png": "sha384-D"}
    assert list(new) == sorted(new)
    assert old["a.1.css"] == "sha384-A"  # the old mapping is left alone
    # a name both removed and changed is in the new build
    assert integrity.updated({}, {"x": "sha384-X"}, ["x"]) == {"x": "sha384-X"}
    # the rendering does not depend on the mapping's order, and is one entry a line
    text = integrity.render(dict(reversed(list(new.items()))), "sha384")
    assert text == integrity.render(new, "sha384")
    assert text.decode().splitlines()[1:4] == [
        '"a.9.css": "sha384-N",',
        '"b.2.js": "sha384-B",',
        '"c.3.png": "sha384-D"',
    ]
    assert json.loads(integrity.render({}, "sha256")) == {
        "version": 1,
        "algorithm": "sha256",
        "integrity": {},
    }


def test_write_is_atomic_and_skips_identical_bytes(tmp_path):
    path = tmp_path / "root" / integrity.INTEGRITY_NAME
    values = {"a.1.css": "sha384-A"}
    assert integrity.write(path, values, "sha384") is True
    inode = path.stat().st_ino
    assert integrity.write(path, values, "sha384") is False  # same bytes: not written
    assert path.stat().st_ino == inode
    assert integrity.write(path, {"a.2.css": "sha384-B"}, "sha384") is True
    assert path.stat().st_ino != inode  # replaced by a rename, not rewritten in place
    assert sorted(p.name for p in path.parent.iterdir()) == [integrity.INTEGRITY_NAME]
    assert integrity.read(path) == {"a.2.css": "sha384-B"}


def test_build_names_a_missing_hashed_file(project):
    paths = {**project.manifest(), "gone.css": "gone.0123456789ab.css"}
    with pytest.raises(IntegrityError) as error:
        integrity.build(project.root, paths, "sha384")
    assert "gone.0123456789ab.css" in one_line(error)


DAMAGED = {
    b"{not json": "invalid JSON",
    b"\xff\xfe": "invalid JSON",
    b"[]": "not an integrity file",
    b'{"version": 2, "algorithm": "sha384", "integrity": {}}': "version 2",
    b'{"version": 1, "algorithm": "md5", "integrity": {}}': "unknown algorithm 'md5'",
    b'{"version": 1, "algorithm": "sha384", "integrity": []}': '"integrity" must map',
    b'{"version": 1, "algorithm": "sha384", "integrity": {"a.css": "sha256-x"}}': "'a.css'",
    b'{"version": 1, "algorithm": "sha384", "integrity": {"a.css": 5}}': "'a.css'",
}


@pytest.mark.parametrize("data", DAMAGED)
def test_a_damaged_file_is_one_line_naming_it(tmp_path, data):
    path = tmp_path / integrity.INTEGRITY_NAME
    path.write_bytes(data)
    with pytest.raises(IntegrityError) as error:
        integrity.read(path)
    message = one_line(error)
    assert str(path) in message and DAMAGED[data] in message
    assert isinstance(error.value, StaticpipeError)


def test_the_setting():
    assert integrity.algorithm_setting(None) is None
    for algorithm in integrity.ALGORITHMS:
        assert integrity.algorithm_setting(algorithm, "x.toml") == algorithm
    for value, shown in [("md5", '"md5"'), ("SHA384", '"SHA384"'), (True, "true"), (5, "5")]:
        with pytest.raises(ConfigError) as error:
            integrity.algorithm_setting(value, "/p/pyproject.toml")
        assert one_line(error) == (
            f'/p/pyproject.toml: integrity = {shown}: expected one of "sha256", "sha384", "sha512"'
        )


# -- run time --------------------------------------------------------------------------
def test_static_integrity_gives_the_value_of_the_file_static_url_names(project):
    values = integrity.read(integrity.integrity_path(project.root))
    manifest = project.manifest()
    config = project.path / "pyproject.toml"
    for name, hashed in manifest.items():
        assert static_integrity(name, config=config) == values[hashed]
    hashed = manifest["css/base.css"]
    data = (project.root / hashed).read_bytes()
    assert static_integrity("css/base.css", config=project.path) == independent_sri(data, "sha384")
    manifest_file = project.root / "staticfiles.json"
    assert static_integrity("css/base.css", manifest=manifest_file) == values[hashed]
    urls = StaticURLs(project.path)
    assert urls.integrity("css/base.css?v=2#top") == values[hashed]  # as static_url parses it
    assert urls.integrity("css/a%26b.css") == values[manifest["css/a&b.css"]]


def test_an_unknown_name_is_static_urls_error(project):
    urls = StaticURLs(project.path)
    with pytest.raises(MissingStaticFile) as url_error:
        urls.url("css/nope.css")
    with pytest.raises(MissingStaticFile) as error:
        urls.integrity("css/nope.css")
    assert one_line(error) == one_line(url_error)
    # not strict: the URL falls back, an integrity value cannot
    project.write_config(CONFIG + "manifest_strict = false\n")
    loose = StaticURLs(project.path)
    assert loose.url("css/nope.css") == "/static/css/nope.css"
    with pytest.raises(MissingStaticFile):
        loose.integrity("css/nope.css")
    # ... and a tag goes without it, as its URL is plain
    assert loose.stylesheet("css/nope.css") == '<link rel="stylesheet" href="/static/css/nope.css">'


def test_no_integrity_file_says_which_setting_to_add(project):
    integrity.integrity_path(project.root).unlink()
    with pytest.raises(IntegrityError) as error:
        StaticURLs(project.path).integrity("css/base.css")
    message = one_line(error)
    assert 'integrity = "sha384"' in message and "doit collect" in message
    assert str(project.root) in message and "'css/base.css'" in message


def test_a_damaged_file_at_run_time_is_one_line(project):
    path = integrity.integrity_path(project.root)
    path.write_text("{")
    with pytest.raises(IntegrityError) as error:
        StaticURLs(project.path).integrity("css/base.css")
    assert str(path) in one_line(error)


def test_the_file_is_cached_and_reloaded_with_a_new_build(project):
    urls = StaticURLs(project.path)
    first = urls.integrity("css/base.css")
    path = integrity.integrity_path(project.root)
    assert urls.integrity_values(path) is urls.integrity_values(path)  # not re-read

    project.write("img/a.png", b"another png")  # base.css references it: new hash
    manifest = build(project)
    # a manifest newer than the integrity file: its new hashed name is not there
    with pytest.raises(IntegrityError) as error:
        urls.integrity("css/base.css")
    assert manifest["css/base.css"] in one_line(error) and "earlier build" in one_line(error)

    write_integrity(project.root)
    second = urls.integrity("css/base.css")
    assert second != first
    data = (project.root / manifest["css/base.css"]).read_bytes()
    assert second == independent_sri(data, "sha384")


# -- tags ------------------------------------------------------------------------------
class Tags(HTMLParser):
    """The start tags of an HTML text, attribute values unescaped as a browser does."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def jinja_env(project: Project, **kwargs):
    jinja2 = pytest.importorskip("jinja2")
    from staticpipe.jinja import install

    env = jinja2.Environment(autoescape=True)
    install(env, config=project.path, **kwargs)
    return env


def test_jinja_tags(project):
    env = jinja_env(project)
    manifest = project.manifest()
    values = integrity.read(integrity.integrity_path(project.root))
    css, js = manifest["css/base.css"], manifest["js/app.js"]
    html = env.from_string(
        '{{ static_css("css/base.css") }}\n'
        '{{ static_js("js/app.js", defer=True, type="module") }}\n'
        '{{ static_integrity("css/base.css") }}'
    ).render()
    assert html.splitlines() == [
        f'<link rel="stylesheet" href="/static/{css}" integrity="{values[css]}" '
        'crossorigin="anonymous">',
        f'<script src="/static/{js}" integrity="{values[js]}" crossorigin="anonymous" '
        'defer type="module"></script>',
        values[css],
    ]


def test_jinja_tags_escape_every_value(project):
    env = jinja_env(project, name="asset")
    amp = project.manifest()["css/a&b.css"]
    html = env.from_string(
        """{{ asset_css("css/a&b.css", title='"><script>x</script>', media="print",
                        data_x="a&b", crossorigin="use-credentials", hidden=False) }}"""
    ).render()
    assert "<script>" not in html and "&amp;" in html
    [(tag, attributes)] = Tags(html).tags
    assert tag == "link"
    assert attributes == {
        "rel": "stylesheet",
        "href": f"/static/{amp}",
        "integrity": static_integrity("css/a&b.css", config=project.path),
        "crossorigin": "use-credentials",
        "title": '"><script>x</script>',
        "media": "print",
        "data-x": "a&b",
    }
    with pytest.raises(ValueError, match="HTML attribute"):
        env.from_string('{{ asset_js("js/app.js", **{"on load": "x"}) }}').render()


def test_jinja_tag_errors_are_the_runtimes(project):
    env = jinja_env(project)
    with pytest.raises(MissingStaticFile):
        env.from_string('{{ static_css("css/nope.css") }}').render()
    integrity.integrity_path(project.root).unlink()
    with pytest.raises(IntegrityError, match='integrity = "sha384"'):
        env.from_string('{{ static_js("js/app.js") }}').render()


# -- Django templates, in a real Django project ---------------------------------------
SRI_PAGE = """\
{% load static staticpipe %}{% static 'css/site.css' %}
{% static_integrity 'css/site.css' %}
{% static_css 'css/site.css' %}
{% static_js 'vendor/lib.js' defer=True data_x='a&b' %}
"""

RENDER = """
import json, sys
import django
django.setup()
from django.template.loader import render_to_string
from django.test.utils import override_settings

def attempt(template, debug=False):
    try:
        with override_settings(DEBUG=debug):
            return {"html": render_to_string(template)}
    except Exception as error:
        return {"error": [type(error).__name__, str(error)]}

json.dump({
    "page": attempt("shop/sri.html"),
    "debug": attempt("shop/sri.html", debug=True),
    "missing": attempt("shop/missing.html"),
}, sys.stdout)
"""


def render_django(site: DjangoSite) -> dict:
    out = site.run("-c", RENDER, DJANGO_SETTINGS_MODULE="mysite.settings", SITE_STATICPIPE_APP="1")
    return json.loads(out.stdout)


def test_django_template_tags(tmp_path):
    pytest.importorskip("django")
    site = DjangoSite(tmp_path / "site")
    site.write({
        "shop/templates/shop/sri.html": SRI_PAGE,
        "shop/templates/shop/missing.html": "{% load staticpipe %}{% static_css 'css/nope.css' %}",
    })  # fmt: skip
    site.manage("collectstatic", "--noinput", "-v", "0")  # Django's own storage and command
    values = write_integrity(site.root)
    manifest = json.loads((site.root / "staticfiles.json").read_bytes())["paths"]
    css, js = manifest["css/site.css"], manifest["vendor/lib.js"]

    rendered = render_django(site)
    url, value, link, script = rendered["page"]["html"].splitlines()
    assert url == f"/static/{css}"  # {% static %}: the same URL as the tags'
    assert value == values[css] == independent_sri((site.root / css).read_bytes(), "sha384")
    assert Tags(link).tags == [
        ("link", {"rel": "stylesheet", "href": url, "integrity": value, "crossorigin": "anonymous"})
    ]
    assert script == (
        f'<script src="/static/{js}" integrity="{values[js]}" crossorigin="anonymous" '
        'defer data-x="a&amp;b"></script>'
    )
    # an unknown name: Django's own error, as {% static %} gives it
    kind, message = rendered["missing"]["error"]
    assert kind == "ValueError" and "'css/nope.css'" in message

    # DEBUG: unhashed URLs, served from the sources by runserver: the source's value
    url, value, link, script = rendered["debug"]["html"].splitlines()
    assert url == "/static/css/site.css"
    source = (site.path / "assets/css/site.css").read_bytes()
    assert value == independent_sri(source, "sha384") != values[css]
    assert f'href="{url}" integrity="{value}"' in link

    # no integrity file: one line saying what to set (DEBUG does without one)
    integrity.integrity_path(site.root).unlink()
    rendered = render_django(site)
    kind, message = rendered["page"]["error"]
    assert kind == "IntegrityError" and "\n" not in message
    assert 'set integrity = "sha384"' in message and str(site.root) in message
    assert rendered["debug"]["html"].splitlines()[1] == value


# -- a real browser ------------------------------------------------------------------
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
BROWSER_CONFIG = """\
[tool.staticpipe]
static_root = "www/static"
dirs = ["assets"]
"""
PAGE = """<!doctype html><html><head>{{ static_css("css/page.css") }}
{{ static_js("js/page.js") }}</head><body><h1>integrity</h1></body></html>
"""


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.mark.slow
def test_integrity_in_headless_chromium(tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not found (Debian: apt-get install chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    project = Project(tmp_path / "site", BROWSER_CONFIG)
    project.write("css/page.css", "h1 { color: rgb(255, 0, 0); }\n")
    project.write("js/page.js", "window.pageRan = true;\n")
    pipeline.run(load_config(project.path), log=lambda _message: None)
    root = project.path / "www" / "static"
    values = write_integrity(root)
    www = root.parent
    good = jinja_env(project).from_string(PAGE).render()
    (www / "good.html").write_text(good)
    wrong = integrity.sri(b"other bytes", "sha384")  # well-formed, of other bytes
    bad = good
    for value in values.values():
        bad = bad.replace(value, wrong)
    assert bad.count(wrong) == 2
    (www / "bad.html").write_text(bad)

    server, base = serve(www)
    color = "getComputedStyle(document.querySelector('h1')).color"
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                messages: list[str] = []
                page.on("console", lambda message: messages.append(message.text))
                page.goto(f"{base}/good.html", wait_until="load")
                assert page.evaluate(color) == "rgb(255, 0, 0)"  # the stylesheet applied
                assert page.evaluate("window.pageRan") is True  # the script ran
                assert not [text for text in messages if "integrity" in text]

                page.goto(f"{base}/bad.html", wait_until="load")
                assert page.evaluate(color) == "rgb(0, 0, 0)"  # blocked: the default
                assert page.evaluate("window.pageRan === undefined") is True
                blocked = [text for text in messages if "integrity" in text]
                assert len(blocked) == 2, messages
                assert all("blocked" in text for text in blocked), blocked
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
