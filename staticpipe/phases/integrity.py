"""Subresource integrity as a phase: each hashed file's SRI value, in
``staticfiles.integrity.json`` beside ``staticfiles.json`` (integrity.py).

Config key ``integrity = "sha384"`` (or sha256, sha512). A row holds the final
file's name (the hashed one when the build hashes) and its value; the file is
written from the rows before the manifest, whenever a row changed. It names
this build's files and those of the manifest in place when it is written (the
build being replaced), so a reader of either manifest finds its values, also
after a run killed between this file and the manifest; a clean build's file
names its own alone. Older versions kept in static_root need no value here (a
page cached before the deploy carries its ``integrity`` attribute with it):
kept, their values would pile up and outlive the files the retention policy
prunes.
"""

from __future__ import annotations

from .. import integrity
from ..config import Config
from ..engine.derived import Derived, Item, Row, phase
from ..engine.run import Run
from ..ledger.store import Table
from . import cleanup


def _settings(config: Config) -> str | None:
    return config.integrity


def _build(run: Run, items: list[Item]) -> dict[str, Row]:
    algorithm = run.config.integrity
    base = run.static_base()
    rows = {}
    for item in items:
        final = item.files[-1]  # the hashed file when there is one
        rows[item.name] = Row(item.fingerprint, (), (final, integrity.sri(base + final, algorithm)))
    return rows


def _finish(run: Run, rows: Table, changed: bool) -> None:
    config = run.config
    path = integrity.integrity_path(config.static_root)
    if not changed and path.exists():
        return
    values = {final: value for _fingerprint, _outputs, (final, value) in rows.values()}
    try:
        saved = integrity.load(path)
    except (OSError, ValueError):
        saved = None
    # (values of another algorithm are of no use: that manifest's files go without)
    if saved is not None and saved.algorithm == config.integrity:
        for name in cleanup.named_by_manifest(config, False, True):  # the build in place
            if name not in values and name in saved.values:
                values[name] = saved.values[name]
    integrity.write(
        path, values, config.integrity,
        config.file_permissions_mode, config.directory_permissions_mode,
    )  # fmt: skip
    run.summary.written.append(integrity.INTEGRITY_NAME)  # (-v 2: options.file_lines)


PHASE = phase(
    Derived(
        "integrity",
        "Record each file's subresource integrity value (staticfiles.integrity.json).",
        _settings,
        _build,
        _finish,
        files=(integrity.INTEGRITY_NAME,),
        describe=lambda old, new: f"integrity {old!r} -> {new!r}",
    )
)
