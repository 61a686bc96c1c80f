"""The whole pipeline in plain Python: discover -> copy -> post-process -> manifest.

The same engine as the doit tasks (``engine/``): one ``Run`` whose phases run in
order where they have something to do, so a run from here (the watcher, the
server, the Django command, tests) leaves the state the next ``doit collect``
trusts, and the reverse.
"""

from __future__ import annotations

from collections.abc import Callable

from . import layout
from .config import Config
from .engine.phases import execute
from .engine.run import Run, without_gc
from .ledger import lock, state, store
from .options import RunOptions, Summary
from .sources import finders


def run(
    config: Config, options: RunOptions | None = None, log: Callable[[str], None] = print
) -> Summary:
    """Run every phase once, incrementally; raise StaticpipeError on bad input."""
    options = options or RunOptions()
    layout.check(config, finders.locations(config))
    layout.claim_state_dir(config)
    try:
        if options.dry_run:
            return _run(config, options, log)
        with lock.locked(config):
            return _run(config, options, log)
    finally:
        state.close_all()  # (this process may live on: nothing held open between runs)


def _run(config: Config, options: RunOptions, log: Callable[[str], None]) -> Summary:
    try:
        return execute(without_gc(Run)(config, options, log))
    except store.StoreDamaged as error:  # once more, from no state
        log(f"warning: {error}")
        return execute(without_gc(Run)(config, options, log, fresh=True))
