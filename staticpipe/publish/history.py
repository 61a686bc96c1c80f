"""Which builds the remote holds, and which of their files a retention policy
lets go.

Each publish that changes the set of names (or the Cache-Control policy)
leaves a record below the prefix,
``.staticpipe/builds/<UTC time>-<digest>-<policy>.json``, listing every name of
its build; the record's name sorts by time, its digest says whether the build
is the same and its policy part which Cache-Control values its files were
stored with (a listing tells all three: no record is read to know them).
Only files some record lists are ever deleted (nothing uploaded
by other means), never one of the last ``keep_builds`` builds' files (the
current build's first of all) and never one younger than ``keep_age``; a
record goes once none of its files is kept for its age alone.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ..config import Retention

FOLDER = ".staticpipe/builds/"
_NAME = re.compile(re.escape(FOLDER) + r"(\d{8}T\d{12}Z)-([0-9a-f]{16})(?:-([0-9a-f]{16}))?\.json")


@dataclass(frozen=True)
class Policy:
    """Digests of the Cache-Control values the build's files were stored with."""

    plain: str  # names without a hash
    hashed: str  # hashed names

    @classmethod
    def of(cls, cache_control: str, hashed_cache_control: str) -> Policy:
        return cls(_digest8(cache_control), _digest8(hashed_cache_control))

    @property
    def text(self) -> str:
        return self.plain + self.hashed


def _digest8(value: str) -> str:
    return hashlib.md5(value.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class Record:
    name: str  # below the prefix
    digest: str  # of the build's sorted names
    policy: Policy | None = None  # None: a record from before policies were kept


@dataclass(frozen=True)
class Pruning:
    files: list[str]  # names to delete, before ...
    records: list[str]  # ... the records that listed them


def digest(names: Iterable[str]) -> str:
    return hashlib.md5("\n".join(sorted(names)).encode()).hexdigest()[:16]


def record_name(build_digest: str, policy: Policy, now: float) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now % 1 * 1e6):06d}Z"
    return f"{FOLDER}{stamp}-{build_digest}-{policy.text}.json"


def record_body(names: Iterable[str]) -> bytes:
    return json.dumps({"version": 1, "files": sorted(names)}, indent=0).encode()


def files_of(body: bytes) -> list[str] | None:
    """The names a record lists; None if it is not one (never trusted then)."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    files = data.get("files") if isinstance(data, dict) and data.get("version") == 1 else None
    if not isinstance(files, list) or not all(isinstance(name, str) for name in files):
        return None
    return files


def records(names: Iterable[str]) -> list[Record]:
    """The build records among the remote's names, newest first."""
    found = [
        Record(name, match[2], Policy(match[3][:8], match[3][8:]) if match[3] else None)
        for name in names
        if (match := _NAME.fullmatch(name))
    ]
    return sorted(found, key=lambda record: record.name, reverse=True)


def prune(
    older: list[Record],
    kept: Iterable[str],
    files: Callable[[Record], list[str] | None],
    modified: Mapping[str, float],
    retention: Retention,
    now: float,
) -> Pruning:
    """What goes: the files of the ``older`` records (beyond the last builds)
    that no kept build names (``kept``) and that are older than the policy's age
    (``modified``: the remote's names and their upload times), then each of
    those records none of whose files stays for its age."""
    keep = set(kept)
    deleted: list[str] = []
    gone: list[str] = []
    cutoff = now - retention.age
    for record in older:
        listed = files(record)
        if listed is None:
            continue  # not a record we can read: its files stay
        young = False
        for name in listed:
            if name in keep or name not in modified:
                continue
            if modified[name] > cutoff:
                young = True
                keep.add(name)
            else:
                keep.add(name)  # once is enough: an older record may list it too
                deleted.append(name)
        if not young:
            gone.append(record.name)
    return Pruning(deleted, gone)
