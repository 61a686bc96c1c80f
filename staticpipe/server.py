"""``doit serve``: static files over HTTP, from the finders or from static_root.

Two modes, one WSGI application on a threading ``wsgiref`` server:

* **dev** (default): ``static_url + name`` is answered from the finder
  locations, exactly as ``doit collect`` would pick the file (first location
  wins, ignore rules apply), with no collect step. A name that is not in the
  sources but is a hashed name in the last build's manifest is answered from
  static_root, so pages that use ``staticpipe.static_url()`` work too. Nothing
  outside the locations can be reached: ``..``, ``%2e%2e``, empty segments,
  backslashes and symlinks that lead out of a location are all 404.
  Responses say ``Cache-Control: no-cache`` (always revalidate).
* **collected** (``--collected``): static_root as production serves it, by
  WhiteNoise's WSGI app (``autorefresh`` so a new build is picked up): names
  the manifest maps to, i.e. hashed names, get ``Cache-Control: public,
  max-age=31536000, immutable``, everything else 60 seconds; precompressed
  ``.gz``/``.br`` siblings are served to clients that accept them.

Both modes answer with WhiteNoise's responder (``whitenoise.responders.
StaticFile``): content types from its table, ``Last-Modified``, ``ETag``,
``304 Not Modified``, single ``Range`` requests, ``HEAD``, ``405`` for other
methods. Dev mode resolves paths itself (WhiteNoise's own lookup knows neither
the finders' order nor the ignore rules, and follows symlinks out of its root)
and sets a strong ETag from mtime in nanoseconds, size and inode, since
WhiteNoise's is per second and an edit within the same second would be a 304.

``--watch`` rebuilds as ``doit watch`` does and pushes a reload to open pages
(see ``livereload``).
"""

from __future__ import annotations

import os
import queue
import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from . import livereload
from .config import Config
from .errors import StaticpipeError
from .phases.manifest import manifest_path
from .runtime import ManifestCache
from .sources import finders
from .sources.ignore import IgnoreRules
from .watcher import BuildResult, Watcher, ignored, stop_on_signals, wait_for_item

try:
    from whitenoise import WhiteNoise
    from whitenoise.media_types import MediaTypes
    from whitenoise.responders import NotARegularFileError, StaticFile
except ImportError:  # pragma: no cover - whitenoise is a dependency of serving
    WhiteNoise = None  # type: ignore[assignment,misc]

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT_MAX_AGE = 60  # seconds, for collected names without a hash
DEV_CACHE = "no-cache"
# Types WhiteNoise's table leaves as application/octet-stream.
EXTRA_TYPES = {".map": "application/json", ".webmanifest": "application/manifest+json"}

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


def _require_whitenoise() -> None:
    if WhiteNoise is None:
        raise StaticpipeError("doit serve needs WhiteNoise: pip install whitenoise")


def url_path(static_url: str) -> str:
    """The path part of static_url (``https://cdn.example/static/`` -> ``/static/``)."""
    path = urlsplit(static_url).path or "/"
    return path if path.startswith("/") else "/" + path


def request_path(environ: dict) -> str:
    """PATH_INFO as text: wsgiref percent-decodes it into latin-1 code points."""
    raw = environ.get("PATH_INFO", "")
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


def safe_name(name: str) -> bool:
    """A relative POSIX name with no way up or out: no ``..``, ``.``, empty parts."""
    if not name or "\\" in name or "\x00" in name:
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


def _inside(path: str, root: str) -> bool:
    return path.startswith(root.rstrip("/") + "/")


def not_found(environ: dict, start_response) -> list[bytes]:
    body = f"Not found: {request_path(environ)}\n".encode()
    start_response(
        "404 Not Found",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]


