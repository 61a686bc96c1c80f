"""``doit collect --explain``: what the next run would redo, and why, changing nothing.

The questions a build tool's user asks ("why did it rebuild this?"), answered
from the state the last run left: the settings it was made with, each file's
copy record (its source's stat and md5) and each file's post-processing entry
(its md5, its hashed name, what it references). The rules are the pipeline's:

- a file is copied again when it is new, comes from another source, is linked
  where it was copied (or the reverse), its source changed, or its copy is gone;
- every file is post-processed again when the settings its result depends on
  changed (those whose result is the same keep their outputs);
- otherwise a file is post-processed again when its content changed, it is new,
  its last rewrite failed, its hashed file is gone, or it
  references (directly or through others) a file that is post-processed again,
  was removed, or a directory that appeared or went away;
- a removed source's outputs stay, as Django keeps them: they are retired (kept
  as old versions until ``cleanup.prune``); with ``--clear`` they go, with
  every old version kept so far (and, with ``storage = "plain"`` after a
  manifest build, the hashed files and the manifest go);
- a derived phase (compress, integrity: engine/derived.py) redoes what the
  engine's own ``derived.plan`` says, given each file's fingerprint as the run
  will leave it: nothing, every file (its settings changed, it was switched on,
  ``--clear``), or the files whose content or hashed name changes, or whose
  outputs are missing. A file post-processed again for another reason (a
  directory it references changed, its last post-processing did not finish,
  the settings changed) is redone only if its hashed name changes: that is known
  only once it is rewritten, so it is listed apart. Switched off, what it wrote goes.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import Config
from .ledger import state, store
from .options import RunOptions
from .phases import cleanup, collect
from .rewrite import rules
from .rewrite.hashing import md5_file
from .sources import finders


@dataclass(frozen=True)
class Reason:
    name: str  # a file's name in static_root
    why: str


@dataclass
class Explanation:
    everything: str | None = None  # why every file is redone (None: only those below)
    all_post: str | None = None  # why every file is post-processed again (likewise)
    settings: list[str] = field(default_factory=list)  # "static_url: '/a/' -> '/b/'"
    copies: list[Reason] = field(default_factory=list)
    post: list[Reason] = field(default_factory=list)
    removed: list[Reason] = field(default_factory=list)  # deleted by the next run
    retired: list[Reason] = field(default_factory=list)  # kept as old versions
    derived: list[DerivedExplanation] = field(default_factory=list)  # compress, integrity

    @property
    def nothing(self) -> bool:
        said = (self.everything, self.all_post, self.settings, self.copies, self.post)
        if any(said) or self.removed or self.retired:
            return False
        return all(phase.nothing for phase in self.derived)

    def lines(self) -> list[str]:
        if self.nothing:
            return ["Nothing to redo: the build in static_root is up to date."]
        out = []
        if self.everything:
            out.append(f"Every file is redone: {self.everything}.")
        if self.settings:
            out.append("Settings changed:")
            out += [f"  {line}" for line in self.settings]
        if self.all_post and not self.everything:
            out.append(
                f"Every file is post-processed again ({self.all_post}); "
                "those whose result is the same keep their outputs."
            )
        listed = []
        if not self.everything:
            listed.append(("copied", self.copies))
            if not self.all_post:
                listed.append(("post-processed", self.post))
        listed.append(("removed", self.removed))
        listed.append(("retired", self.retired))
        for verb, reasons in listed:
            if reasons:
                count = len(reasons)
                out.append(f"{count} file{'' if count == 1 else 's'} would be {verb}:")
                out += [f"  {reason.name}: {reason.why}" for reason in reasons]
        if self.retired:
            out.append(
                "Retired files stay in static_root as old versions, as Django keeps them, "
                "until `doit collect --prune` lets them go (keep_builds, keep_age)."
            )
        for phase in self.derived:
            out += phase.lines()
        return out


@dataclass
class DerivedExplanation:
    """What a derived phase (engine/derived.py) would redo, and why."""

    phase: str  # compress, integrity
    whole: str | None = None  # "settings changed (...): every file again", "switched off: ..."
    redo: list[Reason] = field(default_factory=list)  # files built again
    maybe: list[Reason] = field(default_factory=list)  # ... if their hashed name changes
    retired: list[Reason] = field(default_factory=list)  # removed files: their outputs
    rewritten: list[str] = field(default_factory=list)  # its own files written again
    rewritten_maybe: list[str] = field(default_factory=list)  # ... if a "maybe" is redone

    @property
    def nothing(self) -> bool:
        said = (self.whole, self.redo, self.maybe, self.retired, self.rewritten)
        return not any(said) and not self.rewritten_maybe

    def lines(self) -> list[str]:
        name = self.phase
        if self.whole:
            return [f"{name}: {self.whole}"]
        if self.nothing:
            return [f"{name}: nothing to do"]
        out = []
        listed = (
            (self.redo, "redone"),
            (self.maybe, "redone if post-processing names them anew"),
            (self.retired, "removed: their outputs retired"),
        )
        for reasons, what in listed:
            if reasons:
                count = len(reasons)
                out.append(f"{name}: {count} file{'' if count == 1 else 's'} {what}:")
                out += [f"  {reason.name}: {reason.why}" for reason in reasons]
        out += [f"{name}: {file} rewritten" for file in self.rewritten]
        out += [f"{name}: {file} rewritten if one of those is" for file in self.rewritten_maybe]
        return out


def explain(config: Config, options: RunOptions) -> Explanation:
    """What the next ``doit collect`` with ``options`` would redo, and why."""
    found = finders.find_all(config)
    records = dict(collect.load_records(config, repair=False).items())
    result = Explanation()
    if not records:
        result.everything = f"no earlier build recorded in {config.state_path}"
    if options.clear:
        result.everything = "--clear writes every file again"
    listing = saved_listing(config)
    result.settings = _settings_changes(listing.get("settings", {}), config, options)
    md5s: dict[str, str] = {}  # the content each found file has now
    for name, item in found.items():
        why = _copy_reason(records.get(name), item.source, options.link, config, md5s, name)
        if why:
            result.copies.append(Reason(name, why))
    saved, _ = rules.load_post(config, repair=False)
    entries = dict(saved["files"].items()) if _post_state_valid(saved, config) else {}
    # a removed source's outputs go: as the copy records knew it, or as the
    # post-processing entries did (after a --no-post-process or failed run)
    gone = [name for name in {**records, **entries} if name not in found]
    if options.clear:  # what was there goes: removed sources and old versions alike
        result.removed = [Reason(name, "source removed") for name in sorted(gone)]
        listed = set(gone)
        result.removed += [
            Reason(name, "an earlier build's (--clear)")
            for name in sorted(cleanup.retired(config))
            if name not in found and name not in listed
        ]
    else:  # kept, as Django keeps them
        result.retired = [Reason(name, "source removed") for name in sorted(gone)]
    if config.storage == "plain" and entries:
        result.removed += _unhashed(entries)
    post = _Post()
    if config.storage == "manifest" and options.post_process and not result.everything:
        if not entries:
            result.all_post = "no earlier post-processing recorded"
        elif saved.get("token") != rules.settings_token(config):
            result.all_post = "the settings its results depend on changed"
        else:
            post = _post_reasons(config, found, records, entries, saved, md5s, gone)
            result.post = [
                Reason(name, post.reasons[name]) for name in found if name in post.reasons
            ]
    if options.post_process and not options.dry_run:  # (else the derived phases do not run)
        after = _After(config, options, records, md5s, entries, post, result)
        result.derived = [
            explained
            for derived in _derived_phases()
            if (explained := _explain_derived(derived, config, options, found, after))
        ]
    return result


def _derived_phases() -> list[Any]:
    """The derived phases (engine/derived.py), in the phase list's order."""
    from .engine import derived, phases  # (not at import time: engine/run.py imports this)

    return [derived.DECLARED[p.name] for p in phases.PHASES if p.name in derived.DECLARED]


