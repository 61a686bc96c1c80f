"""The whole pipeline in plain Python: discover -> collect -> post-process -> manifest.

The doit tasks (``tasks.py``) call these same phase functions one task per
phase; the watcher, the benchmark and the tests call ``run``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from . import (
    cleanup,
    collect,
    discovery,
    finders,
    fsutil,
    layout,
    lock,
    manifest,
    outputs,
    postprocess,
    signatures,
    state,
    store,
)
from .config import Config
from .options import RunOptions, Summary


def discover(config: Config) -> dict[str, finders.Found]:
    return discovery.find_all(config)


def post_process_and_manifest(
    found: dict[str, finders.Found],
    records: dict[str, collect.Record],
    config: Config,
    summary: Summary,
    options: RunOptions,
    log: Callable[[str], None],
    suspect: set[str] | None = None,
    since: postprocess.Since | None = None,
) -> None:
    result = postprocess.post_process(
        list(found), records, config, log, options.workers, suspect, since=since,
        verbosity=options.verbosity,
    )  # fmt: skip
    summary.post_processed = result.processed
    summary.warnings = result.warnings
    write_manifest(found, result.hashed, config)
    finish(config, found, result.hashed, summary)


def manifest_bytes(found: dict, hashed: Mapping[str, str], config: Config | None = None) -> bytes:
    """The manifest's bytes; ``config``: for its ``file_hash`` hook, which makes
    the manifest's ``hash`` too (without it, the md5's)."""
    return manifest.render(manifest.ordered_paths(found, hashed), manifest.digest_of(config))


def write_manifest(found: dict, hashed: Mapping[str, str], config: Config) -> None:
    manifest.write(config, manifest_bytes(found, hashed, config))


def finish(
    config: Config,
    found: dict,
    hashed: Mapping[str, str] | None,
    summary: Summary,
    manifest: bool = True,
) -> None:
    """Delete what this run made obsolete, now that the new manifest is in place.
    ``hashed``: name -> hashed name (None: not post-processed). ``manifest``:
    False if this build has no staticfiles.json even with the manifest storage
    (``--clear --no-post-process``, as Django's leaves none)."""
    any_hash = config.file_hash is not None  # a hook's hashed names
    manifest = manifest and config.storage == "manifest"
    live = cleanup.Live(found, hashed, manifest=manifest, any_hash=any_hash)
    summary.deleted = cleanup.collect_garbage(config, live)


def drop_post_processing(config: Config) -> None:
    """``storage = "plain"``: what an earlier manifest build wrote becomes garbage."""
    outputs = postprocess.load_outputs(config)
    # (and what the manifest in place names: the state may be lost or damaged)
    named = cleanup.named_by_manifest(config, False, True)
    if outputs or named or manifest.manifest_path(config).exists():
        cleanup.add_garbage(config, [*outputs, *named, cleanup.MANIFEST_NAME])
        state.discard(postprocess.state_file(config))


def run(
    config: Config, options: RunOptions | None = None, log: Callable[[str], None] = print
) -> Summary:
    """Run every phase once, incrementally; raise StaticpipeError on bad input."""
    options = options or RunOptions()
    layout.check(config, finders.locations(config))
    layout.claim_state_dir(config)
    if options.dry_run:
        return _run(config, options, log)
    with lock.locked(config):
        return _run(config, options, log)


def _run(config: Config, options: RunOptions, log: Callable[[str], None]) -> Summary:
    try:
        return _run_once(config, options, log)
    except store.StoreDamaged as error:  # once more, from no state
        log(f"warning: {error}")
        return _run_once(config, options, log, fresh=True)


def _run_once(
    config: Config, options: RunOptions, log: Callable[[str], None], fresh: bool = False
) -> Summary:
    summary = Summary(root=str(config.static_root), link=options.link)
    found = discover(config)
    suspect = None if options.clear else outputs.suspect(config, found)
    if options.clear:
        summary.deleted = collect.clear(config, options, log)
    if not options.dry_run:
        # collect.state is rewritten here, maybe for another listing or link mode
        # than doit's found.json: its signatures no longer describe it.
        signatures.discard(config)
    # the identity of the collect state these records were read from (None: the
    # rows it names are not the database's, so its records count as none)
    if fresh:
        records, collect_before = collect.no_records(config), None
    else:
        records, collect_before = collect.load_identified(config, repair=not options.dry_run)
    result = collect.collect(found, config, options, log, suspect, records)
    summary.copied, summary.unmodified = result.copied, result.unmodified
    if options.dry_run:
        return summary
    if config.storage == "plain":
        drop_post_processing(config)
        finish(config, found, None, summary)
    elif options.clear and not options.post_process:  # what was there goes, manifest too
        finish(config, found, None, summary, manifest=False)
    elif options.post_process:
        since = postprocess.Since(
            collect_before,
            result.copied,
            fsutil.identity(collect.state_file(config)),
            result.removed,
        )
        post_process_and_manifest(
            found, result.records, config, summary, options, log, suspect, since
        )
    outputs.record(config, found)
    return summary