class FinderFiles:
    """Dev mode: resolve a name the way the finders would, serve it with WhiteNoise."""

    def __init__(self, config: Config):
        _require_whitenoise()
        self.prefix = url_path(config.static_url)
        self.rules = IgnoreRules(config.ignore_patterns, config.ignore_globs)
        self.locations = [
            (os.path.realpath(location.root), location.prefix)
            for location in finders.locations(config)
        ]
        self.static_root = os.path.realpath(config.static_root)
        self.manifest = ManifestCache(manifest_path(config))
        self.media_types = MediaTypes(extra_types=EXTRA_TYPES)

    def resolve(self, name: str) -> str | None:
        """The file that serves ``name``, or None (missing, ignored, or escaping)."""
        if not safe_name(name):
            return None
        for root, prefix in self.locations:
            relative = name
            if prefix:
                if not name.startswith(prefix + "/"):
                    continue
                relative = name[len(prefix) + 1 :]
            if ignored(self.rules, relative, is_dir=False):
                continue
            candidate = os.path.join(root, relative)
            if not os.path.isfile(candidate):
                continue
            # First location wins, even when its file is not servable.
            return candidate if _inside(os.path.realpath(candidate), root) else None
        return self._hashed(name)

    def _hashed(self, name: str) -> str | None:
        """A hashed name from the last build, served from static_root."""
        try:
            if name not in self.manifest.hashed_names():
                return None
        except StaticpipeError:
            return None
        candidate = os.path.join(self.static_root, name)
        real = os.path.realpath(candidate)
        return candidate if _inside(real, self.static_root) and os.path.isfile(real) else None

    def headers(self, path: str) -> list[tuple[str, str]]:
        media_type = self.media_types.get_type(path)
        if media_type.startswith("text/"):
            media_type += "; charset=utf-8"
        stat = os.stat(path)
        return [
            ("Content-Type", media_type),
            ("Cache-Control", DEV_CACHE),
            ("Access-Control-Allow-Origin", "*"),
            ("ETag", f'"{stat.st_mtime_ns:x}-{stat.st_size:x}-{stat.st_ino:x}"'),
        ]

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        path = request_path(environ)
        found = self.resolve(path[len(self.prefix) :]) if path.startswith(self.prefix) else None
        if found is None:
            return not_found(environ, start_response)
        try:
            static_file = StaticFile(found, self.headers(found))
        except (NotARegularFileError, OSError):  # gone since resolve()
            return not_found(environ, start_response)
        return WhiteNoise.serve(static_file, environ, start_response)


class CollectedFiles:
    """``--collected``: static_root through WhiteNoise, as in production."""

    def __init__(self, config: Config):
        _require_whitenoise()
        self.prefix = url_path(config.static_url)
        self.static_root = config.static_root
        self.manifest = ManifestCache(manifest_path(config))
        self.app = WhiteNoise(
            not_found,
            autorefresh=True,  # see a new build without a restart
            max_age=SHORT_MAX_AGE,
            mimetypes=EXTRA_TYPES,
            add_headers_function=self._cache_headers,
        )
        self.app.add_files(str(config.static_root), prefix=self.prefix)

    def is_hashed(self, url: str) -> bool:
        name = url[len(self.prefix) :] if url.startswith(self.prefix) else url
        try:
            return name in self.manifest.hashed_names()
        except StaticpipeError:
            return False

    def _cache_headers(self, headers, path: str, url: str) -> None:
        if self.is_hashed(url):
            headers["Cache-Control"] = IMMUTABLE

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        return self.app(environ, start_response)


class Application:
    """The server's WSGI app: live-reload endpoints, then static files under static_url."""

    def __init__(
        self,
        config: Config,
        *,
        collected: bool = False,
        broadcaster: livereload.Broadcaster | None = None,
    ):
        self.collected = collected
        self.events = livereload.events_app(broadcaster)
        self.set_config(config)

    def set_config(self, config: Config) -> None:
        """Serve for ``config`` from now on (the watcher calls it on a config change)."""
        self.config = config
        self.files: FinderFiles | CollectedFiles = (
            CollectedFiles(config) if self.collected else FinderFiles(config)
        )

    @property
    def prefix(self) -> str:
        return self.files.prefix

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        path = request_path(environ)
        if path == livereload.SCRIPT_PATH:
            return livereload.script_app(environ, start_response)
        if path == livereload.EVENTS_PATH:
            return self.events(environ, start_response)
        files = self.files  # one request, one configuration
        if path.startswith(files.prefix):
            return files(environ, start_response)
        return not_found(environ, start_response)


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # event streams must not keep the process alive
    block_on_close = False


