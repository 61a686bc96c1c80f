"""The undo area: the previous build's files, kept until the new manifest is in place.

Hashed files are never rewritten (their names carry their content), but a
manifest build replaces the unhashed copies (``css/a.css``) in place before its
new staticfiles.json is written. If the run then fails (a full disk, EFBIG,
EIO, Ctrl-C), the manifest still served names those copies: they must still
hold their old bytes (#17). So before the copy phase replaces or removes a file
of static_root while a manifest is in place, the file gets a second name in the
undo area: a hard link (no data block: the new copy is written to a new inode),
a copy only where the filesystem has no hard links. The area is

- ``<state_dir>/undo`` where the state directory is on static_root's
  filesystem, else ``<static_root>/.staticpipe-undo`` (``HIDDEN``);
- ``manifest`` in it: the identity of the staticfiles.json the kept files
  belong to; ``files/<name>``: the kept files, at their names; ``beside/<name>``:
  the precompressed files beside kept copies (``keep(name, beside=True)``).

``rollback`` puts them back (the drivers, tasks.py and pipeline.py, call it when
a run fails, before re-raising); a run killed with SIGKILL leaves them, and the
next run puts them back before it reads any state (``recover``). Either way a
copy put back first loses its record in the ledger (one commit), so the next
run copies it again, and is journalled as an output to settle (retired if its
source is gone by then: never left unknown). Its precompressed siblings, which
the copy phase removes before it replaces the copy, are kept apart and put back
with it while their encoding is still configured (the compress phase's rows name
them); any other beside it was made from the new bytes and goes. Kept
files belong to one staticfiles.json: once another is in place they are
obsolete and are dropped, not put back. Once the new manifest is in place
(``cleanup.collect_garbage``), or a run completes, the kept files go, then the
identity (``settle``): an area holds files only while it says whose they are.
Its empty directories stay in the state directory (an rmdir is slow on some
filesystems); an area in static_root goes whole.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import sys
import threading

from ..config import Config
from ..fs import fsutil

HIDDEN = ".staticpipe-undo"  # in static_root, where the state directory is on another filesystem
_MANIFEST = "staticfiles.json"  # (cleanup.MANIFEST_NAME: cleanup imports this module)


def locations(config: Config) -> tuple[str, str]:
    """Where an undo area may be: in the state directory, in static_root."""
    return str(config.state_path / "undo"), os.path.join(str(config.static_root), HIDDEN)


def _manifest_identity(config: Config) -> list[int] | None:
    identity = fsutil.file_stat(os.path.join(str(config.static_root), _MANIFEST))
    return None if identity is None else list(identity)


class Area:
    """This run's undo area for one static_root, made at the first file kept."""

    def __init__(self, config: Config, manifest: list[int]):
        self.config = config
        self.base = fsutil.prefix(str(config.static_root))
        self.manifest = manifest  # the identity of the staticfiles.json in place
        self.files: str | None = None  # the area's ``files/`` + "/", once made
        self.beside = ""  # its ``beside/`` + "/", made with it
        self.made: list[str] = []  # the areas made (two if links across a mount failed)
        self.kept: list[str] = []  # the kept files' paths (list.append: safe from threads)
        self._real = os.path.realpath(str(config.static_root))
        self._guard = threading.Lock()

    def keep(self, name: str, beside: bool = False) -> None:
        """Before the file (or symlink) ``name`` of static_root is replaced or
        removed: keep it, unless there is none (a new name, or a directory now)
        or it is kept already (the older one, which the manifest in place names,
        stays). ``beside``: a precompressed file beside a copy (put back only
        with it, while its encoding is configured)."""
        src = self.base + name
        if not self._inside(name):
            return  # a symlink on its way (a --link copy where a directory now goes)
        if self.files is None:
            if not os.path.lexists(src):
                return  # (no area for a run that only adds files)
            self._open()
        target = (self.beside if beside else self.files) + name
        try:
            self._link(name, src, target, beside)
        except FileNotFoundError:  # no such file, or its directory in the area is not made
            if os.path.lexists(src):
                fsutil.makedirs(os.path.dirname(target))
                try:
                    self._link(name, src, target, beside)
                except FileNotFoundError:
                    pass

    def _inside(self, name: str) -> bool:
        """``name``'s directory is static_root's own: no symlink on the way leads
        elsewhere (a source directory, through an old ``--link`` copy)."""
        directory = name.rpartition("/")[0]
        if not directory:
            return True
        return os.path.realpath(self.base + directory) == os.path.join(self._real, directory)

    def _link(self, name: str, src: str, target: str, beside: bool) -> None:
        try:
            os.link(src, target, follow_symlinks=False)
            self.kept.append(target)
        except (FileExistsError, NotADirectoryError):
            return  # kept already, or a file where the name needs a directory: none to keep
        except FileNotFoundError:
            raise  # (see keep)
        except OSError as error:
            if os.path.isdir(src) and not os.path.islink(src):
                return  # a directory (cleanup.make_way keeps the files below it)
            if error.errno == errno.EXDEV and not target.startswith(self.base):
                # two mounts of one filesystem (see fsutil._rename_beside): in static_root
                files = self.files
                with self._guard:
                    if self.files == files:
                        self._make(locations(self.config)[1])
                self.keep(name, beside)
                return
            # no hard links here (or too many): the bytes themselves
            if _copy_into(src, target, os.path.dirname(self.files.rstrip(os.sep))):
                self.kept.append(target)

    def _open(self) -> None:
        with self._guard:
            if self.files is not None:
                return
            state_area, hidden = locations(self.config)
            try:
                same = (
                    os.stat(str(self.config.static_root)).st_dev
                    == os.stat(str(self.config.state_path)).st_dev
                )
            except OSError:
                same = False
            self._make(state_area if same else hidden)

    def _make(self, path: str) -> None:
        """Make the area at ``path``: its manifest identity first (atomically),
        then ``files/`` (so an area with files always says whose they are)."""
        os.makedirs(path, exist_ok=True)
        identity = os.path.join(path, "manifest")
        if not os.path.exists(identity):
            temp = identity + ".tmp"
            with open(temp, "w") as handle:
                json.dump(self.manifest, handle)
            os.replace(temp, identity)
        files = os.path.join(path, "files")
        os.makedirs(files, exist_ok=True)
        os.makedirs(os.path.join(path, "beside"), exist_ok=True)
        self.made.append(path)
        self.beside = os.path.join(path, "beside") + os.sep
        self.files = files + os.sep


