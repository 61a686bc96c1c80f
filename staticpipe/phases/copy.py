"""The copy phase: every found file copied (or symlinked) into static_root.

The work is ``collect.py`` (a record per file: its source's stat and md5) and
``signatures.py`` (every source's stat packed in one array, so a run where no
source moved reads no record). This module decides: nothing to do when no
source changed and every output is in place; otherwise copy what changed
(``--clear``: everything, and what was in static_root becomes garbage).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..engine import derived
from ..engine.phase import Phase
from ..errors import StaticpipeError
from ..ledger import lock, state, store
from . import cleanup, collect, manifest, signatures

if TYPE_CHECKING:
    from ..engine.run import Run


def check(run: Run) -> bool:
    """Up to date: no source's stat moved since it was copied, and every copy is there."""
    run.hold_lock()
    if run.options.clear or run.fresh:
        return False
    changes = source_changes(run)
    if changes is None or changes:
        return False  # a source changed, or the last copy's signatures are unknown
    racy = run.stamp()
    if racy is not None:
        return collect.racy_unchanged(racy, run.found, run.config, run.options.link)
    try:
        return collect.outputs_current(
            run.found, run.saved_records(), run.config, run.options.link, run.suspect
        )
    except store.StoreDamaged:
        return False  # (the copy phase starts again from no state)


def source_changes(run: Run) -> set[str] | None:
    """Names whose source's stat is not the one it was copied from
    (signatures.py); None: not known (no signatures for this listing, or the
    collect entry saved by another kind of run since): look at every source."""
    if run.sources is None:
        # A dry run saves no listing: the one saved may list other files.
        listing = None if run.options.dry_run else state.token(run.found_file)
        saved = signatures.load(run.config, listing, run.saved_records().token)
        run.sources = signatures.Look(saved, signatures.changed(run.found, saved))
    return run.sources.changed


def act(run: Run) -> None:
    run.acted = True
    config, options = run.config, run.options
    if not options.dry_run:
        lock.hold(config)
    try:
        suspect = None if options.clear or run.fresh else run.suspect
        if options.clear:
            _clear(run)
        if run.fresh:  # every file again, as from no state
            cleanup.keep_known(config)
            records, changes = collect.no_records(config), None
        else:
            records = None if options.clear else run.saved_records()
            changes = None if options.clear else source_changes(run)
        run.collect_start = records.token if records is not None else None
        try:
            result = _collect(run, suspect, records, changes)
        except store.StoreDamaged as error:  # removed: look at every file, from no state
            run.warn(str(error))
            run.collect_loaded = changes = run.collect_start = None
            result = _collect(run, suspect, collect.no_records(config), None)
    except (StaticpipeError, OSError):
        if not options.dry_run:
            signatures.discard(config)  # the next run looks at every source
        raise
    run.records = result.records
    run.removed = result.removed
    if not options.dry_run:  # a dry run records nothing it pretended to copy
        run.copied_md5 = {name: result.records[name].md5 for name in result.copied}
    run.copy_ran = True
    run.drop_saved_records()  # superseded: free it
    run.summary.copied, run.summary.unmodified = result.copied, result.unmodified
    if options.dry_run:
        return
    _save_signatures(run, result, changes)
    if config.storage == "plain":
        _drop_post_processing(run)
        run.collect_garbage(None)
    elif options.clear and not run.post_processing:
        run.collect_garbage(None, manifest=False)  # what was there goes, manifest too


def _clear(run: Run) -> None:
    """``--clear``: what is in static_root becomes garbage (collect.clear)."""
    config, options = run.config, run.options
    written = derived.written_by_all(config) if not options.dry_run else ()
    run.summary.deleted = collect.clear(config, options, run.log, written)
    if not options.dry_run:
        for name in run.summary.deleted:  # Django's clear_dir, at -v 1
            run.log(f"Deleting '{name}'")


def _save_signatures(run: Run, result: collect.CollectResult, changes: set[str] | None) -> None:
    """The sources' signatures as copied: patched where only ``changes`` (and the
    copies) can have moved, else all made again (signatures.py)."""
    known = changes is not None
    signatures.save(
        run.config, run.found, result.records, state.token(run.found_file),
        run.sources.saved if known and run.sources is not None else None,
        [*result.copied, *changes] if known else None,
        result.records.token,
        getattr(changes, "positions", None),
    )  # fmt: skip


def _collect(
    run: Run, suspect: set[str] | None, records: collect.Records | None, changes: set[str] | None
) -> collect.CollectResult:
    return collect.collect(run.found, run.config, run.options, run.log, suspect, records, changes)


def _drop_post_processing(run: Run) -> None:
    """``storage = "plain"``: what an earlier manifest build wrote becomes garbage."""
    from . import rewriting

    config = run.config
    written = rewriting.load_outputs(config)
    # (and what the manifest in place names: the state may be lost or damaged)
    named = cleanup.named_by_manifest(config, False, True)
    if written or named or manifest.manifest_path(config).exists():
        cleanup.add_garbage(config, [*written, *named, cleanup.MANIFEST_NAME])
        state.discard(run.post_file)


PHASE = Phase("copy", "Copy (or symlink) found files into static_root.", check, act)
