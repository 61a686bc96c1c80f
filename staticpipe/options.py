"""Per-run options (collectstatic's command-line flags) and the run summary."""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


def default_workers() -> int:
    """One copy thread per usable core, at most 4: more threads only contend for the
    GIL and for directory locks in the kernel (measured: 4 threads on 2 cores are
    slower than 2, and each adds a malloc arena to peak RSS)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


@dataclass(frozen=True)
class RunOptions:
    clear: bool = False
    dry_run: bool = False
    link: bool = False
    post_process: bool = True
    verbosity: int = 1  # Django's -v: 0 errors only, 1 the summary, 2 a line per file
    workers: int = field(default_factory=default_workers)
    prune: bool = False  # after the build: delete old versions the retention policy lets go
    # a command that only reports (``doit info``, ``doit list --status``): the
    # checks read the state without the run lock and write nothing
    informational: bool = False

    @property
    def writes(self) -> bool:
        """Whether this run may write state (not a dry run, not informational)."""
        return not (self.dry_run or self.informational)


class Except(Collection[str]):
    """``names`` but ``excluded`` (a subset of them), without a copy of every
    name: a run that copies a few files of many reports the others as unmodified."""

    def __init__(self, names: Collection[str], excluded: Collection[str]):
        self.names, self.excluded = names, frozenset(excluded)

    def __len__(self) -> int:
        return len(self.names) - len(self.excluded)

    def __iter__(self) -> Iterator[str]:
        excluded = self.excluded
        return (name for name in self.names if name not in excluded)

    def __contains__(self, name: object) -> bool:
        return name in self.names and name not in self.excluded


@dataclass
class Summary:
    """What a run did; ``line()`` is Django's collectstatic summary."""

    root: str
    copied: list[str] = field(default_factory=list)
    unmodified: Collection[str] = field(default_factory=list)
    post_processed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    compressed: list[str] = field(default_factory=list)  # files precompressed anew
    encodings: dict[str, tuple[str, ...]] = field(default_factory=dict)  # theirs (gzip, br)
    written: list[str] = field(default_factory=list)  # the derived phases' own files
    pruned: list[str] = field(default_factory=list)  # old versions deleted (--prune)
    link: bool = False

    def line(self) -> str:
        count = len(self.copied)
        text = (
            f"{count} static file{'' if count == 1 else 's'} "
            f"{'symlinked' if self.link else 'copied'} to '{self.root}'"
        )
        if self.unmodified:
            text += f", {len(self.unmodified)} unmodified"
        if self.post_processed:
            text += f", {len(self.post_processed)} post-processed"
        return text + "."


def pruned_line(count: int, root: object, dry_run: bool = False) -> str:
    """What ``--prune`` and ``doit prune`` say they deleted (or would, ``dry_run``)."""
    verb = "would be pruned" if dry_run else "pruned"
    return f"{count} old file{'' if count == 1 else 's'} {verb} from '{root}'."


def file_lines(
    found: Mapping[str, Any],
    where: Sequence[Any],
    summary: Summary,
    hashed: Mapping[str, str],
    link: bool = False,
) -> Iterator[str]:
    """Django's ``-v 2`` lines: each file copied, linked or skipped in the order
    found (``found``: name -> finders.Found; ``where``: the finder locations),
    then each post-processed one as its hashed name, each file precompressed (with
    its encodings) and each file a derived phase wrote (staticfiles.integrity.json)."""
    verb = "Linking" if link else "Copying"
    copied = set(summary.copied)
    for name, item in found.items():
        if name in copied:
            yield f"{verb} '{item.source}'"
        else:
            strip = len(where[item.location].prefix)
            yield f"Skipping '{name[strip + 1 if strip else 0 :]}' (not modified)"
    for name in summary.post_processed:
        yield f"Post-processed '{name}' as '{hashed.get(name, name)}'"
    for name in sorted(summary.compressed):  # (written by threads, in any order)
        yield f"Compressed '{name}' ({', '.join(summary.encodings.get(name, ()))})"
    for name in summary.written:
        yield f"Wrote '{name}'"
