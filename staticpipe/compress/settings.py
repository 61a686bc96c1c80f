"""The compression settings, checked: ``compress``, ``compress_levels`` and
``compress_cache_bytes`` of ``[tool.staticpipe]`` into a frozen ``CompressSettings``.

Every problem is one line naming the key and the value (as ``config.py`` words
them), raised as ``ConfigError`` (a ``StaticpipeError``), before any file is read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from .encoders import ENCODINGS, Encoding

# Enough for the compressed outputs of a large site in every encoding, so that a
# --clear rebuild finds each content in the cache; old contents go first beyond it.
DEFAULT_CACHE_BYTES = 1 << 30


@dataclass(frozen=True)
class Coding:
    """One encoding at one level: what a ``name<suffix>`` file is made with."""

    encoding: Encoding
    level: int

    @property
    def name(self) -> str:
        return self.encoding.name

    @property
    def suffix(self) -> str:
        return self.encoding.suffix

    @property
    def key(self) -> str:
        """``gzip-9``: names the cache's entries, and a settings token's part."""
        return f"{self.encoding.name}-{self.level}"


@dataclass(frozen=True)
class CompressSettings:
    """The encodings to write, in the order given, each at its level; and the
    bound of the content-addressed cache. No codings: compression is off."""

    codings: tuple[Coding, ...] = ()
    cache_max_bytes: int = DEFAULT_CACHE_BYTES

    @property
    def enabled(self) -> bool:
        return bool(self.codings)

    @property
    def encodings(self) -> tuple[str, ...]:
        return tuple(coding.name for coding in self.codings)

    @property
    def suffixes(self) -> tuple[str, ...]:
        return tuple(coding.suffix for coding in self.codings)

    def token(self) -> str:
        """What the outputs depend on (``gzip-9 br-11``): when it changes, every
        compressed output must be made again. The cache bound is not in it."""
        return " ".join(coding.key for coding in self.codings)


def compress_settings(
    compress: Any = (),
    levels: Any = None,
    cache_bytes: Any = None,
    where: str = "pyproject.toml",
) -> CompressSettings:
    """``CompressSettings`` from the values of the keys ``compress`` (a list of
    "gzip", "br", "zstd"), ``compress_levels`` (a table: encoding -> level; the
    defaults are gzip 9, br 11, zstd 19) and ``compress_cache_bytes``. ``where``
    starts each message (the configuration file). An encoding whose package is
    not installed is an error naming the package and the extra that brings it."""
    names = _encoding_names(compress, where)
    chosen = _levels(levels, where)
    codings = []
    for name in names:
        encoding = ENCODINGS[name]
        if not encoding.available():
            raise ConfigError(
                f"{where}: compress = {_shown(compress)}: {name!r} needs the "
                f"{encoding.package} package: pip install 'staticpipe[compress]'"
            )
        codings.append(Coding(encoding, chosen.get(name, encoding.default_level)))
    return CompressSettings(tuple(codings), _cache_bytes(cache_bytes, where))


def _encoding_names(value: Any, where: str) -> tuple[str, ...]:
    expected = "a list of " + ", ".join(map(json.dumps, ENCODINGS))
    if not isinstance(value, (list, tuple)):
        raise _invalid(where, "compress", value, expected)
    for name in value:
        if not isinstance(name, str) or name not in ENCODINGS:
            raise _invalid(where, "compress", value, expected)
    if len(set(value)) != len(value):
        raise _invalid(where, "compress", value, "each encoding once")
    return tuple(value)


def _levels(value: Any, where: str) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _invalid(where, "compress_levels", value, "a table like { gzip = 9, br = 11 }")
    levels = {}
    for name, level in value.items():
        encoding = ENCODINGS.get(name)
        if encoding is None:
            raise _invalid(
                where,
                "compress_levels",
                value,
                "keys among " + ", ".join(map(json.dumps, ENCODINGS)),
            )
        valid = isinstance(level, int) and not isinstance(level, bool)
        if not valid or not encoding.min_level <= level <= encoding.max_level:
            raise _invalid(
                where,
                f"compress_levels.{name}",
                level,
                f"an integer from {encoding.min_level} to {encoding.max_level}",
            )
        levels[name] = level
    return levels


def _cache_bytes(value: Any, where: str) -> int:
    if value is None:
        return DEFAULT_CACHE_BYTES
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _invalid(where, "compress_cache_bytes", value, "a number of bytes (0 or more)")
    return value


def _invalid(where: str, key: str, value: Any, expected: str) -> ConfigError:
    """``config.py``'s wording: ``file: key = value: expected ...``."""
    return ConfigError(f"{where}: {key} = {_shown(value)}: expected {expected}")


def _shown(value: Any) -> str:
    """``value`` as written in TOML, shortened (``config.toml_value``'s rendering;
    not imported from there, so that config.py can import this module)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, Mapping):
        text = "{ " + ", ".join(f"{k} = {_shown(v)}" for k, v in value.items()) + " }"
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(_shown(item) for item in value) + "]"
    else:
        text = str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= 80 else text[:77] + "..."