UNKNOWN = "?"  # a hashed name known only once the file is rewritten


class _After:
    """Each found file's fingerprint as the next run will leave it (derived.Item):
    its copy's md5 and its hashed name, with what is not known before the rewrite."""

    def __init__(self, config, options, records, md5s, entries, post, result) -> None:
        self.records, self.md5s, self.entries, self.post = records, md5s, entries, post
        self.hashing = config.storage == "manifest" and options.post_process
        self.all_post = result.everything or result.all_post
        self.hook = config.file_hash is not None

    def md5(self, name: str) -> str | None:
        return _content(name, self.md5s, self.records)

    def hashed(self, name: str) -> tuple[str, str]:
        """(its hashed name or UNKNOWN, why: "" when known) after the next run."""
        if not self.hashing:
            return name, ""
        fields = self.entries.get(name)
        post = self.post
        if fields is None or name in post.renamed:
            return UNKNOWN, post.reasons.get(name, "new")
        if name in post.reasons and name not in post.same_name:
            return UNKNOWN, f"post-processed again ({post.reasons[name]})"
        if self.all_post:
            # (a file hashed from its bytes alone keeps its name, unless they changed)
            plain = isinstance(fields, str) and not self.hook
            if not (plain and self.md5(name) == rules.saved_md5(fields)):
                return UNKNOWN, f"post-processed again ({self.all_post})"
        return rules.saved_hashed(name, fields), ""

    def fingerprint(self, name: str) -> str:
        return f"{self.md5(name)} {self.hashed(name)[0]}"


