"""The last complete run's stamp: the ledger entries it left, by token.

Every save of a ledger entry (state.py) gives it a new token. The stamp, saved
when a run has finished every phase, records the token of each entry that run
left, and the settings it ran with. While every one of those entries is still
the very one the stamp names, the phases' per-file state still agrees
with the listing, the copies and the hashed names exactly as it did when that
run finished: an up-to-date check can say so without loading and walking tens
of thousands of records. Anything else (an entry saved again or gone, other
settings, a racily recorded source) means "don't know": the phase does its
full check. Sources are not the stamp's concern: the copy phase's signature check
(signatures.py) sees them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import Config
from . import state


def _file(config: Config) -> Path:
    return config.state_path / "complete.state"


def save(
    config: Config, paths: Sequence[Path], settings: dict[str, Any], racy: dict[str, Any]
) -> None:
    """Stamp the state files ``paths`` as a complete run with ``settings`` left them;
    ``racy``: the records that run could not trust by stat alone (collect.py)."""
    files = {str(path): state.token(path) for path in paths}
    if None in files.values():
        forget(config)
        return
    try:
        state.save(_file(config), {"files": files, "settings": settings, "racy": racy})
    except OSError:
        pass  # a read-only state directory: every check is a full one


def holding(
    config: Config, paths: Sequence[Path], settings: dict[str, Any]
) -> dict[str, Any] | None:
    """If every file of ``paths`` is the very file the last complete run left, and
    that run had these ``settings``: its racy records (often none). Else None."""
    saved = state.load(_file(config))
    files = saved.get("files")
    if not files or saved.get("settings") != settings:
        return None
    for path in paths:
        key = str(path)
        if key not in files or state.token(path) != files[key]:
            return None
    return saved.get("racy", {})


def forget(config: Config) -> None:
    state.discard(_file(config))
