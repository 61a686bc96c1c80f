"""``python -m staticpipe collect [options]``: the pipeline without a dodo.py (CI).

Runs doit with staticpipe's tasks loaded from this package. The configuration is
the nearest pyproject.toml with ``[tool.staticpipe]`` from the current directory,
or the file named by ``--config PATH`` / the ``STATICPIPE_CONFIG`` variable.
"""

from __future__ import annotations

import os
import sys

from doit.cmd_base import ModuleTaskLoader
from doit.doit_cmd import DoitMain


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--config"] and len(args) >= 2:
        os.environ["STATICPIPE_CONFIG"] = os.path.abspath(args[1])
        args = args[2:]
    from . import tasks

    return DoitMain(ModuleTaskLoader(tasks)).run(args or ["collect"])


if __name__ == "__main__":
    sys.exit(main())
