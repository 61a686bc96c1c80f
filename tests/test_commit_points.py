"""A crash at each commit point of every kind of run, then a normal run, equals a clean build.

A *commit point* is a durable write of the pipeline (staticpipe/ledger/crash.py):
each ledger transaction, each atomic replacement of staticfiles.json,
staticfiles.integrity.json and the other files it keeps, each batch of
deletions. ``STATICPIPE_COMMIT_LOG`` makes a run list the points it passes;
``STATICPIPE_CRASH_AT=k`` makes it die at the k-th (``os._exit(137)``, like
SIGKILL: no cleanup).

For each kind of run (incremental after edits of every kind, full from no
state, ``--clear``, ``--no-post-process``, ``--link``, ``python -m staticpipe``,
compression switched off and another integrity algorithm, ``doit prune``) on a small project with
``compress = ["gzip"]`` and ``integrity = "sha384"``: the state before the run
is saved; one run counts its N points (and the doit task doit announced last
before each: a phase's check runs before its task is announced); then for each
k in 1..N the state is restored, ``doit`` runs (a real subprocess) and dies at
point k, and

- the tree must be consistent right after the crash (``check_root``: the
  manifest parses, names existing files whose md5 is in their names, their CSS
  references resolve, no temp file; every ``.gz`` decompresses to the file
  beside it; the integrity values of files present are right, and the
  manifest's hashed files have one; a manifest that was there still is);
- the same command run again normally must end as the un-crashed run would: a
  clean build of the same sources and settings plus old versions the journal
  knows (``old_outputs.old_versions_problems``; the integrity file may also
  hold the values of the build it replaced), and, once every earlier build is
  pruned, exactly the clean build (``--no-post-process``: exactly what the
  un-crashed run left).

Two projects of each kind, prepared alike, take every other k side by side
(the time goes to doit subprocesses). The restored outputs are copies (new
inodes and ctimes), so these runs take no fast path that trusts an output's
identity (the manifest patch): the same commit points, not quite the same
work. Failures are collected and reported with the kind, k, task and label of
the point; ``KNOWN`` lists those whose fix belongs elsewhere.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
TASK_LINE = re.compile(r"^(?:\.|--)  (\S+)$")  # doit: a task run (.) or up to date (--)


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
        "media/clip": rng.randbytes(400),  # a file where the edits put a directory
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
    home.css import reset.css), an image edit whose CSS referrers change, a
    file replaced by a directory of the same name."""
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
    # a file made a directory: its old copy is in the way of the new one's
    (base / "media/clip").unlink()
    write(base, {"media/clip/frame.png": binary(rng, 300)})
    (base / "css/moved").mkdir()
    os.rename(base / "css/gen/g5.css", base / "css/moved/g5.css")  # its references still hold


# -- the kinds of run ------------------------------------------------------------------
@dataclass(frozen=True)
class Kind:
    name: str
    argv: tuple[str, ...]  # doit's arguments: the run crashed, then run again
    prepare: Callable[[Project], None]  # sources, config and state before that run
    # what the run again must end as: "clean", a clean build of the same sources
    # and settings (plus old versions); "uncrashed", what the run ends as without
    # a crash (--no-post-process: Django's leaves the last manifest and hashed
    # files as they are, and so does staticpipe, which no clean build has)
    oracle: str = "clean"
    workers: int = 2  # projects crashed side by side (at most; one if a single core)
    module: str = "doit"  # what ``python -m`` runs: doit, or staticpipe (its own loader)


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
        Kind("no_post_process", ("collect", "--no-post-process"), built_then_edited, "uncrashed"),
        # (symlinks to this project's sources: a clean build elsewhere links elsewhere)
        Kind("link", ("collect", "--link"), built_then_edited, "uncrashed"),
        Kind("module", ("collect",), built_then_edited, module="staticpipe"),  # (no dodo.py)
        Kind("switch", ("collect",), switched),
        Kind("prune", ("prune",), to_prune, workers=1),  # (2 points)
    )
}


