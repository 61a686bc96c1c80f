"""``static`` as a Jinja2 global and filter: ``{{ static("css/base.css") }}``,
and whole tags with subresource integrity: ``{{ static_css("css/base.css") }}``.

Jinja2 is an optional dependency (``pip install staticpipe[jinja]``); this module
does not import it, it only adds entries to an environment it is given::

    from jinja2 import Environment
    from staticpipe.jinja import install

    env = Environment(...)
    install(env)            # {{ static("css/base.css") }} and {{ "css/base.css"|static }}

Flask: ``install(app.jinja_env)``; Starlette/FastAPI: ``install(templates.env)``.
With no configuration given, it is the one nearest the file of the code calling
``install`` (your app's module), whatever the current directory.

With ``integrity = "sha384"`` in the configuration, the tag helpers render
``<link rel="stylesheet" href="..." integrity="sha384-..." crossorigin="anonymous">``
(``static_css``) and ``<script src="..." integrity="..." crossorigin="anonymous"></script>``
(``static_js``), escaped and marked safe (``markupsafe.Markup``, which comes with
Jinja2), so autoescaping leaves them alone; ``static_integrity`` gives the value.
"""

from __future__ import annotations

import os
from collections.abc import Callable
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
    """Add ``name`` (default ``static``) to ``env.globals`` and ``env.filters``,
    and the globals ``<name>_integrity``, ``<name>_css`` and ``<name>_js``.

    ``urls`` is a :class:`~staticpipe.runtime.StaticURLs`; without one, one is
    made from ``config`` and ``manifest`` (see there: no arguments means the
    nearest ``[tool.staticpipe]`` from the directory of the module calling
    ``install`` up, else from the current directory up). Returns it.

    The tag helpers take more attributes as keyword arguments:
    ``{{ static_js("js/app.js", defer=True, type="module") }}``; see
    ``staticpipe.runtime.stylesheet_tag`` for the spelling rules.
    """
    from markupsafe import Markup  # Jinja2's own dependency: here only with Jinja2

    if urls is None:
        urls = StaticURLs(config, manifest=manifest)
    env.globals[name] = urls.url
    env.filters[name] = urls.url
    env.globals[f"{name}_integrity"] = urls.integrity
    env.globals[f"{name}_css"] = _markup(urls.stylesheet, Markup)
    env.globals[f"{name}_js"] = _markup(urls.script, Markup)
    return urls


def _markup(render: Callable[..., str], markup: Callable[[str], Any]) -> Callable[..., Any]:
    """``render``, its already-escaped HTML marked safe for autoescaping."""

    def tag(name: str, **attributes: object) -> Any:
        return markup(render(name, **attributes))

    tag.__doc__ = render.__doc__
    return tag
