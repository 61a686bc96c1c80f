"""One collect run: the data its phases hand each other, and each phase's check and work.

The phases (``phases.py``: discover, copy, post-process, manifest) are methods of
one ``Run``: a phase's ``check`` says whether it is up to date, its ``act`` does
its work and raises ``StaticpipeError`` (or ``OSError``) on bad input. Every
driver goes through the same ``Run``: the doit tasks (``tasks.py``: one task per
phase, the check as its ``uptodate``) and ``pipeline.run`` (the watcher, the
server, the Django command, tests), so a run of either leaves the state the next
run of the other can trust. This module knows nothing of doit.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import sys
from collections.abc import Callable, Container, Iterator, Mapping
from pathlib import Path
from typing import Any

from .. import explain
from ..config import Config
from ..errors import StaticpipeError
from ..fs import fsutil
from ..integrity import INTEGRITY_NAME
from ..ledger import lock, stamp, state, store
from ..options import RunOptions, Summary, file_lines

# postprocess (the rewriting machinery and its regexes) is imported where its
# phase runs: a no-op run never needs it.
from ..phases import cleanup, collect, manifest, signatures
from ..rewrite import rules
from ..sources import discovery, finders
from . import outputs


def _silent(*args: object) -> None:
    """``-v 0``: nothing but errors."""


class Run:
    """One run: what its phases hand each other, in memory. ``log``: Django's
    messages (default: printed, nothing at ``-v 0``). ``fresh``: build from no
    state (after ``doit forget``, or once more after damaged state)."""

    def __init__(
        self,
        config: Config,
        options: RunOptions,
        log: Callable[[str], None] | None = None,
        fresh: bool = False,
    ):
        self.config = config
        self.options = options
        self.duplicates: list[str] = []  # names found again in a later location
        self.found, self.reused = discovery.find_all_reusing(config, self.duplicates, options.writes)
        self.summary = Summary(root=str(config.static_root), link=options.link)
        self.records: store.Table | None = None
        self._removed: list[str] = []  # names whose records the copy phase dropped
        self._copy_ran = False
        self._post_ran = False
        # for the derived phases (derived.py): what this run changed, and the
        # tokens of the copy and post-processing state it started from
        self._copied_md5: dict[str, str] = {}
        self._collect_start: str | None = None
        self._post_start: str | None = None
        self._ledger: store.Database | None = None
        self._racy: dict[str, collect.Record] | None = None  # once records are dropped
        self._saved_records: store.Table | None = None
        self._suspect: set[str] | None | bool = False  # False: not computed yet
        self._source_changes: set[str] | None | bool = False  # likewise
        self._signatures = None  # as loaded for this listing (signatures.py)
        self._saved_post: dict | None = None
        self._listing: bytes | None = None
        self.hashed: Mapping[str, str] | None = None
        state_dir = config.state_path
        self.found_file = state_dir / "found.json"
        self.collect_file = collect.state_file(config)
        self.post_file = rules.post_state_file(config)
        self.manifest_file = manifest.manifest_path(config)
        # The tokens of the collect and post-processing entries as this
        # run loaded them (another run may replace them meanwhile): the
        # post-processing state made from that collect state need not be
        # compared record by record (postprocess.Since), and the manifest
        # rendered from that post-processing state can be patched (manifest.patched).
        self._collect_loaded: str | None = None
        self._post_loaded: str | None = None
        self._post_changes: dict[str, str] | None = None
        if log is None:
            log = print if options.verbosity >= 1 else _silent
        self.log = log
        self.fresh = fresh
        self._acted = False  # a phase's action ran in this process
        self._current: set[str] = set()  # the phases found up to date
        self._checks: dict[str, Callable[[], bool]] = {}  # each phase's uptodate

    # -- discover --------------------------------------------------------------
    def listing(self) -> bytes:
        """The listing (the ``found.json`` entry): the files and the settings later
        phases depend on."""
        if self._listing is not None:
            return self._listing
        files = [[name, item.source] for name, item in self.found.items()]
        self._listing = json.dumps({"settings": self.settings(), "files": files}).encode()
        return self._listing

    def settings(self) -> dict[str, Any]:
        """The settings later phases depend on (saved in the listing)."""
        return {
            "static_root": str(self.config.static_root),
            "storage": self.config.storage,
            "link": self.options.link,
            "post_process": self.options.post_process,
            "token": rules.settings_token(self.config),
            "values": explain.readable_settings(self.config),  # (for --explain)
        }

    def walk(self) -> tuple | None:
        """What identifies the listing: the saved walk it was read from (the same
        file, reused), if it was (outputs.py reuses its directory list then)."""
        return state.token(discovery.state_file(self.config)) if self.reused else None

    # -- the last complete run's stamp (stamp.py) --------------------------------
    def stamped_files(self) -> list[Path]:
        paths = [discovery.state_file(self.config), self.found_file, self.collect_file]
        if self.post_processing:
            paths.append(self.post_file)
        return paths

    @property
    def post_processing(self) -> bool:
        return self.config.storage == "manifest" and self.options.post_process

    def stamp(self) -> dict[str, collect.Record] | None:
        """If nothing moved since the last complete run (discovery reused its walk,
        every ledger entry is the one it left, no output directory moved): the
        records that run could not trust by stat alone. Else None. Not cached: a
        phase that runs rewrites its state, and the next phase must see that."""
        if not self.reused or self.options.clear or self.options.dry_run:
            return None
        if self.suspect() != set():
            return None
        return stamp.holding(self.config, self.stamped_files(), self.settings())

    def save_stamp(self) -> None:
        paths, settings = self.stamped_files(), self.settings()
        if stamp.holding(self.config, paths, settings) is not None:
            return
        stamp.save(self.config, paths, settings, self.racy_records())

    def racy_records(self) -> dict[str, collect.Record]:
        """The records a stat cannot vouch for (kept in the stamp)."""
        if self._racy is None:
            records = self.current_records()
            self._racy = {name: records[name] for name in records.racy}
        return self._racy

    def hold_lock(self) -> None:
        """Before any state is read: another run may be writing it."""
        if self.options.writes:  # (a dry run, `doit info`: no lock, nothing written)
            lock.hold(self.config)  # until this doit run ends

    def discover_uptodate(self) -> bool:
        self.hold_lock()
        if self.fresh:
            return False
        if self.stamp() is not None:
            return True
        current = state.load(self.found_file).get("listing") == self.listing()
        if current:
            self._listing = None  # the action won't run: free it before copying
        return current

    def discover(self) -> None:
        self._acted = True
        if self.options.dry_run:
            return
        lock.hold(self.config)  # until this doit run ends
        if not self.discover_uptodate():
            state.save(self.found_file, {"listing": self.listing()})
        self._listing = None

    # -- collect ---------------------------------------------------------------
    def copy_uptodate(self) -> bool:
        self.hold_lock()
        if self.options.clear or self.fresh:
            return False
        changes = self.source_changes()
        if changes is None or changes:
            return False  # a source changed, or the last copy's signatures are unknown
        racy = self.stamp()
        if racy is not None:
            return collect.racy_unchanged(racy, self.found, self.config, self.options.link)
        try:
            return collect.outputs_current(
                self.found, self.saved_records(), self.config, self.options.link, self.suspect()
            )
        except store.StoreDamaged:
            return False  # (the copy phase starts again from no state)

    def source_changes(self) -> set[str] | None:
        """Names whose source's stat is not the one it was copied from
        (signatures.py); None: not known (no signatures for this listing, or
        the collect entry saved by another kind of run since): look at every source."""
        if self._source_changes is False:
            # A dry run saves no listing: the one saved may list other files.
            listing = None if self.options.dry_run else state.token(self.found_file)
            self._signatures = signatures.load(self.config, listing, self.saved_records().token)
            self._source_changes = signatures.changed(self.found, self._signatures)
        return self._source_changes

    def suspect(self) -> set[str] | None:
        """Output directories to check file by file (outputs.py); None: all."""
        if self._suspect is False:
            self._suspect = outputs.suspect(self.config, self.found, self.walk())
        return self._suspect

    def saved_records(self) -> store.Table:
        if self._saved_records is None:
            self._saved_records, self._collect_loaded = collect.load_identified(
                self.config, repair=self.options.writes
            )
        return self._saved_records

    def copy(self) -> None:
        self._acted = True
        if not self.options.dry_run:
            lock.hold(self.config)
        try:
            suspect = None if self.options.clear or self.fresh else self.suspect()
            if self.options.clear:
                self.summary.deleted = collect.clear(self.config, self.options, self.log)
                if not self.options.dry_run:
                    for name in self.summary.deleted:  # Django's clear_dir, at -v 1
                        self.log(f"Deleting '{name}'")
            if self.fresh:  # every file again, as from no state
                records, changes = collect.no_records(self.config), None
            else:
                records = None if self.options.clear else self.saved_records()
                changes = None if self.options.clear else self.source_changes()
            self._collect_start = records.token if records is not None else None
            try:
                result = self._collect(suspect, records, changes)
            except store.StoreDamaged as error:  # removed: look at every file, from no state
                self.warn(str(error))
                self._collect_loaded = changes = self._collect_start = None
                result = self._collect(suspect, collect.no_records(self.config), None)
        except (StaticpipeError, OSError):
            if not self.options.dry_run:
                signatures.discard(self.config)  # the next run looks at every source
            raise
        self.records = result.records
        self._removed = result.removed
        if not self.options.dry_run:  # a dry run records nothing it pretended to copy
            self._copied_md5 = {name: result.records[name][collect.MD5] for name in result.copied}
        self._copy_ran = True
        self._saved_records = None  # superseded: free it
        self.summary.copied, self.summary.unmodified = result.copied, result.unmodified
        if not self.options.dry_run:
            listing = state.token(self.found_file)
            known = changes is not None  # then only these names' signatures can move
            signatures.save(
                self.config, self.found, result.records, listing,
                self._signatures if known else None,
                [*result.copied, *changes] if known else None,
                result.records.token,
                getattr(changes, "positions", None),
            )  # fmt: skip
        if not self.options.dry_run and self.config.storage == "plain":
            self._drop_post_processing()
            self._collect_garbage(None)
        elif not self.options.dry_run and self.options.clear and not self.post_processing:
            self._collect_garbage(None, manifest=False)  # what was there goes, manifest too

    def _drop_post_processing(self) -> None:
        """``storage = "plain"``: what an earlier manifest build wrote becomes garbage."""
        from ..phases import postprocess

        config = self.config
        written = postprocess.load_outputs(config)
        # (and what the manifest in place names: the state may be lost or damaged)
        named = cleanup.named_by_manifest(config, False, True)
        if written or named or self.manifest_file.exists():
            cleanup.add_garbage(config, [*written, *named, cleanup.MANIFEST_NAME])
            state.discard(self.post_file)

    def _collect_garbage(self, hashed: Mapping[str, str] | None, manifest: bool = True) -> None:
        """Delete what this run made obsolete, now that the new manifest is in place.
        ``hashed``: name -> hashed name (None: not post-processed). ``manifest``:
        False if this build has no staticfiles.json even with the manifest storage
        (``--clear --no-post-process``, as Django's leaves none)."""
        config = self.config
        any_hash = config.file_hash is not None  # a hook's hashed names
        manifest = manifest and config.storage == "manifest"
        live = cleanup.Live(self.found, hashed, manifest=manifest, any_hash=any_hash)
        if self.options.post_process:  # and what the derived phases wrote beside
            suffixes = config.compress.suffixes
            files = (INTEGRITY_NAME,) if config.integrity else ()
            if suffixes or files:
                live = _Beside(live, suffixes, files)
        self.summary.deleted = cleanup.collect_garbage(config, live, self.options.clear)

    def _collect(
        self, suspect: set[str] | None, records: store.Table | None, changes: set[str] | None
    ) -> collect.CollectResult:
        return collect.collect(
            self.found, self.config, self.options, self.log, suspect, records, changes
        )

    def current_records(self) -> store.Table:
        if self.records is None:  # the copy phase was up to date (or they were dropped)
            self.records = self.saved_records()
            if not self._copy_ran:
                self.summary.unmodified = list(self.found)
        return self.records

    # -- post-process ------------------------------------------------------------
    def saved_post(self) -> dict:
        if self._saved_post is None:  # (postprocess.load_state, without importing it)
            self._saved_post, self._post_loaded = rules.load_post(self.config, self.options.writes)
        return self._saved_post

    def post_uptodate(self) -> bool:
        try:
            return self._post_uptodate()
        except store.StoreDamaged:
            return False

    def _post_uptodate(self) -> bool:
        self.hold_lock()
        if self.summary.copied or self.fresh:
            return False  # this run copied something: post-processing must look at it
        if self.stamp() is not None:
            return True
        saved = self.saved_post()
        files = saved.get("files", {})
        if saved.get("collect") != state.token(self.collect_file) or saved.get("pending"):
            return False  # made from other records, or a run stopped part-way
        records = self.records if self.records is not None else self.saved_records()
        if saved.get("token") != rules.settings_token(self.config) or set(files) != set(self.found):
            return False
        root = str(self.config.static_root)
        suspect = self.suspect()
        for name, fields in files.items():
            entry = rules.expand(name, fields)
            record = records.get(name)
            if record is None or entry.md5 != record[collect.MD5]:
                return False
            if entry.refs is None and not entry.raw and name.endswith((".css", ".js")):
                return False
            if suspect is not None and name.rpartition("/")[0] not in suspect:
                continue
            if not os.path.exists(os.path.join(root, entry.hashed)):
                return False
        return True

    def post_process(self) -> None:
        from ..phases import postprocess

        self._acted = True
        lock.hold(self.config)
        records = self.current_records()
        # the records: the collect state this run loaded, with what it copied
        since = postprocess.Since(
            None if self.options.clear else self._collect_loaded,
            self.summary.copied,
            state.token(self.collect_file),
            self._removed,
        )
        fresh = self.options.clear or self.fresh  # every file, from no state
        suspect = None if fresh else self.suspect()

        def run(saved: dict | None, since: postprocess.Since | None):
            return postprocess.post_process(
                list(self.found), records, self.config, self.log,
                self.options.workers, suspect, saved, since, self.options.verbosity,
            )  # fmt: skip

        try:
            if self.fresh:
                result = run(rules.no_post(self.config), None)
            else:
                saved = None if fresh else self.saved_post()
                self._post_start = saved["files"].token if saved is not None else None
                result = run(saved, since)
        except store.StoreDamaged as error:
            if records.broken:  # the records are gone too: only a new run has them
                raise store.StoreDamaged(f"{error}; run again") from None
            self.warn(str(error))
            self._saved_post = self._post_start = None  # removed: all again, from no state
            result = run(self.saved_post(), None)
        self.hashed = result.hashed
        self._post_changes = result.changed
        self._saved_post = None  # superseded: free it
        self.racy_records()
        self.records = None  # what is left (the manifest) needs none: free it
        self.summary.post_processed = result.processed
        self.summary.warnings = result.warnings
        self._post_ran = True

    # -- manifest --------------------------------------------------------------
    def current_hashed(self) -> Mapping[str, str]:
        if self.hashed is None:
            files = self.saved_post().get("files", {})
            self.hashed = {name: rules.saved_hashed(name, files[name]) for name in self.found}
        return self.hashed

    def manifest_bytes(self) -> bytes:
        """The manifest's bytes, rendered in full (Django's, with the ``file_hash``
        hook's ``hash`` if there is one)."""
        paths = manifest.ordered_paths(self.found, self.current_hashed())
        return manifest.render(paths, manifest.digest_of(self.config))

    def manifest_uptodate(self) -> bool:
        self.hold_lock()
        if self.fresh or cleanup.has_garbage(self.config):
            return False  # (deleting the garbage is this phase's, after the manifest)
        inputs = {"listing": state.token(self.found_file), "post": state.token(self.post_file)}
        if outputs.manifest_unchanged(self.config) and manifest.made_from(self.config) == inputs:
            return True  # the file the last complete run wrote, from these very inputs
        try:
            return self.manifest_file.read_bytes() == self.manifest_bytes()
        except (OSError, KeyError, store.StoreDamaged):
            return False

    def write_manifest(self) -> None:
        self._acted = True
        lock.hold(self.config)
        listing = state.token(self.found_file)
        rendered = None
        if self._post_changes is not None:  # post-processing ran, from _post_loaded
            started = {"listing": listing, "post": self._post_loaded}
            rendered = manifest.patched(self.config, started, self._post_changes)
        # what the next run can patch this manifest against
        left = {"listing": listing, "post": state.token(self.post_file)}
        if rendered is not None:
            manifest.write_patched(self.config, *rendered, left)
            del rendered
        else:
            paths = manifest.ordered_paths(self.found, self.current_hashed())
            manifest.write_rendered(self.config, paths, left)
        self._collect_garbage(self.current_hashed())

    # -- for the derived phases (derived.py) ---------------------------------------
    def ledger(self) -> store.Database:
        """The state directory's database (store.py), opened once per run."""
        if self._ledger is None:
            self._ledger = store.Database(self.config.state_path, self.options.writes)
        return self._ledger

    def upstream(self, now: bool) -> tuple[str | None, str | None]:
        """The tokens of the copy and post-processing state in the ledger ``now``,
        or as this run started (before its own phases committed)."""
        ledger = self.ledger()
        collect_now = ledger.token("collect")
        post_now = ledger.token("post") if self.post_processing else None
        if now:
            return collect_now, post_now
        collect_then = self._collect_start if self._copy_ran else collect_now
        post_then = self._post_start if self._post_ran else post_now
        return collect_then, post_then

    def changed_names(self) -> list[str]:
        """The names this run copied, named anew (post-processing) or dropped."""
        return [*self._copied_md5, *(self._post_changes or ()), *self._removed]

    def files_of(self, name: str) -> tuple[tuple[str, ...], str]:
        """``name``'s files in static_root (its copy, then its hashed file if the
        name differs) and the fingerprint of both (the copy's md5, the hashed name)."""
        md5 = self._copied_md5.get(name) or self.current_records()[name][collect.MD5]
        hashed = self.current_hashed()[name] if self.post_processing else name
        files = (name,) if hashed == name else (name, hashed)
        return files, f"{md5} {hashed}"

    def static_base(self) -> str:
        """static_root as a prefix of names (``base + name``: the file's path)."""
        return fsutil.prefix(str(self.config.static_root))

    # -- the run as a whole ------------------------------------------------------
    def phase_check(self, phase: str, check: Callable[[], bool]) -> Callable[[], bool]:
        """``check`` as a phase's uptodate, remembering a phase found up to date."""

        def uptodate() -> bool:
            current = check()
            if current:
                self._current.add(phase)
            return current

        self._checks[phase] = check
        return uptodate

    def uptodate(self) -> bool:
        """The run as a whole (``doit info collect``): up to date when no phase has
        anything to do and the last complete run's stamp holds. Its report would
        then only print the summary, which the reporter (reporter.py) still does."""
        if self.fresh or self._acted or self.options.clear or self.options.dry_run:
            return False
        for phase, check in self._checks.items():
            if phase not in self._current and not check():
                return False
        return self.stamp() is not None

    def finish(self) -> Summary:
        """What every complete run does last: record the output directories' mtimes
        and the stamp, and say which names were found twice."""
        if not self.options.dry_run:
            if not self._copy_ran:
                self.summary.unmodified = list(self.found)
            if self.post_processing and not self._post_ran:
                self._repeat_warnings()
            if self._copy_ran or self.hashed is not None or self.suspect() != set():
                summary, suspect = self.summary, self.suspect()
                touched = None  # not known: every output directory is read again
                if not self.options.clear and suspect is not None:
                    touched = [*summary.copied, *summary.post_processed, *summary.deleted]
                outputs.record(self.config, self.found, self.walk(), touched, suspect or ())
            self.save_stamp()
            if self.options.prune:
                self.summary.pruned = cleanup.prune(self.config)
                for name in self.summary.pruned:
                    self.log(f"Pruned '{name}'")
        for name in self.duplicates:  # Django's words, at -v 1 and up
            self.log(
                f"Found another file with the destination path '{name}'. It will be "
                "ignored since only the first encountered file is collected. If this "
                "is not what you want, make sure every static file has a unique path."
            )
        return self.summary

    def _repeat_warnings(self) -> None:
        """Post-processing was up to date: what its rewrites warned of is this
        build's too, said again as a run that reuses the files says it."""
        saved = self.saved_post()
        warned = set(saved.get("warned") or ())
        if not warned:
            return
        files = saved["files"]
        for name in self.found:  # in the listing's order, as a full run reports them
            if name in warned and name in files:
                self.summary.warnings.extend(rules.expand(name, files[name]).warnings)
        for warning in self.summary.warnings:
            self.log(f"warning: {warning}")

    def file_lines(self) -> Iterator[str]:
        """Django's ``-v 2`` lines (options.file_lines)."""
        hashed = self.current_hashed() if self.summary.post_processed else {}
        where = finders.locations(self.config)
        return file_lines(self.found, where, self.summary, hashed, self.options.link)

    def warn(self, message: str) -> None:
        print(f"staticpipe: warning: {message}", file=sys.stderr)

    def release(self) -> None:
        """Drop the per-file data: the run is over, and doit is about to save its
        own (peak memory is this plus that, otherwise)."""
        self.records = self._saved_records = self._saved_post = self.hashed = None
        self.found = {}
        self.summary.unmodified = []


class _Beside(Container[str]):
    """A build's files (``live``), their precompressed siblings (``suffixes``) and
    the derived phases' own ``files`` (staticfiles.integrity.json)."""

    def __init__(self, live: Container[str], suffixes: tuple[str, ...], files: tuple[str, ...]):
        self.live, self.suffixes, self.files = live, suffixes, files

    def __contains__(self, name: object) -> bool:
        if name in self.live or name in self.files:
            return True
        return isinstance(name, str) and any(
            name.endswith(suffix) and name[: -len(suffix)] in self.live for suffix in self.suffixes
        )


def without_gc(function: Callable) -> Callable:
    """``function`` with the cyclic garbage collector paused while it runs.

    A phase loads, builds and saves tens of thousands of records: lists, tuples
    and dicts that hold no cycles and are freed by reference counting. The
    collector's passes over them found nothing and cost 10-30 ms per run."""

    @functools.wraps(function)  # doit reads the wrapped signature through it
    def paused(*args, **kwargs):
        if not gc.isenabled():
            return function(*args, **kwargs)
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            gc.enable()

    return paused