def _copy_into(src: str, target: str, area: str) -> bool:
    """``src``'s bytes (or link) at ``target``, whole or not at all (a partial copy
    put back would replace a file still intact): through a temporary name in
    ``area``, outside its ``files``. False: nothing to keep, or kept already."""
    temp = os.path.join(area, f"partial.{os.getpid()}.{threading.get_ident()}")
    try:
        shutil.copy2(src, temp, follow_symlinks=False)
        if os.path.lexists(target):  # (each name is kept by one thread)
            return False
        os.rename(temp, target)
        return True
    except FileNotFoundError:
        return False
    finally:
        fsutil.remove(temp)


_areas: dict[str, Area] = {}  # static_root -> this process's area (one run at a time: the lock)


def area(config: Config) -> Area | None:
    """The area of the run in progress (made at its first kept file); None if
    no staticfiles.json is in place (nothing to keep for)."""
    key = str(config.static_root)
    current = _areas.get(key)
    if current is not None:
        return current
    manifest = _manifest_identity(config)
    if manifest is None:
        return None
    _areas[key] = current = Area(config, manifest)
    return current


def keep(config: Config, name: str) -> None:
    """``Area.keep`` in the run's area (a file post-processing writes over)."""
    current = area(config)
    if current is not None:
        current.keep(name)


def settle(config: Config) -> None:
    """The new manifest is in place (or the run completed): the kept files go."""
    current = _areas.pop(str(config.static_root), None)
    if current is not None:
        for target in current.kept:
            fsutil.remove(target)
        for path in current.made:
            _empty(config, path)


def rollback(config: Config) -> None:
    """A run failed: put the kept files back. Never raises (the run's own error
    is the one to report): what cannot be done now stays for the next run."""
    try:
        _restore_all(config, strict=False)
    except Exception as error:  # noqa: BLE001
        _warn(f"could not put back the previous build's files ({error}); the next run will")


