"""What the pipeline wrote and no longer needs: kept as old versions, or deleted late.

An output a build no longer names (the old hashed name of an edited file, the
copy and hashed name of a removed source) stays in static_root, as Django keeps
it, "to keep serving the old files in case some pages still refer to those
files" (a page a CDN or a browser cached during a deploy). It is *retired*: a
journal in the state directory keeps, for each such output, the build that first
no longer named it and when that build completed, so that ``prune`` can apply a
retention policy (``keep_builds``, ``keep_age``) later, and ``doit clean
collect`` still knows it as the pipeline's.

What must really go (everything with ``--clear``; a build's outputs when storage
becomes "plain") is *garbage*: never deleted before the new manifest is in
place, then by ``collect_garbage``, so a failed or killed run leaves the
previous manifest and every file it names. The files ``--clear`` found that
staticpipe did not write (*theirs*) go only by a run that is itself ``--clear``:
a later run without it, after a ``--clear`` that failed or was killed, drops
them from the journal and leaves them where they are.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import time
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..config import Config, Retention
from ..fs import fsutil
from ..ledger import crash, state
from ..rewrite.hashing import (
    HashedNames,
    any_unhashed_names,
    hashed_path,
    md5_bytes,
    md5_file,
    md5_parts,
    unhashed_names,
)
from ..rewrite.patterns import adjustable
from . import undo

MANIFEST_NAME = "staticfiles.json"


def _garbage_file(config: Config) -> Path:
    return config.state_path / "garbage.state"


def _retired_file(config: Config) -> Path:
    return config.state_path / "retired.state"


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
    """Outputs are waiting to be deleted, or to be stamped with the build that
    retired them (``pending``: a run killed after its manifest was written, before
    ``collect_garbage``): the manifest phase has work to do."""
    saved = state.load(_garbage_file(config))
    if saved.get("names") or saved.get("theirs"):
        return True
    return bool(_load_journal(config)["pending"])


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
    record to say so: a hashed name ``a.<h>.css`` whose bytes hash to ``<h>``
    (their md5's first 12 hex digits; with a ``file_hash`` hook, what the hook
    gives for ``a.css`` and these bytes, as it named the file; without a hook,
    the members of a reference cycle by their shared hash), and, as keys, the
    copies ``a.css`` beside them. Anything else is left alone."""
    from ..rewrite import hashhook

    hook = hashhook.load(config)
    root = str(config.static_root)
    hashed: list[tuple[str, str]] = []  # (name, the original it is a hashed name of)
    unproven: dict[str, list[tuple[str, str, str]]] = {}  # hash -> (original, name, path)
    for directory, _dirs, files in os.walk(root):
        for filename in files:
            path = os.path.join(directory, filename)
            name = os.path.relpath(path, root).replace(os.sep, "/")
            originals = _unhashed(name, hook)
            for original in originals:
                if os.path.isfile(path) and _named_by(hook, original, path) == name:
                    hashed.append((name, original))
                    break
            else:  # (only CSS/JS reference each other, in cycles too)
                for original in originals if hook is None and adjustable(name) else ():
                    digest = _hash_in(name, original)
                    unproven.setdefault(digest, []).append((original, name, path))
    hashed += _cycle_members(unproven)
    copies = [original for _n, original in hashed if os.path.lexists(os.path.join(root, original))]
    return [*(copies if keys else ()), *(name for name, _o in hashed if values)]


_HASH_SEGMENT = re.compile(r"\.([0-9a-f]{12})(?=\.|$)")


def _hash_in(name: str, original: str) -> str:
    """The 12 hex digits that make ``original`` the hashed name ``name``."""
    for digest in _HASH_SEGMENT.findall(name.rpartition("/")[2]):
        if hashed_path(original, digest) == name:
            return digest
    return ""


def _cycle_members(unproven: Mapping[str, list[tuple[str, str, str]]]) -> list[tuple[str, str]]:
    """The hashed files among ``unproven`` that are a reference cycle's members
    (rewriting.py, no hook): one hash for the component, the md5 of each
    member's name and text with the references inside it unhashed."""
    found = []
    for digest, members in unproven.items():
        members = sorted(members)
        if not digest or len({original for original, _n, _p in members}) != len(members):
            continue
        parts = []
        for original, _name, path in members:
            try:
                with open(path, "rb") as handle:
                    data = handle.read()
            except OSError:
                break
            parts += [original, md5_bytes(data.replace(b".%s." % digest.encode(), b"."))]
        else:
            if md5_parts(parts)[:12] == digest:
                found += [(name, original) for original, name, _path in members]
    return found


