"""Old versions are kept, as Django keeps them, and pruned only by policy.

Django's ManifestStaticFilesStorage never deletes an old hashed file ("to keep
serving the old files in case some pages still refer to those files"), and a
collectstatic without ``--clear`` deletes nothing at all. Each test here runs
the same sequence of edits through Django's real ``collectstatic`` and through
staticpipe (real doit in a project directory, and ``pipeline.run``), and after
every step compares the two static roots: the same files, the same bytes, the
manifest naming only the current build. Then the retention policy
(``cleanup.prune`` with ``keep_builds`` / ``keep_age``), ``--clear`` and ``doit
clean collect``.

Where Django cannot go on (a file where a directory now goes, or the reverse:
its collectstatic fails), staticpipe removes only the old version in the way
and keeps every other one; the test says what that root must then hold.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import read_manifest, run_django, run_staticpipe, tree_files
from old_outputs import PRUNE_ALL
from projects import DEFAULT_CONFIG, Project

from staticpipe.config import from_mapping
from staticpipe.options import RunOptions
from staticpipe.phases import cleanup

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(32))

START = {
    "css/site.css": '@import "base.css";\nbody { background: url("../img/bg.png"); }\n',
    "css/base.css": 'html { color: #333; }\n.i { background: url("../img/icon.png"); }\n',
    "css/print.css": "@media print { body { color: black; } }\n",
    "img/bg.png": PNG + b"bg",
    "img/icon.png": PNG + b"icon",
    "img/logo.png": PNG + b"logo",
    "js/app.js": "console.log('app');\n",
    "doc/readme": "no extension\n",
}

# Each step: a name and what it does to the source tree (``Sources``).
Step = tuple[str, Callable[["Sources"], None]]


class Sources:
    """The source tree both builds read. Every write moves the file's mtime
    forward by whole seconds: Django copies a source again only when it is newer
    than the copy by a whole second (``collectstatic``'s ``delete_file``), and
    steps follow each other within one second here."""

    def __init__(self, path: Path):
        self.path = path
        self.clock = int(time.time())
        for name, content in START.items():
            self.write(name, content)

    def write(self, name: str, content: str | bytes) -> None:
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        self.clock += 10
        os.utime(path, (self.clock, self.clock))

    def remove(self, name: str) -> None:
        (self.path / name).unlink()

    def rename(self, old: str, new: str) -> None:
        data = (self.path / old).read_bytes()
        self.remove(old)
        self.write(new, data)

    def edit(self, name: str, old: str, new: str) -> None:
        self.write(name, (self.path / name).read_text().replace(old, new))


STEPS: list[Step] = [
    ("an edited image (its referrers' hashes change)",
     lambda s: s.write("img/bg.png", PNG + b"bg2")),
    ("an edited CSS file imported by another", lambda s: s.edit("css/base.css", "#333", "#444")),
    ("an edited JS file", lambda s: s.write("js/app.js", "console.log('app 2');\n")),
    ("a removed source", lambda s: s.remove("css/print.css")),
    ("a removed image no file references", lambda s: s.remove("img/logo.png")),
    (
        "a renamed source, its referrer edited",
        lambda s: (
            s.rename("img/icon.png", "img/icons/icon.png"),
            s.edit("css/base.css", "../img/icon.png", "../img/icons/icon.png"),
        ),
    ),
    ("a new file", lambda s: s.write("img/new.png", PNG + b"new")),
    ("an edit reverted (an old version is current again)",
     lambda s: s.write("img/bg.png", PNG + b"bg")),
    ("a removed source back again", lambda s: s.write("css/print.css", "@media print { }\n")),
    ("a file without an extension edited", lambda s: s.write("doc/readme", "edited\n")),
]  # fmt: skip


def assert_like_django(django_root: Path, root: Path) -> None:
    """The same files with the same bytes, staticfiles.json included (it names
    only the current build: Django's does)."""
    expected, actual = tree_files(django_root), tree_files(root)
    assert sorted(actual) == sorted(expected), (
        f"only Django's: {sorted(set(expected) - set(actual))}; "
        f"only staticpipe's: {sorted(set(actual) - set(expected))}"
    )
    for name, data in expected.items():
        assert actual[name] == data, f"{name}: bytes differ"


def test_every_kind_of_change_keeps_what_django_keeps_through_doit(tmp_path):
    project = Project(tmp_path / "site")
    sources = Sources(project.path / "assets")
    django_root = tmp_path / "django"
    run_django(django_root, [sources.path])
    project.doit("collect")
    assert_like_django(django_root, project.root)
    seen = set(tree_files(project.root))
    for what, change in STEPS:
        change(sources)
        run_django(django_root, [sources.path])
        project.doit("collect")
        assert_like_django(django_root, project.root)
        files = set(tree_files(project.root))
        assert seen <= files, f"{what}: {sorted(seen - files)} deleted"
        seen = files
    # the old versions really are there: more than one hashed name of bg.png
    assert len([name for name in seen if name.startswith("img/bg.")]) == 3  # 2 hashed + copy


def test_every_kind_of_change_keeps_what_django_keeps_through_pipeline_run(tmp_path):
    sources = Sources(tmp_path / "src")
    django_root, root = tmp_path / "django", tmp_path / "static"
    run_django(django_root, [sources.path])
    run_staticpipe(root, [sources.path])
    for what, change in STEPS:
        change(sources)
        run_django(django_root, [sources.path])
        summary, _ = run_staticpipe(root, [sources.path])
        assert summary.deleted == [], what
        assert_like_django(django_root, root)


def _config(root: Path, sources: Path, **keys):
    data = {"static_root": str(root), "dirs": [str(sources)], "state_dir": f"{root}.state", **keys}
    return from_mapping(data, root.parent)


def test_the_journal_knows_each_retired_output_by_build_and_a_name_live_again_leaves_it(tmp_path):
    sources = Sources(tmp_path / "src")
    root = tmp_path / "static"
    config = _config(root, sources.path)
    run_staticpipe(root, [sources.path])
    assert cleanup.last_build(config) == 1 and cleanup.retired(config) == {}
    first = read_manifest(root)
    before = time.time()
    sources.write("img/logo.png", PNG + b"logo2")
    run_staticpipe(root, [sources.path])
    assert cleanup.last_build(config) == 2
    assert set(cleanup.retired(config)) == {first["img/logo.png"]}
    entry = cleanup.retired(config)[first["img/logo.png"]]
    assert entry.build == 2 and before <= entry.since <= time.time()
    run_staticpipe(root, [sources.path])  # nothing changed: no build counted
    assert cleanup.last_build(config) == 2
    sources.remove("js/app.js")
    run_staticpipe(root, [sources.path])
    assert cleanup.last_build(config) == 3
    retired = cleanup.retired(config)
    assert {retired["js/app.js"].build, retired[first["js/app.js"]].build} == {3}
    sources.write("img/logo.png", PNG + b"logo")  # the first version, current again
    run_staticpipe(root, [sources.path])
    assert first["img/logo.png"] not in cleanup.retired(config)
    assert read_manifest(root)["img/logo.png"] == first["img/logo.png"]
    sources.write("img/new.png", PNG + b"new")  # only a new file: a build all the same
    run_staticpipe(root, [sources.path])
    assert cleanup.last_build(config) == 5


def test_a_failed_run_journals_nothing_as_retired_until_a_build_completes(tmp_path):
    sources = Sources(tmp_path / "src")
    root = tmp_path / "static"
    config = _config(root, sources.path, keep_builds=1, keep_age=0)
    run_staticpipe(root, [sources.path])
    old = read_manifest(root)
    sources.write("img/bg.png", PNG + b"bg2")
    sources.write("css/print.css", "a { background: url(missing.png) }\n")
    with pytest.raises(Exception, match="missing.png"):
        run_staticpipe(root, [sources.path])
    assert read_manifest(root) == old  # the previous build is still the site ...
    assert cleanup.prune(config) == []  # ... so nothing it names may be pruned
    assert all((root / name).exists() for name in old.values())
    assert old["img/bg.png"] in cleanup.pending(config)
    sources.write("css/print.css", "a { color: red }\n")
    run_staticpipe(root, [sources.path])
    assert cleanup.pending(config) == []
    assert {old["img/bg.png"], old["css/site.css"], old["css/print.css"]} <= set(
        cleanup.retired(config)
    )


# -- retention ---------------------------------------------------------------------
def _built(root: Path, sources: Sources, step: Callable[[Sources], None]) -> dict[str, str]:
    step(sources)
    run_staticpipe(root, [sources.path])
    return read_manifest(root)


def test_prune_with_one_build_and_no_age_leaves_a_clean_build(tmp_path):
    sources = Sources(tmp_path / "src")
    root, clean = tmp_path / "static", tmp_path / "clean"
    run_staticpipe(root, [sources.path])
    for _what, change in STEPS:
        _built(root, sources, change)
    config = _config(root, sources.path, keep_builds=1, keep_age=0)
    deleted = cleanup.prune(config)
    assert deleted and all(not (root / name).exists() for name in deleted)
    run_staticpipe(clean, [sources.path])
    assert tree_files(root) == tree_files(clean)
    assert cleanup.retired(config) == {}
    assert cleanup.prune(config) == []
    # no empty directory is left (img/icon.png's old versions were the last in img/)
    assert not any(path.is_dir() and not any(path.iterdir()) for path in root.rglob("*"))


def test_keep_builds_keeps_what_the_last_builds_named(tmp_path):
    sources = Sources(tmp_path / "src")
    root = tmp_path / "static"
    run_staticpipe(root, [sources.path])
    first = read_manifest(root)
    second = _built(root, sources, lambda s: s.write("img/bg.png", PNG + b"2"))
    third = _built(root, sources, lambda s: s.write("img/bg.png", PNG + b"3"))
    fourth = _built(root, sources, lambda s: s.write("img/bg.png", PNG + b"4"))
    # keep_builds = 3: the current build and the two before it
    deleted = cleanup.prune(_config(root, sources.path, keep_builds=3, keep_age=0))
    assert set(deleted) == {first["img/bg.png"], first["css/site.css"]}
    for kept in (second, third, fourth):
        assert all((root / name).exists() for name in kept.values())
    deleted = cleanup.prune(_config(root, sources.path, keep_builds=2, keep_age=0))
    assert set(deleted) == {second["img/bg.png"], second["css/site.css"]}
    assert all((root / name).exists() for name in third.values())


def test_keep_age_keeps_what_was_retired_recently(tmp_path):
    sources = Sources(tmp_path / "src")
    root = tmp_path / "static"
    run_staticpipe(root, [sources.path])
    old = read_manifest(root)
    _built(root, sources, lambda s: s.remove("img/logo.png"))
    config = _config(root, sources.path, keep_builds=1, keep_age="1h")
    assert cleanup.prune(config) == []  # retired a moment ago
    assert (root / old["img/logo.png"]).exists() and (root / "img/logo.png").exists()
    later = time.time() + 3601
    assert cleanup.prunable(config, now=later) == sorted([old["img/logo.png"], "img/logo.png"])
    assert (root / "img/logo.png").exists()  # prunable deletes nothing
    assert cleanup.prune(config, now=later) == sorted([old["img/logo.png"], "img/logo.png"])
    assert not (root / "img/logo.png").exists()


def test_prune_without_a_policy_uses_the_defaults_and_never_touches_other_files(tmp_path):
    sources = Sources(tmp_path / "src")
    root = tmp_path / "static"
    run_staticpipe(root, [sources.path])
    old = read_manifest(root)
    for content in (b"2", b"3"):
        _built(root, sources, lambda s, c=content: s.write("img/bg.png", PNG + c))
    (root / "img/mine.png").write_bytes(b"not staticpipe's")
    config = _config(root, sources.path)  # keep_builds = 2, keep_age = "1h"
    assert config.retention is None
    assert cleanup.prune(config) == []
    assert cleanup.prune(config, now=time.time() + 3601) == sorted(
        [old["img/bg.png"], old["css/site.css"]]
    )
    assert (root / "img/mine.png").read_bytes() == b"not staticpipe's"


def test_prune_never_deletes_a_name_the_current_build_uses_nor_a_directory(tmp_path):
    sources = Sources(tmp_path / "src")
    root = tmp_path / "static"
    config = _config(root, sources.path, keep_builds=1, keep_age=0)
    run_staticpipe(root, [sources.path])
    _built(root, sources, lambda s: s.remove("doc/readme"))
    assert "doc/readme" in cleanup.retired(config)
    # the journal is stale (a name made way for a directory meanwhile, say)
    (root / "doc/readme").unlink()
    (root / "doc/readme").mkdir()
    (root / "doc/readme/keep.txt").write_text("x")
    assert "doc/readme" not in cleanup.prune(config)
    assert (root / "doc/readme/keep.txt").exists()
    assert "doc/readme" not in cleanup.retired(config)  # and it left the journal
    assert all((root / name).exists() for name in read_manifest(root).values())


# -- where Django fails: a file where a directory now goes, and the reverse --------
def _expected_after_shape_change(before: dict[str, bytes], fresh: dict[str, bytes], way: str):
    """Django's kept files, less what is in the way of the new build (at or
    under ``way``), plus a clean build of the new sources."""
    kept = {
        name: data
        for name, data in before.items()
        if name != way and not name.startswith(way + "/") and name != "staticfiles.json"
    }
    return {**kept, **fresh}


@pytest.mark.parametrize(
    "old, new",
    [
        ("doc/readme", "doc/readme/index.html"),  # a file where a directory now goes
        ("img/icons/a.png", "img/icons"),  # a directory where a file now goes
    ],
)
def test_where_django_fails_on_a_changed_shape_only_the_old_version_in_the_way_goes(
    tmp_path, old, new
):
    sources = Sources(tmp_path / "src")
    if old not in START:
        sources.write(old, "old\n")
    django_root, root, fresh = tmp_path / "django", tmp_path / "static", tmp_path / "fresh"
    run_django(django_root, [sources.path])
    run_staticpipe(root, [sources.path])
    sources.write("img/bg.png", PNG + b"bg2")  # an old version to keep elsewhere
    run_django(django_root, [sources.path])
    run_staticpipe(root, [sources.path])
    assert_like_django(django_root, root)
    before = tree_files(django_root)
    sources.remove(old)
    if not (sources.path / old).parent.samefile(sources.path / "doc"):
        os.rmdir(sources.path / new)  # the directory the file takes the place of
    sources.write(new, "new\n")
    with pytest.raises(OSError):  # Django's collectstatic cannot go on
        run_django(django_root, [sources.path])
    run_staticpipe(root, [sources.path])
    run_staticpipe(fresh, [sources.path])
    way = old if new.startswith(old + "/") else new
    assert tree_files(root) == _expected_after_shape_change(before, tree_files(fresh), way)


# -- --clear and doit clean collect keep their meaning ------------------------------
def test_clear_leaves_only_this_build_and_clean_removes_every_version(tmp_path):
    project = Project(tmp_path / "site")
    sources = Sources(project.path / "assets")
    project.doit("collect")
    for _what, change in STEPS[:5]:
        change(sources)
        project.doit("collect")
    (project.root / "theirs.txt").write_text("someone else's")
    config = from_mapping(
        {"static_root": "build/static", "dirs": ["assets"]}, project.path, project.path
    )
    assert cleanup.retired(config)
    project.doit("collect", "--clear")
    clean_root = tmp_path / "clean"
    run_staticpipe(clean_root, [sources.path])
    assert tree_files(project.root) == tree_files(clean_root)  # theirs.txt went too
    assert cleanup.retired(config) == {}
    for _what, change in STEPS[5:]:
        change(sources)
        project.doit("collect")
    (project.root / "theirs.txt").write_text("someone else's")
    assert cleanup.retired(config)
    listed = project.doit("clean", "-n", "collect").stdout
    assert all(f"'{name}'" in listed for name in cleanup.retired(config))
    project.doit("clean", "collect")
    assert tree_files(project.root) == {"theirs.txt": b"someone else's"}


def test_a_killed_clear_leaves_the_previous_site_and_the_next_run_finishes_it(tmp_path):
    sources = Sources(tmp_path / "src")
    root = tmp_path / "static"
    run_staticpipe(root, [sources.path])
    old = read_manifest(root)
    _built(root, sources, lambda s: s.write("img/bg.png", PNG + b"2"))
    sources.write("css/print.css", "a { background: url(missing.png) }\n")
    before = set(tree_files(root))
    with pytest.raises(Exception, match="missing.png"):
        run_staticpipe(root, [sources.path], options=RunOptions(clear=True))
    failed = set(tree_files(root)) - before
    assert all((root / name).exists() for name in read_manifest(root).values())
    assert (root / old["img/bg.png"]).exists()
    sources.write("css/print.css", "a { color: red }\n")
    run_staticpipe(root, [sources.path])  # the pending --clear is finished
    clean_root = tmp_path / "clean"
    run_staticpipe(clean_root, [sources.path])
    # what was there before the --clear went; what the failed run wrote itself
    # (print.css hashed with its reference unresolved) is an old version, as
    # Django keeps what a failed post-processing saved
    files = tree_files(root)
    extra = set(files) - set(tree_files(clean_root))
    assert extra == failed and len(extra) == 1
    assert extra == set(cleanup.retired(_config(root, sources.path)))
    assert {name: files[name] for name in files if name not in extra} == tree_files(clean_root)


# -- the retention policy through the real doit ---------------------------------------
def _policy(project: Project, builds: int, age: str) -> None:
    project.write_config(DEFAULT_CONFIG + f'keep_builds = {builds}\nkeep_age = "{age}"\n')


def _prune(project: Project, *args: str) -> list[str]:
    """``doit prune`` with ``args``: what it printed, less doit's task line."""
    lines = project.doit("prune", *args).stdout.splitlines()
    assert lines[0] == ".  prune", lines
    return lines[1:]


def test_doit_prune_lets_go_what_no_recent_build_named_once_old_enough(tmp_path):
    project = Project(tmp_path / "site")
    sources = Sources(project.path / "assets")
    _policy(project, builds=2, age="0s")
    builds = []
    for content in (b"1", b"2", b"3", b"4"):
        sources.write("img/bg.png", PNG + content)
        project.doit("collect")
        builds.append(project.manifest())
    (project.root / "img/mine.png").write_bytes(b"not staticpipe's")
    first, second, third, fourth = builds
    # keep_builds = 2: what the current build and the one before it named stays
    gone = sorted(b[n] for b in (first, second) for n in ("img/bg.png", "css/site.css"))
    assert _prune(project, "-n", "-v", "2") == [
        *(f"Pretending to delete '{name}'" for name in gone),
        f"4 old files would be pruned from '{project.root}'.",
    ]
    assert all((project.root / name).exists() for name in gone)  # -n deletes nothing
    assert _prune(project) == [f"4 old files pruned from '{project.root}'."]
    assert not any((project.root / name).exists() for name in gone)
    for kept in (third, fourth):
        assert all((project.root / name).exists() for name in kept.values())
    assert (project.root / "img/mine.png").read_bytes() == b"not staticpipe's"
    assert _prune(project) == [f"0 old files pruned from '{project.root}'."]
    # keep_age: what was retired a moment ago stays, whatever keep_builds says
    _policy(project, builds=1, age="1h")
    assert _prune(project) == [f"0 old files pruned from '{project.root}'."]
    assert all((project.root / name).exists() for name in third.values())


def test_doit_collect_prune_leaves_this_build_and_never_a_name_it_uses(tmp_path):
    project = Project(tmp_path / "site")
    sources = Sources(project.path / "assets")
    _policy(project, builds=1, age="0s")
    project.doit("collect")
    first = project.manifest()
    sources.write("img/bg.png", PNG + b"2")
    sources.remove("js/app.js")
    project.doit("collect")  # without --prune: every old version stays
    second = project.manifest()
    assert (project.root / first["img/bg.png"]).exists() and (project.root / "js/app.js").exists()
    (project.root / "theirs.txt").write_text("someone else's")
    sources.write("img/bg.png", PNG + b"bg")  # the first version, current again
    result = project.doit("collect", "--prune")
    gone = ["js/app.js", first["js/app.js"], second["img/bg.png"], second["css/site.css"]]
    assert f"4 old files pruned from '{project.root}'." in result.stdout
    assert all(f"Pruned '{name}'" in result.stdout for name in gone)
    manifest = project.manifest()
    assert manifest["img/bg.png"] == first["img/bg.png"]  # named again: never pruned
    clean = tmp_path / "clean"
    run_staticpipe(clean, [sources.path])
    files = tree_files(project.root)
    assert files.pop("theirs.txt") == b"someone else's"  # not staticpipe's: never pruned
    assert files == tree_files(clean)


def test_old_precompressed_siblings_stay_with_their_file_and_are_pruned_with_it(tmp_path):
    project = Project(tmp_path / "site", DEFAULT_CONFIG + 'compress = ["gzip"]\n')
    sources = Sources(project.path / "assets")
    big = "".join(f".c{i} {{ color: #{i:06x}; }}\n" for i in range(200))
    sources.write("css/big.css", big)
    project.doit("collect")
    old = project.manifest()["css/big.css"]
    assert (project.root / f"{old}.gz").exists()
    sources.write("css/big.css", big + ".edited { color: red; }\n")
    project.doit("collect")
    new = project.manifest()["css/big.css"]
    assert new != old
    for name in (old, f"{old}.gz", new, f"{new}.gz"):
        assert (project.root / name).exists(), name  # the old version whole, as WhiteNoise's
    project.write_config(DEFAULT_CONFIG + 'compress = ["gzip"]\n' + PRUNE_ALL)
    # the .gz first: a server never finds a precompressed file whose file is gone
    assert _prune(project, "-v", "2")[:-1] == [f"Deleting '{old}.gz'", f"Deleting '{old}'"]
    assert (project.root / new).exists() and (project.root / f"{new}.gz").exists()
    assert (project.root / "css/big.css.gz").exists()  # the copy's, current
