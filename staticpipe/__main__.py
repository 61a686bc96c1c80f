"""``python -m staticpipe [--config PATH] [TASK] [options]``: the pipeline without a dodo.py.

Runs doit with staticpipe's tasks loaded from this package. The configuration is
the file named by ``--config PATH`` (anywhere on the line), else the
``STATICPIPE_CONFIG`` variable, else the nearest pyproject.toml with
``[tool.staticpipe]`` from the current directory up, else the Django settings
named by ``DJANGO_SETTINGS_MODULE``.
"""

from __future__ import annotations

import os
import sys
from importlib import metadata
from pathlib import Path

from doit.cmd_base import ModuleTaskLoader
from doit.doit_cmd import DoitMain

from .errors import StaticpipeError

HELP = """\
staticpipe {version}: Django's collectstatic pipeline (finders, hashed names,
CSS/JS reference rewriting, staticfiles.json) as incremental doit tasks.

usage: staticpipe [--config PATH] [TASK [OPTIONS] [ARGS]]
       staticpipe            the same as `staticpipe collect`

tasks:
  collect       collect, hash and rewrite into static_root, write staticfiles.json
                (Django's collectstatic options: --clear/-c, --dry-run/-n, --link/-l,
                --no-post-process, --ignore/-i PATTERN, --no-default-ignore,
                --verbosity/-v 0-3, --noinput); --explain: what the next run would
                redo and why, changing nothing
  findstatic    PATH... [--first] [-v 0-2]: where a static file is found
  watch         collect, then rebuild on every change
  serve         serve the files over HTTP (--collected, --watch, --port/-p, --host)
  publish       upload the build to the publish url (S3), staticfiles.json last
                (--dry-run/-n, --verbosity/-v 0-3)

options:
  --config PATH  the pyproject.toml (or its directory) to read [tool.staticpipe] from;
                 else $STATICPIPE_CONFIG; else the nearest pyproject.toml with a
                 [tool.staticpipe] table from the current directory up; else
                 $DJANGO_SETTINGS_MODULE (a Django project's settings)
  --version      print staticpipe's version
  -h, --help     this help; `staticpipe help TASK` lists a task's options

Every doit command works too: list, info collect, forget collect, clean -n collect,
dumpdb. doit's database and the build state live in the project directory (that
of the configuration), whatever the current directory.
"""


def version() -> str:
    try:
        return metadata.version("staticpipe")
    except metadata.PackageNotFoundError:  # run from a source tree, not installed
        return "unknown"


def _take_config(args: list[str]) -> tuple[list[str], str | None]:
    """``args`` without ``--config PATH`` / ``--config=PATH``, and that path."""
    rest: list[str] = []
    path = None
    items = iter(args)
    for arg in items:
        if arg == "--config":
            path = next(items, None)
            if path is None:
                raise StaticpipeError("--config needs a path to a pyproject.toml")
        elif arg.startswith("--config="):
            path = arg.partition("=")[2]
        else:
            rest.append(arg)
    return rest, path


def _check_toml(path: Path) -> None:
    """doit reads the current directory's pyproject.toml first ([tool.doit]) and
    fails with a traceback if it is not TOML: say so in one line instead."""
    from .config import read_toml

    if path.is_file():
        read_toml(path)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["--help"], ["-h"]):
        print(HELP.format(version=version()), end="")
        return 0
    if args[:1] == ["--version"]:
        print(f"staticpipe {version()}")
        return 0
    try:
        args, config = _take_config(args)
        if config is not None:
            os.environ["STATICPIPE_CONFIG"] = os.path.abspath(config)
        _check_toml(Path("pyproject.toml"))
    except StaticpipeError as error:
        from .reporter import error_line

        print(error_line(str(error)), file=sys.stderr)
        return 1
    if len(args) == 2 and args[1] in ("--help", "-h"):
        args = ["help", args[0]]  # `staticpipe collect --help`: the task's options
    from . import tasks

    return DoitMain(ModuleTaskLoader(tasks)).run(args or ["collect"])


if __name__ == "__main__":
    sys.exit(main())