def _unhashed(name: str, hook) -> list[str]:
    """The names a build could have hashed into ``name`` (never ``name`` itself)."""
    if hook is None:
        return unhashed_names(name)
    return [original for original in any_unhashed_names(name) if original != name]


def _named_by(hook, original: str, path: str) -> str | None:
    """The hashed name of ``original`` with the bytes at ``path`` (the hook's
    hash if there is one: a hook that fails on them names nothing)."""
    from ..errors import ConfigError
    from ..rewrite.hashing import with_hash

    if hook is None:
        return hashed_path(original, md5_file(path))
    try:
        return with_hash(original, hook.of_file(original, path))
    except (ConfigError, OSError):
        return None


def _inside(name: str) -> bool:
    """A relative POSIX name that stays in static_root (the manifest is read from
    disk: nothing it says may reach outside)."""
    parts = name.split("/")
    return "\0" not in name and all(part not in ("", ".", "..") for part in parts)


SIBLINGS = (".gz", ".br", ".zst")  # precompressed files beside a file (phases/compress.py)


def deletion_order(names: Iterable[str]) -> list[str]:
    """The manifest first (no moment where it names a file deleted), then the
    precompressed siblings, then the rest: a server never finds a ``.gz``
    whose file is gone."""

    def rank(name: str) -> tuple[bool, bool, str]:
        return name != MANIFEST_NAME, not name.endswith(SIBLINGS), name

    return sorted(names, key=rank)


def collect_garbage(config: Config, live: Container[str], clear: bool = False) -> list[str]:
    """Delete recorded garbage that is not ``live``; return what was deleted.
    Called once a build's manifest is in place (``live``: that build's outputs):
    the build is complete, so what it retired is stamped with it (``_settle``),
    and the previous build's copies it replaced are no longer kept (undo.py).
    Files staticpipe did not write (``theirs``) go only if this run is ``clear``;
    otherwise they were journalled by a ``--clear`` that did not complete, and
    only leave the journal: staticpipe deletes only files it wrote."""
    undo.settle(config)
    path = _garbage_file(config)
    saved = state.load(path)
    root = str(config.static_root)
    names = [*saved.get("names", []), *(saved.get("theirs", []) if clear else ())]
    names = deletion_order([*names, *_siblings_of(root, names, live)])
    deleted = []
    for name in names:
        if name in live:
            continue
        full = os.path.join(root, name)
        if fsutil.remove(full):
            deleted.append(name)
            fsutil.remove_empty_dirs(root, full)
    if deleted:
        crash.point("delete:garbage")
    state.discard(path)
    _settle(config, live, deleted)
    return deleted


# -- retired outputs: kept as old versions, pruned by policy ---------------------
@dataclass(frozen=True)
class Retired:
    """An output no build names since ``build`` (a build number: each complete
    build that changed what static_root serves counts one), retired at ``since``
    (time.time() when that build completed)."""

    build: int
    since: float


def _load_journal(config: Config) -> dict:
    """The journal: ``build`` (the last complete build's number), ``manifest``
    (the identity of the staticfiles.json it left), ``pending`` (names retired
    by a build not complete yet: the manifest in place may still name them) and
    ``retired`` (name -> [build, since])."""
    saved = state.load(_retired_file(config))
    return {
        "build": saved.get("build", 0),
        "manifest": saved.get("manifest"),
        "pending": list(saved.get("pending", [])),
        "retired": dict(saved.get("retired", {})),
    }


def _save_journal(config: Config, journal: dict) -> None:
    state.save(_retired_file(config), journal)


def _is_file(root: str, name: str) -> bool:
    """A file or symlink (never a directory) at ``name`` in static_root."""
    try:
        return not stat.S_ISDIR(os.lstat(os.path.join(root, name)).st_mode)
    except OSError:
        return False


def retire(config: Config, names: Iterable[str], live: Container[str] = ()) -> None:
    """The build in progress no longer names these outputs (relative to
    static_root): keep them, as Django does, and journal them as pending until
    the build completes (``collect_garbage``). Names still ``live``, and names
    that are no file now (gone, or made way for a directory: ``make_way``), are
    not journalled."""
    root = str(config.static_root)
    journal = _load_journal(config)
    pending = set(journal["pending"])
    new = {name for name in names if name not in live and name not in pending}
    new = {name for name in new if _is_file(root, name)}
    if new:
        journal["pending"] = sorted(pending | new)
        _save_journal(config, journal)


def expect(config: Config, names: Iterable[str]) -> None:
    """Outputs about to be written that no record names yet (a new source's
    copy): journalled as pending first, so that a run killed after writing them
    leaves them known. The next complete build keeps them if it names them,
    else retires them like any old output (``_settle``)."""
    journal = _load_journal(config)
    pending = set(journal["pending"])
    new = set(names) - pending
    if new:
        journal["pending"] = sorted(pending | new)
        _save_journal(config, journal)


