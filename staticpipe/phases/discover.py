"""The discover phase: find the static files (sources/), save the listing.

The listing (``Run.listing``: every name and its source, and the settings later
phases depend on) is this phase's ledger entry. The finders ran when the run
was made (``discovery.find_all_reusing``: the last walk reused while no walked
directory moved); this phase only records what they found, when it differs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..engine.phase import Phase
from ..ledger import lock, state

if TYPE_CHECKING:
    from ..engine.run import Run


def check(run: Run) -> bool:
    """Up to date: the last complete run's stamp holds, or the saved listing is this one."""
    run.hold_lock()
    if run.fresh:
        return False
    if run.stamp() is not None:
        return True
    current = state.load(run.found_file).get("listing") == run.listing()
    if current:
        run.drop_listing()  # the action won't run: free it before copying
    return current


def act(run: Run) -> None:
    run.acted = True
    if run.options.dry_run:
        return
    lock.hold(run.config)  # until this doit run ends
    if not check(run):
        state.save(run.found_file, {"listing": run.listing()})
    run.drop_listing()


PHASE = Phase(
    "discover", "Find static files in dirs and packages (finders, ignore patterns).", check, act
)
