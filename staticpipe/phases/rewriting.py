"""The hash + rewrite phase: every file gets its hashed name, CSS/JS are rewritten.

Each adjustable file is parsed once (and re-parsed only when its content
changes); the reference graph is processed component by component, dependencies
first, so each file is rewritten and hashed once, after everything it points at.
On an acyclic graph this gives exactly Django's names and bytes. A cycle's
members share one hash computed from the whole component (see ``_cycle``).

A file is redone only when its *key* changes: its own md5 plus the hashed
names of what it references, so an edit redoes that file and, transitively,
the files that reference it, and nothing else.

A ``file_hash`` hook (hashhook.py) names the files instead of the md5, called as
Django calls it: on the original's bytes for a file that is not rewritten, on the
rewritten bytes for CSS/JS. A hook may leave a name unhashed (None): Django then
writes a rewritten file over its collected copy, and so does this phase; such a
file is redone by every run (a copy made again would undo it unseen), and CSS/JS
are read from their sources, not from copies that may have been written over.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Container, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import chain

from .. import progress
from ..config import Config
from ..errors import DecodeError, MissingReferenceError, StaticpipeError
from ..fs import fsutil
from ..fs.parallel import fill
from ..ledger import state
from ..rewrite import hashhook, rules
from ..rewrite.decoding import Text, decode
from ..rewrite.graph import components, is_cycle
from ..rewrite.hashing import HashedNames, hashed_path, md5_bytes, md5_parts, with_hash
from ..rewrite.patterns import SOURCEMAP, adjustable
from ..rewrite.references import Occurrence, Target, patterns_for, references, rewrite
from ..rewrite.rules import (
    HASHED,
    MD5,
    Entry,
    SavedEntry,
    compact,
    expand,
    saved_hashed,
)
from . import cleanup, redo, undo
from .collect import Record

# A cycle's fixed point with a hook is sought this many sweeps at most (Django
# settles within its 1 + max_post_process_passes = 6 passes, or fails).
_CYCLE_SWEEPS = 8


state_file = rules.post_state_file
settings_token = rules.settings_token


def load_state(config: Config) -> dict:
    """The saved state (rules.load_post). Its ``files`` map names to entries as
    saved (``rules.SavedEntry``), read by name as asked: an edit looks at a few
    of them."""
    return rules.load_post(config)[0]


def load_outputs(config: Config) -> dict[str, str]:
    """name -> hashed name, as recorded by the last run (for cleaning)."""
    saved = load_state(config)
    if saved.get("root") != str(config.static_root):
        return {}
    files = saved["files"].load()
    return {saved_hashed(name, fields): name for name, fields in files.items()}


def check(config: Config) -> list[str]:
    """The post-processing state's invariants, as problems (none: it holds): its
    indexes, patched run after run, are what its entries give from scratch
    (the inverted references, the names that warned, the unsettled names)."""
    saved = load_state(config)
    if "files" not in saved:
        return []  # no state
    files = saved["files"].load()
    problems = []

    def canonical(index: Mapping[str, list[str]]) -> dict[str, list[str]]:
        return {key: sorted(names) for key, names in index.items()}

    if canonical(saved["referrers"].load()) != canonical(redo.invert_refs(files)):
        problems.append("referrers: not the inverse of the entries' references")
    entries = {name: expand(name, fields) for name, fields in files.items()}
    if saved.get("warned") != sorted(name for name, e in entries.items() if e.warnings):
        problems.append("warned: not the entries with warnings")
    unsettled = sorted(name for name, e in entries.items() if not e.plain and e.key is None)
    if saved.get("unsettled") != unsettled:
        problems.append("unsettled: not the entries without a key")
    return problems


@dataclass
class PostProcessResult:
    hashed: Mapping[str, str]
    processed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # name -> hashed name, for the files whose hashed name is not the one the
    # saved state (the state this run started from) gave them: new files included
    changed: dict[str, str] = field(default_factory=dict)


class _Hashed(Mapping[str, str]):
    """name -> hashed name as the run leaves them: its own for the names it looks
    at, the saved ones for every other current file. Made without a pass over
    every file: an edit looks at a few."""

    def __init__(self, saved: dict[str, SavedEntry], stale: Container[str] | None):
        self.fresh: dict[str, str] = {}  # set by the run
        # stale: the saved names not to answer from ``saved`` (redone or removed);
        # None: none at all
        self._saved, self._stale = saved, stale

    def __getitem__(self, name: str) -> str:
        hashed = self.fresh.get(name)
        if hashed is not None:
            return hashed
        if self._stale is None or name in self._stale:
            raise KeyError(name)
        return saved_hashed(name, self._saved[name])

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        try:
            return self[name]
        except KeyError:
            return default

    def __setitem__(self, name: str, hashed: str) -> None:
        self.fresh[name] = hashed

    def __iter__(self) -> Iterator[str]:
        if self._stale is None:
            return iter(self.fresh)
        fresh, stale = self.fresh, self._stale
        return chain(fresh, (name for name in self._saved if name not in stale))

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _Run:
    """One post-process run: state in, outputs written, state out."""

    def __init__(
        self,
        config: Config,
        records: dict[str, Record],
        log: Callable[[str], None],
        suspect: set[str] | None = None,
        saved: dict | None = None,
        since: Since | None = None,
        verbosity: int = 1,
    ):
        self.config = config
        self.verbosity = verbosity  # for the progress bar
        self.bar = None  # progress.bar, while run() runs
        self.records = records
        self.log = log
        self.suspect = suspect
        self.since = since
        self.root = str(config.static_root)
        self.base = fsutil.prefix(self.root)  # + name: a path in static_root
        self.token = settings_token(config)
        self.hook = hashhook.load(config)  # None: the md5 names the files
        if saved is None:
            saved = load_state(config)
        # The saved entries and inverted references as rows (store.py): written
        # back as changes, or in full if they do not hold this root's state.
        self.entries, self.referrer_rows = saved["files"], saved["referrers"]
        self.valid = saved.get("root") == self.root and self.entries.token is not None
        files: Mapping[str, SavedEntry] = self.entries if self.valid else {}
        # Other settings: no key or parse is valid, and every file is looked at.
        self.same_settings = self.valid and saved.get("token") == self.token
        if self.valid and not self.same_settings:
            files = {
                n: compact(expand(n, e)._replace(key=None, refs=None), _hook_named(n, e))
                for n, e in files.items()
            }
        self.saved = files  # name -> entry, as saved (rules.SavedEntry)
        # The collect state the saved entries were made from, and the names whose
        # last rewrite had errors (see names_to_redo): None if not known.
        self.made_from = saved.get("collect") if self.valid else None
        self.unsettled: list[str] = saved.get("unsettled", [])
        # The names a run that stopped part-way redid: what references them may
        # not have been redone after them, so the next run redoes them again.
        self.pending: list[str] = saved.get("pending", []) if self.valid else []
        self.left = cleanup.Unrecorded([], [])  # what killed runs wrote (cleanup.hashing)
        # Reference target -> the files that reference it: the saved entries'
        # refs, inverted (kept up to date by save()); None: not saved.
        self.referrers: Mapping[str, list[str]] | None = (
            self.referrer_rows if self.same_settings else None
        )
        # The files whose saved entries carry warnings (see run()).
        self.warned: list[str] = saved.get("warned") if self.valid else []
        if self.warned is None:  # not saved with these entries: from the entries
            self.warned = [name for name, fields in files.items() if expand(name, fields).warnings]
        if "unsettled" not in saved:
            self.made_from = None  # then every record is compared with its entry
        self.changes: dict[str, str] = {}  # (changed(), as save() found it)
        self._delta: tuple[set[str], set[str]] | None = None
        self.new: dict[str, Entry] = {}
        self.final = _Hashed({}, None)  # all redone (see run)
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.processed: list[str] = []
        self._directories: set[str] | None = None

    # -- helpers -------------------------------------------------------------
    def old(self, name: str) -> Entry | None:
        """The file's entry from the last run."""
        fields = self.saved.get(name)
        return None if fields is None else expand(name, fields)

    def where(self, name: str) -> str:
        source = self.records[name].source
        try:
            return os.path.relpath(source)
        except ValueError:
            return source

    def undecodable(self, name: str) -> str:
        return f"{self.where(name)}: not rewritten (undecodable), copied as is"

    def text(self, name: str) -> Text:
        """The file's text, read when needed (never all files' contents at once):
        from its collected copy, the very bytes its md5 was computed on."""
        record = self.records[name]
        if self.hook is not None or (not self.same_settings and self.written_over(name)):
            data = self.original(name)
        else:
            with open(self.base + name, "rb", buffering=0) as handle:
                data = handle.read(record.size + 1)  # one read(2) when it has the recorded size
                if len(data) != record.size:  # it grew, or a short read (FUSE, 9p...)
                    data += handle.readall()
        return decode(data, name, lambda: self.where(name), self.config.encoding_errors)

    def original(self, name: str) -> bytes:
        """The source's bytes, which must be those its copy was made of: with a
        hook the copy may have been written over (a name it left unhashed)."""
        record = self.records[name]
        with open(record.source, "rb") as handle:
            data = handle.read()
        if md5_bytes(data) != record.md5:
            raise StaticpipeError(f"{record.source}: changed during the run; run again")
        return data

    def written_over(self, name: str) -> bool:
        """The last run wrote this file's rewritten output over its collected copy
        (a hook left its name unhashed)."""
        old = self.old(name)
        return old is not None and old.hashed == name and not old.plain

    def restore_copy(self, name: str) -> None:
        """The collected copy again, where the last run wrote an output over it
        that is no longer its output (the hook now hashes its name, or is gone)."""
        record = self.records[name]
        dest = self.base + name
        undo.keep(self.config, name)  # (until the new manifest is in place)
        if record.linked:  # --link: a symlink, as the copy phase makes it
            fsutil.symlink(record.source, dest, self.config.directory_permissions_mode)
            return
        modes = self.config.file_permissions_mode, self.config.directory_permissions_mode
        digest, _info, _bare = fsutil.copy_hashing(record.source, dest, *modes)
        if digest != record.md5:
            raise StaticpipeError(f"{record.source}: changed during the run; run again")

    # -- names -----------------------------------------------------------------
    def plain_name(self, name: str, md5: str) -> str:
        """The hashed name of a file written as it is: from its md5, or the
        hook's hash of the collected copy (Django hashes the original's bytes)."""
        if self.hook is None:
            return hashed_path(name, md5)
        return with_hash(name, self.hook.of_file(name, self.base + name, self.records[name].source))

    def rewritten_name(self, name: str, data: bytes) -> str:
        """The hashed name of a rewritten file: from its bytes (Django's rule)."""
        if self.hook is None:
            return hashed_path(name, md5_bytes(data))
        return with_hash(name, self.hook.of_bytes(name, data))

    def exists(self, hashed: str) -> bool:
        """An output of an earlier run is still there (trusted outside suspect dirs)."""
        if self.suspect is not None and hashed.rpartition("/")[0] not in self.suspect:
            return True
        return os.path.exists(os.path.join(self.root, hashed))

    def is_directory(self, key: str) -> bool:
        """Whether ``key`` names a directory of collected files (or the root)."""
        key = key.rstrip("/") or "."
        if self._directories is None:
            self._directories = {"."}
            for name in self.records:
                while "/" in name:
                    name = name.rsplit("/", 1)[0]
                    if name in self._directories:
                        break
                    self._directories.add(name)
        return key in self._directories

    # -- references ----------------------------------------------------------
    def refs(self, name: str) -> tuple[str, ...] | None:
        """Keys referenced by an adjustable file (cached by md5); None if not rewritable."""
        md5 = self.records[name].md5
        old = self.old(name)
        if old is not None and old.md5 == md5 and old.refs is not None:
            return old.refs
        if old is not None and old.md5 == md5 and old.raw:
            self.warnings.append(self.undecodable(name))
            return None
        if self.records[name].bare and not self.config.js_modules:
            return ()  # ASCII JS without a sourceMappingURL (the copy looked): unread
        text = self.text(name)
        if text.text is None:
            self.warnings.append(self.undecodable(name))
            return None
        patterns = patterns_for(name, self.config.js_modules)
        found = references(text.text, name, patterns, self.config.static_url)
        return tuple(sorted({target.key for target, _ in found}))

    def resolver(
        self, in_cycle: dict[str, str] | None = None, report: bool = True
    ) -> Callable[[Target, Occurrence], str | None]:
        config = self.config

        def resolve(target: Target, occurrence: Occurrence) -> str | None:
            if in_cycle is not None and target.key in in_cycle:
                return in_cycle[target.key]
            hashed = self.final.get(target.key)
            if hashed is not None:
                return hashed
            if self.is_directory(target.key):
                return target.lookup_name  # Django: a directory exists, is not hashed
            if occurrence.kind == SOURCEMAP:
                policy = config.sourcemap_policy
            else:
                policy = "ignore" if occurrence.in_comment else config.missing
            url = occurrence.url.strip()  # a sourcemap URL may end in spaces
            line = f"{self.where(occurrence.source)}:{occurrence.line}: {url}"
            if not report:
                pass
            elif policy == "error":
                self.problems.append(line)
            elif policy == "warn":
                self.warnings.append(f"{line} (missing, left as written)")
            return None

        return resolve

    def rewrite_bytes(self, name: str, resolve: Callable) -> bytes:
        text = self.text(name)
        encoding = text.encoding
        patterns = patterns_for(name, self.config.js_modules)
        output = rewrite(text.text, name, patterns, self.config.static_url, resolve)
        del text  # the input's text is not needed to encode the output: free it first
        try:
            return output.encode(encoding)
        except UnicodeEncodeError as exc:
            raise DecodeError(
                f"{self.where(name)}: rewritten URL cannot be written in {encoding} "
                f"at offset {exc.start}"
            ) from None

    def ref_key(self, name: str, refs: list[str]) -> list[str]:
        return [
            self.records[name].md5,
            *(f"{key}={self.target_state(key)}" for key in refs),
        ]

    def target_state(self, key: str) -> str:
        """What a reference to ``key`` resolves to: a hashed name, a directory, nothing."""
        hashed = self.final.get(key)
        if hashed is not None:
            return hashed
        return "/" if self.is_directory(key) else ""

    # -- outputs -------------------------------------------------------------
    def write(self, name: str, hashed: str, data: bytes, key: str | None, refs: list[str]) -> None:
        if self.hook is not None or not self.same_settings:
            if hashed == name:
                self.write_over(name, data, refs)
                return
            if self.written_over(name):
                self.restore_copy(name)
        fsutil.write_new(
            os.path.join(self.root, hashed),
            data,
            self.config.file_permissions_mode,
            self.config.directory_permissions_mode,
        )
        self.processed.append(name)
        self.record(name, hashed, key, refs)

    def write_over(self, name: str, data: bytes, refs: list[str]) -> None:
        """The hook left a rewritten file's name unhashed: its output replaces the
        collected copy, as Django's does (left alone if it holds these bytes).
        Its entry has no key: redone by every run (see ``redo.unsettled``), as the
        copy phase may have put the original back since."""
        path = self.base + name
        try:
            same = not os.path.islink(path) and _read_all(path) == data
        except OSError:
            same = False
        if not same:
            modes = self.config.file_permissions_mode, self.config.directory_permissions_mode
            undo.keep(self.config, name)  # (until the new manifest is in place)
            fsutil.write_new(path, data, *modes)
        self.processed.append(name)
        self.new[name] = Entry(self.records[name].md5, name, refs=tuple(refs))
        self.final[name] = name

    def record(
        self, name: str, hashed: str, key: str | None, refs: tuple[str, ...] | None = None
    ) -> None:
        md5 = self.records[name].md5
        if key is not None and refs is not None:
            self.new[name] = Entry(md5, hashed, refs=refs, key=key)
        else:
            self.new[name] = Entry(md5, hashed)
        self.final[name] = hashed

    def reusable(self, name: str, key: str) -> str | None:
        old = self.old(name)
        if old is not None and old.key == key and self.exists(old.hashed):
            return old.hashed
        return None

    # -- the phase ------------------------------------------------------------
    def plan_plain(self, names: list[str]) -> list[tuple[str, str]]:
        """Hashed names of files written as they are (no references to rewrite):
        the md5 computed while copying names them. Returns the links to make."""
        todo = []
        for name in names:
            md5 = self.records[name].md5
            old = self.old(name)
            # "plain": the hashed name is the md5's (or, with the same settings, the
            # hook's of these very bytes), so an unchanged md5 keeps it
            if (
                old is not None
                and old.md5 == md5
                and old.plain
                and (self.same_settings or self.md5_named(name, old))
            ):
                hashed, self.new[name] = old.hashed, old
            else:
                if old is not None and not self.same_settings and self.written_over(name):
                    self.restore_copy(name)
                hashed = self.plain_name(name, md5)
                self.new[name] = Entry(md5, hashed, plain=True)
            self.final[name] = hashed
            if hashed == name:
                continue  # left unhashed by the hook: the collected copy is the output
            if old is None or old.hashed != hashed or not self.exists(hashed):
                todo.append((name, hashed))
        self.advance(len(names) - len(todo))  # the links advance it as they are made
        return todo

    def md5_named(self, name: str, old: Entry) -> bool:
        """An entry of other settings still right: no hook, and named by its md5."""
        return self.hook is None and old.hashed == hashed_path(name, old.md5)

    def link_plain(self, item: tuple[str, str]) -> None:
        """The hashed name as a hard link to the collected copy (a copy if it is a
        symlink, or where links fail)."""
        name, hashed = item
        record = self.records[name]
        dest = self.base + hashed
        modes = self.config.file_permissions_mode, self.config.directory_permissions_mode
        if not record.linked:
            fsutil.link_or_copy(self.base + name, dest, *modes)
            self.advance()
            return
        # --link: the collected name is a symlink to the source. A hard link to the
        # source would change its ctime (every source "changed" at the next run) and
        # would let an in-place edit of the source rewrite a published hashed file.
        digest, _info, _bare = fsutil.copy_hashing(record.source, dest, *modes)
        if digest != record.md5:
            fsutil.remove(dest)
            raise StaticpipeError(f"{record.source}: changed during the run; run again")
        self.advance()

    def make_links(self, todo: list[tuple[str, str]], workers: int) -> None:
        """The hashed names of plain files, on ``workers`` threads (links are
        kernel work: no GIL), once no Python work is left to do beside them (an
        edit's few: on this one)."""
        fill([None] * len(todo), self.link_plain, todo, workers)
        self.processed.extend(name for name, _ in todo)

    def advance(self, count: int = 1) -> None:
        """Count ``count`` files done on the progress bar, if one is shown."""
        if self.bar is not None and count:
            self.bar.update(count)

    def single(self, name: str, refs: list[str]) -> None:
        self.advance()
        key = md5_parts([self.token, *self.ref_key(name, refs)])
        hashed = self.reusable(name, key)
        if hashed is not None:
            self.record(name, hashed, key, refs)
            self.replay_warnings(name)
            return
        before, warned = len(self.problems), len(self.warnings)
        data = self.rewrite_bytes(name, self.resolver())
        ok = len(self.problems) == before
        self.write(name, self.rewritten_name(name, data), data, key if ok else None, refs)
        self.keep_warnings(name, warned)

    def keep_warnings(self, name: str, start: int) -> None:
        """Remember the warnings a file's rewrite gave, to repeat them when it is reused."""
        if len(self.warnings) > start:
            self.new[name] = self.new[name]._replace(warnings=tuple(self.warnings[start:]))

    def replay_warnings(self, name: str) -> None:
        old = self.old(name)
        if old is not None and old.warnings:
            self.warnings.extend(old.warnings)
            self.new[name] = self.new[name]._replace(warnings=old.warnings)

    def cycle(self, members: list[str], refs: dict[str, list[str]]) -> None:
        """A reference cycle: one hash for all members, from the whole component.

        Each member is rewritten with references inside the cycle left unhashed
        (and references outside it hashed); the md5 of those normalised texts,
        member by member in sorted order, is the shared hash. Members are then
        written with in-cycle references pointing at each other's hashed names.
        With a hook, see ``hook_cycle``.
        """
        self.advance(len(members))
        key = md5_parts([self.token, *(p for m in members for p in [m, *self.ref_key(m, refs[m])])])
        previous = [self.reusable(member, key) for member in members]
        if all(previous):
            for member, hashed in zip(members, previous, strict=True):
                self.record(member, hashed, key, refs[member])
                self.replay_warnings(member)
            return
        before = len(self.problems)
        identity = {member: member for member in members}
        parts = []
        normalised: dict[str, bytes] = {}  # (kept for a hook only)
        warnings: dict[str, list[str]] = {}  # each member's own, to repeat on reuse
        for member in members:
            start = len(self.warnings)
            data = self.rewrite_bytes(member, self.resolver(identity))
            parts += [member, md5_bytes(data)]
            if self.hook is not None:
                normalised[member] = data
            warnings[member] = self.warnings[start:]
            del data
        outputs: dict[str, bytes] = {}
        if self.hook is None:
            digest = md5_parts(parts)
            names = {member: hashed_path(member, digest) for member in members}
        else:
            names, outputs = self.hook_cycle(members, normalised)
        ok = len(self.problems) == before
        # (names their bytes do not prove: recorded before they are written)
        cleanup.hashing_outputs(self.config, [names[member] for member in members])
        for member in members:
            data = outputs.pop(member, None)
            if data is None:
                data = self.rewrite_bytes(member, self.resolver(names, report=False))
            self.write(member, names[member], data, key if ok else None, refs[member])
            if warnings[member]:
                self.new[member] = self.new[member]._replace(warnings=tuple(warnings[member]))

    def hook_cycle(
        self, members: list[str], normalised: dict[str, bytes]
    ) -> tuple[dict[str, str], dict[str, bytes]]:
        """A cycle's names with a hook: Django's where Django settles, else from
        the whole component. Returns the names and, if known, each member's output.

        Django rewrites and renames the members pass after pass until no name
        changes: it settles where the hook ignores some members' content (None
        for them, a version string...). Each member's hashed name then is the
        hook's of its output referencing the others' hashed names: that fixed
        point is sought the same way (from the names of the normalised texts,
        ``_CYCLE_SWEEPS`` sweeps at most, more than Django's passes). Where it is
        not reached (Django: "Max post-process passes exceeded"), each member is
        named by the hook's hash of the whole component: every member's name and
        normalised text (as the md5's shared hash is made), so a change anywhere
        in it renames them all."""
        hook = self.hook
        assert hook is not None
        names = {m: with_hash(m, hook.of_bytes(m, normalised[m])) for m in members}
        outputs: dict[str, bytes] = {}
        for _sweep in range(_CYCLE_SWEEPS):
            moved = False
            for member in members:
                data = self.rewrite_bytes(member, self.resolver(names, report=False))
                hashed = with_hash(member, hook.of_bytes(member, data))
                outputs[member] = data
                if hashed != names[member]:
                    names[member], moved = hashed, True
            if not moved:  # every output was made with the names it ends with
                return names, outputs
        whole = b"".join(
            b"%s\0%s\0" % (member.encode("utf-8", "surrogateescape"), normalised[member])
            for member in members
        )
        return {m: with_hash(m, hook.of_bytes(m, whole)) for m in members}, {}

    def run(self, order: list[str], workers: int) -> None:
        names = self.to_redo(order)
        if names is None:
            names = order
        else:  # the others keep their entries, outputs and warnings as they are
            again = set(names)
            saved = self.saved
            self.final = _Hashed(saved, again.union(self.delta()[1]))
            warned = set(self.warned) - again
            if warned:  # in the listing's order, as a full run reports them
                for name in order:
                    if name in warned and name in saved:
                        self.warnings.extend(expand(name, saved[name]).warnings)
        # (recorded before any is written; what a killed run left is adopted by save)
        self.left = cleanup.hashing(self.config, names)
        # The hashed names of files without references to rewrite are links,
        # made on threads after the CSS/JS is rewritten, also if that fails.
        # (Made on a thread meanwhile, each link waits for the GIL the rewriting
        # holds: measured no faster, 8 alternating full builds each.)
        self.bar = progress.bar(len(names), "post-process", self.verbosity)
        try:
            plain = self.plan_plain([name for name in names if not adjustable(name)])
            try:
                self.adjustable_files([name for name in names if adjustable(name)], plain)
            finally:
                self.make_links(plain, workers)
        finally:
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    def to_redo(self, order: list[str]) -> list[str] | None:
        """The names whose entries may change (``names_to_redo``); None: all."""
        if not self.same_settings or self.suspect is None or not self.valid:
            return None
        missing = [
            name
            for name, fields in self.saved.items()
            if (hashed := saved_hashed(name, fields)).rpartition("/")[0] in self.suspect
            and not self.exists(hashed)
        ] if self.suspect else []  # fmt: skip
        dirty = new = gone = None
        if self.from_loaded_records():
            # Every saved entry's md5 is its record's in the collect state this run
            # started from, and only ``since.copied`` were recorded again since.
            new, gone = self.delta()
            dirty = new.union(self.since.copied, self.unsettled)
        missing = [*missing, *self.pending]
        return redo.names_to_redo(
            self.saved, self.records, order, missing, dirty, self.referrers, new, gone
        )

    def from_loaded_records(self) -> bool:
        """The saved entries were made from the very collect state this run loaded
        (then one entry per record, same md5), changed since only by ``since``."""
        since = self.since
        return since is not None and self.made_from is not None and since.collect == self.made_from

    def delta(self) -> tuple[set[str], set[str]]:
        """The names collected that have no saved entry, and the saved names no
        longer collected. From what the copy phase changed, when the saved entries
        were made from the records it started from; else by comparing every name."""
        if self._delta is None:
            if self.from_loaded_records():
                saved, since = self.saved, self.since
                new = {name for name in since.copied if name not in saved}
                gone = {name for name in since.removed if name in saved}
            else:
                new = self.records.keys() - self.saved.keys()
                gone = self.saved.keys() - self.records.keys()
            self._delta = new, gone
        return self._delta

    def adjustable_files(self, names: list[str], links: list[tuple[str, str]]) -> None:
        """Parse and rewrite the CSS/JS files ``names``, dependencies first; the
        links to make for those with nothing to rewrite go before ``links``."""
        refs: dict[str, list[str]] = {}
        unreferencing, raw = [], []
        for name in names:
            found = self.refs(name)
            if found is None:
                raw.append(name)
            elif not found:  # nothing to rewrite: the output is the input, bytes and all
                unreferencing.append(name)
            else:
                refs[name] = found
        links[:0] = self.plan_plain(unreferencing + raw)  # (reported first, as before)
        for name in unreferencing:  # entries may be the saved ones: copy, don't mutate
            if self.new[name].refs != ():
                self.new[name] = self.new[name]._replace(refs=())
        for name in raw:  # its warning kept too: repeated while the file is reused
            warning = (self.undecodable(name),)
            if not self.new[name].raw or self.new[name].warnings != warning:
                self.new[name] = self.new[name]._replace(raw=True, warnings=warning)
        for component in components(refs):
            if is_cycle(component, refs):
                self.cycle(component, refs)
            else:
                self.single(component[0], refs[component[0]])

    def changed(self) -> dict[str, str]:
        saved = self.saved
        return {
            name: new.hashed
            for name, new in self.new.items()
            if name not in saved or saved_hashed(name, saved[name]) != new.hashed
        }

    def save(self, complete: bool = True) -> None:
        """Entries of the files looked at replace theirs; removed files' go.

        After an incomplete run (an error part-way), removed files' entries stay,
        so the next run still redoes what referenced them, and a settings change
        is not recorded as applied: every file is looked at again."""
        saved = self.saved
        gone = self.delta()[1] if complete else set()
        self.changes = self.changed()
        hooked = self.hook is not None
        # Entries rewritten with errors are redone by every run (names_to_redo),
        # so this run's are all there are.
        unsettled = sorted(name for name, new in self.new.items() if redo.unsettled(new))
        pending = [] if complete else sorted(set(self.pending).union(self.new))
        made_from = self.since.records_file if complete and self.since is not None else None
        garbage = [saved_hashed(name, saved[name]) for name in gone]
        garbage += [saved_hashed(name, saved[name]) for name in self.changes if name in saved]
        if not self.valid and complete:  # no state: what the last manifest names
            garbage += cleanup.named_by_manifest(self.config, False, True)
        live = HashedNames(self.final, any_hash=hooked)
        if garbage:  # old versions: kept, as Django keeps them, until pruned
            cleanup.retire(self.config, garbage, live=live)
        if self.left.names or self.left.outputs:  # a killed run's outputs: old versions too
            cleanup.retire(self.config, cleanup.unrecorded_outputs(self.config, self.left, live))
        token = self.token if complete or self.same_settings else None
        entries, referrers = self.entries, self.referrer_rows
        if saved is entries:  # the saved rows, patched: referrers first (they need the old)
            for name in gone:
                redo.update_referrers(referrers, name, saved[name], None)
                del entries[name]
            for name, new in self.new.items():
                old, fields = saved.get(name), compact(new, hooked)
                if old != fields:
                    redo.update_referrers(referrers, name, old, fields)
                    entries[name] = fields
        else:  # other settings or no valid rows: every row written
            files = dict(saved)
            for name in gone:
                del files[name]
            files.update((name, compact(new, hooked)) for name, new in self.new.items())
            entries.replace(files)
            referrers.replace(redo.invert_refs(files))
        if (
            not entries.changed
            and not referrers.changed
            and token == self.token
            and made_from == self.made_from
            and pending == self.pending
            and state.exists(state_file(self.config))
        ):
            return  # nothing changed: leave the file (and its mtime) alone
        warned = {name for name in self.warned if name in entries and name not in self.new}
        warned.update(name for name, new in self.new.items() if new.warnings)
        entry = {
            "root": self.root,
            "token": token,
            "collect": made_from,
            "unsettled": unsettled,
            "pending": pending,
            "warned": sorted(warned),
        }
        packed = state.packed(state_file(self.config), entry)
        entries.db().commit("post", [entries, referrers], entries=packed)