def keep_known(config: Config) -> None:
    """A run from no state (after ``doit forget``) copies and hashes every file
    again, replacing the records and entries that say what earlier runs wrote.
    What they name is journalled first, as ``retire`` does: the build keeps what
    it names and retires the rest like any old version (a killed run's outputs
    that no manifest names are known by nothing else)."""
    from ..ledger import store
    from . import collect, rewriting

    try:
        names = [*collect.load_records(config, repair=False), *rewriting.load_outputs(config)]
    except store.StoreDamaged:
        return  # (nothing to know: the run starts again from no state)
    retire(config, names)


def _hashing_file(config: Config) -> Path:
    return config.state_path / "hashing.state"


@dataclass(frozen=True)
class Unrecorded:
    """What a killed post-processing run may have written and not recorded:
    hashed files of ``names`` (their bytes prove their names), and exactly the
    ``outputs`` whose bytes do not (a reference cycle's members share one hash,
    of the whole component)."""

    names: list[str]
    outputs: list[str]


def hashing(config: Config, names: list[str]) -> Unrecorded:
    """Post-processing is about to write the hashed files of ``names``: recorded
    first (with what killed runs left, returned), so that what a run killed
    before recording its outputs wrote is found by the next (``unrecorded_outputs``)."""
    left = unrecorded(config)
    state.save(
        _hashing_file(config), {"names": sorted({*left.names, *names}), "outputs": left.outputs}
    )
    return left


def unrecorded(config: Config) -> Unrecorded:
    """What killed post-processing runs may have written and not recorded."""
    saved = state.load(_hashing_file(config))
    return Unrecorded(list(saved.get("names", [])), list(saved.get("outputs", [])))


def hashing_outputs(config: Config, outputs: list[str]) -> None:
    """Post-processing is about to write ``outputs``, names their bytes will not
    prove (``Unrecorded``): recorded exactly, first."""
    saved = state.load(_hashing_file(config))
    known = set(saved.get("outputs", []))
    if not known.issuperset(outputs):
        state.save(_hashing_file(config), {**saved, "outputs": sorted(known.union(outputs))})


def hashed_recorded(config: Config) -> None:
    """Post-processing recorded what it wrote (its entry is committed)."""
    state.discard(_hashing_file(config))


def unrecorded_outputs(config: Config, left: Unrecorded, live: Container[str] = ()) -> list[str]:
    """The files killed post-processing runs wrote (``left``) that no entry
    names (not ``live``): their exact outputs, and in the directories of their
    names, the files that prove they are a hashed name of one of them (by their
    bytes: ``recognized``). The next run retires them like any old output."""
    from ..rewrite import hashhook

    if not left.names and not left.outputs:
        return []
    wanted = set(left.names)
    hook = hashhook.load(config)
    root = str(config.static_root)
    found = [name for name in left.outputs if name not in live and _is_file(root, name)]
    for directory in sorted({name.rpartition("/")[0] for name in wanted}):
        try:
            entries = list(os.scandir(os.path.join(root, directory)))
        except OSError:
            continue
        for entry in entries:
            name = f"{directory}/{entry.name}" if directory else entry.name
            if name in live or entry.is_dir(follow_symlinks=False):
                continue
            for original in _unhashed(name, hook):
                if original in wanted and _named_by(hook, original, entry.path) == name:
                    found.append(name)
                    break
    return found


def _siblings_of(root: str, names: list[str], live: Container[str]) -> list[str]:
    """The precompressed files beside ``names`` that are not ``live``: a server
    would hand them out for a file that is gone (even one staticpipe did not
    journal as its own: a ``.gz`` of an old version a killed run made)."""
    journalled = set(names)
    return [
        name + suffix
        for name in names
        if name not in live and not name.endswith(SIBLINGS)
        for suffix in SIBLINGS
        if name + suffix not in journalled
        and name + suffix not in live
        and os.path.lexists(os.path.join(root, name + suffix))
    ]


