"""The doit tasks that are commands, not phases: ``findstatic``, ``publish``,
``prune``, ``watch`` and ``serve`` (``tasks.make_tasks`` names them). Each always
runs and is a thin call into the module that does the work; the configuration
is read when it runs, and a bad one is a one-line failure (reporter.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import layout
from .config import ConfigSource, resolve_config
from .errors import StaticpipeError
from .options import pruned_line
from .phases import cleanup
from .reporter import failed
from .sources import finders

# The flags a command shares with ``collect``, with the same meaning.
DRY_RUN: dict[str, Any] = {
    "name": "dry_run", "long": "dry-run", "short": "n", "type": bool, "default": False,
    "help": "Print what would be done; change nothing.",
}  # fmt: skip
VERBOSITY: dict[str, Any] = {
    "name": "verbosity", "long": "verbosity", "short": "v", "type": int, "default": 1,
    "help": "0: errors only, 1: the summary, 2 (or 3): a line per file, as Django's.",
}  # fmt: skip


def findstatic_task(config: ConfigSource, prefix: str) -> dict:
    """``doit findstatic PATH... [--first]``: where static files are found."""
    from . import findstatic

    def action(paths, first, verbosity):
        try:
            findstatic.main(lambda: resolve_config(config), paths, first, verbosity)
        except StaticpipeError as error:
            return failed(error)
        return None

    return {
        "basename": f"{prefix}findstatic",
        "actions": [action],
        "pos_arg": "paths",
        "params": findstatic.PARAMS,
        "uptodate": [False],
        "verbosity": 2,
    }


def _command_task(basename: str, action: Callable) -> dict:
    """A task that is a command (``doit publish``, ``doit prune``): it always runs,
    and takes ``-n`` and ``-v`` as ``collect`` does."""
    return {
        "basename": basename,
        "actions": [action],
        "params": [DRY_RUN, VERBOSITY],
        "uptodate": [False],
        "verbosity": 2,
    }


def publish_task(config: ConfigSource, prefix: str) -> dict:
    """``doit publish``: the build in static_root uploaded, manifest last."""

    def action(dry_run, verbosity):
        from .publish.run import publish

        try:
            if verbosity not in (0, 1, 2, 3):
                raise StaticpipeError(f"--verbosity {verbosity}: expected 0, 1, 2 or 3")
            summary = publish(resolve_config(config), dry_run=dry_run, verbosity=verbosity)
        except StaticpipeError as error:
            return failed(error)
        if verbosity >= 1:
            print(summary.line())
        return None

    return _command_task(f"{prefix}publish", action)


def prune_task(config: ConfigSource, prefix: str) -> dict:
    """``doit prune``: old versions the retention policy lets go deleted."""

    def action(dry_run, verbosity):
        try:
            conf = resolve_config(config)
            layout.check(conf, finders.locations(conf))
            if dry_run:
                names = cleanup.prunable(conf)
                verb = "Pretending to delete"
            else:
                names = cleanup.prune(conf)
                verb = "Deleting"
        except StaticpipeError as error:
            return failed(error)
        if verbosity >= 2:
            for name in names:
                print(f"{verb} '{name}'")
        if verbosity >= 1:
            print(pruned_line(len(names), conf.static_root, dry_run))
        return None

    return _command_task(f"{prefix}prune", action)


def watch_task(config: ConfigSource, prefix: str) -> dict:
    """``doit watch``: collect, then again on every change."""

    def action():
        from . import watcher

        return watcher.main(lambda: resolve_config(config))

    return {"basename": f"{prefix}watch", "actions": [action], "uptodate": [False],
            "verbosity": 2}  # fmt: skip


def serve_task(config: ConfigSource, prefix: str) -> dict:
    """``doit serve``: static files over HTTP (from the finders, or --collected)."""

    def action(host, port, collected, watch):
        from . import server

        return server.main(
            lambda: resolve_config(config), host=host, port=port,
            collected=collected, watch=watch,
        )  # fmt: skip

    return {
        "basename": f"{prefix}serve",
        "actions": [action],
        "params": [
            {
                "name": "host",
                "long": "host",
                "type": str,
                "default": "127.0.0.1",
                "help": "Address to listen on.",
            },
            {
                "name": "port",
                "long": "port",
                "short": "p",
                "type": int,
                "default": 8000,
                "help": "Port to listen on.",
            },
            {
                "name": "collected",
                "long": "collected",
                "type": bool,
                "default": False,
                "help": "Serve static_root (hashed names, long cache) like production.",
            },
            {
                "name": "watch",
                "long": "watch",
                "type": bool,
                "default": False,
                "help": "Rebuild on change and reload open pages.",
            },
        ],  # fmt: skip
        "uptodate": [False],
        "verbosity": 2,
    }
