"""Filesystem edge: atomic writes, copies that hash as they go, links, permissions."""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import itertools
import os
import shutil
import stat
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO, NamedTuple, TypeVar

from ..rewrite.hashing import chunk_buffer

# Timestamps closer than this to a recording are not trusted: a later change can
# share them (the filesystem's timestamp granularity: a few ms on ext4, 1-2 s on
# HFS+ or FAT; git's "racy clean" problem). Read at call time, so tests may lower it.
RACY_NS = 2_000_000_000

T = TypeVar("T")


def prefix(directory: str) -> str:
    """``directory`` ending in a separator: ``prefix(root) + name`` is
    ``os.path.join(root, name)`` for a relative POSIX name, without a Python
    call per file (joins ran tens of thousands of times per full build)."""
    return directory if directory.endswith(os.sep) else directory + os.sep


class FileStat(NamedTuple):
    """A file's version, as a stat tells it: the one identity every part uses (the
    copy phase's records and packed signatures, the manifest in place, the runtime
    cache). An edit moves the mtime or the size; an edit behind a restored mtime
    still moves the ctime; a file replaced by another has another inode."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int

    @classmethod
    def of(cls, info: os.stat_result) -> FileStat:
        return cls(info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


def file_stat(path: str | os.PathLike[str]) -> FileStat | None:
    """``path``'s FileStat (symlinks followed); None if there is no such file."""
    try:
        return FileStat.of(os.stat(path))
    except OSError:
        return None


class FsClock(NamedTuple):
    """The filesystem's own "now" on one device (``fs_clock``)."""

    now_ns: int
    device: int

    def on(self, info: os.stat_result) -> int | None:
        """Its time, if ``info`` is of a file on its device (else None: the two
        clocks cannot be compared)."""
        return self.now_ns if info.st_dev == self.device else None


def mtime_moved(path: str, recorded: int | None, since: int, clock: FsClock | None = None) -> bool:
    """``path``'s mtime is not ``recorded`` (None: it did not exist), or was too close
    to the recording to be trusted: at or after ``since`` (the wall clock), or, on
    the filesystem of ``clock`` (``fs_clock`` read just before the recording), at
    or after that time: git's rule for a racily clean index, one tick wide."""
    try:
        info = os.stat(path)
    except OSError:
        return recorded is not None
    if recorded is None:
        return True
    limit = clock.on(info) if clock is not None else None
    return recorded >= (since if limit is None else limit) or info.st_mtime_ns != recorded


def fs_clock(directory: str | os.PathLike[str]) -> FsClock | None:
    """The filesystem's own "now" in ``directory``, and its device: the timestamp
    of a new nameless file (``O_TMPFILE``: no name is made, so the directory's
    mtime does not move). Read *before* recording mtimes, for ``mtime_moved``'s
    ``clock``. None where there are no nameless files (then the wall clock)."""
    if not _nameless:
        return None
    try:
        fd = os.open(directory, _NAMELESS_FLAGS, 0o600)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
    finally:
        os.close(fd)
    return FsClock(info.st_mtime_ns, info.st_dev)


def clock_past(
    directory: str | os.PathLike[str], instant: int, limit_s: float = 0.02
) -> FsClock | None:
    """``fs_clock(directory)`` once the filesystem's clock has moved past
    ``instant`` (the next timestamp tick: a few ms), polling for at most
    ``limit_s``; None if it does not (coarse timestamps) or cannot be read.

    Recording mtimes again after it keeps directories modified in the tick of the
    first reading from being racy ("may have changed unseen") at the next run."""
    deadline = time.monotonic() + limit_s
    while True:
        clock = fs_clock(directory)
        if clock is None or clock.now_ns > instant:
            return clock
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.0005)


_counter = itertools.count()
_known_dirs: set[str] = set()  # directories this process made or saw (saves a stat per file)


_temp_dirs: list[tuple[str, str]] = []  # (a root + "/", where its temp names go)
_roots: list[str] = []  # roots + "/" below which no symlink is followed (claim_root)


