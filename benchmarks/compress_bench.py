"""staticpipe's precompression against WhiteNoise's, on the same files (issue 13).

    python benchmarks/compress_bench.py [--quick] [--exclude PACKAGE] [--workdir DIR] [--keep]

In one run, on the real trees bench.py uses (``--quick``: Django's admin only):

- **WhiteNoise's command**: Django's ``collectstatic`` with
  ManifestStaticFilesStorage (timed on its own), then ``python -m
  whitenoise.compress -q ROOT`` on what it collected (gzip 9 + brotli 11, its
  defaults; its own thread pool);
- **WhiteNoise's storage**: ``collectstatic`` with
  ``whitenoise.storage.CompressedManifestStaticFilesStorage``, end to end: a full
  build into an empty root, a no-op re-run, a re-run after one edited CSS file;
- **staticpipe**: ``python -m doit collect`` in a project whose pyproject.toml says
  ``compress = ["gzip", "br"]`` (levels gzip 9, br 11): a full build from nothing
  (no static_root, no state, no compress cache), a full build with a warm cache
  (static_root, state and doit database gone, ``<state_dir>/compress`` kept), a
  no-op re-run, a re-run after the same CSS edit; and a full build without
  ``compress`` (its collect + hash share).

Every measurement is a fresh child process, started by a fresh wrapper process
(``WRAPPER``): wall time, peak RSS and CPU time of the command's process tree
(``RUSAGE_CHILDREN`` in the wrapper). Compressed bytes per encoding are summed
over the ``.gz`` and ``.br`` files of the full builds, and compared on the names
both tools compressed. Checks: staticpipe's staticfiles.json equals WhiteNoise's
storage's (Django's) after every step, the warm build's root equals the cold
build's, a no-op rewrites no compressed file. Results are printed as markdown and
appended to benchmarks/RESULTS.md as a new section (not with ``--quick``).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import realtrees  # noqa: E402
from bench import (  # noqa: E402
    ChildFailed,
    Sample,
    Staticpipe,
    Trash,
    Tree,
    byte_compile,
    fmt_seconds,
    log,
    machine,
    report_missed,
    tree_differences,
)
from publish_bench import append, real_subset  # noqa: E402

ENCODINGS = {"gzip": ".gz", "br": ".br"}
LEVELS = {"gzip": 9, "br": 11}  # WhiteNoise's (zlib 9, brotli.compress's quality 11)

# issue 13's targets
FULL_TARGET = 0.5  # staticpipe's full build <= 0.5 x WhiteNoise's compress time
EDIT_TARGET = 2.0  # one edited CSS file: <= 2 s

WN_STORAGE = "whitenoise.storage.CompressedManifestStaticFilesStorage"
DJ_STORAGE = "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"

# (tool, step) rows, in the order of the report
ROWS = (
    ("django", "full", "Django collectstatic (ManifestStaticFilesStorage), before the command"),
    ("wn_cli", "full", "`python -m whitenoise.compress` on Django's output"),
    ("wn_storage", "full", "WhiteNoise storage collectstatic, full build (empty root)"),
    ("sp", "cold", "staticpipe full build, cold (no root, no state, no compress cache)"),
    ("sp", "warm", "staticpipe full build, warm cache (no root, no state; cache kept)"),
    ("sp_plain", "full", "staticpipe full build without `compress` (collect + hash only)"),
    ("wn_storage", "noop", "WhiteNoise storage collectstatic, no-op re-run"),
    ("sp", "noop", "staticpipe no-op re-run"),
    ("wn_storage", "css", "WhiteNoise storage collectstatic, re-run after 1 CSS edited"),
    ("sp", "css", "staticpipe re-run after 1 CSS edited"),
)


# -- measuring one child, through a wrapper -------------------------------------------

# bench.py's ``measure`` reads the child's peak RSS from ``os.wait4``. On Linux a
# child's ``ru_maxrss`` also holds the RSS high-water mark of the memory it had
# before its exec: its parent's (subprocess spawns with vfork, which shares the
# parent's memory). This script's RSS grows when it compares roots, so later rows
# would show at least that (seen: a staticpipe build without compress at 82 MB, the
# benchmark's own high-water mark). So each measurement runs in a fresh, small
# wrapper process, which runs the command and reports its wall time, and the peak
# RSS and CPU time of its waited-for children (``RUSAGE_CHILDREN``): the command's
# process tree. What the wrapper itself held before the exec (about 10 MB, an
# interpreter with ``subprocess`` imported) is the floor of every reading.
WRAPPER = """
import json, resource, subprocess, sys, time
out, cwd, command = sys.argv[1], sys.argv[2] or None, sys.argv[3:]
start = time.perf_counter()
code = subprocess.call(command, cwd=cwd)
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(out, "w") as handle:
    json.dump({"seconds": seconds, "maxrss_kib": usage.ru_maxrss,
               "cpu": usage.ru_utime + usage.ru_stime, "code": code}, handle)
