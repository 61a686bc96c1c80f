"""``manage.py collectstatic`` with Django's storage against staticpipe's, same project.

    python benchmarks/django_collectstatic.py [--apps 20] [--runs 3] [--keep]

Generates a Django project (settings, the admin, ``--apps`` apps of 100 static
files each: images, CSS referencing them and @import-ing each other, JS with
source maps, fonts), then runs the unchanged ``python manage.py collectstatic
--noinput -v 0`` as a child process, once with
``django.contrib.staticfiles.storage.ManifestStaticFilesStorage`` and once with
``staticpipe.django.storage.ManifestStaticFilesStorage`` (``staticpipe.django``
installed before ``django.contrib.staticfiles``), each into its own STATIC_ROOT:

- full build: an empty STATIC_ROOT (for staticpipe, no state either);
- no-op re-run: nothing changed;
- re-run after one CSS file changed (one that another CSS file @imports).

Each step is timed ``--runs`` times (the median is shown, wall time of the whole
child process: Python, Django's setup and the command). The two roots are
compared byte for byte after the full build. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DJANGO = "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
STATICPIPE = "staticpipe.django.storage.ManifestStaticFilesStorage"

SETTINGS = """\
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "bench"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    *(["staticpipe.django"] if os.environ.get("BENCH_STATICPIPE") else []),
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    {apps}
]
DATABASES = {{}}
STATIC_URL = "static/"
STATIC_ROOT = os.environ["BENCH_STATIC_ROOT"]
STATICFILES_DIRS = [BASE_DIR / "assets"]
STORAGES = {{
    "default": {{"BACKEND": "django.core.files.storage.FileSystemStorage"}},
    "staticfiles": {{"BACKEND": os.environ["BENCH_STORAGE"]}},
}}
"""

MANAGE = """\
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
from django.core.management import execute_from_command_line