def claim_root(root: str, temp_dir: str) -> None:
    """Files written under ``root`` from now on (static_root, by the run that
    holds the lock):

    - get their temporary names in ``temp_dir`` (which this process alone uses)
      rather than beside them, so a run killed between a temp name and its rename
      leaves nothing in ``root`` for a server to expose; names a killed run left
      in ``temp_dir`` are removed now. Only where both are on one filesystem (a
      rename must be atomic); elsewhere temp names stay beside their files.
    - never go through a symlink below ``root`` where a directory is needed (a
      ``--link`` build's link to a source file that is now a directory): that is
      ``NotADirectoryError``, as a file in the way is, not a write into a source.
    """
    os.makedirs(temp_dir, exist_ok=True)
    for name in os.listdir(temp_dir):
        _discard(os.path.join(temp_dir, name))
    root = root.rstrip(os.sep)
    prefix = root + os.sep
    _temp_dirs[:] = [entry for entry in _temp_dirs if entry[0] != prefix]
    try:
        same = os.stat(root).st_dev == os.stat(temp_dir).st_dev
    except FileNotFoundError:  # no root yet: it is made where its parent is
        same = os.stat(_existing_parent(root)).st_dev == os.stat(temp_dir).st_dev
    if same:  # (two mounts of one filesystem refuse renames too: see _rename)
        _temp_dirs.append((prefix, temp_dir))
    if prefix not in _roots:
        _roots.append(prefix)
    # directories seen by an earlier run of this process may be gone or be links now
    _known_dirs.difference_update([known for known in _known_dirs if known.startswith(prefix)])


def _refuse_links_below(directory: str) -> None:
    """Raise NotADirectoryError if a part of ``directory`` below its claimed root
    is a symlink or a file (see claim_root)."""
    for root in _roots:
        if directory.startswith(root):
            path = directory
            while path.startswith(root) and path not in _known_dirs:
                try:
                    mode = os.lstat(path).st_mode
                except FileNotFoundError:
                    mode = None
                if mode is not None and not stat.S_ISDIR(mode):
                    raise NotADirectoryError(errno.ENOTDIR, "not a directory", path)
                path = os.path.dirname(path)
            return


def _existing_parent(path: str) -> str:
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return path


def _temp_name(dest: str) -> str:
    """A new temporary name for ``dest``: in its root's temp directory if it has one."""
    for root, directory in _temp_dirs:
        if dest.startswith(root):
            return os.path.join(directory, f"{os.getpid()}.{next(_counter)}.tmp")
    return _temp_beside(dest)


def _temp_beside(dest: str) -> str:
    directory, base = os.path.split(dest)
    return os.path.join(directory, f".{base}.{os.getpid()}.{next(_counter)}.tmp")


def makedirs(directory: str, mode: int | None = None) -> None:
    """Create ``directory`` and its parents; new ones get ``mode`` (Django's rule)."""
    if directory in _known_dirs:
        return
    _refuse_links_below(directory)
    if not os.path.isdir(directory):
        if mode is None:
            os.makedirs(directory, exist_ok=True)
        else:
            _makedirs_chmod(directory, mode)
    _known_dirs.add(directory)


def _makedirs_chmod(directory: str, mode: int) -> None:
    """Make the missing directories, each then given exactly ``mode``. (Django sets
    the umask to 0 around ``makedirs``; the umask is process-wide, so in a threaded
    run that would give other threads' new files mode 0o666.)"""
    missing = []
    path = directory
    while not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for path in reversed(missing):
        try:
            os.mkdir(path)
        except FileExistsError:
            continue  # made meanwhile by another thread, which gives it the mode
        os.chmod(path, mode)


def _create(temp: str, dir_mode: int | None):
    """Open a new temp file for writing; remake its directory if it vanished."""
    try:
        return open(temp, "xb")
    except FileNotFoundError:
        _remake_dir(os.path.dirname(temp), dir_mode)
        return open(temp, "xb")


def _remake_dir(directory: str, dir_mode: int | None) -> None:
    """A directory we made earlier is gone (deleted behind our back): make it again."""
    _known_dirs.discard(directory)
    makedirs(directory, dir_mode)


def _remake_dirs(temp: str, dest: str, dir_mode: int | None) -> None:
    """``dest``'s directory and its temp name's (maybe another), made again."""
    _remake_dir(os.path.dirname(dest), dir_mode)
    if os.path.dirname(temp) != os.path.dirname(dest):
        _remake_dir(os.path.dirname(temp), None)


