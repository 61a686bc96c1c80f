"""``{% load staticpipe %}``: subresource integrity in Django templates.

- ``{% static_integrity "css/base.css" %}``: the SRI value (``sha384-...``) of
  the file ``{% static "css/base.css" %}`` points at;
- ``{% static_css "css/base.css" %}``: ``<link rel="stylesheet" href="..."
  integrity="sha384-..." crossorigin="anonymous">``;
- ``{% static_js "js/app.js" defer=True type="module" %}``: ``<script src="..."
  integrity="..." crossorigin="anonymous" defer type="module"></script>``.

Extra keyword arguments are attributes (``data_x`` is ``data-x``, True a bare
attribute, None leaves one out: ``crossorigin=None``). Needs ``"staticpipe.django"``
in INSTALLED_APPS (or this module in the template engine's ``libraries``).

The URL is Django's own (``staticfiles_storage.url``: ``STATIC_URL``,
``manifest_strict``, any ManifestStaticFilesStorage subclass, as ``{% static %}``),
the key its ``stored_name``, and the value comes from ``staticfiles.integrity.json``
in STATIC_ROOT (``integrity = "sha384"`` in ``[tool.staticpipe]``), re-read when
it changes. With DEBUG on, Django's storage gives unhashed URLs, served from the
source directories by ``runserver``: the value is then that source file's own
(computed, and kept until the file changes), so development needs no build.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django import template
from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.utils.safestring import SafeString, mark_safe

from ... import integrity as integrity_file
from ...integrity import DEFAULT_ALGORITHM, Integrity, IntegrityError
from ...runtime import FileCache, script_tag, stylesheet_tag

register = template.Library()

_files: dict[Path, FileCache[Integrity]] = {}  # integrity file -> its values
_sources: dict[tuple[str, str], FileCache[str]] = {}  # (source, algorithm) -> value


@register.simple_tag
def static_integrity(path: str) -> str:
    """The SRI value of the file ``{% static path %}`` points at."""
    return integrity(path)


@register.simple_tag
def static_css(path: str, **attributes: object) -> SafeString:
    """A stylesheet ``<link>`` with its integrity value, escaped."""
    return mark_safe(stylesheet_tag(staticfiles_storage.url(path), integrity(path), **attributes))


@register.simple_tag
def static_js(path: str, **attributes: object) -> SafeString:
    """A ``<script src>`` element with its integrity value, escaped."""
    return mark_safe(script_tag(staticfiles_storage.url(path), integrity(path), **attributes))


def integrity(path: str) -> str:
    """The value for ``path`` as Django serves it (see the module's docstring)."""
    clean = urlsplit(unquote(path)).path.strip()
    if settings.DEBUG:
        return _source_integrity(clean)
    stored = getattr(staticfiles_storage, "stored_name", None)  # None: a plain storage
    key = urlsplit(stored(clean)).path if stored is not None else clean
    file = _integrity_file()
    values = _load(file)
    value = values.values.get(key)
    if value is None:
        raise IntegrityError(
            f"{file}: no value for '{key}' ('{clean}'): the file is from an "
            "earlier build (run collectstatic again)"
        )
    return value


def _integrity_file() -> Path:
    try:
        return Path(staticfiles_storage.path(integrity_file.INTEGRITY_NAME))
    except NotImplementedError:
        raise IntegrityError(
            "the staticfiles storage has no local files: "
            f"{integrity_file.INTEGRITY_NAME} is read from STATIC_ROOT"
        ) from None


def _cache(file: Path) -> FileCache[Integrity]:
    cache = _files.get(file)
    if cache is None:
        cache = _files.setdefault(file, FileCache(file, integrity_file.load))
    return cache


def _load(file: Path) -> Integrity:
    values = _cache(file).get()
    if values is None:
        raise IntegrityError(
            f'no {file.name} in {file.parent}: set integrity = "sha384" in '
            "[tool.staticpipe] and run collectstatic again"
        )
    return values


def _source_integrity(clean: str) -> str:
    """DEBUG: the value of the source file the finders find (what runserver
    serves), in the build's algorithm if there is a build, else the default."""
    source = finders.find(clean)
    if not source:
        raise IntegrityError(f"'{clean}' is not found by the staticfiles finders")
    try:
        built = _cache(_integrity_file()).get()
    except IntegrityError:  # damaged or not local: development does without it
        built = None
    algorithm = built.algorithm if built is not None else DEFAULT_ALGORITHM
    source = os.fspath(source)
    cache = _sources.get((source, algorithm))
    if cache is None:
        cache = FileCache(source, lambda file: integrity_file.sri(file, algorithm))
        cache = _sources.setdefault((source, algorithm), cache)
    value = cache.get()
    if value is None:
        raise IntegrityError(f"{source}: no such file (found for '{clean}')")
    return value
