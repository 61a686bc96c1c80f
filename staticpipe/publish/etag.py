"""A local file's S3 ETag: the md5 of its bytes, or of its parts' md5s for a
multipart upload (``<md5>-<parts>``), so a listing says whether a file is there."""

from __future__ import annotations

import hashlib
import os

PART_SIZE = 8 * 1024 * 1024  # boto3's default multipart threshold and chunk size
_MIB = 1024 * 1024
_CHUNK = 1024 * 1024


def etag(path: str | os.PathLike[str], size: int, part_size: int = PART_SIZE) -> str:
    """The ETag S3 gives ``path`` uploaded in ``part_size`` parts (one part:
    the plain md5, as a single PUT gives)."""
    if size < part_size:
        return _md5_of(path)
    parts = []
    with open(path, "rb") as handle:
        while part := handle.read(part_size):
            parts.append(hashlib.md5(part).digest())
    return f"{hashlib.md5(b''.join(parts)).hexdigest()}-{len(parts)}"


def _md5_of(path: str | os.PathLike[str]) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def part_sizes(size: int, parts: int) -> list[int]:
    """Part sizes another uploader may have used for ``parts`` parts of ``size``
    bytes: the usual ones (5, 8, 16 MiB, ...) and whole MiB near size/parts."""
    guesses = {5 * _MIB, 8 * _MIB, 15 * _MIB, 16 * _MIB, 64 * _MIB, 100 * _MIB}
    near = -(-size // parts)
    guesses |= {near, -(-near // _MIB) * _MIB}
    return sorted(p for p in guesses if p > 0 and -(-size // p) == parts)


def same_content(path: str | os.PathLike[str], size: int, local: str, remote: str) -> bool:
    """Whether the remote object with ETag ``remote`` holds the bytes of ``path``
    (``local``: its ETag by :func:`etag`); a multipart ETag of another part size
    is checked against each plausible part size."""
    remote = remote.strip('"')
    if remote == local:
        return True
    count = remote.partition("-")[2]
    if not count.isdigit():
        return False
    return any(etag(path, size, part) == remote for part in part_sizes(size, int(count)))
