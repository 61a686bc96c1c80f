"""doit tasks: one task per phase, inputs as file_dep, outputs as targets.

In a project directory whose pyproject.toml has ``[tool.staticpipe]``, a dodo.py of
one line, ``from staticpipe.tasks import *``, gives ``doit collect``, ``doit
findstatic``, ``doit watch`` and ``doit serve``. An existing dodo.py can instead
call :func:`make_tasks` with a Config and a name prefix.

The doit layer is thin: it discovers files when tasks are created (file_dep
must be known then), and each action calls a phase function of the core. Each
phase keeps its own per-file state (see collect.py, postprocess.py), so doit's
``changed`` list is not needed; a phase's ``uptodate`` compares that state with
the sources, catching what mtimes hide (restored mtimes, deleted outputs).
"""

from __future__ import annotations

import functools
import gc
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from doit import task_params
from doit.dependency import FileChangedChecker
from doit.exceptions import TaskFailed
from doit.globals import Globals

# postprocess and pipeline (the rewriting machinery and its regexes) are imported
# where a phase runs: a no-op run never needs them.
from . import (
    cleanup,
    collect,
    discovery,
    explain,
    finders,
    fsutil,
    layout,
    lock,
    manifest,
    outputs,
    rules,
    signatures,
    stamp,
    store,
)
from .config import Config, find_config_file, load_config
from .errors import StaticpipeError
from .options import RunOptions, Summary, file_lines
from .reporter import Reporter, StaticpipeFailed


class StatChecker(FileChangedChecker):
    """A file_dep changed if its mtime, size, ctime or inode did.

    ctime and inode see what mtime alone hides: a content change behind a
    restored mtime (``cp -p``, archive extraction), a file replaced by another.
    No content hashing: the phases' own state says what changed inside.

    The state saved after a task ran is the one seen when its file_deps were
    checked (doit would stat every file_dep again): a change made while the task
    ran is then seen by the next run, not hidden by a stat taken after it.
    (Sources are not file_deps: the copy phase checks them itself, see
    signatures.py.)
    """

    def __init__(self):
        # file_dep -> its state when checked if it had changed, None if it had not
        self.checked: dict[str, str | None] = {}

    def check_modified(self, file_path, file_stat, state):
        current = _stat_state(file_stat)
        changed = current != state
        self.checked[file_path] = current if changed else None
        return changed

    def get_state(self, dep, current_state):
        checked = self.checked.pop(dep, _UNCHECKED)
        if checked is not _UNCHECKED:
            return checked  # None: unchanged when checked, keep the saved state
        return _stat_state(os.stat(dep))


_UNCHECKED = object()


def _stat_state(info: os.stat_result) -> str:
    return f"{info.st_mtime_ns}:{info.st_size}:{info.st_ctime_ns}:{info.st_ino}"


DEP_FILE = ".staticpipe-doit.sqlite3"


def _dep_file() -> str:
    """doit's database, in the project directory (that of the configuration this
    process reads), never the current directory; relative if it is not known."""
    source = os.environ.get("STATICPIPE_CONFIG")
    try:
        path = Path(source) if source else find_config_file()
    except StaticpipeError:
        return DEP_FILE
    return str((path if path.is_dir() else path.parent).resolve() / DEP_FILE)


DOIT_CONFIG = {
    "default_tasks": ["collect"],
    "backend": "sqlite3",
    "dep_file": _dep_file(),
    "check_file_uptodate": StatChecker,
    "reporter": Reporter,
}

