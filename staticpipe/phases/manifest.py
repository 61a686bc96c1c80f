"""``staticfiles.json``: Django's manifest format, byte for byte, written atomically.

An edit changes a few hashed names, but the manifest names every file, and its
``hash`` is the md5 of every (name, hashed name) pair, sorted: rendering it is
work in proportion to the tree. So that sorted text is kept in the ledger
(``manifest.state``), with the identity of the manifest and the tokens of the
inputs it was rendered from (the listing and the post-processing entry).
When a run starts
from exactly those inputs and knows which hashed names it changed, the new
manifest is the old one with those values replaced (``patch``): the same bytes
a full rendering gives, at the cost of a few searches and one md5.

With a ``file_hash`` hook the ``hash`` is the hook's of those sorted pairs, called
with the name None, as Django's ``save_manifest`` calls ``file_hash``.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..engine import outputs
from ..engine.phase import Phase, hashing
from ..fs import fsutil
from ..ledger import crash, lock, state, store
from ..rewrite import hashhook
from ..rewrite.hashing import md5_bytes
from . import cleanup
from .cleanup import MANIFEST_NAME

if TYPE_CHECKING:
    from ..engine.run import Run

VERSION = "1.1"

# The manifest's ``hash`` of its sorted pairs, when it is not their md5 (a hook's)
Digest = Callable[[bytes], "str | None"]


def digest_of(config: Config | None) -> Digest | None:
    """The hook's hash for the manifest (None: the md5, Django's default)."""
    hook = hashhook.load(config) if config is not None else None
    if hook is None:
        return None
    return lambda pairs: hook.of_bytes(None, pairs)  # type: ignore[arg-type]


def ordered_paths(order: Iterable[str], hashed: Mapping[str, str]) -> dict[str, str]:
    """Django's key order: collection order, stably sorted by path depth, deepest first."""
    names = sorted(order, key=lambda name: name.count("/"), reverse=True)  # depth, stable
    return {name: hashed[name] for name in names}


def render(paths: Mapping[str, str], digest: Digest | None = None) -> bytes:
    """The manifest bytes exactly as ManifestFilesMixin.save_manifest writes them."""
    return rendering(paths, digest)[0]


def rendering(paths: Mapping[str, str], digest: Digest | None = None) -> tuple[bytes, bytes]:
    """The manifest bytes, and the sorted pairs its ``hash`` is the md5 of (or
    ``digest``'s: a hook's)."""
    pairs = _sorted_pairs(paths)
    return _document(paths, _hash(pairs, digest)), pairs


def _hash(pairs: bytes, digest: Digest | None) -> str | None:
    return md5_bytes(pairs)[:12] if digest is None else digest(pairs)


def _sorted_pairs(paths: Mapping[str, str]) -> bytes:
    return json.dumps(sorted(paths.items())).encode()


def _document(paths: Mapping[str, str], digest: str | None) -> bytes:
    return json.dumps({"paths": dict(paths), "version": VERSION, "hash": digest}).encode()


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')  # a JSON string, escapes and all

PATCH_LIMIT = 64  # more changed names than this: a full rendering is as cheap


def patch(
    data: bytearray, pairs: bytearray, changes: Mapping[str, str], digest: Digest | None = None
) -> bool:
    """Make the manifest ``data`` (whose sorted pairs are ``pairs``) the one with
    the hashed names of ``changes``, in place, hash included; the same bytes as
    ``rendering`` of the changed paths. False (and both untouched) if a name is
    not in it.

    In both texts a name can only be found where it is a key: a JSON string holds
    no bare ``"``, so ``, "`` and ``["`` occur nowhere inside one."""
    spans: list[tuple[int, int, bytes]] = []
    pair_spans: list[tuple[int, int, bytes]] = []
    for name, hashed in changes.items():
        key, value = json.dumps(name).encode(), json.dumps(hashed).encode()
        found = _value_after(data, (b"{" + key + b": ", b", " + key + b": "))
        pair = _value_after(pairs, (b"[" + key + b", ",))
        if found is None or pair is None:
            return False
        spans.append((*found, value))
        pair_spans.append((*pair, value))
    _replace(pairs, pair_spans)
    if digest is None:
        start = data.rindex(b'"hash": "') + len(b'"hash": "')  # the last key: no name after it
        spans.append((start, data.index(b'"', start), md5_bytes(pairs)[:12].encode()))
    else:  # a hook's: any JSON string, or null, up to the closing brace
        start = data.rindex(b'"hash": ') + len(b'"hash": ')
        spans.append((start, len(data) - 1, json.dumps(digest(bytes(pairs))).encode()))
    _replace(data, spans)
    return True


