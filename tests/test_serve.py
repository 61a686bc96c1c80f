"""``doit serve``: a real HTTP server on 127.0.0.1 (a free port), real requests.

Most tests run the server in-process (``Application`` + ``StaticServer``) and
speak raw HTTP with ``http.client`` so that paths go out exactly as written
(``..``, ``%2e%2e``); a few run ``doit serve`` as a subprocess. The live-reload
test drives a real headless Chromium and is marked slow.
"""

from __future__ import annotations

import gzip
import http.client
import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from projects import Project
from test_watch import Doit

from staticpipe import pipeline
from staticpipe.config import Config, load_config
from staticpipe.livereload import EVENTS_PATH, SCRIPT_PATH, Broadcaster
from staticpipe.server import IMMUTABLE, Application, StaticServer

CONFIG = """\
[tool.staticpipe]
static_root = "build/static"
dirs = ["assets", { prefix = "vendor", path = "vendor" }, "second"]
"""
CSS = 'body { background: url("../img/logo.svg"); }\n'


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"<{self.status} {self.headers} {self.body[:60]!r}>"


def request(
    base: str, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> Response:
    """One request with ``path`` sent verbatim (no client-side normalisation)."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        body = response.read()
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        connection.close()


@pytest.fixture
def site(tmp_path: Path) -> Project:
    project = Project(tmp_path / "site", CONFIG)
    project.write("css/app.css", CSS)
    project.write("img/logo.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>\n")
    project.write("js/app.js", "console.log('app');\n")
    project.write("fonts/f.woff2", b"wOF2 font")
    project.write("data.json", "{}\n")
    project.write("index.html", "<!doctype html><title>t</title>\n")
    project.write("css/app.css.map", "{}\n")
    project.write("css/app.css", "second location: shadowed\n", base="second")
    project.write("only-second.txt", "from second\n", base="second")
    project.write("lib.js", "var lib;\n", base="vendor")
    for ignored in (".hidden", "notes.txt~", "CVS/entries"):
        project.write(ignored, "ignored\n")
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET\n")
    assets = project.path / "assets"
    (assets / "leak.txt").symlink_to(secret)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "secret.txt").write_text("SECRET\n")
    (assets / "outside").symlink_to(elsewhere, target_is_directory=True)
    (assets / "css/alias.css").symlink_to(assets / "css/app.css")
    return project


@pytest.fixture
def config(site: Project) -> Config:
    return load_config(site.path)


@pytest.fixture
def dev(config: Config) -> Iterator[StaticServer]:
    with StaticServer(Application(config), port=0, quiet=True) as server:
        yield server


def get(server: StaticServer, path: str, **kwargs) -> Response:
    return request(server.url, path, **kwargs)


# -- dev mode: from the finders -------------------------------------------------
@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("css/app.css", "text/css; charset=utf-8"),
        ("js/app.js", "text/javascript; charset=utf-8"),
        ("img/logo.svg", "image/svg+xml"),
        ("fonts/f.woff2", "font/woff2"),
        ("data.json", "application/json"),
        ("index.html", "text/html; charset=utf-8"),
        ("css/app.css.map", "application/json"),
    ],
)
def test_dev_serves_sources_with_content_types(dev, site, name, content_type):
    response = get(dev, f"/static/{name}")
    assert response.status == 200
    assert response.headers["content-type"] == content_type
    assert response.body == (site.path / "assets" / name).read_bytes()
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["content-length"] == str(len(response.body))


def test_dev_first_location_wins_and_prefixes_apply(dev, site):
    assert get(dev, "/static/css/app.css").body == CSS.encode()  # not second/'s copy
    assert get(dev, "/static/only-second.txt").body == b"from second\n"
    assert get(dev, "/static/vendor/lib.js").body == b"var lib;\n"
    assert get(dev, "/static/lib.js").status == 404  # only under its prefix
    assert not (site.path / "build").exists()  # nothing was collected


@pytest.mark.parametrize(
    "path",
    [
        "/static/.hidden",
        "/static/notes.txt~",
        "/static/CVS/entries",
        "/static/nope.css",
        "/static/css",
        "/static/css/",
        "/static/",
        "/elsewhere/css/app.css",
        "/",
    ],
)
def test_dev_404_for_ignored_missing_and_directories(dev, path):
    response = get(dev, path)
    assert response.status == 404
    assert b"ignored" not in response.body


@pytest.mark.parametrize(
    "path",
    [
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/%2E%2E/secret.txt",
        "/static/css/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        "/static/..%2fsecret.txt",
        "/static/..%5csecret.txt",
        "/static/css/..%5c..%5c..%5csecret.txt",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/leak.txt",  # a symlink to a file outside
        "/static/outside/secret.txt",  # through a symlinked directory outside
        "/static/./css/app.css",
        "/static/css/app.css%00",
    ],
)
def test_dev_nothing_escapes_the_sources(dev, tmp_path, path):
    response = get(dev, path)
    assert response.status == 404, response
    assert b"SECRET" not in response.body
    assert b"root:" not in response.body


def test_dev_symlink_inside_a_location_is_served(dev):
    response = get(dev, "/static/css/alias.css")
    assert response.status == 200 and response.body == CSS.encode()


def test_dev_conditional_requests(dev, site):
    path = site.path / "assets/css/app.css"
    first = get(dev, "/static/css/app.css")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert get(dev, "/static/css/app.css", headers={"If-None-Match": etag}).status == 304
    assert get(dev, "/static/css/app.css", headers={"If-Modified-Since": modified}).status == 304

    # Same size, same second: a per-second ETag would still say 304.
    stat = path.stat()
    second = stat.st_mtime_ns // 10**9 * 10**9
    os.utime(path, ns=(stat.st_atime_ns, second + 100_000_000))
    etag = get(dev, "/static/css/app.css").headers["etag"]
    path.write_text(CSS.replace("body", "html"))
    os.utime(path, ns=(stat.st_atime_ns, second + 200_000_000))
    again = get(dev, "/static/css/app.css", headers={"If-None-Match": etag})
    assert again.status == 200
    assert again.body.startswith(b"html")
    assert again.headers["etag"] != etag


def test_dev_range_head_and_methods(dev):
    whole = get(dev, "/static/css/app.css").body
    part = get(dev, "/static/css/app.css", headers={"Range": "bytes=0-3"})
    assert part.status == 206
    assert part.body == whole[:4]
    assert part.headers["content-range"] == f"bytes 0-3/{len(whole)}"
    tail = get(dev, "/static/css/app.css", headers={"Range": "bytes=-3"})
    assert tail.status == 206 and tail.body == whole[-3:]
    assert get(dev, "/static/css/app.css", headers={"Range": "bytes=999-"}).status == 416

    head = get(dev, "/static/css/app.css", method="HEAD")
    assert head.status == 200 and head.body == b""
    assert head.headers["content-length"] == str(len(whole))
    assert get(dev, "/static/css/app.css", method="POST").status == 405


def test_dev_serves_hashed_names_of_the_last_build(dev, site, config):
    pipeline.run(config)
    hashed = site.manifest()["css/app.css"]
    response = get(dev, f"/static/{hashed}")
    assert response.status == 200
    assert response.body == (site.root / hashed).read_bytes()
    assert b"logo." in response.body  # the rewritten, collected copy
    assert get(dev, "/static/staticfiles.json").status == 404  # not a static file
    # A name the manifest maps to itself is not a hashed name.
    (site.root / "orphan.css").write_text("x")
    assert get(dev, "/static/orphan.css").status == 404


def test_livereload_script_and_no_event_stream_without_watch(dev):
    script = get(dev, SCRIPT_PATH)
    assert script.status == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert b"EventSource" in script.body
    assert get(dev, EVENTS_PATH).status == 204  # EventSource gives up: no --watch


# -- collected: static_root like production, through WhiteNoise -------------------
@pytest.fixture
def collected(config: Config, site: Project) -> Iterator[StaticServer]:
    pipeline.run(config)
    with StaticServer(Application(config, collected=True), port=0, quiet=True) as server:
        yield server


def test_collected_cache_headers(collected, site):
    manifest = site.manifest()
    hashed = get(collected, f"/static/{manifest['css/app.css']}")
    assert hashed.status == 200
    assert hashed.headers["cache-control"] == IMMUTABLE
    assert hashed.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert hashed.body == (site.root / manifest["css/app.css"]).read_bytes()
    assert hashed.headers["content-type"] == 'text/css; charset="utf-8"'  # WhiteNoise's
    plain = get(collected, "/static/css/app.css")
    assert plain.status == 200
    assert plain.headers["cache-control"] == "max-age=60, public"
    assert get(collected, "/static/staticfiles.json").headers["cache-control"] == (
        "max-age=60, public"
    )
    etag = hashed.headers["etag"]
    conditional = get(
        collected, f"/static/{manifest['css/app.css']}", headers={"If-None-Match": etag}
    )
    assert conditional.status == 304
    assert get(collected, "/static/nope.css").status == 404
    assert get(collected, "/static/%2e%2e/secret.txt").status == 404
    assert get(collected, "/static/../../secret.txt").status == 404


def test_collected_precompressed_siblings(collected, site, config):
    site.write("js/big.js", "console.log('compressible');\n" * 200)
    pipeline.run(config)
    name = site.manifest()["js/big.js"]
    original = (site.root / name).read_bytes()
    (site.root / f"{name}.gz").write_bytes(gzip.compress(original))
    (site.root / f"{name}.br").write_bytes(b"pretend brotli, smaller still")

    plain = get(collected, f"/static/{name}")
    assert plain.body == original and "content-encoding" not in plain.headers
    assert plain.headers["vary"] == "Accept-Encoding"
    gz = get(collected, f"/static/{name}", headers={"Accept-Encoding": "gzip"})
    assert gz.headers["content-encoding"] == "gzip"
    assert gzip.decompress(gz.body) == original
    assert gz.headers["cache-control"] == IMMUTABLE
    br = get(collected, f"/static/{name}", headers={"Accept-Encoding": "gzip, br"})
    assert br.headers["content-encoding"] == "br"  # the smallest accepted one
    assert br.body == b"pretend brotli, smaller still"


def test_collected_picks_up_a_new_build_without_restart(collected, site, config):
    site.write("js/app.js", "console.log('v2');\n")
    pipeline.run(config)
    name = site.manifest()["js/app.js"]
    response = get(collected, f"/static/{name}")
    assert response.status == 200 and b"v2" in response.body
    assert response.headers["cache-control"] == IMMUTABLE


# -- doit serve, as a user runs it ----------------------------------------------------
def served_url(process: Doit) -> str:
    line = process.wait_for(r"^staticpipe: serving .* at http://")
    match = re.search(r"(http://127\.0\.0\.1:\d+)/static/", line)
    assert match, line
    return match.group(1)


def test_doit_serve_subprocess(site):
    process = Doit(site.path, "serve", "--port", "0")
    try:
        base = served_url(process)
        response = request(base, "/static/css/app.css")
        assert response.status == 200 and response.body == CSS.encode()
        assert request(base, "/static/%2e%2e/secret.txt").status == 404
    finally:
        assert process.stop(signal.SIGINT) == 0, process.output
    assert "server stopped" in process.output


def test_doit_serve_collected_subprocess(site):
    site.doit("collect")
    process = Doit(site.path, "serve", "--collected", "--port", "0")
    try:
        base = served_url(process)
        name = site.manifest()["css/app.css"]
        assert request(base, f"/static/{name}").headers["cache-control"] == IMMUTABLE
    finally:
        assert process.stop(signal.SIGTERM) == 0, process.output


def test_doit_serve_reports_a_port_in_use(site):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = site.doit("serve", "--port", str(port), check=False)
    assert result.returncode != 0
    assert "Address already in use" in result.stderr + result.stdout


# -- --watch: rebuild and push a reload --------------------------------------------------
def read_event(stream: http.client.HTTPResponse, timeout: float = 20.0) -> tuple[str, str]:
    """The next server-sent event (comments skipped): (event, data)."""
    event = data = ""
    deadline = time.monotonic() + timeout
    while True:
        if time.monotonic() > deadline:  # (keepalive comments would wait forever)
            raise AssertionError(f"no event within {timeout} s")
        line = stream.readline().decode()
        if not line:
            raise AssertionError("event stream closed")
        line = line.rstrip("\n")
        if line == "" and event:
            return event, data
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data = line[6:]


def test_watch_pushes_reload_and_failure_events(site):
    process = Doit(site.path, "serve", "--watch", "--port", "0")
    try:
        base = served_url(process)
        host, port = base.removeprefix("http://").rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=20)
        connection.request("GET", EVENTS_PATH)
        stream = connection.getresponse()
        assert stream.status == 200
        assert stream.getheader("Content-Type") == "text/event-stream; charset=utf-8"
        assert read_event(stream)[0] == "hello"

        site.write("js/app.js", "console.log('edited');\n")
        assert read_event(stream)[0] == "reload"
        assert "edited" in (site.root / site.manifest()["js/app.js"]).read_text()

        (site.path / "assets/data.json").unlink()  # a removal alone (its files are kept)
        assert read_event(stream)[0] == "reload"
        assert "data.json" not in site.manifest()

        site.write("css/app.css", 'body { background: url("gone.png"); }\n')
        event, data = read_event(stream)
        assert event == "failed" and "gone.png" in data
        connection.close()
    finally:
        assert process.stop(signal.SIGINT) == 0, process.output


def test_broadcaster_streams_end_on_close():
    broadcaster = Broadcaster(keepalive=0.05)
    stream = broadcaster.stream()
    assert b"event: hello" in next(stream)
    assert broadcaster.clients == 1
    assert next(stream) == b": keepalive\n\n"
    broadcaster.publish("reload", {})
    assert next(stream).startswith(b"event: reload\n")
    broadcaster.close()
    assert list(stream) == []
    assert broadcaster.clients == 0


# -- a real browser ------------------------------------------------------------------------
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.mark.slow
def test_live_reload_in_headless_chromium(site):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not found (Debian: apt-get install chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    page_html = (
        "<!doctype html><html><head>"
        f'<script src="{SCRIPT_PATH}"></script>'
        '<link rel="stylesheet" href="/static/css/page.css">'
        '</head><body><h1 id="title">{title}</h1></body></html>\n'
    )
    site.write("css/page.css", "h1 { color: rgb(255, 0, 0); }\n")
    site.write("page.html", page_html.replace("{title}", "first"))
    process = Doit(site.path, "serve", "--watch", "--port", "0")
    try:
        base = served_url(process)
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.goto(f"{base}/static/page.html")
                page.wait_for_function(
                    "window.staticpipeLiveReload && window.staticpipeLiveReload.connected",
                    timeout=20_000,
                )
                assert page.inner_text("#title") == "first"
                color = "getComputedStyle(document.querySelector('h1')).color"
                assert page.evaluate(color) == "rgb(255, 0, 0)"
                page.evaluate("window.notReloaded = true")

                site.write("page.html", page_html.replace("{title}", "second"))
                page.wait_for_function(
                    "document.querySelector('#title') && "
                    "document.querySelector('#title').textContent === 'second'",
                    timeout=20_000,
                )
                assert page.evaluate("window.notReloaded") is None  # a real reload

                page.wait_for_function(
                    "window.staticpipeLiveReload && window.staticpipeLiveReload.connected",
                    timeout=20_000,
                )
                site.write("css/page.css", "h1 { color: rgb(0, 0, 255); }\n")
                page.wait_for_function(f"{color} === 'rgb(0, 0, 255)'", timeout=20_000)
            finally:
                browser.close()
    finally:
        assert process.stop(signal.SIGINT) == 0, process.output