def _settle(config: Config, live: Container[str], deleted: Iterable[str]) -> None:
    """A build is complete (its manifest in place): the names it retired get its
    number and the time; names it names again (``live``) or deleted leave the
    journal. The build counts if it retired something or wrote a new manifest."""
    journal = _load_journal(config)
    gone = set(deleted)
    manifest = fsutil.file_stat(os.path.join(str(config.static_root), MANIFEST_NAME))
    retired = journal["retired"]
    stale = _stale_siblings([*retired, *journal["pending"]], live)
    removed = 0
    for name in stale:  # (out of the journal whether or not the file was still there)
        removed += fsutil.remove(os.path.join(str(config.static_root), name))
    if removed:
        crash.point("delete:stale-siblings")
    gone.update(stale)
    kept = {name: entry for name, entry in retired.items() if name not in gone and name not in live}
    root = str(config.static_root)
    new = [name for name in journal["pending"] if name not in gone and name not in live]
    new = [name for name in new if name in retired or _is_file(root, name)]  # (expected, unwritten)
    build = journal["build"]
    if new or manifest != journal["manifest"]:
        build += 1
    now = time.time()
    for name in new:
        kept.setdefault(name, [build, now])  # retired earlier and never named since: as then
    after = {"build": build, "manifest": manifest, "pending": [], "retired": kept}
    if after != journal:
        _save_journal(config, after)


def _stale_siblings(names: Iterable[str], live: Container[str]) -> list[str]:
    """Old precompressed files whose file the build names again (an old version
    revived: an edit reverted) but which the build does not write (their
    encoding was switched off since): served beside it, they must go."""
    return [
        name
        for name in names
        if name.endswith(SIBLINGS) and name not in live and name.rpartition(".")[0] in live
    ]


def retired(config: Config) -> dict[str, Retired]:
    """The outputs earlier builds wrote that the last complete build no longer
    names, still in static_root (as far as the journal knows)."""
    return {name: Retired(*entry) for name, entry in _load_journal(config)["retired"].items()}


def pending(config: Config) -> list[str]:
    """Outputs retired by a build that did not complete (the manifest in place
    may still name them): never pruned."""
    return _load_journal(config)["pending"]


def last_build(config: Config) -> int:
    """The number of the last complete build (0: none recorded)."""
    return _load_journal(config)["build"]


def _current_outputs(config: Config) -> set[str]:
    """Every name the current build uses, by its records and by the manifest in
    place (both: a name either one gives is never pruned)."""
    from ..integrity import INTEGRITY_NAME
    from . import collect, rewriting

    names = set(collect.load_records(config, repair=False).keys())
    names |= set(rewriting.load_outputs(config))
    names |= set(named_by_manifest(config, True, True))
    names.update((MANIFEST_NAME, INTEGRITY_NAME))
    return names


def _in_use(name: str, current: set[str], suffixes: tuple[str, ...]) -> bool:
    """``name`` is a current output, or a precompressed sibling of one."""
    if name in current:
        return True
    return any(name.endswith(suffix) and name[: -len(suffix)] in current for suffix in suffixes)


def prunable(config: Config, now: float | None = None) -> list[str]:
    """What ``prune`` would delete now, deleting nothing (``--dry-run``, ``--explain``)."""
    return sorted(_prunable(config, _load_journal(config), now))


def _prunable(config: Config, journal: dict, now: float | None) -> list[str]:
    """The retired outputs the policy lets go: no build among the last
    ``keep_builds`` (the current one included) names them, and they have been
    unreferenced for ``keep_age`` or longer. Without a policy in the
    configuration, Propshaft's defaults (``config.Retention``)."""
    policy = config.retention or Retention()
    now = time.time() if now is None else now
    # retired by build b: last named by build b - 1; the last N builds are
    # last - N + 1 .. last
    newest = journal["build"] - policy.builds + 1
    old = [
        name
        for name, (build, since) in journal["retired"].items()
        if build <= newest and now - since >= policy.age
    ]
    if not old:
        return []
    current, suffixes = _current_outputs(config), config.compress.suffixes
    return [name for name in old if not _in_use(name, current, suffixes)]


def prune(config: Config, now: float | None = None) -> list[str]:
    """Delete the retired outputs the retention policy lets go (see ``_prunable``);
    return their names. Only files the journal holds (which the pipeline wrote
    and no longer names) are deleted, never the current build's nor a directory;
    each leaves the journal (so does a name no longer there). Takes the run lock."""
    from ..ledger import lock

    with lock.locked(config):
        journal = _load_journal(config)
        old = _prunable(config, journal, now)
        root = str(config.static_root)
        deleted = []
        for name in deletion_order([*old, *_siblings_of(root, old, ())]):  # (a .gz goes with it)
            full = os.path.join(root, name)
            if fsutil.remove(full):
                deleted.append(name)
                fsutil.remove_empty_dirs(root, full)
            journal["retired"].pop(name, None)
        if deleted:
            crash.point("delete:prune")
        if old:
            _save_journal(config, journal)
    return deleted


