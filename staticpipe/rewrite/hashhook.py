"""Django's ``file_hash`` extension point: ``file_hash = "package.module:function"``.

Django's ``HashedFilesMixin.file_hash(name, content)`` returns the hash a hashed
name carries (``root.<hash>.ext``; None or "" leaves the name unhashed). A
storage subclass overriding it is how a Django project picks another hash; here
the same function is named in ``[tool.staticpipe]`` and called as Django calls
it: with the file's name and a file-like ``content`` (``Content``: ``read()``,
``chunks()``, ... as Django's ``File``) holding the bytes Django hashes — the
original's for a file that is not rewritten, the rewritten bytes for CSS/JS.

The function is imported once per run, with the project directory first on
``sys.path`` (as a module next to a Django project's ``manage.py`` is
importable); a module whose file changed since is imported again (the watcher
runs many times in one process). Every failure is one line naming the key.

The md5 remains the content fingerprint of the incremental state; only the
names change. What the hook computes cannot be known: a change of its module
file (size, mtime) is part of the settings token (``fingerprint``), so editing
that file redoes every name, but a change elsewhere (a module it imports, a
setting it reads) is not seen: run ``doit forget`` or ``doit collect --clear``.
"""

from __future__ import annotations

import importlib
import io
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from importlib.machinery import PathFinder
from typing import Any, BinaryIO

from ..config import Config, toml_value
from ..errors import ConfigError, StaticpipeError

KEY = "file_hash"
EXPECTED = '"package.module:function", a callable importable from the project directory'

Hook = Callable[[str, "Content"], Any]


class Content:
    """The ``content`` a hook gets: what a ``file_hash`` written for Django reads
    of its ``File`` (``read``, ``chunks``, ``multiple_chunks``, ``seek``, ``tell``,
    ``size``, ``name``, ``open``, ``close``, iteration, ``with``). A small object,
    not Django's class: Django is not a dependency. ``name`` is the source's path
    for an original (as Django's is), None for rewritten bytes (a ContentFile's)."""

    DEFAULT_CHUNK_SIZE = 64 * 2**10  # Django's File.DEFAULT_CHUNK_SIZE

    def __init__(self, file: BinaryIO, size: int, name: str | None = None):
        self.file, self.size, self.name = file, size, name

    @classmethod
    def of_bytes(cls, data: bytes) -> Content:
        return cls(io.BytesIO(data), len(data))

    def read(self, size: int = -1) -> bytes:
        return self.file.read(size)

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """The content from its start, in chunks (as Django's ``File.chunks``)."""
        self.file.seek(0)
        while data := self.file.read(chunk_size or self.DEFAULT_CHUNK_SIZE):
            yield data

    def multiple_chunks(self, chunk_size: int | None = None) -> bool:
        return self.size > (chunk_size or self.DEFAULT_CHUNK_SIZE)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.file.seek(offset, whence)

    def tell(self) -> int:
        return self.file.tell()

    def open(self, mode: str | None = None) -> Content:
        self.file.seek(0)
        return self

    def close(self) -> None:
        self.file.close()

    @property
    def closed(self) -> bool:
        return self.file.closed

    def __iter__(self) -> Iterator[bytes]:
        self.file.seek(0)
        return iter(self.file)

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return True

    def __enter__(self) -> Content:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class FileHash:
    """A loaded hook: ``digest(name, content)`` is its checked result."""

    def __init__(self, config: Config, function: Hook):
        self.config, self.function = config, function

    def fail(self, problem: str) -> ConfigError:
        value = toml_value(self.config.file_hash)
        return ConfigError(f"{self.config.where}: {KEY} = {value}: {problem}")

    def digest(self, name: str, content: Content) -> str | None:
        """The hook's hash for ``name`` (None or "": unhashed, as Django).

        Anything but a string or None is refused (Django would format it into
        the name): so is a string with '/' or NUL, which is no part of a name."""
        try:
            result = self.function(name, content)
        except Exception as error:  # the user's code: one line, where it failed
            raise self.fail(f"raised {_raised(error)} for {name!r}") from None
        if result is None or (isinstance(result, str) and "/" not in result and "\0" not in result):
            return result
        what = type(result).__name__
        expected = "a string (the hash) or None" if not isinstance(result, str) else "no '/'"
        raise self.fail(f"returned {result!r} ({what}) for {name!r}; expected {expected}")

    def of_bytes(self, name: str, data: bytes) -> str | None:
        return self.digest(name, Content.of_bytes(data))

    def of_file(self, name: str, path: str, source: str | None = None) -> str | None:
        """The hook's hash of the file at ``path`` (streamed: never read here
        whole); ``source``: the name its ``content.name`` gives (Django's is the
        source's path)."""
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            return self.digest(name, Content(handle, size, source or path))


