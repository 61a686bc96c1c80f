"""Compress a batch of files in static_root: ``name.gz``, ``name.br``, ``name.zst``.

Each unique content is compressed once per encoding, whatever the number of
names it has (an unhashed file and its hashed copy have the same bytes): the
first name's output is copied out of the cache, the other names get a hard link
of it. A content the cache has already (an earlier build, a build before
``--clear``) is not compressed at all. The work runs on a few threads: zlib,
brotli and zstd release the GIL while they compress, so two threads use two
cores. ``items`` is consumed as it comes, with a bounded number of contents in
flight: memory does not grow with the contents' sizes, only by a small record
per unique content.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Container, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from ..fs import fsutil
from ..options import default_workers
from .cache import CompressCache, Hit
from .rules import compressible
from .settings import Coding, CompressSettings
from .stream import compress_into

IN_FLIGHT_PER_WORKER = 4  # contents queued per thread: enough to keep each busy
# Jobs remembered after they are done, for names of their content still to come
# (an unhashed name and its hashed copy usually come close together): memory stays
# flat in the tree's size. A name that comes later still gets its output, from
# the cache (copied, not linked).
JOB_WINDOW = 4096


@dataclass
class EncodingStats:
    """One encoding's share of a batch. Contents are counted once each (unique
    md5s); files and bytes per output written, as WhiteNoise's totals are."""

    compressed: int = 0  # contents compressed by this batch
    from_cache: int = 0  # contents whose result the cache had (compressed or not worth it)
    not_worth_it: int = 0  # contents left without this encoding by the 95% rule
    files: int = 0  # outputs written
    bytes_in: int = 0  # the original bytes of the files given an output
    bytes_out: int = 0  # the bytes of those outputs


@dataclass
class CompressResult:
    """What a batch did. Names are relative to root, POSIX."""

    written: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name -> its outputs
    removed: list[str] = field(default_factory=list)  # stale outputs of contents now not kept
    protected: list[str] = field(default_factory=list)  # outputs not written: a file has the name
    skipped: int = 0  # names not tried (skip list: images, fonts, archives, compressed files)
    evicted: int = 0  # cache entries evicted to keep the cache in its bound
    stats: dict[str, EncodingStats] = field(default_factory=dict)  # per encoding

    @property
    def compressed(self) -> int:
        """Contents compressed by this batch, all encodings together."""
        return sum(stats.compressed for stats in self.stats.values())

    @property
    def from_cache(self) -> int:
        """Contents taken from the cache, all encodings together."""
        return sum(stats.from_cache for stats in self.stats.values())


def output_names(name: str, settings: CompressSettings) -> tuple[str, ...]:
    """The outputs ``name`` may have under ``settings`` (for the engine's records
    and cleanup), whether or not they are worth writing."""
    if not compressible(name):
        return ()
    return tuple(name + suffix for suffix in settings.suffixes)


def compress_files(
    root: str | os.PathLike[str],
    items: Iterable[tuple[str, str]],
    settings: CompressSettings,
    cache: CompressCache,
    *,
    workers: int | None = None,
    file_mode: int | None = None,
    dir_mode: int | None = None,
    protected: Container[str] = frozenset(),
) -> CompressResult:
    """Write the compressed outputs of ``items``, (name, md5) pairs of files in
    ``root`` (md5: the hex digest of the file's content, as the caller recorded
    it; a file whose content differs is a StaticpipeError, and nothing is cached
    for it). Each output appears whole under its name (written under no name or a
    temp name, then linked or renamed); one not worth keeping is not written,
    and a stale one left by an earlier content is deleted. ``protected``: names
    of collected files, never overwritten by an output (a ``x.css.gz`` shipped
    beside ``x.css``). The cache is trimmed to its bound if this batch added to
    it. Call it for the names whose outputs are missing or out of date: every
    name given is written again (from the cache, at worst)."""
    batch = _Batch(
        fsutil.prefix(os.fspath(root)),
        settings,
        cache,
        (file_mode, dir_mode),
        protected,
    )
    batch.run(items, workers or default_workers())
    if batch.stored:
        batch.result.evicted = cache.trim()
    return batch.finish()


class _Job:
    """One content in one encoding: the names waiting for its output (None once
    every name given so far has it: the job is done)."""

    __slots__ = ("md5", "coding", "source", "pending", "hit", "first", "size")

    def __init__(self, md5: str, coding: Coding, name: str):
        self.md5, self.coding, self.source = md5, coding, name
        self.pending: list[str] | None = [name]
        self.hit: Hit | None = None  # the cache entry, once made or found
        self.first: str | None = None  # the output written first, which the others link
        self.size = 0  # the original's bytes


