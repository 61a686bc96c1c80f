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


def with_hash(name: str, file_hash: str | None) -> str:
    """``name`` carrying any hash (a ``file_hash`` hook's): Django's
    ``root.<hash>.ext``, or ``name`` itself for None or "" (Django's rule)."""
    if not file_hash:
        return name
    slash = name.rfind("/") + 1
    dot = name.rfind(".")
    if dot > slash and name[slash:dot].strip("."):
        return f"{name[:dot]}.{file_hash}{name[dot:]}"
    return f"{name}.{file_hash}"


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


def any_unhashed_names(path: str) -> list[str]:
    """The names ``with_hash`` could have turned into ``path``, whatever the hash
    (a hook's need not be 12 hex digits): ``path`` itself (no hash), and ``path``
    without one ``.<hash>``, before its extension or at its end."""
    slash = path.rfind("/") + 1
    head, file = path[:slash], path[slash:]
    last = file.rfind(".")
    names = [path]
    for dot in (i for i, char in enumerate(file) if char == "."):
        if dot + 1 < len(file):  # a hash to the end: an extensionless name
            names.append(head + file[:dot])
        if last > dot + 1:  # a hash, then the extension
            names.append(head + file[:dot] + file[last:])
    return [name for name in names if name == path or with_hash(name, _between(name, path)) == path]


def _between(name: str, path: str) -> str:
    """The hash ``with_hash(name, hash) == path`` would need, if any ("" if none)."""
    dot = name.rfind(".")
    root, ext = (name, "") if with_hash(name, "x") == name + ".x" else (name[:dot], name[dot:])
    if not (path.startswith(root + ".") and path.endswith(ext)):
        return ""
    return path[len(root) + 1 : len(path) - len(ext)]


class HashedNames:
    """The hashed names of a name -> hashed name mapping, as a container: ``in``
    reverses ``hashed_path`` and looks the name up (no set of every value).
    ``any_hash``: the names may carry any hash (a ``file_hash`` hook's)."""

    def __init__(self, hashed: Mapping[str, str], any_hash: bool = False):
        self.hashed = hashed
        self._reverse = any_unhashed_names if any_hash else unhashed_names

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str):
            return False
        return any(self.hashed.get(name) == path for name in self._reverse(path))
