"""Hashed URLs at run time: ``static_url("css/base.css")`` -> ``/static/css/base.<hash>.css``.

``static_integrity("css/base.css")`` -> ``sha384-...``: the subresource integrity
value of that hashed file, from ``staticfiles.integrity.json`` (written beside
the manifest when ``integrity = "sha384"`` is set; see ``staticpipe.integrity``),
cached the same way; ``stylesheet_tag``/``script_tag`` render whole tags with it.

The lookup reads ``staticfiles.json`` (Django's manifest, written by ``doit
collect``), keeps it in memory and reloads it when the file changes (one
``os.stat`` per call: mtime, size, inode), so a running app picks up a new
build without a restart. The configuration file is cached the same way.

``strict`` (``manifest_strict`` in ``[tool.staticpipe]``, true by default)
makes a name the manifest does not know an error; non-strict lookups fall back
to the plain URL. URLs are built as Django's ``ManifestStaticFilesStorage.url``
builds them: ``#fragment``, ``?query`` and the ``?#iefix`` font hack are kept,
also under an absolute (CDN) ``static_url``.

With no configuration given, it is the nearest ``[tool.staticpipe]`` from the
directory of the calling module up (the caller: the nearest frame outside
staticpipe, the standard library, installed packages and Jinja2 template code),
else from the current directory up. Each caller's file is resolved once.

Every problem is a :class:`~staticpipe.errors.StaticpipeError` with a one-line
message naming its file: ``ConfigError`` (the configuration), ``ManifestError``
(an unreadable ``staticfiles.json``), ``MissingStaticFile`` (a strict lookup),
``IntegrityError`` (no, or a damaged, integrity file, or a name it lacks).
"""

from __future__ import annotations

import html
import json
import os
import site
import sys
import sysconfig
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Generic, TypeVar
from urllib.parse import unquote, urldefrag, urlsplit, urlunsplit

from . import integrity as integrity_file
from .config import Config, load_config, nearest_config
from .errors import ConfigError, StaticpipeError
from .fs.fsutil import FileStat, file_stat
from .integrity import Integrity, IntegrityError
from .phases import manifest as manifest_file
from .rewrite.references import django_url

T = TypeVar("T")

__all__ = [
    "IntegrityError",
    "ManifestError",
    "MissingStaticFile",
    "StaticURLs",
    "script_tag",
    "static_integrity",
    "static_url",
    "stylesheet_tag",
]


class MissingStaticFile(StaticpipeError, ValueError):
    """A strict lookup of a name that is not in the manifest (or of no manifest).

    A ``ValueError`` too, as Django's ``Missing staticfiles manifest entry``.
    """


class ManifestError(StaticpipeError, ValueError):
    """``staticfiles.json`` exists but is not a manifest this version can read.

    A ``ValueError`` too, as Django's error for an unreadable manifest.
    """


class FileCache(Generic[T]):
    """A value loaded from a file, reloaded when the file's signature changes.

    A load that fails is remembered too: the same error is raised again, without
    reading the file, until the file changes.
    """

    def __init__(self, path: str | os.PathLike[str], load: Callable[[Path], T]):
        self.path = Path(path)
        self._load = load
        self._lock = threading.Lock()
        self._signature: FileStat | None = None
        self._loaded = False
        self._value: T | None = None
        self._error: StaticpipeError | None = None

    def get(self) -> T | None:
        """The current value, or None while the file does not exist."""
        signature = file_stat(self.path)
        if not (self._loaded and signature == self._signature):
            with self._lock:
                if not self._loaded or signature != self._signature:
                    self._reload(signature)
        if self._error is not None:
            raise self._error
        return self._value

    def _reload(self, signature: tuple[int, ...] | None) -> None:
        # Stat before reading: if the file is replaced in between, the next
        # call sees a new signature and simply loads it again.
        self._value, self._error = None, None
        if signature is not None:
            try:
                self._value = self._load(self.path)
            except FileNotFoundError:  # removed since the stat
                signature = None
            except StaticpipeError as error:
                self._error = error
        self._signature = signature
        self._loaded = True