def _value_after(data: bytearray, needles: tuple[bytes, ...]) -> tuple[int, int] | None:
    """Where the JSON string after the first of ``needles`` found in ``data`` is."""
    for needle in needles:
        at = data.find(needle)
        if at >= 0:
            match = _STRING.match(data, at + len(needle))
            return (match.start(), match.end()) if match else None
    return None


def _replace(data: bytearray, spans: list[tuple[int, int, bytes]]) -> None:
    """Each span of ``data`` by its value, in place (the last first: the earlier
    positions stay true). A value of the same length moves nothing."""
    for start, end, value in sorted(spans, reverse=True):
        data[start:end] = value


def manifest_path(config: Config) -> Path:
    return config.static_root / MANIFEST_NAME


def state_file(config: Config) -> Path:
    return config.state_path / "manifest.state"


def write(config: Config, data: bytes) -> bool:
    """Write the manifest (temp file + rename); False if it already had these
    bytes. The next run renders it in full (nothing is kept for a patch)."""
    forget(config)
    return _write(config, data)


def write_rendered(config: Config, paths: Mapping[str, str], inputs: dict[str, Any]) -> bool:
    """``write`` the rendering of ``paths``, and keep its sorted pairs with the
    identities of the ``inputs`` it was rendered from, so that the next run can
    patch it (``patched``). The same bytes as ``render``, made one text at a time."""
    forget(config)  # from here on, a kept rendering would be stale
    pairs = _sorted_pairs(paths)
    digest = _hash(pairs, digest_of(config))
    written = _write(config, _document(paths, digest))
    _keep(config, inputs, pairs)
    return written


def write_patched(
    config: Config, data: bytearray, pairs: bytearray, inputs: dict[str, Any]
) -> None:
    """``write`` what ``patched`` made, keeping it for the next run as
    ``write_rendered`` does."""
    forget(config)
    _write(config, data, new=True)
    _keep(config, inputs, pairs)


def forget(config: Config) -> None:
    state.discard(state_file(config))


def _write(config: Config, data: bytes | bytearray, new: bool = False) -> bool:
    """``new``: the caller knows that the file in place has other bytes."""
    path = manifest_path(config)
    try:
        written = new or path.read_bytes() != data or _other_mode(path, config)
    except OSError:
        written = True
    if written:
        fsutil.write_bytes(
            str(path), data, config.file_permissions_mode, config.directory_permissions_mode
        )
        crash.point("file:" + MANIFEST_NAME)
    return written


def _other_mode(path: Path, config: Config) -> bool:
    """The manifest in place has another mode than the configured one."""
    mode = config.file_permissions_mode
    return mode is not None and stat.S_IMODE(os.stat(path).st_mode) != mode


def _keep(config: Config, inputs: dict[str, Any], pairs: bytes | bytearray) -> None:
    """Keep the sorted ``pairs`` the manifest's ``hash`` is the md5 of, with the
    identity of the manifest written and the tokens of the ``inputs`` it was
    made from (the listing, post-processing's entry): what ``patched`` needs."""
    if None in inputs.values():
        return
    manifest = fsutil.file_stat(manifest_path(config))
    kept = {"inputs": inputs, "manifest": manifest, "pairs": bytes(pairs)}
    state.save(state_file(config), kept, shared=False)


