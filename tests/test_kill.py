"""kill -9 at random moments of every kind of run, with bounded, reproducible trials.

A project of a few hundred files (CSS with ``url()`` and ``@import`` references,
JS, binaries; ``compress = ["gzip"]``, so ``.gz`` files take part) is built
once, then each trial applies 1-3 random source edits (add, edit, delete,
rename/move, edit behind a restored mtime; referrers are rewritten so the
sources never reference a missing file), starts a run as a
subprocess in its own session and sends SIGKILL to its process group after a
random delay drawn from a normal run's duration. After every kill the output
must be consistent (``check_root``): the manifest parses, every hashed file it
names exists with bytes whose md5 is in its name, every reference in those
hashed CSS files resolves, no temporary file is left, and a killed ``--clear``
still leaves a manifest if there was one. After the last trial one normal run
must give what a clean build of the same sources gives plus old versions the
retire journal knows (kept, as Django keeps them), and ``doit prune`` keeping no
earlier build must then leave exactly the clean build.

Every failure is collected and reported at the end, grouped by category and by
kind of run, with the seed and trial number (``STATICPIPE_KILL_SEED`` picks
another seed; the edits and delays follow from it, the kill's exact moment in
the run does not). The first failing state of each category is copied to
``<tmp_path>/failures/`` for a post-mortem.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from random import Random

import pytest
from old_outputs import PRUNE_ALL, old_versions_problems
from projects import DEFAULT_CONFIG, Project, snapshot

STATIC_URL = "/static/"
SEED = int(os.environ.get("STATICPIPE_KILL_SEED", "20240601"))
KINDS = ("incremental", "full", "clear", "link", "no_post_process", "watch", "module")
TEMP_NAME = re.compile(r"(^|/)\.[^/]*\.\d+\.\d+\.tmp$|\.tmp$")
URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)""")
IMPORT = re.compile(r"""@import\s*(['"])(.*?)\1""")
RUN_TIMEOUT = 120.0

CSS_DIRS = ("css", "css/pages", "css/vendor/lib")
JS_DIRS = ("js", "js/lib")
BIN_DIRS = {".png": ("img", "img/icons"), ".jpg": ("img", "media"), ".gif": ("img/icons",)}
BIN_DIRS |= {".woff2": ("fonts",), ".ttf": ("fonts",), ".bin": ("media", "media/raw")}
CONFIG = DEFAULT_CONFIG + 'compress = ["gzip"]\n'  # (the clean build's too)
LEVELS = 3  # @import only of a lower level: no cycles, short chains (Django's 5 passes)
FIXED_REFS = (  # references the pipeline leaves alone (and the checker skips)
    "url(data:image/png;base64,iVBORw0KGgo=)",
    "url(http://example.com/a.png)",
    "url(https://example.com/b.png)",
    "url(//cdn.example.com/c.png)",
    "url(#gradient)",
)


# -- the source tree: a model that renders CSS, so references never dangle -----
@dataclass
class Css:
    level: int
    imports: list[str]
    urls: list[tuple[str, int]]  # (target name, style)
    version: int = 0
    filler: int = 0  # lines of padding


def relative(target: str, referrer: str) -> str:
    return posixpath.relpath(target, posixpath.dirname(referrer))


def render_url(target: str, referrer: str, style: int) -> str:
    rel = relative(target, referrer)
    return [
        f"url({rel})",
        f"url('{rel}')",
        f'url("{rel}")',
        f"url({STATIC_URL}{target})",
        f"url({rel}?v=3)",
        f"url({rel}#frag)",
        f'url("{rel}?#iefix")',
    ][style]


