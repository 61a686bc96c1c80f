"""An in-process site for incremental-run tests: the real doit (as a dodo.py
drives it) and the watcher's ``pipeline.run`` on real files, compared with a
clean build of the same sources and settings (plus the old versions kept)."""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

from doit.cmd_base import ModuleTaskLoader
from doit.doit_cmd import DoitMain
from old_outputs import assert_clean_build_plus_old_versions

from staticpipe import pipeline
from staticpipe.config import load_config
from staticpipe.ledger import state
from staticpipe.options import RunOptions
from staticpipe.tasks import DOIT_CONFIG, make_tasks

CONFIG = """\
[tool.staticpipe]
static_root = "build/static"
dirs = {dirs}
{extra}
"""


class Site:
    def __init__(self, path: Path, dirs: str = '["assets"]', extra: str = ""):
        self.path, self.dirs, self.extra = path, dirs, extra
        path.mkdir(parents=True, exist_ok=True)
        self.configure(extra)

    @property
    def state(self) -> Path:
        return self.path / ".staticpipe"

    def configure(self, extra: str) -> None:
        self.extra = extra
        (self.path / "pyproject.toml").write_text(CONFIG.format(dirs=self.dirs, extra=extra))

    def write(self, name: str, data: str | bytes, base: str = "assets") -> Path:
        path = self.path / base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    def collect(self, *options: str) -> int:
        namespace = {
            **make_tasks(str(self.path / "pyproject.toml")),
            "DOIT_CONFIG": {**DOIT_CONFIG, "dep_file": str(self.path / ".doit.sqlite3")},
        }
        code = DoitMain(ModuleTaskLoader(namespace)).run(["collect", *options])
        state.close_all()  # as the end of a process would: its database connections closed
        gc.collect()
        return code

    def watcher_run(self) -> None:
        """What `doit watch` does on each change: pipeline.run, not the doit tasks."""
        pipeline.run(load_config(self.path / "pyproject.toml"), RunOptions(), log=lambda _: None)
        gc.collect()

    def assert_equals_clean_build(self, scratch: Path, *options: str) -> None:
        clean = Site(scratch, self.dirs, self.extra)
        for base in ("assets", "override"):
            if (self.path / base).exists():
                shutil.copytree(self.path / base, clean.path / base)
        assert clean.collect(*options) == 0
        # (old versions stay, as Django keeps them: besides the clean build, only
        # earlier builds' outputs the journal knows)
        assert_clean_build_plus_old_versions(
            clean.path / "build" / "static", self.path / "build" / "static", self.state
        )