COLLECT_PARAMS: list[dict[str, Any]] = [
    {"name": "clear", "long": "clear", "short": "c", "type": bool, "default": False,
     "help": "Delete every file in static_root before collecting."},
    {"name": "dry_run", "long": "dry-run", "short": "n", "type": bool, "default": False,
     "help": "Print what would be done; change nothing."},
    {"name": "link", "long": "link", "short": "l", "type": bool, "default": False,
     "help": "Symlink each file instead of copying it."},
    {"name": "no_post_process", "long": "no-post-process", "type": bool, "default": False,
     "help": "Collect only: no hashing, no rewriting, no manifest."},
    {"name": "ignore", "long": "ignore", "short": "i", "type": list, "default": [],
     "help": "Ignore files matching this glob-style pattern, as Django's (repeatable)."},
    {"name": "no_default_ignore", "long": "no-default-ignore", "type": bool, "default": False,
     "help": "Don't ignore the defaults 'CVS', '.*' and '*~'."},
    {"name": "verbosity", "long": "verbosity", "short": "v", "type": int, "default": 1,
     "help": "0: errors only, 1: the summary, 2 (or 3): a line per file, as Django's."},
    {"name": "noinput", "long": "noinput", "type": bool, "default": False,
     "help": "Accepted for Django's collectstatic scripts (there is no prompt)."},
    {"name": "no_input", "long": "no-input", "type": bool, "default": False,
     "help": "The same as --noinput."},
    {"name": "explain", "long": "explain", "type": bool, "default": False,
     "help": "Print what the next run would redo and why; change nothing."},
]  # fmt: skip

PUBLISH_PARAMS = ("dry_run", "verbosity")  # collect's, with the same meaning

ConfigSource = Config | Callable[[], Config] | str | os.PathLike[str] | None


def _resolve_config(source: ConfigSource) -> Config:
    if isinstance(source, Config):
        return source
    if callable(source):
        return source()
    if source is None and os.environ.get("STATICPIPE_CONFIG"):
        source = os.environ["STATICPIPE_CONFIG"]
    return load_config(source)


def _failed(error: Exception) -> TaskFailed:
    """The task's failure: reported once, as one line (reporter.py)."""
    return StaticpipeFailed(str(error))


def _silent(*args: object) -> None:
    """``-v 0``: nothing but errors."""