class Tree:
    """The sources under ``base``: CSS from ``self.css``, the rest bytes on disk."""

    def __init__(self, base: Path, rng: Random):
        self.base = base
        self.rng = rng
        self.css: dict[str, Css] = {}
        self.plain: set[str] = set()  # JS and binaries
        self.counter = 0

    # names and contents
    def new_name(self, ext: str) -> str:
        self.counter += 1
        if ext == ".css":
            directory = self.rng.choice(CSS_DIRS)
        elif ext == ".js":
            directory = self.rng.choice(JS_DIRS)
        else:
            directory = self.rng.choice(BIN_DIRS[ext])
        return f"{directory}/f{self.counter}{ext}"

    def binary(self, size: int | None = None) -> bytes:
        if size is None:
            size = self.rng.choice((300, 2000, 8000, 30000)) + self.rng.randrange(1000)
            if self.rng.random() < 0.03:
                size = 300_000 + self.rng.randrange(100_000)
        return self.rng.randbytes(size)

    def js(self, size: int | None = None) -> bytes:
        lines = [f"var v{self.rng.randrange(10**6)} = {self.rng.randrange(10**6)};"]
        while sum(len(line) + 1 for line in lines) < (size or self.rng.randrange(200, 3000)):
            lines.append(f"function f{self.rng.randrange(10**6)}() {{ return {len(lines)}; }}")
        text = "\n".join(lines) + "\n"
        if size is not None:
            text = (text[: size - 1] + "\n") if len(text) >= size else text.ljust(size - 1) + "\n"
        return text.encode()

    def render(self, name: str) -> bytes:
        css = self.css[name]
        out = [f"/* {name} v{css.version} */"]
        out += [f'@import "{relative(target, name)}";' for target in css.imports]
        for index, (target, style) in enumerate(css.urls):
            out.append(f".r{index} {{ background: {render_url(target, name, style)}; }}")
        out += [f".x{index} {{ {FIXED_REFS[index % len(FIXED_REFS)]} }}" for index in range(2)]
        out += [
            f".pad{index} {{ margin: {index}px; color: #{index:06x}; }}"
            for index in range(css.filler)
        ]
        return ("\n".join(out) + "\n").encode()

    def path(self, name: str) -> Path:
        return self.base / name

    def write(self, name: str, content: bytes) -> None:
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)

    def write_css(self, name: str) -> None:
        self.write(name, self.render(name))

    def all_names(self) -> list[str]:
        return sorted(self.css) + sorted(self.plain)

    # choosing references
    def random_urls(self, count: int) -> list[tuple[str, int]]:
        targets = sorted(n for n in self.plain if not n.endswith(".js"))
        picks = self.rng.sample(targets, min(count, len(targets)))
        return [(target, self.rng.randrange(7)) for target in picks]

    def random_imports(self, level: int) -> list[str]:
        lower = sorted(n for n, c in self.css.items() if c.level < level)
        return self.rng.sample(lower, min(self.rng.randrange(3), len(lower)))

    def new_css(self, name: str, level: int) -> None:
        self.css[name] = Css(
            level,
            self.random_imports(level),
            self.random_urls(self.rng.randrange(1, 6)),
            filler=self.rng.randrange(0, 40),
        )
        self.write_css(name)

    def build(self, n_css: int, n_js: int, n_bin: int) -> None:
        for _ in range(n_bin):
            name = self.new_name(self.rng.choice(sorted(BIN_DIRS)))
            self.plain.add(name)
            self.write(name, self.binary())
        for _ in range(n_js):
            name = self.new_name(".js")
            self.plain.add(name)
            self.write(name, self.js())
        for index in range(n_css):
            self.new_css(self.new_name(".css"), index * LEVELS // n_css)

    def referrers(self, target: str) -> list[str]:
        return [
            name
            for name, css in self.css.items()
            if target in css.imports or any(t == target for t, _ in css.urls)
        ]

    # the edits
    def edit(self) -> str:
        """One random edit; a short description of it."""
        rng = self.rng
        what = rng.choice(("add", "add", "edit", "edit", "delete", "rename", "restored-mtime"))
        if what == "delete" and (len(self.css) < 20 or len(self.plain) < 40):
            what = "add"
        getattr(self, "edit_" + what.replace("-", "_"))()
        return what

    def edit_add(self) -> None:
        kind = self.rng.random()
        if kind < 0.5:
            self.new_css(self.new_name(".css"), self.rng.randrange(LEVELS))
        else:
            ext = ".js" if kind < 0.7 else self.rng.choice(sorted(BIN_DIRS))
            name = self.new_name(ext)
            self.plain.add(name)
            self.write(name, self.js() if ext == ".js" else self.binary())

    def edit_edit(self) -> None:
        name = self.rng.choice(self.all_names())
        if name in self.css:
            css = self.css[name]
            css.version += 1
            if self.rng.random() < 0.5:
                css.urls = self.random_urls(self.rng.randrange(1, 6))
            if self.rng.random() < 0.3:
                css.imports = self.random_imports(css.level)
            self.write_css(name)
        else:
            self.write(name, self.js() if name.endswith(".js") else self.binary())

    def edit_delete(self) -> None:
        name = self.rng.choice(self.all_names())
        self.path(name).unlink()
        self.css.pop(name, None)
        self.plain.discard(name)
        for referrer in self.referrers(name):
            css = self.css[referrer]
            css.imports = [t for t in css.imports if t != name]
            css.urls = [(t, s) for t, s in css.urls if t != name]
            self.write_css(referrer)

    def edit_rename(self) -> None:
        old = self.rng.choice(self.all_names())
        new = self.new_name(posixpath.splitext(old)[1])
        self.path(new).parent.mkdir(parents=True, exist_ok=True)
        os.rename(self.path(old), self.path(new))
        if old in self.css:
            self.css[new] = self.css.pop(old)
            if self.render(new) != self.path(new).read_bytes():  # moved: relative refs change
                self.write_css(new)
        else:
            self.plain.remove(old)
            self.plain.add(new)
        for referrer in self.referrers(old):
            css = self.css[referrer]
            css.imports = [new if t == old else t for t in css.imports]
            css.urls = [(new if t == old else t, s) for t, s in css.urls]
            self.write_css(referrer)

    def edit_restored_mtime(self) -> None:
        name = self.rng.choice(self.all_names())
        path = self.path(name)
        before = path.stat()
        if name in self.css:
            self.css[name].version += 1
            self.write_css(name)
        elif name.endswith(".js"):
            self.write(name, self.js(before.st_size))
        else:
            self.write(name, self.binary(before.st_size))
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


# -- the checker -------------------------------------------------------------------
def check_root(root: Path) -> dict[str, list[str]]:
    """Invariant violations in ``root``: category -> details (empty: consistent)."""
    problems: dict[str, list[str]] = defaultdict(list)
    for directory, _dirs, files in os.walk(root):
        for filename in files:
            name = Path(directory, filename).relative_to(root).as_posix()
            if TEMP_NAME.search(name):
                problems["temp-file-left"].append(name)
    manifest_path = root / "staticfiles.json"
    try:
        data = manifest_path.read_bytes()
    except FileNotFoundError:
        return problems
    try:
        paths = json.loads(data)["paths"]
        assert isinstance(paths, dict)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in paths.items())
    except (ValueError, KeyError, TypeError, AssertionError) as error:
        problems["manifest-unparseable"].append(f"{error!r}: {data[:80]!r}")
        return problems
    for name, hashed in sorted(paths.items()):
        path = root / hashed
        if not path.is_file():
            problems["manifest-names-missing-file"].append(f"{name} -> {hashed}")
            continue
        content = path.read_bytes()
        stem, ext = posixpath.splitext(name)
        expected = f"{stem}.{hashlib.md5(content).hexdigest()[:12]}{ext}"
        if hashed != expected:
            problems["hash-mismatch"].append(f"{hashed} (md5 of its bytes: {expected})")
        if not hashed.endswith(".css"):
            continue
        text = content.decode("utf-8", "replace")
        refs = [m.group(2) for m in URL.finditer(text)] + [
            m.group(2) for m in IMPORT.finditer(text)
        ]
        for ref in refs:
            url = ref.strip()
            if not url or url.startswith(("data:", "http:", "https:", "//", "#")):
                continue
            url = url.split("#", 1)[0].split("?", 1)[0]
            if url.startswith(STATIC_URL):
                target = url[len(STATIC_URL) :]
            elif url.startswith("/"):
                continue
            else:
                target = posixpath.normpath(posixpath.join(posixpath.dirname(hashed), url))
            if not (root / target).exists():
                problems["css-ref-unresolved"].append(f"{hashed}: {ref} ({target})")
    return problems


