"""The doit layer as users drive it: `doit collect` and its options, findstatic, clean."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from old_outputs import PRUNE_ALL, assert_plus_old_versions
from projects import DEFAULT_CONFIG, Project, mtimes, snapshot

PNG = b"\x89PNG\r\n\x1a\nfake image"
SOURCES = sorted(
    ["img/a.png", "img/b.png", "css/uses_a.css", "css/main.css", "css/other.css", "js/app.js"]
)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    p = Project(tmp_path / "site")
    p.write("img/a.png", PNG)
    p.write("img/b.png", PNG + b"b")
    p.write("css/uses_a.css", ".x { background: url(../img/a.png); }\n")
    p.write("css/main.css", '@import "uses_a.css";\nbody { color: red; }\n')
    p.write("css/other.css", ".y { background: url(../img/b.png); }\n")
    p.write("js/app.js", "console.log(1);\n")
    return p


def clean_build(project: Project, tmp_path: Path) -> dict[str, bytes | str]:
    """The same sources built from scratch in a fresh project: the reference result."""
    fresh = Project(tmp_path / "fresh", (project.path / "pyproject.toml").read_text())
    os.symlink(project.path / "assets", fresh.path / "assets")
    fresh.doit("collect")
    return snapshot(fresh.root)


def test_collect_writes_hashed_files_manifest_and_django_summary(project: Project):
    result = project.doit("collect")
    assert result.summary == (f"6 static files copied to '{project.root}', 6 post-processed.")
    manifest = project.manifest()
    assert sorted(manifest) == SOURCES
    for name, hashed in manifest.items():
        assert (project.root / name).is_file()
        assert (project.root / hashed).is_file()
    main = (project.root / manifest["css/main.css"]).read_text()
    assert f'@import url("{Path(manifest["css/uses_a.css"]).name}")' in main


def test_noop_rerun_does_no_work(project: Project):
    project.doit("collect")
    before = mtimes(project.root)
    result = project.doit("collect")
    assert result.summary == f"0 static files copied to '{project.root}', 6 unmodified."
    for phase in ("collect_copy", "collect_postprocess", "collect_manifest"):
        assert f"-- {phase}" in result.stdout
    assert mtimes(project.root) == before


def test_editing_one_image_redoes_it_and_the_css_that_reaches_it(project, tmp_path):
    project.doit("collect")
    before = project.manifest()
    project.write("img/a.png", PNG + b" edited")
    result = project.doit("collect")
    after = project.manifest()
    changed = {name for name in after if after[name] != before[name]}
    assert changed == {"img/a.png", "css/uses_a.css", "css/main.css"}
    assert result.summary == (
        f"1 static file copied to '{project.root}', 5 unmodified, 3 post-processed."
    )
    clean = clean_build(project, tmp_path)
    assert_plus_old_versions(clean, snapshot(project.root), project.root, project.state)
    kept = set(snapshot(project.root)) - set(clean)  # the old versions, as Django keeps them
    assert kept == {before[name] for name in changed}


def test_content_change_behind_a_restored_mtime_is_rebuilt(project, tmp_path):
    project.doit("collect")
    path = project.path / "assets/img/b.png"
    info = path.stat()
    path.write_bytes(PNG + b"c")  # same size as before, mtime restored below
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    project.doit("collect")
    assert project.manifest()["img/b.png"] != "img/b." + "0" * 12 + ".png"
    clean = clean_build(project, tmp_path)
    assert_plus_old_versions(clean, snapshot(project.root), project.root, project.state)
    assert len(set(snapshot(project.root)) - set(clean)) == 2  # b.png's and other.css's


def test_removed_source_leaves_the_manifest_and_its_files_stay_until_pruned(project, tmp_path):
    project.doit("collect")
    old = project.manifest()["js/app.js"]
    (project.path / "assets/js/app.js").unlink()
    project.doit("collect")
    assert "js/app.js" not in project.manifest()
    assert (project.root / old).exists()  # kept, as Django keeps it
    assert (project.root / "js/app.js").exists()
    clean = clean_build(project, tmp_path)
    assert_plus_old_versions(clean, snapshot(project.root), project.root, project.state)
    project.write_config(DEFAULT_CONFIG + PRUNE_ALL)
    project.doit("prune")
    assert snapshot(project.root) == clean


def test_outputs_deleted_from_root_are_restored(project):
    project.doit("collect")
    manifest = project.manifest()
    (project.root / manifest["img/a.png"]).unlink()
    (project.root / "css/main.css").unlink()
    project.doit("collect")
    assert (project.root / manifest["img/a.png"]).is_file()
    assert (project.root / "css/main.css").is_file()


def test_clear_deletes_files_the_pipeline_did_not_write(project):
    project.root.mkdir(parents=True)
    (project.root / "stale.txt").write_text("old deploy")
    project.doit("collect")
    assert (project.root / "stale.txt").exists()
    project.doit("collect", "--clear")
    assert not (project.root / "stale.txt").exists()
    assert len(project.manifest()) == 6


def test_dry_run_prints_and_changes_nothing(project):
    result = project.doit("collect", "--dry-run")
    assert "Pretending to copy" in result.stdout
    assert str(project.path / "assets/img/a.png") in result.stdout
    assert not project.root.exists()
    # a dry run does not make a later real run think it is up to date
    assert project.doit("collect").summary.startswith("6 static files copied")


def test_link_symlinks_originals_and_writes_real_hashed_files(project):
    result = project.doit("collect", "--link")
    assert "6 static files symlinked" in result.summary
    assert os.readlink(project.root / "img/a.png") == str(project.path / "assets/img/a.png")
    hashed = project.root / project.manifest()["img/a.png"]
    assert not hashed.is_symlink() and hashed.read_bytes() == PNG


def test_link_mode_hashed_files_are_copies_a_source_edit_cannot_reach(project):
    project.doit("collect", "--link")
    source = project.path / "assets" / "img" / "a.png"
    hashed = project.root / project.manifest()["img/a.png"]
    assert hashed.stat().st_ino != source.stat().st_ino
    assert project.doit("collect", "--link").summary.startswith("0 static files symlinked")
    with source.open("ab") as handle:  # an edit in place: same inode
        handle.write(b"more")
    assert hashed.read_bytes() == PNG  # what was published under that hash stays


def test_switching_between_copy_and_link_replaces_the_originals(project):
    project.doit("collect", "--link")
    project.doit("collect")
    assert not (project.root / "img/a.png").is_symlink()
    assert (project.root / "img/a.png").read_bytes() == PNG


def test_no_post_process_collects_only(project):
    result = project.doit("collect", "--no-post-process")
    assert result.summary == f"6 static files copied to '{project.root}'."
    assert not (project.root / "staticfiles.json").exists()
    assert sorted(snapshot(project.root)) == SOURCES


def test_ignore_option_adds_django_glob_patterns(project):
    project.write("img/draft.psd", b"psd")
    project.write("vendor/node_modules/x.js", "x")
    project.doit("collect", "--ignore", "*.psd", "--ignore", "node_modules")
    names = set(project.manifest())
    assert "img/draft.psd" not in names
    assert not any("node_modules" in name for name in names)


def test_default_ignores_and_no_default_ignore(project):
    project.write("css/.hidden.css", "a{}")
    project.write("css/backup.css~", "a{}")
    project.write("CVS/Entries", "cvs")
    project.doit("collect")
    assert not {"css/.hidden.css", "css/backup.css~", "CVS/Entries"} & set(project.manifest())
    project.doit("collect", "--no-default-ignore")
    assert {"css/.hidden.css", "css/backup.css~", "CVS/Entries"} <= set(project.manifest())


def test_file_and_directory_permission_modes(project):
    project.write_config(
        DEFAULT_CONFIG + "file_permissions_mode = 0o640\ndirectory_permissions_mode = 0o750\n"
    )
    project.doit("collect")
    manifest = project.manifest()
    for name in (
        "img/a.png",
        manifest["img/a.png"],
        manifest["css/main.css"],
        "staticfiles.json",
    ):
        assert stat.S_IMODE((project.root / name).stat().st_mode) == 0o640, name
    assert stat.S_IMODE((project.root / "img").stat().st_mode) == 0o750


def test_missing_reference_fails_naming_file_line_url_and_keeps_old_manifest(project):
    project.doit("collect")
    good = (project.root / "staticfiles.json").read_bytes()
    project.write("css/main.css", '@import "uses_a.css";\n\nbody { background: url(gone.png); }\n')
    result = project.doit("collect", check=False)
    assert result.returncode != 0
    assert "assets/css/main.css:3: gone.png" in result.stderr + result.stdout
    assert (project.root / "staticfiles.json").read_bytes() == good
    for hashed in json.loads(good)["paths"].values():
        assert (project.root / hashed).is_file()


def test_bad_config_is_a_one_line_error(project):
    project.write_config('[tool.staticpipe]\nstatic_root = "build/static"\nstorage = "s3"\n')
    result = project.doit("collect", check=False)
    assert result.returncode != 0
    assert 'storage = "s3": expected one of "manifest", "plain"' in result.stderr
    assert "pyproject.toml" in result.stderr


def test_changed_static_url_rewrites_absolute_references(project):
    project.write("css/abs.css", ".z { background: url(/assets/img/a.png); }\n")
    project.doit("collect")
    text = (project.root / project.manifest()["css/abs.css"]).read_text()
    assert "url(/assets/img/a.png)" in text  # outside static_url: left alone
    project.write_config(DEFAULT_CONFIG + 'static_url = "/assets/"\n')
    project.doit("collect")
    hashed_png = project.manifest()["img/a.png"]
    text = (project.root / project.manifest()["css/abs.css"]).read_text()
    assert f'url("/assets/{hashed_png}")' in text


def test_plain_storage_collects_without_hashing(project):
    project.doit("collect")
    project.write_config(DEFAULT_CONFIG + 'storage = "plain"\n')
    project.doit("collect")
    assert sorted(snapshot(project.root)) == SOURCES


def test_findstatic_prints_every_match_or_the_first(project):
    second = project.path / "more"
    (second / "img").mkdir(parents=True)
    (second / "img/a.png").write_bytes(b"shadowed")
    project.write_config(DEFAULT_CONFIG.replace('["assets"]', '["assets", "more"]'))
    result = project.doit("findstatic", "img/a.png", "css/main.css")
    assert (
        f"Found 'img/a.png' here:\n  {project.path / 'assets/img/a.png'}\n  {second / 'img/a.png'}"
        in result.stdout
    )
    assert f"  {project.path / 'assets/css/main.css'}" in result.stdout
    first = project.doit("findstatic", "img/a.png", "--first")
    assert str(second / "img/a.png") not in first.stdout
    assert "No matching file found for 'nope.css'" in project.doit("findstatic", "nope.css").stderr


def test_clean_removes_only_what_the_pipeline_wrote(project):
    project.root.mkdir(parents=True)
    (project.root / "keep.txt").write_text("not ours")
    project.doit("collect")
    project.doit("clean", "collect")
    assert snapshot(project.root) == {"keep.txt": b"not ours"}
    assert (project.path / "assets/img/a.png").exists()


def test_doit_list_shows_each_phase_with_a_doc(project):
    listed = project.doit("list").stdout
    for task in ("collect", "collect_discover", "collect_copy", "collect_postprocess",
                 "collect_manifest", "findstatic", "watch", "serve"):  # fmt: skip
        line = next(line for line in listed.splitlines() if line.split()[0] == task)
        assert len(line.split()) > 2, line


def test_existing_dodo_imports_tasks_with_a_prefix_and_depends_on_them(project):
    (project.path / "pyproject.toml").unlink()
    (project.path / "dodo.py").write_text(
        "from pathlib import Path\n"
        "from staticpipe.config import Config, Location\n"
        "from staticpipe.tasks import DOIT_CONFIG, make_tasks\n"
        "here = Path(__file__).parent\n"
        "config = Config(static_root=here / 'out', dirs=(Location(here / 'assets'),),\n"
        "                project_dir=here)\n"
        "globals().update(make_tasks(config, prefix='static_'))\n"
        "def task_collect():\n"
        "    return {'actions': ['echo user collect'], 'verbosity': 2}\n"
        "def task_deploy():\n"
        "    return {'actions': ['ls out/staticfiles.json'], 'task_dep': ['static_collect'],\n"
        "            'verbosity': 2}\n"
    )
    result = project.doit("deploy")
    assert "static_collect_postprocess" in result.stdout
    assert "out/staticfiles.json" in result.stdout
    assert "user collect" in project.doit("collect").stdout


def test_python_m_staticpipe_runs_without_a_dodo(project):
    (project.path / "dodo.py").unlink()
    proc = subprocess.run(
        [sys.executable, "-m", "staticpipe", "collect"],
        cwd=project.path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "6 static files copied" in proc.stdout
    assert len(project.manifest()) == 6


def test_a_second_run_waits_for_the_first(project):
    from staticpipe.config import load_config
    from staticpipe.ledger import lock

    config = load_config(project.path)
    with lock.locked(config):
        proc = subprocess.Popen(
            [sys.executable, "-m", "doit", "collect"],
            cwd=project.path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=2)
        assert not project.root.exists()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "waiting for another run" in err
    assert len(project.manifest()) == 6


def test_the_garbage_collector_is_back_on_after_each_run_even_a_failing_one(project):
    import gc

    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain

    from staticpipe.tasks import DOIT_CONFIG, make_tasks

    def collect() -> int:  # in this process, as a dodo.py or the watcher would
        namespace = {
            **make_tasks(str(project.path / "pyproject.toml")),
            "DOIT_CONFIG": {**DOIT_CONFIG, "dep_file": str(project.path / ".doit.sqlite3")},
        }
        return DoitMain(ModuleTaskLoader(namespace)).run(["collect"])

    assert collect() == 0 and gc.isenabled()
    project.write("css/bad.css", ".x { background: url(gone.png); }")
    assert collect() != 0 and gc.isenabled()


def _files(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` but SQLite's shared-memory index and log (a
    reader maps them): its mtime and size."""
    return {
        path.relative_to(root).as_posix(): (path.stat().st_mtime_ns, path.stat().st_size)
        for path in root.rglob("*")
        if path.is_file() and not path.name.endswith(("-shm", "-wal"))
    }


