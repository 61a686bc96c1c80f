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
  manifest build, the hashed files and the manifest go).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import Config
from .ledger import state
from .options import RunOptions
from .phases import cleanup, collect
from .rewrite import rules
from .rewrite.hashing import md5_file
from .sources import finders


def readable_settings(config: Config) -> dict[str, Any]:
    """The settings every hashed output depends on, as the user wrote them (the
    settings token is their digest, with the file_hash hook's fingerprint)."""
    return {
        "static_url": config.static_url,
        "js_modules": config.js_modules,
        "missing": config.missing,
        "missing_sourcemap": config.sourcemap_policy,
        "encoding_errors": config.encoding_errors,
        "file_hash": config.file_hash,
    }


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

    @property
    def nothing(self) -> bool:
        said = (self.everything, self.all_post, self.settings, self.copies, self.post)
        return not any(said) and not self.removed and not self.retired

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
    if config.storage == "manifest" and options.post_process and not result.everything:
        if not entries:
            result.all_post = "no earlier post-processing recorded"
        elif saved.get("token") != rules.settings_token(config):
            result.all_post = "the settings its results depend on changed"
        else:
            post = _post_reasons(config, found, records, entries, saved, md5s, gone)
            result.post = [Reason(name, post[name]) for name in found if name in post]
    return result


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
        **readable_settings(config),
    }
    before = {**saved, **saved.get("values", {})}
    changes = [
        f"{key}: {before[key]!r} -> {value!r}"
        for key, value in now.items()
        if key in before and before[key] != value
    ]
    if not changes and saved.get("token") != rules.settings_token(config):
        if "values" not in saved:  # a listing saved before the values were
            keys = ", ".join(key for key in readable_settings(config) if key != "file_hash")
            changes.append(f"one of {keys} or the file_hash hook")
        elif config.file_hash:
            changes.append(f"file_hash: the module of {config.file_hash} changed")
        else:
            changes.append("staticpipe's rewriting rules (a new version of staticpipe)")
    return changes


def _copy_reason(
    record: list | None,
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
    if record[collect.SOURCE] != source:
        md5s[name] = _md5(source)
        return f"now found at {_shown(source)} (was {_shown(record[collect.SOURCE])})"
    if bool(record[collect.LINKED]) != link:
        return "to be linked (was copied)" if link else "to be copied (was linked)"
    try:
        changed = record[1:5] != collect.signature(source)
    except OSError:
        return f"source unreadable ({_shown(source)})"
    if changed or collect.is_racy(record):
        md5s[name] = digest = _md5(source)
        if digest != record[collect.MD5]:
            return "content changed"
        if changed:
            return "source touched (same content: nothing downstream)"
    if not collect.copy_present(os.path.join(config.static_root, name), link):
        return "missing from static_root"
    return None


def _post_reasons(
    config: Config,
    found: Mapping[str, finders.Found],
    records: Mapping[str, list],
    entries: Mapping[str, Any],
    saved: Mapping[str, Any],
    md5s: Mapping[str, str],
    gone: list[str],
) -> dict[str, str]:
    """name -> why post-processing redoes it (the files it would not redo: absent),
    with the settings the entries were made with."""
    reasons: dict[str, str] = {}
    same_name: set[str] = set()  # redone, but its hashed name stays (see below)
    for name in found:
        fields = entries.get(name)
        if fields is None:
            reasons[name] = "new"
        elif _content(name, md5s, records) != rules.saved_md5(fields):
            reasons[name] = "content changed"
        elif not os.path.lexists(
            os.path.join(config.static_root, rules.saved_hashed(name, fields))
        ):
            reasons[name] = f"its hashed file {rules.saved_hashed(name, fields)} is missing"
            same_name.add(name)
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
    pending = list(causes)
    while pending:
        target = pending.pop()
        for referrer in saved["referrers"].get(target, ()):
            if referrer in found and referrer not in reasons:
                reasons[referrer] = causes[target]
                causes[referrer] = f"references {referrer}"
                pending.append(referrer)
    return reasons


def _content(name: str, md5s: Mapping[str, str], records: Mapping[str, list]) -> str | None:
    """The md5 of ``name``'s content now: as read here, else as last copied."""
    if name in md5s:
        return md5s[name]
    record = records.get(name)
    return record[collect.MD5] if record else None


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


__all__ = ["Explanation", "Reason", "explain", "readable_settings"]
