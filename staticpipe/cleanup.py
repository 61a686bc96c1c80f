"""What the pipeline wrote and no longer needs: recorded as garbage, deleted late.

A phase never deletes an output that the current manifest may name. It records
it here; ``collect_garbage`` deletes it after the new manifest is in place, so a
failed or killed run leaves the previous manifest and every file it names.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Container, Iterable, Mapping
from pathlib import Path

from . import fsutil, state
from .config import Config
from .hashing import HashedNames, hashed_path, md5_file, unhashed_names

MANIFEST_NAME = "staticfiles.json"


def _garbage_file(config: Config) -> Path:
    return config.state_path / "garbage.state"


class Live:
    """What a run leaves in static_root, as a container: the found ``names``,
    their ``hashed`` names (reversed, see HashedNames: no set of every one) and,
    if ``manifest``, staticfiles.json. ``any_hash``: the hashed names may carry
    any hash (a ``file_hash`` hook's), not only 12 hex digits."""

    def __init__(
        self,
        names: Container[str],
        hashed: Mapping[str, str] | None,
        manifest: bool,
        any_hash: bool = False,
    ) -> None:
        self.names, self.manifest = names, manifest
        self.hashed = HashedNames(hashed, any_hash) if hashed is not None else ()

    def __contains__(self, name: object) -> bool:
        return (
            name in self.names or name in self.hashed or (self.manifest and name == MANIFEST_NAME)
        )


def add_garbage(
    config: Config, names: Iterable[str], live: Container[str] = (), theirs: bool = False
) -> None:
    """Remember output names (relative to static_root) to delete after the manifest.
    ``theirs``: files staticpipe did not write (``--clear`` deletes them too), kept
    apart so that ``doit clean collect`` after a failed ``--clear`` leaves them."""
    path = _garbage_file(config)
    saved = state.load(path)
    key = "theirs" if theirs else "names"
    before = set(saved.get(key, []))
    after = {name for name in before.union(names) if name not in live}
    if after != before:
        state.save(path, {**saved, key: sorted(after)})


def has_garbage(config: Config) -> bool:
    """Outputs are waiting to be deleted (the manifest phase has work to do)."""
    saved = state.load(_garbage_file(config))
    return bool(saved.get("names") or saved.get("theirs"))


def named_by_manifest(config: Config, keys: bool, values: bool) -> list[str]:
    """What the manifest in static_root names (its original names, its hashed
    names): the outputs of an earlier run, when that run's state is lost (a phase
    without valid state would not know them, and would leave them behind). A
    manifest that is there but unreadable (truncated, not JSON, another format)
    names nothing: then the outputs that prove themselves are (``recognized``)."""
    from .manifest import read  # (manifest.py imports this module)

    try:
        paths = read(os.path.join(str(config.static_root), MANIFEST_NAME))
    except FileNotFoundError:
        return []
    except (OSError, ValueError, AttributeError):  # damaged, or not one of ours
        paths = None
    if not isinstance(paths, dict):
        return recognized(config, keys, values)
    names = [*(paths.keys() if keys else ()), *(paths.values() if values else ())]
    return [name for name in names if isinstance(name, str) and _inside(name)]


def recognized(config: Config, keys: bool, values: bool) -> list[str]:
    """The files in static_root that prove they are a build's outputs, with no
    record to say so: a hashed name ``a.<h>.css`` whose bytes' md5 starts with
    ``<h>`` (the default names: a ``file_hash`` hook's prove nothing), and, as
    keys, the copies ``a.css`` beside them. Anything else is left alone."""
    if config.file_hash is not None:
        return []
    root = str(config.static_root)
    hashed, copies = [], []
    for directory, _dirs, files in os.walk(root):
        for filename in files:
            path = os.path.join(directory, filename)
            name = os.path.relpath(path, root).replace(os.sep, "/")
            for original in unhashed_names(name):
                if os.path.isfile(path) and hashed_path(original, md5_file(path)) == name:
                    hashed.append(name)
                    if os.path.lexists(os.path.join(root, original)):
                        copies.append(original)
                    break
    return [*(copies if keys else ()), *(hashed if values else ())]


def _inside(name: str) -> bool:
    """A relative POSIX name that stays in static_root (the manifest is read from
    disk: nothing it says may reach outside)."""
    parts = name.split("/")
    return "\0" not in name and all(part not in ("", ".", "..") for part in parts)


def collect_garbage(config: Config, live: Container[str]) -> list[str]:
    """Delete recorded garbage that is not ``live``; return what was deleted."""
    path = _garbage_file(config)
    saved = state.load(path)
    names = [*saved.get("names", []), *saved.get("theirs", [])]
    if MANIFEST_NAME in names:  # first: no moment where it names a file deleted
        names = [MANIFEST_NAME, *(name for name in names if name != MANIFEST_NAME)]
    root = str(config.static_root)
    deleted = []
    for name in names:
        if name in live:
            continue
        full = os.path.join(root, name)
        if fsutil.remove(full):
            deleted.append(name)
            fsutil.remove_empty_dirs(root, full)
    state.discard(path)
    return deleted


def written_before(config: Config) -> set[str]:
    """What static_root holds that the pipeline wrote: its records, and what the
    manifest in place names (for ``make_way``)."""
    return owned_outputs(config).union(named_by_manifest(config, True, True))


def make_way(config: Config, name: str, owned: Container[str]) -> None:
    """Make room in static_root for the file ``name`` where the previous build
    had the other shape: a file where one of its directories now goes, or a
    directory where it now goes. Only what the pipeline wrote (``owned``, see
    ``written_before``) goes; anything else in the way is an error naming it."""
    from .errors import StaticpipeError

    root = str(config.static_root)

    def remove_owned(path: str) -> None:
        relative = os.path.relpath(path, root).replace(os.sep, "/")
        if relative not in owned:
            raise StaticpipeError(
                f"{path}: in the way of '{name}' in static_root and not written by "
                "staticpipe; move it away"
            )

    parts = name.split("/")
    for depth in range(1, len(parts)):
        path = os.path.join(root, *parts[:depth])
        if os.path.islink(path) or os.path.isfile(path):
            remove_owned(path)
            os.unlink(path)
            return
    path = os.path.join(root, name)
    if os.path.isdir(path) and not os.path.islink(path):
        for directory, _dirs, files in os.walk(path):
            for filename in files:
                remove_owned(os.path.join(directory, filename))
        fsutil.remove_tree(path)


def forget_outputs(config: Config) -> None:
    """Drop the state of what was written (``--clear``: every file is written
    again, and what was there is garbage)."""
    from . import collect, outputs, postprocess

    for path in (collect.state_file(config), postprocess.state_file(config)):
        state.discard(path)
    outputs.forget(config)


def forget_all(config: Config) -> None:
    """Drop the whole state directory (``doit clean collect``)."""
    shutil.rmtree(config.state_path, ignore_errors=True)


def owned_outputs(config: Config) -> set[str]:
    """Every file under static_root the pipeline wrote, by its recorded state."""
    from . import collect, postprocess

    names = set(collect.load_records(config))
    names |= set(postprocess.load_outputs(config))
    names |= set(state.load(_garbage_file(config)).get("names", []))
    names.add(MANIFEST_NAME)
    return names


def clean(config: Config) -> list[str]:
    """Remove everything the pipeline wrote (``doit clean collect``), and nothing else."""
    root = str(config.static_root)
    deleted = []
    for name in sorted(owned_outputs(config)):
        full = os.path.join(root, name)
        if fsutil.remove(full):
            deleted.append(name)
            fsutil.remove_empty_dirs(root, full)
    forget_all(config)
    try:
        os.rmdir(root)
    except OSError:
        pass
    return deleted