class CollectRun:
    """The data one ``doit collect`` passes between its phase tasks, in memory."""

    def __init__(self, config: Config, options: RunOptions):
        self.config = config
        self.options = options
        self.duplicates: list[str] = []  # names found again in a later location
        self.found, self.reused = discovery.find_all_reusing(config, self.duplicates)
        self.summary = Summary(root=str(config.static_root), link=options.link)
        self.records: store.Table | None = None
        self._removed: list[str] = []  # names whose records the copy phase dropped
        self._copy_ran = False
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
        # The identities of the collect and post-processing state files as this
        # run loaded them (another run may replace them meanwhile): the
        # post-processing state made from that collect state need not be
        # compared record by record (postprocess.Since), and the manifest
        # rendered from that post-processing state can be patched (manifest.patched).
        self._collect_loaded: tuple | None = None
        self._post_loaded: tuple | None = None
        self._post_changes: dict[str, str] | None = None
        self.log = print if options.verbosity >= 1 else _silent
        # ``doit forget`` since the last complete doit run: rebuild from no state
        self.forgotten = False
        self._acted = False  # a phase's action ran in this process
        self._current: set[str] = set()  # the phases found up to date
        self._checks: dict[str, Callable[[], bool]] = {}  # each phase's uptodate

    # -- discover --------------------------------------------------------------
    def listing(self) -> bytes:
        """found.json's bytes: the files and the settings later phases depend on."""
        if self._listing is not None:
            return self._listing
        files = [[name, item.source] for name, item in self.found.items()]
        self._listing = json.dumps({"settings": self.settings(), "files": files}).encode()
        return self._listing

    def settings(self) -> dict[str, Any]:
        """The settings later phases depend on (written into found.json)."""
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
        return fsutil.identity(discovery.state_file(self.config)) if self.reused else None

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
        every state file is the one it left, no output directory moved): the
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
        if not self.options.dry_run:
            lock.hold(self.config)  # until this doit run ends

    def discover_uptodate(self) -> bool:
        self.hold_lock()
        if self.forgotten:
            return False
        if self.stamp() is not None:
            return True
        try:
            current = self.found_file.read_bytes() == self.listing()
        except OSError:
            return False
        if current:
            self._listing = None  # the action won't run: free it before copying
        return current

    def discover(self) -> None:
        self._acted = True
        if self.options.dry_run:
            return
        lock.hold(self.config)  # until this doit run ends
        if not self.discover_uptodate():
            from .fsutil import write_bytes

            write_bytes(str(self.found_file), self.listing())
        self._listing = None

    # -- collect ---------------------------------------------------------------
    def copy_uptodate(self) -> bool:
        self.hold_lock()
        if self.options.clear or self.forgotten:
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
        collect.state written by another kind of run since): look at every source."""
        if self._source_changes is False:
            # A dry run does not write found.json: the one there may list other files.
            listing = None if self.options.dry_run else fsutil.identity(self.found_file)
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
                self.config, repair=not self.options.dry_run
            )
        return self._saved_records

    def copy(self) -> TaskFailed | None:
        self._acted = True
        if not self.options.dry_run:
            lock.hold(self.config)
        try:
            suspect = None if self.options.clear or self.forgotten else self.suspect()
            if self.options.clear:
                self.summary.deleted = collect.clear(self.config, self.options, self.log)
                if not self.options.dry_run:
                    for name in self.summary.deleted:  # Django's clear_dir, at -v 1
                        self.log(f"Deleting '{name}'")
            if self.forgotten:  # every file again, as from no state
                records, changes = collect.no_records(self.config), None
            else:
                records = None if self.options.clear else self.saved_records()
                changes = None if self.options.clear else self.source_changes()
            try:
                result = self._collect(suspect, records, changes)
            except store.StoreDamaged as error:  # removed: look at every file, from no state
                print(f"staticpipe: warning: {error}", file=sys.stderr)
                self._collect_loaded = changes = None
                result = self._collect(suspect, collect.no_records(self.config), None)
        except (StaticpipeError, OSError) as error:
            if not self.options.dry_run:
                signatures.discard(self.config)  # the next run looks at every source
            return _failed(error)
        self.records = result.records
        self._removed = result.removed
        self._copy_ran = True
        self._saved_records = None  # superseded: free it
        self.summary.copied, self.summary.unmodified = result.copied, result.unmodified
        if not self.options.dry_run:
            listing = fsutil.identity(self.found_file)
            known = changes is not None  # then only these names' signatures can move
            signatures.save(
                self.config, self.found, result.records, listing,
                self._signatures if known else None,
                [*result.copied, *changes] if known else None,
                result.records.token,
                getattr(changes, "positions", None),
            )  # fmt: skip
        if not self.options.dry_run and self.config.storage == "plain":
            from . import pipeline

            pipeline.drop_post_processing(self.config)
            pipeline.finish(self.config, self.found, None, self.summary)
        elif not self.options.dry_run and self.options.clear and not self.post_processing:
            from . import pipeline  # what was there goes, manifest too (as Django's)

            pipeline.finish(self.config, self.found, None, self.summary, manifest=False)
        return None

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
            self._saved_post, self._post_loaded = rules.load_post(self.config)
        return self._saved_post

    def post_uptodate(self) -> bool:
        try:
            return self._post_uptodate()
        except store.StoreDamaged:
            return False

    def _post_uptodate(self) -> bool:
        self.hold_lock()
        if self.summary.copied or self.forgotten:
            return False  # this run copied something: post-processing must look at it
        if self.stamp() is not None:
            return True
        saved = self.saved_post()
        files = saved.get("files", {})
        records = self.records if self.records is not None else self.saved_records()
        if saved.get("token") != rules.settings_token(self.config) or set(files) != set(self.found):
            return False
        root = str(self.config.static_root)
        suspect = self.suspect()
        for name, fields in files.items():
            entry = rules.expand(name, fields)
            record = records.get(name)
            if record is None or entry.md5 != record[5]:
                return False
            if entry.refs is None and not entry.raw and name.endswith((".css", ".js")):
                return False
            if suspect is not None and name.rpartition("/")[0] not in suspect:
                continue
            if not os.path.exists(os.path.join(root, entry.hashed)):
                return False
        return True

    def post_process(self) -> TaskFailed | None:
        from . import postprocess

        self._acted = True
        lock.hold(self.config)
        try:
            records = self.current_records()
            # the records: the collect state this run loaded, with what it copied
            since = postprocess.Since(
                None if self.options.clear else self._collect_loaded,
                self.summary.copied,
                fsutil.identity(self.collect_file),
                self._removed,
            )
            fresh = self.options.clear or self.forgotten  # every file, from no state
            suspect = None if fresh else self.suspect()

            def run(saved: dict | None, since: postprocess.Since | None):
                return postprocess.post_process(
                    list(self.found), records, self.config, self.log,
                    self.options.workers, suspect, saved, since, self.options.verbosity,
                )  # fmt: skip

            try:
                if self.forgotten:
                    result = run(rules.no_post(self.config), None)
                else:
                    result = run(None if fresh else self.saved_post(), since)
            except store.StoreDamaged as error:
                if records.broken:  # the records are gone too: only a new run has them
                    raise store.StoreDamaged(f"{error}; run again") from None
                print(f"staticpipe: warning: {error}", file=sys.stderr)
                self._saved_post = None  # removed: every file again, from no state
                result = run(self.saved_post(), None)
        except (StaticpipeError, OSError) as error:
            return _failed(error)
        self.hashed = result.hashed
        self._post_changes = result.changed
        self._saved_post = None  # superseded: free it
        self.racy_records()
        self.records = None  # what is left (the manifest) needs none: free it
        self.summary.post_processed = result.processed
        self.summary.warnings = result.warnings
        return None

    # -- manifest --------------------------------------------------------------
    def current_hashed(self) -> Mapping[str, str]:
        if self.hashed is None:
            files = self.saved_post().get("files", {})
            self.hashed = {name: rules.saved_hashed(name, files[name]) for name in self.found}
        return self.hashed

    def manifest_bytes(self) -> bytes:
        from . import pipeline

        return pipeline.manifest_bytes(self.found, self.current_hashed(), self.config)

    def manifest_uptodate(self) -> bool:
        self.hold_lock()
        if self.forgotten:
            return False
        if outputs.manifest_unchanged(self.config):
            return True  # the file the last complete run wrote; its inputs are file_deps
        try:
            return self.manifest_file.read_bytes() == self.manifest_bytes()
        except (OSError, KeyError, store.StoreDamaged):
            return False

    def write_manifest(self) -> TaskFailed | None:
        self._acted = True
        lock.hold(self.config)
        try:
            from . import pipeline

            listing = fsutil.identity(self.found_file)
            rendered = None
            if self._post_changes is not None:  # post-processing ran, from _post_loaded
                started = {"listing": listing, "post": self._post_loaded}
                rendered = manifest.patched(self.config, started, self._post_changes)
            # what the next run can patch this manifest against
            left = {"listing": listing, "post": fsutil.identity(self.post_file)}
            if rendered is not None:
                manifest.write_patched(self.config, *rendered, left)
                del rendered
            else:
                paths = manifest.ordered_paths(self.found, self.current_hashed())
                manifest.write_rendered(self.config, paths, left)
            pipeline.finish(self.config, self.found, self.current_hashed(), self.summary)
        except (StaticpipeError, OSError, KeyError) as error:
            return _failed(error)
        return None

    # -- collect itself ----------------------------------------------------------
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
        """``collect`` itself (``doit info collect``): up to date when no phase has
        anything to do and the last complete run's stamp holds. Its report would
        then only print the summary, which the reporter (reporter.py) still does."""
        if self.forgotten or self._acted or self.options.clear or self.options.dry_run:
            return False
        for phase, check in self._checks.items():
            if phase not in self._current and not check():
                return False
        return self.stamp() is not None

    # -- summary ---------------------------------------------------------------
    def report(self) -> None:
        if not self.options.dry_run:
            _remember_complete(self.config)
            if not self._copy_ran:
                self.summary.unmodified = list(self.found)
            if self._copy_ran or self.hashed is not None or self.suspect() != set():
                summary, suspect = self.summary, self.suspect()
                touched = None  # not known: every output directory is read again
                if not self.options.clear and suspect is not None:
                    touched = [*summary.copied, *summary.post_processed, *summary.deleted]
                outputs.record(self.config, self.found, self.walk(), touched, suspect or ())
            self.save_stamp()
        for name in self.duplicates:  # Django's words, at -v 1 and up
            self.log(
                f"Found another file with the destination path '{name}'. It will be "
                "ignored since only the first encountered file is collected. If this "
                "is not what you want, make sure every static file has a unique path."
            )
        if self.options.verbosity >= 2:
            for line in self.file_lines():
                print(line)
        if self.options.verbosity >= 1:
            print(self.summary.line())
        self.release()

    def file_lines(self) -> Iterator[str]:
        """Django's ``-v 2`` lines (options.file_lines)."""
        hashed = self.current_hashed() if self.summary.post_processed else {}
        where = finders.locations(self.config)
        return file_lines(self.found, where, self.summary, hashed, self.options.link)

    def release(self) -> None:
        """Drop the per-file data: the run is over, and doit is about to save its
        own (peak memory is this plus that, otherwise)."""
        self.records = self._saved_records = self._saved_post = self.hashed = None
        self.found = {}
        self.summary.unmodified = []


