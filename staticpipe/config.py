"""The ``[tool.staticpipe]`` configuration: loading, validation, defaults."""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .compress.settings import CompressSettings, compress_settings
from .errors import ConfigError
from .integrity import algorithm_setting

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
class Publish:
    """Where ``doit publish`` uploads the build: ``url = "s3://bucket/prefix/"``."""

    bucket: str
    prefix: str = ""  # "" or a key prefix ending with "/"
    endpoint_url: str | None = None  # None: AWS's own endpoint for the region
    region: str | None = None  # None: boto3's (AWS_DEFAULT_REGION, the profile)
    profile: str | None = None  # None: boto3's credential chain as it stands
    cache_control: str = "public, max-age=60"  # names without a hash
    hashed_cache_control: str = "public, max-age=31536000, immutable"
    workers: int = 8  # uploads in flight at once

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


@dataclass(frozen=True)
class Retention:
    """Which old hashed files go: those no build among the last ``builds``
    references and that are older than ``age`` seconds (Propshaft's defaults)."""

    builds: int = 2
    age: float = 3600.0


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
    globs: tuple[str, ...] = ()
    default_ignore: bool = True
    storage: str = "manifest"
    manifest_strict: bool = True
    # Django's defaults (FILE_UPLOAD_PERMISSIONS, and 0o755 for directories),
    # whatever the umask; None: the umask's (0o666 or 0o777 & ~umask)
    file_permissions_mode: int | None = 0o644
    directory_permissions_mode: int | None = 0o755
    missing: str = "error"
    missing_sourcemap: str | None = None  # None: same as ``missing``
    encoding_errors: str = "error"
    js_modules: bool = False
    file_hash: str | None = None  # "package.module:function", Django's file_hash hook
    project_dir: Path = field(default_factory=Path.cwd)
    state_dir: Path | None = None  # None: <project_dir>/.staticpipe
    config_file: Path | None = None
    publish: Publish | None = None  # None: no [tool.staticpipe] publish table
    retention: Retention | None = None  # None: keep every old version, as Django
    compress: CompressSettings = CompressSettings(())  # precompression (none: off)
    integrity: str | None = None  # "sha384" (or sha256/sha512): SRI values; None: off
    # From Django's settings (``django_settings``, staticpipe/django/settings.py):
    # the ``static/`` directory of each installed app with one (AppConfig.path), in
    # INSTALLED_APPS order, searched after ``dirs`` and before ``packages``
    apps: tuple[Location, ...] = ()
    # the staticfiles app's ``ignore_patterns`` (glob-style) where they are not
    # Django's defaults: the default ignore patterns then (None: DEFAULT_IGNORE)
    default_globs: tuple[str, ...] | None = None
    django_settings: str | None = None  # the settings module this was read from

    def __post_init__(self) -> None:
        validate(self)

    @property
    def state_path(self) -> Path:
        return self.state_dir or self.project_dir / ".staticpipe"

    @property
    def ignore_patterns(self) -> tuple[str, ...]:
        """The gitignore-style patterns: the defaults (unless Django's settings
        give others) and ``ignore``."""
        defaults = self.default_ignore and self.default_globs is None
        return (DEFAULT_IGNORE if defaults else ()) + self.ignore

    @property
    def ignore_globs(self) -> tuple[str, ...]:
        """Django's glob-style patterns: the staticfiles app's own defaults, if
        the settings give them, and ``collect --ignore``'s."""
        defaults = self.default_globs if self.default_ignore else None
        return (defaults or ()) + self.globs

    @property
    def where(self) -> str:
        """What error messages name: the config file, if the config has one."""
        if self.config_file:
            return str(self.config_file)
        if self.django_settings:
            return f"Django settings {self.django_settings}"
        return "configuration"

    @property
    def sourcemap_policy(self) -> str:
        return self.missing_sourcemap or self.missing

    def with_options(self, **changes: Any) -> Config:
        return replace(self, **changes)


