"""The sample project, built the way its README says, equals Django's collectstatic of it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import assert_same_output, run_django

SAMPLE = Path(__file__).resolve().parent.parent / "sample_project"


def test_sample_project_doit_collect_matches_django(tmp_path, monkeypatch):
    project = tmp_path / "sample_project"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns("build", ".staticpipe*"))
    proc = subprocess.run(
        [sys.executable, "-m", "doit", "collect"],
        cwd=project, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "static files copied" in proc.stdout

    monkeypatch.syspath_prepend(str(project))  # the `shop` app, as manage.py would have it
    django_root = run_django(
        tmp_path / "django",
        dirs=[project / "assets", ("vendor", project / "third_party/static")],
        packages=["shop"],
        ignore=["*.scss", "node_modules"],
    )
    assert_same_output(django_root, project / "build/static")
    assert not (project / "build/static/scss").exists()  # ignored
