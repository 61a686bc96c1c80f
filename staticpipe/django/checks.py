"""System checks (Django's check framework), registered by the app ``staticpipe.django``.

- ``staticpipe.W001`` (``manage.py check``, runserver): a build exists in
  STATIC_ROOT but is stale: a file the finders find is missing from it (from
  ``staticfiles.json``, or from STATIC_ROOT with a plain storage), a source is
  newer than its collected copy, or the manifest names a file no longer found.
- ``staticpipe.W002``: the configuration staticpipe reads from the settings is
  refused (the one-line ConfigError).
- ``staticpipe.W003``: the storage is staticpipe's but ``staticpipe.django`` is
  listed after ``django.contrib.staticfiles``: collectstatic is then Django's.
- ``staticpipe.E001`` (``check --deploy``): STATIC_ROOT has no ``staticfiles.json``
  while the storage needs one (``{% static %}`` fails with DEBUG=False).

Tagged ``staticpipe``, not ``staticfiles``: collectstatic runs the staticfiles
checks first, and a stale build is what it is about to rebuild.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.checks import Error, Warning

from ..config import Config
from ..errors import StaticpipeError
from ..phases import manifest
from ..sources import finders

REBUILD = "Run `python manage.py collectstatic --noinput` (or `doit collect`)."


def _config() -> Config | None | Warning:
    from django.conf import settings

    from .project import project_config

    if not getattr(settings, "STATIC_ROOT", None):
        return None  # nothing is built anywhere (development without STATIC_ROOT)
    try:
        return project_config()
    except StaticpipeError as error:
        return Warning(str(error), id="staticpipe.W002")


def check_build(app_configs: Any = None, **kwargs: Any) -> list:
    config = _config()
    if config is None:
        return []
    if isinstance(config, Warning):
        return [config]
    problems = _app_order()
    reason = stale(config)
    if reason is not None:
        problems.append(
            Warning(
                f"the static files build in {config.static_root} is stale: {reason}",
                hint=REBUILD,
                id="staticpipe.W001",
            )
        )
    return problems


def check_deploy(app_configs: Any = None, **kwargs: Any) -> list:
    from django.conf import settings

    config = _config()
    if not isinstance(config, Config):
        if getattr(settings, "STATIC_ROOT", None):
            return []  # W002 says why
        return [Error("STATIC_ROOT is not set: there is no build to deploy", id="staticpipe.E001")]
    if config.storage == "manifest" and not manifest.manifest_path(config).is_file():
        return [
            Error(
                f"STATIC_ROOT {config.static_root} has no staticfiles.json: "
                "{% static %} fails with DEBUG=False",
                hint=REBUILD,
                id="staticpipe.E001",
            )
        ]
    return []


def _app_order() -> list:
    from django.apps import apps

    names = [app_config.name for app_config in apps.get_app_configs()]
    staticfiles = "django.contrib.staticfiles"
    if not _staticpipe_storage() or staticfiles not in names:
        return []
    if names.index("staticpipe.django") < names.index(staticfiles):
        return []
    return [
        Warning(
            '"staticpipe.django" is listed after "django.contrib.staticfiles" in '
            "INSTALLED_APPS: collectstatic is Django's, not staticpipe's pipeline",
            hint='Move "staticpipe.django" before "django.contrib.staticfiles".',
            id="staticpipe.W003",
        )
    ]


def _staticpipe_storage() -> bool:
    """Whether STORAGES["staticfiles"] is one of staticpipe's, by its class: making
    the storage would read the manifest in place, which may be damaged (the build
    repairs it; a check must not fail on it)."""
    from django.core.files.storage import storages
    from django.utils.module_loading import import_string

    from .storage import StaticpipeStorage

    try:
        backend = import_string(storages.backends["staticfiles"]["BACKEND"])
    except Exception:  # Django's own checks and collectstatic report a bad backend
        return False
    return isinstance(backend, type) and issubclass(backend, StaticpipeStorage)


def stale(config: Config) -> str | None:
    """Why the build in static_root is stale, or None (also when there is none)."""
    root = config.static_root
    found = finders.find_all(config)
    if config.storage == "manifest":
        try:
            named = manifest.read(manifest.manifest_path(config))
        except FileNotFoundError:
            return None  # no build (check --deploy reports it)
        except (OSError, ValueError, AttributeError):
            return "its staticfiles.json cannot be read"
        for name in found:
            if name not in named:
                return f"{name!r} is not in staticfiles.json"
        for name in named:
            if name not in found:
                return f"staticfiles.json names {name!r}, which is no longer found"
    elif not root.is_dir() or not any(root.iterdir()):
        return None
    for name, item in found.items():
        try:
            built = os.stat(root / name).st_mtime_ns
        except OSError:
            return f"{name!r} is not in {root}"
        if os.stat(item.source).st_mtime_ns > built:
            return f"{item.source} is newer than its collected copy"
    return None
