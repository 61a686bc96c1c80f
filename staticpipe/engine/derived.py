"""Phases that derive something from each collected file, one row per name.

Precompression (``phases/compress.py``) and subresource integrity
(``phases/integrity.py``) are such phases. A collected name's files in
static_root (its copy, its hashed file) go in; a row comes out: the
*fingerprint* it was made from (the copy's md5 and the hashed name), the
*outputs* the phase wrote beside them, and a *value* (an integrity hash). A
phase module gives its settings and a ``build``; this module decides, once for
every such phase, what to redo:

- nothing, when its rows were made (``made_from``) from the very copy and
  post-processing state the ledger holds now, with these settings, and no
  output went missing from a directory that moved (outputs.py);
- the names this run copied, hashed anew or dropped, when its rows were made
  from the state this run started from (an edit costs what it changed);
- otherwise every name whose fingerprint is not its row's (settings changed, a
  first run, a run that stopped before the phase committed).

Rows and the phase's header (settings, ``made_from``) are committed together in
the ledger (store.py), after the outputs are written: a run killed part-way
leaves rows that match the outputs they name. An output a row no longer names
is retired with the file it was made from (cleanup.retire: kept like Django's
old hashed files, pruned by policy), never deleted while a manifest may name it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..config import Config
from ..ledger import crash, store
from ..phases import cleanup
from .phase import Phase
from .run import Run


@dataclass(frozen=True)
class Item:
    """A collected name, as a derived phase sees it: ``files`` in static_root (its
    copy, then its hashed file when the build hashes and the name differs) and
    the ``fingerprint`` a row made from them carries."""

    name: str
    files: tuple[str, ...]
    fingerprint: str


class Row(NamedTuple):
    fingerprint: str
    outputs: tuple[str, ...]  # written beside the files, relative to static_root
    value: Any = None  # the phase's own (marshallable)


@dataclass(frozen=True)
class Derived:
    """A derived phase: ``settings`` (of the configuration; None: off; another
    value redoes every row), ``build`` (the items to redo -> their rows; may write
    outputs), and ``finish`` (after the rows changed: e.g. write one file of every
    row's value; gets the table and whether any row changed). ``describe`` words a
    change of settings for ``--explain`` (explain.py): old, new -> text."""

    name: str
    doc: str
    settings: Callable[[Config], str | None]
    build: Callable[[Run, list[Item]], dict[str, Row]]
    finish: Callable[[Run, store.Table, bool], None] | None = None
    files: tuple[str, ...] = ()  # what it writes in static_root besides rows' outputs
    # also when the build does not hash (storage "plain"): the copies alone
    plain_too: bool = True
    describe: Callable[[str, str], str] | None = None
    # the names it may write something for (--explain leaves the others out)
    concerns: Callable[[str], bool] = lambda name: True
    # what a killed run may have written that no row names, among the files it
    # is given (name -> the outputs it could make for them): removed when the
    # phase is switched off, with what the rows name
    may_write: Callable[[str], tuple[str, ...]] | None = None


DECLARED: dict[str, Derived] = {}  # by name: what ``--explain`` asks (explain.py)


def phase(derived: Derived) -> Phase:
    """The phase list's entry for a derived phase."""
    DECLARED[derived.name] = derived
    return Phase(
        derived.name,
        derived.doc,
        lambda run: check(run, derived),
        lambda run: act(run, derived),
        lambda run: _applies(run, derived),
        lambda config: written(config, derived),
    )


def rows_of(ledger: store.Database, derived: Derived, header: dict[str, Any]) -> store.Table:
    """The phase's rows (``Row``s) in the ledger, if its header's token holds."""
    return ledger.table(derived.name, header.get("token"), derived.name, row=Row)


def written(config: Config, derived: Derived) -> list[str]:
    """What the phase's rows say it wrote in static_root, and its own files."""
    ledger = store.Database(config.state_path, repair=False)
    header = ledger.header(derived.name)
    if header.get("settings") is None:
        return []
    rows = rows_of(ledger, derived, header)
    return [*(output for row in rows.values() for output in row.outputs), *derived.files]


def written_by_all(config: Config) -> set[str]:
    """What every derived phase's rows say it wrote in static_root (``--clear``)."""
    return {name for derived in DECLARED.values() for name in written(config, derived)}


def _applies(run: Run, derived: Derived) -> bool:
    """Configured, or configured before (its outputs must go now)."""
    if run.options.dry_run or not run.options.post_process:
        return False
    if derived.settings(run.config) is not None and (run.post_processing or derived.plain_too):
        return True
    return _header(run, derived).get("settings") is not None or _marked(run, derived)


def _header(run: Run, derived: Derived) -> dict[str, Any]:
    return run.ledger().header(derived.name)


def _writing(derived: Derived) -> str:
    """The entry that says the phase's first build (no settings committed yet)
    may have written outputs: a run killed then leaves files no row names,
    which switching the phase off must still remove (``may_write``)."""
    return f"{derived.name}.writing"


def _marked(run: Run, derived: Derived) -> bool:
    return derived.may_write is not None and run.ledger().entry(_writing(derived))[1] is not None


def check(run: Run, derived: Derived) -> bool:
    """Up to date: the rows were made with these settings from the ledger's copy
    and post-processing state as they are now, and their outputs are in place."""
    run.hold_lock()
    if run.fresh or run.options.clear:
        return False
    header = _header(run, derived)
    if header.get("settings") != _wanted(run, derived):
        return False
    if header.get("settings") is None:
        return not _marked(run, derived)  # off, and nothing of it left
    if header.get("made_from") != run.upstream(now=True):
        return False
    suspect = run.suspect
    if suspect == set():
        return True
    rows = rows_of(run.ledger(), derived, header)
    names = run.found if suspect is None else _in_dirs(run.found, suspect)
    return all(_outputs_present(run, rows.get(name)) for name in names)


def _wanted(run: Run, derived: Derived) -> str | None:
    return wanted(run.config, run.post_processing, derived)


def wanted(config: Config, post_processing: bool, derived: Derived) -> str | None:
    """The settings a run builds with (None: the phase is off); ``post_processing``:
    the run hashes (storage "manifest", no ``--no-post-process``)."""
    if not post_processing and not derived.plain_too:
        return None
    return derived.settings(config)


def _in_dirs(names: Iterable[str], dirs: set[str]) -> list[str]:
    return [name for name in names if name.rpartition("/")[0] in dirs]


def _outputs_present(run: Run, row: Row | None) -> bool:
    if row is None:
        return False
    return missing_output(run.static_base(), row) is None


# -- the decision, pure: the engine acts on it, ``--explain`` (explain.py) tells it ----

OFF = "off"  # switched off: what it wrote goes
EVERY = "every"  # other settings (or switched on, --clear, a fresh run): every row again
CHANGED_ONLY = "changed"  # rows made from the state this run starts from: its changes
FINGERPRINTS = "fingerprints"  # otherwise: every name whose fingerprint is not its row's

# why a name is redone
RENEWED = "every row again"
NEW = "no row"
FINGERPRINT = "fingerprint differs"
MISSING = "output missing"


def scope(
    header: dict[str, Any],
    wanted: str | None,
    has_rows: bool,
    upstream: tuple[str | None, str | None],
    renew: bool,
) -> str:
    """Which names the phase looks at (see the module's docstring): ``header`` its
    ledger entry, ``wanted`` the settings this run builds with (None: off),
    ``has_rows`` whether its rows are valid, ``upstream`` the copy and
    post-processing tokens the run starts from, ``renew``: ``--clear`` or a fresh run."""
    if wanted is None:
        return OFF
    if header.get("settings") != wanted or renew:
        return EVERY
    made_from = header.get("made_from")
    if has_rows and made_from is not None and tuple(made_from) == tuple(upstream):
        return CHANGED_ONLY
    return FINGERPRINTS


class Plan(NamedTuple):
    todo: dict[str, str]  # name -> why it is built again (RENEWED ...), in order
    gone: list[str]  # names whose rows go (their outputs are retired)


def plan(
    names: Iterable[str],
    found: Container[str],
    rows: Mapping[str, Row],
    same: bool,
    fingerprint: Callable[[str], str],
    missing: Callable[[Row], str | None],
) -> Plan:
    """Of ``names`` (the names looked at), those to build again and why, and those
    whose rows go: ``same`` (the settings the rows were made with; False: every
    name again), ``fingerprint`` (a found name's, as the build will have it) and
    ``missing`` (a row's first output not in static_root, or None)."""
    todo: dict[str, str] = {}
    gone: list[str] = []
    for name in names:
        if name not in found:
            if name in rows:
                gone.append(name)
            continue
        row = rows.get(name)
        if not same:
            todo[name] = RENEWED
        elif row is None:
            todo[name] = NEW
        elif row.fingerprint != fingerprint(name):
            todo[name] = FINGERPRINT
        elif missing(row) is not None:
            todo[name] = MISSING
    return Plan(todo, gone)


def missing_output(base: str, row: Row) -> str | None:
    """The first of the row's outputs not in static_root (``base``: its prefix)."""
    for output in row.outputs:
        if not os.path.exists(base + output):
            return output
    return None


def act(run: Run, derived: Derived) -> None:
    """Redo what changed (see the module's docstring), then commit."""
    run.hold_lock()
    ledger = run.ledger()
    settings = _wanted(run, derived)
    header = _header(run, derived)
    if settings is None:
        _switch_off(run, derived, header)
        return
    renew = run.fresh or run.options.clear
    # (other settings: every row is made again, but the old ones say what to replace)
    rows = rows_of(ledger, derived, header)
    how = scope(header, settings, rows.token is not None, run.upstream(now=False), renew)
    names = _looked_at(run, rows, how)
    items: dict[str, Item] = {}

    def item_of(name: str) -> Item:
        if name not in items:
            items[name] = Item(name, *run.files_of(name))
        return items[name]

    base = run.static_base()
    decided = plan(
        names, run.found, rows, how != EVERY,
        lambda name: item_of(name).fingerprint,
        lambda row: missing_output(base, row),
    )  # fmt: skip
    todo = [item_of(name) for name in decided.todo]
    gone = decided.gone
    same = how != EVERY
    incremental = how == CHANGED_ONLY
    first = todo and header.get("settings") is None and derived.may_write is not None
    if first:  # (before any is written: see _writing)
        ledger.put(_writing(derived), b"1")
    built = derived.build(run, todo) if todo else {}
    retired = _replace_rows(run, rows, built, {item.name: item.files for item in todo})
    for name in gone:
        retired.extend(rows[name].outputs)
        del rows[name]
    if retired:
        cleanup.retire(run.config, retired)
    if derived.finish is not None:
        derived.finish(run, rows, bool(built or gone) or not incremental)
    made_from = run.upstream(now=True)
    if rows.changed or header.get("made_from") != made_from or not same:
        ledger.commit(derived.name, [rows], {"settings": settings, "made_from": made_from})
    if first:
        ledger.drop(_writing(derived))


def _looked_at(run: Run, rows: store.Table, how: str) -> list[str]:
    """The names to decide on: this run's changes and what is in suspect
    directories (``CHANGED_ONLY``), else every found name and every row's."""
    if how != CHANGED_ONLY:
        return [*run.found, *(name for name in rows if name not in run.found)]
    names = set(run.changed_names())
    suspect = run.suspect
    names.update(run.found if suspect is None else _in_dirs(run.found, suspect))
    return [name for name in run.found if name in names] + sorted(
        name for name in names if name not in run.found
    )


def _replace_rows(
    run: Run, rows: store.Table, built: dict[str, Row], files: dict[str, tuple[str, ...]]
) -> list[str]:
    """The built rows in place of the old ones. An old output the new row does not
    name is deleted if it was of a file still built (an encoding dropped: stale,
    never served), and returned if it was of a file no longer (retired)."""
    retired: list[str] = []
    stale: list[str] = []
    for name, row in built.items():
        old = rows.get(name)
        if old is not None:
            for output in old.outputs:
                if output not in row.outputs:
                    of_current = output.rpartition(".")[0] in files[name]
                    (stale if of_current else retired).append(output)
        rows[name] = row
    _delete(run, stale)
    return retired


def _switch_off(run: Run, derived: Derived, header: dict[str, Any]) -> None:
    """The phase was on and is off now: what it wrote goes (no manifest names it),
    then its rows; a run killed in between deletes the rest next time."""
    ledger = run.ledger()
    rows = rows_of(ledger, derived, header)
    written = [output for row in rows.values() for output in row.outputs]
    if derived.may_write is not None:
        base = run.static_base()
        for name in run.found:
            for file in run.files_of(name)[0]:
                written += [out for out in derived.may_write(file) if os.path.lexists(base + out)]
    _delete(run, [*written, *derived.files])
    rows.replace({})
    ledger.commit(derived.name, [rows], {"settings": None, "made_from": None})
    ledger.drop(_writing(derived))


def _delete(run: Run, names: list[str]) -> None:
    """Delete outputs no manifest names (never a collected file)."""
    base = run.static_base()
    deleted = 0
    for name in names:
        if name not in run.found:
            try:
                os.unlink(base + name)
            except FileNotFoundError:
                continue
            run.summary.deleted.append(name)
            deleted += 1
    if deleted:
        crash.point("delete:derived")
