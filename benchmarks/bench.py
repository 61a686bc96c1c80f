"""staticpipe against Django's collectstatic, side by side, on the same files.

    python benchmarks/bench.py [--quick] [--runs N] [--sizes 1000,10000] [--big]

For each tree (the real trees from PyPI wheels together, and generated trees of
a given size) and each tool (Django's ``collectstatic`` with
ManifestStaticFilesStorage in a subprocess; staticpipe as the real ``doit
collect`` in a subprocess, in a temp project with pyproject.toml + dodo.py),
one repetition measures, in this order and on the same sources:

1. full build into an empty root (staticpipe: no state, no doit database);
2. a no-op re-run;
3. a re-run after changing one image that several CSS files reference;
4. a re-run after changing one CSS file (which another CSS file @imports).

Every measurement is a fresh child process: wall time, and its peak RSS from
``os.wait4``. The floor is ``cp -r`` of the same source dirs plus ``md5sum`` of
every copied file. Times are medians of ``--runs`` repetitions; ratios are
staticpipe / Django.

Checks made on the way (a failure makes the exit status 1): after every step
staticpipe's staticfiles.json is byte-identical to Django's, and in the first
repetition staticpipe's incremental root is byte-identical to a clean
staticpipe build of the same sources.

Results are printed as markdown and written to benchmarks/RESULTS.md (not with
--quick unless --write).
"""

from __future__ import annotations

import argparse
import datetime
import filecmp
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import realtrees  # noqa: E402

STEPS = ("full", "noop", "image", "css")
STEP_LABELS = {
    "full": "full build (empty root)",
    "full_rm": "full build right after `rm -rf` of the previous root",
    "noop": "no-op re-run",
    "image": "re-run, 1 image changed",
    "css": "re-run, 1 CSS changed",
}
# issue 4's targets, on the real trees: staticpipe / Django per row.
TARGETS = {"full": 0.2, "noop": 0.03, "image": 0.05, "css": 0.05}
FLOOR_TARGET = 3.0  # full build within 3 x (cp -r + md5sum)


# -- the Django child ------------------------------------------------------------


def django_child(root: str, dirs_file: str) -> int:
    """``collectstatic --noinput`` with ManifestStaticFilesStorage (run in a child)."""
    import django
    from django.conf import settings

    dirs = json.loads(Path(dirs_file).read_text())
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench",
        INSTALLED_APPS=["django.contrib.staticfiles"],
        STATIC_URL="/static/",
        STATIC_ROOT=root,
        STATICFILES_DIRS=dirs,
        STATICFILES_FINDERS=["django.contrib.staticfiles.finders.FileSystemFinder"],
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {
                "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
            },
        },
    )
    django.setup()
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    return 0


# -- measuring one child ---------------------------------------------------------


@dataclass
class Sample:
    seconds: float
    rss_mb: float


class ChildFailed(RuntimeError):
    pass


def byte_compile() -> None:
    """Compile staticpipe's modules to bytecode, as installing a package does.

    Django's and doit's modules were compiled when pip installed them; staticpipe
    is installed editable, and with PYTHONDONTWRITEBYTECODE set (as on some CI
    machines) every run would compile it again, about 10 ms per run."""
    import compileall

    import staticpipe

    compileall.compile_dir(Path(staticpipe.__file__).parent, quiet=1)


def measure(command: list[str], cwd: Path | None = None) -> Sample:
    """Run ``command`` to completion; its wall time and peak RSS (from wait4)."""
    out = tempfile.TemporaryFile()
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        out.seek(0)
        tail = out.read().decode(errors="replace")[-3000:]
        raise ChildFailed(f"{' '.join(command)} (in {cwd}) exited {proc.returncode}:\n{tail}")
    return Sample(seconds, usage.ru_maxrss / 1024)  # ru_maxrss is in KiB on Linux


def remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


class Trash:
    """Old roots are moved aside, not deleted, until the benchmark ends.

    On ext4, creating files within about 30 s of deleting many others is several
    times slower: each new inode's allocation scans the recently deleted ones
    (``recently_deleted()`` in the kernel's inode allocator, seen with perf).
    Deleting the previous root right before a "full build into an empty root"
    would time that, for both tools, instead of the tools. The one extra step
    ``full_rm`` measures it on purpose.
    """

    def __init__(self, directory: Path):
        self.directory = directory
        self.count = 0

    def put(self, path: Path) -> None:
        if path.exists() or path.is_symlink():
            self.directory.mkdir(parents=True, exist_ok=True)
            self.count += 1
            path.rename(self.directory / str(self.count))


