"""``doit publish``, top to bottom: list the destination once, upload what it
lacks or holds different (in parallel), the manifest last, then the build's
record, then what the retention policy lets go. A publish stopped at any point
leaves the remote manifest naming only files that are there; the next one
uploads what is still missing."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .. import progress
from ..config import Config, Publish
from ..errors import ConfigError, StaticpipeError
from ..ledger import lock
from ..phases import undo
from ..rewrite.hashing import hashed_path
from . import build as builds
from . import history
from .build import Build, BuildFile
from .etag import etag, same_content
from .headers import headers
from .s3 import RemoteObject, Store

RECORD_HEADERS = {"ContentType": "application/json", "CacheControl": "no-cache"}


@dataclass
class PublishSummary:
    url: str
    uploaded: list[str] = field(default_factory=list)
    unchanged: int = 0
    reheaded: list[str] = field(default_factory=list)  # unchanged, new Cache-Control
    deleted: list[str] = field(default_factory=list)
    size: int = 0  # bytes uploaded
    seconds: float = 0.0
    dry_run: bool = False

    def line(self) -> str:
        count = len(self.uploaded)
        verb = "would be uploaded" if self.dry_run else "uploaded"
        text = (
            f"{count} file{'' if count == 1 else 's'} {verb} to '{self.url}' ({_size(self.size)})"
        )
        text += f", {self.unchanged} unchanged"
        if self.reheaded:
            text += f" ({len(self.reheaded)} with a new Cache-Control)"
        if self.deleted:
            text += f", {len(self.deleted)} {'would be ' if self.dry_run else ''}deleted"
        return text + f" in {self.seconds:.2f} s."


def _size(count: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError


def target(config: Config) -> Publish:
    if config.publish is None:
        raise ConfigError(
            f'{config.where}: no publish table: add publish = {{ url = "s3://bucket/prefix/" }} '
            "to [tool.staticpipe]"
        )
    return config.publish


def publish(
    config: Config,
    dry_run: bool = False,
    verbosity: int = 1,
    session: Any = None,
    out: Callable[[str], None] = print,
) -> PublishSummary:
    """Publish the build in static_root to ``config.publish`` (``session``: a
    boto3 Session to use instead of a new one)."""
    destination = target(config)
    started = time.perf_counter()
    summary = PublishSummary(destination.url, dry_run=dry_run)
    with lock.locked(config):
        if not dry_run:  # a stopped run's copies back first: the manifest's build goes up
            undo.recover(config)
        build = builds.current(config)
        store = Store(destination, session)
        remote = store.list()
        with ThreadPoolExecutor(destination.workers) as pool:
            changed = list(pool.map(lambda file: _differs(file, remote), build.everything))
            uploads = [
                file for file, differs in zip(build.everything, changed, strict=True) if differs
            ]
            summary.unchanged = len(changed) - len(uploads)
            names = [file.name for file in build.everything]
            policy = history.Policy.of(destination.cache_control, destination.hashed_cache_control)
            records = history.records(remote)  # newest first
            reheaded = _reheaded(build.everything, uploads, records, policy)
            record = _new_record(names, policy, records)
            pruning = _pruning(config, store, names, record, records, remote)
            say = out if verbosity >= 2 else _silent
            for file in uploads:
                say(f"{'Pretending to upload' if dry_run else 'Uploading'} '{file.name}'")
            for file in reheaded:
                verb = "Pretending to set" if dry_run else "Setting"
                say(f"{verb} Cache-Control of '{file.name}'")
            for name in pruning.files:
                say(f"{'Pretending to delete' if dry_run else 'Deleting'} '{name}'")
            if not dry_run:
                _upload(store, pool, uploads, build, verbosity)
                _set_headers(store, pool, reheaded)
                if record is not None:
                    store.put(record, history.record_body(names), RECORD_HEADERS)
                store.delete(pruning.files)
                store.delete(pruning.records)
    summary.uploaded = [file.name for file in uploads]
    summary.reheaded = [file.name for file in reheaded]
    summary.size = sum(file.size for file in uploads)
    summary.deleted = pruning.files
    summary.seconds = time.perf_counter() - started
    return summary


def _silent(line: str) -> None:
    pass


def _differs(file: BuildFile, remote: dict[str, RemoteObject]) -> bool:
    """Whether ``file`` must go up: the remote has no object of its name and size
    and bytes (only a same-sized one is read and hashed, unless its name says)."""
    there = remote.get(file.name)
    if there is None or there.size != file.size:
        return True
    if _named_by(file, there.etag):
        return False
    try:
        return not same_content(file.path, file.size, etag(file.path, file.size), there.etag)
    except OSError as error:
        raise StaticpipeError(f"{file.path}: cannot read: {error.strerror or error}") from None


def _named_by(file: BuildFile, remote_etag: str) -> bool:
    """A speed trick: a hashed name carries the md5 of its bytes (Django's rule,
    ``hashing.hashed_path``), so a same-sized remote object under that name whose
    single-part ETag (its md5) gives that very name holds those bytes, without
    reading the file. (Names a ``file_hash`` hook made, and anything else, do not
    match and are read.)"""
    if file.original is None or not _MD5.fullmatch(remote_etag):
        return False
    return hashed_path(file.original, remote_etag) == file.name


_MD5 = re.compile(r"[0-9a-f]{32}")


def _upload(
    store: Store, pool: ThreadPoolExecutor, files: list[BuildFile], build: Build, verbosity: int
) -> None:
    """Every file but the manifest (in parallel), then the manifest: readers of
    the remote manifest never see a name that is not there yet."""
    manifest = build.manifest
    first = [file for file in files if file is not manifest]

    def send(file: BuildFile) -> None:
        store.upload(
            file.name,
            file.path,
            file.size,
            headers(file.name, file.hashed, file.encoding, store.publish),
        )

    bar = progress.bar(len(first), "uploading", verbosity)
    work = progress.counting(send, bar) if bar is not None else send
    try:
        futures = [pool.submit(work, file) for file in first]
        for future in futures:
            error = future.exception()
            if error is not None:
                for other in futures:
                    other.cancel()
                raise error
    finally:
        if bar is not None:
            bar.close()
    if manifest is not None and manifest in files:
        send(manifest)


def _reheaded(
    files: list[BuildFile],
    uploads: list[BuildFile],
    records: list[history.Record],
    policy: history.Policy,
) -> list[BuildFile]:
    """The files that stay as they are but were stored with another Cache-Control
    than the policy now gives them (as the newest build record says; a record from
    before policies were kept says nothing)."""
    before = records[0].policy if records else None
    if before is None or before == policy:
        return []
    going = {file.name for file in uploads}
    return [
        file
        for file in files
        if file.name not in going
        and (before.hashed != policy.hashed if file.hashed else before.plain != policy.plain)
    ]


def _set_headers(store: Store, pool: ThreadPoolExecutor, files: list[BuildFile]) -> None:
    """Each file's headers as now configured, by a copy onto itself (no upload)."""

    def set_one(file: BuildFile) -> None:
        store.replace_headers(
            file.name, headers(file.name, file.hashed, file.encoding, store.publish)
        )

    for _ in pool.map(set_one, files):
        pass


