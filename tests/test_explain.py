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
from projects import Project, mtimes, snapshot

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


QUICK, SLOW = pytest.mark.quick_version, pytest.mark.slow


@pytest.mark.parametrize("seed", [7, pytest.param(8, marks=QUICK), pytest.param(9, marks=SLOW)])
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


# -- the derived phases: compress and integrity (engine/derived.py) ----------------

DERIVED_LISTED = re.compile(
    r"^(compress|integrity): \d+ files? (redone|redone if post-processing names them anew"
    r"|removed: their outputs retired):$"
)
SECTION = {
    "redone": "redone",
    "redone if post-processing names them anew": "maybe",
    "removed: their outputs retired": "retired",
}
COMPRESSED_CONFIG = (
    '[tool.staticpipe]\nstatic_root = "build/static"\ndirs = ["assets"]\n'
    'compress = ["gzip", "br"]\nintegrity = "sha384"\n'
)


def derived_said(output: str) -> dict[str, dict]:
    """What --explain says of each derived phase: phase -> {"lines": [its one-line
    statements], "redone"/"maybe"/"retired": {name: why}}."""
    said: dict[str, dict] = {}
    current = None
    for line in output.splitlines():
        if match := DERIVED_LISTED.match(line):
            current = said.setdefault(match[1], {"lines": []}).setdefault(SECTION[match[2]], {})
        elif line.startswith("  ") and current is not None:
            name, _, why = line.strip().partition(": ")
            current[name] = why
        else:
            current = None
            phase, colon, rest = line.partition(": ")
            if colon and phase in ("compress", "integrity"):
                said.setdefault(phase, {"lines": []})["lines"].append(rest)
    return said


def frozen(project: Project) -> tuple:
    """static_root and the state directory, byte for byte, with every mtime."""
    return (
        snapshot(project.root),
        mtimes(project.root),
        snapshot(project.state),
        mtimes(project.state),
    )


def explain_changing_nothing(project: Project, *args: str) -> dict[str, dict]:
    before = frozen(project)
    output = project.doit("collect", "--explain", *args).stdout
    assert frozen(project) == before
    return derived_said(output)


def derived_done(project: Project, *args: str) -> dict[str, set[str]]:
    """What the next real run compresses and writes (its -v 2 lines)."""
    output = project.doit("collect", "-v", "2", *args).stdout
    lines = output.splitlines()
    return {
        "compressed": {line.split("'")[1] for line in lines if line.startswith("Compressed '")},
        "wrote": {line.split("'")[1] for line in lines if line.startswith("Wrote '")},
    }


def both_files(project: Project, names) -> set[str]:
    """Each name's copy and hashed file: what compressing it writes beside."""
    paths = project.manifest()
    return {file for name in names for file in (name, paths[name])}


@pytest.fixture
def compressed(tmp_path: Path) -> Project:
    project = Project(tmp_path / "site", COMPRESSED_CONFIG)
    project.write("css/a.css", '@import "b.css";\n' + ".a { color: red; }\n" * 40)
    project.write(
        "css/b.css", '.b { background: url("../img/x.png"); }\n' + ".b { top: 0; }\n" * 40
    )
    project.write("css/c.css", ".c { margin: 0; }\n" * 40)
    project.write("img/x.png", b"\x89PNG one")
    project.doit("collect")
    return project


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


def test_derived_phases_with_nothing_to_do(compressed):
    output = compressed.doit("collect", "--explain").stdout
    assert "Nothing to redo: the build in static_root is up to date." in output
    assert derived_said(output) == {}
    assert derived_done(compressed) == {"compressed": set(), "wrote": set()}


def test_an_edited_image_recompresses_the_css_that_references_it(compressed):
    compressed.write("img/x.png", b"\x89PNG two")
    said = explain_changing_nothing(compressed)
    assert said["compress"] == {
        "lines": [],
        "redone": {
            "css/a.css": "its hashed name changes (references css/b.css)",
            "css/b.css": "its hashed name changes (references img/x.png)",
        },
    }
    assert said["integrity"]["redone"] == {
        "img/x.png": "content changed",
        "css/a.css": "its hashed name changes (references css/b.css)",
        "css/b.css": "its hashed name changes (references img/x.png)",
    }
    assert said["integrity"]["lines"] == ["staticfiles.integrity.json rewritten"]
    did = derived_done(compressed)
    assert did["compressed"] == both_files(compressed, ["css/a.css", "css/b.css"])
    assert did["wrote"] == {"staticfiles.integrity.json"}


def test_an_edited_css_file_is_recompressed_for_its_content(compressed):
    compressed.write("css/c.css", ".c { margin: 1px; }\n" * 40)
    said = explain_changing_nothing(compressed)
    assert said["compress"]["redone"] == {"css/c.css": "content changed"}
    did = derived_done(compressed)
    assert did["compressed"] == both_files(compressed, ["css/c.css"])


def test_changed_compress_levels_redo_every_file_and_integrity_nothing(compressed):
    compressed.write_config(COMPRESSED_CONFIG + "compress_levels = { br = 5 }\n")
    said = explain_changing_nothing(compressed)
    assert said["compress"] == {
        "lines": ["settings changed (compress levels br 11 -> 5): every file again"]
    }
    assert said["integrity"] == {"lines": ["nothing to do"]}
    did = derived_done(compressed)
    assert did == {
        "compressed": both_files(compressed, ["css/a.css", "css/b.css", "css/c.css"]),
        "wrote": set(),
    }


