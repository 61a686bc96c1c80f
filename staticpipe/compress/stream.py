"""One file through one encoder into an open file, chunk by chunk.

The file is read once, through this thread's read buffer: memory is flat in its
size. Its md5 is checked on the way, because the result is filed in a cache
under that md5: a file that changed since the caller hashed it must not leave
wrong bytes there for every later build.
"""

from __future__ import annotations

import hashlib
import os
from typing import BinaryIO

from ..errors import StaticpipeError
from ..rewrite.hashing import chunk_buffer
from .encoders import encoder
from .rules import size_limit
from .settings import Coding


def compress_into(path: str, md5: str, coding: Coding, target: BinaryIO, name: str = "") -> int:
    """Write ``path`` compressed with ``coding`` to ``target``; the number of bytes
    kept, or 0 if the result is not worth keeping (WhiteNoise's 95% rule), with
    ``target`` then left empty. Compression stops as soon as the output passes
    the limit (it only grows), but the rest is still read for the md5 check.
    ``name`` (the file's name for the user) is what an error names."""
    digest = hashlib.md5(usedforsecurity=False)
    view = chunk_buffer()
    with open(path, "rb", buffering=0) as source:
        size = os.fstat(source.fileno()).st_size
        limit = size_limit(size)
        stream = encoder(coding.name, coding.level, size) if limit >= 0 else None
        written = 0
        while count := source.readinto(view):
            chunk = view[:count]
            digest.update(chunk)
            if stream is not None:
                written += _write(target, stream.compress(chunk))
                if written > limit:
                    stream = None  # over the limit already: not worth finishing
        if stream is not None:
            written += _write(target, stream.finish())
        kept = stream is not None and written <= limit
    if digest.hexdigest() != md5:
        raise StaticpipeError(
            f"{name or path}: changed while being compressed (its content is no longer md5 {md5})"
        )
    if not kept:
        target.seek(0)
        target.truncate()
        return 0
    return written


def _write(target: BinaryIO, data: bytes) -> int:
    if data:
        target.write(data)
    return len(data)
