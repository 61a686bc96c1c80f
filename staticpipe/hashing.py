"""Content hashes and hashed file names, exactly as Django's HashedFilesMixin makes them."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping

CHUNK = 1 << 18
_buffers = threading.local()


def chunk_buffer() -> memoryview:
    """This thread's read buffer: files are streamed through it with ``readinto``,
    so reading allocates nothing per chunk (``read(n)`` makes an n-byte object
    each time, and the allocator keeps that memory per thread)."""
    view = getattr(_buffers, "view", None)
    if view is None:
        view = _buffers.view = memoryview(bytearray(CHUNK))
    return view


def md5_bytes(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def md5_file(path: str) -> str:
    """md5 of a file's content, read in chunks (never the whole file at once)."""
    digest = hashlib.md5(usedforsecurity=False)
    view = chunk_buffer()
    with open(path, "rb", buffering=0) as handle:
        while count := handle.readinto(view):
            digest.update(view[:count])
    return digest.hexdigest()


def md5_parts(parts: Iterable[str]) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for part in parts:
        digest.update(part.encode("utf-8", "surrogateescape"))
        digest.update(b"\0")
    return digest.hexdigest()


def hashed_path(name: str, digest: str) -> str:
    """``dir/a.b.css`` + digest -> ``dir/a.b.<digest[:12]>.css`` (Django's rule).

    ``posixpath.split``/``splitext``/``join`` on a relative POSIX name, in string
    methods: it runs once per file of a full build. As ``splitext``, the
    extension starts at the last dot, unless only dots come before it."""
    slash = name.rfind("/") + 1
    dot = name.rfind(".")
    if dot > slash and name[slash:dot].strip("."):
        return f"{name[:dot]}.{digest[:12]}{name[dot:]}"
    return f"{name}.{digest[:12]}"


_HEX = frozenset("0123456789abcdef")


def unhashed_names(path: str) -> list[str]:
    """The names ``hashed_path`` could have turned into ``path`` (at most two)."""
    candidates = []
    dot = path.rfind(".")
    if dot >= 13 and path[dot - 13] == "." and _HEX.issuperset(path[dot - 12 : dot]):
        candidates.append((path[: dot - 13] + path[dot:], path[dot - 12 : dot]))  # a.<d>.css
    if len(path) > 13 and path[-13] == "." and _HEX.issuperset(path[-12:]):
        candidates.append((path[:-13], path[-12:]))  # no extension: name.<d>
    return [name for name, digest in candidates if hashed_path(name, digest) == path]


class HashedNames:
    """The hashed names of a name -> hashed name mapping, as a container: ``in``
    reverses ``hashed_path`` and looks the name up (no set of every value)."""

    def __init__(self, hashed: Mapping[str, str]):
        self.hashed = hashed

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str):
            return False
        return any(self.hashed.get(name) == path for name in unhashed_names(path))