def _finish(temp: str, dest: str, file_mode: int | None, dir_mode: int | None) -> None:
    """Set the mode and rename into place. A file this process created already has
    the default mode (0o666 & ~umask), so only an explicit mode needs a chmod."""
    if file_mode is not None:
        os.chmod(temp, file_mode)
    _rename(temp, dest, dir_mode)


def _rename(temp: str, dest: str, dir_mode: int | None) -> None:
    """``os.replace``; ``dest``'s directory made again if it was deleted meanwhile
    (the temp name may be in another directory: see claim_root)."""
    try:
        os.replace(temp, dest)
    except FileNotFoundError:
        if not os.path.lexists(temp):
            raise
        _remake_dir(os.path.dirname(dest), dir_mode)
        os.replace(temp, dest)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        _rename_beside(temp, dest)


def _rename_beside(temp: str, dest: str) -> None:
    """``temp`` (in a root's temp directory) cannot be renamed to ``dest``: two
    mounts of one filesystem (a Docker bind mount or volume at static_root) share
    a device number but refuse renames. Its content goes through a temp name
    beside ``dest``, as from now on every file of that root does."""
    _temp_dirs[:] = [entry for entry in _temp_dirs if not dest.startswith(entry[0])]
    beside = _temp_beside(dest)
    try:
        if os.path.islink(temp):
            os.symlink(os.readlink(temp), beside)
        else:
            shutil.copy2(temp, beside)
        os.replace(beside, dest)
    except BaseException:
        _discard(beside)
        raise
    finally:
        _discard(temp)


def write_bytes(
    dest: str, data: bytes, file_mode: int | None = None, dir_mode: int | None = None
) -> None:
    """Write ``data`` to ``dest`` through a temporary name and an atomic rename."""
    write_with(dest, lambda handle: handle.write(data), file_mode, dir_mode)


def write_new(
    dest: str, data: bytes, file_mode: int | None = None, dir_mode: int | None = None
) -> None:
    """``write_bytes`` for a name that usually does not exist yet (a hashed output):
    a nameless file linked into place, as ``copy_hashing`` does."""
    written = _in_nameless(dest, file_mode, dir_mode, lambda fd: _write_all(fd, memoryview(data)))
    if written is _UNAVAILABLE:
        write_bytes(dest, data, file_mode, dir_mode)


def write_with(
    dest: str,
    writer: Callable[[BinaryIO], object],
    file_mode: int | None = None,
    dir_mode: int | None = None,
) -> None:
    """Let ``writer`` stream ``dest``'s content into a temporary file, then rename
    it into place (atomic: readers see the old file or the whole new one)."""
    makedirs(os.path.dirname(dest), dir_mode)
    with _temp_for(dest) as temp:
        with _create(temp, dir_mode) as handle:
            writer(handle)
        _finish(temp, dest, file_mode, dir_mode)


@contextlib.contextmanager
def _temp_for(dest: str) -> Iterator[str]:
    """A temporary name to write ``dest`` through: removed if the write fails,
    whose error then names ``dest`` (``_named``)."""
    temp = _temp_name(dest)
    try:
        yield temp
    except OSError as error:
        _discard(temp)
        raise _named(error, dest) from None
    except BaseException:
        _discard(temp)
        raise


def copy_hashing(
    src: str,
    dest: str,
    file_mode: int | None = None,
    dir_mode: int | None = None,
    inspect: Callable[[bytes], bool] | None = None,
) -> tuple[str, os.stat_result, bool | None]:
    """Copy ``src`` to ``dest`` atomically. Return the md5 of what was copied, the
    source's stat, taken on the open file before reading it, and ``inspect(bytes)``
    of a file read in one chunk (None for a larger one, or without ``inspect``).

    The copy is made in a nameless file (``O_TMPFILE``) and linked to ``dest``
    once complete: a killed run leaves nothing behind, and a new name costs one
    directory entry, not a temp name plus a rename. Where the filesystem has no
    nameless files, a temp name and a rename.

    The size in that stat is what is copied: no read to find the end (a file
    growing meanwhile has a newer mtime than its record, and is copied again)."""

    def copy_into(target: int) -> tuple[str, os.stat_result, bool | None]:
        with open(src, "rb", buffering=0) as source:
            info = os.fstat(source.fileno())
            write = functools.partial(_write_all, target)
            digest, looked = _stream(source, write, info.st_size, inspect)
        return digest, info, looked

    copied = _in_nameless(dest, file_mode, dir_mode, copy_into)
    if copied is _UNAVAILABLE:
        return _copy_hashing_named(src, dest, file_mode, dir_mode, inspect)
    return copied


