"""Filesystem edge: atomic writes, copies that hash as they go, links, permissions."""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import threading

from .hashing import CHUNK

_UMASK = os.umask(0)
os.umask(_UMASK)
_counter = itertools.count()
_dir_lock = threading.Lock()


def _temp_name(dest: str) -> str:
    directory, base = os.path.split(dest)
    return os.path.join(directory, f".{base}.{os.getpid()}.{next(_counter)}.tmp")


def makedirs(directory: str, mode: int | None = None) -> None:
    """Create ``directory`` and its parents; new ones get ``mode`` (Django's rule)."""
    if os.path.isdir(directory):
        return
    if mode is None:
        os.makedirs(directory, exist_ok=True)
        return
    with _dir_lock:  # os.umask is process-wide
        old = os.umask(0)
        try:
            os.makedirs(directory, mode, exist_ok=True)
        finally:
            os.umask(old)


def _finish(temp: str, dest: str, file_mode: int | None) -> None:
    os.chmod(temp, file_mode if file_mode is not None else 0o666 & ~_UMASK)
    os.replace(temp, dest)


def write_bytes(dest: str, data: bytes, file_mode: int | None = None, dir_mode: int | None = None) -> None:
    """Write ``data`` to ``dest`` through a temporary name and an atomic rename."""
    makedirs(os.path.dirname(dest), dir_mode)
    temp = _temp_name(dest)
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
        _finish(temp, dest, file_mode)
    except BaseException:
        _discard(temp)
        raise


def copy_hashing(src: str, dest: str, file_mode: int | None = None, dir_mode: int | None = None) -> str:
    """Copy ``src`` to ``dest`` atomically; return the md5 of what was copied."""
    makedirs(os.path.dirname(dest), dir_mode)
    temp = _temp_name(dest)
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with open(src, "rb") as source, open(temp, "wb") as target:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                target.write(chunk)
        _finish(temp, dest, file_mode)
    except BaseException:
        _discard(temp)
        raise
    return digest.hexdigest()


def link_or_copy(src: str, dest: str, file_mode: int | None = None, dir_mode: int | None = None) -> None:
    """Make ``dest`` a file with ``src``'s bytes: a hard link where possible."""
    makedirs(os.path.dirname(dest), dir_mode)
    temp = _temp_name(dest)
    try:
        if os.path.islink(src):
            shutil.copyfile(src, temp)
        else:
            try:
                os.link(src, temp)
            except OSError:
                shutil.copyfile(src, temp)
        _finish(temp, dest, file_mode)
    except BaseException:
        _discard(temp)
        raise


def symlink(src: str, dest: str, dir_mode: int | None = None) -> None:
    """Point ``dest`` at ``src`` with a symlink, replacing what was there atomically."""
    makedirs(os.path.dirname(dest), dir_mode)
    temp = _temp_name(dest)
    os.symlink(src, temp)
    os.replace(temp, dest)


def _discard(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def remove(path: str) -> bool:
    """Delete a file or symlink; True if something was deleted."""
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


def remove_empty_dirs(root: str, start: str) -> None:
    """Remove ``start`` and its parents while empty, stopping at ``root``."""
    directory = os.path.dirname(start)
    root = root.rstrip("/")
    while directory.startswith(root + "/"):
        try:
            os.rmdir(directory)
        except OSError:
            return
        directory = os.path.dirname(directory)
