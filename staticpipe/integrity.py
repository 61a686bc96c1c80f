"""Subresource integrity: ``staticfiles.integrity.json`` beside ``staticfiles.json``.

``integrity = "sha384"`` in ``[tool.staticpipe]`` records, for every hashed file
of a build, its SRI value (``sha384-<base64 of the digest of its final bytes>``,
what a browser compares with ``<link integrity="...">``). Django's
``staticfiles.json`` must stay byte-identical to Django's, so the values live in
a file of their own, next to it::

    {"version": 1, "algorithm": "sha384", "integrity": {
    "css/base.4b1c0e2a9f3d.css": "sha384-...",
    ...
    }}

Keys are hashed names (the manifest's values), sorted, one per line (a build
that changes one file changes one line of it). Keying by hashed name means a
stale file can never hand out a wrong value: a changed file has a new hashed
name, which a stale integrity file does not know (an error at run time, not a
page the browser blocks). With ``storage = "plain"`` the names are the plain ones.

The core here is pure (no doit): ``sri`` hashes bytes or a file, ``build``
computes every value of a build from ``static_root`` and the manifest's
``paths``, ``updated`` applies an incremental phase's changes to the values it
read (``read``), and ``write`` renders (``render``) and replaces the file
atomically. Every problem is a one-line :class:`IntegrityError` naming its file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, StaticpipeError
from .fs import fsutil
from .ledger import crash
from .rewrite.hashing import chunk_buffer

ALGORITHMS = ("sha256", "sha384", "sha512")  # what browsers accept (the SRI spec's list)
DEFAULT_ALGORITHM = "sha384"  # the one the SRI spec and MDN's examples use
INTEGRITY_NAME = "staticfiles.integrity.json"
VERSION = 1
CONFIG_KEY = "integrity"

Source = bytes | bytearray | memoryview | str | os.PathLike[str]


class IntegrityError(StaticpipeError, ValueError):
    """The integrity file is missing, damaged, or lacks a name (one line, naming it).

    A ``ValueError`` too, as the run time's other lookup errors.
    """


@dataclass(frozen=True)
class Integrity:
    """What the integrity file holds: its algorithm and hashed name -> SRI value."""

    algorithm: str
    values: dict[str, str]


# -- the setting ---------------------------------------------------------------------
def algorithm_setting(value: Any, where: str = "configuration") -> str | None:
    """The algorithm ``integrity = ...`` asks for; None (absent or None) is off.

    Anything else is a one-line ConfigError naming the key and the value, in the
    words of config.py's other checks."""
    if value is None:
        return None
    if not isinstance(value, str) or value not in ALGORITHMS:
        choices = ", ".join(json.dumps(name) for name in ALGORITHMS)
        shown = json.dumps(value) if isinstance(value, str) else repr(value)
        if isinstance(value, bool):
            shown = "true" if value else "false"
        raise ConfigError(f"{where}: {CONFIG_KEY} = {shown}: expected one of {choices}")
    return value