sys.exit(code)
"""


@dataclass
class Measured(Sample):
    cpu: float = 0.0  # the command's CPU seconds (user + system, its whole tree)


def measure(command: list[str], cwd: Path | None = None) -> Measured:
    """Run ``command`` to completion through ``WRAPPER``: its wall time, peak RSS
    and CPU time (of the command's process tree, not the wrapper's)."""
    with tempfile.TemporaryDirectory(prefix="compress-bench-") as scratch:
        report = Path(scratch) / "usage.json"
        with tempfile.TemporaryFile() as out:
            proc = subprocess.run(
                [sys.executable, "-c", WRAPPER, str(report), str(cwd or ""), *command],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            if proc.returncode != 0:
                out.seek(0)
                tail = out.read().decode(errors="replace")[-3000:]
                raise ChildFailed(
                    f"{' '.join(command)} (in {cwd}) exited {proc.returncode}:\n{tail}"
                )
        usage = json.loads(report.read_text())
    return Measured(usage["seconds"], usage["maxrss_kib"] / 1024, usage["cpu"])


# -- the Django child ----------------------------------------------------------------


# ``collectstatic --noinput`` with the storage ``argv[3]``, into ``argv[1]``, from the
# dirs listed in the JSON file ``argv[2]``: a ``-c`` program, so that the child loads
# Django and the storage and nothing of this benchmark's (its RSS is Django's).
DJANGO_CHILD = """
import json, sys
from pathlib import Path
import django
from django.conf import settings
root, dirs_file, backend = sys.argv[1:4]
settings.configure(
    DEBUG=False,
    SECRET_KEY="bench",
    INSTALLED_APPS=["django.contrib.staticfiles"],
    STATIC_URL="/static/",
    STATIC_ROOT=root,
    STATICFILES_DIRS=json.loads(Path(dirs_file).read_text()),
    STATICFILES_FINDERS=["django.contrib.staticfiles.finders.FileSystemFinder"],
    STORAGES={
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": backend},
    },
)
django.setup()
from django.core.management import call_command
call_command("collectstatic", interactive=False, verbosity=0)
"""


class DjangoRoot:
    """A STATIC_ROOT that ``collectstatic`` with ``backend`` writes."""

    def __init__(self, work: Path, dirs: list[Path], backend: str, trash: Trash):
        self.backend, self.trash = backend, trash
        self.root = work / "static"
        self.dirs_file = work / "dirs.json"
        work.mkdir(parents=True, exist_ok=True)
        self.dirs_file.write_text(json.dumps([str(d) for d in dirs]))

    def reset(self) -> None:
        self.trash.put(self.root)

    def run(self) -> Sample:
        return measure(
            [sys.executable, "-c", DJANGO_CHILD, str(self.root), str(self.dirs_file),
             self.backend]
        )  # fmt: skip

    def compress(self) -> Sample:
        """WhiteNoise's command on this root, its defaults (gzip and brotli)."""
        return measure([sys.executable, "-m", "whitenoise.compress", "-q", str(self.root)])

    @property
    def manifest(self) -> Path:
        return self.root / "staticfiles.json"


