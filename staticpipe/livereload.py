"""Live reload for ``doit serve --watch``: server-sent events and the script that listens.

A page opts in with one tag pointing at the server (any origin works, the
stream sends ``Access-Control-Allow-Origin: *``)::

    <script src="http://127.0.0.1:8000/__staticpipe__/livereload.js"></script>

The script opens an ``EventSource`` on ``/__staticpipe__/events`` next to it and
reloads the page on ``reload`` (sent after each build that changed something);
``failed`` (a build error) is logged to the console and the page stays. The
stream starts with ``hello`` carrying the server's id: when the connection
comes back to a restarted server the page reloads too. ``window.staticpipeLiveReload``
exposes ``{connected, server}`` (the browser test waits on it).
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from typing import Any

SCRIPT_PATH = "/__staticpipe__/livereload.js"
EVENTS_PATH = "/__staticpipe__/events"
KEEPALIVE = 15.0  # seconds between comments that keep proxies from closing the stream

SCRIPT = b"""\
/* staticpipe live reload: <script src=".../__staticpipe__/livereload.js"></script> */
(function () {
  "use strict";
  if (!window.EventSource || window.staticpipeLiveReload) { return; }
  var me = (document.currentScript && document.currentScript.src) ||
    (location.origin + "/__staticpipe__/livereload.js");
  var state = window.staticpipeLiveReload = { connected: false, server: null };
  var source = new EventSource(new URL("events", me).href);
  source.addEventListener("hello", function (event) {
    var server = JSON.parse(event.data).server;
    if (state.server !== null && state.server !== server) {
      location.reload();  /* the server restarted: whatever it built since is new */
      return;
    }
    state.server = server;
    state.connected = true;
  });
  source.addEventListener("reload", function () {
    source.close();
    location.reload();
  });
  source.addEventListener("failed", function (event) {
    console.error("staticpipe: build failed\\n" + JSON.parse(event.data).error);
  });
  source.onerror = function () { state.connected = false; };
})();
"""


def sse(event: str, data: Any) -> bytes:
    """One server-sent event; ``data`` is sent as one line of JSON."""
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


class Broadcaster:
    """Fans the latest message out to every open event stream.

    Each stream remembers the version it last sent; a slow client that misses
    intermediate messages gets the newest one, which for reloads is all it needs.
    """

    def __init__(self, keepalive: float = KEEPALIVE):
        self.server_id = secrets.token_hex(8)
        self.keepalive = keepalive
        self._cond = threading.Condition()
        self._version = 0
        self._message = b""
        self._closed = False
        self._clients = 0

    @property
    def clients(self) -> int:
        """How many streams are open now."""
        with self._cond:
            return self._clients

    def publish(self, event: str, data: Any) -> None:
        with self._cond:
            self._version += 1
            self._message = sse(event, data)
            self._cond.notify_all()

    def close(self) -> None:
        """End every stream (server shutdown)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def stream(self) -> Iterator[bytes]:
        with self._cond:
            seen = self._version
            self._clients += 1
        try:
            yield b"retry: 1000\n" + sse("hello", {"server": self.server_id})
            while True:
                with self._cond:
                    if not self._closed and self._version == seen:
                        self._cond.wait(self.keepalive)
                    if self._closed:
                        return
                    message = self._message if self._version != seen else b": keepalive\n\n"
                    seen = self._version
                yield message
        finally:
            with self._cond:
                self._clients -= 1


def script_app(environ: dict, start_response) -> list[bytes]:
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/javascript; charset=utf-8"),
            ("Content-Length", str(len(SCRIPT))),
            ("Cache-Control", "no-cache"),
            ("Access-Control-Allow-Origin", "*"),
        ],
    )
    return [] if environ.get("REQUEST_METHOD") == "HEAD" else [SCRIPT]


def events_app(broadcaster: Broadcaster | None):
    """The event stream; 204 (which tells EventSource not to retry) without --watch."""

    def app(environ: dict, start_response) -> Iterator[bytes] | list[bytes]:
        if broadcaster is None:
            start_response("204 No Content", [("Access-Control-Allow-Origin", "*")])
            return []
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/event-stream; charset=utf-8"),
                ("Cache-Control", "no-cache"),
                ("X-Accel-Buffering", "no"),
                ("Access-Control-Allow-Origin", "*"),
            ],
        )
        return broadcaster.stream()

    return app