def validate(config: Config) -> None:
    """What a Config built in Python (not from a file) must hold too."""
    where = config.where
    if not config.static_url.endswith("/"):
        raise _invalid(where, "static_url", config.static_url, "a URL ending with '/'")
    _choice(where, "storage", config.storage, STORAGES)
    _choice(where, "missing", config.missing, MISSING_POLICIES)
    if config.missing_sourcemap is not None:
        _choice(where, "missing_sourcemap", config.missing_sourcemap, MISSING_POLICIES)
    _choice(where, "encoding_errors", config.encoding_errors, ENCODING_POLICIES)
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


# -- reading [tool.staticpipe]: every value checked, one line per problem ----------
def toml_value(value: Any) -> str:
    """``value`` as it would be written in TOML (for messages), shortened."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, dict):
        text = "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(toml_value(item) for item in value) + "]"
    else:
        text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _invalid(where: str, key: str, value: Any, expected: str) -> ConfigError:
    return ConfigError(f"{where}: {key} = {toml_value(value)}: expected {expected}")


def _choice(where: str, key: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise _invalid(where, key, value, "one of " + ", ".join(map(json.dumps, choices)))
    return value


def _string(where: str, key: str, value: Any, what: str = "a string") -> str:
    if not isinstance(value, str):
        raise _invalid(where, key, value, what)
    return value


def _path(where: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(where, key, value, "a path (a non-empty string)")
    return value


def _bool(where: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _invalid(where, key, value, "true or false")
    return value


def _strings(where: str, key: str, value: Any, check=None) -> tuple[str, ...]:
    expected = "a list of strings"
    if not isinstance(value, list):
        raise _invalid(where, key, value, expected)
    for item in value:
        if not isinstance(item, str) or (check is not None and not check(item)):
            what = expected if check is None else check.__doc__
            raise _invalid(where, key, value, f"{what}; {toml_value(item)} is not")
    return tuple(value)


def _is_dotted_name(text: str) -> bool:
    """a list of importable package names (dotted Python identifiers)"""
    return bool(text) and all(part.isidentifier() for part in text.split("."))


def _is_hook(text: str) -> bool:
    """ "package.module:function\""""
    module, colon, attribute = text.partition(":")
    return bool(colon) and _is_dotted_name(module) and _is_dotted_name(attribute)


def _mode(value: Any, key: str, where: str) -> int | None:
    if value is None:
        return None
    expected = 'a file mode such as 0o644 (or the string "644")'
    if isinstance(value, str):
        try:
            value = int(value, 8)
        except ValueError:
            raise _invalid(where, key, value, expected) from None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0o7777:
        raise _invalid(where, key, value, expected)
    return value


DIRS_ENTRY = 'a path or { prefix = "...", path = "..." }'


def _location(entry: Any, base: Path, where: str) -> Location:
    if isinstance(entry, dict) and set(entry) <= {"prefix", "path"} and "path" in entry:
        prefix, path = entry.get("prefix", ""), entry["path"]
    elif isinstance(entry, list) and len(entry) == 2:
        prefix, path = entry
    else:
        prefix, path = "", entry
    if not isinstance(prefix, str) or not isinstance(path, str) or not path.strip():
        raise _invalid(where, "dirs", [entry], f"each entry {DIRS_ENTRY}")
    return Location(root=(base / path).resolve(), prefix=prefix)


KNOWN_KEYS = {
    "static_root", "static_url", "dirs", "packages", "ignore", "default_ignore",
    "storage", "manifest_strict", "file_permissions_mode", "directory_permissions_mode",
    "missing", "missing_sourcemap", "encoding_errors", "js_modules", "state_dir",
    "file_hash", "publish", "keep_builds", "keep_age", "django_settings",
    "compress", "compress_levels", "compress_cache_bytes", "integrity",
}  # fmt: skip


def _check_keys(data: dict[str, Any], where: str) -> None:
    for key in data:
        if key not in KNOWN_KEYS:
            close = difflib.get_close_matches(key, sorted(KNOWN_KEYS), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"{where}: unknown key {key} in [tool.staticpipe]{hint}")
    if "static_root" not in data and "django_settings" not in data:
        raise ConfigError(
            f"{where}: [tool.staticpipe] needs static_root (a path), "
            'or django_settings (a Django settings module, "mysite.settings")'
        )


