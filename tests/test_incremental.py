"""Property: whatever the edit sequence, an incremental `doit collect` equals a clean
build plus the old versions kept (as Django keeps them, each known to the journal
of retired outputs), and `doit prune` keeping no earlier build leaves exactly the
clean build."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from unittest import mock

from doit.cmd_base import ModuleTaskLoader
from doit.doit_cmd import DoitMain
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from old_outputs import PRUNE_ALL, old_versions_problems
from projects import snapshot

from staticpipe.config import load_config
from staticpipe.fs import fsutil
from staticpipe.phases import rewriting
from staticpipe.tasks import DOIT_CONFIG, make_tasks

# Timestamps are trusted this long after they were made (fsutil.RACY_NS, 2 s by
# default); "settle" waits past it, so the runs that follow take the fast paths
# (the last walk reused, the last complete run's stamp) as they do in real use.
RACY_NS = 50_000_000
SETTLE = RACY_NS / 1e9 + 0.03

IMAGES = ["img/a.png", "img/b.png", "img/sub/c.png"]
STYLES = ["css/a.css", "css/b.css", "css/sub/c.css", "vendor.css"]
OTHER = ["notes.txt", "js/app.js"]
NAMES = IMAGES + STYLES + OTHER

CONFIG = """\
[tool.staticpipe]
static_root = "build/static"
static_url = "{url}"
dirs = ["assets"]
missing = "ignore"
encoding_errors = "copy"
ignore = [{ignore}]
"""


def css_text(name: str, refs: list[str], url: str) -> str:
    """CSS referencing other files: relative, absolute and @import forms."""
    lines = []
    base = os.path.dirname(name)
    for index, ref in enumerate(refs):
        relative = os.path.relpath(ref, base or ".")
        if ref.endswith(".css"):
            lines.append(f'@import "{relative}";')
        elif index % 2:
            lines.append(f".r{index} {{ background: url({url}{ref}); }}")
        else:
            lines.append(f".r{index} {{ background: url('{relative}#frag'); }}")
    return "\n".join(lines) + "\n"


def content(name: str, seed: int, refs: list[str], url: str) -> bytes:
    if name.endswith(".css"):
        return css_text(name, refs, url).encode()
    if name.endswith(".js"):
        return f"console.log({seed});\n//# sourceMappingURL=app.js.map\n".encode()
    return b"\x89PNG" + bytes([seed % 256]) * (seed % 7 + 1)


writes = st.tuples(
    st.just("write"),
    st.sampled_from(NAMES),
    st.integers(0, 50),
    st.lists(st.sampled_from(IMAGES + STYLES), max_size=3),
)
operations = st.one_of(
    writes,
    st.tuples(st.just("delete"), st.sampled_from(NAMES)),
    st.tuples(st.just("rename"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
    st.tuples(st.just("restore_mtime_edit"), st.sampled_from(IMAGES), st.integers(0, 50)),
    st.tuples(st.just("config"), st.sampled_from(["/static/", "/s/"]), st.booleans()),
    st.tuples(st.just("settle")),
)


class Site:
    def __init__(self, path: Path):
        self.path = path
        self.assets = path / "assets"
        path.mkdir(parents=True, exist_ok=True)
        self.url, self.ignore_txt = "/static/", False
        self.write_config()

    def write_config(self) -> None:
        ignore = '"*.txt"' if self.ignore_txt else ""
        (self.path / "pyproject.toml").write_text(CONFIG.format(url=self.url, ignore=ignore))

    def apply(self, op: tuple) -> None:
        kind = op[0]
        if kind == "write":
            _, name, seed, refs = op
            target = self.assets / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content(name, seed, refs, self.url))
        elif kind == "delete":
            (self.assets / op[1]).unlink(missing_ok=True)
        elif kind == "rename":
            source, dest = self.assets / op[1], self.assets / op[2]
            if source.exists() and source != dest:
                dest.parent.mkdir(parents=True, exist_ok=True)
                source.rename(dest)
        elif kind == "restore_mtime_edit":
            target = self.assets / op[1]
            if target.exists():
                info = target.stat()
                old = target.read_bytes()
                target.write_bytes(bytes([(old[-1] + 1) % 256]) * len(old))
                os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))
        elif kind == "config":
            self.url, self.ignore_txt = op[1], op[2]
            self.write_config()
        elif kind == "settle":  # then a no-op run, which stamps a settled state
            time.sleep(SETTLE)
            self.collect()  # (refused when nothing is found: the step's run checks that)
            time.sleep(SETTLE)

    def collect(self) -> int:
        return self.doit("collect")

    def doit(self, *args: str) -> int:
        namespace = {
            **make_tasks(str(self.path / "pyproject.toml")),
            "DOIT_CONFIG": {**DOIT_CONFIG, "dep_file": str(self.path / ".doit.sqlite3")},
        }
        return DoitMain(ModuleTaskLoader(namespace)).run(list(args))

    def prune_all(self) -> int:
        """``doit prune`` with a policy that keeps no earlier build, whatever its age."""
        with (self.path / "pyproject.toml").open("a") as config:
            config.write(PRUNE_ALL)
        return self.doit("prune")


def assert_indexes_agree_with_entries(site: Site) -> None:
    """The post-processing state's indexes, patched run after run, are what
    its entries give when computed from scratch (the ledger's own check)."""
    assert rewriting.check(load_config(site.path / "pyproject.toml")) == []


def clean_build(site: Site, scratch: Path) -> dict:
    fresh = Site(scratch)
    fresh.url, fresh.ignore_txt = site.url, site.ignore_txt
    fresh.write_config()
    shutil.copytree(site.assets, fresh.assets, symlinks=True)
    assert fresh.collect() == 0
    return snapshot(fresh.path / "build/static")


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    initial=st.lists(writes, min_size=2, max_size=6),
    edits=st.lists(operations, min_size=1, max_size=6),
)
def test_incremental_runs_equal_a_clean_build_plus_old_versions(initial, edits):
    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(fsutil, "RACY_NS", RACY_NS):
        site = Site(Path(tmp, "site"))
        site.assets.mkdir()
        for op in initial:
            site.apply(op)
        assert site.collect() == 0
        root, state = site.path / "build/static", site.path / ".staticpipe"
        built = None  # the clean build the last run equals (plus old versions)
        for step, op in enumerate(edits):
            before = snapshot(root)
            site.apply(op)
            expected = clean_build(site, Path(tmp, f"clean{step}"))
            if site.collect() != 0:  # only a build that finds nothing after one that did
                assert found_nothing(expected) and not found_nothing(before), op
                assert snapshot(root) == before, op  # refused: the site left as it was
                built = None
                continue
            assert_indexes_agree_with_entries(site)
            problems = old_versions_problems(expected, snapshot(root), root, state)
            assert not problems, (op, problems[:10])
            built = expected
        if built is not None:  # the old versions pruned: the clean build, exactly
            assert site.prune_all() == 0
            assert snapshot(root) == built


def found_nothing(built: dict) -> bool:
    """Whether a build (a snapshot of static_root) collected no file: its
    manifest names none (old versions of earlier builds may be there)."""
    manifest = built.get("staticfiles.json")
    return not built if manifest is None else not json.loads(manifest)["paths"]
