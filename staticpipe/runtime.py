"""Hashed URLs at run time: ``static_url("css/base.css")`` -> ``/static/css/base.<hash>.css``.

The lookup reads ``staticfiles.json`` (Django's manifest, written by ``doit
collect``), keeps it in memory and reloads it when the file changes (one
``os.stat`` per call: mtime, size, inode), so a running app picks up a new
build without a restart. The configuration file is cached the same way.

``strict`` (``manifest_strict`` in ``[tool.staticpipe]``, true by default)
makes a name the manifest does not know an error; non-strict lookups fall back
to the plain URL. URLs are built as Django's ``ManifestStaticFilesStorage.url``
builds them: ``#fragment``, ``?query`` and the ``?#iefix`` font hack are kept.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar
from urllib.parse import unquote, urldefrag, urlsplit, urlunsplit

from . import manifest as manifest_file
from .config import Config, find_config_file, load_config
from .errors import StaticpipeError
from .references import django_url

T = TypeVar("T")

__all__ = ["MissingStaticFile", "StaticURLs", "static_url"]


class MissingStaticFile(StaticpipeError, ValueError):
    """A strict lookup of a name that is not in the manifest (or of no manifest).

    A ``ValueError`` too, as Django's ``Missing staticfiles manifest entry``.
    """


def file_signature(path: str | os.PathLike[str]) -> tuple[int, ...] | None:
    """What changes when a file is rewritten or replaced; None if it is missing."""
    try:
        stat = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino, stat.st_ctime_ns)


class FileCache(Generic[T]):
    """A value loaded from a file, reloaded when the file's signature changes."""

    def __init__(self, path: str | os.PathLike[str], load: Callable[[Path], T]):
        self.path = Path(path)
        self._load = load
        self._lock = threading.Lock()
        self._signature: tuple[int, ...] | None = None
        self._loaded = False
        self._value: T | None = None

    def get(self) -> T | None:
        """The current value, or None while the file does not exist."""
        signature = file_signature(self.path)
        if self._loaded and signature == self._signature:
            return self._value
        with self._lock:
            if not self._loaded or signature != self._signature:
                # Stat before reading: if the file is replaced in between, the
                # next call sees a new signature and simply loads it again.
                self._value = None if signature is None else self._load(self.path)
                self._signature = signature
                self._loaded = True
            return self._value


def _read_manifest(path: Path) -> dict[str, str]:
    try:
        return manifest_file.read(path)
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as error:  # json.JSONDecodeError is a ValueError
        raise StaticpipeError(f"{path}: unreadable manifest: {error}") from None


class ManifestCache(FileCache[dict[str, str]]):
    """``staticfiles.json``'s paths, reloaded when the file changes."""

    def __init__(self, path: str | os.PathLike[str]):
        super().__init__(path, _read_manifest)
        self._hashed_for: dict[str, str] | None = None
        self._hashed: frozenset[str] = frozenset()

    def paths(self) -> dict[str, str] | None:
        return self.get()

    def hashed_names(self) -> frozenset[str]:
        """The hashed names the manifest maps to (names that carry a hash)."""
        paths = self.get() or {}
        if paths is not self._hashed_for:
            self._hashed = frozenset(v for k, v in paths.items() if v != k)
            self._hashed_for = paths
        return self._hashed


def _load_config_file(path: Path) -> Config:
    return load_config(path)


@dataclass(frozen=True)
class _Settings:
    base_url: str
    manifest: Path | None  # None: storage = "plain", no manifest
    strict: bool


ConfigArg = Config | str | os.PathLike[str] | None