def _django_fields(data: dict[str, Any], base: Path, where: str, head: str | None) -> dict:
    """The Config fields Django's settings give (``django_settings``), or none.
    ``head``: what messages start with (None: the key, in ``where``)."""
    module = data.get("django_settings")
    if module is None:
        return {}
    if not isinstance(module, str) or not _is_dotted_name(module):
        raise _invalid(where, "django_settings", module, 'a settings module ("mysite.settings")')
    from .django.settings import read_settings  # Django only where it is asked for

    fields = read_settings(module, base, head or f'{where}: django_settings = "{module}"')
    for key in ("dirs", "apps"):
        pairs = fields.get(key, ())
        fields[key] = tuple(Location(root=root, prefix=prefix) for prefix, root in pairs)
    if sorted(fields.get("default_globs", DEFAULT_IGNORE)) == sorted(DEFAULT_IGNORE):
        fields.pop("default_globs", None)  # Django's defaults: staticpipe's own
    return fields


def from_mapping(
    data: dict[str, Any], base: Path, config_file: Path | None = None, where: str | None = None
) -> Config:
    """Build a Config from a ``[tool.staticpipe]``-shaped dict; paths relative to ``base``.

    Each value is checked here, before it is used: a wrong one is a ConfigError
    naming the key, the value as written and what is expected. With
    ``django_settings``, Django's settings give static_root, static_url, dirs,
    the apps, the ignore patterns, storage, manifest_strict, js_modules and the
    permissions; a key given here as well overrides the settings (``packages``
    replaces the installed apps).
    """
    head = where  # from the environment: DJANGO_SETTINGS_MODULE=...
    where = where or (str(config_file) if config_file else "configuration")
    _check_keys(data, where)
    base = base.resolve()
    fields: dict[str, Any] = _django_fields(data, base, where, head)
    fields.update(_locations(data, base, where))
    fields.update(_choices(data, where))
    file_hash = data.get("file_hash")
    if file_hash is not None and not (isinstance(file_hash, str) and _is_hook(file_hash)):
        raise _invalid(where, "file_hash", file_hash, '"package.module:function"')
    if "django_settings" in data:
        for key, setting in (("static_root", "STATIC_ROOT"), ("static_url", "STATIC_URL")):
            if key not in fields:
                raise ConfigError(
                    f"{head or where}: {setting} is not set (nor {key} in [tool.staticpipe]): "
                    f"expected {'the directory to build into' if key == 'static_root' else 'a URL'}"
                )
    state_dir = data.get("state_dir")
    compress = data.get("compress", fields.pop("django_compress", []))
    fields.pop("django_compress", None)
    return Config(
        **fields,
        file_hash=file_hash,
        project_dir=base,
        state_dir=None
        if state_dir is None
        else (base / _path(where, "state_dir", state_dir)).resolve(),
        config_file=config_file,
        publish=None if data.get("publish") is None else _publish(data["publish"], where),
        retention=_retention(data.get("keep_builds"), data.get("keep_age"), where),
        compress=compress_settings(
            compress,
            data.get("compress_levels"),
            data.get("compress_cache_bytes"),
            where=where,
        ),
        integrity=algorithm_setting(data.get("integrity"), where),
    )


def _locations(data: dict[str, Any], base: Path, where: str) -> dict[str, Any]:
    """Where to build, the URL, and where to find files, as the table gives them."""
    fields: dict[str, Any] = {}
    if "static_root" in data:
        fields["static_root"] = (base / _path(where, "static_root", data["static_root"])).resolve()
    if "static_url" in data:
        fields["static_url"] = _string(where, "static_url", data["static_url"], "a URL string")
    if "dirs" in data:
        dirs = data["dirs"]
        if not isinstance(dirs, list):
            raise _invalid(where, "dirs", dirs, f"a list, each entry {DIRS_ENTRY}")
        fields["dirs"] = tuple(_location(entry, base, where) for entry in dirs)
    if "packages" in data:
        fields["packages"] = _strings(where, "packages", data["packages"], _is_dotted_name)
        fields["apps"] = ()  # the table's packages in place of INSTALLED_APPS
    return fields