class Django:
    name = "Django"

    def __init__(self, work: Path, dirs: list[Path], trash: Trash):
        self.trash = trash
        self.root = work / "django" / "static"
        self.dirs_file = work / "django" / "dirs.json"
        self.dirs_file.parent.mkdir(parents=True, exist_ok=True)
        self.dirs_file.write_text(json.dumps([str(d) for d in dirs]))

    def reset(self, delete: bool = False) -> None:
        remove(self.root) if delete else self.trash.put(self.root)

    def run(self) -> Sample:
        return measure(
            [sys.executable, str(Path(__file__).resolve()), "_django", str(self.root),
             str(self.dirs_file)]
        )  # fmt: skip

    @property
    def manifest(self) -> Path:
        return self.root / "staticfiles.json"


class Staticpipe:
    name = "staticpipe"

    def __init__(self, project: Path, dirs: list[Path], trash: Trash):
        self.trash = trash
        self.project = project
        self.root = project / "build" / "static"
        project.mkdir(parents=True, exist_ok=True)
        (project / "pyproject.toml").write_text(
            "[tool.staticpipe]\n"
            'static_root = "build/static"\n'
            'static_url = "/static/"\n'
            f"dirs = {json.dumps([str(d) for d in dirs])}\n"
        )
        (project / "dodo.py").write_text("from staticpipe.tasks import *  # noqa: F403\n")

    def reset(self, delete: bool = False) -> None:
        """An empty root, no staticpipe state, no doit database."""
        build = self.project / "build"
        remove(build) if delete else self.trash.put(build)
        for path in self.project.iterdir():
            if path.name.startswith((".staticpipe", ".doit")):
                remove(path)

    def run(self) -> Sample:
        return measure([sys.executable, "-m", "doit", "collect"], cwd=self.project)

    @property
    def manifest(self) -> Path:
        return self.root / "staticfiles.json"


def floor(dirs: list[Path], work: Path, trash: Trash) -> Sample:
    """``cp -r`` of the source dirs, then ``md5sum`` of every copied file."""
    dest = work / "floor"
    trash.put(dest)
    dest.mkdir(parents=True)
    sources = " ".join(f"'{d}' '{dest}/{i}'" for i, d in enumerate(dirs))
    script = (
        "set -e; set -- " + sources + '; while [ $# -gt 0 ]; do cp -r "$1" "$2"; shift 2; done; '
        f"find '{dest}' -type f -print0 | xargs -0 md5sum > /dev/null"
    )
    sample = measure(["/bin/sh", "-c", script])
    trash.put(dest)
    return sample


STARTUP = {
    "Django": "import django.core.management, django.contrib.staticfiles.storage",
    "staticpipe": "import doit.doit_cmd, staticpipe.tasks",
}


def startup(tool: str) -> Sample:
    """The fixed cost of a run: the interpreter and the tool's imports, no work."""
    return measure([sys.executable, "-c", STARTUP[tool]])


# -- trees -------------------------------------------------------------------------


@dataclass
class Tree:
    name: str
    dirs: list[Path]
    image: Path  # referenced by several CSS files
    css: Path  # @imported by another CSS file
    files: int = 0
    note: str = ""

    def edit_image(self, counter: int) -> None:
        with self.image.open("ab") as handle:
            handle.write(f"\nbench edit {counter}\n".encode())

    def edit_css(self, counter: int) -> None:
        with self.css.open("a") as handle:
            handle.write(f"\n.bench-edit-{counter} {{ color: #{counter % 0xFFF:03x}; }}\n")


def real_tree(work: Path) -> Tree:
    """A private copy of the real trees (the benchmark edits its sources)."""
    dirs = []
    for index, directory in enumerate(realtrees.static_dirs()):
        copy = work / "src" / f"{index}-{directory.parent.name}" / "static"
        shutil.copytree(directory, copy)
        dirs.append(copy)

    def one(suffix: str) -> Path:
        (path,) = [p for d in dirs for p in d.rglob(Path(suffix).name) if str(p).endswith(suffix)]
        return path

    return Tree(
        name="real trees (PyPI wheels)",
        dirs=dirs,
        image=one("fontawesomefree/webfonts/fa-solid-900.woff2"),
        css=one("admin/css/widgets.css"),
        files=realtrees.count_files(dirs),
        note="font `fa-solid-900.woff2` (referenced by 16 CSS files); "
        "`admin/css/widgets.css` (@imported by forms.css)",
    )


