"""No temporary name ever appears in static_root, where a server would expose it
if a killed run left it: temp names live in the state directory's ``tmp``, and
the next run removes what a killed one left there."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from projects import Project
from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer


class _Names(FileSystemEventHandler):
    """Every path created or moved to under a directory, as inotify reports it."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def on_any_event(self, event) -> None:
        with self.lock:
            self.seen.add(event.src_path)
            if getattr(event, "dest_path", ""):
                self.seen.add(event.dest_path)


def _names_created_during(root: Path, run) -> set[str]:
    handler = _Names()
    observer = Observer()
    observer.schedule(handler, str(root), recursive=True)
    observer.start()
    try:
        run()
        time.sleep(0.3)  # let the last events arrive
    finally:
        observer.stop()
        observer.join()
    return {str(Path(path).relative_to(root)) for path in handler.seen if path != str(root)}


@pytest.mark.parametrize("options", [(), ("--link",), ("--no-post-process",)])
def test_a_run_that_replaces_files_names_no_temp_file_in_static_root(tmp_path, options):
    project = Project(tmp_path / "site")
    for index in range(20):
        css = f".c{index} {{ background: url(../img/i{index}.png) }}\n"
        project.write(f"css/c{index}.css", css)
        project.write(f"img/i{index}.png", b"PNG%d" % index)
    project.doit("collect", *options)
    for index in range(20):  # every kind of file replaced: sources, hashed outputs, manifest
        project.write(f"css/c{index}.css", f".c{index} {{ color: red }}\n")
        project.write(f"img/i{index}.png", b"GIF%d" % index)

    seen = _names_created_during(project.root, lambda: project.doit("collect", *options))

    assert any(name.startswith("css/c0") for name in seen)  # the watch saw the run's writes
    assert [name for name in seen if re.search(r"\.tmp$", name)] == []


def test_temp_names_a_killed_run_left_are_removed_by_the_next(tmp_path):
    project = Project(tmp_path / "site")
    project.write("css/a.css", ".a {}\n")
    project.doit("collect")
    left = project.path / ".staticpipe" / "tmp" / "12345.0.tmp"  # as a killed run leaves one
    left.write_bytes(b"half")
    project.write("css/a.css", ".a { color: red }\n")
    project.doit("collect")
    assert not left.exists()
    assert project.manifest()["css/a.css"].startswith("css/a.")


def test_the_watchers_rebuilds_name_no_temp_file_in_static_root(tmp_path):
    project = Project(tmp_path / "site")
    project.write("css/a.css", ".a {}\n")
    project.doit("collect")
    watcher = subprocess.Popen(
        [sys.executable, "-m", "doit", "watch"], cwd=project.path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        time.sleep(1.5)  # its first run (nothing to do) and its watch started

        def edit_and_wait() -> None:
            before = project.manifest()["css/a.css"]
            project.write("css/a.css", ".a { color: blue }\n")
            deadline = time.monotonic() + 20
            while project.manifest()["css/a.css"] == before and time.monotonic() < deadline:
                time.sleep(0.05)

        seen = _names_created_during(project.root, edit_and_wait)
    finally:
        watcher.terminate()
        watcher.wait(timeout=20)
    assert "staticfiles.json" in seen  # the rebuild wrote the manifest
    assert [name for name in seen if name.endswith(".tmp")] == []


def test_static_root_on_its_own_mount_of_the_same_filesystem_builds(tmp_path):
    # a Docker bind mount or volume at static_root: same device number, but no
    # rename from the state directory into it (EXDEV): temp names go beside files
    project = Project(tmp_path / "site")
    project.write("css/a.css", ".a { background: url(../img/x.png) }\n")
    project.write("img/x.png", b"PNG1")
    real = tmp_path / "real"
    real.mkdir()
    project.root.mkdir(parents=True)
    mounted = subprocess.run(["mount", "--bind", str(real), str(project.root)],
                             capture_output=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip("cannot bind-mount here")
    try:
        project.doit("collect")
        project.write("img/x.png", b"PNG2")  # files replaced, and the manifest
        project.doit("collect")
        project.doit("collect", "--clear")
        manifest = project.manifest()
        assert (project.root / manifest["img/x.png"]).read_bytes() == b"PNG2"
        assert not [p for p in project.root.rglob("*") if p.name.endswith(".tmp")]
    finally:
        subprocess.run(["umount", str(project.root)], check=True)