def _choices(data: dict[str, Any], where: str) -> dict[str, Any]:
    """The switches, patterns, policies and modes the table gives."""
    fields: dict[str, Any] = {}
    for key in ("default_ignore", "manifest_strict", "js_modules"):
        if key in data:
            fields[key] = _bool(where, key, data[key])
    if "ignore" in data:
        fields["ignore"] = _strings(where, "ignore", data["ignore"])
    if "storage" in data:
        fields["storage"] = _choice(where, "storage", data["storage"], STORAGES)
    for key in ("file_permissions_mode", "directory_permissions_mode"):
        if key in data:
            fields[key] = _mode(data[key], key, where)
    for key, choices in (
        ("missing", MISSING_POLICIES),
        ("missing_sourcemap", MISSING_POLICIES),
        ("encoding_errors", ENCODING_POLICIES),
    ):
        if key in data:
            fields[key] = _choice(where, key, data[key], choices)
    return fields


PUBLISH_KEYS = (
    "url", "endpoint_url", "region", "profile", "cache_control", "hashed_cache_control",
    "workers",
)  # fmt: skip
_S3_URL = re.compile(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/((?:[^/]+/)*)")
CREDENTIAL_KEYS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")


def _publish(value: Any, where: str) -> Publish:
    """``publish = { url = "s3://bucket/prefix/", ... }``; credentials never here."""
    if not isinstance(value, dict):
        raise _invalid(where, "publish", value, '{ url = "s3://bucket/prefix/", ... }')
    for key in value:
        if key.lower() in CREDENTIAL_KEYS or "secret" in key.lower():
            raise ConfigError(
                f"{where}: publish.{key}: credentials do not belong in the configuration "
                "file; use the environment (AWS_ACCESS_KEY_ID, ...), a profile or a role"
            )
        if key not in PUBLISH_KEYS:
            close = difflib.get_close_matches(key, PUBLISH_KEYS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"{where}: unknown key publish.{key}{hint}")
    url = value.get("url")
    match = _S3_URL.fullmatch(url) if isinstance(url, str) else None
    if match is None:
        raise _invalid(
            where, "publish.url", url,
            '"s3://bucket/" or "s3://bucket/prefix/" (a valid bucket name; a prefix ends with "/")',
        )  # fmt: skip
    text = {}
    for key in ("endpoint_url", "region", "profile", "cache_control", "hashed_cache_control"):
        if key in value:
            text[key] = _string(where, f"publish.{key}", value[key])
    endpoint = text.get("endpoint_url")
    if endpoint is not None and not re.match(r"https?://[^/]", endpoint):
        raise _invalid(where, "publish.endpoint_url", endpoint, "an http:// or https:// URL")
    workers = value.get("workers", 8)
    if not isinstance(workers, int) or isinstance(workers, bool) or not 1 <= workers <= 64:
        raise _invalid(where, "publish.workers", workers, "a whole number from 1 to 64")
    return Publish(bucket=match[1], prefix=match[2], workers=workers, **text)


_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d|w)")
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _retention(builds: Any, age: Any, where: str) -> Retention | None:
    """``keep_builds = N`` and ``keep_age = "1h"``; either one sets a policy (the
    other then takes Propshaft's default), neither keeps everything."""
    if builds is None and age is None:
        return None
    default = Retention()
    if builds is None:
        builds = default.builds
    elif not isinstance(builds, int) or isinstance(builds, bool) or builds < 1:
        raise _invalid(where, "keep_builds", builds, "a whole number of builds, at least 1")
    if age is None:
        seconds = default.age
    elif isinstance(age, int) and not isinstance(age, bool) and age >= 0:
        seconds = float(age)
    else:
        match = _AGE.fullmatch(age.strip()) if isinstance(age, str) else None
        if match is None:
            raise _invalid(
                where, "keep_age", age, 'an age such as "90s", "30m", "1h", "7d" or seconds'
            )
        seconds = float(match[1]) * _AGE_UNITS[match[2]]
    return Retention(builds=builds, age=seconds)


