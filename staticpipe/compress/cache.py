"""A content-addressed cache of compressed files, in the state directory.

An entry is named by the md5 of the original content, the encoding and the
level (``v1/ab/ab12…ef.br-11``) and holds the compressed bytes, or nothing: an
empty entry records "not worth it" (over 95% of the original), so such a content
is not tried again either. No compressed output is ever empty (gzip, brotli and
zstd all write a header), so the two cannot be confused; and an entry emptied by
a crash can only cost a compression, never serve wrong bytes.

The bytes the entries hold are counted in ``v1/usage``, brought up to date
after each batch that added entries: the cache is scanned only when the count
passes the bound (one scan of 40,000 entries: 0.2 s warm, more when cold). Entries
a killed run added are missing from the count until that scan, which corrects it.

A content compressed once is not compressed again, even after static_root is
wiped (``--clear``), until it is evicted: the cache is bounded in bytes and the
least recently used entries go first (the mtime, set again on every hit: atime
is not kept on most mounts). Entries are written through a temp name in the
cache's own ``tmp`` directory and renamed into place; temp names a killed run
left there are removed when the next run opens the cache.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ..fs import fsutil
from ..ledger import crash
from .settings import DEFAULT_CACHE_BYTES, Coding

# Counted per entry on top of its bytes (its inode, its name): empty "not worth
# it" entries count toward the bound too, so their number is bounded as well.
ENTRY_BYTES = 256
# Trimming stops below this share of the bound, so that the next few runs, each
# adding a little, do not each have to scan the cache and evict again.
LOW_WATER = 0.9
VERSION = "v1"  # the entries' layout and format: a new one starts a new cache
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Hit:
    """A cache entry found: ``path`` holds ``size`` compressed bytes (0: the
    content was not worth compressing, and there is nothing to copy)."""

    path: str
    size: int

    @property
    def worth_it(self) -> bool:
        return self.size > 0


@dataclass(frozen=True)
class Usage:
    """What the cache holds: its entries and the bytes counted for the bound."""

    entries: int
    bytes: int


class CompressCache:
    """The cache in ``directory`` (the engine passes ``<state_dir>/compress``).

    Open one per run, by the run holding the state directory's lock: opening it
    removes the temp names a killed run left. ``lookup`` and ``store`` may be
    called from several threads, for different keys."""

    def __init__(self, directory: str | os.PathLike[str], max_bytes: int = DEFAULT_CACHE_BYTES):
        self.directory = os.fspath(directory)
        self.max_bytes = max_bytes
        self._entries = os.path.join(self.directory, VERSION)
        self._counted = os.path.join(self._entries, "usage")
        self._added = 0  # bytes of entries stored since the count was written
        self._lock = threading.Lock()
        os.makedirs(self._entries, exist_ok=True)
        # temp names of entries go to tmp/ (swept now), never beside an entry
        fsutil.claim_root(self._entries, os.path.join(self.directory, "tmp"))

    def path(self, md5: str, coding: Coding) -> str:
        """Where the entry of content ``md5`` (32 lowercase hex digits) compressed
        with ``coding`` lives."""
        if len(md5) != 32 or not _HEX.issuperset(md5):
            raise ValueError(f"not an md5 in hex: {md5!r}")
        return os.path.join(self._entries, md5[:2], f"{md5}.{coding.key}")

    def lookup(self, md5: str, coding: Coding) -> Hit | None:
        """The entry for ``md5`` and ``coding``, marked as just used; None if the
        content was never compressed so (or was evicted)."""
        path = self.path(md5, coding)
        try:
            size = os.stat(path).st_size
            os.utime(path)  # recently used: evicted last
        except FileNotFoundError:
            return None
        return Hit(path, size)

    def store(self, md5: str, coding: Coding, fill: Callable[[BinaryIO], int]) -> Hit:
        """Make the entry: ``fill`` streams the compressed bytes into the open
        temp file and returns how many it kept (0 for "not worth it", having
        left the file empty). The entry appears whole under its name or not at
        all (an exception from ``fill`` leaves nothing)."""
        path = self.path(md5, coding)
        kept = 0

        def write(handle: BinaryIO) -> None:
            nonlocal kept
            kept = fill(handle)

        fsutil.write_with(path, write)
        with self._lock:
            self._added += kept + ENTRY_BYTES
        return Hit(path, kept)

    def counted(self) -> int | None:
        """The bytes the entries hold, as counted (no scan); None if never counted."""
        try:
            with open(self._counted, "rb") as handle:
                return int(handle.read())
        except (FileNotFoundError, ValueError):
            return None

    def usage(self) -> Usage:
        """The entries and the bytes they count for the bound (one scan)."""
        entries = total = 0
        for _mtime, size, _path in self._scan():
            entries += 1
            total += size
        return Usage(entries, total)

    def trim(self) -> int:
        """If the cache is over its bound, evict the least recently used entries
        until it is under ``LOW_WATER`` of it; how many were evicted. Scans the
        cache only if the count is over the bound, or missing."""
        with self._lock:
            added, self._added = self._added, 0
        counted = self.counted()
        if counted is not None and counted + added <= self.max_bytes:
            self._write_count(counted + added)
            return 0
        entries = list(self._scan())
        total = sum(size for _mtime, size, _path in entries)
        if total <= self.max_bytes:
            self._write_count(total)
            return 0
        target = int(self.max_bytes * LOW_WATER)
        evicted = 0
        for _mtime, size, path in sorted(entries):
            if total <= target:
                break
            if fsutil.remove(path):
                evicted += 1
            total -= size
        self._write_count(total)
        return evicted

    def _write_count(self, total: int) -> None:
        fsutil.write_bytes(self._counted, str(total).encode())
        crash.point("file:compress/usage")

    def _scan(self) -> Iterator[tuple[int, int, str]]:
        """(mtime, counted bytes, path) of every entry."""
        try:
            shards = list(os.scandir(self._entries))
        except FileNotFoundError:
            return
        for shard in shards:
            if not shard.is_dir(follow_symlinks=False):
                continue
            try:
                files = list(os.scandir(shard.path))
            except FileNotFoundError:
                continue
            for entry in files:
                try:
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                yield info.st_mtime_ns, info.st_size + ENTRY_BYTES, entry.path