@dataclass
class Failure:
    kind: str
    k: int
    label: str
    category: str
    detail: str


# Failures found here whose fix belongs to a module being reworked elsewhere:
# (kind, category, text of the detail) -> what is wrong. They are printed, not
# failed; one no longer seen fails the test (remove it here once fixed).
KNOWN: dict[tuple[str, str, str], str] = {}


def known(failure: Failure) -> tuple[str, str, str] | None:
    for key in KNOWN:
        kind, category, text = key
        if failure.kind == kind and failure.category == category and text in failure.detail:
            return key
    return None


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


def integrity_algorithm(root: Path) -> str | None:
    try:
        return json.loads((root / INTEGRITY).read_bytes())["algorithm"]
    except (OSError, ValueError, KeyError):
        return None


def integrity_problems(root: Path, before: str | None) -> list[str]:
    """Every value of a file in ``root`` is right for its bytes, and a reader of
    the manifest in place finds each of its hashed files' values, unless the
    run switched algorithms (``before``: the one the run found; the old
    manifest's files then go without, phases/integrity.py)."""
    try:
        data = json.loads((root / INTEGRITY).read_bytes())
    except FileNotFoundError:
        return []
    except ValueError as error:
        return [f"{INTEGRITY} unreadable: {error!r}"]
    problems = []
    algorithm, values = data["algorithm"], data["integrity"]
    for name, value in values.items():
        path = root / name
        if path.is_file():
            digest = hashlib.new(algorithm, path.read_bytes()).digest()
            if value != f"{algorithm}-" + base64.b64encode(digest).decode():
                problems.append(f"{name}: {value} is not the value of its bytes")
    if before not in (None, algorithm) or not (root / MANIFEST).exists():
        return problems
    for name, hashed in json.loads((root / MANIFEST).read_bytes())["paths"].items():
        if hashed not in values:
            problems.append(f"{name}: its hashed file {hashed} has no value in {INTEGRITY}")
    return problems


def consistency_problems(root: Path, before: str | None = None) -> list[str]:
    """What ``check_root`` finds, and what is wrong with the ``.gz`` files and
    the integrity values (``before``: the integrity algorithm the run found)."""
    problems = [f"{c}: {d}" for c, details in sorted(check_root(root).items()) for d in details]
    return problems + sibling_problems(root) + integrity_problems(root, before)


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


# staticpipe in this process (the journal read, prune) for one worker at a time:
# its ledger keeps databases open per process (state.py)
IN_PROCESS = threading.Lock()


def prune_all(project: Project) -> None:
    """``doit prune`` keeping no earlier build (in-process: what its task calls)."""
    config = load_config(project.path / "pyproject.toml")
    config = dataclasses.replace(config, retention=Retention(builds=1, age=0))
    cleanup.prune(config)


# -- the harness -------------------------------------------------------------------------
CORES = os.cpu_count() or 1


