"""What a phase is, to the engine and to doit."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config import Config

if TYPE_CHECKING:  # (a phase module is imported by the phase list, not by the run)
    from .run import Run


def always(run: Run) -> bool:
    return True


def hashing(run: Run) -> bool:
    """The build hashes and writes a manifest (and this is no dry run)."""
    return run.post_processing and not run.options.dry_run


@dataclass(frozen=True)
class Phase:
    """A name, a check (up to date: nothing to do; it compares the phase's own
    ledger entry with what it was made from), an action (raises
    ``StaticpipeError``, or ``OSError``, on bad input), and ``applies``: whether
    this run has the phase at all."""

    name: str
    doc: str
    check: Callable[[Run], bool]
    act: Callable[[Run], None]
    applies: Callable[[Run], bool] = always
    # what it wrote in static_root by its ledger rows, beyond the copies, hashed
    # files and manifest (``doit clean collect`` removes them too)
    written: Callable[[Config], Iterable[str]] | None = None
