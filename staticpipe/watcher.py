"""``doit watch``: build once, then rebuild whenever a source or the config changes.

Every finder location is watched recursively with watchdog (inotify on Linux,
a polling observer if the system's inotify limits are reached), and so is the
directory of the config file (non-recursively). A symlinked directory inside a
location that points outside it gets a watch of its own, since inotify does not
follow links; a location that does not exist yet is waited for through its
nearest existing parent.

Events are filtered in watchdog's thread (see :class:`Plan`): paths the ignore
rules skip (swap files, backups, dotfiles), static_root and the state directory
never wake the build loop. The loop coalesces a burst (a ``git checkout``, an
editor's write-temp-then-rename save) with a short quiet period, then runs the
incremental pipeline once and prints one line: what changed, what was redone,
how long it took. A failing build prints its error and keeps watching; the
previous manifest and its files stay in place (the pipeline guarantees it).
A changed config is reloaded and the watches follow the new locations.

SIGINT and SIGTERM stop the loop after the build in progress (a second one
interrupts it); the process then exits 0.
"""

from __future__ import annotations

import errno
import os
import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.polling import PollingObserver

from . import pipeline
from .config import Config
from .errors import StaticpipeError
from .options import RunOptions, Summary
from .sources import finders
from .sources.ignore import IgnoreRules

# Opening or reading a file is not a change: the pipeline reads every source.
EVENT_TYPES: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    DirCreatedEvent,
    FileDeletedEvent,
    DirDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    DirMovedEvent,
    FileClosedEvent,
]
CHANGE_TYPES = frozenset(cls.event_type for cls in EVENT_TYPES)
DEBOUNCE = 0.05  # seconds without events that end a burst
MAX_DELAY = 2.0  # a continuous stream of events still builds this often

CONFIG = "config"  # the config file changed
LAYOUT = "layout"  # a watched root, or a parent of a missing one, appeared or went
SOURCE = "source"  # something under a location that the finders would see


@dataclass(frozen=True)
class Change:
    kind: str  # CONFIG, LAYOUT or SOURCE
    path: str
    layout: bool = False  # a directory or symlink came or went: roots may change


STOP = object()


@dataclass(frozen=True)
class Root:
    """A directory watched recursively, and what its files are in a location."""

    path: str  # real path of the directory
    location: int  # index into the finder locations
    base: str  # its path relative to the location root ("" for the root itself)


def _under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def ignored(rules: IgnoreRules, relative: str, is_dir: bool) -> bool:
    """The finders' rule: a path is skipped if it, or a directory above it, is ignored."""
    parts = relative.split("/")
    for end in range(1, len(parts)):
        if rules.ignores_dir("/".join(parts[:end])):
            return True
    return rules.ignores_dir(relative) if is_dir else rules.ignores_file(relative)