def _new_record(
    names: Iterable[str], policy: history.Policy, records: list[history.Record]
) -> str | None:
    """The record this build adds, None if the newest record is of this build
    and its policy."""
    digest = history.digest(names)
    if records and records[0].digest == digest and records[0].policy == policy:
        return None
    return history.record_name(digest, policy, time.time())


def _pruning(
    config: Config,
    store: Store,
    names: list[str],
    record: str | None,
    records: list[history.Record],
    remote: dict[str, RemoteObject],
) -> history.Pruning:
    """What the retention policy deletes after this build (nothing without one)."""
    retention = config.retention
    previous = records if record is not None else records[1:]
    if retention is None or len(previous) < retention.builds:
        return history.Pruning([], [])
    kept, older = previous[: retention.builds - 1], previous[retention.builds - 1 :]
    kept_names = set(names)
    for entry in kept:
        listed = _files(store, entry)
        if listed is None:  # a kept build we cannot read: what it needs is unknown
            return history.Pruning([], [])
        kept_names.update(listed)
    modified = {name: item.modified for name, item in remote.items()}
    return history.prune(
        older, kept_names, lambda entry: _files(store, entry), modified, retention, time.time()
    )


def _files(store: Store, record: history.Record) -> list[str] | None:
    body = store.get(record.name)
    return None if body is None else history.files_of(body)
