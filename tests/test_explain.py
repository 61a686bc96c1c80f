"""``doit collect --explain``: what the next run would redo and why, changing nothing.

Each test checks what explain says against what the next real run then does
(its ``-v 2`` lines: ``Copying`` and ``Post-processed``), so explain cannot
drift from the pipeline it explains."""

from __future__ import annotations

import os
import re
from pathlib import Path
from random import Random

import pytest
from projects import Project, snapshot

LISTED = re.compile(r"^\d+ files? would be (copied|post-processed|removed|retired):$")


def explained(project: Project, *args: str) -> dict[str, dict[str, str]]:
    """What ``doit collect --explain`` lists: section -> {name: why}, and its
    other lines under "lines"."""
    output = project.doit("collect", "--explain", *args).stdout
    sections: dict[str, dict[str, str]] = {"lines": {}}
    current = None
    for line in output.splitlines():
        if line.startswith(".  "):
            continue
        if match := LISTED.match(line):
            current = sections.setdefault(match[1], {})
        elif line.startswith("  ") and current is not None:
            name, _, why = line.strip().partition(": ")
            current[name] = why
        else:
            current = None
            sections["lines"][line] = ""
    return sections


def done(project: Project) -> dict[str, set[str]]:
    """What the next real run copies and post-processes (its -v 2 lines)."""
    output = project.doit("collect", "-v", "2").stdout
    assets = str(project.path / "assets") + os.sep
    copied = {
        line.removeprefix("Copying '").removesuffix("'").removeprefix(assets).replace(os.sep, "/")
        for line in output.splitlines()
        if line.startswith("Copying '")
    }
    post = {
        line.split("'")[1] for line in output.splitlines() if line.startswith("Post-processed '")
    }
    return {"copied": copied, "post-processed": post}


def assert_explains_the_next_run(project: Project) -> dict[str, dict[str, str]]:
    said = explained(project)
    did = done(project)
    assert set(said.get("copied", {})) == did["copied"]
    assert set(said.get("post-processed", {})) == did["post-processed"]
    return said


@pytest.fixture
def site(tmp_path: Path) -> Project:
    project = Project(tmp_path / "site")
    project.write("css/a.css", '@import "b.css";\n.a { color: red; }\n')
    project.write("css/b.css", '.b { background: url("../img/x.png"); }\n')
    project.write("css/c.css", ".c { top: 0; }\n")
    project.write("img/x.png", b"\x89PNG one")
    project.write("img/y.png", b"\x89PNG two")
    return project


def test_before_any_build_everything_is_redone(site):
    said = explained(site)
    assert any("no earlier build" in line for line in said["lines"])


def test_after_a_build_nothing_is_redone_and_explain_changes_nothing(site):
    site.doit("collect")
    state = site.path / ".staticpipe"
    before = snapshot(site.root), {p: p.stat().st_mtime_ns for p in state.rglob("*")}
    said = explained(site)
    assert list(said["lines"]) == ["Nothing to redo: the build in static_root is up to date."]
    assert (snapshot(site.root), {p: p.stat().st_mtime_ns for p in state.rglob("*")}) == before
    assert done(site) == {"copied": set(), "post-processed": set()}


def test_an_edited_image_names_the_files_that_reference_it_directly_and_through_imports(site):
    site.doit("collect")
    site.write("img/x.png", b"\x89PNG changed")
    said = assert_explains_the_next_run(site)
    assert said["copied"] == {"img/x.png": "content changed"}
    assert said["post-processed"] == {
        "img/x.png": "content changed",
        "css/b.css": "references img/x.png",
        "css/a.css": "references css/b.css",
    }


def test_new_removed_and_renamed_files(site):
    site.doit("collect")
    site.write("css/new.css", '.n { background: url("../img/y.png"); }\n')
    (site.path / "assets/css/c.css").unlink()
    (site.path / "assets/img/y.png").rename(site.path / "assets/img/z.png")
    site.write("css/new.css", '.n { background: url("../img/z.png"); }\n')
    said = assert_explains_the_next_run(site)
    assert said["copied"]["css/new.css"].startswith("new (")
    assert said["copied"]["img/z.png"].startswith("new (")
    assert said["retired"] == {"css/c.css": "source removed", "img/y.png": "source removed"}
    assert "removed" not in said  # old versions are kept, as Django keeps them
    assert (site.root / "css/c.css").exists() and (site.root / "img/y.png").exists()
    said = explained(site, "--clear")  # with --clear they go, as earlier builds' outputs
    assert {"css/c.css", "img/y.png"} < set(said["removed"])
    assert set(said["removed"].values()) == {"an earlier build's (--clear)"}
    site.doit("collect", "--clear")
    assert not any((site.root / name).exists() for name in said["removed"])


def test_a_touched_file_with_the_same_content_redoes_nothing_downstream(site):
    site.doit("collect")
    path = site.path / "assets/img/x.png"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    said = assert_explains_the_next_run(site)
    assert said["copied"] == {"img/x.png": "source touched (same content: nothing downstream)"}
    assert "post-processed" not in said


def test_outputs_deleted_by_hand_are_named(site):
    site.doit("collect")
    (site.root / "img/y.png").unlink()
    (site.root / site.manifest()["css/c.css"]).unlink()
    said = assert_explains_the_next_run(site)
    assert said["copied"] == {"img/y.png": "missing from static_root"}
    assert said["post-processed"]["css/c.css"].startswith("its hashed file css/c.")


