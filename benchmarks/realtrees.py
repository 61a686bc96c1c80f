"""Real static trees from PyPI wheels, for the slow tests and the benchmark.

Each wheel is fetched with ``pip download --no-deps --only-binary=:all:`` (so
nothing is installed or built) and only its ``*/static/`` directories are
unpacked, into a cache directory that is never committed:
``benchmarks/.cache/`` by default, or ``$STATICPIPE_REALTREES_CACHE``.

Versions are pinned so that results (and the benchmark's file counts) are
reproducible. Run ``python benchmarks/realtrees.py`` to fetch them and print
the static directories.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

CACHE_ENV = "STATICPIPE_REALTREES_CACHE"
DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"


@dataclass(frozen=True)
class Wheel:
    requirement: str  # "name==version", as given to pip download
    note: str

    @property
    def name(self) -> str:
        return self.requirement.split("==")[0]

    @property
    def version(self) -> str:
        return self.requirement.split("==")[1]

    @property
    def filename_prefix(self) -> str:
        # Wheel file names normalise the project name: "django-ckeditor" ->
        # "django_ckeditor-6.7.4-..."; compare case-insensitively.
        return f"{self.name.replace('-', '_')}-{self.version}-".lower()


WHEELS = (
    Wheel("Django==5.2.19", "Django's admin (and gis) static files"),
    Wheel("djangorestframework==3.18.3", "browsable API: Bootstrap, fonts, CSS"),
    Wheel("fontawesomefree==6.6.0", "Font Awesome: ~9,800 files, CSS -> webfonts"),
    Wheel("django-ckeditor==6.7.4", "CKEditor 4: skins, plugins, sourcemaps"),
    Wheel("drf-spectacular-sidecar==2026.10.1", "Swagger UI and ReDoc bundles"),
    Wheel("django-tinymce==5.0.0", "TinyMCE: skins, plugins"),
)


class RegistryUnavailable(RuntimeError):
    """A wheel is not in the cache and could not be downloaded (no network, no index)."""


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).resolve()


def _cached_wheel(wheels: Path, wheel: Wheel) -> Path | None:
    if not wheels.is_dir():
        return None
    for path in sorted(wheels.iterdir()):
        if path.name.lower().startswith(wheel.filename_prefix) and path.suffix == ".whl":
            return path
    return None


@contextlib.contextmanager
def _downloading(wheels: Path):
    """Held while a wheel is downloaded into ``wheels``: test processes running
    side by side (pytest-xdist) never see another's half-written wheel."""
    wheels.mkdir(parents=True, exist_ok=True)
    with open(wheels / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def download(wheel: Wheel, wheels: Path, timeout: float = 300) -> Path:
    """The wheel file, from the cache or downloaded into it."""
    with _downloading(wheels):
        return _cached_wheel(wheels, wheel) or _download(wheel, wheels, timeout)


def _download(wheel: Wheel, wheels: Path, timeout: float) -> Path:
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--no-input", "--timeout", "30", "--retries", "1",
        "-d", str(wheels), wheel.requirement,
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RegistryUnavailable(
            f"pip download {wheel.requirement} timed out after {timeout:.0f} s"
        ) from None
    except OSError as exc:
        raise RegistryUnavailable(f"cannot run pip: {exc}") from None
    cached = _cached_wheel(wheels, wheel)
    if done.returncode != 0 or cached is None:
        lines = (done.stderr or done.stdout).strip().splitlines()
        errors = [line for line in lines if line.startswith("ERROR")]
        tail = " | ".join(errors or lines[-3:])
        raise RegistryUnavailable(
            f"pip download {wheel.requirement} failed (exit {done.returncode}): {tail}"
        )
    return cached


def static_roots(names: list[str]) -> list[str]:
    """The ``.../static`` directories inside a wheel, outside its .dist-info."""
    roots = set()
    for name in names:
        parts = name.split("/")
        if "static" not in parts[:-1] or parts[0].endswith((".dist-info", ".data")):
            continue
        roots.add("/".join(parts[: parts.index("static") + 1]))
    return sorted(roots)


def extract(wheel_file: Path, dest: Path) -> list[Path]:
    """Unpack the wheel's static directories into ``dest`` (once); return them."""
    marker = dest / ".complete"
    with zipfile.ZipFile(wheel_file) as archive:
        names = archive.namelist()
        roots = static_roots(names)
        if not marker.exists():
            if dest.exists():
                shutil.rmtree(dest)
            dest.parent.mkdir(parents=True, exist_ok=True)
            partial = Path(tempfile.mkdtemp(prefix=dest.name + ".", dir=dest.parent))
            try:
                for name in names:
                    if name.endswith("/") or not any(name.startswith(root + "/") for root in roots):
                        continue
                    archive.extract(name, partial)
                (partial / ".complete").write_text("\n".join(roots) + "\n")
                try:
                    partial.rename(dest)
                except OSError:
                    if not marker.exists():  # not another process's complete copy
                        raise
                    shutil.rmtree(partial, ignore_errors=True)
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
    return [dest / root for root in roots]


def static_dirs(cache: Path | None = None, wheels: tuple[Wheel, ...] = WHEELS) -> list[Path]:
    """Every wheel's static directories (downloading and unpacking what is missing).

    Raises RegistryUnavailable, with pip's reason, when a wheel is not cached
    and cannot be downloaded.
    """
    cache = cache or cache_dir()
    result: list[Path] = []
    for wheel in wheels:
        wheel_file = download(wheel, cache / "wheels")
        result += extract(wheel_file, cache / "trees" / wheel_file.stem)
    return result


def count_files(dirs: list[Path]) -> int:
    return sum(len(files) for d in dirs for _, _, files in os.walk(d))


def main() -> int:
    try:
        dirs = static_dirs()
    except RegistryUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for directory in dirs:
        print(directory)
    print(f"{count_files(dirs)} files in {len(dirs)} static dirs under {cache_dir()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
