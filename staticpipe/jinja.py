"""``static`` as a Jinja2 global and filter: ``{{ static("css/base.css") }}``.

Jinja2 is an optional dependency (``pip install staticpipe[jinja]``); this module
does not import it, it only adds entries to an environment it is given::

    from jinja2 import Environment
    from staticpipe.jinja import install

    env = Environment(...)
    install(env)            # {{ static("css/base.css") }} and {{ "css/base.css"|static }}

Flask: ``install(app.jinja_env)``; Starlette/FastAPI: ``install(templates.env)``.
With no configuration given, it is the one nearest the file of the code calling
``install`` (your app's module), whatever the current directory.
"""

from __future__ import annotations

import os
from typing import Any

from .runtime import ConfigArg, StaticURLs


def install(
    env: Any,
    urls: StaticURLs | None = None,
    *,
    config: ConfigArg = None,
    manifest: str | os.PathLike[str] | None = None,
    name: str = "static",
) -> StaticURLs:
    """Add ``name`` (default ``static``) to ``env.globals`` and ``env.filters``.

    ``urls`` is a :class:`~staticpipe.runtime.StaticURLs`; without one, one is
    made from ``config`` and ``manifest`` (see there: no arguments means the
    nearest ``[tool.staticpipe]`` from the directory of the module calling
    ``install`` up, else from the current directory up). Returns it.
    """
    if urls is None:
        urls = StaticURLs(config, manifest=manifest)
    env.globals[name] = urls.url
    env.filters[name] = urls.url
    return urls