def _without_gc(function: Callable) -> Callable:
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


def _forget_former_source_states(task: str, source: str | None) -> None:
    """doit keeps the saved state of every former file_dep of a task for good, and
    re-encodes all of it whenever the task runs. Sources were file_deps of the copy
    task before signatures.py: tens of thousands of states, tens of ms per edit.
    If the task still has a state for ``source`` (a source), it is forgotten once:
    it then runs, as after ``doit forget``, and doit saves only what it has now."""
    manager = Globals.dep_manager
    if manager is not None and source is not None and manager.backend.get(task, source):
        manager.remove(task)


def _complete_file(config: Config) -> Path:
    return config.state_path / "doit.json"


def _remember_complete(config: Config) -> None:
    """Note that a doit run of collect completed, with which doit database."""
    manager = Globals.dep_manager
    data = json.dumps({"dep_file": getattr(manager and manager.backend, "name", None)}).encode()
    path = _complete_file(config)
    try:
        if path.read_bytes() == data:
            return
    except OSError:
        pass
    fsutil.write_bytes(str(path), data)


def _forgotten(task: str, config: Config) -> bool:
    """``doit forget TASK`` (or ``-a``) since the last complete doit run of it:
    the task is gone from the doit database that run used. (The first run, and
    one after runs without doit, e.g. the watcher's, find no note of that run.)"""
    manager = Globals.dep_manager
    if manager is None:
        return False
    try:
        saved = json.loads(_complete_file(config).read_bytes())
    except (OSError, ValueError):
        return False
    mine = getattr(manager.backend, "name", None)
    return saved.get("dep_file") == mine and not manager.backend.in_(task)