@dataclass
class Harness:
    """One project, prepared for the run of ``kind``; ``index`` tells the
    projects of one kind apart (each prepared on its own, as alike as can be)."""

    tmp: Path
    kind: Kind
    index: int = 0
    points: list[str] = field(default_factory=list)  # the labels of 1..N
    phases: list[str] = field(default_factory=list)  # the doit task running at each
    failures: list[Failure] = field(default_factory=list)
    runs: int = 0

    def __post_init__(self) -> None:
        name = f"{self.kind.name}-{self.index}"
        self.project = Project(self.tmp / name, CONFIG)
        self.saved = self.tmp / (name + "-saved")
        self.logs = self.tmp / (name + "-logs")
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
            [sys.executable, "-m", self.kind.module, *argv],
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
        result = clean.doit("collect", check=False)
        assert result.returncode == 0, f"clean build failed: {result.stdout}{result.stderr}"
        return snapshot(clean.root)

    def count(self) -> None:
        """The un-crashed run: its points, and the doit task (the phase) each is
        passed in (doit's unbuffered output and the points appended to one file)."""
        self.restore()
        log = self.logs / "count.log"
        self.runs += 1
        with log.open("ab") as out:
            code = subprocess.run(
                [sys.executable, "-m", self.kind.module, *self.kind.argv],
                cwd=self.project.path,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=TIMEOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", "STATICPIPE_COMMIT_LOG": str(log)},
            ).returncode
        lines = log.read_text().splitlines()
        assert code == 0, "un-crashed run failed: " + " | ".join(lines[-5:])
        task = "-"
        for line in lines:
            number, tab, label = line.partition("\t")
            if tab and number.isdigit():
                self.points.append(label)
                self.phases.append(task)
            elif match := TASK_LINE.match(line):
                task = match.group(1)
        assert self.points, "the run passed no commit point"

    def where(self, k: int, passed: list[str]) -> str:
        """Point ``k`` as ``task: label``, if the run passed the counted ones."""
        if passed == self.points[:k]:
            return f"{self.phases[k - 1]}: {self.points[k - 1]}"
        return passed[-1] if passed else "?"

    def crash_at(self, k: int, expected: dict[str, bytes | str]) -> None:
        self.restore()
        root = self.project.root
        had_manifest = (root / MANIFEST).exists()
        algorithm = integrity_algorithm(root)
        log = self.logs / f"crash-{k}.log"
        result = self.doit(
            self.kind.argv, STATICPIPE_CRASH_AT=str(k), STATICPIPE_COMMIT_LOG=str(log)
        )
        passed = read_log(log)
        label = self.where(k, passed)
        if result.returncode != 137:
            self.fail(k, label, "did-not-crash", f"exit {result.returncode}: {tail(result)}")
        elif passed != self.points[:k]:
            self.fail(k, label, "other-points", f"passed {passed}, counted {self.points[:k]}")
        for problem in consistency_problems(root, algorithm):
            self.fail(k, label, "inconsistent-after-crash", problem)
        if had_manifest and not (root / MANIFEST).exists():
            self.fail(k, label, "manifest-lost", "no staticfiles.json after the crash")
        self.finish(k, label, expected)

    def finish(self, k: int, label: str, expected: dict[str, bytes | str]) -> None:
        """The same command again, normally: it must end as a clean build (plus
        old versions the journal knows; exactly, once they are pruned), or as
        the un-crashed run (``expected``: either's files)."""
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
        if self.kind.oracle == "uncrashed":
            for problem in differences(expected, snapshot(root)):
                self.fail(k, label, "rerun-differs-from-uncrashed", problem)
            return
        with IN_PROCESS:
            try:
                actual, problems = without_old_values(expected, snapshot(root), root, state_dir)
                problems += old_versions_problems(expected, actual, root, state_dir)
                prune_all(self.project)
                pruned, after = without_old_values(expected, snapshot(root), root, state_dir)
            finally:
                state.close_all()
        for problem in problems:
            self.fail(k, label, "rerun-differs-from-clean", problem)
        for problem in after + differences(expected, pruned):
            self.fail(k, label, "pruned-differs-from-clean", problem)


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


def summary(harness: Harness, failures: list[Failure], runs: int, took: float) -> str:
    kind = harness.kind
    lines = [
        f"{kind.name} ({' '.join(kind.argv)}): {len(harness.points)} commit points, "
        f"{runs} doit runs on {workers(kind)} projects in {took:.1f}s",
        "(k: the task doit announced last: the point)",
        *(
            f"  {k}: {harness.where(k, harness.points[:k])}"
            for k in range(1, len(harness.points) + 1)
        ),
    ]
    groups: dict[tuple[int, str, str], list[str]] = {}
    for failure in failures:
        groups.setdefault((failure.k, failure.label, failure.category), []).append(failure.detail)
    if groups:
        lines.append(f"{len(failures)} failures (kind, k, point: category: details):")
    for (k, label, category), details in sorted(groups.items()):
        shown = "; ".join(detail[:200] for detail in details[:3])
        more = f" (+{len(details) - 3} more)" if len(details) > 3 else ""
        lines.append(f"  {kind.name}, k={k}, {label}: {category}: {shown}{more}")
    return "\n".join(lines)


