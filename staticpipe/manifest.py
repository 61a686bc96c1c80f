"""``staticfiles.json``: Django's manifest format, byte for byte, written atomically.

An edit changes a few hashed names, but the manifest names every file, and its
``hash`` is the md5 of every (name, hashed name) pair, sorted: rendering it is
work in proportion to the tree. So the last rendering is kept, together with
that sorted text (``manifest.state``) and the identity of the inputs it was
rendered from (the listing and the post-processing state). When a run starts
from exactly those inputs and knows which hashed names it changed, the new
manifest is the old one with those values replaced (``patch``): the same bytes
a full rendering gives, at the cost of a few searches and one md5.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from . import fsutil, state
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
    return rendering(paths)[0]


def rendering(paths: Mapping[str, str]) -> tuple[bytes, bytes]:
    """The manifest bytes, and the sorted pairs its ``hash`` is the md5 of."""
    pairs = json.dumps(sorted(paths.items())).encode()
    return _with_hash(json.dumps({"paths": dict(paths), "version": VERSION, "hash": ""}), pairs)


def _with_hash(text: str | bytes, pairs: bytes) -> tuple[bytes, bytes]:
    """``text`` (a manifest ending in ``"hash": "..."}``) with the hash of ``pairs``."""
    data = text.encode() if isinstance(text, str) else text
    start = data.rindex(b'"hash": "') + len(b'"hash": "')
    return data[:start] + md5_bytes(pairs)[:12].encode() + b'"}', pairs


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')  # a JSON string, escapes and all

PATCH_LIMIT = 64  # more changed names than this: a full rendering is as cheap


def patch(data: bytes, pairs: bytes, changes: Mapping[str, str]) -> tuple[bytes, bytes] | None:
    """``rendering`` of the manifest ``data`` (whose sorted pairs are ``pairs``)
    with the hashed names of ``changes`` replaced; None if a name is not in it.

    In both texts a name can only be found where it is a key: a JSON string holds
    no bare ``"``, so ``, "`` and ``["`` occur nowhere inside one."""
    spans: list[tuple[int, int, bytes]] = []
    pair_spans: list[tuple[int, int, bytes]] = []
    for name, hashed in changes.items():
        key, value = json.dumps(name).encode(), json.dumps(hashed).encode()
        found = _value_after(data, (b"{" + key + b": ", b", " + key + b": "))
        pair = _value_after(pairs, (b"[" + key + b", ",))
        if found is None or pair is None:
            return None
        spans.append((*found, value))
        pair_spans.append((*pair, value))
    new_pairs = _replaced(pairs, pair_spans)
    return _with_hash(_replaced(data, spans), new_pairs)


def _value_after(data: bytes, needles: tuple[bytes, ...]) -> tuple[int, int] | None:
    """Where the JSON string after the first of ``needles`` found in ``data`` is."""
    for needle in needles:
        at = data.find(needle)
        if at >= 0:
            match = _STRING.match(data, at + len(needle))
            return (match.start(), match.end()) if match else None
    return None


def _replaced(data: bytes, spans: list[tuple[int, int, bytes]]) -> bytes:
    parts, last = [], 0
    for start, end, value in sorted(spans):
        parts += [data[last:start], value]
        last = end
    parts.append(data[last:])
    return b"".join(parts)


def manifest_path(config: Config) -> Path:
    return config.static_root / MANIFEST_NAME


def state_file(config: Config) -> Path:
    return config.state_path / "manifest.state"


def write(
    config: Config, data: bytes, pairs: bytes | None = None, inputs: dict[str, Any] | None = None
) -> bool:
    """Write the manifest (temp file + rename); False if it already had these bytes.

    ``inputs``: the identities of what it was rendered from (see ``patched``),
    kept with its sorted ``pairs`` so that the next run can patch it; without
    them, the next run renders it in full."""
    path = manifest_path(config)
    state.discard(state_file(config))  # from here on, the kept rendering may be stale
    try:
        written = path.read_bytes() != data
    except OSError:
        written = True
    if written:
        fsutil.write_bytes(
            str(path), data, config.file_permissions_mode, config.directory_permissions_mode
        )
    if pairs is not None and inputs is not None and None not in inputs.values():
        kept = {"inputs": inputs, "manifest": fsutil.identity(path), "pairs": pairs}
        try:
            state.save(state_file(config), kept, shared=False)
        except OSError:
            pass  # the next run renders it in full
    return written


def patched(
    config: Config, inputs: dict[str, Any], changes: Mapping[str, str]
) -> tuple[bytes, bytes] | None:
    """The manifest with ``changes`` applied, if the one in place is the one
    rendered from ``inputs`` (by identity; see ``write``). Else None."""
    if len(changes) > PATCH_LIMIT or None in inputs.values():
        return None
    path = manifest_path(config)
    kept = state.load(state_file(config))
    if kept.get("inputs") != inputs or kept.get("manifest") != fsutil.identity(path):
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return patch(data, kept["pairs"], changes)


def read(path: str | os.PathLike[str]) -> dict:
    """The manifest's ``paths`` mapping (original name -> hashed name)."""
    with open(path, "rb") as handle:
        data = json.load(handle)
    if data.get("version") not in ("1.0", "1.1"):
        raise ValueError(f"{path}: unsupported manifest version {data.get('version')!r}")
    return data.get("paths", {})