class _Handler(WSGIRequestHandler):
    quiet = False

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's name
        if not self.quiet:
            super().log_message(format, *args)


class StaticServer:
    """A WSGI app on a threading HTTP server, served from a background thread.

    ``port=0`` picks a free port; ``url`` is the base URL (``http://host:port``).
    """

    def __init__(self, app: WSGIApp, host: str = "127.0.0.1", port: int = 0, quiet: bool = False):
        server_class = _ThreadingWSGIServer
        if ":" in host:
            server_class = type("_V6Server", (_ThreadingWSGIServer,), {})
            server_class.address_family = socket.AF_INET6
        handler = type("_QuietHandler", (_Handler,), {"quiet": quiet})
        self.httpd = server_class((host, port), handler)
        self.httpd.set_app(app)
        self.app = app
        self.host = host
        self.port = self.httpd.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> StaticServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
        self.httpd.server_close()

    def __enter__(self) -> StaticServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reload_pages(broadcaster: livereload.Broadcaster) -> Callable[[BuildResult], None]:
    def on_build(result: BuildResult) -> None:
        if result.error is not None:
            broadcaster.publish("failed", {"error": result.error})
        elif result.changed:
            broadcaster.publish("reload", {"seconds": round(result.seconds, 3)})

    return on_build


def main(
    config_factory: Callable[[], Config],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    collected: bool = False,
    watch: bool = False,
):
    """The ``doit serve`` action: serve until SIGINT/SIGTERM, then return None (exit 0)."""
    from .reporter import StaticpipeFailed

    def fail(error: Exception) -> StaticpipeFailed:
        return StaticpipeFailed(str(error))  # reported once, as one line

    if not 0 <= port <= 65535:
        return fail(StaticpipeError(f"--port {port}: expected a port number, 0 to 65535"))
    try:
        config = config_factory()
        broadcaster = livereload.Broadcaster() if watch else None
        app = Application(config, collected=collected, broadcaster=broadcaster)
        watcher = (
            Watcher(
                config_factory,
                config=config,
                on_build=_reload_pages(broadcaster),
                on_config=app.set_config,
            )
            if broadcaster is not None
            else None
        )
    except (StaticpipeError, OSError) as error:
        return fail(error)
    try:
        server = StaticServer(app, host, port)
    except OSError as error:
        return fail(StaticpipeError(f"cannot listen on {host}:{port}: {error.strerror}"))

    if collected:
        source = f"static_root {config.static_root}"
    else:
        count = len(app.files.locations)  # type: ignore[union-attr]
        source = f"{count} source location{'' if count == 1 else 's'}"
    stopped: queue.SimpleQueue = queue.SimpleQueue()  # SimpleQueue.put is signal-safe
    try:
        with stop_on_signals(watcher.stop if watcher else lambda: stopped.put(True)):
            if watcher is not None:
                watcher.start()  # build before the first request
            server.start()
            print(
                f"staticpipe: serving {source} at {server.url}{app.prefix}"
                + (" with live reload" if watch else "")
                + " (Ctrl-C to stop)",
                flush=True,
            )
            if collected and not os.path.isdir(config.static_root):
                print(
                    f"staticpipe: warning: {config.static_root} does not exist yet; "
                    "run `doit collect` (or serve with --watch)",
                    flush=True,
                )
            if watcher is not None:
                watcher.run()
            else:
                wait_for_item(stopped)
    except KeyboardInterrupt:
        pass
    finally:
        if watcher is not None:
            watcher.close()
        if broadcaster is not None:
            broadcaster.close()
        server.close()
    print("staticpipe: server stopped.", flush=True)
    return None
