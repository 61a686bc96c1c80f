"""``--clear``: static_root ends as Django's ``collectstatic --clear`` leaves it,
but nothing goes before the new manifest is in place, so a run killed half-way
leaves the previous manifest and every file it names."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

from conftest import assert_same_output, run_django, tree_files
from projects import DEFAULT_CONFIG, Project

# A file_hash hook that is md5's (Django's default) but kills the run, as kill -9
# would, when it reaches the file named by $KILL_AT: a kill at a known moment.
KILLER = """\
import hashlib, os, signal


def md5_or_die(name, content):
    if name is not None and name == os.environ.get("KILL_AT"):
        os.kill(os.getpid(), signal.SIGKILL)
    digest = hashlib.md5()
    for chunk in content.chunks():
        digest.update(chunk)
    return digest.hexdigest()[:12]
"""


def _project(tmp_path) -> Project:
    project = Project(tmp_path / "site", DEFAULT_CONFIG + 'file_hash = "killer:md5_or_die"\n')
    (project.path / "killer.py").write_text(KILLER)
    project.write("css/a.css", '@import "b.css";\n.a { background: url(../img/x.png) }\n')
    project.write("css/b.css", ".b { color: red }\n")
    project.write("img/x.png", b"PNG1")
    project.write("js/app.js", "console.log(1);\n")
    return project


def _collect_killed_at(project: Project, name: str, *options: str) -> int:
    return subprocess.run(
        [sys.executable, "-m", "doit", "collect", *options], cwd=project.path,
        env={**os.environ, "KILL_AT": name}, capture_output=True, timeout=120,
    ).returncode  # fmt: skip


def _assert_a_working_site(project: Project) -> dict[str, str]:
    """The manifest parses, and every hashed name it gives is there with the bytes
    its hash names."""
    paths = json.loads((project.root / "staticfiles.json").read_bytes())["paths"]
    for name, hashed in paths.items():
        data = (project.root / hashed).read_bytes()
        assert hashed.split(".")[-2] == hashlib.md5(data).hexdigest()[:12], (name, hashed)
    return paths


def test_a_killed_clear_leaves_the_previous_manifest_and_its_files(tmp_path):
    project = _project(tmp_path)
    project.doit("collect")
    before = _assert_a_working_site(project)
    (project.root / "stale.txt").write_text("an old deploy's file")
    project.write("css/b.css", ".b { color: blue }\n")  # the next build differs
    project.write("img/x.png", b"PNG2")

    assert _collect_killed_at(project, "css/b.css", "--clear") == -9

    assert _assert_a_working_site(project) == before
    assert (project.root / "stale.txt").exists()  # nothing went before the new manifest


def test_the_run_after_a_killed_clear_ends_as_a_clean_build_keeping_files_not_staticpipes(
    tmp_path,
):
    """Only a run that is itself ``--clear`` deletes files staticpipe did not
    write: the run without it after a killed one keeps them; ``--clear`` again
    deletes them."""
    project = _project(tmp_path)
    project.doit("collect")
    (project.root / "stale.txt").write_text("an old deploy's file")
    project.write("css/b.css", ".b { color: blue }\n")
    assert _collect_killed_at(project, "css/b.css", "--clear") == -9

    project.doit("collect")
    assert (project.root / "stale.txt").read_text() == "an old deploy's file"
    project.doit("collect", "--clear")

    clean = Project(tmp_path / "clean", DEFAULT_CONFIG + 'file_hash = "killer:md5_or_die"\n')
    (clean.path / "killer.py").write_text(KILLER)
    for path in (project.path / "assets").rglob("*"):
        if path.is_file():
            clean.write(path.relative_to(project.path / "assets").as_posix(), path.read_bytes())
    clean.doit("collect")
    assert tree_files(project.root) == tree_files(clean.root)  # stale.txt gone too


def test_clean_after_a_killed_clear_removes_only_what_staticpipe_wrote(tmp_path):
    project = _project(tmp_path)
    project.doit("collect")
    written = set(tree_files(project.root))
    (project.root / "stale.txt").write_text("an old deploy's file")
    (project.root / "css" / "mine.css").write_text("/* put here by hand */")
    project.write("css/b.css", ".b { color: blue }\n")
    assert _collect_killed_at(project, "css/b.css", "--clear") == -9

    project.doit("clean", "collect")

    left = set(tree_files(project.root)) if project.root.exists() else set()
    assert left == {"stale.txt", "css/mine.css"}  # every file of the build went, no other
    assert written.isdisjoint(left)


def test_clear_ends_as_djangos_clear(tmp_path):
    project = Project(tmp_path / "site")
    project.write("css/a.css", ".a { background: url(../img/x.png) }\n")
    project.write("img/x.png", b"PNG1")
    project.doit("collect")
    project.write("img/x.png", b"PNG2")
    django = run_django(tmp_path / "django", [project.path / "assets"])
    for root in (project.root, django):
        (root / "stale.txt").write_text("old")
        (root / "old" / "dir").mkdir(parents=True)
        (root / "old" / "dir" / "f.txt").write_text("old")
    run_django(django, [project.path / "assets"], clear=True)

    result = project.doit("collect", "--clear")

    assert "Deleting 'stale.txt'" in result.stdout
    assert_same_output(django, project.root)


def test_clear_without_post_processing_leaves_no_manifest_as_django(tmp_path):
    project = Project(tmp_path / "site")
    project.write("css/a.css", ".a { background: url(../img/x.png) }\n")
    project.write("img/x.png", b"PNG1")
    project.doit("collect")
    assert (project.root / "staticfiles.json").exists()

    project.doit("collect", "--clear", "--no-post-process")

    assert sorted(tree_files(project.root)) == ["css/a.css", "img/x.png"]


def test_a_run_without_clear_after_a_failed_clear_deletes_no_file_staticpipe_did_not_write(
    tmp_path,
):
    project = Project(tmp_path / "site")
    project.write("css/a.css", ".a { background: url(../img/x.png) }\n")
    project.write("img/x.png", b"PNG1")
    project.doit("collect")
    built = tree_files(project.root)
    (project.root / "robots.txt").write_text("User-agent: *\n")  # the user's own files
    (project.root / "img" / "logo.svg").write_text("<svg/>")
    project.write("css/a.css", ".a { background: url(../img/gone.png) }\n")  # bad input
    failed = project.doit("collect", "--clear", check=False)
    assert failed.returncode != 0 and "gone.png" in failed.stderr + failed.stdout
    assert (project.root / "staticfiles.json").read_bytes() == built["staticfiles.json"]
    assert (project.root / "robots.txt").exists() and (project.root / "img" / "logo.svg").exists()

    project.write("css/a.css", ".a { background: url(../img/x.png) }\n")  # fixed
    project.doit("collect")
    assert (project.root / "robots.txt").read_text() == "User-agent: *\n"
    assert (project.root / "img" / "logo.svg").read_text() == "<svg/>"
    from staticpipe.config import load_config
    from staticpipe.phases import cleanup

    assert not cleanup.has_garbage(load_config(project.path))  # dropped, not kept for later
    assert project.doit("collect").summary.endswith("2 unmodified.")  # nothing left to do
