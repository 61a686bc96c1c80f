"""pytest plugin (entry point ``pytest11``): a live static file server for the test session.

Like Django's ``StaticLiveServerTestCase``: the project's static files are
served straight from the finder locations (no collect step) by the same
server as ``doit serve``, on 127.0.0.1 and a free port, for the whole session::

    def test_logo(static_server):
        assert urlopen(static_server.static_url + "img/logo.svg").status == 200

``static_server.url`` is the base URL (``http://127.0.0.1:PORT``),
``static_server.static_url`` that plus ``static_url`` from the config, and
``static_server.url_for("css/app.css")`` a file's URL. The configuration is the
``staticpipe_config`` fixture: by default the file named by the ``staticpipe_config``
ini option, else the nearest pyproject.toml with ``[tool.staticpipe]`` from the
rootdir up. Override that fixture to use another one.

This module is imported in every pytest run where staticpipe is installed, so
it imports nothing heavy until a fixture is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .config import Config
    from .server import StaticServer


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "staticpipe_config",
        "pyproject.toml (or its directory) with [tool.staticpipe] for the static_server "
        "fixture, relative to the rootdir; default: the nearest one from the rootdir up",
        default="",
    )


@dataclass(frozen=True)
class LiveStaticServer:
    """The running server, as the ``static_server`` fixture hands it to tests."""

    url: str  # http://127.0.0.1:PORT
    static_url: str  # url + the config's static_url path, ending in "/"
    config: Config
    server: StaticServer

    def url_for(self, name: str) -> str:
        """The full URL of static file ``name`` (as the finders find it)."""
        return self.static_url + name.lstrip("/")

    def __str__(self) -> str:
        return self.url


@pytest.fixture(scope="session")
def staticpipe_config(pytestconfig: pytest.Config) -> Config:
    """The configuration ``static_server`` serves; override it to choose another."""
    from .config import find_config_file, load_config

    configured = pytestconfig.getini("staticpipe_config")
    if configured:
        return load_config(pytestconfig.rootpath / configured)
    return load_config(find_config_file(pytestconfig.rootpath))


@pytest.fixture(scope="session")
def static_server(staticpipe_config: Config) -> Iterator[LiveStaticServer]:
    """A live HTTP server for the project's static files (from the finders) this session."""
    from .server import Application, StaticServer, url_path

    server = StaticServer(Application(staticpipe_config), "127.0.0.1", 0, quiet=True)
    server.start()
    try:
        yield LiveStaticServer(
            url=server.url,
            static_url=server.url + url_path(staticpipe_config.static_url),
            config=staticpipe_config,
            server=server,
        )
    finally:
        server.close()
