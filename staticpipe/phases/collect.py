"""The collect phase: copy (or symlink) every found file into static_root.

Per-file state (source path, size, mtime, ctime, inode, md5) decides what to
redo: an unchanged source whose copy is still there is not touched, and a
content change hidden by a restored mtime is still seen through ctime/inode.
Files that are no longer found are not deleted: their copies stay as old
versions, as Django keeps them, journalled as retired for ``cleanup.prune``.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from itertools import compress
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple

from .. import progress
from ..config import Config
from ..errors import StaticpipeError
from ..fs import fsutil
from ..fs.parallel import fill
from ..ledger import state, store
from ..options import Except, RunOptions
from ..rewrite import rules
from ..rewrite.hashing import md5_file
from ..sources import discovery
from ..sources.finders import Found
from . import cleanup, undo


class Record(NamedTuple):
    """The copy phase's record of one file: the source and its stat as copied,
    and what the copy holds. (Saved as a plain tuple: store.Table's ``row``.)"""

    source: str
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    md5: str  # of the copy
    linked: bool  # --link: a symlink to the source, not a copy
    racy: bool  # recorded "racily clean" (see _racy): checked by content next time
    bare: bool  # an ASCII JS file without the JS patterns' word (see _bare)

    @property
    def stat(self) -> fsutil.FileStat:
        """The source's version it was copied from."""
        return fsutil.FileStat(self.size, self.mtime_ns, self.ctime_ns, self.inode)

    @classmethod
    def of(
        cls, source: str, stat: fsutil.FileStat, md5: str, linked: bool, racy: bool, bare: bool
    ) -> Record:
        return cls(source, *stat, md5, linked, racy, bare)


# A file modified within fsutil.RACY_NS of being recorded may change again
# without its stat changing: such records are re-checked by content.


def state_file(config: Config) -> Path:
    return config.state_path / "collect.state"


def source_moved(record: Record, source: str) -> bool:
    """``source``'s FileStat now is not the one the record holds (OSError if it
    cannot be stat'ed)."""
    return record.stat != fsutil.FileStat.of(os.stat(source))


class Records(store.Table):
    """The copy phase's table of records, and the names of its racy ones (kept in
    the collect entry: an edit's run looks at those few, not at every record)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.racy: list[str] = []


@dataclass
class CollectResult:
    records: Records
    copied: list[str] = field(default_factory=list)
    unmodified: Collection[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # names whose records went


def load_records(config: Config, repair: bool = True) -> Records:
    """The saved records, read by name as asked (see store.py). ``repair``: a
    damaged database may be removed (not in a dry run)."""
    return load_identified(config, repair)[0]


def load_identified(config: Config, repair: bool = True) -> tuple[Records, str | None]:
    """``load_records``, and the token of the entry they were read from
    (None: no valid state). The table's ``racy`` holds the racy records' names."""
    saved, identity = state.load_identified(state_file(config))
    token = identity if saved.get("root") == str(config.static_root) else None
    records = store.Database(config.state_path, repair).table(
        "collect", token, "collect", row=Record, kind=Records
    )
    records.racy = list(saved.get("racy", [])) if records.token is not None else []
    return records, (identity if records.token is not None else None)


def no_records(config: Config) -> Records:
    """An empty table (no state: every file is looked at), whatever is saved."""
    return store.Database(config.state_path, repair=False).table(
        "collect", None, "collect", row=Record, kind=Records
    )


def save_records(config: Config, records: Records, racy: list[str]) -> None:
    """Commit the records' changes and the entry that names them, in one transaction."""
    entry = {"root": str(config.static_root), "racy": racy}
    records.db().commit("collect", [records], entries=state.packed(state_file(config), entry))


def forget_records(config: Config, names: list[str]) -> None:
    """The copies of ``names`` hold an older build's bytes again (undo.py put
    them back): their records go (one commit), so the next run copies them again
    and every phase after it sees they changed. They are journalled first, as a
    new copy is (``cleanup.expect``): one whose source is gone by then is
    retired like any old output, never left in static_root unknown."""
    cleanup.expect(config, names)
    records = load_records(config)
    if records.token is None:
        return  # no records: the next run looks at every file anyway
    gone = [name for name in dict.fromkeys(names) if name in records]  # (once each)
    if not gone:
        return
    for name in gone:
        del records[name]
    save_records(config, records, sorted(set(records.racy).difference(gone)))


def outputs_current(
    found: dict[str, Found],
    records: dict[str, Record],
    config: Config,
    link: bool,
    suspect: set[str] | None = None,
) -> bool:
    """Every found file has a record and its copy in static_root.

    Copies are looked at (one lstat each) only in the ``suspect`` directories
    (see outputs.py), or everywhere if that is None.

    Source changes are not looked at here: the signature check (signatures.py:
    size, mtime, ctime, inode) does that. Racily recorded files are checked in
    full, by content.
    """
    root = str(config.static_root)
    for name, item in found.items():
        record = records.get(name)
        if not _matches(record, item.source, link):
            return False
        dest = os.path.join(root, name)
        if record.racy:
            if not _unchanged(record, item.source, link, dest):
                return False
            continue
        if suspect is not None and name.rpartition("/")[0] not in suspect:
            continue
        if not copy_present(dest, link):
            return False
    return True


def racy_unchanged(
    racy: dict[str, Record], found: dict[str, Found], config: Config, link: bool
) -> bool:
    """The racily recorded ``racy`` files still match their records, by content."""
    root = str(config.static_root)
    for name, record in racy.items():
        item = found.get(name)
        if item is None or not _unchanged(record, item.source, link, os.path.join(root, name)):
            return False
    return True


def _unchanged(
    record: Record | None, source: str, link: bool, dest: str, check_copy: bool = True
) -> bool:
    if not _matches(record, source, link):
        return False
    try:
        if source_moved(record, source):
            return False
        if record.racy and md5_file(source) != record.md5:
            return False
    except OSError:
        return False
    return not check_copy or copy_present(dest, link)


def _matches(record: Record | None, source: str, link: bool) -> bool:
    """A record of this very source, copied (or linked) as asked now."""
    return record is not None and record.source == source and record.linked == link


_RACY = attrgetter("racy")


def racy_names(records: dict[str, Record]) -> list[str]:
    """The names of the racy records, picked at C speed: an edit's run
    looks at these few, not at every record."""
    return list(compress(records, map(_RACY, records.values())))


_NEEDLE = rules.JS_NEEDLE.encode()


def _bare(data: bytes) -> bool:
    """A copied JS file that is ASCII without the word every JS pattern needs
    (``rules.JS_NEEDLE``): post-processing has nothing to rewrite in it."""
    return data.isascii() and _NEEDLE not in data


def copy_present(dest: str, link: bool) -> bool:
    """The copy (or link, with ``link``) of a file is in place at ``dest``."""
    try:
        return stat.S_ISLNK(os.lstat(dest).st_mode) == link
    except OSError:
        return False


def _racy(mtime_ns: int, ctime_ns: int, clock: int | None = None) -> bool:
    """A stat a later change could share ("racily clean", as git calls it).

    ``clock``: the filesystem's own time read before the stat was taken (when the
    copy phase began, on the source's filesystem): racy if modified in that tick
    or later, so the window is the phase plus one timestamp tick, whatever the
    granularity. Without it, the wall clock: modified within fsutil.RACY_NS of now.
    """
    if clock is not None:
        return max(mtime_ns, ctime_ns) >= clock
    return time.time_ns() - max(mtime_ns, ctime_ns) < fsutil.RACY_NS


def clear(
    config: Config,
    options: RunOptions,
    log: Callable[[str], None],
    derived: Collection[str] = (),
) -> list[str]:
    """``collectstatic --clear``: every file under static_root goes, and every
    file is written again from no state. The files go as garbage (cleanup.py),
    deleted once the new manifest is in place, unless the new build wrote them
    again: a run killed half-way leaves the previous manifest and its files."""
    names = []
    root = str(config.static_root)
    for directory, _dirs, files in os.walk(root):
        for filename in files:
            names.append(os.path.relpath(os.path.join(directory, filename), root))
    if options.dry_run:
        for name in names:
            log(f"Pretending to delete '{name}'")
    else:
        # (before its record is forgotten; ``derived``: what the derived phases'
        # rows name, the .gz/.br/.zst beside the copies among them)
        ours = cleanup.written_before(config, derived)
        cleanup.add_garbage(config, (name for name in names if cleanup.beside(name, ours)))
        theirs = (name for name in names if not cleanup.beside(name, ours))
        cleanup.add_garbage(config, theirs, theirs=True)
        cleanup.forget_outputs(config)
    return names


def _refuse_emptying(config: Config, gone: list[str]) -> None:
    """A build that finds nothing where the previous one found files is most
    often a typo in ``dirs`` or ``packages`` (the site would lose every file);
    only ``--clear`` says it is meant. (Renaming every file is a build like any.)"""
    raise StaticpipeError(
        f"{config.where}: this build finds no file and would remove every file of "
        f"the previous one ({len(gone)}, e.g. '{gone[0]}'); check dirs and packages, "
        "or run with --clear to empty the build"
    )


def collect(
    found: dict[str, Found],
    config: Config,
    options: RunOptions,
    log: Callable[[str], None] = print,
    suspect: set[str] | None = None,
    records: Records | None = None,
    changed: set[str] | None = None,
) -> CollectResult:
    """Copy what changed. ``suspect``: the only directories of static_root where a
    copy may have gone missing since the last run (outputs.py); None: any.
    ``records``: the saved state, if the caller has loaded it already (it is
    updated in place and saved).
    ``changed``: if given, the complete set of names whose source's stat changed
    since ``records`` were saved, names without a record included
    (signatures.py); other sources are not stat'ed again."""
    if records is None:
        records = load_records(config)
    names = _candidates(found, records, changed, suspect)
    incremental = names is not None
    # (incremental: every record is of a found name, see _candidates)
    gone = [] if incremental else sorted(records.keys() - found.keys())
    if gone and not found and not options.clear:
        _refuse_emptying(config, gone)
    racy = set(records.racy) if incremental else set(racy_names(records.load()))
    if records.token is None and not options.dry_run:
        # No state (lost, damaged, or a first run): the copies the last manifest
        # names are this pipeline's outputs; those no longer found become garbage.
        named = cleanup.named_by_manifest(config, True, False)
        gone = sorted(set(gone).union(name for name in named if name not in found))
    look = _Look(found, records, racy, str(config.static_root), options.link, changed, suspect)
    todo = [name for name in (found if names is None else names) if not look.same(name)]
    result = CollectResult(records=records, unmodified=Except(found.keys(), todo), removed=gone)
    if options.dry_run:
        verb = "link" if options.link else "copy"
        for name in todo:
            log(f"Pretending to {verb} '{found[name].source}'")
        result.copied = todo
        return result
    # Copies no record names yet are journalled before they are written: a run
    # killed after writing them, whose sources then go, leaves no unknown file.
    unrecorded = [name for name in todo if name not in records]
    if unrecorded:
        cleanup.expect(config, unrecorded)
    copy = _Copier(found, config, options) if todo else None
    copies: list[Record | None] = [None] * len(todo)
    try:
        if copy is not None:
            _copy_all(todo, copies, copy, config, options)
    finally:
        # Whatever was copied is recorded, even if another copy failed (a failed
        # copy's old record stays: its old copy is still in place).
        copied = {name: made for name, made in zip(todo, copies, strict=True) if made is not None}
        result.copied = list(copied)
        _record(config, records, racy, copied, gone, found)
    return result


class _Look:
    """Whether a found file's copy is still its source's (then it is not copied)."""

    def __init__(
        self,
        found: dict[str, Found],
        records: Records,
        racy: set[str],
        root: str,
        link: bool,
        changed: set[str] | None,
        suspect: set[str] | None,
    ):
        self.found, self.records, self.racy, self.root, self.link = found, records, racy, root, link
        self.changed, self.suspect = changed, suspect

    def same(self, name: str) -> bool:
        """Its record is of this source's stat and its copy is in place (looked at
        only where a copy may have gone: ``suspect``). A racy record proven by
        content, whose stat is old enough now, is settled on the way."""
        record = self.records.get(name)
        source = self.found[name].source
        dest = os.path.join(self.root, name)
        trusted = self.changed is not None and name not in self.changed  # its stat did not move
        trusted = trusted and _matches(record, source, self.link) and not record.racy
        check_copy = self.suspect is None or name.rpartition("/")[0] in self.suspect
        if trusted:  # the common case of an incremental run: no syscall
            return not check_copy or copy_present(dest, self.link)
        if not _unchanged(record, source, self.link, dest, check_copy):
            return False  # its record (if any) stays until it is copied again
        if record.racy and not _racy(record.mtime_ns, record.ctime_ns):
            self.records[name] = record._replace(racy=False)
            self.racy.discard(name)
        return True


class _Copier:
    """Copies (or links) one found file into static_root and returns its record.
    Called on several threads at once."""

    def __init__(self, found: dict[str, Found], config: Config, options: RunOptions):
        self.found, self.config, self.link = found, config, options.link
        root = str(config.static_root)
        self.base = fsutil.prefix(root)
        # The filesystem's time before any copy's stat (one reading for all: a
        # source changed since the phase began is racy, see _racy).
        self.clock = None
        if not options.link:
            fsutil.makedirs(root, config.directory_permissions_mode)
            self.clock = fsutil.fs_clock(root)
        self.siblings = _sibling_suffixes(config)
        # A copy the manifest in place names is kept (a hard link) until the new
        # manifest is in place, and put back if the run fails (undo.py).
        keeper = undo.area(config) if _keeps_old_copies(config, options) else None
        self.keep = keeper.keep if keeper is not None else None

    def __call__(self, name: str) -> Record:
        source, dest, keep = self.found[name].source, self.base + name, self.keep
        if keep is not None:
            keep(name)
        for suffix in self.siblings:  # of the bytes replaced: gone first, never served stale
            if name + suffix not in self.found:
                if keep is not None:  # (put back with the copy if the run fails)
                    keep(name + suffix, beside=True)
                fsutil.remove(dest + suffix)
        if self.link:
            before = fsutil.FileStat.of(os.stat(source))
            fsutil.symlink(source, dest, self.config.directory_permissions_mode)
            digest = md5_file(source)
            racy = _racy(before.mtime_ns, before.ctime_ns)  # (now: after the hashing)
            return Record.of(source, before, digest, True, racy, False)
        digest, info, bare = fsutil.copy_hashing(
            source,
            dest,
            self.config.file_permissions_mode,
            self.config.directory_permissions_mode,
            _bare if name.endswith(".js") else None,
        )
        before = fsutil.FileStat.of(info)
        now = self.clock.on(info) if self.clock is not None else None
        racy = _racy(before.mtime_ns, before.ctime_ns, now)
        return Record.of(source, before, digest, False, racy, bool(bare))


def _copy_all(
    todo: list[str],
    copies: list[Record | None],
    copy: _Copier,
    config: Config,
    options: RunOptions,
) -> None:
    """``copies[i] = copy(todo[i])``, on a few threads, with a progress bar. A
    file where a directory now goes (or the reverse) is copied after the old
    one made way; a source gone since discovery is a one-line error."""
    blocked: list[str] = []  # (list.append: safe from the copying threads)

    def copy_or_defer(name: str) -> Record | None:
        try:
            return copy(name)
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            blocked.append(name)  # the previous build's shape is in the way
            return None

    shown = progress.bar(len(todo), "link" if options.link else "copy", options.verbosity)
    work = copy_or_defer if shown is None else progress.counting(copy_or_defer, shown)
    try:
        fill(copies, work, todo, options.workers)
        if blocked:
            owned = cleanup.written_before(config)
            position = {name: index for index, name in enumerate(todo)}
            for name in blocked:
                cleanup.make_way(config, name, owned, copy.keep)
                copies[position[name]] = copy(name)
    except FileNotFoundError as error:
        # A source vanished after discovery (deleted meanwhile, or a symlink whose
        # target went away): the next run must walk the sources again.
        discovery.forget(config)
        raise StaticpipeError(
            f"{error.filename}: no longer there (removed during the run?); run again"
        ) from None
    finally:
        if shown is not None:
            shown.close()


def _record(
    config: Config,
    records: Records,
    racy: set[str],
    copied: dict[str, Record],
    gone: list[str],
    found: dict[str, Found],
) -> None:
    """The new records, and the removed sources' dropped (their copies retired:
    kept, as Django keeps them, until pruned), committed with the racy names."""
    for name, record in copied.items():
        records[name] = record
        if record.racy:
            racy.add(name)
        else:
            racy.discard(name)
    for name in gone:
        records.pop(name, None)
        racy.discard(name)
    if gone:
        cleanup.retire(config, gone, live=found.keys())
    if records.changed or not state.exists(state_file(config)):
        save_records(config, records, sorted(racy))
    records.racy = sorted(racy)


def _sibling_suffixes(config: Config) -> tuple[str, ...]:
    """The precompressed files a copy may have beside it (phases/compress.py),
    removed before it is replaced (never served stale): this build's encodings,
    or every encoding if an earlier build compressed (one switched off since
    keeps its files until the compress phase deletes them)."""
    ledger = store.Database(config.state_path, repair=False)
    if ledger.header("compress").get("settings") is not None:
        return cleanup.SIBLINGS
    return config.compress.suffixes


def _keeps_old_copies(config: Config, options: RunOptions) -> bool:
    """This build writes a new manifest once its copies are in place: until then
    the one in place must find the copies it names as they were."""
    return config.storage == "manifest" and options.post_process and not options.dry_run


def _candidates(
    found: dict[str, Found],
    records: Records,
    changed: set[str] | None,
    suspect: set[str] | None,
) -> list[str] | None:
    """The only names that may need a copy, when the signature check saw every
    source (``changed``) and the suspect directories are known: changed sources
    (names without a record among them: their saved signature is none),
    racy records, and names in suspect directories. None: every name must be
    looked at. (The signatures belong to this listing and these very records
    (signatures.load), and the records saved with a listing are of its names
    only: then no record is of a name no longer found.)"""
    if changed is None or suspect is None:
        return None
    names = set(changed)
    names.update(records.racy)
    if suspect:
        names.update(name for name in found if name.rpartition("/")[0] in suspect)
    return sorted(name for name in names if name in found)