def generated_tree(work: Path, size: int, seed: int = 4) -> Tree:
    """About ``size`` files in groups of 100, each group a small app's static dir.

    Per group: 50 images (PNG-like bytes and SVG), 15 CSS files referencing 3-6
    images each (``../img/x.png``, ``?#iefix``, ``#fragment`` forms), the first 5
    an @import chain (c0 -> c1 -> ... -> c4); 15 JS files with
    ``//# sourceMappingURL`` and their 15 maps; 5 fonts referenced from CSS.
    One shared image is referenced by one CSS file in each of (up to) 10 groups.
    """
    rng = random.Random(seed)
    base = work / "src" / f"generated-{size}"
    groups = max(1, size // 100)
    shared_every = max(1, groups // 10)
    filler = "abcdefghijklmnopqrstuvwxyz-"

    def write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    write(base / "shared" / "img" / "logo.png", b"\x89PNG\r\n\x1a\n" + rng.randbytes(2048))
    for g in range(groups):
        app = base / f"app{g:04d}"
        images = []
        for i in range(50):
            if i % 5 == 4:
                name = f"icon{i}.svg"
                body = "".join(rng.choice(filler) for _ in range(rng.randint(100, 600)))
                data = f'<svg xmlns="http://www.w3.org/2000/svg"><desc>{body}</desc></svg>\n'
                write(app / "img" / name, data.encode())
            else:
                name = f"img{i}.png"
                write(
                    app / "img" / name, b"\x89PNG\r\n\x1a\n" + rng.randbytes(rng.randint(200, 6000))
                )
            images.append(name)
        fonts = [f"font{i}.woff2" for i in range(5)]
        for name in fonts:
            write(app / "fonts" / name, rng.randbytes(rng.randint(1000, 8000)))
        for c in range(15):
            lines = []
            if c < 4:
                lines.append(f'@import "c{c + 1}.css";')
            if c == 5:
                lines.append(
                    f"@font-face {{ font-family: f{g}; src: url('../fonts/{fonts[0]}?#iefix') "
                    f"format('embedded-opentype'), url(../fonts/{fonts[1]}#f) format('woff2'); }}"
                )
            if c == 0 and g % shared_every == 0:
                lines.append('.logo { background: url("../../shared/img/logo.png"); }')
            for r in range(rng.randint(3, 6)):
                image = rng.choice(images)
                lines.append(f'.r{c}-{r} {{ background-image: url("../img/{image}"); }}')
            for r in range(rng.randint(20, 60)):
                prop = "".join(rng.choice(filler) for _ in range(8))
                lines.append(f".x{c}-{r} {{ margin: {r}px; --{prop}: {rng.random():.6f}; }}")
            write(app / "css" / f"c{c}.css", ("\n".join(lines) + "\n").encode())
        for j in range(15):
            body = "".join(
                f"function f{k}(a){{return a*{rng.randint(1, 999)}+{k};}}\n"
                for k in range(rng.randint(10, 120))
            )
            write(
                app / "js" / f"m{j}.js",
                f"{body}//# sourceMappingURL=m{j}.js.map\n".encode(),
            )
            mapping = {"version": 3, "file": f"m{j}.js", "sources": [f"m{j}.ts"], "mappings": ""}
            write(app / "js" / f"m{j}.js.map", json.dumps(mapping).encode())
    dirs = [base]
    sharing = len(range(0, groups, shared_every))
    return Tree(
        name=f"generated tree (size {size:,})",
        dirs=dirs,
        image=base / "shared" / "img" / "logo.png",
        css=base / "app0000" / "css" / "c2.css",
        files=realtrees.count_files(dirs),
        note=f"`shared/img/logo.png` (referenced by {sharing} CSS files); "
        "`app0000/css/c2.css` (@import chain c0 -> c1 -> c2)",
    )


# -- comparing roots ---------------------------------------------------------------


def kept_versions(project: Path) -> set[str]:
    """The old versions staticpipe keeps (as Django keeps them) in ``project``'s
    static_root: what its retire journal knows, not files of a clean build."""
    from staticpipe.config import load_config
    from staticpipe.phases import cleanup

    config = load_config(project / "pyproject.toml")
    return set(cleanup.retired(config)) | set(cleanup.pending(config))


def tree_differences(
    expected: Path, actual: Path, limit: int = 20, kept: set[str] = frozenset()
) -> list[str]:
    def listing(root: Path) -> dict[str, str]:
        result = {}
        for directory, _dirs, names in os.walk(root):
            for name in names:
                path = os.path.join(directory, name)
                result[os.path.relpath(path, root)] = path
        return result

    want, got = listing(expected), listing(actual)
    problems = [f"only in clean build: {n}" for n in sorted(set(want) - set(got))]
    extra = set(got) - set(want) - {name.replace("/", os.sep) for name in kept}
    problems += [f"only in incremental: {n}" for n in sorted(extra)]
    for name in sorted(set(want) & set(got)):
        if len(problems) >= limit:
            break
        if not filecmp.cmp(want[name], got[name], shallow=False):
            problems.append(f"bytes differ: {name}")
    return problems[:limit]


# -- one tree ----------------------------------------------------------------------


@dataclass
class TreeResult:
    tree: Tree
    times: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    rss: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    floor: list[float] = field(default_factory=list)
    floor_rss: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, tool: str, step: str, sample: Sample) -> None:
        self.times.setdefault(tool, {}).setdefault(step, []).append(sample.seconds)
        self.rss.setdefault(tool, {}).setdefault(step, []).append(sample.rss_mb)

    def median(self, tool: str, step: str) -> float:
        return statistics.median(self.times[tool][step])

    def peak_rss(self, tool: str) -> float:
        return max(max(self.rss[tool][step]) for step in STEPS)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bench_tree(tree: Tree, work: Path, runs: int, trash: Trash) -> TreeResult:
    result = TreeResult(tree)
    django = Django(work, tree.dirs, trash)
    staticpipe = Staticpipe(work / "project", tree.dirs, trash)
    tools = [django, staticpipe]
    counter = 0
    for rep in range(runs):
        order = tools if rep % 2 == 0 else tools[::-1]  # alternate who goes first
        for step in STEPS:
            if step == "image":
                counter += 1
                tree.edit_image(counter)
            elif step == "css":
                counter += 1
                tree.edit_css(counter)
            for tool in order:
                if step == "full":
                    tool.reset()
                sample = tool.run()
                result.add(tool.name, step, sample)
                log(
                    f"  [{rep + 1}/{runs}] {step:5} {tool.name:10} "
                    f"{sample.seconds:7.2f} s {sample.rss_mb:7.1f} MB"
                )
            if django.manifest.read_bytes() != staticpipe.manifest.read_bytes():
                result.problems.append(
                    f"run {rep + 1}, {step}: staticfiles.json differs from Django's"
                )
        if rep == 0:
            clean = Staticpipe(work / "clean-project", tree.dirs, trash)
            clean.reset()
            clean.run()
            kept = kept_versions(staticpipe.project)  # old versions, kept like Django's
            for problem in tree_differences(clean.root, staticpipe.root, kept=kept):
                result.problems.append(f"incremental != clean build: {problem}")
            trash.put(work / "clean-project")
        for tool in ("Django", "staticpipe"):
            result.add(tool, "startup", startup(tool))
        sample = floor(tree.dirs, work, trash)
        result.floor.append(sample.seconds)
        result.floor_rss.append(sample.rss_mb)
        log(f"  [{rep + 1}/{runs}] floor cp -r + md5sum {sample.seconds:7.2f} s")
    for tool in tools:  # once: what a deletion right before a full build costs
        tool.reset(delete=True)
        sample = tool.run()
        result.add(tool.name, "full_rm", sample)
        log(f"  full build right after rm -rf: {tool.name:10} {sample.seconds:7.2f} s")
    return result


# -- reporting ---------------------------------------------------------------------


def fmt_seconds(value: float) -> str:
    return f"{value:.2f}" if value >= 0.1 else f"{value:.3f}"


def table(result: TreeResult) -> list[str]:
    lines = [
        "| step | Django (s) | staticpipe (s) | ratio | target | Django RSS (MB) "
        "| staticpipe RSS (MB) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for step in STEPS:
        dj, sp = result.median("Django", step), result.median("staticpipe", step)
        dj_rss = statistics.median(result.rss["Django"][step])
        sp_rss = statistics.median(result.rss["staticpipe"][step])
        lines.append(
            f"| {STEP_LABELS[step]} | {fmt_seconds(dj)} | {fmt_seconds(sp)} | {sp / dj:.3f} "
            f"| ≤ {TARGETS[step]} | {dj_rss:.0f} | {sp_rss:.0f} |"
        )
    if "full_rm" in result.times.get("Django", {}):
        dj, sp = result.median("Django", "full_rm"), result.median("staticpipe", "full_rm")
        lines.append(
            f"| {STEP_LABELS['full_rm']} | {fmt_seconds(dj)} | {fmt_seconds(sp)} "
            f"| {sp / dj:.3f} | | | |"
        )
    dj, sp = result.median("Django", "startup"), result.median("staticpipe", "startup")
    lines.append(
        f"| start-up only: interpreter + imports | {fmt_seconds(dj)} | {fmt_seconds(sp)} "
        f"| {sp / dj:.3f} | | | |"
    )
    floor_s = statistics.median(result.floor)
    sp_full = result.median("staticpipe", "full")
    lines.append(
        f"| floor: `cp -r` + `md5sum` | | {fmt_seconds(floor_s)} "
        f"| {sp_full / floor_s:.2f} (full / floor) | ≤ {FLOOR_TARGET} | | |"
    )
    return lines


def verdicts(results: list[TreeResult], missed: list[str] | None = None) -> list[str]:
    """The issue's targets, judged on the real trees (else the first tree); each
    target missed is added to ``missed`` too."""
    real = [r for r in results if r.tree.name.startswith("real")]
    main = real[0] if real else results[0]
    where = "real trees" if real else main.tree.name
    out = []

    def judge(ok: bool | None, text: str) -> None:
        mark = {True: "met", False: "**not met**", None: "not measured"}[ok]
        out.append(f"- {text}: {mark}")
        if ok is False and missed is not None:
            missed.append(text)

    for step in STEPS:
        ratio = main.median("staticpipe", step) / main.median("Django", step)
        judge(ratio <= TARGETS[step], f"{STEP_LABELS[step]} ≤ {TARGETS[step]} × Django "
              f"({where}: {ratio:.3f})")  # fmt: skip
    floor_ratio = main.median("staticpipe", "full") / statistics.median(main.floor)
    judge(floor_ratio <= FLOOR_TARGET, f"full build ≤ {FLOOR_TARGET} × cp+md5sum floor "
          f"({where}: {floor_ratio:.2f})")  # fmt: skip
    dj_rss, sp_rss = main.peak_rss("Django"), main.peak_rss("staticpipe")
    judge(sp_rss <= dj_rss, f"peak RSS not above Django's ({where}: staticpipe "
          f"{sp_rss:.0f} MB, Django {dj_rss:.0f} MB)")  # fmt: skip
    generated = sorted(
        (r for r in results if not r.tree.name.startswith("real")), key=lambda r: r.tree.files
    )
    if len(generated) >= 2:
        small, big = generated[0], generated[-1]
        growth = big.tree.files / small.tree.files
        sizes = f"{small.tree.files:,} → {big.tree.files:,} files (×{growth:.0f})"
        rss = big.peak_rss("staticpipe") / small.peak_rss("staticpipe")
        dj_rss = big.peak_rss("Django") / small.peak_rss("Django")
        out.append(
            f"- peak RSS, {sizes}: staticpipe ×{rss:.2f}, Django ×{dj_rss:.2f} "
            "(contents are streamed; what grows is per-file metadata)"
        )
        noop = big.median("staticpipe", "noop") / small.median("staticpipe", "noop")
        for step in ("image", "css"):
            edit = big.median("staticpipe", step) / small.median("staticpipe", step)
            extra_small = small.median("staticpipe", step) - small.median("staticpipe", "noop")
            extra_big = big.median("staticpipe", step) - big.median("staticpipe", "noop")
            out.append(
                f"- {STEP_LABELS[step]}, {sizes}: ×{edit:.2f} (the no-op re-run ×{noop:.2f}; "
                f"time above the no-op: {extra_small:.2f} s → {extra_big:.2f} s). Proportional "
                "to the files affected means the time above the no-op stays flat"
            )
    else:
        judge(None, "RSS flat in tree size / edits proportional to affected files "
              "(needs two generated sizes: --sizes 1000,10000)")  # fmt: skip
    problems = [p for r in results for p in r.problems]
    judge(not problems, "incremental result == clean build, and staticfiles.json == "
          "Django's after every step")  # fmt: skip
    return out


def missed_targets(results: list[TreeResult]) -> list[str]:
    """The targets missed (``verdicts``' "**not met**"), as the report words them."""
    missed: list[str] = []
    verdicts(results, missed)
    return missed


def report_missed(missed: list[str]) -> None:
    """Say which targets were missed (a benchmark's main then returns 1)."""
    for text in missed:
        log(f"target missed: {text}")


def machine() -> list[str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import django
    import doit

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    return [
        f"- date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {os.cpu_count()} CPUs (nproc), {cpu}, {platform.system()} "
        f"{platform.release()}",
        f"- Python {platform.python_version()}, Django {django.get_version()}, "
        f"doit {'.'.join(map(str, doit.__version__))}, staticpipe at {commit or '?'}",
    ]


def report(results: list[TreeResult], runs: int, argv: list[str], notes: list[str]) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"`python benchmarks/bench.py {' '.join(argv)}`".replace(" `", "`"),
        "",
        *machine(),
        f"- medians of {runs} run(s); each measurement is a fresh process (staticpipe: "
        "`doit collect` in a project with pyproject.toml + dodo.py; Django: "
        "`collectstatic` with ManifestStaticFilesStorage); ratio = staticpipe / Django. "
        "The machine is shared and noisy: read the ratios, not the seconds. Both tools' "
        "modules are byte-compiled beforehand, as a pip install leaves them.",
        "- every full build goes into a fresh root: old roots are moved aside and deleted "
        "when the benchmark ends. On ext4, creating files within ~30 s of deleting many "
        "others is several times slower for both tools (the kernel's inode allocator scans "
        "recently deleted inodes); the `rm -rf` row measures that case once per tree.",
        "",
    ]
    for note in notes:
        lines += ["> " + note.replace("\n", "\n> "), ""]
    for result in results:
        lines += [
            f"## {result.tree.name}: {result.tree.files:,} files",
            "",
            f"Edited: {result.tree.note}.",
            "",
            *table(result),
            "",
        ]
    lines += ["## Targets (issue 4)", "", *verdicts(results), ""]
    problems = [f"- {r.tree.name}: {p}" for r in results for p in r.problems]
    if problems:
        lines += ["## Problems found", "", *problems, ""]
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------------


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.py", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 run, real trees + a 1,000-file tree, RESULTS.md not written",
    )
    parser.add_argument("--runs", type=int, help="repetitions per measurement (default 3)")
    parser.add_argument(
        "--sizes", help="generated tree sizes, comma-separated (default 1000,10000)"
    )
    parser.add_argument("--big", action="store_true", help="add the 100,000-file tree (slow)")
    parser.add_argument("--no-real", action="store_true", help="skip the real trees")
    parser.add_argument("--workdir", type=Path, help="where trees and roots go (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--write", action="store_true", help="write RESULTS.md even with --quick")
    parser.add_argument("--no-write", action="store_true", help="don't write RESULTS.md")
    return parser.parse_args(argv)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_django"]:
        return django_child(*argv[1:3])
    args = parse(argv)
    runs = args.runs or (1 if args.quick else 3)
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",") if s]
    else:
        sizes = [1000] if args.quick else [1000, 10_000]
    if args.big and 100_000 not in sizes:
        sizes.append(100_000)
    write = (args.write or not args.quick) and not args.no_write

    byte_compile()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="staticpipe-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    results: list[TreeResult] = []
    trash = Trash(work / "trash")
    failed = False
    try:
        builders = []
        if not args.no_real:
            builders.append(("real", lambda w: real_tree(w)))
        for size in sizes:
            builders.append((f"gen{size}", lambda w, size=size: generated_tree(w, size)))
        for key, build in builders:
            tree_work = work / key
            trash.put(tree_work)
            try:
                tree = build(tree_work)
            except realtrees.RegistryUnavailable as exc:
                notes.append(f"real trees skipped: {exc}")
                log(f"real trees skipped: {exc}")
                continue
            log(f"{tree.name}: {tree.files:,} files, {runs} run(s)")
            try:
                results.append(bench_tree(tree, tree_work, runs, trash))
            except ChildFailed as exc:
                failed = True
                notes.append(f"{tree.name}: a run failed, no results: {str(exc)[-1500:]}")
                log(f"{tree.name}: FAILED: {exc}")
            if not args.keep:
                trash.put(tree_work)
    finally:
        if not args.keep:
            shutil.rmtree(trash.directory, ignore_errors=True)
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    if not results:
        log("nothing was measured")
        return 1
    text = report(results, runs, argv, notes)
    print(text)
    if write and not failed:
        args.output.write_text(text)
        log(f"wrote {args.output}")
    missed = missed_targets(results)
    report_missed(missed)
    return 1 if failed or missed or any(r.problems for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