MANIFEST_VERSIONS = ("1.0", "1.1")  # what Django's ManifestFilesMixin.load_manifest reads


def _read_manifest(path: Path) -> dict[str, str]:
    """The ``paths`` of a ``staticfiles.json``, checked; ManifestError if unreadable."""
    try:
        with open(path, "rb") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise ManifestError(f"{path}: cannot read the manifest: {error.strerror}") from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        raise ManifestError(f"{path}: not a staticfiles manifest: invalid JSON ({error})") from None
    return _manifest_paths(path, data)


def _manifest_paths(path: Path, data: Any) -> dict[str, str]:
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: not a staticfiles manifest: not a JSON object")
    if data.get("version") not in MANIFEST_VERSIONS:
        raise ManifestError(
            f"{path}: unsupported manifest version {data.get('version')!r} "
            f"(expected one of {', '.join(MANIFEST_VERSIONS)}; run `doit collect` again)"
        )
    paths = data.get("paths", {})
    if not isinstance(paths, dict) or not all(isinstance(v, str) for v in paths.values()):
        raise ManifestError(
            f'{path}: not a staticfiles manifest: "paths" must map names to hashed names'
        )
    return paths


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
    """``load_config``, with anything it lets through as a one-line ConfigError."""
    try:
        return load_config(path)
    except (StaticpipeError, FileNotFoundError):
        raise
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    except (ValueError, TypeError, AttributeError, KeyError) as error:
        # e.g. a file that is not UTF-8, or a value of the wrong type
        raise ConfigError(f"{path}: invalid [tool.staticpipe]: {error}") from None


# -- which configuration: the caller's ----------------------------------------------
PYPROJECT = "pyproject.toml"
_PACKAGE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "")