def _copy_hashing_named(
    src: str,
    dest: str,
    file_mode: int | None,
    dir_mode: int | None,
    inspect: Callable[[bytes], bool] | None,
) -> tuple[str, os.stat_result, bool | None]:
    with _temp_for(dest) as temp:
        with open(src, "rb", buffering=0) as source, _create(temp, dir_mode) as target:
            info = os.fstat(source.fileno())
            digest, looked = _stream(source, target.write, info.st_size, inspect)
        _finish(temp, dest, file_mode, dir_mode)
    return digest, info, looked


def _stream(
    source: BinaryIO,
    write: Callable[[memoryview], object],
    size: int,
    inspect: Callable[[bytes], bool] | None = None,
) -> tuple[str, bool | None]:
    """Pass ``size`` bytes of ``source`` (fewer if it ends first) to ``write``,
    chunk by chunk; their md5, and ``inspect`` of them if they were one chunk."""
    digest = hashlib.md5(usedforsecurity=False)
    view = chunk_buffer()
    looked = None
    whole = inspect is not None and size <= len(view)
    while size > 0 and (count := source.readinto(view[: min(size, len(view))])):
        digest.update(view[:count])
        write(view[:count])
        if whole and count == size:  # all of it in this one read (not after a short one)
            looked = inspect(bytes(view[:count]))
        whole = False
        size -= count
    return digest.hexdigest(), looked


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        view = view[os.write(fd, view) :]


_nameless = hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd")
_NAMELESS_FLAGS = getattr(os, "O_TMPFILE", 0) | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0)
_root_fd: int | None = None


def _open_nameless(directory: str, dir_mode: int | None) -> int | None:
    """A new nameless file in ``directory`` (Linux ``O_TMPFILE``), or None where
    the filesystem (or the OS) has none."""
    global _nameless
    if not _nameless:
        return None
    try:
        return os.open(directory, _NAMELESS_FLAGS, 0o666)
    except FileNotFoundError:
        _remake_dir(directory, dir_mode)
        return os.open(directory, _NAMELESS_FLAGS, 0o666)
    except OSError as error:
        if error.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            _nameless = False
            return None
        raise


_UNAVAILABLE = object()


def _in_nameless(
    dest: str, file_mode: int | None, dir_mode: int | None, fill: Callable[[int], T]
) -> T | object:
    """``fill(fd)`` into a new nameless file in ``dest``'s directory, then give it
    ``file_mode`` and the name ``dest``; what ``fill`` returned. ``_UNAVAILABLE``
    where nameless files cannot be made or named: the caller uses a temp name."""
    directory = dest[: dest.rfind(os.sep)] or os.sep  # dirname, at C speed
    makedirs(directory, dir_mode)
    target = _open_nameless(directory, dir_mode)
    if target is None:
        return _UNAVAILABLE
    try:
        result = fill(target)
        if file_mode is not None:
            os.fchmod(target, file_mode)
        _publish(target, dest)
    except _NoNamelessLinks:
        return _UNAVAILABLE
    except OSError as error:
        raise _named(error, dest) from None
    finally:
        os.close(target)
    return result


def _named(error: OSError, dest: str) -> OSError:
    """``error`` naming the file being written (a failed write names none: "File
    too large", "No space left on device" would say nothing of where)."""
    if error.filename is not None:
        return error
    return OSError(error.errno, error.strerror, dest)


class _NoNamelessLinks(Exception):
    """Nameless files can be made here but not linked (no /proc, a sandbox)."""