execute_from_command_line(sys.argv)
"""


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def generate(base: Path, apps: int, seed: int = 4) -> Path:
    """The project; returns the CSS file to edit (one another CSS file @imports)."""
    rng = random.Random(seed)
    names = [f"app{a:03d}" for a in range(apps)]
    app_lines = "\n    ".join(f'"{name}",' for name in names)
    write(base / "manage.py", MANAGE.encode())
    write(base / "mysite" / "__init__.py", b"")
    write(base / "mysite" / "settings.py", SETTINGS.format(apps=app_lines).encode())
    write(base / "assets" / "img" / "logo.png", b"\x89PNG\r\n\x1a\n" + rng.randbytes(2048))
    for name in names:
        write(base / name / "__init__.py", b"")
        static = base / name / "static" / name
        images = []
        for i in range(50):
            image = f"img{i}.png"
            write(
                static / "img" / image, b"\x89PNG\r\n\x1a\n" + rng.randbytes(rng.randint(200, 6000))
            )
            images.append(image)
        for i in range(5):
            write(static / "fonts" / f"font{i}.woff2", rng.randbytes(rng.randint(1000, 8000)))
        for c in range(15):
            lines = [f'@import "c{c + 1}.css";'] if c < 4 else []
            if c == 0:
                lines.append('.logo { background: url("/static/img/logo.png"); }')
            if c == 5:
                lines.append("@font-face { src: url('../fonts/font0.woff2?#iefix'); }")
            for r in range(rng.randint(3, 6)):
                lines.append(f'.r{c}-{r} {{ background: url("../img/{rng.choice(images)}"); }}')
            for r in range(rng.randint(20, 60)):
                lines.append(f".x{c}-{r} {{ margin: {r}px; }}")
            write(static / "css" / f"c{c}.css", ("\n".join(lines) + "\n").encode())
        for j in range(15):
            body = "".join(
                f"function f{k}(a){{return a*{k};}}\n" for k in range(rng.randint(10, 120))
            )
            write(static / "js" / f"m{j}.js", f"{body}//# sourceMappingURL=m{j}.js.map\n".encode())
            write(static / "js" / f"m{j}.js.map", b'{"version": 3, "mappings": ""}')
    return base / names[0] / "static" / names[0] / "css" / "c2.css"


def run(project: Path, storage: str, root: Path, command: tuple[str, ...] = ()) -> float:
    env = {
        **os.environ,
        "BENCH_STATIC_ROOT": str(root),
        "BENCH_STORAGE": storage,
        "DJANGO_SETTINGS_MODULE": "mysite.settings",
    }
    env.pop("STATICPIPE_CONFIG", None)
    if storage == STATICPIPE:
        env["BENCH_STATICPIPE"] = "1"
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *(command or ("manage.py", "collectstatic", "--noinput", "-v", "0"))],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"collectstatic ({storage}) failed:\n{proc.stdout}\n{proc.stderr}")
    return seconds


def same_tree(a: Path, b: Path) -> bool:
    def files(root: Path) -> dict[str, Path]:
        return {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}

    left, right = files(a), files(b)
    return left.keys() == right.keys() and all(
        filecmp.cmp(left[name], right[name], shallow=False) for name in left
    )


def bench(project: Path, work: Path, storage: str, edit: Path, runs: int) -> dict[str, float]:
    root = work / ("django_root" if storage == DJANGO else "staticpipe_root")
    times: dict[str, list[float]] = {"full build": [], "no-op re-run": [], "1 CSS changed": []}
    for _ in range(runs):
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(project / ".staticpipe", ignore_errors=True)
        times["full build"].append(run(project, storage, root))
        times["no-op re-run"].append(run(project, storage, root))
        with edit.open("a") as handle:
            handle.write(f".edit{time.time_ns()} {{ color: red; }}\n")
        times["1 CSS changed"].append(run(project, storage, root))
    return {step: statistics.median(values) for step, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=20, help="apps of 100 files (default 20)")
    parser.add_argument("--runs", type=int, default=3, help="repetitions (median shown)")
    parser.add_argument("--keep", action="store_true", help="keep the generated project")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="staticpipe-django-bench-"))
    try:
        project = work / "project"
        edit = generate(project, args.apps)
        results = {}
        for storage in (DJANGO, STATICPIPE):
            results[storage] = bench(project, work, storage, edit, args.runs)
        # the same sources for both now: one more full build each, compared
        for storage, name in ((DJANGO, "django_root"), (STATICPIPE, "staticpipe_root")):
            shutil.rmtree(work / name, ignore_errors=True)
            shutil.rmtree(project / ".staticpipe", ignore_errors=True)
            run(project, storage, work / name)
        identical = same_tree(work / "django_root", work / "staticpipe_root")
        # doit collect on the same settings and state: a no-op re-run
        (project / "pyproject.toml").write_text(
            '[tool.staticpipe]\ndjango_settings = "mysite.settings"\n'
        )
        doit = ("-m", "staticpipe", "collect", "-v", "0")
        root = work / "staticpipe_root"
        run(project, STATICPIPE, root, doit)  # (its own signatures, once)
        doit_noop = statistics.median(
            run(project, STATICPIPE, root, doit) for _ in range(args.runs)
        )
        startup = statistics.median(
            run(project, STATICPIPE, root, ("manage.py", "help", "collectstatic"))
            for _ in range(args.runs)
        )
        count = sum(1 for p in (work / "django_root").rglob("*") if p.is_file())
        print(f"{args.apps} apps + the admin and one dirs entry; {count} files in STATIC_ROOT;")
        print(f"median of {args.runs}; {platform.python_version()}, {os.cpu_count()} cores; ")
        print(f"outputs byte-identical: {'yes' if identical else 'NO'}\n")
        print("| step | Django's storage | staticpipe's storage | ratio |")
        print("|---|---|---|---|")
        for step in results[DJANGO]:
            ours, theirs = results[STATICPIPE][step], results[DJANGO][step]
            print(f"| {step} | {theirs:.2f} s | {ours:.2f} s | {ours / theirs:.2f} |")
        print(
            f"\nno-op `python -m staticpipe collect` (same settings, same state): {doit_noop:.2f} s"
        )
        print(f"`manage.py help collectstatic` (Python + Django setup, no work): {startup:.2f} s")
        return 0 if identical else 1
    finally:
        if args.keep:
            print(f"\nproject kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
