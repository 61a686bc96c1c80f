"""An edit patches the manifest in place of rendering it: same bytes, always."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from old_outputs import assert_clean_build_plus_old_versions
from projects import DEFAULT_CONFIG, Project

from staticpipe.config import load_config
from staticpipe.engine.phases import phases_of
from staticpipe.engine.run import Run
from staticpipe.fs import fsutil
from staticpipe.ledger import lock
from staticpipe.options import RunOptions
from staticpipe.phases import manifest
from staticpipe.rewrite.hashing import HashedNames, hashed_path

# Names with what JSON escapes or could confuse a search: quotes, backslashes,
# the separators of both texts, non-ASCII.
name_chars = st.sampled_from(list('ab/.-_"\\[], :{}é€\U0001f600'))
names = st.text(name_chars, min_size=1, max_size=12)


def _hashed(name: str, seed: int) -> str:
    return hashed_path(name, hashlib.md5(f"{name}{seed}".encode()).hexdigest())


@settings(max_examples=300, deadline=None)
@given(
    paths=st.dictionaries(names, st.integers(0, 5), min_size=1, max_size=12),
    data=st.data(),
)
def test_a_patched_manifest_has_the_bytes_of_a_full_rendering(paths, data):
    hashed = {name: _hashed(name, seed) for name, seed in paths.items()}
    old, pairs = manifest.rendering(hashed)
    changed = data.draw(st.lists(st.sampled_from(sorted(hashed)), unique=True))
    changes = {name: _hashed(name, 99) for name in changed}

    data, pairs = bytearray(old), bytearray(pairs)

    assert manifest.patch(data, pairs, changes)
    assert (data, pairs) == manifest.rendering({**hashed, **changes})
    assert data == manifest.render({**hashed, **changes})


def test_a_name_missing_from_the_manifest_is_not_patched():
    old, pairs = manifest.rendering({"a.css": "a.123456789abc.css"})
    data, pairs_buffer = bytearray(old), bytearray(pairs)
    assert not manifest.patch(data, pairs_buffer, {"b.css": "b.123456789abc.css"})
    assert (data, pairs_buffer) == (old, pairs)  # untouched


@settings(max_examples=300, deadline=None)
@given(
    paths=st.dictionaries(names, st.integers(0, 5), max_size=12),
    others=st.lists(names, max_size=6),
)
def test_hashed_names_are_found_by_reversing_hashed_path(paths, others):
    hashed = {name: _hashed(name, seed) for name, seed in paths.items()}
    values = set(hashed.values())
    live = HashedNames(hashed)
    probes = [*values, *paths, *others, *(_hashed(name, 7) for name in [*paths, *others])]
    for probe in probes:
        assert (probe in live) == (probe in values), probe


# -- the real pipeline --------------------------------------------------------

TREE = {
    "img/a.png": b"\x89PNG a",
    "css/a.css": ".a { background: url(../img/a.png); }\n",
    "css/b.css": '@import "a.css";\n.b { color: red; }\n',
    "css/c.css": ".c { color: blue; }\n",
}


def _project(path: Path) -> Project:
    project = Project(path)
    for name, content in TREE.items():
        project.write(name, content)
    project.doit("collect")
    return project


def _assert_equals_clean_build(project: Project, tmp_path: Path, name: str = "clean") -> None:
    clean = Project(tmp_path / name)
    shutil.copytree(project.path / "assets", clean.path / "assets")
    clean.doit("collect")
    # (and the old versions kept, as Django keeps them)
    assert_clean_build_plus_old_versions(clean.root, project.root, project.state)


def _kept(project: Project) -> dict:
    from staticpipe.ledger import state

    return state.load(project.path / ".staticpipe" / "manifest.state")


def _tokens(project: Project) -> dict:
    from staticpipe.ledger import state

    state_dir = project.path / ".staticpipe"
    return {
        "listing": state.token(state_dir / "found.json"),
        "post": state.token(state_dir / "postprocess.state"),
    }


def test_a_run_keeps_what_the_next_one_needs_to_patch_the_manifest(tmp_path):
    project = _project(tmp_path / "p")
    kept = _kept(project)
    # rendered from the listing and the post-processing state now in the ledger
    assert kept["inputs"] == _tokens(project)
    assert None not in kept["inputs"].values()
    assert kept["manifest"] == fsutil.file_stat(project.root / "staticfiles.json")
    assert kept["pairs"] == json.dumps(sorted(project.manifest().items())).encode()


def test_an_edit_patches_the_manifest_to_a_clean_builds_bytes(tmp_path):
    project = _project(tmp_path / "p")
    project.write("img/a.png", b"\x89PNG a2")
    project.doit("collect")
    assert _kept(project)["inputs"] == _tokens(project)
    _assert_equals_clean_build(project, tmp_path)


def test_a_manifest_replaced_by_hand_is_rendered_again(tmp_path):
    project = _project(tmp_path / "p")
    tampered = {**project.manifest(), "img/a.png": "img/elsewhere.png"}
    (project.root / "staticfiles.json").write_text(json.dumps({"paths": tampered}))
    project.write("css/c.css", ".c { color: green; }\n")
    project.doit("collect")
    _assert_equals_clean_build(project, tmp_path)


def test_a_failed_run_then_a_fix_gives_every_change_to_the_manifest(tmp_path):
    """The failed run saved new hashed names that no manifest was written for:
    the next run must not patch only its own changes onto the old manifest."""
    project = _project(tmp_path / "p")
    project.write("img/a.png", b"\x89PNG a2")
    project.write("css/c.css", ".c { background: url(missing.png); }\n")
    assert project.doit("collect", check=False).returncode != 0
    project.write("css/c.css", ".c { color: green; }\n")
    project.doit("collect")
    _assert_equals_clean_build(project, tmp_path)


@pytest.mark.parametrize("then_edit", [True, False], ids=["edit", "no-op"])
def test_a_manifest_edited_in_place_with_its_mtime_restored_is_rendered_again(tmp_path, then_edit):
    project = _project(tmp_path / "p")
    path = project.root / "staticfiles.json"
    before = path.stat()
    data = path.read_bytes()
    hashed = project.manifest()["css/c.css"].encode()
    tampered = hashed[:-16] + b"deadbeef0000" + hashed[-4:]  # same length
    with open(path, "r+b") as handle:  # in place: same inode, same size
        handle.write(data.replace(hashed, tampered))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    if then_edit:
        project.write("img/a.png", b"\x89PNG a2")
    project.doit("collect")
    _assert_equals_clean_build(project, tmp_path)


def _tasks_made_now(project: Project) -> Run:
    """A ``doit collect`` whose tasks are made now and whose phases run later (as
    when another run takes the lock in between)."""
    return Run(load_config(project.path / "pyproject.toml"), RunOptions())


def _run_phases(run: Run, project: Project) -> None:
    cwd = os.getcwd()
    os.chdir(project.path)
    try:
        for phase in phases_of(run):  # every action, as doit runs them when inputs moved
            phase.act(run)
        run.finish()
    finally:
        os.chdir(cwd)
        lock.release(run.config)  # as the end of its doit process would


def test_a_run_that_failed_meanwhile_does_not_leave_the_manifest_stale(tmp_path):
    """Run B, between run A's task creation and its phases, fails part-way and
    saves new hashed names: A must not patch its own changes onto a manifest
    that B's saved state no longer matches."""
    project = _project(tmp_path / "p")
    project.write_config(DEFAULT_CONFIG + 'missing = "error"\n')
    project.doit("collect")
    project.write("img/a.png", b"\x89PNG a2")
    project.write("css/c.css", ".c { background: url(missing.png); }\n")
    late = _tasks_made_now(project)
    assert project.doit("collect", check=False).returncode != 0  # run B
    project.write("css/c.css", ".c { color: green; }\n")
    _run_phases(late, project)
    paths = project.manifest()
    assert all((project.root / hashed).exists() for hashed in paths.values())
    _assert_equals_clean_build(project, tmp_path)


def test_a_copy_made_meanwhile_by_another_run_is_post_processed(tmp_path):
    """Run B (``--no-post-process``) copies an edited file after run A made its
    tasks: A's post-processing must still redo it."""
    project = _project(tmp_path / "p")
    project.write("img/a.png", b"\x89PNG a2")
    late = _tasks_made_now(project)
    project.doit("collect", "--no-post-process")  # run B
    _run_phases(late, project)
    _assert_equals_clean_build(project, tmp_path)
    project.write("css/c.css", ".c { color: green; }\n")  # and later runs stay right
    project.doit("collect")
    _assert_equals_clean_build(project, tmp_path, "clean-later")