class _Batch:
    def __init__(
        self,
        base: str,
        settings: CompressSettings,
        cache: CompressCache,
        modes: tuple[int | None, int | None],
        protected: Container[str],
    ):
        self.base, self.settings, self.cache = base, settings, cache
        self.modes, self.protected = modes, protected
        self.result = CompressResult(
            stats={coding.name: EncodingStats() for coding in settings.codings}
        )
        self.written: dict[str, list[str]] = {}
        self.jobs: OrderedDict[tuple[str, str], _Job] = OrderedDict()  # oldest first
        self.stored = 0
        self.lock = threading.Lock()  # guards the jobs' names and the result

    def run(self, items: Iterable[tuple[str, str]], workers: int) -> None:
        """Submit a job per new (content, encoding), at most a few per thread in
        flight; the first failure stops the batch (queued jobs are cancelled)."""
        pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="compress")
        in_flight: set[Future[None]] = set()
        limit = max(1, workers) * IN_FLIGHT_PER_WORKER
        try:
            for name, md5 in items:
                if not compressible(name):
                    self.result.skipped += 1
                    continue
                for coding in self.settings.codings:
                    job = self._join(name, md5, coding)
                    if job is not None:
                        in_flight.add(pool.submit(self._work, job))
                while len(in_flight) >= limit:
                    in_flight = self._settle(in_flight)
            while in_flight:
                in_flight = self._settle(in_flight)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)

    @staticmethod
    def _settle(in_flight: set[Future[None]]) -> set[Future[None]]:
        """Wait for a job to end; the others. A worker's exception is raised here."""
        done, pending = wait(in_flight, return_when=FIRST_COMPLETED)
        for future in done:
            future.result()
        return pending

    def _join(self, name: str, md5: str, coding: Coding) -> _Job | None:
        """Add ``name`` to the job of its content in ``coding``; a new job to
        submit, or None. A name arriving after its content's job finished gets
        its output here, from the job's first output."""
        key = (md5, coding.key)
        with self.lock:
            job = self.jobs.get(key)
            if job is None:
                job = self.jobs[key] = _Job(md5, coding, name)
                self._forget_done()
                return job
            if job.pending is not None:
                job.pending.append(name)
                return None
        self._place(job, name)
        return None

    def _forget_done(self) -> None:
        """Drop the oldest done jobs beyond ``JOB_WINDOW`` (under the lock)."""
        while len(self.jobs) > JOB_WINDOW:
            oldest = next(iter(self.jobs.values()))
            if oldest.pending is not None:
                return  # still running: kept (a new job for it would compress it again)
            self.jobs.popitem(last=False)

    def _work(self, job: _Job) -> None:
        """Find or make the content's cache entry, then give every waiting name
        its output (names may still join while this runs)."""
        path = self.base + job.source
        hit = self.cache.lookup(job.md5, job.coding)
        made = hit is None
        if hit is None:
            hit = self.cache.store(
                job.md5,
                job.coding,
                lambda handle: compress_into(path, job.md5, job.coding, handle, job.source),
            )
        job.hit = hit
        job.size = os.stat(path).st_size
        self._count_content(job.coding, made, hit)
        while True:
            with self.lock:
                assert job.pending is not None
                if not job.pending:
                    job.pending = None  # done: later names are placed by _join
                    return
                name = job.pending.pop()
            self._place(job, name)

    def _count_content(self, coding: Coding, made: bool, hit: Hit) -> None:
        with self.lock:
            stats = self.result.stats[coding.name]
            if made:
                stats.compressed += 1
                self.stored += 1
            else:
                stats.from_cache += 1
            if not hit.worth_it:
                stats.not_worth_it += 1

    def _place(self, job: _Job, name: str) -> None:
        """``name``'s output in ``job``'s encoding: a copy of the cache entry for
        the content's first name, a link to that copy for the others; or, for a
        content not worth it, no output (a stale one deleted)."""
        assert job.hit is not None
        output = name + job.coding.suffix
        if output in self.protected:
            with self.lock:
                self.result.protected.append(output)
            return
        dest = self.base + output
        if not job.hit.worth_it:
            if fsutil.remove(dest):
                with self.lock:
                    self.result.removed.append(output)
            return
        if job.first is None:
            fsutil.copy_hashing(job.hit.path, dest, *self.modes)
            job.first = output
        else:
            fsutil.link_or_copy(self.base + job.first, dest, *self.modes)
        with self.lock:
            self.written.setdefault(name, []).append(output)
            stats = self.result.stats[job.coding.name]
            stats.files += 1
            stats.bytes_in += job.size
            stats.bytes_out += job.hit.size

    def finish(self) -> CompressResult:
        """The result, each name's outputs in the settings' order."""
        order = {suffix: index for index, suffix in enumerate(self.settings.suffixes)}

        def rank(output: str) -> int:
            return order[output[output.rfind(".") :]]

        self.result.written = {
            name: tuple(sorted(outputs, key=rank)) for name, outputs in self.written.items()
        }
        return self.result