def _check_algorithm(algorithm: str) -> str:
    """``algorithm`` from code, not a file: a bad one is a programming error."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"SRI algorithm {algorithm!r}: expected one of {', '.join(ALGORITHMS)}")
    return algorithm


# -- values --------------------------------------------------------------------------
def sri(source: Source, algorithm: str = DEFAULT_ALGORITHM) -> str:
    """``"<algorithm>-<base64 digest>"`` of bytes, or of a file read in chunks
    (a path: never the whole file in memory, so a large font costs one buffer)."""
    digest = hashlib.new(_check_algorithm(algorithm))
    if isinstance(source, (bytes, bytearray, memoryview)):
        digest.update(source)
    else:
        view = chunk_buffer()
        with open(source, "rb", buffering=0) as handle:
            while count := handle.readinto(view):
                digest.update(view[:count])
    return f"{algorithm}-{base64.b64encode(digest.digest()).decode('ascii')}"


def build(
    static_root: str | os.PathLike[str], manifest_paths: Mapping[str, str], algorithm: str
) -> dict[str, str]:
    """Every value of a build, from scratch: the SRI of each hashed file the
    manifest's ``paths`` name, read from ``static_root``. For a run with no
    previous state (the first, ``--clear``, a lost state directory)."""
    root = fsutil.prefix(os.fspath(static_root))
    values: dict[str, str] = {}
    for hashed in sorted(set(manifest_paths.values())):
        values[hashed] = _file_sri(root + hashed, algorithm)
    return values


def _file_sri(path: str, algorithm: str) -> str:
    try:
        return sri(path, algorithm)
    except OSError as error:
        raise IntegrityError(
            f"{path}: cannot read it for its integrity value: {error.strerror}"
        ) from None


def updated(
    old: Mapping[str, str], changed: Mapping[str, str], removed: Iterable[str]
) -> dict[str, str]:
    """``old`` with ``changed`` (hashed name -> value) set and ``removed`` gone,
    sorted: what an incremental run writes after redoing a few files. A name
    both changed and removed is changed (it is in the new build)."""
    values = dict(old)
    for name in removed:
        values.pop(name, None)
    values.update(changed)
    return dict(sorted(values.items()))


# -- the file ------------------------------------------------------------------------
def integrity_path(static_root: str | os.PathLike[str]) -> Path:
    """Where the integrity file of a build in ``static_root`` is."""
    return Path(static_root) / INTEGRITY_NAME


def beside(manifest: str | os.PathLike[str]) -> Path:
    """The integrity file next to a ``staticfiles.json`` (whatever its name)."""
    return Path(manifest).with_name(INTEGRITY_NAME)


def render(values: Mapping[str, str], algorithm: str) -> bytes:
    """The file's bytes: a JSON object, names sorted, one entry per line."""
    _check_algorithm(algorithm)
    head = f'{{"version": {VERSION}, "algorithm": {json.dumps(algorithm)}, "integrity": {{'
    lines = [f"{json.dumps(name)}: {json.dumps(value)}" for name, value in sorted(values.items())]
    body = "\n" + ",\n".join(lines) + "\n" if lines else ""
    return (head + body + "}}\n").encode("ascii")


def write(
    path: str | os.PathLike[str],
    values: Mapping[str, str],
    algorithm: str,
    file_mode: int | None = None,
    dir_mode: int | None = None,
) -> bool:
    """Replace the file atomically with the rendering of ``values`` (readers see
    the old file or the new one, never part of one); False if it already held
    these bytes (then nothing is written)."""
    data = render(values, algorithm)
    try:
        if Path(path).read_bytes() == data:
            return False
    except OSError:
        pass
    fsutil.write_bytes(os.fspath(path), data, file_mode, dir_mode)
    crash.point("file:" + os.path.basename(path))
    return True


def load(path: str | os.PathLike[str]) -> Integrity:
    """The file's algorithm and values, checked. FileNotFoundError if there is
    none (the caller says what that means); anything else is an IntegrityError."""
    try:
        with open(path, "rb") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise IntegrityError(f"{path}: cannot read the integrity file: {error.strerror}") from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise IntegrityError(f"{path}: not an integrity file: invalid JSON ({message})") from None
    return _document(path, data)


def _document(path: str | os.PathLike[str], data: Any) -> Integrity:
    rebuild = "run `doit collect --clear` to write it again"
    if not isinstance(data, dict) or data.get("version") != VERSION:
        version = data.get("version") if isinstance(data, dict) else None
        raise IntegrityError(
            f"{path}: not an integrity file of version {VERSION} (version {version!r}; {rebuild})"
        )
    algorithm, values = data.get("algorithm"), data.get("integrity")
    if algorithm not in ALGORITHMS:
        raise IntegrityError(f"{path}: unknown algorithm {algorithm!r} ({rebuild})")
    if not isinstance(values, dict):
        raise IntegrityError(f'{path}: "integrity" must map hashed names to values ({rebuild})')
    for name, value in values.items():
        if not isinstance(value, str) or not value.startswith(algorithm + "-"):
            raise IntegrityError(
                f"{path}: {name!r} has the value {value!r}, not an {algorithm} one ({rebuild})"
            )
    return Integrity(algorithm, values)


def read(path: str | os.PathLike[str]) -> dict[str, str]:
    """The file's values (hashed name -> SRI value); see ``load``."""
    return load(path).values