def _raised(error: BaseException) -> str:
    """``ValueError('x') at myhash.py:7``: the exception and its innermost frame."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    return f"{error!r}{where}"


def _split(spec: str) -> tuple[str, str]:
    module, _, attribute = spec.partition(":")
    return module, attribute


def _on_path(config: Config) -> None:
    """The project directory first on ``sys.path`` (a Django project's manage.py
    directory is): left there, as the hook may import more when called."""
    project = str(config.project_dir)
    if not sys.path or sys.path[0] != project:
        sys.path.insert(0, project)


def _module_file(module: str, config: Config) -> str | None:
    """The file ``module`` is imported from with the project directory first on
    ``sys.path``, found without importing it (path-based finders; else the
    loaded module's file; None: not known)."""
    search: list[str] | None = [str(config.project_dir), *sys.path]
    spec = None
    try:
        for part in module.split("."):
            spec = PathFinder.find_spec(part, search)
            if spec is None:
                break
            search = list(spec.submodule_search_locations or [])
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.has_location and spec.origin:
        return spec.origin
    loaded = sys.modules.get(module)
    return getattr(loaded, "__file__", None) if loaded is not None else None


def _file_stamp(path: str | None) -> tuple | None:
    """The identity of a module's file: its path, size and mtime (None: none)."""
    try:
        info = os.stat(path) if path else None
    except OSError:
        return None
    return None if info is None else (path, info.st_size, info.st_mtime_ns)


def fingerprint(config: Config) -> list[str]:
    """What of the hook goes into the settings token: the value, and the size and
    mtime of its module's file (an edit there redoes every name). Nothing is
    imported: the token is computed before any phase runs."""
    if config.file_hash is None:
        return []
    stamp = _file_stamp(_module_file(_split(config.file_hash)[0], config))
    return [KEY, config.file_hash, *map(str, stamp or ())]


# (value, project directory) -> (the module file's stamp, the function)
_loaded: dict[tuple[str, str], tuple[tuple, Hook]] = {}


def load(config: Config) -> FileHash | None:
    """The configured hook, imported and checked (None: none configured).

    Imported once per run: again only if its module's file changed (the
    watcher), or if the module loaded under that name is another file (another
    project's, in the same process)."""
    if config.file_hash is None:
        return None
    module_name, attribute = _split(config.file_hash)
    hook = FileHash(config, _no_hook)
    if not module_name or not attribute:
        raise hook.fail(f"expected {EXPECTED}")
    key = (config.file_hash, str(config.project_dir))
    stamp = _file_stamp(_module_file(module_name, config))
    cached = _loaded.get(key)
    if cached is not None and stamp is not None and cached[0] == stamp:
        hook.function = cached[1]
        return hook
    hook.function = _import(hook, module_name, attribute, stamp, changed=cached is not None)
    if stamp is not None:
        _loaded[key] = (stamp, hook.function)
    return hook


def _import(
    hook: FileHash, module_name: str, attribute: str, stamp: tuple | None, changed: bool
) -> Hook:
    """``module:attribute``, from the file ``stamp`` names: the module loaded
    under that name is imported again if it is another file, or reloaded if
    ``changed`` (this process loaded it before, and the file changed since)."""
    _on_path(hook.config)
    loaded = sys.modules.get(module_name)
    try:
        if loaded is not None and stamp is not None:
            if getattr(loaded, "__file__", None) != stamp[0]:
                del sys.modules[module_name]  # another file of that name: not this one
            elif changed:
                importlib.reload(loaded)
        module = importlib.import_module(module_name)
    except Exception as error:
        problem = f"cannot import {module_name!r}: {_raised(error)}; expected {EXPECTED}"
        raise hook.fail(problem) from None
    function: Any = module
    for part in attribute.split("."):
        try:
            function = getattr(function, part)
        except AttributeError:
            raise hook.fail(
                f"{module_name!r} has no attribute {attribute!r}; expected {EXPECTED}"
            ) from None
    if not callable(function):
        what = type(function).__name__
        raise hook.fail(f"{attribute!r} is not callable ({what}); expected {EXPECTED}")
    return function


def _no_hook(name: str, content: Content) -> None:
    raise StaticpipeError("file_hash hook not loaded")