def workers(kind: Kind) -> int:
    return max(1, min(kind.workers, CORES))


def on_each(harnesses: list[Harness], step: Callable[[Harness], object]) -> None:
    """``step`` on every project at once (each on a thread: they wait on doit)."""
    with ThreadPoolExecutor(len(harnesses)) as pool:
        for future in [pool.submit(step, harness) for harness in harnesses]:
            future.result()


def enumerate_points(tmp: Path, name: str) -> list[str]:
    """Every commit point of the run ``name``, crashed at and recovered from; the
    points' labels. Fails with every failure found."""
    started = time.monotonic()
    kind = KINDS[name]
    harnesses = [Harness(tmp, kind, index) for index in range(workers(kind))]
    on_each(harnesses, Harness.prepare)
    clean = harnesses[0].clean_build() if kind.oracle == "clean" else {}
    on_each(harnesses, Harness.count)
    points = harnesses[0].points
    for harness in harnesses[1:]:
        assert harness.points == points, f"{harness.points} in one project, {points} in another"
    expected = {
        harness.index: clean if kind.oracle == "clean" else snapshot(harness.project.root)
        for harness in harnesses
    }

    harnesses[0].finish(0, "(no crash)", expected[0])  # the checks hold un-crashed
    failures = harnesses[0].failures
    if failures:
        runs = sum(harness.runs for harness in harnesses)
        report = summary(harnesses[0], failures, runs, time.monotonic() - started)
        pytest.fail("un-crashed run:\n" + report, pytrace=False)

    def crashes(harness: Harness) -> None:  # k = index + 1, index + 1 + workers, ...
        for k in range(harness.index + 1, len(points) + 1, len(harnesses)):
            harness.crash_at(k, expected[harness.index])

    on_each(harnesses, crashes)
    failures = sorted(
        (failure for harness in harnesses for failure in harness.failures),
        key=lambda failure: failure.k,
    )
    seen = {known(failure) for failure in failures} - {None}
    report = summary(
        harnesses[0],
        [failure for failure in failures if not known(failure)],
        sum(harness.runs for harness in harnesses),
        time.monotonic() - started,
    )
    for key in sorted(seen):
        ks = sorted({failure.k for failure in failures if known(failure) == key})
        report += f"\nknown, at k={ks}: {KNOWN[key]}"
    gone = sorted(key for key in KNOWN if key[0] == name and key not in seen)
    for key in gone:
        report += f"\nno longer seen (fixed? remove it from KNOWN): {key}"
    print(report)
    if gone or any(not known(failure) for failure in failures):
        pytest.fail(report, pytrace=False)
    return points


def test_crash_at_every_commit_point_of_an_incremental_run(tmp_path: Path) -> None:
    labels = set(enumerate_points(tmp_path, "incremental"))  # what it must pass
    assert {"ledger:collect", "ledger:post", "ledger:compress", "ledger:integrity"} <= labels
    assert {"file:staticfiles.json", "file:staticfiles.integrity.json"} <= labels


@pytest.mark.slow
@pytest.mark.parametrize("kind", [name for name in KINDS if name != "incremental"])
def test_crash_at_every_commit_point(tmp_path: Path, kind: str) -> None:
    enumerate_points(tmp_path, kind)


def test_the_hook(tmp_path: Path) -> None:
    """Unset, a point does nothing; with the variables, each point is logged and
    the process dies at the chosen one, as under SIGKILL (no finally, no atexit)."""
    code = (
        "import atexit\n"
        "from staticpipe.ledger import crash\n"
        "atexit.register(print, 'atexit')\n"
        "try:\n"
        "    for label in ('a', 'b', 'c'):\n"
        "        crash.point(label)\n"
        "        print(label)\n"
        "finally:\n"
        "    print('finally')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATICPIPE_C")}

    def run(**extra: str) -> subprocess.CompletedProcess:
        argv = [sys.executable, "-u", "-c", code]
        return subprocess.run(argv, capture_output=True, text=True, env={**env, **extra})

    unset = run()
    assert (unset.returncode, unset.stdout.split()) == (0, ["a", "b", "c", "finally", "atexit"])
    log = tmp_path / "points.log"
    crashed = run(STATICPIPE_CRASH_AT="2", STATICPIPE_COMMIT_LOG=str(log))
    assert (crashed.returncode, crashed.stdout.split()) == (137, ["a"])
    assert read_log(log) == ["a", "b"]
    log.unlink()
    counted = run(STATICPIPE_COMMIT_LOG=str(log))
    assert counted.returncode == 0 and read_log(log) == ["a", "b", "c"]


