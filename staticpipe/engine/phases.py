"""The phase list, and the one loop that runs it without doit.

``tasks.py`` makes one doit task of each phase (its check as the task's
``uptodate``); ``execute`` runs them in order for every other driver
(``pipeline.run``). Either way a phase acts when its check fails: each check
compares the phase's own ledger entry with what it was made from (tokens,
state.py), so no driver needs to track files between phases.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..config import Config
from ..options import Summary
from ..phases import compress, copy, discover, integrity, manifest, postprocess
from .phase import Phase
from .run import Run, without_gc

PHASES: tuple[Phase, ...] = (
    discover.PHASE,
    copy.PHASE,
    postprocess.PHASE,
    compress.PHASE,
    integrity.PHASE,
    manifest.PHASE,
)


def written(config: Config) -> set[str]:
    """What the phases wrote in static_root besides the copies, the hashed files
    and the manifest, by their ledger rows (``doit clean collect``)."""
    return {name for phase in PHASES if phase.written for name in phase.written(config)}


def phases_of(run: Run) -> Iterator[Phase]:
    """The phases this run has (a dry run stops after the copy phase: it pretends)."""
    for phase in PHASES:
        if phase.applies(run):
            yield phase


@without_gc
def execute(run: Run) -> Summary:
    """Run every phase that has something to do, in order; then finish the run.
    A phase that fails puts back what the run replaced (``Run.abort``)."""
    run.begin()
    for phase in phases_of(run):
        try:
            if not phase.check(run):
                phase.act(run)
        except BaseException:
            run.abort(phase.name)
            raise
    return run.finish()