def written_before(config: Config, derived: Iterable[str] = ()) -> set[str]:
    """What static_root holds that the pipeline wrote: its records (and
    ``derived``: what the derived phases' rows name), and what the manifest in
    place names (for ``make_way`` and ``--clear``)."""
    return owned_outputs(config, derived).union(named_by_manifest(config, True, True))


def make_way(
    config: Config, name: str, owned: Container[str], keep: Callable[[str], None] | None = None
) -> None:
    """Make room in static_root for the file ``name`` where the previous build
    had the other shape: a file where one of its directories now goes, or a
    directory where it now goes. Only what the pipeline wrote (``owned``, see
    ``written_before``) goes; anything else in the way is an error naming it.
    ``keep``: called with each file's name before it goes (undo.Area.keep)."""
    from ..errors import StaticpipeError

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
            if keep is not None:
                keep("/".join(parts[:depth]))
            os.unlink(path)
            crash.point("delete:make-way")
            _unjournal(config, ["/".join(parts[:depth])], prefix=False)
            return
    path = os.path.join(root, name)
    if os.path.isdir(path) and not os.path.islink(path):
        below = []
        for directory, _dirs, files in os.walk(path):
            for filename in files:
                remove_owned(os.path.join(directory, filename))
                below.append(os.path.relpath(os.path.join(directory, filename), root))
        if keep is not None:
            for relative in below:
                keep(relative.replace(os.sep, "/"))
        fsutil.remove_tree(path)
        crash.point("delete:make-way")
        _unjournal(config, [name], prefix=True)


def _unjournal(config: Config, names: list[str], prefix: bool) -> None:
    """Old versions ``make_way`` removed (``prefix``: and all below them) leave
    the journal: an old version in the way of the current build cannot stay."""
    journal = _load_journal(config)
    below = tuple(name + "/" for name in names) if prefix else ()

    def stays(name: str) -> bool:
        return name not in names and not (below and name.startswith(below))

    retired = {name: entry for name, entry in journal["retired"].items() if stays(name)}
    pending = [name for name in journal["pending"] if stays(name)]
    if retired != journal["retired"] or pending != journal["pending"]:
        _save_journal(config, {**journal, "retired": retired, "pending": pending})


def forget_outputs(config: Config) -> None:
    """Drop the state of what was written (``--clear``: every file is written
    again, and what was there is garbage)."""
    from ..engine import outputs
    from . import collect, rewriting

    for path in (collect.state_file(config), rewriting.state_file(config)):
        state.discard(path)
    outputs.forget(config)


def forget_all(config: Config) -> None:
    """Drop the whole state directory (``doit clean collect``)."""
    shutil.rmtree(config.state_path, ignore_errors=True)


def owned_outputs(config: Config, also: Iterable[str] = ()) -> set[str]:
    """Every file under static_root the pipeline wrote, by its recorded state
    (``also``: what the derived phases' rows name, engine/phases.written), and
    what killed runs wrote before recording it (``unrecorded_outputs``)."""
    from . import collect, rewriting

    names = set(collect.load_records(config))
    names |= set(rewriting.load_outputs(config))
    names.update(unrecorded_outputs(config, unrecorded(config)))
    names |= set(state.load(_garbage_file(config)).get("names", []))
    journal = _load_journal(config)
    names |= set(journal["retired"])  # the old versions kept
    names |= set(journal["pending"])
    names.add(MANIFEST_NAME)
    names.update(also)
    return names


def cleanable(config: Config, also: Iterable[str] = ()) -> list[str]:
    """What ``doit clean collect`` removes: every file the pipeline wrote
    (``owned_outputs``), and the precompressed files beside them (a killed run
    may have made one before recording it: it goes with its file)."""
    names = sorted(owned_outputs(config, also))
    return [*names, *_siblings_of(str(config.static_root), names, ())]


def beside(name: str, names: Container[str]) -> bool:
    """``name`` is one of ``names``, or a precompressed file beside one."""
    return name in names or (name.endswith(SIBLINGS) and name.rpartition(".")[0] in names)


def clean(config: Config, also: Iterable[str] = ()) -> list[str]:
    """Remove everything the pipeline wrote (``doit clean collect``), and nothing
    else (``also``: as for ``owned_outputs``)."""
    root = str(config.static_root)
    deleted = []
    for name in deletion_order(cleanable(config, also)):
        full = os.path.join(root, name)
        if fsutil.remove(full):
            deleted.append(name)
            fsutil.remove_empty_dirs(root, full)
    forget_all(config)
    for area in undo.locations(config):  # (a killed run's, in static_root)
        shutil.rmtree(area, ignore_errors=True)
    try:
        os.rmdir(root)
    except OSError:
        pass
    return deleted