def point_before(points: list[str], label: str) -> str:
    """``STATICPIPE_CRASH_AT`` for the point right before the first ``label``, by
    its label and occurrence (the same point in a run whose earlier points
    differ: a copy of a project reuses no saved walk)."""
    prior = points[points.index(label) - 1]
    return f"{prior}#{points[: points.index(label)].count(prior)}"


def collect_in(cwd: Path, **env: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "doit", "collect"]
    environ = {**os.environ, **env}
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=environ)


def points_of_a_run(project: Project, scratch: Path) -> list[str]:
    """The commit points the next ``doit collect`` of ``project`` passes: counted
    in place, then the project put back as it was (from a copy in ``scratch``),
    so that the run to crash starts where the counted one did."""
    shutil.copytree(project.path, scratch, symlinks=True)
    log = scratch.parent / (scratch.name + ".log")
    assert collect_in(project.path, STATICPIPE_COMMIT_LOG=str(log)).returncode == 0
    shutil.rmtree(project.path)
    shutil.copytree(scratch, project.path, symlinks=True)
    points = read_log(log)
    log.unlink()
    assert collect_in(project.path, STATICPIPE_COMMIT_LOG=str(log)).returncode == 0
    assert read_log(log) == points  # (the put-back project runs alike)
    shutil.rmtree(project.path)
    shutil.copytree(scratch, project.path, symlinks=True)
    return points


def assert_clean_plus_old_versions_then_clean(
    project: Project, tmp_path: Path, config: str = BASE
) -> None:
    clean = Project(tmp_path / "clean", config)
    shutil.copytree(project.path / SOURCES, clean.path / SOURCES)
    clean.doit("collect")
    want, got = snapshot(clean.root), snapshot(project.root)
    assert old_versions_problems(want, got, project.root, project.state) == []
    prune_all(project)
    assert snapshot(project.root) == want


def test_a_copy_written_but_not_recorded_whose_source_then_goes_is_no_unknown_file(
    tmp_path: Path,
) -> None:
    """A run adds ``css/new.css`` (and drops ``img/old.png``, so that a commit point
    follows the copies: the retire journal's, before the records'); it dies
    there, with the new copy written and no record naming it. Then the new
    source goes too. The next run must know that copy: kept as an old version
    (journalled), gone once every earlier build is pruned: exactly a clean build."""
    project = Project(tmp_path / "project", BASE)
    project.write("css/a.css", ".a { background: url(../img/a.png); }\n")
    project.write("img/a.png", b"A" * 50)
    project.write("img/old.png", b"O" * 50)
    project.doit("collect")
    project.write("css/new.css", ".n { color: red; }\n")
    (project.path / SOURCES / "img" / "old.png").unlink()
    points = points_of_a_run(project, tmp_path / "scratch")
    assert points[points.index("ledger:collect") - 1] == "ledger:retired.state"
    crashed = collect_in(project.path, STATICPIPE_CRASH_AT=point_before(points, "ledger:collect"))
    assert crashed.returncode == 137
    assert (project.root / "css" / "new.css").exists()  # written, not recorded
    (project.path / SOURCES / "css" / "new.css").unlink()
    assert collect_in(project.path).returncode == 0
    assert "css/new.css" in kept_versions(project.root, project.state)
    assert_clean_plus_old_versions_then_clean(project, tmp_path)


