"""Finders: where static files come from, in Django's order (dirs, then packages).

The first location that has a relative path wins; later duplicates are skipped.
Walk order matches Django's (``os.scandir`` order, a directory's files before its
subdirectories) so the manifest's key order matches too.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from stat import S_ISDIR
from typing import NamedTuple

from ..config import Config, Location
from ..errors import ConfigError
from ..fs.fsutil import prefix
from .ignore import IgnoreRules


class Found(NamedTuple):
    """A file to collect: ``name`` is its POSIX path under static_root. (A tuple:
    one per file, rebuilt from the saved listing on every run.)"""

    name: str
    source: str  # absolute path of the source file
    location: int  # index into the location list


def package_location(package: str, project_dir: Path | None = None) -> Location | None:
    """The ``static/`` directory of a package, or None if it has none.

    The package is looked up in the project directory first (like a Django app
    next to manage.py), then through ``importlib`` without importing it.
    """
    local = project_dir / package.replace(".", "/") if project_dir else None
    if local is not None and (local / "__init__.py").is_file():
        base = local
    else:
        head, _, last = package.rpartition(".")
        try:
            spec = importlib.util.find_spec(package)  # (imports the parent packages)
        except Exception as exc:
            if head and last[:1].isupper():  # "shop.apps.ShopConfig", from INSTALLED_APPS
                raise ConfigError(
                    f'packages: "{package}": an AppConfig path, expected the app\'s package '
                    f'("{head.removesuffix(".apps")}"), or django_settings to read '
                    "INSTALLED_APPS"
                ) from None
            what = f"{type(exc).__name__}: " if not isinstance(exc, ImportError) else ""
            raise ConfigError(f'packages: "{package}": cannot be looked up: {what}{exc}') from None
        if spec is None:
            raise ConfigError(
                f'packages: "{package}": no such package (expected one on sys.path, '
                "or a directory with __init__.py in the project directory)"
            )
        if spec.submodule_search_locations:
            base = Path(list(spec.submodule_search_locations)[0])
        elif spec.origin:
            base = Path(spec.origin).parent
        else:
            raise ConfigError(f"packages: {package!r} has no directory")
    static = base / "static"
    return Location(root=static.resolve()) if static.is_dir() else None


def locations(config: Config) -> list[Location]:
    """Every source location in finder order, duplicates dropped: ``dirs``, the
    Django apps' ``static/`` directories (from the settings), then ``packages``."""
    result: list[Location] = []
    for location in (*config.dirs, *config.apps):
        if location not in result:
            result.append(location)
    for package in config.packages:
        try:
            location = package_location(package, config.project_dir)
        except ConfigError as error:
            raise ConfigError(f"{config.where}: {error}") from None
        if location is not None and location not in result:
            result.append(location)
    return result


Visited = dict[str, "int | None"]  # directory path -> mtime_ns (None: missing)


def _walk(
    root: str,
    rules: IgnoreRules,
    seen: frozenset,
    exclude: frozenset = frozenset(),
    visited: Visited | None = None,
) -> list[str]:
    """Relative POSIX paths of the files under ``root``, Django's order: a
    directory's files, then each subdirectory's in turn, depth first (a stack,
    not nested generators: each name would pass through one per level).

    Directories in ``exclude`` (dev, inode) are skipped: static_root and the state
    directory, so a location that contains them never collects our own outputs.
    ``visited`` collects each walked directory's mtime, taken before listing it.
    ``seen``: ``root``'s own identity (stat'ed by the caller).
    """
    files: list[str] = []
    stack: list[tuple[str, frozenset]] = [("", seen)]
    while stack:
        rel, seen = stack.pop()
        path = os.path.join(root, rel) if rel else root
        if rel:
            stat = os.stat(path)
            key = (stat.st_dev, stat.st_ino)
            if key in seen or key in exclude:  # a symlink loop, or our own output
                continue
            if visited is not None:
                visited[path] = stat.st_mtime_ns
            seen = seen | {key}
        try:
            entries = list(os.scandir(path))
        except (FileNotFoundError, NotADirectoryError):
            continue
        directories: list[str] = []
        for entry in entries:
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            if is_dir:
                directories.append(entry.name)
            elif not rules.ignores_entry(rel, entry.name, False) and entry.is_file():
                files.append(f"{rel}/{entry.name}" if rel else entry.name)
        for name in reversed(directories):  # popped in scandir order
            if not rules.ignores_entry(rel, name, True):
                stack.append((f"{rel}/{name}" if rel else name, seen))
    return files


def _identities(paths: Iterable[Path]) -> frozenset:
    keys = set()
    for path in paths:
        try:
            stat = os.stat(path)
        except OSError:
            continue
        keys.add((stat.st_dev, stat.st_ino))
    return frozenset(keys)


def list_location(
    location: Location,
    rules: IgnoreRules,
    exclude: frozenset = frozenset(),
    visited: Visited | None = None,
) -> Iterator[str]:
    root = str(location.root)
    try:
        stat = os.stat(root)
    except OSError:
        stat = None
    if stat is None or not S_ISDIR(stat.st_mode):
        if visited is not None:
            visited[root] = None
        return
    if visited is not None:
        visited[root] = stat.st_mtime_ns
    seen = frozenset({(stat.st_dev, stat.st_ino)})
    files = _walk(root, rules, seen, exclude, visited)
    if location.prefix:
        yield from (f"{location.prefix}/{rel}" for rel in files)
    else:
        yield from files


def find_all(
    config: Config,
    rules: IgnoreRules | None = None,
    visited: Visited | None = None,
    where: list[Location] | None = None,
    duplicates: list[str] | None = None,
) -> dict[str, Found]:
    """Every file to collect, keyed by name, in Django's collection order.

    ``visited``, if given, receives every walked directory's mtime (see
    discovery.py); ``where`` is ``locations(config)`` if the caller has it;
    ``duplicates`` each name found again in a later location (not collected).
    """
    rules = rules or IgnoreRules(config.ignore_patterns, config.ignore_globs)
    found: dict[str, Found] = {}
    exclude = _identities([config.static_root, config.state_path])
    make = tuple.__new__  # Found(...) without its Python-level __new__
    for index, location in enumerate(locations(config) if where is None else where):
        base = prefix(str(location.root))
        skip = len(location.prefix) + 1 if location.prefix else 0
        for name in list_location(location, rules, exclude, visited):
            if name not in found:
                found[name] = make(Found, (name, base + name[skip:], index))
            elif duplicates is not None:
                duplicates.append(name)
    return found


def _inside(root: str, path: str) -> str | None:
    """``root/path`` if it stays inside ``root`` (no ``..`` or absolute escape)."""
    candidate = os.path.normpath(os.path.join(root, path))
    if candidate != root and not candidate.startswith(root.rstrip("/") + "/"):
        return None
    return candidate


def find(
    config: Config, path: str, first: bool = False, searched: list[str] | None = None
) -> list[str]:
    """Where ``path`` is found, like Django's findstatic: all matches in finder order.
    ``searched`` receives each location looked in (Django's searched_locations)."""
    matches: list[str] = []
    for location in locations(config):
        if searched is not None and str(location.root) not in searched:
            searched.append(str(location.root))
        relative = path
        if location.prefix:
            if not path.startswith(location.prefix + "/"):
                continue
            relative = path[len(location.prefix) + 1 :]
        candidate = _inside(str(location.root), relative)
        if candidate and os.path.exists(candidate):
            matches.append(candidate)
            if first:
                break
    return matches
