"""An edit patches the manifest in place of rendering it: same bytes, always."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from conftest import assert_same_output
from hypothesis import given, settings
from hypothesis import strategies as st
from projects import Project

from staticpipe import fsutil, manifest
from staticpipe.hashing import HashedNames, hashed_path

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


def _assert_equals_clean_build(project: Project, tmp_path: Path) -> None:
    clean = Project(tmp_path / "clean")
    shutil.copytree(project.path / "assets", clean.path / "assets")
    clean.doit("collect")
    assert_same_output(clean.root, project.root)


def _kept(project: Project) -> dict:
    from staticpipe import state

    return state.load(project.path / ".staticpipe" / "manifest.state")


def test_a_run_keeps_what_the_next_one_needs_to_patch_the_manifest(tmp_path):
    project = _project(tmp_path / "p")
    kept = _kept(project)
    state_dir = project.path / ".staticpipe"
    # rendered from the listing and the post-processing state now in place
    assert kept["inputs"] == {
        "listing": fsutil.identity(state_dir / "found.json"),
        "post": fsutil.identity(state_dir / "postprocess.state"),
    }
    assert kept["manifest"] == fsutil.identity(project.root / "staticfiles.json")
    pairs = state_dir / "manifest.pairs"
    assert kept["pairs"] == fsutil.identity(pairs)
    assert pairs.read_bytes() == json.dumps(sorted(project.manifest().items())).encode()


def test_an_edit_patches_the_manifest_to_a_clean_builds_bytes(tmp_path):
    project = _project(tmp_path / "p")
    project.write("img/a.png", b"\x89PNG a2")
    project.doit("collect")
    assert _kept(project)["inputs"]["post"] == fsutil.identity(
        project.path / ".staticpipe" / "postprocess.state"
    )
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
