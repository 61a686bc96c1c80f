"""``doit watch`` latency: from a one-file change to the new staticfiles.json.

    python benchmarks/watch_latency.py [--size 10000] [--runs 10]

Generates bench.py's tree of ``--size`` files, starts a real ``doit watch`` in a
temp project on it, then, ``--runs`` times per kind of change, edits one file
and polls the manifest's inode (it is replaced atomically) every millisecond
until it changes. The time measured runs from the write to the new manifest:
event delivery, the watcher's debounce and the incremental pipeline. The
watcher's own "rebuilt in N ms" (the pipeline alone) is shown beside it.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import bench  # noqa: E402  (the generated tree)

TIMEOUT = 30.0


def signature(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_mtime_ns)


class Watch:
    def __init__(self, project: Path):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "doit", "watch"],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, count: int = 1) -> str:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            found = [line for line in self.lines if re.search(pattern, line)]
            if len(found) >= count:
                return found[count - 1]
            if self.proc.poll() is not None:
                raise SystemExit("doit watch exited:\n" + "\n".join(self.lines))
            time.sleep(0.01)
        raise SystemExit(f"timed out waiting for {pattern!r}")

    def stop(self) -> None:
        self.proc.send_signal(2)
        self.proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="staticpipe-watch-") as temp:
        work = Path(temp)
        tree = bench.generated_tree(work, args.size)
        project = work / "project"
        project.mkdir()
        dirs = ", ".join(f'"{d}"' for d in tree.dirs)
        (project / "pyproject.toml").write_text(
            f'[tool.staticpipe]\nstatic_root = "build/static"\ndirs = [{dirs}]\n'
        )
        (project / "dodo.py").write_text("from staticpipe.tasks import *  # noqa: F403\n")
        manifest = project / "build/static/staticfiles.json"
        base = tree.dirs[0]

        start = time.perf_counter()
        watch = Watch(project)
        first = watch.wait_for(r"^staticpipe: built in")
        watch.wait_for(r"^staticpipe: watching")
        wall = time.perf_counter() - start
        print(f"{tree.files:,} files; first build: {first} (wall {wall:.1f} s)")

        def leaf(counter: int) -> None:  # one image
            path = base / "app0000/img/img1.png"
            path.write_bytes(path.read_bytes() + f"edit {counter}".encode())

        def append_js(counter: int) -> None:
            with (base / "app0000/js/m3.js").open("a") as handle:
                handle.write(f"var edit{counter};\n")

        def atomic_css(counter: int) -> None:  # an editor's save: temp file + rename
            path = base / "app0000/css/c9.css"
            temp = path.with_name(f".c9.css.{counter}.tmp")
            temp.write_text(path.read_text() + f".edit{counter} {{ color: red; }}\n")
            os.replace(temp, path)

        kinds: list[tuple[str, Callable[[int], None]]] = [
            ("image edit", leaf),
            ("JS append", append_js),
            ("CSS atomic save", atomic_css),
            ("shared image (10 CSS referrers)", tree.edit_image),
        ]
        builds = len([line for line in watch.lines if re.match(r"staticpipe: (re)?built", line)])
        rows = []
        for label, change in kinds:
            latencies, pipeline_ms = [], []
            for run in range(args.runs):
                before = signature(manifest)
                t0 = time.perf_counter()
                change(run)
                while signature(manifest) == before:
                    if time.perf_counter() - t0 > TIMEOUT:
                        output = "\n".join(watch.lines)
                        raise SystemExit(f"no new manifest after {label}:\n{output}")
                    time.sleep(0.001)
                latencies.append((time.perf_counter() - t0) * 1000)
                builds += 1
                line = watch.wait_for(r"^staticpipe: rebuilt in", count=builds - 1)
                pipeline_ms.append(float(re.search(r"rebuilt in (\d+) ms", line).group(1)))
                time.sleep(0.15)  # let the build finish its clean-up before the next edit
            rows.append((label, latencies, pipeline_ms))
        watch.stop()

    print(
        f"\n| change ({args.runs} runs) | write -> new manifest: median | max | pipeline median |"
    )
    print("|---|---|---|---|")
    for label, latencies, pipeline_ms in rows:
        print(
            f"| {label} | {statistics.median(latencies):.0f} ms | {max(latencies):.0f} ms "
            f"| {statistics.median(pipeline_ms):.0f} ms |"
        )


if __name__ == "__main__":
    main()
