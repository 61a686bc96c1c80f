"""``staticfiles.json``: Django's manifest format, byte for byte, written atomically."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from . import fsutil
from .cleanup import MANIFEST_NAME
from .config import Config
from .hashing import md5_bytes

VERSION = "1.1"


def ordered_paths(order: Iterable[str], hashed: Mapping[str, str]) -> dict[str, str]:
    """Django's key order: collection order, stably sorted by path depth, deepest first."""
    names = sorted(order, key=lambda name: name.count("/"), reverse=True)  # depth, stable
    return {name: hashed[name] for name in names}


def render(paths: Mapping[str, str]) -> bytes:
    """The manifest bytes exactly as ManifestFilesMixin.save_manifest writes them."""
    digest = md5_bytes(json.dumps(sorted(paths.items())).encode())[:12]
    return json.dumps({"paths": dict(paths), "version": VERSION, "hash": digest}).encode()


def manifest_path(config: Config) -> Path:
    return config.static_root / MANIFEST_NAME


def write(config: Config, data: bytes) -> bool:
    """Write the manifest (temp file + rename); False if it already had these bytes."""
    path = manifest_path(config)
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    fsutil.write_bytes(
        str(path), data, config.file_permissions_mode, config.directory_permissions_mode
    )
    return True


def read(path: str | os.PathLike[str]) -> dict:
    """The manifest's ``paths`` mapping (original name -> hashed name)."""
    with open(path, "rb") as handle:
        data = json.load(handle)
    if data.get("version") not in ("1.0", "1.1"):
        raise ValueError(f"{path}: unsupported manifest version {data.get('version')!r}")
    return data.get("paths", {})
