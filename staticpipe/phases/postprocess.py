"""The post-processing phase: every file hashed, CSS/JS rewritten, dependencies first.

The work is ``rewriting.py`` (imported when this phase acts: a no-op run never
needs the rewriting machinery). This module decides: nothing to do when the
post-processing entry was made from the very copy state in the ledger, with
these settings, for these names, and every hashed file is in place; otherwise
redo what changed since the copy state this run loaded (``rewriting.Since``:
the edited files and, transitively, those that reference them).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..engine.phase import Phase, hashing
from ..ledger import lock, state, store
from ..rewrite import rules

if TYPE_CHECKING:
    from ..engine.run import Run


def check(run: Run) -> bool:
    try:
        return _check(run)
    except store.StoreDamaged:
        return False


def _check(run: Run) -> bool:
    run.hold_lock()
    if run.summary.copied or run.fresh:
        return False  # this run copied something: post-processing must look at it
    if run.stamp() is not None:
        return True
    saved = run.saved_post()
    files = saved.get("files", {})
    if saved.get("collect") != state.token(run.collect_file) or saved.get("pending"):
        return False  # made from other records, or a run stopped part-way
    records = run.records if run.records is not None else run.saved_records()
    if saved.get("token") != rules.settings_token(run.config) or set(files) != set(run.found):
        return False
    root = str(run.config.static_root)
    suspect = run.suspect
    for name, fields in files.items():
        entry = rules.expand(name, fields)
        record = records.get(name)
        if record is None or entry.md5 != record.md5:
            return False
        if entry.refs is None and not entry.raw and name.endswith((".css", ".js")):
            return False
        if suspect is not None and name.rpartition("/")[0] not in suspect:
            continue
        if not os.path.exists(os.path.join(root, entry.hashed)):
            return False
    return True


def act(run: Run) -> None:
    from . import rewriting

    run.acted = True
    lock.hold(run.config)
    records = run.current_records()
    # the records: the collect state this run loaded, with what it copied
    since = rewriting.Since(
        None if run.options.clear else run.collect_loaded,
        run.summary.copied,
        state.token(run.collect_file),
        run.removed,
    )
    fresh = run.options.clear or run.fresh  # every file, from no state
    suspect = None if fresh else run.suspect

    def rewrite_all(saved: dict | None, since: rewriting.Since | None):
        return rewriting.post_process(
            list(run.found), records, run.config, run.log,
            run.options.workers, suspect, saved, since, run.options.verbosity,
        )  # fmt: skip

    try:
        if run.fresh:
            result = rewrite_all(rules.no_post(run.config), None)
        else:
            saved = None if fresh else run.saved_post()
            run.post_start = saved["files"].token if saved is not None else None
            result = rewrite_all(saved, since)
    except store.StoreDamaged as error:
        if records.broken:  # the records are gone too: only a new run has them
            raise store.StoreDamaged(f"{error}; run again") from None
        run.warn(str(error))
        run.drop_saved_post()  # removed: all again, from no state
        run.post_start = None
        result = rewrite_all(run.saved_post(), None)
    run.hashed = result.hashed
    run.post_changes = result.changed
    run.drop_saved_post()  # superseded: free it
    run.racy_records()
    run.records = None  # what is left (the manifest) needs none: free it
    run.summary.post_processed = result.processed
    run.summary.warnings = result.warnings
    run.post_ran = True


PHASE = Phase(
    "postprocess", "Hash files and rewrite CSS/JS references, dependencies first.",
    check, act, hashing,
)  # fmt: skip
