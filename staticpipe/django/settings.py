"""Django's settings as staticpipe's configuration, read through Django itself.

``django_settings = "mysite.settings"`` in ``[tool.staticpipe]`` (or
``DJANGO_SETTINGS_MODULE`` when there is no table) sets Django up in this
process (``django.setup()``, the app registry) and reads what collectstatic
reads: the ``staticfiles`` storage (its location, STATIC_ROOT, and its kind),
STATIC_URL as Django normalises it, STATICFILES_DIRS, the installed apps'
``static/`` directories through their AppConfigs, the staticfiles app's
``ignore_patterns``, STATICFILES_FINDERS and the upload permissions. Every
problem is a ConfigError of one line starting with ``head`` (the key and module).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError

FILE_SYSTEM_FINDER = "django.contrib.staticfiles.finders.FileSystemFinder"
APP_FINDER = "django.contrib.staticfiles.finders.AppDirectoriesFinder"
DEFAULT_DIR_MODE = 0o755  # Django's FILE_UPLOAD_DIRECTORY_PERMISSIONS is None: the umask's


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def setup(module: str, base: Path, head: str) -> None:
    """Django set up in this process with the settings ``module`` (importable
    from ``base``, the project directory, as next to manage.py)."""
    try:
        import django
        from django.conf import settings
    except ImportError:
        raise ConfigError(
            f'{head}: Django is not installed (pip install "staticpipe[django]")'
        ) from None
    if settings.configured:
        current = getattr(settings, "SETTINGS_MODULE", None)
        if current != module:
            raise ConfigError(
                f"{head}: this process already runs Django with "
                f"{current or 'settings.configure()'}: expected the same settings"
            )
    else:
        if str(base) not in sys.path:
            sys.path.insert(0, str(base))
        try:
            importlib.import_module(module)
        except BaseException as error:  # SystemExit, SyntaxError, ... in the user's module
            if isinstance(error, KeyboardInterrupt):
                raise
            raise ConfigError(f"{head}: cannot import it: {_one_line(error)}") from None
        os.environ["DJANGO_SETTINGS_MODULE"] = module
    from django.apps import apps

    if apps.ready:
        return
    try:
        django.setup()
    except Exception as error:
        raise ConfigError(f"{head}: django.setup() failed: {_one_line(error)}") from None


def read_settings(module: str, base: Path, head: str) -> dict[str, Any]:
    """Config fields from the settings ``module`` (see the module docstring)."""
    setup(module, base, head)
    return {**fields(head), "django_settings": module}


def fields(head: str) -> dict[str, Any]:
    """Config fields from the settings of the Django set up in this process."""
    from django.conf import settings

    try:
        finders = list(settings.STATICFILES_FINDERS)
        _check_finders(finders, head)
        found = {
            "dirs": _dirs(settings.STATICFILES_DIRS, head) if FILE_SYSTEM_FINDER in finders else (),
            "apps": _apps() if APP_FINDER in finders else (),
            **_storage(head),
            **_ignore(),
        }
    except ConfigError:
        raise
    except Exception as error:  # ImproperlyConfigured and the like, from Django
        raise ConfigError(f"{head}: {_one_line(error)}") from None
    return found


def _check_finders(finders: list[str], head: str) -> None:
    """FileSystemFinder (STATICFILES_DIRS) and AppDirectoriesFinder (the apps),
    either or both, in that order: staticpipe's finders."""
    for finder in finders:
        if finder not in (FILE_SYSTEM_FINDER, APP_FINDER):
            raise ConfigError(
                f'{head}: STATICFILES_FINDERS: "{finder}" is not supported: staticpipe '
                "finds files as FileSystemFinder and AppDirectoriesFinder do (expected "
                "only those two)"
            )
    both = FILE_SYSTEM_FINDER in finders and APP_FINDER in finders
    if both and finders.index(APP_FINDER) < finders.index(FILE_SYSTEM_FINDER):
        raise ConfigError(
            f"{head}: STATICFILES_FINDERS: expected FileSystemFinder before "
            "AppDirectoriesFinder (staticpipe searches STATICFILES_DIRS first)"
        )


def _dirs(entries: Any, head: str) -> tuple[tuple[str, Path], ...]:
    """STATICFILES_DIRS: paths, Paths and (prefix, path) pairs, made absolute as
    Django's FileSystemStorage does (against the current directory)."""
    result = []
    for entry in entries:
        prefix, root = entry if isinstance(entry, (list, tuple)) else ("", entry)
        if not isinstance(prefix, str) or not isinstance(root, (str, os.PathLike)):
            raise ConfigError(
                f"{head}: STATICFILES_DIRS: {entry!r}: expected a path or a (prefix, path) pair"
            )
        result.append((prefix, Path(os.path.abspath(root))))
    return tuple(result)


def _apps() -> tuple[tuple[str, Path], ...]:
    """Each installed app's ``static/`` directory, in INSTALLED_APPS order,
    through its AppConfig (dotted AppConfig paths, labels, a custom ``path``)."""
    from django.apps import apps

    result = []
    for app_config in apps.get_app_configs():
        static = os.path.abspath(os.path.join(app_config.path, "static"))
        if os.path.isdir(static):
            result.append(("", Path(static)))
    return tuple(result)