def _collect_tasks(config: Config, options: RunOptions, prefix: str):
    run = _without_gc(CollectRun)(config, options)
    name = f"{prefix}collect"
    if not options.dry_run:
        first = next(iter(run.found.values()), None)
        _forget_former_source_states(f"{name}_copy", first and first.source)
        run.forgotten = _forgotten(name, config)
    # reporter.py: -v 0 prints no progress lines; an up-to-date collect still reports
    meta = {"staticpipe": {"quiet": options.verbosity == 0}}
    config_dep = [str(config.config_file)] if config.config_file else []
    yield {
        "basename": f"{name}_discover",
        "doc": "Find static files in dirs and packages (finders, ignore patterns).",
        "actions": [_without_gc(run.discover)],
        "file_dep": config_dep,
        "targets": [] if options.dry_run else [str(run.found_file)],
        "uptodate": [_without_gc(run.phase_check("discover", run.discover_uptodate))],
        "verbosity": 2,
        "meta": meta,
    }
    yield {
        "basename": f"{name}_copy",
        "doc": "Copy (or symlink) found files into static_root.",
        "actions": [_without_gc(run.copy)],
        # The listing, not every source: copy_uptodate compares every source's stat
        # with the one it was copied from (signatures.py), at a fraction of the cost.
        "file_dep": [] if options.dry_run else [str(run.found_file)],
        "targets": [] if options.dry_run else [str(run.collect_file)],
        "uptodate": [_without_gc(run.phase_check("copy", run.copy_uptodate)), not options.dry_run],
        "verbosity": 2,
        "meta": meta,
    }
    phases = [f"{name}_discover", f"{name}_copy"]
    if run.post_processing and not options.dry_run:
        yield {
            "basename": f"{name}_postprocess",
            "doc": "Hash files and rewrite CSS/JS references, dependencies first.",
            "actions": [_without_gc(run.post_process)],
            "file_dep": [str(run.collect_file)],
            "targets": [str(run.post_file)],
            "uptodate": [_without_gc(run.phase_check("postprocess", run.post_uptodate))],
            "verbosity": 2,
            "meta": meta,
        }
        yield {
            "basename": f"{name}_manifest",
            "doc": "Write staticfiles.json (atomically, last) and delete obsolete files.",
            "actions": [_without_gc(run.write_manifest)],
            # found.json too: the manifest's key order is the listing's
            "file_dep": [str(run.found_file), str(run.post_file)],
            "targets": [str(run.manifest_file)],
            "uptodate": [_without_gc(run.phase_check("manifest", run.manifest_uptodate))],
            "verbosity": 2,
            "meta": meta,
        }
        phases += [f"{name}_postprocess", f"{name}_manifest"]
    yield {
        "basename": name,
        "doc": "Collect static files into static_root, hash them, write staticfiles.json.",
        "actions": [_without_gc(run.report)],
        "task_dep": phases,
        "uptodate": [_without_gc(run.uptodate)],
        "clean": [functools.partial(_clean, config)],
        "verbosity": 2,
        "meta": {"staticpipe": {**meta["staticpipe"], "when_uptodate": run.report}},
    }