def made_from(config: Config) -> dict[str, Any] | None:
    """The tokens of the inputs the manifest in place was made from, if it is
    the one the last run kept (None: not known)."""
    kept = state.load(state_file(config))
    if kept.get("manifest") != fsutil.file_stat(manifest_path(config)):
        return None
    return kept.get("inputs")


def patched(
    config: Config, inputs: dict[str, Any], changes: Mapping[str, str]
) -> tuple[bytearray, bytearray] | None:
    """The manifest with ``changes`` applied, and its sorted pairs, if the one in
    place is the one rendered from ``inputs`` (by identity; see ``write_rendered``).
    Else None. ``changes``: name -> hashed name, only where it differs from
    ``inputs``'s: so the result, if any, differs from the manifest in place."""
    if not changes or len(changes) > PATCH_LIMIT or None in inputs.values():
        return None  # (no changes: the manifest in place is compared in full)
    path = manifest_path(config)
    kept = state.load(state_file(config))
    if kept.get("inputs") != inputs or kept.get("manifest") != fsutil.file_stat(path):
        return None
    try:
        pairs, data = bytearray(kept["pairs"]), _read(path)
    except (OSError, KeyError, TypeError):
        return None
    if pairs is None or data is None or not patch(data, pairs, changes, digest_of(config)):
        return None
    return data, pairs


def _read(path: Path) -> bytearray | None:
    """The file's bytes, in a buffer of their own (patched in place: no copy);
    None if they are not the size they were a moment ago."""
    with open(path, "rb", buffering=0) as handle:
        data = bytearray(os.fstat(handle.fileno()).st_size)
        if handle.readinto(data) != len(data) or handle.read(1):
            return None  # changed while read (or a short read): render it in full
    return data


def read(path: str | os.PathLike[str]) -> dict:
    """The manifest's ``paths`` mapping (original name -> hashed name)."""
    with open(path, "rb") as handle:
        data = json.load(handle)
    if data.get("version") not in ("1.0", "1.1"):
        raise ValueError(f"{path}: unsupported manifest version {data.get('version')!r}")
    return data.get("paths", {})


# -- the phase ------------------------------------------------------------------
def check(run: Run) -> bool:
    """Up to date: nothing waits in the journals (garbage, pending old versions),
    and the manifest in place is the one the last complete run wrote from these
    very inputs (or has the bytes a rendering gives now)."""
    run.hold_lock()
    if run.fresh or cleanup.has_garbage(run.config):
        return False  # (settling the journals is this phase's, after the manifest)
    inputs = {"listing": state.token(run.found_file), "post": state.token(run.post_file)}
    if outputs.manifest_unchanged(run.config) and made_from(run.config) == inputs:
        return True  # the file the last complete run wrote, from these very inputs
    try:
        paths = ordered_paths(run.found, run.current_hashed())
        return manifest_path(run.config).read_bytes() == render(paths, digest_of(run.config))
    except (OSError, KeyError, store.StoreDamaged):
        return False


def act(run: Run) -> None:
    """Write the manifest (patched when post-processing ran from the state the
    last manifest was rendered from), then delete the garbage it made obsolete."""
    run.acted = True
    config = run.config
    lock.hold(config)
    listing = state.token(run.found_file)
    rendered = None
    if run.post_changes is not None:  # post-processing ran, from run.post_loaded
        started = {"listing": listing, "post": run.post_loaded}
        rendered = patched(config, started, run.post_changes)
    # what the next run can patch this manifest against
    left = {"listing": listing, "post": state.token(run.post_file)}
    if rendered is not None:
        write_patched(config, *rendered, left)
        del rendered
    else:
        write_rendered(config, ordered_paths(run.found, run.current_hashed()), left)
    run.collect_garbage(run.current_hashed())


PHASE = Phase(
    "manifest", "Write staticfiles.json (atomically, last) and delete obsolete files.",
    check, act, hashing,
)  # fmt: skip