def _explain_derived(
    derived: Any,
    config: Config,
    options: RunOptions,
    found: Mapping[str, finders.Found],
    after: _After,
) -> DerivedExplanation | None:
    """What the derived phase would redo, by the engine's own decision
    (derived.scope and derived.plan); None: it is off and leaves nothing."""
    from .engine import derived as engine
    from .fs import fsutil

    ledger = store.Database(config.state_path, repair=False)
    header = ledger.header(derived.name)
    wanted = engine.wanted(config, after.hashing, derived)
    rows = engine.rows_of(ledger, derived, header)
    base = fsutil.prefix(str(config.static_root))
    result = DerivedExplanation(derived.name)
    if wanted is None:
        if header.get("settings") is None:
            return None
        result.whole = _switched_off(derived, rows, base)
        return result
    upstream = (ledger.token("collect"), ledger.token("post") if after.hashing else None)
    how = engine.scope(header, wanted, rows.token is not None, upstream, options.clear)
    if how == engine.EVERY:
        result.whole = _every_file(derived, header.get("settings"), wanted, bool(header), options)
        return result
    names = [*found, *(name for name in rows if name not in found)]
    decided = engine.plan(
        names, found, rows, True, after.fingerprint, lambda row: engine.missing_output(base, row)
    )
    for name, why in decided.todo.items():
        # (one the phase does not concern is built again, writing nothing: an
        # image is not compressed)
        if derived.concerns(name):
            _add_reason(result, name, why == engine.NEW, rows.get(name), base, after)
    for name in decided.gone:
        outputs = rows[name].outputs
        if outputs:
            result.retired.append(Reason(name, ", ".join(outputs)))
    if derived.finish is not None:  # (it writes its files when a row changed)
        maybe = {reason.name for reason in result.maybe}
        certain = any(name not in maybe for name in decided.todo)
        changed = certain or decided.gone or how != engine.CHANGED_ONLY
        for name in derived.files:
            if changed or not os.path.exists(base + name):
                result.rewritten.append(name)
            elif result.maybe:
                result.rewritten_maybe.append(name)
    return result


def _switched_off(derived: Any, rows: Mapping[str, Any], base: str) -> str:
    """What switching the phase off deletes."""
    written = [output for row in rows.values() for output in row.outputs]
    written += [name for name in derived.files if os.path.lexists(base + name)]
    shown = ", ".join(written[:3])
    if len(written) > 3:
        shown += f" and {len(written) - 3} more"
    return "switched off: " + (f"deletes {shown}" if written else "nothing to delete")