def test_hashed_files_written_but_not_recorded_then_edited_again_are_no_unknown_files(
    tmp_path: Path,
) -> None:
    """A run hashes an edited ``css/a.css`` and dies after writing its hashed file,
    before post-processing records it (the point before ``ledger:post``); the
    source is edited again. The next run must know the hashed file the killed
    run wrote: kept as an old version, gone once every earlier build is pruned."""
    project = Project(tmp_path / "project", BASE)
    project.write("css/a.css", ".a { background: url(../img/a.png); }\n")
    project.write("img/a.png", b"A" * 50)
    project.doit("collect")
    project.write("css/a.css", ".a { background: url(../img/a.png); color: red; }\n")
    points = points_of_a_run(project, tmp_path / "scratch")
    assert "ledger:hashing.state" in points[: points.index("ledger:post")]  # before writing
    before = set(snapshot(project.root))
    crashed = collect_in(project.path, STATICPIPE_CRASH_AT=point_before(points, "ledger:post"))
    assert crashed.returncode == 137
    written = {name for name in set(snapshot(project.root)) - before if name.startswith("css/a.")}
    assert written  # its hashed file, no entry naming it
    project.write("css/a.css", ".a { background: url(../img/a.png); color: blue; }\n")
    assert collect_in(project.path).returncode == 0
    assert written <= kept_versions(project.root, project.state)
    assert_clean_plus_old_versions_then_clean(project, tmp_path)


def killed_before(project: Project, scratch: Path, label: str) -> set[str]:
    """The next ``doit collect`` of ``project`` dies at the point right before the
    first ``label`` (``points_of_a_run`` counts them, in ``scratch``); the names
    it added to static_root."""
    points = points_of_a_run(project, scratch)
    before = set(snapshot(project.root))
    crashed = collect_in(project.path, STATICPIPE_CRASH_AT=point_before(points, label))
    assert crashed.returncode == 137, crashed.stdout + crashed.stderr
    return set(snapshot(project.root)) - before


def test_hashed_files_of_a_reference_cycle_written_but_not_recorded_are_no_unknown_files(
    tmp_path: Path,
) -> None:
    """As above, for the members of a reference cycle: they share the hash of the
    whole component, so their bytes do not prove their names, and the run must
    have recorded the very names before writing them."""
    project = Project(tmp_path / "project", BASE)
    project.write("css/ring/a.css", ".a { background: url(b.css); }\n")
    project.write("css/ring/b.css", ".b { background: url(a.css); }\n")
    project.doit("collect")
    project.write("css/ring/a.css", ".a { background: url(b.css); color: red; }\n")
    written = killed_before(project, tmp_path / "scratch", "ledger:post")
    assert {name.rpartition("/")[2][:2] for name in written} == {"a.", "b."}  # both renamed
    project.write("css/ring/a.css", ".a { background: url(b.css); color: blue; }\n")
    assert collect_in(project.path).returncode == 0
    assert written <= kept_versions(project.root, project.state)
    assert_clean_plus_old_versions_then_clean(project, tmp_path)


def test_what_a_killed_run_recorded_stays_known_to_a_run_after_doit_forget(
    tmp_path: Path,
) -> None:
    """A run dies once post-processing has recorded its hashed files, before its
    manifest: only its records and entries name its new copy and hashed files.
    The new source goes and the edited one changes again; ``doit forget -a``
    then makes the next run build from no state. It must still know what the
    records and entries it replaces name: old versions, pruned with the rest."""
    project = Project(tmp_path / "project", BASE)
    project.write("css/a.css", ".a { background: url(../img/a.png); }\n")
    project.write("img/a.png", b"A" * 50)
    project.doit("collect")
    project.write("css/a.css", ".a { background: url(../img/a.png); color: red; }\n")
    project.write("js/new.js", "console.log('new');\n")
    # (a.css's copy is replaced, not new: not among what the killed run added)
    written = killed_before(project, tmp_path / "scratch", "file:" + MANIFEST)
    assert "js/new.js" in written and any(name.startswith("css/a.") for name in written)
    project.write("css/a.css", ".a { background: url(../img/a.png); color: blue; }\n")
    (project.path / SOURCES / "js" / "new.js").unlink()
    project.doit("forget", "-a")
    assert collect_in(project.path).returncode == 0
    assert written <= kept_versions(project.root, project.state)
    assert_clean_plus_old_versions_then_clean(project, tmp_path)


