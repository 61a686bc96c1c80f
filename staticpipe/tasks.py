"""doit tasks: one task per phase of the phase list, then ``collect``, which reports.

In a project directory whose pyproject.toml has ``[tool.staticpipe]``, a dodo.py of
one line, ``from staticpipe.tasks import *``, gives ``doit collect``, ``doit
findstatic``, ``doit watch`` and ``doit serve``. An existing dodo.py can instead
call :func:`make_tasks` with a Config and a name prefix. (The tasks that are
commands, not phases, are in ``commands.py``.)

The doit layer is thin: each phase task's ``uptodate`` is the phase's check and
its action the phase's act (engine/phases.py), on one shared ``Run``. A phase's
check compares its own ledger entry with what it was made from, catching what
mtimes hide (restored mtimes, deleted outputs), so doit's ``file_dep`` is only
the configuration file and its ``changed`` list is not needed.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from doit import task_params
from doit.dependency import FileChangedChecker
from doit.exceptions import TaskFailed
from doit.globals import Globals

from . import commands, layout
from .config import Config, ConfigSource, find_config_file, resolve_config
from .engine import phases
from .engine.phases import Phase, phases_of
from .engine.run import Run, without_gc
from .errors import StaticpipeError
from .fs import fsutil
from .ledger import crash
from .options import RunOptions, pruned_line
from .phases import cleanup
from .reporter import Reporter, error_line, failed
from .sources import finders


class StatChecker(FileChangedChecker):
    """A file_dep changed if its mtime, size, ctime or inode did.

    ctime and inode see what mtime alone hides: a content change behind a
    restored mtime (``cp -p``, archive extraction), a file replaced by another.
    No content hashing: the phases' own state says what changed inside.

    The state saved after a task ran is the one seen when its file_deps were
    checked (doit would stat every file_dep again): a change made while the task
    ran is then seen by the next run, not hidden by a stat taken after it.
    (Sources are not file_deps: the copy phase checks them itself, see
    signatures.py.)
    """

    def __init__(self):
        # file_dep -> its state when checked if it had changed, None if it had not
        self.checked: dict[str, str | None] = {}

    def check_modified(self, file_path, file_stat, state):
        current = _stat_state(file_stat)
        changed = current != state
        self.checked[file_path] = current if changed else None
        return changed

    def get_state(self, dep, current_state):
        checked = self.checked.pop(dep, _UNCHECKED)
        if checked is not _UNCHECKED:
            return checked  # None: unchanged when checked, keep the saved state
        return _stat_state(os.stat(dep))


_UNCHECKED = object()


def _stat_state(info: os.stat_result) -> str:
    return f"{info.st_mtime_ns}:{info.st_size}:{info.st_ctime_ns}:{info.st_ino}"


DEP_FILE = ".staticpipe-doit.sqlite3"


def _dep_file() -> str:
    """doit's database, in the project directory (that of the configuration this
    process reads), never the current directory; relative if it is not known."""
    source = os.environ.get("STATICPIPE_CONFIG")
    try:
        path = Path(source) if source else find_config_file()
    except StaticpipeError:
        return DEP_FILE
    return str((path if path.is_dir() else path.parent).resolve() / DEP_FILE)


DOIT_CONFIG = {
    "default_tasks": ["collect"],
    "backend": "sqlite3",
    "dep_file": _dep_file(),
    "check_file_uptodate": StatChecker,
    "reporter": Reporter,
}

COLLECT_PARAMS: list[dict[str, Any]] = [
    {"name": "clear", "long": "clear", "short": "c", "type": bool, "default": False,
     "help": "Delete every file in static_root before collecting."},
    commands.DRY_RUN,
    {"name": "link", "long": "link", "short": "l", "type": bool, "default": False,
     "help": "Symlink each file instead of copying it."},
    {"name": "no_post_process", "long": "no-post-process", "type": bool, "default": False,
     "help": "Collect only: no hashing, no rewriting, no manifest."},
    {"name": "ignore", "long": "ignore", "short": "i", "type": list, "default": [],
     "help": "Ignore files matching this glob-style pattern, as Django's (repeatable)."},
    {"name": "no_default_ignore", "long": "no-default-ignore", "type": bool, "default": False,
     "help": "Don't ignore the defaults 'CVS', '.*' and '*~'."},
    commands.VERBOSITY,
    {"name": "noinput", "long": "noinput", "type": bool, "default": False,
     "help": "Accepted for Django's collectstatic scripts (there is no prompt)."},
    {"name": "no_input", "long": "no-input", "type": bool, "default": False,
     "help": "The same as --noinput."},
    {"name": "explain", "long": "explain", "type": bool, "default": False,
     "help": "Print what the next run would redo and why; change nothing."},
    {"name": "prune", "long": "prune", "type": bool, "default": False,
     "help": "Then delete old versions the retention policy lets go (keep_builds, keep_age)."},
]  # fmt: skip


def _forget_former_source_states(task: str, source: str | None) -> None:
    """doit keeps the saved state of every former file_dep of a task for good, and
    re-encodes all of it whenever the task runs. Sources were file_deps of the copy
    task before signatures.py: tens of thousands of states, tens of ms per edit.
    If the task still has a state for ``source`` (a source), it is forgotten once:
    it then runs, as after ``doit forget``, and doit saves only what it has now."""
    manager = Globals.dep_manager
    if manager is not None and source is not None and manager.backend.get(task, source):
        manager.remove(task)


def _complete_file(config: Config) -> Path:
    return config.state_path / "doit.json"


def _remember_complete(config: Config) -> None:
    """Note that a doit run of collect completed, with which doit database."""
    manager = Globals.dep_manager
    data = json.dumps({"dep_file": getattr(manager and manager.backend, "name", None)}).encode()
    path = _complete_file(config)
    try:
        if path.read_bytes() == data:
            return
    except OSError:
        pass
    fsutil.write_bytes(str(path), data)
    crash.point("file:" + path.name)


def _forgotten(task: str, config: Config) -> bool:
    """``doit forget TASK`` (or ``-a``) since the last complete doit run of it:
    the task is gone from the doit database that run used. (The first run, and
    one after runs without doit, e.g. the watcher's, find no note of that run.)"""
    manager = Globals.dep_manager
    if manager is None:
        return False
    try:
        saved = json.loads(_complete_file(config).read_bytes())
    except (OSError, ValueError):
        return False
    mine = getattr(manager.backend, "name", None)
    return saved.get("dep_file") == mine and not manager.backend.in_(task)


def _executes_tasks() -> bool:
    """Whether the doit command loading the tasks runs their actions (``doit``,
    ``doit run``: doit's ``execute_tasks``), not only reports on them (``doit
    info``, ``doit list --status``...), whose checks must not wait for or take
    the lock of a running build, nor write. Tasks loaded by no doit command: True."""
    from doit.cmd_base import DoitCmdBase

    frame = sys._getframe(1)
    while frame is not None:
        for local in ("cmd", "self"):  # the loader's argument, the command's own frame
            command = frame.f_locals.get(local)
            if isinstance(command, DoitCmdBase):
                return bool(command.execute_tasks)
        frame = frame.f_back
    return True


def _collect_tasks(config: Config, options: RunOptions, prefix: str):
    """One task per phase (engine/phases.py), then ``collect``, which reports."""
    run = without_gc(Run)(config, options)
    name = f"{prefix}collect"
    if options.writes:
        first = next(iter(run.found.values()), None)
        _forget_former_source_states(f"{name}_copy", first and first.source)
    if not options.dry_run:
        run.fresh = _forgotten(name, config)
    # reporter.py: -v 0 prints no progress lines; an up-to-date collect still reports
    meta = {"staticpipe": {"quiet": options.verbosity == 0}}
    config_dep = [str(config.config_file)] if config.config_file else []
    names = []
    for phase in phases_of(run):
        names.append(f"{name}_{phase.name}")
        check = functools.partial(_check, phase, run)
        yield {
            "basename": names[-1],
            "doc": phase.doc,
            "actions": [without_gc(functools.partial(_act, phase, run))],
            # the configuration (doit's StatChecker); a phase's own check sees the rest
            "file_dep": config_dep if phase.name == "discover" else [],
            "uptodate": [
                without_gc(run.phase_check(phase.name, check)),
                *([not options.dry_run] if phase.name == "copy" else []),
            ],
            "verbosity": 2,
            "meta": meta,
        }
    report = without_gc(functools.partial(_report, run))
    yield {
        "basename": name,
        "doc": "Collect static files into static_root, hash them, write staticfiles.json.",
        "actions": [report],
        "task_dep": names,
        "uptodate": [without_gc(run.uptodate)],
        "clean": [functools.partial(_clean, config)],
        "verbosity": 2,
        "meta": {"staticpipe": {**meta["staticpipe"], "when_uptodate": report}},
    }


def _check(phase: Phase, run: Run) -> bool:
    """A phase's check as doit's ``uptodate`` (the run begins at the first one:
    Run.begin). After a failure no later phase acts."""
    run.begin()
    if run.failed is not None:
        return False  # (the action refuses to run)
    try:
        return phase.check(run)
    except BaseException:
        run.abort(phase.name)
        raise


def _act(phase: Phase, run: Run) -> TaskFailed | None:
    """A phase's action as doit's: a failure is the task's, reported as one line,
    after the files of the previous build this run replaced are put back
    (Run.abort). After a failure no later phase acts (``doit --continue``): the
    manifest in place must stay the previous build's."""
    if run.failed is not None:
        return failed(StaticpipeError(f"not run: the {run.failed} phase failed"))
    try:
        run.begin()  # (doit may run an action without asking its check)
        phase.act(run)
    except (StaticpipeError, OSError, KeyError) as error:
        run.abort(phase.name)
        return failed(error)
    except BaseException:
        run.abort(phase.name)
        raise
    return None


def _report(run: Run) -> None:
    """``collect``'s own action: finish the run and print Django's summary."""
    if not run.options.dry_run:
        _remember_complete(run.config)
    run.finish()
    if run.options.verbosity >= 2:
        for line in run.file_lines():
            print(line)
    if run.options.verbosity >= 1:
        print(run.summary.line())
        if run.options.prune and not run.options.dry_run:
            print(pruned_line(len(run.summary.pruned), run.config.static_root))
    run.release()


def _clean(config: Config, dryrun: bool) -> None:
    """``doit clean collect``; with ``-n`` (doit passes ``dryrun``), what it would remove."""
    if dryrun:
        names = sorted(cleanup.cleanable(config, phases.written(config)))
        for name in names:
            print(f"Would remove '{name}'")
        print(f"{len(names)} files would be removed from '{config.static_root}'.")
        return
    deleted = cleanup.clean(config, phases.written(config))
    print(f"{len(deleted)} files removed from '{config.static_root}'.")


def _explain_task(config: Config, options: RunOptions, prefix: str) -> dict[str, Any]:
    """``doit collect --explain``: the collect task, printing what a run would redo."""

    def action() -> None:
        from . import explain  # (only for --explain: not imported by every run)

        # read without the run lock: an informational command neither waits for
        # a running build nor writes (a build under way may make it out of date)
        print("\n".join(explain.explain(config, options).lines()))

    return {"basename": f"{prefix}collect", "actions": [action], "verbosity": 2}


def _config_error_task(name: str, error: Exception) -> dict[str, Any]:
    return {
        "basename": name,
        "actions": [lambda: failed(error)],
        "clean": [functools.partial(_refuse_clean, error)],
        "verbosity": 2,
    }


def _refuse_clean(error: Exception, dryrun: bool = False) -> None:
    """``doit clean [-n]`` with a configuration refused: nothing is removed, and
    the command fails as the task would (doit's clean reports a failed action
    and exits 0, as if it had cleaned)."""
    stderr = sys.__stderr__ or sys.stderr  # (doit captures an action's own streams)
    stderr.write(error_line(str(error)) + "\n")
    stderr.flush()
    raise SystemExit(1)


def make_tasks(config: ConfigSource = None, prefix: str = "") -> dict[str, Callable]:
    """Task creators for a dodo.py: ``globals().update(make_tasks(config, "static_"))``.

    ``config`` is a Config, a callable returning one, a path to a pyproject.toml
    (or its directory), or None for the nearest ``[tool.staticpipe]`` from the
    current directory. Tasks are named ``<prefix>collect``, ``<prefix>findstatic``,
    ``<prefix>watch``, ``<prefix>serve``, ``<prefix>publish`` and ``<prefix>prune``.
    """

    # (each creator is one line: doit tokenizes every creator's source, on every run)
    @task_params(COLLECT_PARAMS)
    def collect_creator(**params):
        return _collect_creator(config, prefix, **params)

    collect_creator.__doc__ = "Collect, hash and rewrite static files; write staticfiles.json."

    def findstatic_creator():
        """Print where static files are found: doit findstatic PATH... [--first]."""
        return commands.findstatic_task(config, prefix)

    def publish_creator():
        """Upload the build in static_root to the publish url (S3), manifest last."""
        return commands.publish_task(config, prefix)

    def prune_creator():
        """Delete old versions the retention policy lets go (keep_builds, keep_age)."""
        return commands.prune_task(config, prefix)

    def watch_creator():
        """Collect, then watch the sources and pyproject.toml and re-run on change."""
        return commands.watch_task(config, prefix)

    def serve_creator():
        """Serve static files over HTTP: from the finders, or --collected."""
        return commands.serve_task(config, prefix)

    return {
        f"task_{prefix}collect": collect_creator,
        f"task_{prefix}findstatic": findstatic_creator,
        f"task_{prefix}watch": watch_creator,
        f"task_{prefix}serve": serve_creator,
        f"task_{prefix}publish": publish_creator,
        f"task_{prefix}prune": prune_creator,
    }


def _collect_creator(
    config: ConfigSource, prefix: str,
    clear, dry_run, link, no_post_process, ignore, no_default_ignore, verbosity,
    noinput, no_input, explain, prune,
):  # fmt: skip
    try:
        if verbosity not in (0, 1, 2, 3):
            raise StaticpipeError(f"--verbosity {verbosity}: expected 0, 1, 2 or 3")
        base = resolve_config(config)
        effective = base.with_options(
            globs=base.globs + tuple(ignore),
            default_ignore=base.default_ignore and not no_default_ignore,
        )
        layout.check_dirs_exist(effective)
        layout.check(effective, finders.locations(effective))
        layout.claim_state_dir(effective)
    except StaticpipeError as error:
        yield _config_error_task(f"{prefix}collect", error)
        return
    options = RunOptions(
        clear=clear, dry_run=dry_run, link=link, post_process=not no_post_process,
        verbosity=verbosity, prune=prune, informational=not _executes_tasks(),
    )  # fmt: skip
    if explain:
        yield _explain_task(effective, options, prefix)
    else:
        yield from _collect_tasks(effective, options, prefix)


def _warn_if_replacing(names: list[str]) -> None:
    """``from staticpipe.tasks import *`` below a DOIT_CONFIG or task_collect of
    the dodo.py's own would silently replace it: say so (README: define yours
    after the import, e.g. ``DOIT_CONFIG = {**DOIT_CONFIG, ...}``)."""
    frame = sys._getframe(2)  # past this module's body: importlib, then the importer
    while frame is not None and frame.f_code.co_filename.startswith("<frozen"):
        frame = frame.f_back
    if frame is None:
        return
    for name in names:
        if name in frame.f_globals:
            print(
                f"staticpipe: warning: {frame.f_code.co_filename}: the {name} defined "
                "before `from staticpipe.tasks import *` is replaced by staticpipe's; "
                "define yours after the import (DOIT_CONFIG = {**DOIT_CONFIG, ...})",
                file=sys.stderr,
            )


_default = make_tasks()
task_collect = _default["task_collect"]
task_findstatic = _default["task_findstatic"]
task_watch = _default["task_watch"]
task_serve = _default["task_serve"]
task_publish = _default["task_publish"]
task_prune = _default["task_prune"]
__all__ = [
    "DOIT_CONFIG", "task_collect", "task_findstatic", "task_watch", "task_serve", "task_publish",
    "task_prune",
]  # fmt: skip
_warn_if_replacing(__all__)