def _hook_named(name: str, fields: SavedEntry) -> bool:
    """A saved entry whose hashed name is not its md5's (a hook's): kept whole."""
    return not isinstance(fields, str) and fields[HASHED] != hashed_path(name, fields[MD5])


def _read_all(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


@dataclass(frozen=True)
class Since:
    """Where the records come from: the collect entry whose token was
    ``collect`` when this run loaded it, with only the ``copied`` names recorded
    again since; ``records_file``: that entry's token now that it holds exactly
    the records (None: it does not); ``removed``: the names the copy phase
    dropped."""

    collect: str | None
    copied: Collection[str]
    records_file: str | None
    removed: Collection[str] = ()  # names whose records the copy phase dropped


def post_process(
    order: list[str],
    records: dict[str, Record],
    config: Config,
    log: Callable[[str], None] = print,
    workers: int = 4,
    suspect: set[str] | None = None,
    saved: dict | None = None,
    since: Since | None = None,
    verbosity: int = 1,
) -> PostProcessResult:
    """Hash every collected file and rewrite CSS/JS; raise on missing references.

    ``suspect``: see ``collect.collect``; outputs elsewhere are trusted to exist.
    ``saved``: this phase's state, if the caller has loaded it already.
    ``since``: what changed in ``records`` since the collect state this run
    started from (then an edit compares no record with its entry).
    ``verbosity``: 0 shows no progress bar (see progress.py).
    """
    run = _Run(config, records, log, suspect, saved, since, verbosity)
    complete = False
    try:
        run.run(order, workers)
        complete = True
    finally:
        run.save(complete)
        if complete:
            cleanup.hashed_recorded(config)
    for warning in run.warnings:
        log(f"warning: {warning}")
    if run.problems:
        raise MissingReferenceError(run.problems)
    return PostProcessResult(
        hashed=run.final, processed=run.processed, warnings=run.warnings, changed=run.changes
    )