class MeasuredStaticpipe(Staticpipe):
    """bench.py's staticpipe project, its ``doit collect`` measured as every
    command here is (``measure``: the command's own process tree)."""

    def run(self) -> Measured:
        return measure([sys.executable, "-m", "doit", "collect"], cwd=self.project)


class CompressingStaticpipe(MeasuredStaticpipe):
    """bench.py's staticpipe project, with ``compress = ["gzip", "br"]``."""

    def __init__(self, project: Path, dirs: list[Path], trash: Trash):
        super().__init__(project, dirs, trash)
        levels = ", ".join(f"{name} = {level}" for name, level in LEVELS.items())
        with (project / "pyproject.toml").open("a") as handle:
            handle.write(f"compress = {json.dumps(list(ENCODINGS))}\n")
            handle.write(f"compress_levels = {{ {levels} }}\n")

    @property
    def state(self) -> Path:
        return self.project / ".staticpipe"

    def reset_keeping_cache(self) -> None:
        """No root, no state, no doit database; ``.staticpipe/compress`` (and the
        state dir's CACHEDIR.TAG, which marks it as staticpipe's) stay."""
        self.trash.put(self.project / "build")
        keep = {"compress", "CACHEDIR.TAG"}
        for path in self.project.iterdir():
            if path.name.startswith(".doit") or (
                path.name.startswith(".staticpipe") and path != self.state
            ):
                self.trash.put(path)
        if self.state.is_dir():
            for path in self.state.iterdir():
                if path.name not in keep:
                    self.trash.put(path)

    def cache_entries(self) -> int:
        cache = self.state / "compress"
        return sum(len(files) for _, _, files in os.walk(cache)) if cache.is_dir() else 0


# -- compressed outputs ----------------------------------------------------------------


def compressed_files(root: Path) -> dict[str, dict[str, int]]:
    """Per encoding: relative name of the original -> size of its compressed file."""
    found: dict[str, dict[str, int]] = {name: {} for name in ENCODINGS}
    for directory, _dirs, names in os.walk(root):
        for name in names:
            for encoding, suffix in ENCODINGS.items():
                if name.endswith(suffix):
                    path = os.path.join(directory, name)
                    original = os.path.relpath(path, root)[: -len(suffix)]
                    found[encoding][original] = os.stat(path).st_size
    return found


