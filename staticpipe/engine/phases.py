"""The phase list, and the one loop that runs it without doit.

A phase is a name, a check (up to date?), an action, and the files doit knows it
by: its inputs (``file_dep``) and its state file (``target``). ``tasks.py`` makes
one doit task of each; ``execute`` runs them in order for every other driver
(``pipeline.run``), acting where doit would: the check fails, or an input or
state file is not the one the last complete run left (stamp.py), which is what
doit's own file_dep check would see.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..options import Summary
from ..phases import compress, integrity
from .phase import Phase, hashing
from .run import Run, without_gc

PHASES: tuple[Phase, ...] = (
    Phase(
        "discover",
        "Find static files in dirs and packages (finders, ignore patterns).",
        Run.discover_uptodate,
        Run.discover,
        lambda run: [run.config.config_file] if run.config.config_file else [],
        lambda run: [run.found_file],
    ),
    Phase(
        "copy",
        "Copy (or symlink) found files into static_root.",
        Run.copy_uptodate,
        Run.copy,
        # The listing, not every source: copy_uptodate compares every source's stat
        # with the one it was copied from (signatures.py), at a fraction of the cost.
        lambda run: [run.found_file],
        lambda run: [run.collect_file],
    ),
    Phase(
        "postprocess",
        "Hash files and rewrite CSS/JS references, dependencies first.",
        Run.post_uptodate,
        Run.post_process,
        lambda run: [run.collect_file],
        lambda run: [run.post_file],
        hashing,
    ),
    compress.PHASE,
    integrity.PHASE,
    Phase(
        "manifest",
        "Write staticfiles.json (atomically, last) and delete obsolete files.",
        Run.manifest_uptodate,
        Run.write_manifest,
        # found.json too: the manifest's key order is the listing's
        lambda run: [run.found_file, run.post_file],
        lambda run: [run.manifest_file],
        hashing,
    ),
)


def phases_of(run: Run) -> Iterator[Phase]:
    """The phases this run has (a dry run stops after the copy phase: it pretends)."""
    for phase in PHASES:
        if phase.applies(run):
            yield phase


@without_gc
def execute(run: Run) -> Summary:
    """Run every phase that has something to do, in order; then finish the run."""
    for phase in phases_of(run):
        if not run.unmoved([*phase.inputs(run), *phase.state(run)]) or not phase.check(run):
            phase.act(run)
    return run.finish()