@pytest.mark.parametrize(
    "command",
    [["info", "collect"], ["info", "collect_copy"], ["list", "--status"],
     ["collect", "--explain"], ["collect", "--dry-run"]],
    ids=["info", "info-phase", "list-status", "explain", "dry-run"],
)  # fmt: skip
def test_informational_commands_neither_wait_for_a_running_build_nor_write(project, command):
    from staticpipe.config import load_config
    from staticpipe.ledger import lock

    project.doit("collect")
    project.write("img/a.png", PNG + b"edited")  # something for a build to do
    project.write("img/new.png", PNG + b"new")
    before = {"state": _files(project.state), "root": _files(project.root)}
    doit_db = project.path / ".staticpipe-doit.sqlite3"
    before["doit"] = doit_db.read_bytes()
    with lock.locked(load_config(project.path)):  # a build under way
        proc = subprocess.run(
            [sys.executable, "-m", "doit", *command],
            cwd=project.path, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    assert "waiting for another run" not in proc.stderr
    after = {"state": _files(project.state), "root": _files(project.root)}
    # (`doit collect --explain`, `-n`: doit itself records the run of its task)
    after["doit"] = doit_db.read_bytes() if command[0] != "collect" else before["doit"]
    assert after == before
    if command[0] == "info":
        assert proc.returncode == 1 and "status     : run" in proc.stdout  # not up to date
