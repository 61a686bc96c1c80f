"""The ``[tool.staticpipe]`` configuration: loading, validation, defaults."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError

DEFAULT_IGNORE = ("CVS", ".*", "*~")
MISSING_POLICIES = ("error", "warn", "ignore")
STORAGES = ("manifest", "plain")
ENCODING_POLICIES = ("error", "copy")


@dataclass(frozen=True)
class Location:
    """One source directory; files in it are collected under ``prefix/``."""

    root: Path
    prefix: str = ""


@dataclass(frozen=True)
class Config:
    """Everything the pipeline needs to know; paths are absolute."""

    static_root: Path
    static_url: str = "/static/"
    dirs: tuple[Location, ...] = ()
    packages: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()  # gitignore-style (pyproject.toml's ``ignore``)
    # Django's glob-style patterns (``collectstatic --ignore``): fnmatch on a file's
    # name and on its path relative to its location, a directory's on its name
    ignore_globs: tuple[str, ...] = ()
    default_ignore: bool = True
    storage: str = "manifest"
    manifest_strict: bool = True
    file_permissions_mode: int | None = None
    directory_permissions_mode: int | None = None
    missing: str = "error"
    missing_sourcemap: str | None = None  # None: same as ``missing``
    encoding_errors: str = "error"
    js_modules: bool = False
    file_hash: str | None = None  # "package.module:function", Django's file_hash hook
    project_dir: Path = field(default_factory=Path.cwd)
    state_dir: Path | None = None  # None: <project_dir>/.staticpipe
    config_file: Path | None = None

    def __post_init__(self) -> None:
        validate(self)

    @property
    def state_path(self) -> Path:
        return self.state_dir or self.project_dir / ".staticpipe"

    @property
    def ignore_patterns(self) -> tuple[str, ...]:
        return (DEFAULT_IGNORE if self.default_ignore else ()) + self.ignore

    @property
    def sourcemap_policy(self) -> str:
        return self.missing_sourcemap or self.missing

    def with_options(self, **changes: Any) -> Config:
        return replace(self, **changes)


def _where(config: Config) -> str:
    return str(config.config_file) if config.config_file else "configuration"


def validate(config: Config) -> None:
    where = _where(config)
    if not config.static_url.endswith("/"):
        raise ConfigError(f"{where}: static_url must end with '/': {config.static_url!r}")
    if config.storage not in STORAGES:
        raise ConfigError(f"{where}: storage must be one of {STORAGES}: {config.storage!r}")
    for key in ("missing", "missing_sourcemap"):
        value = getattr(config, key)
        if value is not None and value not in MISSING_POLICIES:
            raise ConfigError(f"{where}: {key} must be one of {MISSING_POLICIES}: {value!r}")
    if config.encoding_errors not in ENCODING_POLICIES:
        raise ConfigError(
            f"{where}: encoding_errors must be one of {ENCODING_POLICIES}: "
            f"{config.encoding_errors!r}"
        )
    root = os.path.realpath(config.static_root)
    for location in config.dirs:
        if location.prefix.endswith("/") or location.prefix.startswith("/"):
            raise ConfigError(
                f"{where}: dirs prefix must not start or end with '/': {location.prefix!r}"
            )
        if location.prefix and {"", ".", ".."} & set(location.prefix.split("/")):
            raise ConfigError(
                f"{where}: dirs prefix must be a plain relative path "
                f"(no '.', '..' or empty parts): {location.prefix!r}"
            )
        if os.path.realpath(location.root) == root:
            raise ConfigError(f"{where}: dirs must not contain static_root: {location.root}")


def _mode(value: Any, key: str, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = int(value, 8)
        except ValueError:
            raise ConfigError(f"{where}: {key} must be an octal mode: {value!r}") from None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0o7777:
        raise ConfigError(f"{where}: {key} must be a file mode such as 0o644: {value!r}")
    return value


def _location(entry: Any, base: Path, where: str) -> Location:
    if isinstance(entry, str):
        return Location(root=(base / entry).resolve())
    if isinstance(entry, dict) and set(entry) <= {"prefix", "path"} and "path" in entry:
        return Location(root=(base / entry["path"]).resolve(), prefix=entry.get("prefix", ""))
    if isinstance(entry, (list, tuple)) and len(entry) == 2:
        return Location(root=(base / entry[1]).resolve(), prefix=entry[0])
    raise ConfigError(
        f"{where}: each dirs entry must be a path or {{ prefix = ..., path = ... }}: {entry!r}"
    )


KNOWN_KEYS = {
    "static_root", "static_url", "dirs", "packages", "ignore", "default_ignore",
    "storage", "manifest_strict", "file_permissions_mode", "directory_permissions_mode",
    "missing", "missing_sourcemap", "encoding_errors", "js_modules", "state_dir",
    "file_hash",
}  # fmt: skip


def from_mapping(data: dict[str, Any], base: Path, config_file: Path | None = None) -> Config:
    """Build a Config from a ``[tool.staticpipe]``-shaped dict; paths relative to ``base``."""
    where = str(config_file) if config_file else "configuration"
    unknown = sorted(set(data) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) in [tool.staticpipe]: {', '.join(unknown)}")
    if "static_root" not in data:
        raise ConfigError(f"{where}: [tool.staticpipe] needs static_root")
    base = base.resolve()
    for key in ("dirs", "packages", "ignore"):
        if not isinstance(data.get(key, []), list):
            raise ConfigError(f"{where}: {key} must be a list")
    for key in ("default_ignore", "manifest_strict", "js_modules"):
        if not isinstance(data.get(key, True), bool):
            raise ConfigError(f"{where}: {key} must be true or false")
    try:
        return Config(
            static_root=(base / data["static_root"]).resolve(),
            static_url=data.get("static_url", "/static/"),
            dirs=tuple(_location(entry, base, where) for entry in data.get("dirs", [])),
            packages=tuple(data.get("packages", [])),
            ignore=tuple(data.get("ignore", [])),
            default_ignore=data.get("default_ignore", True),
            storage=data.get("storage", "manifest"),
            manifest_strict=data.get("manifest_strict", True),
            file_permissions_mode=_mode(
                data.get("file_permissions_mode"), "file_permissions_mode", where
            ),
            directory_permissions_mode=_mode(
                data.get("directory_permissions_mode"), "directory_permissions_mode", where
            ),
            missing=data.get("missing", "error"),
            missing_sourcemap=data.get("missing_sourcemap"),
            encoding_errors=data.get("encoding_errors", "error"),
            js_modules=data.get("js_modules", False),
            file_hash=data.get("file_hash"),
            project_dir=base,
            state_dir=(base / data["state_dir"]).resolve() if "state_dir" in data else None,
            config_file=config_file,
        )
    except TypeError as exc:  # e.g. a number where a string belongs
        raise ConfigError(f"{where}: {exc}") from None


def find_config_file(start: Path | None = None) -> Path:
    """The nearest ``pyproject.toml`` with a ``[tool.staticpipe]`` table, from ``start`` up."""
    start = (start or Path.cwd()).resolve()
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file() and "staticpipe" in _read_toml(candidate).get("tool", {}):
            return candidate
    raise ConfigError(f"no pyproject.toml with a [tool.staticpipe] table in {start} or above")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load ``[tool.staticpipe]`` from ``path`` (a pyproject.toml or its directory)."""
    if path is None:
        config_file = find_config_file()
    else:
        config_file = Path(path)
        if config_file.is_dir():
            config_file = config_file / "pyproject.toml"
        if not config_file.is_file():
            raise ConfigError(f"{config_file}: no such configuration file")
        config_file = config_file.resolve()
    table = _read_toml(config_file).get("tool", {}).get("staticpipe")
    if table is None:
        raise ConfigError(f"{config_file}: no [tool.staticpipe] table")
    return from_mapping(table, config_file.parent, config_file)