def _publish(fd: int, dest: str) -> None:
    """Give the nameless file ``fd`` the name ``dest``, replacing what is there."""
    global _root_fd, _nameless
    if _root_fd is None:
        _root_fd = os.open("/", os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    # linkat(AT_SYMLINK_FOLLOW) on /proc/self/fd/N: the documented way to name an
    # O_TMPFILE file without privileges. A dir fd makes os.link call linkat; the
    # path is absolute and read at each call, so "self" is right after a fork.
    proc = f"/proc/self/fd/{fd}"
    try:
        os.link(proc, dest, src_dir_fd=_root_fd, follow_symlinks=True)
    except FileExistsError:
        temp = _temp_name(dest)
        try:
            os.link(proc, temp, src_dir_fd=_root_fd, follow_symlinks=True)
        except FileNotFoundError:  # the temp directory was deleted behind our back
            _remake_dir(os.path.dirname(temp), None)
            os.link(proc, temp, src_dir_fd=_root_fd, follow_symlinks=True)
        except OSError as error:  # another mount: a temp name beside it (_rename_beside)
            if error.errno != errno.EXDEV:
                raise
            _temp_dirs[:] = [entry for entry in _temp_dirs if not dest.startswith(entry[0])]
            temp = _temp_beside(dest)
            os.link(proc, temp, src_dir_fd=_root_fd, follow_symlinks=True)
        try:
            os.replace(temp, dest)
        except BaseException:
            _discard(temp)
            raise
    except OSError as error:
        if isinstance(error, FileNotFoundError) and not os.path.isdir(os.path.dirname(dest)):
            raise  # the directory went away: the caller's error to report
        _nameless = False  # this system cannot link them: temp names from now on
        raise _NoNamelessLinks from error


def link_or_copy(
    src: str, dest: str, file_mode: int | None = None, dir_mode: int | None = None
) -> None:
    """Make ``dest`` a file with ``src``'s bytes (``src`` is a regular file, not a
    symlink): a hard link where possible, else a copy."""
    makedirs(os.path.dirname(dest), dir_mode)
    if file_mode is None or _has_mode(src, file_mode):
        try:  # a new name appears with all its bytes (and its mode) at once: no temp name
            os.link(src, dest)
            return
        except OSError:
            pass
    temp = _temp_name(dest)
    try:
        try:
            os.link(src, temp)
        except FileNotFoundError:
            if not os.path.exists(src):
                raise
            _remake_dirs(temp, dest, dir_mode)
            os.link(src, temp)
        except OSError:
            shutil.copyfile(src, temp)
        _finish(temp, dest, file_mode, dir_mode)
    except BaseException:
        _discard(temp)
        raise
    # Renaming a link onto another link of the same file does nothing (POSIX):
    # then the temp name is still there, and must not stay in static_root.
    _discard(temp)


def _has_mode(path: str, mode: int) -> bool:
    """``path``'s permission bits are ``mode`` already (a link shares them: the
    copy phase gave its copies the configured mode, so a hashed name needs no chmod)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode) == mode
    except OSError:
        return False


def symlink(src: str, dest: str, dir_mode: int | None = None) -> None:
    """Point ``dest`` at ``src`` with a symlink, replacing what was there atomically."""
    directory = os.path.dirname(dest)
    makedirs(directory, dir_mode)
    # a relative target is read from the link's directory: made there
    temp = _temp_name(dest) if os.path.isabs(src) else _temp_beside(dest)
    try:
        os.symlink(src, temp)
    except FileNotFoundError:  # the directory, made earlier, was deleted behind our back
        _remake_dirs(temp, dest, dir_mode)
        os.symlink(src, temp)
    try:
        _rename(temp, dest, dir_mode)
    except BaseException:
        _discard(temp)
        raise


def _discard(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def remove(path: str) -> bool:
    """Delete a file or symlink; True if something was deleted (not if the name
    is gone, or is now a directory or under a file: the tree changed shape)."""
    try:
        os.unlink(path)
        return True
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return False


def remove_tree(directory: str) -> None:
    """Delete ``directory`` and all it holds (no symlink in it is followed)."""
    shutil.rmtree(directory)
    inside = directory + os.sep
    _known_dirs.difference_update(
        [known for known in _known_dirs if known == directory or known.startswith(inside)]
    )


def remove_empty_dirs(root: str, start: str) -> None:
    """Remove ``start`` and its parents while empty, stopping at ``root``."""
    directory = os.path.dirname(start)
    root = root.rstrip("/")
    while directory.startswith(root + "/"):
        try:
            os.rmdir(directory)
        except OSError:
            return
        _known_dirs.discard(directory)
        directory = os.path.dirname(directory)