def test_doit_clean_removes_what_a_killed_run_wrote_and_did_not_record(tmp_path: Path) -> None:
    """A run dies after writing hashed files, before recording them (a cycle's
    members among them); ``doit clean collect`` removes them with the rest:
    nothing the pipeline wrote is left, and static_root goes."""
    project = Project(tmp_path / "project", BASE)
    project.write("css/ring/a.css", ".a { background: url(b.css); }\n")
    project.write("css/ring/b.css", ".b { background: url(a.css); }\n")
    project.write("css/c.css", ".c { background: url(../img/a.png); }\n")
    project.write("img/a.png", b"A" * 50)
    project.doit("collect")
    project.write("css/ring/a.css", ".a { background: url(b.css); color: red; }\n")
    project.write("img/a.png", b"B" * 50)
    killed_before(project, tmp_path / "scratch", "ledger:post")

    project.doit("clean", "collect")

    assert not project.root.exists(), sorted(snapshot(project.root))


GZIP = BASE + 'compress = ["gzip"]\n'


def compressible_site(project: Project) -> None:
    """A CSS file worth compressing and an image it refers to, built."""
    project.write("css/a.css", pad(".a { background: url(../img/a.png); }\n"))
    project.write("img/a.png", b"A" * 50)
    project.doit("collect")


def test_precompressed_files_written_but_not_recorded_whose_file_then_goes_are_no_unknown_files(
    tmp_path: Path,
) -> None:
    """A run dies after the compress phase wrote ``.gz`` files, before it
    recorded them (the point before ``ledger:compress``); then the source goes.
    Its ``.gz`` must go the way of the file it was made from."""
    project = Project(tmp_path / "project", GZIP)
    compressible_site(project)
    project.write("css/a.css", pad(".a { color: red; }\n"))
    killed = killed_before(project, tmp_path / "scratch", "ledger:compress")
    written = {name for name in killed if name.endswith(".gz")}
    assert written  # the new hashed file's .gz, no row naming it
    (project.path / SOURCES / "css" / "a.css").unlink()
    assert collect_in(project.path).returncode == 0
    assert written <= kept_versions(project.root, project.state)  # (beside what they go with)
    assert_clean_plus_old_versions_then_clean(project, tmp_path, GZIP)


def test_doit_clean_removes_precompressed_files_a_killed_run_did_not_record(
    tmp_path: Path,
) -> None:
    project = Project(tmp_path / "project", GZIP)
    compressible_site(project)
    project.write("css/a.css", pad(".a { color: red; }\n"))
    killed_before(project, tmp_path / "scratch", "ledger:compress")

    project.doit("clean", "collect")

    assert not project.root.exists(), sorted(snapshot(project.root))


def test_compression_switched_off_after_a_killed_first_compress_run_leaves_no_gz(
    tmp_path: Path,
) -> None:
    """Compression is switched on, and that run dies after writing ``.gz`` files,
    before recording any; then it is switched off again. No ``.gz`` may stay:
    one beside a copy would be handed out for the copy's later bytes."""
    project = Project(tmp_path / "project", BASE)
    compressible_site(project)
    project.write_config(GZIP)
    # (the compression cache's count is written after the .gz files, before the rows)
    crashed = collect_in(project.path, STATICPIPE_CRASH_AT="file:compress/usage#1")
    assert crashed.returncode == 137
    assert (project.root / "css" / "a.css.gz").exists()  # written, no row naming it
    project.write_config(BASE)

    assert collect_in(project.path).returncode == 0

    assert not [name for name in snapshot(project.root) if name.endswith(".gz")]
    assert_clean_plus_old_versions_then_clean(project, tmp_path)
