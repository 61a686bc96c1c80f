"""``doit watch``: a real doit subprocess in a temp project, real filesystem events.

Each test changes files the way users and their tools do and polls the manifest
(with a timeout) until the rebuild shows; the watcher's one line per build is
checked too. No test sleeps waiting for a build; the two that must show that
something did *not* trigger a build wait a short, fixed quiet period first.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from projects import Project

from staticpipe.config import from_mapping
from staticpipe.watcher import CONFIG, LAYOUT, SOURCE, Plan

TIMEOUT = 20.0
QUIET = 0.4  # longer than the watcher's debounce: what would have built has started


def wait_until(predicate: Callable[[], object], timeout: float = TIMEOUT, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except (OSError, ValueError, KeyError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(0.02)


class Doit:
    """A running ``doit`` subprocess whose output is read line by line in a thread."""

    def __init__(self, cwd: Path, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "doit", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def matching(self, pattern: str) -> list[str]:
        with self._lock:
            return [line for line in self.lines if re.search(pattern, line)]

    def wait_for(self, pattern: str, count: int = 1, timeout: float = TIMEOUT) -> str:
        def found() -> str | None:
            lines = self.matching(pattern)
            if len(lines) >= count:
                return lines[count - 1]
            if self.proc.poll() is not None:
                raise AssertionError(f"doit exited ({self.proc.returncode}):\n{self.output}")
            return None

        try:
            return wait_until(found, timeout, f"{pattern!r} x{count}")  # type: ignore[return-value]
        except AssertionError as error:
            raise AssertionError(f"{error}\noutput so far:\n{self.output}") from None

    def stop(self, sig: int = signal.SIGINT, timeout: float = TIMEOUT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._reader.join(timeout=5)


# One line per build, success or failure.
BUILDS = r"^staticpipe: (built|rebuilt|build failed|rebuild failed) "


@pytest.fixture
def project(tmp_path: Path) -> Project:
    project = Project(tmp_path / "site")
    project.write("css/app.css", 'body { background: url("../img/bg.png"); }\n')
    project.write("img/bg.png", b"png one")
    return project


@pytest.fixture
def watch(project: Project):
    """``doit watch`` running in ``project``, past its first build."""
    process = Doit(project.path, "watch")
    try:
        process.wait_for(r"^staticpipe: watching")
        yield process
    finally:
        returncode = process.stop()
    assert returncode == 0, process.output
    assert "stopped watching" in process.output


def manifest_changes(project: Project, before: dict[str, str]) -> Callable[[], dict | None]:
    def changed() -> dict | None:
        current = project.manifest()
        return current if current != before else None

    return changed


def test_first_build_then_an_edit_rebuilds_the_file_and_its_referrers(watch, project):
    before = project.manifest()
    assert set(before) == {"css/app.css", "img/bg.png"}
    assert watch.matching(r"^staticpipe: built in \d+ ms: 2 copied, 2 post-processed")

    project.write("img/bg.png", b"png two")
    after = wait_until(manifest_changes(project, before), what="a new manifest")

    assert after["img/bg.png"] != before["img/bg.png"]
    assert after["css/app.css"] != before["css/app.css"]  # it references bg.png
    css = (project.root / after["css/app.css"]).read_text()
    assert after["img/bg.png"].split("/")[-1] in css
    line = watch.wait_for(r"^staticpipe: rebuilt")
    assert re.match(
        r"staticpipe: rebuilt in \d+ ms: modified img/bg\.png; 1 copied, 2 post-processed$",
        line,
    ), line
    # the old versions stay, as Django keeps them (until pruned)
    assert (project.root / before["img/bg.png"]).exists()
    assert (project.root / before["css/app.css"]).exists()


def test_files_and_directories_added_removed_renamed(watch, project):
    assets = project.path / "assets"
    project.write("js/new.js", "console.log(1);\n")
    wait_until(lambda: "js/new.js" in project.manifest(), what="js/new.js added")

    (assets / "js/new.js").rename(assets / "js/renamed.js")
    wait_until(
        lambda: "js/renamed.js" in (m := project.manifest()) and "js/new.js" not in m,
        what="the file rename",
    )
    assert watch.wait_for(r"added js/renamed\.js; removed js/new\.js")

    (assets / "js").rename(assets / "scripts")
    wait_until(
        lambda: "scripts/renamed.js" in (m := project.manifest()) and "js/renamed.js" not in m,
        what="the directory rename",
    )

    (assets / "deep/er").mkdir(parents=True)
    (assets / "deep/er/x.txt").write_text("x")
    wait_until(lambda: "deep/er/x.txt" in project.manifest(), what="a new directory")

    (assets / "img/bg.png").unlink()
    project.write("css/app.css", "body { color: red; }\n")  # no longer references it
    wait_until(lambda: "img/bg.png" not in project.manifest(), what="a deletion")

    for path in sorted((assets / "deep").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    (assets / "deep").rmdir()
    wait_until(lambda: "deep/er/x.txt" not in project.manifest(), what="a directory deletion")
    # the removed sources' copies stay as old versions, as Django keeps them
    kept = {path.name for path in (project.root / "deep/er").iterdir()}
    assert "x.txt" in kept and len(kept) == 2, kept  # the copy and its hashed name


def test_atomic_saves_are_seen_and_swap_and_backup_files_ignored(watch, project):
    css = project.path / "assets/css/app.css"
    builds = len(watch.matching(BUILDS))

    # vim: a swap file, a backup of the original; neither is a static file.
    (css.parent / ".app.css.swp").write_bytes(b"swap")
    (css.parent / "app.css~").write_text("backup")
    (css.parent / ".#app.css").write_text("emacs lock")
    time.sleep(QUIET)
    assert len(watch.matching(BUILDS)) == builds, watch.output  # nothing was rebuilt

    # An atomic save: write a temp file, rename it over the original.
    before = project.manifest()
    temp = css.parent / ".app.css.tmp1234"
    temp.write_text("body { color: blue; }\n")
    os.replace(temp, css)
    after = wait_until(manifest_changes(project, before), what="the atomic save")
    assert "blue" in (project.root / after["css/app.css"]).read_text()
    assert not any("swp" in name or name.endswith("~") for name in after)
    assert not list(project.root.rglob("*.swp")) and not list(project.root.rglob("*~"))


def test_a_burst_of_changes_is_one_rebuild(watch, project):
    builds = len(watch.matching(BUILDS))
    burst = project.path / "assets/burst"
    burst.mkdir()
    for index in range(300):  # like a git checkout: many files at once
        (burst / f"f{index:03}.txt").write_text(f"file {index}")
    project.write("css/app.css", "body { color: green; }\n")

    wait_until(
        lambda: sum(name.startswith("burst/") for name in project.manifest()) == 300,
        what="300 new files in the manifest",
    )
    line = watch.wait_for(BUILDS, count=builds + 1)
    time.sleep(QUIET)
    assert len(watch.matching(BUILDS)) == builds + 1, watch.output
    assert re.search(r"added burst/f000\.txt, burst/f001\.txt, burst/f002\.txt and 297 more", line)
    assert "modified css/app.css" in line and "301 copied" in line


def test_a_failing_rebuild_keeps_the_last_good_build_and_keeps_watching(watch, project):
    good = project.manifest()
    manifest_bytes = (project.root / "staticfiles.json").read_bytes()

    project.write("css/app.css", 'body { background: url("../img/missing.png"); }\n')
    line = watch.wait_for(r"^staticpipe: rebuild failed")
    assert "missing referenced file" in watch.output and "img/missing.png" in watch.output
    assert watch.wait_for(r"still watching")
    assert (project.root / "staticfiles.json").read_bytes() == manifest_bytes
    for hashed in good.values():
        assert (project.root / hashed).is_file(), hashed
    assert re.match(r"staticpipe: rebuild failed after \d+ ms: ", line)

    project.write("img/missing.png", b"now it exists")
    after = wait_until(manifest_changes(project, good), what="the fixed build")
    assert "img/missing.png" in after
    assert watch.proc.poll() is None


def test_config_changes_reload_and_watch_new_locations(watch, project):
    more = project.path / "more"
    more.mkdir()
    (more / "extra.js").write_text("let a = 1;\n")

    # A broken config is reported; the previous one stays in force.
    project.write_config("[tool.staticpipe\n")
    watch.wait_for(r"config error \(keeping the previous configuration\)")
    project.write_config(
        '[tool.staticpipe]\nstatic_root = "build/static"\ndirs = ["assets", "more"]\n'
    )
    wait_until(lambda: "extra.js" in project.manifest(), what="the new location's file")
    assert watch.wait_for(r"config reloaded; added extra\.js")

    before = project.manifest()
    (more / "extra.js").write_text("let a = 2;\n")  # the new location is watched
    after = wait_until(manifest_changes(project, before), what="the edit in the new location")
    assert after["extra.js"] != before["extra.js"]


def test_a_location_that_appears_later_and_a_symlinked_directory(tmp_path):
    project = Project(
        tmp_path / "site",
        '[tool.staticpipe]\nstatic_root = "build/static"\ndirs = ["assets", "later/static"]\n',
    )
    project.write("a.txt", "a")
    outside = tmp_path / "vendor-src"
    outside.mkdir()
    (outside / "lib.js").write_text("var v = 1;\n")
    (project.path / "assets/vendor").symlink_to(outside, target_is_directory=True)
    process = Doit(project.path, "watch")
    try:
        process.wait_for(r"^staticpipe: watching")
        before = project.manifest()
        assert "vendor/lib.js" in before

        (outside / "lib.js").write_text("var v = 2;\n")  # edited through the link target
        after = wait_until(manifest_changes(project, before), what="the symlinked edit")
        assert after["vendor/lib.js"] != before["vendor/lib.js"]

        project.write("late.txt", "late", base="later/static")  # mkdir -p + write
        wait_until(lambda: "late.txt" in project.manifest(), what="the new location")
        before = project.manifest()
        project.write("late.txt", "later", base="later/static")  # and it is watched now
        wait_until(manifest_changes(project, before), what="an edit in the new location")
    finally:
        assert process.stop(signal.SIGTERM) == 0, process.output


def test_sigterm_stops_cleanly_with_exit_0(project):
    process = Doit(project.path, "watch")
    process.wait_for(r"^staticpipe: watching")
    assert process.stop(signal.SIGTERM) == 0
    assert process.output.rstrip().endswith("staticpipe: stopped watching.")


def test_a_broken_config_at_start_fails(project):
    project.write_config('[tool.staticpipe]\nstatic_root = "build/static"\nstorage = "nope"\n')
    process = Doit(project.path, "watch")
    returncode = process.proc.wait(TIMEOUT)
    process.stop()
    assert returncode != 0
    assert process.output.count('storage = "nope": expected one of') == 1


# -- which events matter (in process, no watching) ---------------------------------
def test_plan_classifies_events_like_the_finders(tmp_path):
    (tmp_path / "static/sub").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text("")
    config = from_mapping(
        {"static_root": "static/build", "dirs": ["static", "missing/static"], "ignore": ["*.map"]},
        tmp_path,
        tmp_path / "pyproject.toml",
    )
    plan = Plan(config)
    static = str(tmp_path / "static")

    def kind(path: str, is_dir: bool = False) -> str | None:
        change = plan.classify(str(tmp_path / path), is_dir)
        return change.kind if change else None

    assert kind("static/sub/a.css") == SOURCE
    assert kind("pyproject.toml") == CONFIG
    assert kind("static/.a.css.swp") is None
    assert kind("static/sub/a.css~") is None
    assert kind("static/CVS", is_dir=True) is None
    assert kind("static/.git/HEAD") is None  # inside an ignored directory
    assert kind("static/a.css.map") is None  # a user pattern
    assert kind("static/build/a.css") is None  # static_root inside a location
    assert kind("other/a.css") is None
    assert kind("missing", is_dir=True) == LAYOUT  # a parent of a missing location
    assert kind("static", is_dir=True) == LAYOUT  # a watched root itself
    assert (static, True) in plan.watches()
    assert (str(tmp_path), False) in plan.watches()  # config dir, missing's parent
    assert json.dumps(sorted(plan.watches()))  # plain data


def test_polling_observer_in_process(project):
    """The fallback when inotify limits are reached, driven in a thread."""
    from staticpipe.config import load_config
    from staticpipe.watcher import Watcher

    lines: list[str] = []
    results = []
    watcher = Watcher(
        lambda: load_config(project.path), polling=True, out=lines.append, on_build=results.append
    )
    watcher.start()
    assert type(watcher._observer).__name__ == "PollingObserver"
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    try:
        before = project.manifest()
        project.write("img/bg.png", b"polled")
        wait_until(manifest_changes(project, before), what="a rebuild seen by polling")
        wait_until(lambda: len(results) == 2, what="the on_build callback")
        assert results[1].changed and results[1].error is None
        assert results[1].names["modified"] == ["img/bg.png"]
    finally:
        watcher.stop()
        thread.join(TIMEOUT)
        watcher.close()
    assert not thread.is_alive()
    assert lines[0].startswith("staticpipe: built in")