def _ignore() -> dict[str, Any]:
    """The staticfiles app's ``ignore_patterns`` (a custom StaticFilesConfig's)."""
    from django.apps import apps

    if not apps.is_installed("django.contrib.staticfiles"):
        return {}
    patterns = tuple(apps.get_app_config("staticfiles").ignore_patterns)
    return {"default_globs": tuple(os.path.normpath(p) for p in patterns)}


def _storage(head: str) -> dict[str, Any]:
    """STORAGES["staticfiles"]: where the build goes, its kind, its options."""
    from django.conf import settings
    from django.contrib.staticfiles.storage import (
        HashedFilesMixin,
        ManifestFilesMixin,
        StaticFilesStorage,
    )
    from django.core.files.storage import FileSystemStorage
    from django.utils.module_loading import import_string

    declared = settings.STORAGES.get("staticfiles", {})
    backend = declared.get("BACKEND")
    kind = import_string(backend)
    if isinstance(kind, type) and issubclass(kind, ManifestFilesMixin):
        # as STORAGES makes it, but without reading the manifest in place: a
        # damaged one is for the build to replace, not a reason to refuse it
        kind = type(kind.__name__, (kind,), {"load_manifest": lambda self: ({}, "")})
    storage = kind(**declared.get("OPTIONS", {}))
    where = f'{head}: STORAGES["staticfiles"] "{backend}"'
    if isinstance(storage, ManifestFilesMixin) and isinstance(storage, FileSystemStorage):
        if kind.file_hash is not HashedFilesMixin.file_hash:
            raise ConfigError(
                f"{where} overrides file_hash: expected staticpipe's file_hash key "
                '("package.module:function") in [tool.staticpipe] instead'
            )
        if kind.patterns != HashedFilesMixin.patterns:
            raise ConfigError(f"{where} overrides patterns: staticpipe rewrites Django's only")
        if storage.manifest_name != "staticfiles.json" or storage.keep_intermediate_files:
            raise ConfigError(
                f"{where}: expected manifest_name staticfiles.json and no intermediate files"
            )
        found: dict[str, Any] = {
            "storage": "manifest",
            "manifest_strict": bool(storage.manifest_strict),
            "js_modules": bool(storage.support_js_module_import_aggregation),
        }
    elif isinstance(storage, (StaticFilesStorage, FileSystemStorage)):
        found = {"storage": "plain"}
    else:
        raise ConfigError(
            f"{where} is not a file system storage: expected Django's StaticFilesStorage, "
            "ManifestStaticFilesStorage or a subclass (staticpipe builds into a directory)"
        )
    # (unset, [tool.staticpipe]'s static_root and static_url may stand in: config.py)
    if storage.location:
        found["static_root"] = Path(os.path.abspath(storage.location))
    if settings.STATIC_URL:
        found["static_url"] = settings.STATIC_URL
    found.update(_permissions(storage))
    found.update(_whitenoise_compress(storage))
    return found


def _whitenoise_compress(storage: Any) -> dict[str, list[str]]:
    """WhiteNoise's ``CompressedManifestStaticFilesStorage`` and
    ``CompressedStaticFilesStorage`` (or subclasses) write ``.gz`` and, with the
    brotli package installed, ``.br`` beside each file: staticpipe's compress
    phase does the same (``django_compress``, used unless the table sets
    ``compress``)."""
    try:
        from whitenoise import storage as whitenoise
    except ImportError:
        return {}
    kinds = (
        whitenoise.CompressedManifestStaticFilesStorage,
        whitenoise.CompressedStaticFilesStorage,
    )
    if not isinstance(storage, kinds):
        return {}
    try:
        import brotli  # noqa: F401  (WhiteNoise's own condition for .br)
    except ImportError:
        return {"django_compress": ["gzip"]}
    return {"django_compress": ["gzip", "br"]}


def _permissions(storage: Any) -> dict[str, int | None]:
    """FILE_UPLOAD_PERMISSIONS and FILE_UPLOAD_DIRECTORY_PERMISSIONS (or the
    storage's OPTIONS). Directories get 0o755 unless one of them sets another
    mode (None, set explicitly: the umask's, as Django)."""
    from django.conf import settings

    directories: int | None = DEFAULT_DIR_MODE
    explicit = storage._directory_permissions_mode is not None or settings.is_overridden(
        "FILE_UPLOAD_DIRECTORY_PERMISSIONS"
    )
    if explicit:
        directories = storage.directory_permissions_mode
    return {
        "file_permissions_mode": storage.file_permissions_mode,
        "directory_permissions_mode": directories,
    }


# -- the running Django project (manage.py collectstatic, checks) ------------------
def project_dir(module: str) -> Path:
    """The directory the settings package is imported from (manage.py's)."""
    path = Path(sys.modules[module].__file__ or ".").resolve()
    return path.parents[module.count(".")]