def _library_prefixes() -> tuple[str, ...]:
    """Directories of code that is not the application's: stdlib, site-packages."""
    paths = sysconfig.get_paths()
    found = [paths.get(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")]
    found += getattr(site, "getsitepackages", list)()
    found.append(site.getusersitepackages())
    prefixes = {os.path.join(path, "") for path in found if path}
    prefixes |= {os.path.join(os.path.realpath(path), "") for path in prefixes}
    return tuple(sorted(prefixes))


_LIBRARY = _library_prefixes()


def _is_application_frame(frame: FrameType) -> bool:
    """Code of the application: not staticpipe's, a library's or a template's."""
    filename = frame.f_code.co_filename
    if filename.startswith("<") or "__jinja_template__" in frame.f_globals:
        return False  # <string>, <stdin>, <frozen ...>, Jinja2 template code
    filename = os.path.abspath(filename)
    return not filename.startswith(_PACKAGE_DIR) and not filename.startswith(_LIBRARY)


def _not_found(origin: str | None, cwd: str) -> ConfigError:
    near = f"above {origin} nor " if origin else ""
    return ConfigError(
        f"no pyproject.toml with a [tool.staticpipe] table {near}in {cwd} or above "
        "(pass config='path/to/pyproject.toml')"
    )


def _config_near(filename: str | None) -> Path:
    """The config for code in ``filename``: near it, else near the current directory."""
    found = nearest_config(os.path.dirname(filename)) if filename else None
    if found is None:
        cwd = os.getcwd()
        found = nearest_config(cwd)
        if found is None:
            raise _not_found(filename, cwd)
    return found


def _caller_file(frame: FrameType | None) -> str | None:
    while frame is not None and not _is_application_frame(frame):
        frame = frame.f_back
    return os.path.abspath(frame.f_code.co_filename) if frame is not None else None


@dataclass(frozen=True)
class _Settings:
    base_url: str
    manifest: Path | None  # None: storage = "plain", no manifest
    strict: bool
    static_root: Path | None = None  # where a plain build's integrity file is


ConfigArg = Config | str | os.PathLike[str] | None


class StaticURLs:
    """Hashed URLs for static files: ``urls("css/base.css")``.

    ``config`` is a :class:`~staticpipe.config.Config`, a path to a
    pyproject.toml (or its directory), or None: the nearest pyproject.toml with
    ``[tool.staticpipe]`` from the directory of the code creating this object
    (see the module's docstring), else from the current directory up. A config
    file is re-read when it changes. ``manifest`` names a ``staticfiles.json``
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
            if config is None:
                path = _config_near(_caller_file(sys._getframe(1)))
            else:
                path = _config_file(Path(config))
            self._config_cache = FileCache(path.resolve(), _load_config_file)
            self.config  # noqa: B018 -- a bad configuration fails here, at start-up
        self._manifest_arg = Path(manifest).resolve() if manifest is not None else None
        self._base_url = base_url
        self._strict = strict
        self._manifests: dict[Path, ManifestCache] = {}
        self._integrities: dict[Path, FileCache[Integrity]] = {}

    @classmethod
    def for_module(
        cls,
        module: str,
        *,
        manifest: str | os.PathLike[str] | None = None,
        base_url: str | None = None,
        strict: bool | None = None,
    ) -> StaticURLs:
        """The configuration nearest the file of ``module`` (e.g. ``__name__``).

        Like ``Flask(__name__)``: from the module's directory up, else from the
        current directory up (a module with no file, e.g. ``__main__`` of ``-c``).
        """
        imported = sys.modules.get(module)
        if imported is None:
            raise ConfigError(f"StaticURLs.for_module: no module {module!r} is imported")
        filename = getattr(imported, "__file__", None)
        path = _config_near(os.path.abspath(filename) if filename else None)
        return cls(path, manifest=manifest, base_url=base_url, strict=strict)

    @property
    def config(self) -> Config | None:
        if self._config_cache is not None:
            config = self._config_cache.get()
            if config is None:
                raise ConfigError(f"{self._config_cache.path}: no such configuration file")
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
            config.static_root,
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
        hashed = self._hashed(clean, settings.manifest, settings.strict)
        if hashed is None:
            return name
        parts = list(parsed)
        parts[2] = hashed
        if "?#" in name and not parts[3]:
            parts[2] += "?"
        return urlunsplit(parts)

    def _hashed(self, clean: str, manifest: Path, strict: bool) -> str | None:
        """The manifest's hashed name for ``clean``; None for an unknown name when
        not ``strict``, else MissingStaticFile naming it and the manifest."""
        paths = self.manifest(manifest).paths()
        hashed = paths.get(clean) if paths is not None else None
        if hashed is None:
            if not strict:
                return None
            if paths is None:
                raise MissingStaticFile(
                    f"no manifest at {manifest} to look up '{clean}' (run `doit collect` first)"
                )
            raise MissingStaticFile(
                f"missing staticfiles manifest entry for '{clean}' in {manifest} "
                "(is it a static file, and has `doit collect` run since it was added?)"
            )
        return hashed

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

    def integrity(self, name: str) -> str:
        """The SRI value (``sha384-...``) of the file ``url(name)`` points at.

        Always strict, whatever ``manifest_strict``: a name the manifest does not
        know is MissingStaticFile, as a strict ``url`` (no value can stand in for
        it). No integrity file beside the manifest, or one without that hashed
        name (written by another build), is an IntegrityError saying what to do.
        """
        value = self._integrity(name, self._settings(), strict=True)
        assert value is not None  # strict: an unknown name raised
        return value

    def _integrity(self, name: str, settings: _Settings, strict: bool) -> str | None:
        """``integrity``; None for a name the manifest does not know when not
        ``strict`` (a tag then goes without the attribute, as its URL is plain)."""
        clean = urlsplit(unquote(name)).path.strip()
        if settings.manifest is not None:
            key = self._hashed(clean, settings.manifest, strict)
            if key is None:
                return None
            path, made_from = integrity_file.beside(settings.manifest), settings.manifest
        elif settings.static_root is not None:  # storage = "plain": plain names
            key, path = clean, integrity_file.integrity_path(settings.static_root)
            made_from = settings.static_root
        else:
            raise IntegrityError(f"no manifest to look up '{clean}' in (pass manifest=)")
        values = self.integrity_values(path)
        if values is None:
            raise IntegrityError(
                f"no {path.name} beside {made_from} for '{clean}': set integrity = "
                '"sha384" in [tool.staticpipe] and run `doit collect` again'
            )
        value = values.values.get(key)
        if value is None:
            if not strict and settings.manifest is None:
                return None
            raise IntegrityError(
                f"{path}: no value for '{key}' ('{clean}'): the file is from an "
                "earlier build (run `doit collect` again)"
            )
        return value

    def integrity_values(self, path: Path) -> Integrity | None:
        """The integrity file at ``path``, cached until it changes (None: no file)."""
        cache = self._integrities.get(path)
        if cache is None:
            cache = self._integrities.setdefault(path, FileCache(path, integrity_file.load))
        return cache.get()

    def stylesheet(self, name: str, **attributes: object) -> str:
        """``<link rel="stylesheet" href=... integrity=... crossorigin="anonymous">``
        for ``name``, HTML-escaped; ``attributes`` as ``stylesheet_tag``'s."""
        href, value = self._url_and_integrity(name)
        return stylesheet_tag(href, value, **attributes)

    def script(self, name: str, **attributes: object) -> str:
        """``<script src=... integrity=... crossorigin="anonymous"></script>`` for
        ``name``, HTML-escaped; ``attributes`` as ``script_tag``'s."""
        src, value = self._url_and_integrity(name)
        return script_tag(src, value, **attributes)

    def _url_and_integrity(self, name: str) -> tuple[str, str | None]:
        settings = self._settings()
        return self.url(name), self._integrity(name, settings, strict=settings.strict)


# -- whole tags: the URL and its integrity value, escaped ---------------------------
def stylesheet_tag(href: str, integrity: str | None, **attributes: object) -> str:
    """A stylesheet ``<link>``. ``attributes``: more (or other) attributes, as
    Jinja2/Django keyword arguments can spell them: ``media="print"``; a trailing
    ``_`` is dropped and ``_`` is ``-`` (``class_``, ``data_x`` -> ``data-x``);
    True is a bare attribute, False or None leaves it out (``crossorigin=None``)."""
    base = {"rel": "stylesheet", "href": href, **_sri_attributes(integrity)}
    return f"<link{_attributes(base, attributes)}>"


def script_tag(src: str, integrity: str | None, **attributes: object) -> str:
    """A ``<script src>`` element; ``attributes`` as ``stylesheet_tag``'s
    (``defer=True``, ``type="module"``)."""
    base = {"src": src, **_sri_attributes(integrity)}
    return f"<script{_attributes(base, attributes)}></script>"


def _sri_attributes(integrity: str | None) -> dict[str, object]:
    """``crossorigin="anonymous"``: a cross-origin (CDN) response is only checked,
    and so only used, when fetched in CORS mode; same-origin, it changes nothing."""
    if integrity is None:
        return {}
    return {"integrity": integrity, "crossorigin": "anonymous"}


def _attributes(base: dict[str, object], extra: dict[str, object]) -> str:
    merged = dict(base)
    for key, value in extra.items():
        merged[_attribute_name(key)] = value
    parts = []
    for key, value in merged.items():
        if value is None or value is False:
            continue
        if value is True:
            parts.append(f" {key}")
        else:
            parts.append(f' {key}="{html.escape(str(value), quote=True)}"')
    return "".join(parts)


def _attribute_name(key: str) -> str:
    name = key.rstrip("_").replace("_", "-") if key.rstrip("_") else key
    if not name or not all(char.isalnum() or char in "-:." for char in name):
        raise ValueError(f"{key!r} is not an HTML attribute name")
    return name.lower()


def _config_file(path: Path) -> Path:
    """An explicit config argument (a pyproject.toml or its directory) as a file."""
    if path.is_dir():
        path = path / PYPROJECT
    if path.suffix == ".py":
        raise ConfigError(
            f"{path}: a Python file, not a pyproject.toml (for the configuration "
            "nearest a module, use StaticURLs.for_module(__name__))"
        )
    if not path.is_file():
        raise ConfigError(f"{path}: no such configuration file")
    return path


# -- static_url(): one StaticURLs per configuration -------------------------------
_default_lock = threading.Lock()
_defaults: dict[tuple, StaticURLs] = {}


class _FromCwd:
    """A caller with no configuration near its file: the current directory's."""

    def __init__(self, origin: str | None):
        self.origin = origin


_SKIP = object()  # not application code: look at the frame that called it
_by_caller: dict[str, StaticURLs | _FromCwd | object] = {}  # co_filename ->
_by_cwd: dict[str, StaticURLs] = {}


def _shared(key: tuple, make: Callable[[], StaticURLs]) -> StaticURLs:
    urls = _defaults.get(key)
    if urls is None:
        with _default_lock:
            urls = _defaults.get(key)
            if urls is None:
                urls = _defaults[key] = make()
    return urls


def _for_config_file(path: Path) -> StaticURLs:
    return _shared(("file", path), lambda: StaticURLs(path))


def _classify(frame: FrameType) -> StaticURLs | _FromCwd | object:
    """What a frame of this code file means for static_url(): cached per file."""
    filename = frame.f_code.co_filename
    if not _is_application_frame(frame):
        found: StaticURLs | _FromCwd | object = _SKIP
    else:
        origin = os.path.abspath(filename)
        path = nearest_config(os.path.dirname(origin))
        found = _FromCwd(origin) if path is None else _for_config_file(path)
    _by_caller[filename] = found
    return found


def _from_cwd(origin: str | None) -> StaticURLs:
    cwd = os.getcwd()
    urls = _by_cwd.get(cwd)
    if urls is None:
        path = nearest_config(cwd)
        if path is None:
            raise _not_found(origin, cwd)
        urls = _by_cwd[cwd] = _for_config_file(path)
    return urls


def _callers_urls(frame: FrameType | None) -> StaticURLs:
    """The StaticURLs of the nearest application code on the stack from ``frame``."""
    found: StaticURLs | _FromCwd | object = _SKIP
    while frame is not None:
        found = _by_caller.get(frame.f_code.co_filename) or _classify(frame)
        if found is not _SKIP:
            break
        frame = frame.f_back
    if isinstance(found, StaticURLs):
        return found
    return _from_cwd(found.origin if isinstance(found, _FromCwd) else None)


def _default_key(config: ConfigArg, manifest: str | os.PathLike[str] | None) -> tuple:
    if isinstance(config, Config):
        return ("config", config, os.fspath(manifest) if manifest else None)
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
    from the directory of the calling module up (Jinja2 and other libraries in
    between are skipped: see the module's docstring), else from the current
    directory up. Lookups are cached per caller file and per configuration; the
    manifest and the config file are re-read when they change.
    """
    if config is None and manifest is None:
        return _callers_urls(sys._getframe(1)).url(name)
    key = _default_key(config, manifest)
    return _shared(key, lambda: StaticURLs(config, manifest=manifest)).url(name)


def static_integrity(
    name: str,
    *,
    config: ConfigArg = None,
    manifest: str | os.PathLike[str] | None = None,
) -> str:
    """The SRI value (``sha384-...``) of the file ``static_url(name)`` points at,
    from ``staticfiles.integrity.json`` beside the manifest; the configuration
    as ``static_url``'s. See ``StaticURLs.integrity`` for the errors."""
    if config is None and manifest is None:
        return _callers_urls(sys._getframe(1)).integrity(name)
    key = _default_key(config, manifest)
    return _shared(key, lambda: StaticURLs(config, manifest=manifest)).integrity(name)