def recover(config: Config) -> None:
    """Before a run reads any state (holding the lock): a killed run's kept files
    go back where the manifest in place expects them. (Two stats when none.)"""
    _restore_all(config, strict=True)


def _restore_all(config: Config, strict: bool) -> None:
    _areas.pop(str(config.static_root), None)
    state_area, hidden = locations(config)
    if os.path.lexists(os.path.join(state_area, "manifest")):
        _restore(config, state_area, strict)
    if os.path.isdir(hidden):  # (never left in static_root)
        _restore(config, hidden, strict)


def _restore(config: Config, path: str, strict: bool) -> None:
    files, beside = os.path.join(path, "files"), os.path.join(path, "beside")
    kept, siblings = _kept_names(files), _kept_names(beside)
    if (kept or siblings) and _belongs(config, path):
        root = str(config.static_root)
        in_the_way = _in_the_way(root, kept)
        from . import collect  # (collect keeps files here: it imports this module)

        try:
            collect.forget_records(config, [*kept, *in_the_way])
        except Exception as error:  # noqa: BLE001
            if strict:
                raise
            _warn(f"could not update the ledger ({error}); the next run puts the files back")
            return  # (a copy put back must not keep the record of the new one)
        base = fsutil.prefix(root)
        for name in in_the_way:  # the failed run's, where a kept file goes back
            full = base + name
            if os.path.isdir(full) and not os.path.islink(full):
                fsutil.remove_tree(full)
            else:
                fsutil.remove(full)
        suffixes = config.compress.suffixes
        for name in kept:
            dest = base + name
            for suffix in suffixes:  # made from the new bytes (the old ones are kept apart)
                fsutil.remove(dest + suffix)
            source = os.path.join(files, name)
            fsutil.makedirs(os.path.dirname(dest), config.directory_permissions_mode)
            os.replace(source, dest)
            fsutil.remove(source)  # (still there if it was the very file: rename did nothing)
        put_back = set(kept)
        for name in siblings:  # with their copy, while their encoding is made
            source = os.path.join(beside, name)
            if name.endswith(suffixes) and name.rpartition(".")[0] in put_back:
                os.replace(source, base + name)
            fsutil.remove(source)
    else:
        for name in kept:  # obsolete: the manifest they belong to is gone
            fsutil.remove(os.path.join(files, name))
        for name in siblings:
            fsutil.remove(os.path.join(beside, name))
    _empty(config, path)


def _kept_names(files: str) -> list[str]:
    names = []
    for directory, _dirs, filenames in os.walk(files):
        for filename in filenames:
            names.append(os.path.relpath(os.path.join(directory, filename), files))
    return sorted(name.replace(os.sep, "/") for name in names)


def _belongs(config: Config, path: str) -> bool:
    """The kept files belong to the staticfiles.json in place."""
    try:
        with open(os.path.join(path, "manifest")) as handle:
            saved = json.load(handle)
    except (OSError, ValueError):
        return False
    return saved is not None and saved == _manifest_identity(config)


def _in_the_way(root: str, names: list[str]) -> list[str]:
    """What a failed run put where a kept file goes back (the tree changed shape:
    cleanup.make_way): a file where one of its directories goes, a directory
    where it goes, and every file below such a directory."""
    found: set[str] = set()
    for name in names:
        parts = name.split("/")
        for depth in range(1, len(parts)):
            try:
                mode = os.lstat(os.path.join(root, *parts[:depth])).st_mode
            except OSError:
                break
            if not stat.S_ISDIR(mode):
                found.add("/".join(parts[:depth]))
                break
        full = os.path.join(root, name)
        if os.path.isdir(full) and not os.path.islink(full):
            found.add(name)
            found.update(f"{name}/{below}" for below in _kept_names(full))
    return sorted(found, key=lambda name: (name.count("/"), name))


def _empty(config: Config, path: str) -> None:
    """The area at ``path`` holds nothing any more (its kept files are gone): it
    goes from static_root; in the state directory its identity goes, and its
    directories stay for the next run (cheap to keep; removing them is not)."""
    if path == locations(config)[1]:
        if os.path.isdir(path):
            fsutil.remove_tree(path)
    else:
        fsutil.remove(os.path.join(path, "manifest"))


def _warn(message: str) -> None:
    print(f"staticpipe: warning: {message}", file=sys.stderr)
