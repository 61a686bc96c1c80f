"""One collect run: what its phases hand each other, and what every run does.

A ``Run`` is the data the phases (``engine/phases.py``: one module each under
``phases/``) share while one build runs: the listing, the records and hashed
names as phases produce them, what each changed, the summary. It also does what
is the same for every phase: the lock, the last complete run's stamp, the
output directories to look at, the ledger, deleting garbage once the manifest
is in place, and ``finish``. Every driver goes through the same ``Run``: the
doit tasks (``tasks.py``) and ``pipeline.run`` (the watcher, the server, the
Django command, tests). This module knows nothing of doit.
"""

from __future__ import annotations

import functools
import gc
import json
import sys
from collections.abc import Callable, Container, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..config import Config
from ..fs import fsutil
from ..integrity import INTEGRITY_NAME
from ..ledger import lock, stamp, state, store
from ..options import RunOptions, Summary, file_lines
from ..phases import cleanup, collect, signatures, undo
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
        self.fresh = fresh
        self.log = log if log is not None else print if options.verbosity >= 1 else _silent
        self.duplicates: list[str] = []  # names found again in a later location
        found = discovery.find_all_reusing(config, self.duplicates, options.writes)
        self.found, self.reused = found
        self.summary = Summary(root=str(config.static_root), link=options.link)
        state_dir = config.state_path
        self.found_file = state_dir / "found.json"
        self.collect_file = collect.state_file(config)
        self.post_file = rules.post_state_file(config)
        # What the phases hand each other (None: that phase did not run):
        self.records: collect.Records | None = None  # the copy phase's, name -> Record
        self.removed: list[str] = []  # names whose records the copy phase dropped
        self.copied_md5: dict[str, str] = {}  # what this run copied, name -> md5
        self.hashed: Mapping[str, str] | None = None  # name -> hashed name
        self.post_changes: dict[str, str] | None = None  # hashed names made anew
        self.copy_ran = self.post_ran = False
        # The tokens of the collect and post-processing entries as this run
        # loaded them (``*_loaded``: another run may replace them meanwhile) and as
        # they were when its own phase started (``*_start``, for the derived
        # phases): what a later phase's state was made from (rewriting.Since,
        # manifest.patched, derived.py).
        self.collect_loaded: str | None = None
        self.post_loaded: str | None = None
        self.collect_start: str | None = None
        self.post_start: str | None = None
        # the copy phase's look at the sources (phases/copy.py; None: not looked yet)
        self.sources: signatures.Look | None = None
        self.acted = False  # a phase's action ran in this process
        self.failed: str | None = None  # the phase that failed (no later phase acts)
        self._begun = False
        self._listing: bytes | None = None
        self._ledger: store.Database | None = None
        self._racy: dict[str, collect.Record] | None = None  # once records are dropped
        self._saved_records: collect.Records | None = None
        self._saved_post: dict | None = None
        self._current: set[str] = set()  # the phases found up to date
        self._checks: dict[str, Callable[[], bool]] = {}  # each phase's uptodate

    # -- the listing and the settings ------------------------------------------
    def listing(self) -> bytes:
        """The listing (the ``found.json`` entry): the files and the settings later
        phases depend on."""
        if self._listing is None:
            files = [[name, item.source] for name, item in self.found.items()]
            self._listing = json.dumps({"settings": self.settings(), "files": files}).encode()
        return self._listing

    def drop_listing(self) -> None:
        self._listing = None

    def settings(self) -> dict[str, Any]:
        """The settings later phases depend on (saved in the listing)."""
        return {
            "static_root": str(self.config.static_root),
            "storage": self.config.storage,
            "link": self.options.link,
            "post_process": self.options.post_process,
            "token": rules.settings_token(self.config),
            "values": rules.readable_settings(self.config),  # (for --explain)
        }

    @property
    def post_processing(self) -> bool:
        return self.config.storage == "manifest" and self.options.post_process

    def walk(self) -> tuple | None:
        """What identifies the listing: the saved walk it was read from (the same
        file, reused), if it was (outputs.py reuses its directory list then)."""
        return state.token(discovery.state_file(self.config)) if self.reused else None

    def hold_lock(self) -> None:
        """Before any state is read: another run may be writing it."""
        if self.options.writes:  # (a dry run, `doit info`: no lock, nothing written)
            lock.hold(self.config)  # until this doit run ends

    # -- start and failure (the undo area: phases/undo.py) -----------------------
    def begin(self) -> None:
        """Once, before any phase reads state: the lock, and the files a killed run
        kept (the previous build's copies it replaced) back in place."""
        if not self._begun and self.options.writes:
            self.hold_lock()
            undo.recover(self.config)
        self._begun = True

    def abort(self, phase: str) -> None:
        """``phase`` failed: no later phase acts, and the previous build's files
        this run replaced go back (the manifest in place names them)."""
        self.failed = phase
        if self.options.writes:
            undo.rollback(self.config)

    # -- the last complete run's stamp (stamp.py) --------------------------------
    def stamped_files(self) -> list[Path]:
        paths = [discovery.state_file(self.config), self.found_file, self.collect_file]
        if self.post_processing:
            paths.append(self.post_file)
        return paths

    def stamp(self) -> dict[str, collect.Record] | None:
        """If nothing moved since the last complete run (discovery reused its walk,
        every ledger entry is the one it left, no output directory moved): the
        records that run could not trust by stat alone. Else None. Not cached: a
        phase that runs rewrites its state, and the next phase must see that."""
        if not self.reused or self.options.clear or self.options.dry_run:
            return None
        if self.suspect != set():
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

    @functools.cached_property
    def suspect(self) -> set[str] | None:
        """Output directories to check file by file (outputs.py); None: all."""
        return outputs.suspect(self.config, self.found, self.walk())

    # -- the copy and post-processing state, saved or this run's -----------------
    def saved_records(self) -> collect.Records:
        if self._saved_records is None:
            self._saved_records, self.collect_loaded = collect.load_identified(
                self.config, repair=self.options.writes
            )
        return self._saved_records

    def drop_saved_records(self) -> None:
        self._saved_records = None

    def current_records(self) -> collect.Records:
        if self.records is None:  # the copy phase was up to date (or they were dropped)
            self.records = self.saved_records()
            if not self.copy_ran:
                self.summary.unmodified = list(self.found)
        return self.records

    def saved_post(self) -> dict:
        if self._saved_post is None:
            self._saved_post, self.post_loaded = rules.load_post(self.config, self.options.writes)
        return self._saved_post

    def drop_saved_post(self) -> None:
        self._saved_post = None

    def current_hashed(self) -> Mapping[str, str]:
        if self.hashed is None:
            files = self.saved_post().get("files", {})
            self.hashed = {name: rules.saved_hashed(name, files[name]) for name in self.found}
        return self.hashed

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
        collect_then = self.collect_start if self.copy_ran else collect_now
        post_then = self.post_start if self.post_ran else post_now
        return collect_then, post_then

    def changed_names(self) -> list[str]:
        """The names this run copied, named anew (post-processing) or dropped."""
        return [*self.copied_md5, *(self.post_changes or ()), *self.removed]

    def files_of(self, name: str) -> tuple[tuple[str, ...], str]:
        """``name``'s files in static_root (its copy, then its hashed file if the
        name differs) and the fingerprint of both (the copy's md5, the hashed name)."""
        md5 = self.copied_md5.get(name) or self.current_records()[name].md5
        hashed = self.current_hashed()[name] if self.post_processing else name
        files = (name,) if hashed == name else (name, hashed)
        return files, f"{md5} {hashed}"

    def static_base(self) -> str:
        """static_root as a prefix of names (``base + name``: the file's path)."""
        return fsutil.prefix(str(self.config.static_root))

    # -- garbage ----------------------------------------------------------------
    def collect_garbage(self, hashed: Mapping[str, str] | None, manifest: bool = True) -> None:
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
        if self.fresh or self.acted or self.options.clear or self.options.dry_run:
            return False
        for phase, check in self._checks.items():
            if phase not in self._current and not check():
                return False
        return self.stamp() is not None

    def finish(self) -> Summary:
        """What every complete run does last: record the output directories' mtimes
        and the stamp, and say which names were found twice."""
        if not self.options.dry_run:
            if not self.copy_ran:
                self.summary.unmodified = list(self.found)
            if self.post_processing and not self.post_ran:
                self._repeat_warnings()
            if self.copy_ran or self.hashed is not None or self.suspect != set():
                summary, suspect = self.summary, self.suspect
                touched = None  # not known: every output directory is read again
                if not self.options.clear and suspect is not None:
                    touched = [*summary.copied, *summary.post_processed, *summary.deleted]
                outputs.record(self.config, self.found, self.walk(), touched, suspect or ())
            self.save_stamp()
            undo.settle(self.config)  # (kept files of a run whose manifest was right)
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