def compare_roots(expected: Path, actual: Path) -> list[str]:
    want, got = snapshot(expected), snapshot(actual)
    diffs = [f"missing: {name}" for name in sorted(set(want) - set(got))]
    diffs += [f"extra: {name}" for name in sorted(set(got) - set(want))]
    diffs += [f"bytes differ: {n}" for n in sorted(set(want) & set(got)) if want[n] != got[n]]
    return diffs


# -- running and killing -------------------------------------------------------------
def group_alive(pgid: int) -> bool:
    """Any live (non-zombie) process left in process group ``pgid``."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path("/proc", entry.name, "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


class Run:
    """A subprocess in a session (and process group) of its own, output to a file."""

    def __init__(self, cwd: Path, argv: list[str], log: Path):
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                argv,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self.started = time.monotonic()
        self.started_ns = time.time_ns()

    def wait_for(self, text: str, count: int = 1, timeout: float = 30) -> float:
        """Seconds since the start when the output holds ``text`` ``count`` times."""
        deadline = time.monotonic() + timeout
        while self.output().count(text) < count:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"no {text!r} in the output: {tail(self.output())}")
            time.sleep(0.01)
        return time.monotonic() - self.started

    def kill_after(self, delay: float) -> bool:
        """SIGKILL the group ``delay`` s after the start; True if it was still running."""
        try:
            self.proc.wait(max(0.0, self.started + delay - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        alive = self.proc.poll() is None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        deadline = time.monotonic() + 5
        while group_alive(self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        return alive

    def finish(self) -> tuple[int, float]:
        try:
            code = self.proc.wait(RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill_after(0)
            code = -999
        return code, time.monotonic() - self.started

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def tail(text: str, lines: int = 4) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])


COMMANDS = {
    "incremental": ["-m", "doit", "collect"],
    "full": ["-m", "doit", "collect"],  # after `doit forget -a`
    "clear": ["-m", "doit", "collect", "--clear"],
    "link": ["-m", "doit", "collect", "--link"],
    "no_post_process": ["-m", "doit", "collect", "--no-post-process"],
    "watch": ["-m", "doit", "watch"],
    "module": ["-m", "staticpipe", "collect"],
}


@dataclass
class Failure:
    category: str
    kind: str
    trial: int
    detail: str


def changed_since(root: Path, started_ns: int) -> int:
    """How many files under ``root`` were created or changed (ctime) since then."""
    count = 0
    for directory, _dirs, files in os.walk(root):
        for filename in files:
            try:
                count += os.lstat(os.path.join(directory, filename)).st_ctime_ns >= started_ns
            except FileNotFoundError:
                pass
    return count


@dataclass
class Harness:
    tmp: Path
    seed: int
    rng: Random = field(init=False)
    project: Project = field(init=False)
    tree: Tree = field(init=False)
    failures: list[Failure] = field(default_factory=list)
    durations: dict[str, float] = field(default_factory=dict)
    saved: set[str] = field(default_factory=set)
    # kind -> {"killed before writing", "killed mid-run", "exited"} -> trials
    moments: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )

    def __post_init__(self) -> None:
        self.rng = Random(self.seed)
        self.project = Project(self.tmp / "project", CONFIG)
        self.tree = Tree(self.project.path / "assets", self.rng)
        self.logs = self.tmp / "logs"
        self.logs.mkdir()

    def where(self, kind: str, trial: int) -> str:
        return f"seed={self.seed} trial={trial} kind={kind}"

    def start(self, kind: str, trial: int, cwd: Path | None = None) -> Run:
        argv = [sys.executable, *COMMANDS[kind]]
        return Run(cwd or self.project.path, argv, self.logs / f"{trial:04d}-{kind}.log")

    def forget(self, kind: str, trial: int) -> None:
        result = self.project.doit("forget", "-a", check=False)
        if result.returncode != 0:
            self.fail("run-failed", kind, trial, "doit forget -a: " + tail(result.stderr))

    def run(self, kind: str, trial: int) -> float:
        """Run to completion; a failure if it does not exit 0. Its duration."""
        if kind == "full":
            self.forget(kind, trial)
        run = self.start(kind, trial)
        code, took = run.finish()
        if code != 0:
            self.fail("run-failed", kind, trial, f"exit {code}: {tail(run.output())}")
        return took

    def fail(self, category: str, kind: str, trial: int, detail: str) -> None:
        self.failures.append(Failure(category, kind, trial, detail))
        if category not in self.saved:  # the state as found, for a post-mortem
            self.saved.add(category)
            target = self.tmp / "failures" / f"{category}-{trial:04d}-{kind}"
            shutil.copytree(self.project.root, target, symlinks=True, dirs_exist_ok=True)

    def check(self, kind: str, trial: int, note: str = "") -> None:
        problems = check_root(self.project.root)
        if problems:  # still so a moment later: the state on disk, not a race
            time.sleep(0.2)
            again = check_root(self.project.root)
            problems = {c: d for c, d in again.items() if c in problems}
        for category, details in sorted(problems.items()):
            shown = "; ".join(details[:3])
            more = f" (+{len(details) - 3} more)" if len(details) > 3 else ""
            self.fail(category, kind, trial, f"{note}{len(details)}: {shown}{more}")

    def edits(self, count: int) -> list[str]:
        return [self.tree.edit() for _ in range(count)]

    def calibrate(self) -> None:
        """Un-killed runs of every kind: each must pass the checker (so the checker
        and the edits are sound), and their durations bound the kill delays."""
        self.durations["full"] = self.run("full", -1)
        self.check("full", -1, "un-killed: ")
        self.durations["noop"] = self.run("incremental", -1)
        for kind in ("incremental", "clear", "link", "no_post_process", "module", "incremental"):
            self.edits(3)
            self.durations[kind] = self.run(kind, -1)
            self.check(kind, -1, "un-killed: ")
        # the watcher: its first build, then a rebuild after an edit; idle, then killed
        self.edits(2)
        watch = self.start("watch", -1)
        self.durations["watch"] = watch.wait_for("for changes")
        self.edits(2)
        edited = time.monotonic() - watch.started
        self.durations["rebuild"] = watch.wait_for("rebuil") - edited
        watch.kill_after(0)
        self.check("watch", -1, "un-killed watcher, idle: ")
        self.run("incremental", -1)
        self.check("incremental", -1, "un-killed: ")
        self.compare_with_clean(-1)

    def delay(self, kind: str, low: float = 0.0) -> float:
        """A moment to kill at: mostly after start-up, sometimes during it."""
        startup = self.durations["noop"] * 0.6
        high = max(self.durations[kind], self.durations["noop"]) * 1.1
        if self.rng.random() < 0.1:
            return self.rng.uniform(low, startup)
        return self.rng.uniform(max(low, startup), high)

    def trial(self, trial: int, kind: str) -> None:
        edits = self.edits(self.rng.randint(1, 3))
        manifest = self.project.root / "staticfiles.json"
        had_manifest = manifest.exists()
        if kind == "full":
            self.forget(kind, trial)
        run = self.start(kind, trial)
        if kind == "watch":  # an edit while it builds or watches; kill it building
            at = self.delay("watch")
            time.sleep(max(0.0, run.started + at - time.monotonic()))
            edits.append(self.tree.edit())
            delay = at + self.rng.uniform(0, self.durations["rebuild"] * 1.5 + 0.1)
        else:
            delay = self.delay(kind)
        alive = run.kill_after(delay)
        if not alive:
            moment = "exited"
        elif changed_since(self.project.root, run.started_ns):
            moment = "killed mid-run"
        else:
            moment = "killed before writing"
        self.moments[kind][moment] += 1
        note = f"{moment} at {delay:.2f}s, edits {edits}: "
        if not alive and run.proc.returncode != 0:
            detail = f"{note}exit {run.proc.returncode}: {tail(run.output())}"
            self.fail("run-failed", kind, trial, detail)
        if kind == "clear" and had_manifest and not manifest.exists():
            self.fail("clear-lost-manifest", kind, trial, note + "no staticfiles.json")
        self.check(kind, trial, note)

    def compare_with_clean(self, trial: int) -> None:
        clean = Project(self.tmp / f"clean{trial}", CONFIG)
        shutil.copytree(self.tree.base, clean.path / "assets")
        result = clean.doit("collect", check=False)
        if result.returncode != 0:
            self.fail("clean-build-failed", "final", trial, tail(result.stdout + result.stderr))
            return
        # old versions stay, as Django keeps them: besides the clean build, only
        # earlier builds' outputs the retire journal knows ...
        root, state = self.project.root, self.project.state
        diffs = old_versions_problems(snapshot(clean.root), snapshot(root), root, state)
        if diffs:
            shown = "; ".join(diffs[:5])
            self.fail("final-differs-from-clean", "final", trial, f"{len(diffs)}: {shown}")
        # ... so that pruning every earlier build leaves exactly the clean build
        config = (self.project.path / "pyproject.toml").read_text()
        self.project.write_config(config + PRUNE_ALL)
        result = self.project.doit("prune", check=False)
        self.project.write_config(config)
        if result.returncode != 0:
            self.fail("run-failed", "prune", trial, tail(result.stdout + result.stderr))
        diffs = compare_roots(clean.root, root)
        if diffs:
            shown = "; ".join(diffs[:5])
            self.fail("pruned-differs-from-clean", "final", trial, f"{len(diffs)}: {shown}")
        shutil.rmtree(clean.path)

    def trials(self, count: int) -> None:
        kinds = [KINDS[i % len(KINDS)] for i in range(count)]
        self.rng.shuffle(kinds)
        for trial, kind in enumerate(kinds):
            self.trial(trial, kind)
        self.run("incremental", count)
        self.check("final", count, "after a final normal run: ")
        self.compare_with_clean(count)

    def summary(self) -> str:
        times = ", ".join(f"{k}={v:.2f}s" for k, v in sorted(self.durations.items()))
        lines = [f"seed={self.seed}; un-killed runs took {times}"]
        for kind, moments in sorted(self.moments.items()):
            lines.append(f"  {kind}: " + ", ".join(f"{n} {m}" for m, n in sorted(moments.items())))
        groups: dict[tuple[str, str], list[Failure]] = defaultdict(list)
        for failure in self.failures:
            groups[failure.category, failure.kind].append(failure)
        lines.append(f"{len(self.failures)} failures (category / kind: trials):")
        for (category, kind), items in sorted(groups.items()):
            lines.append(f"  {category} / {kind}: {len(items)}")
            for item in items[:3]:
                lines.append(f"      {self.where(item.kind, item.trial)}: {item.detail[:400]}")
        return "\n".join(lines)


def assert_checker_catches(root: Path, scratch: Path) -> None:
    """``check_root`` reports each kind of damage in a copy of a good ``root``."""
    shutil.copytree(root, scratch, symlinks=True)
    paths = json.loads((scratch / "staticfiles.json").read_bytes())["paths"]
    css = [v for v in sorted(paths.values()) if v.endswith(".css")]
    css = [v for v in css if ".r0 {" in (scratch / v).read_text()]
    other = sorted(v for v in paths.values() if not v.endswith(".css"))
    text = (scratch / css[0]).read_text()
    ref = URL.search(text.partition(".r0 {")[2]).group(2)
    (scratch / css[0]).write_text(text.replace(ref, "nowhere/" + ref))  # unresolved, and hash
    (scratch / other[0]).unlink()
    (scratch / other[1]).write_bytes(b"changed")
    (scratch / "img" / ".x.png.123.4.tmp").write_bytes(b"")
    found = check_root(scratch)
    assert sorted(found) == [
        "css-ref-unresolved",
        "hash-mismatch",
        "manifest-names-missing-file",
        "temp-file-left",
    ], found
    assert len(found["hash-mismatch"]) == 2, found
    (scratch / "staticfiles.json").write_text('{"paths": ')
    assert sorted(check_root(scratch)) == ["manifest-unparseable", "temp-file-left"]
    shutil.rmtree(scratch)


def kill_test(tmp_path: Path, trials: int, size: tuple[int, int, int]) -> None:
    harness = Harness(tmp_path, SEED)
    harness.tree.build(*size)
    harness.calibrate()
    if harness.failures:
        pytest.fail("un-killed runs fail the checks:\n" + harness.summary(), pytrace=False)
    assert_checker_catches(harness.project.root, tmp_path / "scratch")
    harness.trials(trials)
    print(harness.summary())
    if harness.failures:
        pytest.fail(harness.summary(), pytrace=False)


@pytest.mark.quick_version
def test_kill_quick(tmp_path: Path) -> None:
    kill_test(tmp_path, trials=15, size=(80, 40, 160))


@pytest.mark.slow
def test_kill_many(tmp_path: Path) -> None:
    kill_test(tmp_path, trials=300, size=(60, 30, 120))