def _clean(config: Config, dryrun: bool) -> None:
    """``doit clean collect``; with ``-n`` (doit passes ``dryrun``), what it would remove."""
    if dryrun:
        names = sorted(cleanup.owned_outputs(config))
        for name in names:
            print(f"Would remove '{name}'")
        print(f"{len(names)} files would be removed from '{config.static_root}'.")
        return
    deleted = cleanup.clean(config)
    print(f"{len(deleted)} files removed from '{config.static_root}'.")


def _explain_task(config: Config, options: RunOptions, prefix: str) -> dict[str, Any]:
    """``doit collect --explain``: the collect task, printing what a run would redo."""

    def action() -> None:
        with lock.locked(config):  # (a run writing the state meanwhile: wait for it)
            lines = explain.explain(config, options).lines()
        print("\n".join(lines))

    return {"basename": f"{prefix}collect", "actions": [action], "verbosity": 2}


def _config_error_task(name: str, error: Exception) -> dict[str, Any]:
    return {"basename": name, "actions": [lambda: _failed(error)], "verbosity": 2}


def make_tasks(config: ConfigSource = None, prefix: str = "") -> dict[str, Callable]:
    """Task creators for a dodo.py: ``globals().update(make_tasks(config, "static_"))``.

    ``config`` is a Config, a callable returning one, a path to a pyproject.toml
    (or its directory), or None for the nearest ``[tool.staticpipe]`` from the
    current directory. Tasks are named ``<prefix>collect``, ``<prefix>findstatic``,
    ``<prefix>watch``, ``<prefix>serve`` and ``<prefix>publish``.
    """

    @task_params(COLLECT_PARAMS)
    def collect_creator(
        clear, dry_run, link, no_post_process, ignore, no_default_ignore, verbosity,
        noinput, no_input, explain,
    ):  # fmt: skip
        try:
            if verbosity not in (0, 1, 2, 3):
                raise StaticpipeError(f"--verbosity {verbosity}: expected 0, 1, 2 or 3")
            base = _resolve_config(config)
            effective = base.with_options(
                globs=base.globs + tuple(ignore),
                default_ignore=base.default_ignore and not no_default_ignore,
            )
            layout.check_dirs_exist(effective)
            layout.check(effective, finders.locations(effective))
            layout.claim_state_dir(effective)
        except StaticpipeError as error:
            yield _config_error_task(f"{prefix}collect", error)
            return
        options = RunOptions(
            clear=clear, dry_run=dry_run, link=link, post_process=not no_post_process,
            verbosity=verbosity,
        )  # fmt: skip
        if explain:
            yield _explain_task(effective, options, prefix)
        else:
            yield from _collect_tasks(effective, options, prefix)

    collect_creator.__doc__ = "Collect, hash and rewrite static files; write staticfiles.json."

    def findstatic_creator():
        """Print where static files are found: doit findstatic PATH... [--first]."""
        from . import findstatic

        def action(paths, first, verbosity):
            try:
                findstatic.main(lambda: _resolve_config(config), paths, first, verbosity)
            except StaticpipeError as error:
                return _failed(error)
            return None

        return {
            "basename": f"{prefix}findstatic",
            "actions": [action],
            "pos_arg": "paths",
            "params": findstatic.PARAMS,
            "uptodate": [False],
            "verbosity": 2,
        }

    def publish_creator():
        """Upload the build in static_root to the publish url (S3), manifest last."""

        def action(dry_run, verbosity):
            from .publish.run import publish

            try:
                if verbosity not in (0, 1, 2, 3):
                    raise StaticpipeError(f"--verbosity {verbosity}: expected 0, 1, 2 or 3")
                summary = publish(_resolve_config(config), dry_run=dry_run, verbosity=verbosity)
            except StaticpipeError as error:
                return _failed(error)
            if verbosity >= 1:
                print(summary.line())
            return None

        return {
            "basename": f"{prefix}publish",
            "actions": [action],
            "params": [param for param in COLLECT_PARAMS if param["name"] in PUBLISH_PARAMS],
            "uptodate": [False],
            "verbosity": 2,
        }

    def watch_creator():
        """Collect, then watch the sources and pyproject.toml and re-run on change."""

        def action():
            from . import watcher

            return watcher.main(lambda: _resolve_config(config))

        return {"basename": f"{prefix}watch", "actions": [action], "uptodate": [False],
                "verbosity": 2}  # fmt: skip

    def serve_creator():
        """Serve static files over HTTP: from the finders, or --collected."""

        def action(host, port, collected, watch):
            from . import server

            return server.main(
                lambda: _resolve_config(config), host=host, port=port,
                collected=collected, watch=watch,
            )  # fmt: skip

        return {
            "basename": f"{prefix}serve",
            "actions": [action],
            "params": [
                {
                    "name": "host",
                    "long": "host",
                    "type": str,
                    "default": "127.0.0.1",
                    "help": "Address to listen on.",
                },
                {
                    "name": "port",
                    "long": "port",
                    "short": "p",
                    "type": int,
                    "default": 8000,
                    "help": "Port to listen on.",
                },
                {
                    "name": "collected",
                    "long": "collected",
                    "type": bool,
                    "default": False,
                    "help": "Serve static_root (hashed names, long cache) like production.",
                },
                {
                    "name": "watch",
                    "long": "watch",
                    "type": bool,
                    "default": False,
                    "help": "Rebuild on change and reload open pages.",
                },
            ],  # fmt: skip
            "uptodate": [False],
            "verbosity": 2,
        }

    return {
        f"task_{prefix}collect": collect_creator,
        f"task_{prefix}findstatic": findstatic_creator,
        f"task_{prefix}watch": watch_creator,
        f"task_{prefix}serve": serve_creator,
        f"task_{prefix}publish": publish_creator,
    }