def nearest_config(start: str | os.PathLike[str]) -> Path | None:
    """The nearest ``pyproject.toml`` with a ``[tool.staticpipe]`` table, from
    ``start`` up, or None."""
    start = Path(start).resolve()
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file() and staticpipe_table(read_toml(candidate), candidate) is not None:
            return candidate
    return None


def find_config_file(start: Path | None = None) -> Path:
    """:func:`nearest_config` from ``start`` (the current directory), or ConfigError."""
    start = (start or Path.cwd()).resolve()
    found = nearest_config(start)
    if found is None:
        raise ConfigError(f"no pyproject.toml with a [tool.staticpipe] table in {start} or above")
    return found


def read_toml(path: Path) -> dict[str, Any]:
    path = path.absolute()
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_error(path, exc)) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: invalid TOML: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


_AT = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")


def _toml_error(path: Path, error: tomllib.TOMLDecodeError) -> str:
    """``file:line:column: invalid TOML: what`` (tomllib puts the place at the end)."""
    message = str(error)
    place = _AT.search(message)
    if place is None:
        return f"{path}: invalid TOML: {message}"
    line, column = place[1], place[2]
    if line is None:  # at the end of the document: its last line
        lines = path.read_text(errors="replace").split("\n")
        line, column = str(len(lines)), str(len(lines[-1]) + 1)
    return f"{path}:{line}:{column}: invalid TOML: {message[: place.start()]}"


def staticpipe_table(data: dict[str, Any], path: Path) -> dict[str, Any] | None:
    """The ``[tool.staticpipe]`` table of a parsed pyproject.toml, None if absent."""
    tool = data.get("tool", {})
    table = tool.get("staticpipe") if isinstance(tool, dict) else None
    if table is not None and not isinstance(table, dict):
        raise _invalid(str(path), "tool.staticpipe", table, "a table ([tool.staticpipe])")
    return table


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load ``[tool.staticpipe]`` from ``path`` (a pyproject.toml or its directory).

    Without ``path``: the nearest pyproject.toml with the table from the current
    directory up; if there is none, ``DJANGO_SETTINGS_MODULE`` from the
    environment, as ``django_settings`` (the table wins over the environment)."""
    if path is None:
        start = Path.cwd().resolve()
        config_file = nearest_config(start)
        module = os.environ.get("DJANGO_SETTINGS_MODULE")
        if config_file is None and module:
            where = f"DJANGO_SETTINGS_MODULE={module}"
            config = from_mapping({"django_settings": module}, start, None, where)
            from .django.settings import project_dir

            return config.with_options(project_dir=project_dir(module))  # as manage.py's
        if config_file is None:
            raise ConfigError(
                f"no pyproject.toml with a [tool.staticpipe] table in {start} or above "
                "(and no DJANGO_SETTINGS_MODULE in the environment)"
            )
    else:
        config_file = Path(path)
        if config_file.is_dir():
            config_file = config_file / "pyproject.toml"
        if not config_file.is_file():
            raise ConfigError(f"{config_file}: no such configuration file")
        config_file = config_file.resolve()
    table = staticpipe_table(read_toml(config_file), config_file)
    if table is None:
        raise ConfigError(f"{config_file}: no [tool.staticpipe] table")
    return from_mapping(table, config_file.parent, config_file)


ConfigSource = Config | Callable[[], Config] | str | os.PathLike[str] | None


def resolve_config(source: ConfigSource) -> Config:
    """The Config a task was made with: a Config, a callable returning one, a path
    to a pyproject.toml (or its directory), or None: ``$STATICPIPE_CONFIG``, else
    the nearest ``[tool.staticpipe]`` from the current directory."""
    if isinstance(source, Config):
        return source
    if callable(source):
        return source()
    if source is None and os.environ.get("STATICPIPE_CONFIG"):
        source = os.environ["STATICPIPE_CONFIG"]
    return load_config(source)