def test_integrity_switched_off_then_on(compressed):
    path = compressed.root / "staticfiles.integrity.json"
    compressed.write_config(COMPRESSED_CONFIG.replace('integrity = "sha384"\n', ""))
    said = explain_changing_nothing(compressed)
    assert said["integrity"] == {"lines": ["switched off: deletes staticfiles.integrity.json"]}
    assert said["compress"] == {"lines": ["nothing to do"]}
    assert derived_done(compressed) == {"compressed": set(), "wrote": set()}
    assert not path.exists()
    said = explain_changing_nothing(compressed)  # off, and nothing of it left: not named
    assert "integrity" not in said
    compressed.write_config(COMPRESSED_CONFIG)
    said = explain_changing_nothing(compressed)
    assert said["integrity"] == {"lines": ["switched on: every file"]}
    assert derived_done(compressed) == {"compressed": set(), "wrote": {path.name}}
    assert path.exists()


def test_a_compressed_file_deleted_by_hand_is_named(compressed):
    hashed = compressed.manifest()["css/c.css"]
    (compressed.root / f"{hashed}.gz").unlink()
    said = explain_changing_nothing(compressed)
    assert said["compress"] == {"lines": [], "redone": {"css/c.css": f"{hashed}.gz missing"}}
    assert said["integrity"] == {"lines": ["nothing to do"]}
    did = derived_done(compressed)
    assert did == {"compressed": both_files(compressed, ["css/c.css"]), "wrote": set()}
    assert (compressed.root / f"{hashed}.gz").exists()


def test_a_removed_file_s_compressed_outputs_are_retired(compressed):
    hashed = compressed.manifest()["css/c.css"]
    outputs = [f"css/c.css{s}" for s in (".gz", ".br")] + [f"{hashed}{s}" for s in (".gz", ".br")]
    (compressed.path / "assets/css/c.css").unlink()
    said = explain_changing_nothing(compressed)
    assert set(said["compress"]["retired"]) == {"css/c.css"}
    assert set(said["compress"]["retired"]["css/c.css"].split(", ")) == set(outputs)
    assert said["integrity"]["lines"] == ["staticfiles.integrity.json rewritten"]
    assert derived_done(compressed) == {
        "compressed": set(),
        "wrote": {"staticfiles.integrity.json"},
    }
    assert all((compressed.root / output).exists() for output in outputs)  # kept, as old versions


def test_clear_redoes_every_derived_file(compressed):
    said = explain_changing_nothing(compressed, "--clear")
    assert said["compress"] == {"lines": ["--clear: every file again"]}
    assert said["integrity"] == {"lines": ["--clear: every file again"]}
    did = derived_done(compressed, "--clear")
    assert did == {
        "compressed": both_files(compressed, ["css/a.css", "css/b.css", "css/c.css"]),
        "wrote": {"staticfiles.integrity.json"},
    }


def test_files_post_processed_again_are_redone_only_if_named_anew(compressed):
    """static_url changes every post-processing result's settings: the CSS files
    are rewritten, but relative references give the same bytes, so the same
    hashed names: explain lists them apart, and the run compresses none."""
    compressed.write_config(COMPRESSED_CONFIG + 'static_url = "/assets/"\n')
    said = explain_changing_nothing(compressed)
    again = "post-processed again (the settings its results depend on changed)"
    assert said["compress"] == {
        "lines": [],
        "maybe": {"css/a.css": again, "css/b.css": again, "css/c.css": again},
    }
    assert said["integrity"]["lines"] == ["staticfiles.integrity.json rewritten if one of those is"]
    assert derived_done(compressed) == {"compressed": set(), "wrote": set()}


def test_the_decision_is_derived_py_s_own():
    """explain asks engine/derived.py's pure decision (scope, plan), which act uses."""
    from staticpipe.engine import derived

    header = {"settings": "gzip-9", "made_from": ("c1", "p1"), "token": "t"}
    assert derived.scope(header, None, True, ("c1", "p1"), False) == derived.OFF
    assert derived.scope(header, "gzip-5", True, ("c1", "p1"), False) == derived.EVERY
    assert derived.scope(header, "gzip-9", True, ("c1", "p1"), True) == derived.EVERY
    assert derived.scope(header, "gzip-9", True, ("c1", "p1"), False) == derived.CHANGED_ONLY
    assert derived.scope(header, "gzip-9", True, ("c0", "p1"), False) == derived.FINGERPRINTS
    assert derived.scope(header, "gzip-9", False, ("c1", "p1"), False) == derived.FINGERPRINTS
    Row = derived.Row
    rows = {"a": Row("m1 a", ("a.gz",)), "b": Row("m2 b", ("b.gz",)), "c": Row("m3 c", ())}
    rows["d"] = Row("x", ())
    prints = {"a": "m1 a", "b": "m2 b", "c": "m4 c", "e": "m5 e"}
    found = ["a", "b", "c", "e"]

    def missing(row):
        return "b.gz" if "b.gz" in row.outputs else None

    plan = derived.plan([*found, "d"], found, rows, True, prints.__getitem__, missing)
    assert plan.todo == {"b": derived.MISSING, "c": derived.FINGERPRINT, "e": derived.NEW}
    assert plan.gone == ["d"]
    plan = derived.plan(found, found, rows, False, prints.__getitem__, missing)
    assert plan.todo == dict.fromkeys(found, derived.RENEWED)


def test_compress_settings_changes_are_worded_as_the_config_says_them():
    from staticpipe.phases.compress import _describe

    assert _describe("gzip-9 br-11", "gzip-9 br-5") == "compress levels br 11 -> 5"
    assert _describe("gzip-9", "gzip-9 br-11") == "compress ['gzip'] -> ['gzip', 'br']"
