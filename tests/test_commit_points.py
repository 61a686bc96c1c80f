"""A crash at each commit point of every kind of run, then a normal run, equals a clean build.

A *commit point* is a durable write of the pipeline (staticpipe/ledger/crash.py):
each ledger transaction, each atomic replacement of staticfiles.json,
staticfiles.integrity.json and the other files it keeps, each batch of
deletions. ``STATICPIPE_COMMIT_LOG`` makes a run list the points it passes;
``STATICPIPE_CRASH_AT=k`` makes it die at the k-th (``os._exit(137)``, like
SIGKILL: no cleanup).

For each kind of run (incremental after edits of every kind, full from no
state, ``--clear``, ``--no-post-process``, a settings switch, ``doit prune``)
on a small project with ``compress = ["gzip"]`` and ``integrity = "sha384"``:
the state before the run is saved; one run counts its N points; then for each
k in 1..N the state is restored, ``doit`` runs (a real subprocess) and dies at
point k, and

- the tree must be consistent right after the crash (``check_root``: the
  manifest parses, names existing files whose md5 is in their names, their CSS
  references resolve, no temp file; every ``.gz`` decompresses to the file
  beside it; the integrity values of files present are right; a manifest that
  was there still is);
- the same command run again normally must end as the un-crashed run would: a
  clean build of the same sources and settings plus old versions the journal
  knows (``old_outputs.old_versions_problems``), and, once every earlier
  build is pruned, exactly the clean build.

The restored outputs are copies (new inodes and ctimes), so the runs here take
no fast path that trusts an output's identity (the manifest patch): the same
commit points, not the same work. Failures are collected and reported with the
kind, k and the label of the point.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from random import Random

import pytest
from old_outputs import PRUNE_ALL, kept_versions, old_versions_problems
from projects import Project, snapshot
from test_kill import check_root

from staticpipe.config import Retention, load_config
from staticpipe.ledger import state
from staticpipe.phases import cleanup

BASE = """\
[tool.staticpipe]
static_root = "build/static"
dirs = ["assets"]
"""
CONFIG = BASE + 'compress = ["gzip"]\nintegrity = "sha384"\n'
SWITCHED = BASE + 'integrity = "sha512"\n'  # compress switched off, integrity redone
INTEGRITY = "staticfiles.integrity.json"
MANIFEST = "staticfiles.json"
SOURCES = "assets"
TIMEOUT = 120


# -- the project: a few dozen files, CSS referring to images and to each other ----
def pad(text: str, lines: int = 30) -> str:
    """``text`` with compressible filler (so gzip is worth it)."""
    return text + "".join(f".p{i} {{ margin: {i}px; color: #{i:06x}; }}\n" for i in range(lines))


def binary(rng: Random, size: int = 600) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + rng.randbytes(size)


def js(tag: str) -> str:
    return "".join(f"function {tag}{i}() {{ return {i} * 2; }}\n" for i in range(40))


def base_sources(seed: int = 12) -> dict[str, str | bytes]:
    rng = Random(seed)
    files: dict[str, str | bytes] = {
        "css/reset.css": pad("html { margin: 0 }\n.bg { background: url(../img/bg.png) }\n"),
        "css/base.css": pad(
            '@import "reset.css";\n.logo { background: url("../img/logo.png") }\n'
            "@font-face { src: url(../fonts/f.woff2) }\n"
        ),
        "css/pages/home.css": pad(
            '@import "../base.css";\n.i1 { background: url(../../img/icons/i1.png) }\n'
        ),
        "css/pages/about.css": pad(
            ".i2 { background: url(/static/img/icons/i2.png) }\n"
            ".i3 { background: url('../../img/icons/i3.png?v=2') }\n"
        ),
        "js/app.js": js("app"),
        "js/lib/util.js": js("util"),
        "img/logo.png": binary(rng),
        "img/bg.png": binary(rng),
        "fonts/f.woff2": b"wOF2" + rng.randbytes(500),
        "txt/readme.txt": "read me\n" * 200,
    }
    for i in range(1, 5):
        files[f"img/icons/i{i}.png"] = binary(rng, 300)
    for i in range(8):
        files[f"img/gen/p{i}.png"] = binary(rng, 200 + 100 * i)
    for i in range(8):  # g{i} refers to p{i} and p{i+1}
        files[f"css/gen/g{i}.css"] = pad(
            f".a {{ background: url(../../img/gen/p{i}.png) }}\n"
            f".b {{ background: url(/static/img/gen/p{(i + 1) % 8}.png#x) }}\n",
            10 + i,
        )
    for i in range(6):
        files[f"js/gen/m{i}.js"] = js(f"m{i}_")
    return files


def write(base: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)


def edit_sources(base: Path) -> None:
    """An edit of every kind: add, edit, delete, rename (a file and a CSS file,
    referrers rewritten), a CSS edit whose referrers change (base.css and
    home.css import reset.css), an image edit whose CSS referrers change."""
    rng = Random(99)
    write(
        base,
        {
            # added
            "css/pages/contact.css": pad(".c { background: url(../../img/logo.png) }\n"),
            "img/new.png": binary(rng),
            "js/gen/new.js": js("added"),
            # edited
            "js/app.js": js("app2"),
            "css/reset.css": pad("html { margin: 1px }\n.bg { background: url(../img/bg.png) }\n"),
            "img/gen/p0.png": binary(rng, 250),  # g0 and g7 refer to it
        },
    )
    # deleted
    (base / "js/lib/util.js").unlink()
    (base / "img/icons/i4.png").unlink()
    # renamed: an image (its referrer rewritten), a CSS file (to another directory)
    os.rename(base / "img/icons/i3.png", base / "img/i3-moved.png")
    write(
        base,
        {
            "css/pages/about.css": pad(
                ".i2 { background: url(/static/img/icons/i2.png) }\n"
                ".i3 { background: url('../../img/i3-moved.png?v=2') }\n"
            )
        },
    )
    (base / "css/moved").mkdir()
    os.rename(base / "css/gen/g5.css", base / "css/moved/g5.css")  # its references still hold


# -- the kinds of run ------------------------------------------------------------------
@dataclass(frozen=True)
class Kind:
    name: str
    argv: tuple[str, ...]  # doit's arguments: the run crashed, then run again
    prepare: Callable[[Project], None]  # sources, config and state before that run
    clean_argv: tuple[str, ...] = ("collect",)  # a clean build of the same sources


def built_then_edited(project: Project) -> None:
    project.doit("collect")
    edit_sources(project.path / SOURCES)


def edited_only(project: Project) -> None:
    edit_sources(project.path / SOURCES)


def switched(project: Project) -> None:
    built_then_edited(project)
    project.write_config(SWITCHED)


def to_prune(project: Project) -> None:
    built_then_edited(project)
    project.doit("collect")
    project.write_config(CONFIG + PRUNE_ALL)


KINDS = {
    kind.name: kind
    for kind in (
        Kind("incremental", ("collect",), built_then_edited),
        Kind("full", ("collect",), edited_only),
        Kind("clear", ("collect", "--clear"), built_then_edited),
        Kind(
            "no_post_process",
            ("collect", "--no-post-process"),
            built_then_edited,
            ("collect", "--no-post-process"),
        ),
        Kind("switch", ("collect",), switched),
        Kind("prune", ("prune",), to_prune),
    )
}


# -- checks ----------------------------------------------------------------------------
def sibling_problems(root: Path) -> list[str]:
    """Every ``.gz`` has its file beside it and decompresses to its bytes."""
    problems = []
    for path in sorted(root.rglob("*.gz")):
        name = path.relative_to(root).as_posix()
        base = path.with_suffix("")
        if not base.is_file():
            problems.append(f"{name}: no {base.name} beside it")
        elif gzip.decompress(path.read_bytes()) != base.read_bytes():
            problems.append(f"{name}: decompresses to other bytes than {base.name}'s")
    return problems


def integrity_problems(root: Path) -> list[str]:
    """Every value of a file in ``root`` is right for its bytes."""
    try:
        data = json.loads((root / INTEGRITY).read_bytes())
    except FileNotFoundError:
        return []
    except ValueError as error:
        return [f"{INTEGRITY} unreadable: {error!r}"]
    problems = []
    for name, value in data["integrity"].items():
        path = root / name
        if path.is_file():
            digest = hashlib.new(data["algorithm"], path.read_bytes()).digest()
            if value != f"{data['algorithm']}-" + base64.b64encode(digest).decode():
                problems.append(f"{name}: {value} is not the value of its bytes")
    return problems


def consistency_problems(root: Path) -> list[str]:
    problems = [f"{c}: {d}" for c, details in sorted(check_root(root).items()) for d in details]
    return problems + sibling_problems(root) + integrity_problems(root)


def without_old_values(
    clean: dict[str, bytes | str], actual: dict[str, bytes | str], root: Path, state_dir: Path
) -> tuple[dict[str, bytes | str], list[str]]:
    """``actual`` with its integrity file as a clean build's if it differs only by
    values of old versions (phases/integrity.py: the file also names the build
    it replaces, so that a reader of either manifest finds its values), and the
    problems with those: each must be of an old version the journal knows, or
    of a file no longer there (pruned)."""
    if INTEGRITY not in clean or INTEGRITY not in actual:
        return actual, []
    want, got = json.loads(clean[INTEGRITY]), json.loads(actual[INTEGRITY])
    if got["algorithm"] != want["algorithm"]:
        return actual, []
    kept = kept_versions(root, state_dir)
    extra = set(got["integrity"]) - set(want["integrity"])
    problems = [
        f"{INTEGRITY}: a value of {name}, neither current nor an old version"
        for name in sorted(extra)
        if name not in kept and os.path.lexists(root / name)
    ]
    values = {name: value for name, value in got["integrity"].items() if name not in extra}
    if values == want["integrity"]:
        actual = {**actual, INTEGRITY: clean[INTEGRITY]}
    return actual, problems


def prune_all(project: Project) -> None:
    """``doit prune`` keeping no earlier build (in-process: what its task calls)."""
    config = load_config(project.path / "pyproject.toml")
    config = dataclasses.replace(config, retention=Retention(builds=1, age=0))
    try:
        cleanup.prune(config)
    finally:
        state.close_all()


# -- the harness -------------------------------------------------------------------------
@dataclass
class Failure:
    kind: str
    k: int
    label: str
    category: str
    detail: str


@dataclass
class Harness:
    tmp: Path
    kind: Kind
    points: list[str] = field(default_factory=list)  # the labels of 1..N
    failures: list[Failure] = field(default_factory=list)
    runs: int = 0

    def __post_init__(self) -> None:
        self.project = Project(self.tmp / self.kind.name, CONFIG)
        self.saved = self.tmp / (self.kind.name + "-saved")
        self.logs = self.tmp / (self.kind.name + "-logs")
        self.logs.mkdir()

    # the project's state: everything but the sources (outputs, state, doit's
    # database, the configuration)
    def _outputs(self, directory: Path) -> list[Path]:
        return [path for path in directory.iterdir() if path.name != SOURCES]

    def save(self) -> None:
        self.saved.mkdir()
        for path in self._outputs(self.project.path):
            copy(path, self.saved / path.name)

    def restore(self) -> None:
        for path in self._outputs(self.project.path):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        for path in self._outputs(self.saved):
            copy(path, self.project.path / path.name)

    def doit(self, argv: tuple[str, ...], **env: str) -> subprocess.CompletedProcess:
        self.runs += 1
        return subprocess.run(
            [sys.executable, "-m", "doit", *argv],
            cwd=self.project.path,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env={**os.environ, **env},
        )

    def fail(self, k: int, label: str, category: str, detail: str) -> None:
        self.failures.append(Failure(self.kind.name, k, label, category, detail))

    # the steps
    def prepare(self) -> None:
        write(self.project.path / SOURCES, base_sources())
        self.kind.prepare(self.project)
        time.sleep(0.05)  # (the edits older than the runs' clock: no racy sources)
        self.save()

    def clean_build(self) -> dict[str, bytes | str]:
        clean = Project(self.tmp / (self.kind.name + "-clean"), CONFIG)
        clean.write_config((self.project.path / "pyproject.toml").read_text())
        shutil.copytree(self.project.path / SOURCES, clean.path / SOURCES)
        result = clean.doit(*self.kind.clean_argv, check=False)
        assert result.returncode == 0, f"clean build failed: {result.stdout}{result.stderr}"
        return snapshot(clean.root)

    def count(self) -> None:
        """The un-crashed run: its points, and the same end checks as after a crash."""
        self.restore()
        log = self.logs / "count.log"
        result = self.doit(self.kind.argv, STATICPIPE_COMMIT_LOG=str(log))
        assert result.returncode == 0, f"un-crashed run failed: {result.stdout}{result.stderr}"
        self.points = read_log(log)
        assert self.points, "the run passed no commit point"

    def crash_at(self, k: int, clean: dict[str, bytes | str]) -> None:
        self.restore()
        root = self.project.root
        had_manifest = (root / MANIFEST).exists()
        log = self.logs / f"crash-{k}.log"
        result = self.doit(
            self.kind.argv, STATICPIPE_CRASH_AT=str(k), STATICPIPE_COMMIT_LOG=str(log)
        )
        passed = read_log(log)
        label = passed[-1] if passed else "?"
        if result.returncode != 137:
            self.fail(k, label, "did-not-crash", f"exit {result.returncode}: {tail(result)}")
        elif passed != self.points[:k]:
            self.fail(k, label, "other-points", f"passed {passed}, counted {self.points[:k]}")
        for problem in consistency_problems(root):
            self.fail(k, label, "inconsistent-after-crash", problem)
        if had_manifest and not (root / MANIFEST).exists():
            self.fail(k, label, "manifest-lost", "no staticfiles.json after the crash")
        self.finish(k, label, clean)

    def finish(self, k: int, label: str, clean: dict[str, bytes | str]) -> None:
        """The same command again, normally: it must end as a clean build (plus
        old versions the journal knows; exactly, once they are pruned)."""
        root, state_dir = self.project.root, self.project.state
        result = self.doit(self.kind.argv)
        if result.returncode != 0:
            self.fail(k, label, "rerun-failed", f"exit {result.returncode}: {tail(result)}")
            return
        for problem in consistency_problems(root):
            self.fail(k, label, "inconsistent-after-rerun", problem)
        temp = self.project.state / "tmp"
        left = sorted(p.name for p in temp.rglob("*") if p.is_file()) if temp.exists() else []
        if left:
            self.fail(k, label, "state-temp-left", ", ".join(left[:5]))
        actual, problems = without_old_values(clean, snapshot(root), root, state_dir)
        problems += old_versions_problems(clean, actual, root, state_dir)
        for problem in problems:
            self.fail(k, label, "rerun-differs-from-clean", problem)
        prune_all(self.project)
        actual, problems = without_old_values(clean, snapshot(root), root, state_dir)
        for problem in problems + differences(clean, actual):
            self.fail(k, label, "pruned-differs-from-clean", problem)

    def summary(self, seconds: float) -> str:
        lines = [
            f"{self.kind.name} ({' '.join(self.kind.argv)}): {len(self.points)} commit points, "
            f"{self.runs} doit runs in {seconds:.1f}s",
            *(f"  {k}: {label}" for k, label in enumerate(self.points, 1)),
        ]
        groups: dict[tuple[int, str, str], list[str]] = {}
        for failure in self.failures:
            groups.setdefault((failure.k, failure.label, failure.category), []).append(
                failure.detail
            )
        if groups:
            lines.append(f"{len(self.failures)} failures (kind, k, point: category: details):")
        for (k, label, category), details in sorted(groups.items()):
            shown = "; ".join(detail[:200] for detail in details[:3])
            more = f" (+{len(details) - 3} more)" if len(details) > 3 else ""
            lines.append(f"  {self.kind.name}, k={k}, {label}: {category}: {shown}{more}")
        return "\n".join(lines)


def copy(src: Path, dest: Path) -> None:
    if src.is_dir() and not src.is_symlink():
        shutil.copytree(src, dest, symlinks=True)
    else:
        shutil.copy2(src, dest, follow_symlinks=False)


def read_log(path: Path) -> list[str]:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    return [line.partition("\t")[2] for line in lines]


def tail(result: subprocess.CompletedProcess, lines: int = 4) -> str:
    return " | ".join((result.stdout + result.stderr).strip().splitlines()[-lines:])


def differences(want: dict[str, bytes | str], got: dict[str, bytes | str]) -> list[str]:
    diffs = [f"missing: {name}" for name in sorted(set(want) - set(got))]
    diffs += [f"extra: {name}" for name in sorted(set(got) - set(want))]
    return diffs + [f"bytes differ: {n}" for n in sorted(set(want) & set(got)) if want[n] != got[n]]


def enumerate_points(tmp: Path, name: str) -> Harness:
    started = time.monotonic()
    harness = Harness(tmp, KINDS[name])
    harness.prepare()
    clean = harness.clean_build()
    harness.count()
    harness.finish(0, "(no crash)", clean)  # the checks hold for the un-crashed run
    if harness.failures:
        pytest.fail("un-crashed run:\n" + harness.summary(time.monotonic() - started), False)
    for k in range(1, len(harness.points) + 1):
        harness.crash_at(k, clean)
    report = harness.summary(time.monotonic() - started)
    print(report)
    if harness.failures:
        pytest.fail(report, pytrace=False)
    return harness


def test_crash_at_every_commit_point_of_an_incremental_run(tmp_path: Path) -> None:
    harness = enumerate_points(tmp_path, "incremental")
    labels = set(harness.points)  # the points an incremental run must pass
    assert {"ledger:collect", "ledger:post", "ledger:compress", "ledger:integrity"} <= labels
    assert {"file:staticfiles.json", "file:staticfiles.integrity.json"} <= labels


@pytest.mark.slow
@pytest.mark.parametrize("kind", [name for name in KINDS if name != "incremental"])
def test_crash_at_every_commit_point(tmp_path: Path, kind: str) -> None:
    enumerate_points(tmp_path, kind)


def test_no_points_logged_without_the_variables(tmp_path: Path) -> None:
    """Unset, the hook does nothing: a run writes no log and does not crash."""
    project = Project(tmp_path / "p", CONFIG)
    write(project.path / SOURCES, {"a.css": "body { color: red }\n"})
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATICPIPE_C")}
    result = subprocess.run(
        [sys.executable, "-m", "doit", "collect"],
        cwd=project.path, capture_output=True, text=True, timeout=TIMEOUT, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (project.root / MANIFEST).exists()
