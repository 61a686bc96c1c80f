"""The current build in static_root: the files ``staticfiles.json`` names (the
original names and the hashed ones), their precompressed siblings, the
integrity file (``integrity = ...``), and the manifest itself; with ``storage =
"plain"``, the files the last run collected."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from ..config import Config
from ..errors import StaticpipeError
from ..integrity import INTEGRITY_NAME
from ..phases.cleanup import MANIFEST_NAME
from .headers import ENCODINGS


@dataclass(frozen=True)
class BuildFile:
    name: str  # POSIX, relative to static_root (the key below the publish prefix)
    path: str  # the file in static_root
    size: int
    hashed: bool  # a hashed name: cached for ever
    encoding: str | None = None  # a precompressed sibling's Content-Encoding
    original: str | None = None  # a hashed name's unhashed name (the manifest's key)


@dataclass(frozen=True)
class Build:
    files: list[BuildFile]  # every file but the manifest, in manifest order
    manifest: BuildFile | None  # None with storage = "plain"

    @property
    def everything(self) -> list[BuildFile]:
        return [*self.files, *([self.manifest] if self.manifest else [])]


def _safe(name: object) -> bool:
    """A relative POSIX name that stays inside static_root."""
    return (
        isinstance(name, str)
        and "\0" not in name
        and "\\" not in name
        and all(part not in ("", ".", "..") for part in name.split("/"))
    )


def _manifest_names(path: str) -> list[tuple[str, str | None]]:
    """(name, the unhashed name it hashes or None) for every file the manifest
    names, originals first per entry."""
    try:
        with open(path, "rb") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise StaticpipeError(f"{path}: no manifest: run `doit collect` first") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise StaticpipeError(f"{path}: not a staticfiles manifest ({error})") from None
    paths = data.get("paths") if isinstance(data, dict) else None
    if not isinstance(paths, dict):
        raise StaticpipeError(f'{path}: not a staticfiles manifest (no "paths" mapping)')
    names: dict[str, str | None] = {}
    for original, hashed in paths.items():
        for name in (original, hashed):
            if not _safe(name):
                raise StaticpipeError(f"{path}: names {name!r}, outside static_root")
        names.setdefault(original, None)
        if hashed != original:
            names[hashed] = original
    return list(names.items())


def _collected_names(config: Config) -> list[tuple[str, str | None]]:
    from ..phases import collect

    names = sorted(collect.load_records(config, repair=False))
    if not names:
        raise StaticpipeError(
            f"{config.static_root}: no build recorded in {config.state_path}: "
            "run `doit collect` first"
        )
    return [(name, None) for name in names]


class _Listings:
    """The file names of each directory of static_root, read once (siblings)."""

    def __init__(self, root: str):
        self.root, self.seen = root, {}

    def has(self, name: str) -> bool:
        directory, _, filename = name.rpartition("/")
        names = self.seen.get(directory)
        if names is None:
            try:
                names = set(os.listdir(os.path.join(self.root, directory)))
            except OSError:
                names = set()
            self.seen[directory] = names
        return filename in names


def _file(
    root: str, name: str, hashed: bool, encoding: str | None = None, original: str | None = None
) -> BuildFile:
    path = os.path.join(root, *name.split("/"))
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        raise StaticpipeError(
            f"{path}: named by the build but missing: run `doit collect` first"
        ) from None
    return BuildFile(name, path, size, hashed, encoding, original)


def current(config: Config) -> Build:
    """The build in static_root, every file statted (a missing one is an error:
    nothing is published from a build that is not complete)."""
    root = str(config.static_root)
    manifest_file = os.path.join(root, MANIFEST_NAME)
    if config.storage == "manifest":
        names = _manifest_names(manifest_file)
    else:
        names = _collected_names(config)
    listings, named = _Listings(root), {name for name, _ in names}
    files = []
    for name, original in names:
        hashed = original is not None
        files.append(_file(root, name, hashed, original=original))
        for suffix, encoding in ENCODINGS.items():
            sibling = name + suffix
            if sibling not in named and listings.has(sibling):
                named.add(sibling)
                files.append(_file(root, sibling, hashed, encoding))
    if config.integrity:  # before the manifest, as the build writes it
        files.append(_file(root, INTEGRITY_NAME, False))
    manifest = _file(root, MANIFEST_NAME, False) if config.storage == "manifest" else None
    return Build(files, manifest)