def test_a_changed_setting_is_named(site):
    site.doit("collect")
    site.write_config(
        '[tool.staticpipe]\nstatic_root = "build/static"\ndirs = ["assets"]\n'
        'static_url = "/assets/"\n'
    )
    said = explained(site)
    assert "  static_url: '/static/' -> '/assets/'" in said["lines"]
    assert any(line.startswith("Every file is post-processed again") for line in said["lines"])
    assert "post-processed" not in said and "copied" not in said
    assert done(site)["copied"] == set()


def test_a_removal_left_by_a_run_without_post_processing_is_explained(site):
    site.doit("collect")
    (site.path / "assets/img/y.png").unlink()
    site.doit("collect", "--no-post-process")
    said = explained(site)
    assert said["retired"] == {"img/y.png": "source removed"}
    hashed = site.manifest()["img/y.png"]
    site.doit("collect")
    assert "img/y.png" not in site.manifest()  # what explain said would be retired ...
    assert (site.root / hashed).exists() and (site.root / "img/y.png").exists()  # ... is kept
    said = explained(site, "--clear")  # and goes with --clear, as an earlier build's
    earlier = "an earlier build's (--clear)"
    assert said["removed"] == {hashed: earlier, "img/y.png": earlier}
    site.doit("collect", "--clear")
    assert not any((site.root / name).exists() for name in said["removed"])


def test_storage_plain_after_a_manifest_build_names_what_goes(site):
    site.doit("collect")
    hashed = set(site.manifest().values())
    site.write_config(
        '[tool.staticpipe]\nstatic_root = "build/static"\ndirs = ["assets"]\nstorage = "plain"\n'
    )
    said = explained(site)
    assert set(said["removed"]) == hashed | {"staticfiles.json"}
    site.doit("collect")
    assert not any((site.root / name).exists() for name in said["removed"])


def test_a_changed_file_hash_hook_is_named(site):
    (site.path / "hooks.py").write_text(
        "import hashlib\n\ndef file_hash(name, content=None):\n"
        "    return None if content is None else hashlib.sha1(content.read()).hexdigest()[:8]\n"
    )
    site.write_config(
        '[tool.staticpipe]\nstatic_root = "build/static"\ndirs = ["assets"]\n'
        'file_hash = "hooks:file_hash"\n'
    )
    site.doit("collect")
    hook = site.path / "hooks.py"
    hook.write_text(hook.read_text().replace("[:8]", "[:10]"))
    said = explained(site)
    assert "  file_hash: the module of hooks:file_hash changed" in said["lines"]


@pytest.mark.parametrize("seed", [7, 8, pytest.param(9, marks=pytest.mark.slow)])
def test_random_edits_are_explained_as_the_next_run_does_them(tmp_path, seed):
    randomly = Random(seed)
    project = Project(tmp_path / "site")
    names = [f"img/i{index}.png" for index in range(6)]
    for name in names:
        project.write(name, os.urandom(50))

    def css(index: int) -> str:
        targets = randomly.sample(names, 2)
        imports = f'@import "s{index - 1}.css";\n' if index else ""
        return imports + "".join(f'.x {{ background: url("../{t}"); }}\n' for t in targets)

    for index in range(5):
        project.write(f"css/s{index}.css", css(index))
    project.doit("collect")
    for step in range(10):
        kind = randomly.choice(["image", "css", "touch", "delete-output", "new", "rename"])
        if kind == "image":
            project.write(randomly.choice(names), os.urandom(50))
        elif kind == "new":  # an image no CSS references yet, then one that does
            names.append(f"img/new{step}.png")
            project.write(names[-1], os.urandom(50))
        elif kind == "rename":  # an image to a new name, and its referrers with it
            old, new = randomly.choice(names), f"img/moved{step}.png"
            (project.path / "assets" / old).rename(project.path / "assets" / new)
            names[names.index(old)] = new
            for path in (project.path / "assets/css").iterdir():
                path.write_text(path.read_text().replace(f"../{old}", f"../{new}"))
        elif kind == "css":
            index = randomly.randrange(5)
            project.write(f"css/s{index}.css", css(index))
        elif kind == "touch":
            path = project.path / "assets" / randomly.choice(names)
            info = path.stat()
            os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))
        else:
            victim = randomly.choice(sorted(project.manifest().values()))
            (project.root / victim).unlink()
        assert_explains_the_next_run(project)


# -- -v 2: the derived phases' lines

COMPRESSED_CONFIG = (
    '[tool.staticpipe]\nstatic_root = "build/static"\ndirs = ["assets"]\n'
    'compress = ["gzip", "br"]\nintegrity = "sha384"\n'
)


def test_v2_names_each_file_compressed_and_the_integrity_file_written(tmp_path):
    project = Project(tmp_path / "site", COMPRESSED_CONFIG)
    project.write("css/a.css", ".a { color: red; }\n" * 40)
    project.write("img/x.png", b"\x89PNG one")
    output = project.doit("collect", "-v", "2").stdout
    hashed = project.manifest()["css/a.css"]
    assert "Compressed 'css/a.css' (gzip, br)" in output.splitlines()
    assert f"Compressed '{hashed}' (gzip, br)" in output.splitlines()
    assert not any(line.startswith("Compressed 'img/") for line in output.splitlines())
    assert "Wrote 'staticfiles.integrity.json'" in output.splitlines()
    assert (project.root / (hashed + ".br")).exists()
    again = project.doit("collect", "-v", "2").stdout  # a no-op writes neither
    assert "Compressed" not in again and "Wrote" not in again
    quiet = project.doit("collect").stdout  # and -v 1 prints none of these lines
    assert "Compressed" not in quiet and "Wrote" not in quiet