def _warn_if_replacing(names: list[str]) -> None:
    """``from staticpipe.tasks import *`` below a DOIT_CONFIG or task_collect of
    the dodo.py's own would silently replace it: say so (README: define yours
    after the import, e.g. ``DOIT_CONFIG = {**DOIT_CONFIG, ...}``)."""
    frame = sys._getframe(2)  # past this module's body: importlib, then the importer
    while frame is not None and frame.f_code.co_filename.startswith("<frozen"):
        frame = frame.f_back
    if frame is None:
        return
    for name in names:
        if name in frame.f_globals:
            print(
                f"staticpipe: warning: {frame.f_code.co_filename}: the {name} defined "
                "before `from staticpipe.tasks import *` is replaced by staticpipe's; "
                "define yours after the import (DOIT_CONFIG = {**DOIT_CONFIG, ...})",
                file=sys.stderr,
            )


_default = make_tasks()
task_collect = _default["task_collect"]
task_findstatic = _default["task_findstatic"]
task_watch = _default["task_watch"]
task_serve = _default["task_serve"]
task_publish = _default["task_publish"]
__all__ = [
    "DOIT_CONFIG", "task_collect", "task_findstatic", "task_watch", "task_serve", "task_publish",
]  # fmt: skip
_warn_if_replacing(__all__)
