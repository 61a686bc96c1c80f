"""The last complete run's stamp: a settled no-op run trusts it, and nothing it
should see is hidden behind it."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from doit.cmd_base import ModuleTaskLoader
from doit.doit_cmd import DoitMain
from old_outputs import assert_plus_old_versions
from projects import snapshot

from staticpipe import pipeline
from staticpipe.config import load_config
from staticpipe.fs import fsutil
from staticpipe.ledger import state
from staticpipe.tasks import DOIT_CONFIG, make_tasks

RACY_NS = 50_000_000  # trust timestamps after 50 ms (ext4/tmpfs are fine-grained)
SETTLE = RACY_NS / 1e9 + 0.03

CONFIG = """\
[tool.staticpipe]
static_root = "build/static"
static_url = "{url}"
dirs = ["assets"]
"""

FILES = {
    "css/app.css": '@import "base.css";\n.a { background: url("../img/logo.png"); }\n',
    "css/base.css": ".b { background: url(/static/img/logo.png); }\n",
    "img/logo.png": "\x89PNG one",
    "js/app.js": "console.log(1);\n",
}


@pytest.fixture(autouse=True)
def short_racy_window(monkeypatch):
    monkeypatch.setattr(fsutil, "RACY_NS", RACY_NS)


class Site:
    def __init__(self, path: Path, url: str = "/static/"):
        self.path = path
        self.root = path / "build" / "static"
        self.state = path / ".staticpipe"
        self.configure(url)
        for name, text in FILES.items():
            self.write(name, text)

    def configure(self, url: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "pyproject.toml").write_text(CONFIG.format(url=url))

    def write(self, name: str, text: str) -> Path:
        path = self.path / "assets" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def collect(self) -> None:
        namespace = {
            **make_tasks(str(self.path / "pyproject.toml")),
            "DOIT_CONFIG": {**DOIT_CONFIG, "dep_file": str(self.path / ".doit.sqlite3")},
        }
        assert DoitMain(ModuleTaskLoader(namespace)).run(["collect"]) == 0

    def settled(self) -> None:
        """Build, then let a no-op run stamp the settled state, as in real use."""
        self.collect()
        time.sleep(SETTLE)
        self.collect()
        time.sleep(SETTLE)

    def clean_build(self, scratch: Path) -> dict:
        fresh = Site(scratch)
        shutil.rmtree(fresh.path / "assets")
        shutil.copytree(self.path / "assets", fresh.path / "assets")
        shutil.copy(self.path / "pyproject.toml", fresh.path / "pyproject.toml")
        fresh.collect()
        return snapshot(fresh.root)

    def assert_equals_clean_build(self, scratch: Path) -> None:
        """A clean build's files, plus the old versions kept (as Django keeps them)."""
        clean = self.clean_build(scratch)
        assert_plus_old_versions(clean, snapshot(self.root), self.root, self.state)


def summary(capsys) -> str:
    lines = [line for line in capsys.readouterr().out.splitlines() if "static file" in line]
    return lines[-1]


def test_settled_noop_run_reads_no_per_file_state(tmp_path, monkeypatch):
    site = Site(tmp_path / "site")
    site.settled()
    before = snapshot(site.root)
    read = []
    real_load = state.load
    monkeypatch.setattr(state, "load", lambda path: read.append(path.name) or real_load(path))
    site.collect()
    assert "collect.state" not in read and "postprocess.state" not in read
    assert "complete.state" in read
    assert snapshot(site.root) == before


def test_unreadable_collect_state_without_a_stamp_redoes_every_copy(tmp_path, capsys):
    site = Site(tmp_path / "site")
    site.settled()
    expected = snapshot(site.root)
    database = sqlite3.connect(site.state / "files.sqlite3")  # an unreadable entry
    with database:
        database.execute("UPDATE headers SET value = ? WHERE name = 'collect.state'", (b"\0" * 64,))
        database.execute("UPDATE tokens SET token = 'other' WHERE name = 'collect.state'")
    database.close()
    capsys.readouterr()
    site.collect()
    assert summary(capsys).startswith("4 static files copied")
    assert snapshot(site.root) == expected


@pytest.mark.parametrize("edit", ["css/base.css", "img/logo.png", "js/app.js"])
def test_edit_after_settling_is_collected(tmp_path, edit):
    site = Site(tmp_path / "site")
    site.settled()
    site.write(edit, FILES[edit] + "/* edited */\n")
    site.collect()
    site.assert_equals_clean_build(tmp_path / "clean")


def test_edit_behind_a_restored_mtime_after_settling_is_collected(tmp_path):
    site = Site(tmp_path / "site")
    site.settled()
    path = site.path / "assets" / "img/logo.png"
    info = path.stat()
    path.write_text("\x89PNG two")  # same size
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    site.collect()
    site.assert_equals_clean_build(tmp_path / "clean")


@pytest.mark.parametrize("which", ["original", "hashed"])
def test_output_deleted_after_settling_is_restored(tmp_path, which):
    site = Site(tmp_path / "site")
    site.settled()
    expected = snapshot(site.root)
    if which == "original":
        (site.root / "img/logo.png").unlink()
    else:
        (hashed,) = [p for p in (site.root / "img").iterdir() if p.name != "logo.png"]
        hashed.unlink()
    site.collect()
    assert snapshot(site.root) == expected


def test_config_change_after_settling_rewrites(tmp_path):
    site = Site(tmp_path / "site")
    site.settled()
    site.configure("/assets/")
    site.collect()
    site.assert_equals_clean_build(tmp_path / "clean")


def test_a_watch_rebuild_between_runs_is_not_masked(tmp_path):
    site = Site(tmp_path / "site")
    site.settled()
    site.write("css/base.css", ".b { color: red; }\n")
    pipeline.run(load_config(site.path / "pyproject.toml"))  # what `doit watch` does
    site.write("css/base.css", FILES["css/base.css"])
    site.collect()
    site.assert_equals_clean_build(tmp_path / "clean")


def test_only_sources_stamped_since_the_copy_phase_began_are_racy(tmp_path):
    from staticpipe.options import RunOptions
    from staticpipe.phases import collect
    from staticpipe.sources import discovery

    site = Site(tmp_path / "site")
    config = load_config(site.path / "pyproject.toml")
    old, new = site.path / "assets" / "css" / "app.css", site.path / "assets" / "img" / "logo.png"
    os.utime(old, ns=(10**18, 10**18))  # 2001
    os.utime(new, ns=(time.time_ns() + 60 * 10**9,) * 2)  # a minute from now
    time.sleep(0.05)  # both ctimes (set just now) well before the copy phase
    if fsutil.fs_clock(tmp_path) is None:
        pytest.skip("no filesystem clock here: the wall-clock window applies to all")
    found = discovery.find_all(config)
    records = collect.collect(found, config, RunOptions(), lambda _: None).records
    assert records["img/logo.png"].racy
    assert not records["css/app.css"].racy
