"""The command line as Django and doit users expect it: collectstatic's options
and messages, ``python -m staticpipe`` presenting itself, doit's own commands."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_django
from old_outputs import assert_clean_build_plus_old_versions, prune_all
from projects import Project, snapshot


@pytest.fixture
def project(tmp_path: Path) -> Project:
    project = Project(tmp_path / "site")
    project.write("css/a.css", ".a { background: url(../img/x.png); }\n")
    project.write("img/x.png", b"PNG")
    project.write("js/app.js", "console.log(1);\n")
    return project


def staticpipe(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "staticpipe", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _django_lines(project: Project, tmp_path: Path, verbosity: int) -> list[str]:
    out = io.StringIO()
    run_django(tmp_path / "django", [project.path / "assets"], verbosity=verbosity, stdout=out)
    return [line for line in out.getvalue().splitlines() if line.strip()]


def _file_lines(text: str) -> list[str]:
    """The per-file lines, hashes blanked (Django and we hash alike, but this
    compares the words and the order)."""
    return [
        re.sub(r"\.[0-9a-f]{12}\.", ".HASH.", line)
        for line in text.splitlines()
        if line.startswith(("Copying ", "Linking ", "Skipping ", "Post-processed ", "Deleting "))
    ]


# -- Django's collectstatic options ---------------------------------------------
def test_verbosity_2_prints_django_per_file_lines(project, tmp_path):
    ours = project.doit("collect", "-v", "2", "--noinput")
    django = _django_lines(project, tmp_path, 2)
    ours_copied = [line for line in _file_lines(ours.stdout) if line.startswith("Copying")]
    django_copied = [line for line in django if line.startswith("Copying")]
    assert ours_copied == django_copied  # same sources, same order, same words
    ours_post = sorted(line for line in _file_lines(ours.stdout) if "Post-processed" in line)
    django_post = sorted(
        re.sub(r"\.[0-9a-f]{12}\.", ".HASH.", line) for line in django if "Post-processed" in line
    )
    assert ours_post == django_post
    # the summary is Django's
    assert ours.summary == django[-1].replace(str(tmp_path / "django"), str(project.root))


def test_verbosity_2_on_a_rerun_skips_as_django_does(project, tmp_path):
    project.doit("collect")
    again = project.doit("collect", "--verbosity", "2")
    run_django(tmp_path / "django", [project.path / "assets"])
    django = _django_lines(project, tmp_path, 2)
    skipped = [line for line in django if line.startswith("Skipping")]
    assert [line for line in _file_lines(again.stdout) if line.startswith("Skipping")] == skipped


def test_verbosity_0_prints_nothing(project):
    result = project.doit("collect", "-v", "0")
    assert result.stdout == result.stderr == ""
    assert (project.root / "staticfiles.json").is_file()


def test_short_c_clears_and_logs_deletions(project):
    project.doit("collect")
    stale = project.root / "stale.txt"
    stale.write_text("old")
    result = project.doit("collect", "-c", "--no-input")
    assert not stale.exists()
    assert "Deleting 'stale.txt'" in result.stdout
    assert (project.root / "staticfiles.json").is_file()


# -- python -m staticpipe presents itself ----------------------------------------
def test_help_describes_staticpipe_tasks_and_config(tmp_path):
    result = staticpipe(tmp_path, "--help")
    assert result.returncode == 0
    for word in ("staticpipe", "collect", "findstatic", "watch", "serve", "--config"):
        assert word in result.stdout
    assert "[tool.staticpipe]" in result.stdout


def test_version_is_the_package_version(tmp_path):
    from importlib.metadata import version

    result = staticpipe(tmp_path, "--version")
    assert result.stdout.strip() == f"staticpipe {version('staticpipe')}"


def test_config_anywhere_and_state_in_the_project_dir(project, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = str(project.path / "pyproject.toml")
    result = staticpipe(elsewhere, "collect", "--config", config, "--clear")
    assert result.returncode == 0, result.stderr
    assert (project.root / "staticfiles.json").is_file()
    assert list(elsewhere.iterdir()) == []  # neither doit's database nor any state here
    assert (project.path / ".staticpipe-doit.sqlite3").is_file()
    again = staticpipe(elsewhere, f"--config={config}", "collect")
    assert "0 static files copied" in again.stdout


def test_from_a_subdirectory_state_stays_in_the_project(project):
    sub = project.path / "assets" / "css"
    result = staticpipe(sub, "collect", "-v", "0")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in sub.iterdir()) == ["a.css"]
    assert (project.path / ".staticpipe-doit.sqlite3").is_file()


# -- doit's own commands ----------------------------------------------------------
def test_doit_clean_dry_run_lists_and_keeps(project):
    project.doit("collect")
    before = sorted(p.name for p in project.root.rglob("*"))
    result = project.doit("clean", "-n", "collect")
    assert "Would remove 'staticfiles.json'" in result.stdout
    assert re.search(r"Would remove 'css/a\.[0-9a-f]{12}\.css'", result.stdout)
    assert sorted(p.name for p in project.root.rglob("*")) == before
    project.doit("clean", "collect")
    assert not (project.root / "staticfiles.json").exists()
    assert (project.path / "assets" / "css" / "a.css").is_file()


def test_doit_info_and_forget(project):
    project.doit("collect")
    info = project.doit("info", "collect_copy")
    assert re.search(r"status\s*:\s*up-to-date", info.stdout)
    project.doit("forget", "-a")
    info = project.doit("info", "collect_copy", check=False)  # exit 1: not up to date
    assert re.search(r"status\s*:\s*run", info.stdout)
    assert project.doit("collect").executed("collect_copy")


def test_doit_info_collect_is_up_to_date_after_a_run_and_not_after_an_edit(project):
    project.doit("collect")
    assert re.search(r"status\s*:\s*up-to-date", project.doit("info", "collect").stdout)
    project.write("js/app.js", "console.log(2);\n")
    info = project.doit("info", "collect", check=False)  # exit 1: not up to date
    assert info.returncode == 1
    assert re.search(r"status\s*:\s*run", info.stdout)


def test_a_no_op_collect_still_prints_djangos_summary(project):
    project.doit("collect")
    again = project.doit("collect")
    assert "-- collect\n" in again.stdout  # doit's up-to-date mark
    assert again.summary == f"0 static files copied to '{project.root}', 3 unmodified."


@pytest.mark.parametrize("forget", [("forget", "collect"), ("forget", "-a")])
def test_doit_forget_makes_the_next_run_rebuild_everything(project, forget):
    first = project.doit("collect")
    before = {p.relative_to(project.root): p.read_bytes() for p in project.root.rglob("*")
              if p.is_file()}  # fmt: skip
    project.doit(*forget)
    info = project.doit("info", "collect", check=False)
    assert re.search(r"status\s*:\s*run", info.stdout)
    rebuilt = project.doit("collect", "-v", "2")
    assert rebuilt.summary == first.summary  # copied and post-processed as the first time
    assert len(_file_lines(rebuilt.stdout)) > 3  # Copying and Post-processed lines again
    after = {p.relative_to(project.root): p.read_bytes() for p in project.root.rglob("*")
             if p.is_file()}  # fmt: skip
    assert after == before
    assert project.doit("collect").summary.startswith("0 static files copied")


def test_doit_dumpdb_shows_the_database_staticpipe_picks(project):
    project.doit("collect")
    for result in (project.doit("dumpdb"), staticpipe(project.path.parent, "--config",
                                                      str(project.path), "dumpdb")):  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert f"sqlite3 database '{project.path / '.staticpipe-doit.sqlite3'}'" in result.stdout
        tasks = [line.partition(" -> ")[0] for line in result.stdout.splitlines() if " -> " in line]
        assert tasks == ["collect", "collect_copy", "collect_discover", "collect_manifest",
                         "collect_postprocess"]  # fmt: skip
        assert "'checker:': 'StatChecker'" in result.stdout


def test_doit_dumpdb_follows_a_dodo_that_picks_another_backend(project):
    (project.path / "dodo.py").write_text(
        "from staticpipe.tasks import *  # noqa: F403\n"
        "DOIT_CONFIG = {**DOIT_CONFIG, 'backend': 'json', 'dep_file': 'state.json'}  # noqa: F405\n"
    )
    project.doit("collect")
    dumped = project.doit("dumpdb").stdout
    assert "json database 'state.json'" in dumped
    assert "collect_copy -> " in dumped
    plain = project.path / "plain"  # not a staticpipe project: doit's own dbm, as doit dumps it
    plain.mkdir()
    (plain / "dodo.py").write_text("def task_x():\n    return {'actions': ['true']}\n")
    run = [sys.executable, "-m", "doit"]
    subprocess.run(run, cwd=plain, check=True, capture_output=True)
    dumped = subprocess.run([*run, "dumpdb"], cwd=plain, capture_output=True, text=True)
    assert dumped.returncode == 0, dumped.stderr
    assert "DBM type is" in dumped.stdout and "'x' -> " in dumped.stdout


def test_doit_dumpdb_before_any_run_is_one_line(tmp_path):
    for dodo in ("", "def task_x():\n    return {'actions': ['true']}\n"):  # none; doit's dbm
        if dodo:
            (tmp_path / "dodo.py").write_text(dodo)
        result = subprocess.run([sys.executable, "-m", "doit", "dumpdb"], cwd=tmp_path,
                                capture_output=True, text=True)  # fmt: skip
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines() == [
            "ERROR: .doit.db: no doit database yet (run a task first)"
        ]


def test_a_dodo_with_its_own_config_merges_ours(project):
    (project.path / "dodo.py").write_text(
        "from staticpipe.tasks import *  # noqa: F403\n"
        "DOIT_CONFIG = {**DOIT_CONFIG, 'verbosity': 2}  # noqa: F405\n"
    )
    result = project.doit()  # a bare doit: our default task
    assert result.summary.startswith("3 static files copied")
    assert (project.path / ".staticpipe-doit.sqlite3").is_file()


def test_a_dodo_config_above_the_import_is_not_replaced_silently(project):
    (project.path / "dodo.py").write_text(
        "DOIT_CONFIG = {'verbosity': 2}\n"
        "def task_collect():\n    return {'actions': ['echo mine']}\n"
        "from staticpipe.tasks import *  # noqa: E402,F403\n"
    )
    result = project.doit("collect")
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 2
    assert "DOIT_CONFIG defined before" in warnings[0]
    assert "task_collect defined before" in warnings[1]


# -- progress ----------------------------------------------------------------------
def _collect_with_a_terminal(project: Project, *args: str) -> tuple[str, str]:
    """``python -m staticpipe collect`` with stderr on a pseudo-terminal."""
    import os
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "staticpipe", "collect", *args],
        cwd=project.path, stdout=subprocess.PIPE, stderr=follower, text=True,
    )  # fmt: skip
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    stdout = proc.communicate(timeout=120)[0]
    os.close(leader)
    assert proc.returncode == 0
    return stdout, b"".join(chunks).decode(errors="replace")


def test_a_long_build_shows_bars_on_a_terminal_only(tmp_path):
    from staticpipe import progress

    def many(name: str) -> Project:
        project = Project(tmp_path / name)
        for index in range(progress.MIN_ITEMS):
            project.write(f"f/{index}.txt", str(index))
        return project

    stdout, stderr = _collect_with_a_terminal(many("tty"))
    for phase in ("copy", "post-process"):
        assert re.search(rf"{phase}: .*\d+/{progress.MIN_ITEMS} ", stderr), phase
        assert f"{phase}:" not in stdout
    _, quiet = _collect_with_a_terminal(many("quiet"), "-v", "0")
    assert quiet == ""
    piped = many("piped").doit("collect")  # stderr a pipe: no bar
    assert piped.stderr == ""


def test_duplicates_are_warned_in_django_words_on_every_run(project, tmp_path):
    project.write_config(
        '[tool.staticpipe]\nstatic_root = "build/static"\ndirs = ["assets", "more"]\n'
    )
    project.write("css/a.css", ".b {}\n", base="more")
    project.write("only.txt", "o", base="more")
    first, again = project.doit("collect"), project.doit("collect")
    out = io.StringIO()
    run_django(tmp_path / "django", [project.path / "assets", project.path / "more"], verbosity=1,
               stdout=out)  # fmt: skip
    django = [line for line in out.getvalue().splitlines() if line.startswith("Found another")]
    assert len(django) == 1
    for result in (first, again):
        assert [line for line in result.stdout.splitlines() if "Found another" in line] == django
    assert "Found another" not in project.doit("collect", "-v", "0").stdout


def test_a_source_removed_before_doit_forget_leaves_only_prunable_old_versions(project, tmp_path):
    """With the state forgotten, what the manifest in place names still tells the
    run which outputs were the last build's: a removed source's copies are kept
    as old versions the journal knows, and pruning leaves the clean build."""
    project.write("css/gone.css", "body { color: red }\n")
    project.doit("collect")
    (project.path / "assets" / "css" / "gone.css").unlink()
    project.doit("forget", "-a")
    project.doit("collect")
    clean = Project(tmp_path / "clean")
    shutil.copytree(project.path / "assets", clean.path / "assets")
    clean.doit("collect")
    state_dir = project.path / ".staticpipe"
    assert_clean_build_plus_old_versions(clean.root, project.root, state_dir)
    assert (project.root / "css" / "gone.css").exists()  # kept, as Django keeps it
    prune_all(project.root, state_dir)
    assert snapshot(project.root) == snapshot(clean.root)