def _every_file(derived: Any, before: Any, wanted: Any, has_run: bool, options: RunOptions) -> str:
    """Why the phase builds every file again."""
    if options.clear:
        return "--clear: every file again"
    if not has_run:
        return "no earlier run of it: every file"
    if before is None:
        return "switched on: every file"
    describe = derived.describe or (lambda old, new: f"{old!r} -> {new!r}")
    return f"settings changed ({describe(before, wanted)}): every file again"


def _add_reason(
    result: DerivedExplanation, name: str, new: bool, row: Any, base: str, after: _After
) -> None:
    """Why the phase builds ``name`` again (``maybe``: if its hashed name changes)."""
    from .engine import derived as engine

    missing = engine.missing_output(base, row) if row is not None else None
    hashed, because = after.hashed(name)
    if new:
        result.redo.append(Reason(name, "new"))
    elif missing is not None:
        result.redo.append(Reason(name, f"{missing} missing"))
    elif row is not None and row.fingerprint.partition(" ")[0] != after.md5(name):
        result.redo.append(Reason(name, "content changed"))
    elif hashed != UNKNOWN:
        result.redo.append(Reason(name, f"hashed name now {hashed}"))
    elif because.startswith("post-processed again"):
        result.maybe.append(Reason(name, because))
    else:
        result.redo.append(Reason(name, f"its hashed name changes ({because})"))


def _post_state_valid(saved: Mapping[str, Any], config: Config) -> bool:
    return saved.get("root") == str(config.static_root) and saved["files"].token is not None


def _unhashed(entries: Mapping[str, Any]) -> list[Reason]:
    """``storage = "plain"`` after a manifest build: the hashed files and the
    manifest go."""
    why = "storage is now plain"
    hashed = sorted({rules.saved_hashed(name, fields) for name, fields in entries.items()})
    return [Reason(name, why) for name in hashed if name not in entries] + [
        Reason("staticfiles.json", why)
    ]