class StaticURLs:
    """Hashed URLs for static files: ``urls("css/base.css")``.

    ``config`` is a :class:`~staticpipe.config.Config`, a path to a
    pyproject.toml (or its directory), or None: the nearest pyproject.toml with
    ``[tool.staticpipe]`` from the current directory up. A config file is
    re-read when it changes. ``manifest`` names a ``staticfiles.json``
    explicitly; given without ``config``, no configuration is read and
    ``base_url`` (default ``/static/``) and ``strict`` (default true) apply.
    """

    def __init__(
        self,
        config: ConfigArg = None,
        *,
        manifest: str | os.PathLike[str] | None = None,
        base_url: str | None = None,
        strict: bool | None = None,
    ):
        self._fixed: Config | None = config if isinstance(config, Config) else None
        self._config_cache: FileCache[Config] | None = None
        if self._fixed is None and not (config is None and manifest is not None):
            path = find_config_file() if config is None else Path(config)
            if path.is_dir():
                path = path / "pyproject.toml"
            if not path.is_file():
                raise StaticpipeError(f"{path}: no such configuration file")
            self._config_cache = FileCache(path.resolve(), _load_config_file)
        self._manifest_arg = Path(manifest).resolve() if manifest is not None else None
        self._base_url = base_url
        self._strict = strict
        self._manifests: dict[Path, ManifestCache] = {}

    @property
    def config(self) -> Config | None:
        if self._config_cache is not None:
            config = self._config_cache.get()
            if config is None:
                raise StaticpipeError(f"{self._config_cache.path}: no such configuration file")
            return config
        return self._fixed

    def _settings(self) -> _Settings:
        config = self.config
        if config is None:
            return _Settings(
                self._base_url or "/static/",
                self._manifest_arg,
                True if self._strict is None else self._strict,
            )
        manifest = self._manifest_arg
        if manifest is None and config.storage == "manifest":
            manifest = manifest_file.manifest_path(config)
        return _Settings(
            self._base_url or config.static_url,
            manifest,
            config.manifest_strict if self._strict is None else self._strict,
        )

    def manifest(self, path: Path) -> ManifestCache:
        cache = self._manifests.get(path)
        if cache is None:
            cache = self._manifests.setdefault(path, ManifestCache(path))
        return cache

    def stored_name(self, name: str) -> str:
        """The hashed name for ``name`` (query and fragment kept), as Django's."""
        settings = self._settings()
        return self._stored_name(name, settings)

    def _stored_name(self, name: str, settings: _Settings) -> str:
        parsed = urlsplit(unquote(name))
        clean = parsed.path.strip()
        if settings.manifest is None:
            return name
        paths = self.manifest(settings.manifest).paths()
        hashed = paths.get(clean) if paths is not None else None
        if hashed is None:
            if not settings.strict:
                return name
            if paths is None:
                raise MissingStaticFile(
                    f"no manifest at {settings.manifest} to look up '{clean}' "
                    "(run `doit collect` first)"
                )
            raise MissingStaticFile(
                f"missing staticfiles manifest entry for '{clean}' in {settings.manifest} "
                "(is it a static file, and has `doit collect` run since it was added?)"
            )
        parts = list(parsed)
        parts[2] = hashed
        if "?#" in name and not parts[3]:
            parts[2] += "?"
        return urlunsplit(parts)

    def url(self, name: str) -> str:
        """``static_url`` + the hashed name of ``name``, as Django's ``{% static %}``."""
        settings = self._settings()
        clean, fragment = urldefrag(name)
        if urlsplit(clean).path.endswith("/"):  # a directory: never hashed
            stored = name
        else:
            stored = self._stored_name(clean, settings)
        return django_url(name, stored, settings.base_url)

    __call__ = url


_default_lock = threading.Lock()
_defaults: dict[tuple, StaticURLs] = {}


def _default_key(config: ConfigArg, manifest: str | os.PathLike[str] | None) -> tuple:
    if isinstance(config, Config):
        return ("config", config, os.fspath(manifest) if manifest else None)
    if config is None and manifest is None:
        return ("cwd", os.getcwd())
    return (
        "paths",
        os.path.abspath(config) if config is not None else None,
        os.path.abspath(manifest) if manifest is not None else None,
    )


def static_url(
    name: str,
    *,
    config: ConfigArg = None,
    manifest: str | os.PathLike[str] | None = None,
) -> str:
    """The URL of static file ``name``: ``static_url`` + its hashed name.

    With no arguments the configuration is the nearest ``[tool.staticpipe]``
    from the current directory. Lookups are cached per configuration; the
    manifest and the config file are re-read when they change.
    """
    key = _default_key(config, manifest)
    urls = _defaults.get(key)
    if urls is None:
        with _default_lock:
            urls = _defaults.get(key)
            if urls is None:
                urls = StaticURLs(config, manifest=manifest)
                _defaults[key] = urls
    return urls.url(name)