class Plan:
    """What to watch for one configuration, and which events are changes."""

    def __init__(self, config: Config):
        self.config = config
        self.locations = finders.locations(config)
        self.rules = IgnoreRules(config.ignore_patterns, config.ignore_globs)
        self.config_file = os.path.realpath(config.config_file) if config.config_file else None
        self.excluded = tuple(
            os.path.realpath(path) for path in (config.static_root, config.state_path)
        )
        self.roots: list[Root] = []
        self.missing: list[str] = []
        for index, location in enumerate(self.locations):
            real = os.path.realpath(location.root)
            if os.path.isdir(real):
                self.roots.append(Root(real, index, ""))
                self.roots.extend(self._linked_dirs(real, index))
            else:
                self.missing.append(real)

    def _linked_dirs(self, root: str, index: int) -> Iterator[Root]:
        """Symlinked directories the finders follow out of ``root`` (loops skipped)."""
        stat = os.stat(root)
        seen = {(stat.st_dev, stat.st_ino)}
        pending = [(root, "")]
        while pending:
            directory, relative = pending.pop()
            try:
                entries = list(os.scandir(directory))
            except OSError:
                continue
            for entry in entries:
                try:
                    if not entry.is_dir():
                        continue
                    stat = entry.stat()
                    inode = (stat.st_dev, stat.st_ino)
                except OSError:
                    continue
                path = f"{relative}/{entry.name}" if relative else entry.name
                if inode in seen or self.rules.ignores_dir(path):
                    continue
                seen.add(inode)
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if not _under(target, root):
                        yield Root(target, index, path)
                pending.append((entry.path, path))

    @property
    def location_count(self) -> int:
        return len(self.locations)

    def watches(self) -> set[tuple[str, bool]]:
        """(directory, recursive) pairs to schedule."""
        wanted = {(root.path, True) for root in self.roots}
        for missing in self.missing:
            parent = os.path.dirname(missing)
            while parent != os.path.dirname(parent) and not os.path.isdir(parent):
                parent = os.path.dirname(parent)
            wanted.add((parent, False))
        if self.config_file:
            wanted.add((os.path.dirname(self.config_file), False))
        return wanted

    def classify(self, path: str, is_dir: bool) -> Change | None:
        """The change an event on ``path`` means, or None if it does not matter."""
        if path == self.config_file:
            return Change(CONFIG, path)
        if any(_under(path, excluded) for excluded in self.excluded):
            return None
        for root in self.roots:
            if path == root.path:
                return Change(LAYOUT, path)
            if _under(path, root.path):
                relative = path[len(root.path) + 1 :]
                if root.base:
                    relative = f"{root.base}/{relative}"
                if not ignored(self.rules, relative, is_dir):
                    return Change(SOURCE, path)
        for missing in self.missing:
            if _under(missing, path):  # the missing root or one of its parents
                return Change(LAYOUT, path)
        return None


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: Watcher):
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in CHANGE_TYPES:  # opened, closed without writing
            return
        plan = self.watcher.plan
        paths = [event.src_path]
        if getattr(event, "dest_path", ""):
            paths.append(event.dest_path)
        for path in paths:
            path = os.fsdecode(path)
            change = plan.classify(path, event.is_directory)
            if change is None:
                continue
            if event.is_directory or (
                event.event_type in ("created", "moved") and os.path.islink(path)
            ):
                change = Change(change.kind, path, layout=True)
            self.watcher.queue.put(change)


@dataclass
class BuildResult:
    """What one build did, handed to ``on_build`` (the server reloads pages on it)."""

    summary: Summary | None
    error: str | None
    seconds: float
    changed: bool  # anything in static_root changed, or the config did
    config_reloaded: bool = False
    names: dict[str, list[str]] = field(default_factory=dict)