def stamps(root: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime_ns) of every compressed file: what a run that writes none keeps."""
    result = {}
    for directory, _dirs, names in os.walk(root):
        for name in names:
            if name.endswith(tuple(ENCODINGS.values())):
                path = os.path.join(directory, name)
                st = os.stat(path)
                result[os.path.relpath(path, root)] = (st.st_ino, st.st_mtime_ns)
    return result


@dataclass
class ByteComparison:
    """staticpipe's compressed files against another tool's, one encoding."""

    encoding: str
    other: str
    sp_files: int
    sp_bytes: int
    other_files: int
    other_bytes: int
    common: int  # names both compressed
    sp_common_bytes: int
    other_common_bytes: int
    identical: int  # common names with byte-identical compressed files
    sp_smaller: int
    sp_larger: int
    only_sp: list[str]
    only_other: list[str]


def compare_bytes(sp_root: Path, other_root: Path, other: str) -> list[ByteComparison]:
    sp, theirs = compressed_files(sp_root), compressed_files(other_root)
    out = []
    for encoding, suffix in ENCODINGS.items():
        mine, their = sp[encoding], theirs[encoding]
        common = sorted(set(mine) & set(their))
        identical = smaller = larger = 0
        for name in common:
            if mine[name] < their[name]:
                smaller += 1
            elif mine[name] > their[name]:
                larger += 1
            elif (sp_root / (name + suffix)).read_bytes() == (
                other_root / (name + suffix)
            ).read_bytes():
                identical += 1
        out.append(
            ByteComparison(
                encoding, other,
                len(mine), sum(mine.values()), len(their), sum(their.values()),
                len(common), sum(mine[n] for n in common), sum(their[n] for n in common),
                identical, smaller, larger,
                sorted(set(mine) - set(their)), sorted(set(their) - set(mine)),
            )
        )  # fmt: skip
    return out


@dataclass
class Inputs:
    """The compression work in a collected root: every compressible file (what
    WhiteNoise's command compresses), and its unique contents (what staticpipe
    compresses, each md5 once)."""

    files: int = 0
    bytes: int = 0
    contents: int = 0
    content_bytes: int = 0


def inputs(root: Path) -> Inputs:
    from staticpipe.compress.rules import compressible

    found, seen = Inputs(), set()
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            if not compressible(os.path.relpath(path, root).replace(os.sep, "/")):
                continue  # .gz/.br outputs included: they are on the skip list
            with open(path, "rb") as handle:
                digest = hashlib.file_digest(handle, "md5").hexdigest()
            size = os.stat(path).st_size
            found.files += 1
            found.bytes += size
            if digest not in seen:
                seen.add(digest)
                found.contents += 1
                found.content_bytes += size
    return found


def check_decompresses(root: Path, limit: int = 200) -> list[str]:
    """Some of staticpipe's .gz files decompress to their original (a spot check)."""
    problems = []
    names = sorted(compressed_files(root)["gzip"])
    step = max(1, len(names) // limit)
    for name in names[::step]:
        if gzip.decompress((root / (name + ".gz")).read_bytes()) != (root / name).read_bytes():
            problems.append(f"{name}.gz does not decompress to {name}")
    try:
        import brotli
    except ImportError:
        return problems
    for name in sorted(compressed_files(root)["br"])[::step]:
        if brotli.decompress((root / (name + ".br")).read_bytes()) != (root / name).read_bytes():
            problems.append(f"{name}.br does not decompress to {name}")
    return problems


# -- the run -----------------------------------------------------------------------------


@dataclass
class Result:
    tree: Tree
    samples: dict[tuple[str, str], Sample] = field(default_factory=dict)
    contention: dict[tuple[str, str], Contention] = field(default_factory=dict)
    bytes: list[ByteComparison] = field(default_factory=list)
    loads: list[tuple[str, float]] = field(default_factory=list)  # (when, 1-min load)
    start_load: float = 0.0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cache_entries: int = 0
    inputs: Inputs = field(default_factory=Inputs)  # of Django's root, WhiteNoise's command's
    edit_written: int = 0
    noop_written: int = 0

    def seconds(self, tool: str, step: str) -> float:
        return self.samples[tool, step].seconds

    def rss(self, tool: str, step: str) -> float:
        return self.samples[tool, step].rss_mb

    def peak_rss(self, tool: str) -> float:
        return max(s.rss_mb for (t, _), s in self.samples.items() if t == tool)


def load() -> float:
    return os.getloadavg()[0]


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (``/proc/stat``)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    ticks = [int(value) for value in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Contention:
    """During one measurement: the child's CPU seconds and the CPU the rest of the
    machine (other sessions, and this script) used, as cores on average."""

    cpu: float
    others: float


def bench(tree: Tree, work: Path, trash: Trash) -> Result:
    result = Result(tree, start_load=load())
    django = DjangoRoot(work / "django", tree.dirs, DJ_STORAGE, trash)
    storage = DjangoRoot(work / "whitenoise", tree.dirs, WN_STORAGE, trash)
    sp = CompressingStaticpipe(work / "project", tree.dirs, trash)
    plain = MeasuredStaticpipe(work / "plain", tree.dirs, trash)

    def run(tool: str, step: str, action) -> None:
        busy, ours = busy_seconds(), children_cpu()
        sample = action()
        ours = children_cpu() - ours  # the wrapper's and the command's
        cpu = sample.cpu  # the command's
        others = max(0.0, busy_seconds() - busy - ours) / sample.seconds
        result.samples[tool, step] = sample
        result.contention[tool, step] = Contention(cpu, others)
        result.loads.append((f"{tool} {step}", load()))
        log(
            f"  {step:5} {tool:10} {sample.seconds:8.2f} s {sample.rss_mb:7.1f} MB  "
            f"cpu {cpu:7.2f} s  others {others:.2f} cores  load {load():.2f}"
        )

    def same_manifest(step: str) -> None:
        if sp.manifest.read_bytes() != storage.manifest.read_bytes():
            result.problems.append(f"{step}: staticpipe's staticfiles.json != WhiteNoise storage's")

    # full builds
    django.reset()
    run("django", "full", django.run)
    run("wn_cli", "full", django.compress)
    storage.reset()
    run("wn_storage", "full", storage.run)
    sp.reset()
    run("sp", "cold", sp.run)
    same_manifest("full build")
    result.cache_entries = sp.cache_entries()
    cold_root = work / "sp-cold-root"
    sp.root.rename(cold_root)
    sp.reset_keeping_cache()
    run("sp", "warm", sp.run)
    same_manifest("full build, warm cache")
    for problem in tree_differences(cold_root, sp.root):
        result.problems.append(f"warm-cache build != cold build: {problem}")
    trash.put(cold_root)
    plain.reset()
    run("sp_plain", "full", plain.run)
    trash.put(plain.root)
    if django.manifest.read_bytes() != sp.manifest.read_bytes():
        result.problems.append("full build: staticpipe's staticfiles.json != Django's")
    result.bytes = [
        *compare_bytes(sp.root, storage.root, "WhiteNoise storage"),
        *compare_bytes(sp.root, django.root, "python -m whitenoise.compress"),
    ]
    result.problems += check_decompresses(sp.root)
    result.inputs = inputs(django.root)

    # no-op
    run("wn_storage", "noop", storage.run)
    before = stamps(sp.root)
    run("sp", "noop", sp.run)
    after = stamps(sp.root)
    result.noop_written = sum(1 for name, stamp in after.items() if before.get(name) != stamp)
    if result.noop_written:
        result.problems.append(f"no-op re-run rewrote {result.noop_written} compressed files")
    same_manifest("no-op re-run")

    # one CSS file edited
    tree.edit_css(1)
    run("wn_storage", "css", storage.run)
    before = stamps(sp.root)
    run("sp", "css", sp.run)
    after = stamps(sp.root)
    result.edit_written = sum(1 for name, stamp in after.items() if before.get(name) != stamp)
    same_manifest("1 CSS edited")
    current = json.loads(sp.manifest.read_text())["paths"]
    for name in sorted({*current, *current.values()}):
        for suffix in ENCODINGS.values():
            mine = (sp.root / (name + suffix)).exists()
            if mine != (storage.root / (name + suffix)).exists():
                where = "only in staticpipe" if mine else "missing in staticpipe"
                result.problems.append(f"after the edit: {name}{suffix} {where}")
    return result


# -- the report ------------------------------------------------------------------------


def quick_tree(work: Path) -> Tree:
    """Django's admin (and gis) static files only: a small real tree, a private copy."""
    dirs = []
    for index, directory in enumerate(realtrees.static_dirs(wheels=realtrees.WHEELS[:1])):
        copy = work / "src" / f"{index}-{directory.parent.name}" / "static"
        shutil.copytree(directory, copy)
        dirs.append(copy)
    (css,) = [p for d in dirs for p in d.rglob("widgets.css") if p.parent.name == "css"]
    return Tree(
        name=f"Django's admin static files ({realtrees.WHEELS[0].requirement})",
        dirs=dirs,
        image=css,
        css=css,
        files=realtrees.count_files(dirs),
        note="`admin/css/widgets.css` (@imported by forms.css)",
    )


def verdicts(result: Result, missed: list[str] | None = None) -> list[str]:
    """Issue 13's targets, judged; each target missed is added to ``missed`` too."""
    out = []

    def judge(ok: bool, text: str) -> None:
        out.append(f"- {text}: {'PASS' if ok else '**FAIL**'}")
        if not ok and missed is not None:
            missed.append(text)

    wn = result.seconds("wn_cli", "full")
    cold, warm = result.seconds("sp", "cold"), result.seconds("sp", "warm")
    judge(
        cold <= FULL_TARGET * wn,
        f"full build (cold: collect + hash + compress from nothing) ≤ {FULL_TARGET} × "
        f"WhiteNoise's compress time: {fmt_seconds(cold)} s / {fmt_seconds(wn)} s = "
        f"{cold / wn:.3f}",
    )
    judge(
        warm <= FULL_TARGET * wn,
        f"full build with a warm cache ≤ {FULL_TARGET} × WhiteNoise's compress time: "
        f"{fmt_seconds(warm)} s / {fmt_seconds(wn)} s = {warm / wn:.3f}",
    )
    for comparison in result.bytes:
        c = comparison
        judge(
            c.sp_common_bytes <= c.other_common_bytes and c.sp_larger == 0,
            f"{c.encoding} bytes not above {c.other}'s on the same {c.common:,} files: "
            f"{c.sp_common_bytes:,} vs {c.other_common_bytes:,} "
            f"({c.sp_common_bytes / max(1, c.other_common_bytes):.4f}; "
            f"{c.identical:,} byte-identical, {c.sp_smaller:,} smaller, {c.sp_larger:,} larger)",
        )
    edit = result.seconds("sp", "css")
    judge(edit <= EDIT_TARGET, f"one edited CSS file ≤ {EDIT_TARGET} s: {fmt_seconds(edit)} s")
    sp_rss = result.peak_rss("sp")
    for tool, label in (("wn_cli", "WhiteNoise's command"), ("wn_storage", "WhiteNoise's storage")):
        other = result.peak_rss(tool)
        judge(
            sp_rss <= other,
            f"peak RSS not above {label}'s: {sp_rss:.0f} MB vs {other:.0f} MB "
            f"({sp_rss / other:.2f})",
        )
    judge(
        not result.problems,
        "checks: staticfiles.json equal to WhiteNoise storage's after every step, warm build == "
        "cold build, a no-op rewrites no compressed file, .gz/.br decompress to the original",
    )
    return out


def missed_targets(result: Result) -> list[str]:
    """The targets missed (``verdicts``' "**FAIL**"), as the report words them."""
    missed: list[str] = []
    verdicts(result, missed)
    return missed


def versions() -> str:
    names = ("whitenoise", "brotli", "Django", "doit")
    return ", ".join(f"{name} {metadata.version(name)}" for name in names)


def staticpipe_source() -> list[str]:
    """Where the staticpipe measured comes from, when it is not this checkout's
    committed code: another directory on PYTHONPATH, or uncommitted changes."""
    import staticpipe

    package = Path(staticpipe.__file__).resolve().parent
    if package.parent != HERE.parent:
        return [
            f"- staticpipe imported from `{package}` (`PYTHONPATH`), not from this "
            "checkout; see the notes for what it is"
        ]
    done = subprocess.run(
        ["git", "status", "--porcelain", "--", "staticpipe"],
        cwd=HERE.parent,
        capture_output=True,
        text=True,
    )
    dirty = [line[3:] for line in done.stdout.splitlines()]
    if not dirty:
        return []
    return [
        "- staticpipe/ had uncommitted changes in the working tree (measured as they were): "
        + ", ".join(f"`{p}`" for p in dirty)
    ]


def edited_name(tree: Tree) -> str:
    """The edited CSS file's name in static_root (relative to its source dir)."""
    for directory in tree.dirs:
        if tree.css.is_relative_to(directory):
            return tree.css.relative_to(directory).as_posix()
    return tree.css.name


def report(result: Result, argv: list[str]) -> str:
    tree = result.tree
    command = " ".join(["python benchmarks/compress_bench.py", *argv])
    loads = [value for _, value in result.loads]
    lines = [
        "## Precompression (issue 13): staticpipe's `compress` against WhiteNoise's",
        "",
        f"`{command}` (`doit bench_compress`)",
        "",
        *machine(),
        f"- {versions()}",
        f"- load average (1 min): {result.start_load:.2f} before the run, "
        f"{min(loads):.2f}–{max(loads):.2f} after each step ({os.cpu_count()} CPUs; the "
        "benchmark's own child counts in it: WhiteNoise and staticpipe both keep both "
        'cores busy). "other CPU": the cores the rest of the machine used on average '
        "during a step (`/proc/stat` busy time minus the child's own CPU time): other "
        "sessions' work, slowing the step down",
        "- WhiteNoise's command: Django's collectstatic (ManifestStaticFilesStorage), then "
        "`python -m whitenoise.compress -q ROOT` (gzip 9 + brotli 11, its defaults; its "
        "thread pool: min(32, CPUs + 4) threads, each file read whole). WhiteNoise's storage: "
        "collectstatic with `CompressedManifestStaticFilesStorage` (originals and hashed "
        "files compressed). staticpipe: `python -m doit collect` with "
        '`compress = ["gzip", "br"]`, `compress_levels = { gzip = 9, br = 11 }` (two '
        "threads). Each a fresh child process, one run each, started by a small wrapper "
        "process that reports the command's wall time, and the peak RSS and CPU time of "
        "its process tree (`getrusage(RUSAGE_CHILDREN)`; ~10 MB, the wrapper's own, is the "
        "floor of any RSS). The machine's scheduler shares the CPUs per session "
        "(autogroup): a tool's thread count does not win it CPU from other sessions",
        *staticpipe_source(),
        "",
    ]
    lines += [
        f"### {tree.name}: {tree.files:,} files",
        "",
        f"Edited: `{edited_name(tree)}`, one rule appended (bench.py's CSS edit; no image "
        f"edited). The compress cache after the cold build: "
        f"{result.cache_entries:,} entries. Compressed files the edit (re)wrote: "
        f"{result.edit_written}; the no-op: {result.noop_written}.",
        "",
        "| step | time (s) | peak RSS (MB) | CPU (s) | other CPU (cores) | load after |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    loads_by = dict(result.loads)
    for tool, step, label in ROWS:
        if (tool, step) in result.samples:
            busy = result.contention[tool, step]
            lines.append(
                f"| {label} | {fmt_seconds(result.seconds(tool, step))} "
                f"| {result.rss(tool, step):.0f} | {busy.cpu:.1f} | {busy.others:.2f} "
                f"| {loads_by.get(f'{tool} {step}', 0):.2f} |"
            )
    wn = result.seconds("wn_cli", "full")
    dj_wn = result.seconds("django", "full") + wn
    storage = result.seconds("wn_storage", "full")
    lines += [
        "",
        "| staticpipe step | / WhiteNoise's command (compress only) "
        "| / Django collectstatic + command | / WhiteNoise's storage, same step "
        "| CPU s / WhiteNoise's command's CPU s |",
        "|---|---:|---:|---:|---:|",
    ]
    wn_cpu = result.contention["wn_cli", "full"].cpu
    for step, storage_step in (("cold", "full"), ("warm", "full"), ("noop", "noop"),
                               ("css", "css")):  # fmt: skip
        sp = result.seconds("sp", step)
        lines.append(
            f"| {step} | {sp / wn:.3f} | {sp / dj_wn:.3f} "
            f"| {sp / result.seconds('wn_storage', storage_step):.3f} "
            f"| {result.contention['sp', step].cpu / wn_cpu:.3f} |"
        )
    work = result.inputs
    plain = result.seconds("sp_plain", "full")
    cold = result.seconds("sp", "cold")
    lines += [
        "",
        f"The work: WhiteNoise's command compresses every compressible file of Django's "
        f"root, {work.files:,} files, {work.bytes / 1e6:.1f} MB (unhashed and hashed names, "
        f"`staticfiles.json` too); staticpipe compresses each unique content once, "
        f"{work.contents:,} contents, {work.content_bytes / 1e6:.1f} MB "
        f"({work.content_bytes / max(1, work.bytes):.3f} of the bytes): at equal speed per "
        f"byte, that share is the floor of staticpipe's compress time against the command's. "
        f"staticpipe's cold build without its collect + hash share (the build without "
        f"`compress`, {fmt_seconds(plain)} s): {fmt_seconds(cold - plain)} s, "
        f"{(cold - plain) / wn:.3f} × the command.",
    ]
    lines += [
        "",
        "Compressed bytes after the full builds (staticpipe's root against each WhiteNoise "
        'root; "same files": the originals both compressed):',
        "",
        "| encoding | against | staticpipe files | staticpipe bytes | WhiteNoise files "
        "| WhiteNoise bytes | same files | staticpipe bytes (same) | WhiteNoise bytes (same) "
        "| ratio | identical / smaller / larger | only staticpipe | only WhiteNoise |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for c in result.bytes:
        lines.append(
            f"| {c.encoding} | {c.other} | {c.sp_files:,} | {c.sp_bytes:,} | {c.other_files:,} "
            f"| {c.other_bytes:,} | {c.common:,} | {c.sp_common_bytes:,} "
            f"| {c.other_common_bytes:,} | {c.sp_common_bytes / max(1, c.other_common_bytes):.4f} "
            f"| {c.identical:,} / {c.sp_smaller:,} / {c.sp_larger:,} | {len(c.only_sp):,} "
            f"| {len(c.only_other):,} |"
        )
    for c in result.bytes:
        for label, names in (("only staticpipe", c.only_sp), ("only WhiteNoise", c.only_other)):
            if names:
                shown = ", ".join(f"`{n}`" for n in names[:5])
                more = f" and {len(names) - 5:,} more" if len(names) > 5 else ""
                lines.append(f"- {c.encoding}, {label} (against {c.other}): {shown}{more}")
    lines += [
        "",
        f"Storage full build {fmt_seconds(storage)} s against command "
        f"{fmt_seconds(dj_wn)} s (collectstatic + compress).",
        "",
        "### Targets (issue 13)",
        "",
        *verdicts(result),
        "",
    ]
    for note in result.notes:
        lines += ["> " + note.replace("\n", "\n> "), ""]
    if result.problems:
        lines += ["### Problems found", "", *[f"- {p}" for p in result.problems], ""]
    return "\n".join(lines)


# -- main --------------------------------------------------------------------------------


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="compress_bench.py", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="Django's admin static files only (a smoke run); RESULTS.md not written",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="NAME",
        help="leave out the real trees' static dirs of this package (e.g. fontawesomefree): "
        "a smaller, faster run; repeatable",
    )
    parser.add_argument("--workdir", type=Path, help="where trees and roots go (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--output",
        type=Path,
        default=HERE / "RESULTS.md",
        help="the file the report is appended to",
    )
    parser.add_argument(
        "--write", action="store_true", help="append to RESULTS.md even with --quick"
    )
    parser.add_argument("--no-write", action="store_true", help="don't append to RESULTS.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse(argv)
    write = (args.write or not args.quick) and not args.no_write
    byte_compile()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="staticpipe-compress-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    trash = Trash(work / "trash")
    try:
        if args.quick:
            tree = quick_tree(work / "tree")
        else:
            tree = real_subset(work / "tree", args.exclude)
        log(f"{tree.name}: {tree.files:,} files, load {load():.2f}")
        result = bench(tree, work, trash)
    except realtrees.RegistryUnavailable as error:
        log(f"real trees unavailable: {error}")
        return 1
    except ChildFailed as error:
        log(f"a run failed: {error}")
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(trash.directory, ignore_errors=True)
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    text = report(result, argv)
    print(text)
    if write:
        append(args.output, text)
        log(f"appended to {args.output}")
    missed = missed_targets(result)
    report_missed(missed)
    return 1 if result.problems or missed else 0


if __name__ == "__main__":
    sys.exit(main())
