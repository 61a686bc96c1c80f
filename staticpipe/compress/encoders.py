"""The encoders: gzip, brotli and zstd as streams of chunks in, compressed chunks out.

Each encoder is fed a file chunk by chunk and hands back compressed chunks, so
memory stays flat in the file's size (a 50 MB source map is never read whole).
The gzip bytes are exactly WhiteNoise's (``Compressor.compress_gzip``: no file
name, mtime 0, zlib level 9), and brotli's are ``brotli.compress``'s, which is
itself ``Compressor.process`` + ``finish``: our files are never larger than the
ones WhiteNoise writes at the same levels.
"""

from __future__ import annotations

import importlib.util
import struct
import zlib
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Encoding:
    """One content coding: its config name, the suffix of the files it writes,
    its levels, and the optional package it needs (None: the standard library)."""

    name: str
    suffix: str
    default_level: int
    min_level: int
    max_level: int
    package: str | None

    def available(self) -> bool:
        """Whether the package this encoding needs is installed."""
        return self.package is None or importlib.util.find_spec(self.package) is not None


GZIP = Encoding("gzip", ".gz", default_level=9, min_level=1, max_level=9, package=None)
BROTLI = Encoding("br", ".br", default_level=11, min_level=0, max_level=11, package="brotli")
ZSTD = Encoding("zstd", ".zst", default_level=19, min_level=1, max_level=22, package="zstandard")

ENCODINGS: dict[str, Encoding] = {encoding.name: encoding for encoding in (GZIP, BROTLI, ZSTD)}


class Encoder(Protocol):
    """A compressor for one file: ``compress`` each chunk in order, then ``finish``."""

    def compress(self, chunk: memoryview) -> bytes: ...

    def finish(self) -> bytes: ...


def encoder(name: str, level: int, size: int) -> Encoder:
    """A new encoder for one file of ``size`` bytes (zstd records it in its frame
    header and sizes its window to it). Encoders are not shared between threads."""
    if name == "gzip":
        return GzipEncoder(level)
    if name == "br":
        return BrotliEncoder(level)
    if name == "zstd":
        return ZstdEncoder(level, size)
    raise ValueError(f"unknown encoding {name!r}")


# gzip's header as ``gzip.GzipFile(filename="", mtime=0)`` writes it (RFC 1952):
# magic, deflate, no flags (no file name), mtime 0, extra flags, OS "unknown".
_GZIP_MAGIC = b"\x1f\x8b\x08\x00" + b"\x00\x00\x00\x00"
_GZIP_OS_UNKNOWN = b"\xff"


def _gzip_extra_flags(level: int) -> bytes:
    """XFL as GzipFile sets it: 2 for the best level, 4 for the fastest, else 0."""
    if level == zlib.Z_BEST_COMPRESSION:
        return b"\x02"
    if level == zlib.Z_BEST_SPEED:
        return b"\x04"
    return b"\x00"


class GzipEncoder:
    """A gzip member, built as ``gzip.GzipFile`` builds it (same raw deflate
    stream parameters, same header and trailer) but without a file object: the
    bytes equal WhiteNoise's ``compress_gzip``. zlib releases the GIL while it
    deflates, so two threads use two cores."""

    def __init__(self, level: int):
        self._deflate = zlib.compressobj(
            level, zlib.DEFLATED, -zlib.MAX_WBITS, zlib.DEF_MEM_LEVEL, 0
        )
        self._header = _GZIP_MAGIC + _gzip_extra_flags(level) + _GZIP_OS_UNKNOWN
        self._crc = 0
        self._size = 0

    def compress(self, chunk: memoryview) -> bytes:
        self._crc = zlib.crc32(chunk, self._crc)
        self._size += len(chunk)
        out = self._deflate.compress(chunk)
        if self._header:
            out, self._header = self._header + out, b""
        return out

    def finish(self) -> bytes:
        trailer = struct.pack("<II", self._crc & 0xFFFFFFFF, self._size & 0xFFFFFFFF)
        return self._header + self._deflate.flush() + trailer


class BrotliEncoder:
    """``brotli.Compressor`` with ``brotli.compress``'s defaults (generic mode,
    22-bit window) at ``level`` (quality); it releases the GIL while it works."""

    def __init__(self, level: int):
        import brotli

        self._compressor = brotli.Compressor(quality=level)

    def compress(self, chunk: memoryview) -> bytes:
        return self._compressor.process(chunk)

    def finish(self) -> bytes:
        return self._compressor.finish()


class ZstdEncoder:
    """One zstd frame with the content size in its header (``zstandard``'s C
    backend, which releases the GIL while it compresses)."""

    def __init__(self, level: int, size: int):
        import zstandard

        compressor = zstandard.ZstdCompressor(level=level, write_content_size=True)
        self._stream = compressor.compressobj(size=size)

    def compress(self, chunk: memoryview) -> bytes:
        return self._stream.compress(chunk)

    def finish(self) -> bytes:
        return self._stream.flush()