def _names(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def describe(result: BuildResult, first: bool) -> str:
    """The one line printed for a build."""
    if result.error is not None:
        verb = "build" if first else "rebuild"
        return f"staticpipe: {verb} failed after {_duration(result.seconds)}: {result.error}"
    summary = result.summary
    assert summary is not None
    parts = []
    if result.config_reloaded:
        parts.append("config reloaded")
    for what in ("added", "modified", "removed"):
        if result.names.get(what):
            parts.append(f"{what} {_names(result.names[what])}")
    done = [
        f"{len(items)} {label}"
        for items, label in (
            (summary.copied, "copied"),
            (summary.post_processed, "post-processed"),
            (summary.deleted, "deleted"),
        )
        if items
    ]
    parts.append(", ".join(done) if done else "nothing to do")
    if summary.warnings:
        parts.append(f"{len(summary.warnings)} warning(s)")
    verb = "built" if first else "rebuilt"
    return f"staticpipe: {verb} in {_duration(result.seconds)}: " + "; ".join(parts)


def _make_observer(polling: bool) -> BaseObserver:
    return PollingObserver(timeout=0.5) if polling else Observer()


class Watcher:
    """The watch loop: ``start()`` builds once and watches, ``run()`` rebuilds until ``stop()``."""

    def __init__(
        self,
        config_factory: Callable[[], Config],
        *,
        config: Config | None = None,
        options: RunOptions | None = None,
        on_build: Callable[[BuildResult], None] | None = None,
        on_config: Callable[[Config], None] | None = None,
        out: Callable[[str], None] | None = None,
        debounce: float = DEBOUNCE,
        max_delay: float = MAX_DELAY,
        polling: bool = False,
    ):
        self.config_factory = config_factory
        self.options = options or RunOptions()
        self.on_build = on_build
        self.on_config = on_config
        self.out = out or (lambda line: print(line, flush=True))
        self.debounce = debounce
        self.max_delay = max_delay
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.plan = Plan(config if config is not None else config_factory())
        self._polling = polling
        self._observer = _make_observer(polling)
        self._handler = _Handler(self)
        self._watches: dict[tuple[str, bool], ObservedWatch] = {}
        self._found: set[str] | None = None
        self.builds = 0

    @property
    def config(self) -> Config:
        return self.plan.config

    # -- watches -------------------------------------------------------------------
    def _schedule(self, path: str, recursive: bool) -> ObservedWatch | None:
        try:
            return self._observer.schedule(
                self._handler, path, recursive=recursive, event_filter=EVENT_TYPES
            )
        except OSError as error:
            if error.errno in (errno.ENOSPC, errno.EMFILE) and not self._polling:
                self.out(
                    f"staticpipe: inotify limit reached ({error.strerror}); "
                    "polling for changes instead"
                )
                self._switch_to_polling()
                return None
            if error.errno not in (errno.ENOENT, errno.ENOTDIR):
                self.out(f"staticpipe: cannot watch {path}: {error}")
            return None

    def _switch_to_polling(self) -> None:
        old = self._observer
        self._polling = True
        self._observer = _make_observer(True)
        self._observer.start()
        self._watches = {}
        old.stop()
        self._reschedule()

    def _reschedule(self) -> bool:
        """Make the watches match the plan; True if a watch was added."""
        wanted = self.plan.watches()
        for key in list(self._watches):
            if key not in wanted:
                watch = self._watches.pop(key)
                try:
                    self._observer.unschedule(watch)
                except (KeyError, OSError):
                    pass
        added = False
        for key in sorted(wanted - set(self._watches)):
            watch = self._schedule(*key)
            if self._polling and key in self._watches:  # switched while scheduling
                continue
            if watch is not None:
                self._watches[key] = watch
                added = True
        return added

    def watched(self) -> list[str]:
        return sorted(path for path, _recursive in self._watches)

    # -- builds --------------------------------------------------------------------
    def build(self, config_reloaded: bool = False) -> BuildResult:
        start = time.perf_counter()
        first = self.builds == 0
        self.builds += 1
        try:
            summary = pipeline.run(self.config, self.options, log=self._log)
        except (StaticpipeError, OSError) as error:
            result = BuildResult(None, str(error), time.perf_counter() - start, False)
        except Exception as error:  # a bug: report it in full, keep watching
            traceback.print_exc()
            result = BuildResult(
                None, f"{type(error).__name__}: {error}", time.perf_counter() - start, False
            )
        else:
            result = self._result(summary, time.perf_counter() - start, config_reloaded)
        self.out(describe(result, first))
        if result.error is not None and not first:
            self.out("staticpipe: still watching; the last good build stays in place")
        if self.on_build is not None:
            self.on_build(result)
        return result

    def _result(self, summary: Summary, seconds: float, config_reloaded: bool) -> BuildResult:
        current = set(summary.copied) | set(summary.unmodified)
        previous = self._found
        self._found = current
        names: dict[str, list[str]] = {}
        if previous is not None:
            names = {
                "added": sorted(current - previous),
                "modified": sorted(set(summary.copied) & previous),
                "removed": sorted(previous - current),
            }
        changed = bool(  # (a removal alone changes the manifest: old files are kept)
            summary.copied
            or summary.deleted
            or summary.post_processed
            or config_reloaded
            or names.get("removed")
        )
        return BuildResult(summary, None, seconds, changed, config_reloaded, names)

    def _log(self, message: str) -> None:
        self.out(f"staticpipe: {message}")

    # -- the loop --------------------------------------------------------------------
    def start(self) -> BuildResult:
        """Watch, then build once (events during the build cause a rebuild)."""
        self._observer.start()
        self._reschedule()
        return self.build()

    def describe_watches(self) -> str:
        count = self.plan.location_count
        text = f"{count} location{'' if count == 1 else 's'}"
        if self.plan.config_file:
            text += f" and {os.path.basename(self.plan.config_file)}"
        return text

    def stop(self) -> None:
        """Ask the loop to end (safe from a signal handler or another thread)."""
        self.queue.put(STOP)

    def close(self) -> None:
        self._observer.stop()
        try:
            self._observer.join(timeout=5)
        except RuntimeError:  # never started
            pass

    def next_batch(self) -> list[Change] | None:
        """The next burst of changes, or None when asked to stop."""
        item = wait_for_item(self.queue)
        if item is STOP:
            return None
        batch = [item]
        deadline = time.monotonic() + self.max_delay
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return batch
            try:
                item = self.queue.get(timeout=min(self.debounce, remaining))
            except queue.Empty:
                return batch
            if item is STOP:
                return None
            batch.append(item)

    def run(self) -> None:
        """Rebuild on every burst of changes until :meth:`stop`."""
        while (batch := self.next_batch()) is not None:
            self.handle(batch)

    def handle(self, batch: list[Change]) -> BuildResult | None:
        """Rebuild for one burst; reload the config first if it changed."""
        kinds = {change.kind for change in batch}
        reloaded = False
        if CONFIG in kinds:
            reloaded = self._reload_config()
            if not reloaded and kinds == {CONFIG}:
                return None  # the file changed, the configuration did not
        result = self.build(config_reloaded=reloaded)
        if not reloaded and (LAYOUT in kinds or any(change.layout for change in batch)):
            self._replan()
        return result

    def _replan(self) -> None:
        """Recompute roots (a location appeared, a symlinked directory came or went)."""
        try:
            self.plan = Plan(self.config)
        except StaticpipeError:
            return
        if self._reschedule():
            # Files written into a new root before its watch existed are seen
            # only by a scan: build once more.
            self.queue.put(Change(LAYOUT, "rescan"))

    def _reload_config(self) -> bool:
        try:
            config = self.config_factory()
            if config == self.config:
                return False
            plan = Plan(config)
        except StaticpipeError as error:
            self.out(f"staticpipe: config error (keeping the previous configuration): {error}")
            return False
        self.plan = plan
        self._reschedule()
        if self.on_config is not None:
            self.on_config(config)
        return True


def wait_for_item(items: queue.SimpleQueue, poll: float = 0.2) -> object:
    """``items.get()``, waking up regularly so that signal handlers can run.

    A signal delivered to another thread does not interrupt the main thread's
    blocking wait, and Python runs handlers only in the main thread, between
    bytecodes: an unbounded ``get()`` could sleep through Ctrl-C for good.
    """
    while True:
        try:
            return items.get(timeout=poll)
        except queue.Empty:
            continue


@contextmanager
def stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """Turn SIGINT/SIGTERM into ``stop()``; a second signal raises KeyboardInterrupt.

    Only in the main thread (elsewhere Python cannot install handlers).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        received.append(signum)
        if len(received) > 1:
            raise KeyboardInterrupt
        stop()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def main(config_factory: Callable[[], Config]):
    """The ``doit watch`` action: returns None (exit 0) when stopped by a signal."""
    from .reporter import StaticpipeFailed

    try:
        watcher = Watcher(config_factory)
    except StaticpipeError as error:
        return StaticpipeFailed(str(error))  # reported once, as one line
    try:
        with stop_on_signals(watcher.stop):
            watcher.start()
            watcher.out(
                f"staticpipe: watching {watcher.describe_watches()} for changes (Ctrl-C to stop)"
            )
            watcher.run()
    except KeyboardInterrupt:
        pass
    finally:
        watcher.close()
    watcher.out("staticpipe: stopped watching.")
    return None
