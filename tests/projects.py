"""A temp project driven the way users drive staticpipe: pyproject.toml + dodo.py + doit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CONFIG = """\
[tool.staticpipe]
static_root = "build/static"
dirs = ["assets"]
"""


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def summary(self) -> str:
        lines = [line for line in self.stdout.splitlines() if "static file" in line]
        return lines[-1] if lines else ""

    def executed(self, task: str) -> bool:
        return f".  {task}\n" in self.stdout + "\n"


class Project:
    def __init__(self, path: Path, config: str = DEFAULT_CONFIG):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.write_config(config)
        (path / "dodo.py").write_text("from staticpipe.tasks import *  # noqa: F403\n")

    @property
    def root(self) -> Path:
        return self.path / "build" / "static"

    @property
    def state(self) -> Path:
        """The state directory (the default ``state_dir``)."""
        return self.path / ".staticpipe"

    def write_config(self, text: str) -> None:
        (self.path / "pyproject.toml").write_text(text)

    def write(self, name: str, content: str | bytes, base: str = "assets") -> Path:
        path = self.path / base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    def doit(self, *args: str, check: bool = True) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "doit", *args],
            cwd=self.path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"doit {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return result

    def manifest(self) -> dict[str, str]:
        return json.loads((self.root / "staticfiles.json").read_text())["paths"]


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every file under ``root``: bytes for files, ``-> target`` for symlinks."""
    result: dict[str, bytes | str] = {}
    for directory, _dirs, files in os.walk(root):
        for filename in files:
            path = Path(directory, filename)
            name = path.relative_to(root).as_posix()
            result[name] = f"-> {os.readlink(path)}" if path.is_symlink() else path.read_bytes()
    return result


def mtimes(root: Path) -> dict[str, int]:
    return {
        path.relative_to(root).as_posix(): path.lstat().st_mtime_ns
        for path in root.rglob("*")
        if path.is_file() or path.is_symlink()
    }