def saved_listing(config: Config) -> dict[str, Any]:
    """The listing the last run saved (engine/run.py: its names and settings)."""
    try:
        data = json.loads(state.load(config.state_path / "found.json")["listing"])
    except (KeyError, TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _settings_changes(saved: Mapping[str, Any], config: Config, options: RunOptions) -> list[str]:
    if not saved:
        return []
    now = {
        "static_root": str(config.static_root),
        "storage": config.storage,
        "link": options.link,
        **rules.readable_settings(config),
    }
    before = {**saved, **saved.get("values", {})}
    changes = [
        f"{key}: {before[key]!r} -> {value!r}"
        for key, value in now.items()
        if key in before and before[key] != value
    ]
    if not changes and saved.get("token") != rules.settings_token(config):
        if "values" not in saved:  # a listing saved before the values were
            keys = ", ".join(key for key in rules.readable_settings(config) if key != "file_hash")
            changes.append(f"one of {keys} or the file_hash hook")
        elif config.file_hash:
            changes.append(f"file_hash: the module of {config.file_hash} changed")
        else:
            changes.append("staticpipe's rewriting rules (a new version of staticpipe)")
    return changes


def _copy_reason(
    record: collect.Record | None,
    source: str,
    link: bool,
    config: Config,
    md5s: dict[str, str],
    name: str,
) -> str | None:
    """Why the copy phase copies ``name`` again (None: it does not). ``md5s``
    receives the md5 of every file whose source changed."""
    if record is None:
        md5s[name] = _md5(source)
        return f"new ({_shown(source)})"
    if record.source != source:
        md5s[name] = _md5(source)
        return f"now found at {_shown(source)} (was {_shown(record.source)})"
    if record.linked != link:
        return "to be linked (was copied)" if link else "to be copied (was linked)"
    try:
        changed = collect.source_moved(record, source)
    except OSError:
        return f"source unreadable ({_shown(source)})"
    if changed or record.racy:
        md5s[name] = digest = _md5(source)
        if digest != record.md5:
            return "content changed"
        if changed:
            return "source touched (same content: nothing downstream)"
    if not collect.copy_present(os.path.join(config.static_root, name), link):
        return "missing from static_root"
    return None


@dataclass
class _Post:
    reasons: dict[str, str] = field(default_factory=dict)  # name -> why it is redone
    same_name: set[str] = field(default_factory=set)  # redone, its hashed name the same
    renamed: set[str] = field(default_factory=set)  # redone, its hashed name surely new


def _post_reasons(
    config: Config,
    found: Mapping[str, finders.Found],
    records: Mapping[str, collect.Record],
    entries: Mapping[str, Any],
    saved: Mapping[str, Any],
    md5s: Mapping[str, str],
    gone: list[str],
) -> _Post:
    """name -> why post-processing redoes it (the files it would not redo: absent),
    with the settings the entries were made with; and which of them keep their
    hashed name (a hashed file gone) and which surely get a new one (their content
    changed, or that of a file they reference, directly or not, did)."""
    content = functools.partial(_content, md5s=md5s, records=records)
    reasons, same_name = _own_reasons(str(config.static_root), found, entries, content)
    for name in [*saved.get("unsettled", ()), *saved.get("pending", ())]:
        if name in found:
            reasons.setdefault(name, "its last post-processing did not finish")
    new = [name for name in found if entries.get(name) is None]
    # What a referrer's reason says of its target (the target's own line says
    # more): the targets whose hashed name may change. One redone only because its
    # hashed file is gone gets the same name back, and its referrers stay as they are.
    causes = {name: f"references {name}" for name in reasons if name not in same_name}
    causes.update({name: f"references {name} (removed)" for name in gone})
    for name in (*new, *gone):
        for directory in _parents(name):
            causes.setdefault(directory, f"references {directory}/ (its files changed)")
    referrers = saved["referrers"]
    for referrer, target in _referrers_of(list(causes), referrers, found, set(reasons)):
        reasons[referrer] = causes[target]
        causes[referrer] = f"references {referrer}"
    renamed = {name for name, why in reasons.items() if why in ("new", "content changed")}
    renamed |= {referrer for referrer, _ in _referrers_of(renamed, referrers, found, renamed)}
    return _Post(reasons, same_name, renamed)


def _own_reasons(
    root: str,
    found: Iterable[str],
    entries: Mapping[str, Any],
    content: Callable[[str], str | None],
) -> tuple[dict[str, str], set[str]]:
    """Why each file is redone for its own sake (new, ``content`` (its md5 now)
    changed, its hashed file gone from ``root``), and those of them whose hashed
    name stays (only the file was gone)."""
    reasons: dict[str, str] = {}
    same_name: set[str] = set()
    for name in found:
        fields = entries.get(name)
        if fields is None:
            reasons[name] = "new"
        elif content(name) != rules.saved_md5(fields):
            reasons[name] = "content changed"
        else:
            hashed = rules.saved_hashed(name, fields)
            if not os.path.lexists(os.path.join(root, hashed)):
                reasons[name] = f"its hashed file {hashed} is missing"
                same_name.add(name)
    return reasons, same_name


def _referrers_of(
    targets: Iterable[str],
    referrers: Mapping[str, Any],
    found: Container[str],
    known: Iterable[str],
) -> Iterator[tuple[str, str]]:
    """(referrer, the target it references), once each, for every found file not
    ``known`` that references one of ``targets``, directly or not."""
    pending, seen = list(targets), set(known)
    while pending:
        target = pending.pop()
        for referrer in referrers.get(target, ()):
            if referrer in found and referrer not in seen:
                seen.add(referrer)
                yield referrer, target
                pending.append(referrer)


def _content(
    name: str, md5s: Mapping[str, str], records: Mapping[str, collect.Record]
) -> str | None:
    """The md5 of ``name``'s content now: as read here, else as last copied."""
    if name in md5s:
        return md5s[name]
    record = records.get(name)
    return record.md5 if record else None


def _parents(name: str) -> Iterable[str]:
    while "/" in name:
        name = name.rpartition("/")[0]
        yield name
    yield "."


def _md5(path: str) -> str:
    try:
        return md5_file(path)
    except OSError:
        return ""


def _shown(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return path


__all__ = ["DerivedExplanation", "Explanation", "Reason", "explain"]
