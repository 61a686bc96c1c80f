"""Inputs Django gets wrong or refuses, and staticpipe's documented behaviour for each.

Every test runs the real pipeline (``pipeline.run`` via ``conftest.run_staticpipe``)
on real files in ``tmp_path``; where Django fails on the same input, the test
shows that too (``conftest.run_django``).
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import shutil
from pathlib import Path

import pytest
from conftest import read_manifest, run_staticpipe, tree_files, write_tree
from django.core.exceptions import SuspiciousFileOperation
from old_outputs import assert_clean_build_plus_old_versions, prune_all

from staticpipe.errors import ConfigError, DecodeError, MissingReferenceError


def md5_12(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()[:12]


def hashed_name(manifest: dict[str, str], name: str) -> str:
    return manifest[name].rsplit("/", 1)[-1]


def output(root: Path, name: str) -> bytes:
    return (root / read_manifest(root)[name]).read_bytes()


# -- missing targets -----------------------------------------------------------------
MISSING_CSS = (
    "/* styles */\n"
    ".a { background: url(nope.png); }\n"
    ".b { background: url(img/x.png); }\n"
    '@import "../gone.css";\n'
    ".c { background: url(nope.png#frag); }\n"
)
PRESENT = {"css/img/x.png": b"PNG"}


def test_missing_error_names_file_line_and_url(trees):
    src = trees.write({"css/a.css": MISSING_CSS, **PRESENT})
    with pytest.raises(ValueError, match="could not be found"):
        trees.django([src])
    with pytest.raises(MissingReferenceError) as caught:
        trees.staticpipe([src])  # missing = "error" is the default
    problems = caught.value.problems  # reported pattern by pattern, as Django scans
    assert sorted(p.rsplit("src/", 1)[1] for p in problems) == [
        "css/a.css:2: nope.png",
        "css/a.css:4: ../gone.css",
        "css/a.css:5: nope.png#frag",
    ]
    assert all(Path(p.split(":")[0]).resolve() == src / "css/a.css" for p in problems)
    assert "3 missing referenced files" in str(caught.value)
    assert not (trees.staticpipe_root / "staticfiles.json").exists()


def test_missing_warn_one_line_per_reference_left_as_written(trees):
    src = trees.write({"css/a.css": MISSING_CSS, **PRESENT})
    summary, lines = run_staticpipe(trees.staticpipe_root, [src], missing="warn")
    warnings = [line for line in lines if line.startswith("warning:")]
    assert sorted(w.split("src/", 1)[1] for w in warnings) == [
        "css/a.css:2: nope.png (missing, left as written)",
        "css/a.css:4: ../gone.css (missing, left as written)",
        "css/a.css:5: nope.png#frag (missing, left as written)",
    ]
    assert len(summary.warnings) == 3
    manifest = read_manifest(trees.staticpipe_root)
    x = hashed_name(manifest, "css/img/x.png")
    expected = MISSING_CSS.replace("url(img/x.png)", f'url("img/{x}")')
    assert output(trees.staticpipe_root, "css/a.css").decode() == expected


def test_missing_ignore_is_silent_and_left_as_written(trees):
    src = trees.write({"css/a.css": MISSING_CSS, **PRESENT})
    summary, lines = run_staticpipe(trees.staticpipe_root, [src], missing="ignore")
    assert not [line for line in lines if "warning" in line]
    assert summary.warnings == []
    text = output(trees.staticpipe_root, "css/a.css").decode()
    assert "url(nope.png)" in text and '@import "../gone.css";' in text
    assert "url(nope.png#frag)" in text and 'url("img/x.' in text


SOURCEMAPS = {
    "css/a.css": ".a { background: url(img/x.png); }\n/*# sourceMappingURL=a.css.map */\n",
    "js/a.js": "console.log(1);\n//# sourceMappingURL=a.js.map\n",
    **PRESENT,
}


def test_missing_sourcemap_has_its_own_policy(trees):
    src = trees.write(SOURCEMAPS)
    with pytest.raises(ValueError, match="a.css.map|a.js.map"):
        trees.django([src])  # a missing .map aborts Django's deploy
    summary, lines = run_staticpipe(
        trees.staticpipe_root, [src], missing="error", missing_sourcemap="warn"
    )
    warnings = sorted(line.split("src/", 1)[1] for line in lines if line.startswith("warning:"))
    assert warnings == [
        "css/a.css:2: a.css.map (missing, left as written)",
        "js/a.js:2: a.js.map (missing, left as written)",
    ]
    assert output(trees.staticpipe_root, "js/a.js") == SOURCEMAPS["js/a.js"].encode()
    css = output(trees.staticpipe_root, "css/a.css").decode()
    assert css.endswith("/*# sourceMappingURL=a.css.map */\n") and 'url("img/x.' in css


def test_missing_sourcemap_policy_does_not_cover_other_references(trees):
    src = trees.write({**SOURCEMAPS, "css/b.css": ".b { background: url(nope.png); }\n"})
    with pytest.raises(MissingReferenceError) as caught:
        run_staticpipe(trees.staticpipe_root, [src], missing_sourcemap="ignore")
    assert [p.rsplit("src/", 1)[1] for p in caught.value.problems] == ["css/b.css:1: nope.png"]


def test_missing_sourcemap_can_be_stricter_than_missing(trees):
    src = trees.write({**SOURCEMAPS, "css/b.css": ".b { background: url(nope.png); }\n"})
    with pytest.raises(MissingReferenceError) as caught:
        run_staticpipe(trees.staticpipe_root, [src], missing="ignore", missing_sourcemap="error")
    assert sorted(p.rsplit("src/", 1)[1] for p in caught.value.problems) == [
        "css/a.css:2: a.css.map",
        "js/a.js:2: a.js.map",
    ]


def test_missing_sourcemap_defaults_to_missing(trees):
    src = trees.write(SOURCEMAPS)
    with pytest.raises(MissingReferenceError):
        run_staticpipe(trees.staticpipe_root, [src], missing="error")
    _, lines = run_staticpipe(trees.staticpipe_root, [src], missing="warn")
    assert len([line for line in lines if line.startswith("warning:")]) == 2


def test_policy_values_are_validated(tmp_path):
    for key in ("missing", "missing_sourcemap", "encoding_errors"):
        with pytest.raises(ConfigError, match=key):
            run_staticpipe(tmp_path / "root", [tmp_path], **{key: "sometimes"})


# -- encodings -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "encoding, text",
    [
        ("iso-8859-1", '.a:after { content: "café"; }'),
        ("windows-1251", '.a:after { content: "привет"; }'),
        ("shift_jis", '.a:after { content: "日本語"; }'),
    ],
)
def test_charset_is_honoured(trees, encoding, text):
    css = f'@charset "{encoding}";\n{text}\n.b {{ background: url(img/x.png); }}\n'
    data = css.encode(encoding)
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # really not UTF-8
    src = trees.write({"css/a.css": data, **PRESENT})
    with pytest.raises(UnicodeDecodeError):
        trees.django([src])  # Django always decodes UTF-8
    trees.staticpipe([src])
    manifest = read_manifest(trees.staticpipe_root)
    x = hashed_name(manifest, "css/img/x.png")
    expected = css.replace("url(img/x.png)", f'url("img/{x}")').encode(encoding)
    assert output(trees.staticpipe_root, "css/a.css") == expected  # still in its charset
    assert manifest["css/a.css"] == f"css/a.{md5_12(expected)}.css"


def test_undecodable_css_without_charset_is_an_error_with_byte_offset(trees):
    data = b'.a { background: url(img/x.png); }\n.b:after { content: "caf\xe9"; }\n'
    src = trees.write({"css/a.css": data, **PRESENT})
    with pytest.raises(DecodeError) as caught:
        trees.staticpipe([src])
    message = str(caught.value)
    assert message.split(":", 1)[0].endswith("src/css/a.css")
    offset = data.index(b"\xe9")
    assert f"byte offset {offset}" in message
    assert 'encoding_errors = "copy"' in message
    assert not (trees.staticpipe_root / "staticfiles.json").exists()


def test_undecodable_js_is_an_error_with_byte_offset(trees):
    data = b"var s = '\xff\xfe';\n"
    src = trees.write({"js/a.js": data})
    with pytest.raises(DecodeError, match=r"src/js/a\.js: not valid utf-8 at byte offset 9"):
        trees.staticpipe([src])


UNUSABLE = (
    "; its @charset '{}' cannot be used (not ASCII-compatible, or the bytes do not round-trip)"
)


@pytest.mark.parametrize(
    "charset, detail",
    [
        ("utf-8", "not valid utf-8 at byte offset {offset}"),
        ("klingon", "unknown @charset 'klingon'"),
        ("base64", "unknown @charset 'base64'"),  # a Python codec, not a text encoding
        # decodable, but not what the bytes are: rewriting would corrupt the file
        ("utf-16", "not valid utf-8 at byte offset {offset}" + UNUSABLE.format("utf-16")),
        ("cp037", "not valid utf-8 at byte offset {offset}" + UNUSABLE.format("cp037")),
        (
            "unicode_escape",
            "not valid utf-8 at byte offset {offset}" + UNUSABLE.format("unicode_escape"),
        ),
    ],
)
def test_wrong_or_unknown_charset_is_an_error(trees, charset, detail):
    data = f'@charset "{charset}";\n'.encode() + b'.a:after { content: "\\e9 \xe9"; }\n'
    detail = detail.format(offset=data.index(b"\xe9"))
    src = trees.write({"css/a.css": data})
    with pytest.raises(DecodeError, match=re.escape(detail)):
        trees.staticpipe([src])
    _, lines = run_staticpipe(trees.staticpipe_root, [src], encoding_errors="copy")
    assert output(trees.staticpipe_root, "css/a.css") == data


def test_encoding_errors_copy_collects_and_hashes_unrewritten(trees):
    data = b'.a { background: url(img/x.png); }\n.b:after { content: "caf\xe9"; }\n'
    src = trees.write(
        {"css/a.css": data, "css/b.css": '@import "a.css";\n', "js/c.js": b"'\xff';\n", **PRESENT}
    )
    summary, lines = run_staticpipe(trees.staticpipe_root, [src], encoding_errors="copy")
    manifest = read_manifest(trees.staticpipe_root)
    assert manifest["css/a.css"] == f"css/a.{md5_12(data)}.css"
    assert output(trees.staticpipe_root, "css/a.css") == data  # not rewritten
    assert output(trees.staticpipe_root, "js/c.js") == b"'\xff';\n"
    assert output(trees.staticpipe_root, "css/b.css") == (
        f'@import url("{hashed_name(manifest, "css/a.css")}");\n'.encode()
    )
    warned = sorted(line.split("src/", 1)[1] for line in lines if line.startswith("warning:"))
    assert warned == [
        "css/a.css: not rewritten (undecodable), copied as is",
        "js/c.js: not rewritten (undecodable), copied as is",
    ]


# -- paths that escape ---------------------------------------------------------------
ESCAPES = [
    "../../secret.txt",  # css/a.css -> ../secret.txt: next to src/ and to static_root
    "../../../../../../../../etc/passwd",
    "/static/../secret.txt",
    "/static/../../x",
    "/static/css/../../secret.txt",
    "..%2F..%2Fsecret.txt",
]


def test_escaping_urls_are_missing_and_never_read(trees):
    secret = b"SECRET " + os.urandom(8).hex().encode()
    (trees.tmp / "secret.txt").write_bytes(secret)
    css = "".join(f".r{i} {{ background: url({url}); }}\n" for i, url in enumerate(ESCAPES))
    src = trees.write({"css/a.css": css})
    with pytest.raises((SuspiciousFileOperation, ValueError)):
        trees.django([src])
    with pytest.raises(MissingReferenceError) as caught:
        trees.staticpipe([src])
    assert [p.rsplit(": ", 1)[1] for p in caught.value.problems] == ESCAPES

    ours = (
        trees.staticpipe_root,
        trees.staticpipe_root.with_name(trees.staticpipe_root.name + ".state"),
    )

    def outside() -> list[Path]:
        return sorted(p for p in trees.tmp.rglob("*") if not {*ours} & {p, *p.parents})

    before = outside()
    shutil.rmtree(trees.staticpipe_root)
    run_staticpipe(trees.staticpipe_root, [src], missing="ignore")
    assert output(trees.staticpipe_root, "css/a.css").decode() == css  # left as written
    after = outside()
    assert after == before  # nothing written outside static_root (and its state dir)
    digests = {md5_12(secret), md5_12(Path("/etc/passwd").read_bytes())}
    for name, data in tree_files(trees.staticpipe_root).items():
        assert secret not in data, name
        assert not any(digest in name for digest in digests), name


def test_escaping_js_module_specifiers_are_missing(trees):
    (trees.tmp / "secret.js").write_text("export const s = 1;\n")
    src = trees.write(
        {"js/a.js": 'import { s } from "../../secret.js";\nimport("/static/../secret.js");\n'}
    )
    with pytest.raises(MissingReferenceError) as caught:
        trees.staticpipe([src], js_modules=True)
    assert [p.rsplit(": ", 1)[1] for p in caught.value.problems] == [
        "../../secret.js",
        "/static/../secret.js",
    ]


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    write_tree(
        project / "assets", {"css/a.css": ".a { background: url(x.png); }\n", "css/x.png": b"P"}
    )
    return project


def _run(project: Path, **data) -> dict[str, str]:
    from staticpipe import pipeline
    from staticpipe.config import from_mapping

    config = from_mapping({"static_root": "build/static", **data}, project)
    pipeline.run(config, log=lambda line: None)
    return read_manifest(project / "build" / "static")


def _files(base: Path) -> list[str]:
    return sorted(p.relative_to(base).as_posix() for p in base.rglob("*"))


@pytest.mark.parametrize(
    "prefix", ["..", "../outside", "a/../../outside", "a/..", "/abs", ".", "./css", "a//b"]
)
def test_dirs_prefix_that_escapes_is_rejected(tmp_path, prefix):
    project = _project(tmp_path)
    before = _files(tmp_path)
    with pytest.raises(ConfigError, match="prefix"):
        _run(project, dirs=[{"prefix": prefix, "path": "assets"}])
    assert _files(tmp_path) == before  # nothing read into or written anywhere


@pytest.mark.parametrize(
    "path", ["assets/../build/static", "build/./static", "./build/x/../static"]
)
def test_dirs_path_that_is_static_root_is_rejected(tmp_path, path):
    project = _project(tmp_path)
    (project / "build" / "static").mkdir(parents=True)
    with pytest.raises(ConfigError, match="static_root"):
        _run(project, dirs=[path])


def test_dirs_path_with_dotdot_is_the_directory_it_names(tmp_path):
    project = _project(tmp_path)
    (project / "other").mkdir()
    plain = _run(project, dirs=["assets"])
    shutil.rmtree(project / "build")
    tricky = _run(project, dirs=["other/../assets/css/.."])
    assert tricky == plain == {"css/x.png": plain["css/x.png"], "css/a.css": plain["css/a.css"]}


def test_dirs_path_containing_static_root_never_reads_outputs(tmp_path):
    project = _project(tmp_path)
    try:
        for _ in range(2):
            manifest = _run(project, dirs=["."])
    except ConfigError:
        return  # rejecting it is fine too
    assert not [name for name in manifest if name.startswith("build/")]


# -- a failed run keeps the previous deploy -------------------------------------------
GOOD = {
    "css/a.css": '.a { background: url(img/x.png); }\n@import "b.css";\n',
    "css/b.css": ".b { background: url(/static/js/app.js); }\n",
    "css/img/x.png": b"PNG1",
    "js/app.js": "console.log(1);\n",
}


@pytest.mark.parametrize(
    "breakage",
    [
        {"css/b.css": ".b { background: url(nope.png); }\n"},  # missing reference
        {"css/b.css": b'.b:after { content: "\xe9"; }\n'},  # undecodable
    ],
    ids=["missing", "undecodable"],
)
def test_failed_run_leaves_previous_manifest_and_its_files(trees, breakage):
    src = trees.write(GOOD)
    trees.staticpipe([src])
    root = trees.staticpipe_root
    manifest_bytes = (root / "staticfiles.json").read_bytes()
    named = {hashed: (root / hashed).read_bytes() for hashed in read_manifest(root).values()}

    # every file changes (so each would get a new hashed name), one breaks the build
    trees.write({"css/img/x.png": b"PNG2", "js/app.js": "console.log(2);\n", **breakage})
    with pytest.raises((MissingReferenceError, DecodeError)):
        trees.staticpipe([src])
    assert (root / "staticfiles.json").read_bytes() == manifest_bytes
    for hashed, data in named.items():
        assert (root / hashed).read_bytes() == data, hashed

    # fixed: the new build equals a clean build, the old hashed files stay (as
    # Django keeps them) until pruned
    trees.write({"css/b.css": ".b { color: red; }\n"})
    trees.staticpipe([src])
    clean = trees.tmp / "clean_root"
    run_staticpipe(clean, [src])
    state_dir = root.with_name(root.name + ".state")
    assert_clean_build_plus_old_versions(clean, root, state_dir)
    assert all((root / hashed).read_bytes() == data for hashed, data in named.items())
    prune_all(root, state_dir)
    assert tree_files(root) == tree_files(clean)
    assert not any((root / hashed).exists() for hashed in named)


# -- reference cycles ----------------------------------------------------------------
CYCLES = {
    "pair": (
        {
            "css/a.css": '@import "b.css";\n.a { background: url(img/x.png); }\n',
            "css/b.css": ".b { background: url(a.css); }\n",
        },
        ["css/a.css", "css/b.css"],
    ),
    "longer": (  # across directories, with @import and url()
        {
            "css/a.css": '@import "sub/b.css";\n',
            "css/sub/b.css": ".b { background: url(../../c.css#top); }\n",
            "c.css": '@import "/static/css/d.css";\n',
            "css/d.css": '@import "a.css";\n.d { background: url(img/x.png); }\n',
        },
        ["c.css", "css/a.css", "css/d.css", "css/sub/b.css"],
    ),
    "self": (
        {"css/a.css": ".a { background: url(a.css); } .i { background: url(img/x.png); }\n"},
        ["css/a.css"],
    ),
    "self-import": (
        {"css/a.css": '@import "a.css";\n.i { background: url(img/x.png); }\n'},
        ["css/a.css"],
    ),
    "with-outsiders": (  # e -> d -> (a <-> b) -> x.png: files outside reference into it
        {
            "css/a.css": '@import "b.css";\n.a { background: url(img/x.png); }\n',
            "css/b.css": '@import "a.css";\n',
            "css/d.css": '@import "a.css";\n.d { background: url(img/x.png); }\n',
            "e.css": '@import "css/d.css";\n@import "/static/css/b.css";\n',
        },
        ["css/a.css", "css/b.css"],
    ),
}
IMAGE = {"css/img/x.png": b"PNG1"}
_URL = re.compile(r'url\("([^"]*)"\)')


def _digest(hashed: str) -> str:
    return hashed.rsplit("/", 1)[-1].split(".")[-2]


def _assert_urls_resolve(root: Path) -> int:
    """Every rewritten URL in every hashed CSS output names a hashed output file."""
    manifest = read_manifest(root)
    outputs = set(manifest.values())
    checked = 0
    for name, hashed in manifest.items():
        if not name.endswith(".css"):
            continue
        for url in _URL.findall((root / hashed).read_text()):
            path = re.split(r"[?#]", url)[0]
            if path.startswith("/static/"):
                target = path.removeprefix("/static/")
            else:
                target = posixpath.normpath(posixpath.join(posixpath.dirname(hashed), path))
            assert target in outputs, f"{hashed}: {url} -> {target}"
            assert (root / target).is_file()
            checked += 1
    return checked


def _build(base: Path, files: dict, order=None) -> dict[str, str]:
    src = base / "src"
    for name in order or files:
        write_tree(src, {name: files[name]})
    root = base / "root"
    run_staticpipe(root, [src])
    return read_manifest(root)


@pytest.mark.parametrize("case", CYCLES)
def test_cycle_builds_with_one_shared_hash(trees, case):
    files, members = CYCLES[case]
    files = {**files, **IMAGE}
    src = trees.write(files)
    with pytest.raises(RuntimeError, match="Max post-process passes exceeded"):
        trees.django([src])

    trees.staticpipe([src])
    root = trees.staticpipe_root
    manifest = read_manifest(root)
    assert len({_digest(manifest[m]) for m in members}) == 1
    assert _assert_urls_resolve(root) >= len(members)
    for name in files:  # names are content-derived, never the original
        assert manifest[name] != name

    # deterministic, and independent of file creation (walk) order
    again = _build(trees.tmp / "again", files, order=sorted(files, reverse=True))
    assert again == manifest
    assert tree_files(trees.tmp / "again" / "root") == tree_files(root)


@pytest.mark.parametrize("case", CYCLES)
def test_cycle_hash_changes_with_any_member_or_what_it_references(trees, case):
    files, members = CYCLES[case]
    files = {**files, **IMAGE}
    src = trees.write(files)
    trees.staticpipe([src])
    root = trees.staticpipe_root
    seen = {_digest(read_manifest(root)[members[0]])}
    edits = [{m: files[m] + f"/* edit {m} */\n"} for m in members]
    edits.append({"css/img/x.png": b"PNG2"})  # referenced from inside the cycle
    for step, edit in enumerate(edits):
        trees.write(edit)
        trees.staticpipe([src])  # incremental, on the same root
        manifest = read_manifest(root)
        digests = {_digest(manifest[m]) for m in members}
        assert len(digests) == 1
        assert not digests & seen, f"hash unchanged after {list(edit)}"
        seen |= digests
        _assert_urls_resolve(root)
        clean = trees.tmp / f"clean{step}"
        run_staticpipe(clean, [src])  # incremental == clean (and the old versions)
        assert_clean_build_plus_old_versions(clean, root, root.with_name(root.name + ".state"))


def test_files_outside_a_cycle_follow_it(trees):
    files, members = CYCLES["with-outsiders"]
    src = trees.write({**files, **IMAGE})
    trees.staticpipe([src])
    root = trees.staticpipe_root
    before = read_manifest(root)
    d = output(root, "css/d.css").decode()
    assert f'@import url("{hashed_name(before, "css/a.css")}");' in d
    trees.write({"css/b.css": files["css/b.css"] + "/* edit */\n"})
    trees.staticpipe([src])
    after = read_manifest(root)
    for name in ("css/a.css", "css/b.css", "css/d.css", "e.css"):  # all that reach b
        assert after[name] != before[name], name
    assert after["css/img/x.png"] == before["css/img/x.png"]
    data = json.loads((root / "staticfiles.json").read_bytes())
    assert data["paths"] == after and data["version"] == "1.1"


def test_warnings_are_repeated_on_a_rerun_that_reuses_the_file(tmp_path):
    from staticpipe import pipeline
    from staticpipe.config import from_mapping

    project = _project(tmp_path)
    (project / "assets" / "css" / "w.css").write_text(".w { background: url(gone.png); }\n")
    config = from_mapping(
        {"static_root": "build/static", "dirs": ["assets"], "missing": "warn"}, project
    )
    lines: list[str] = []
    first = pipeline.run(config, log=lines.append)
    second = pipeline.run(config, log=lines.append)
    assert "css/w.css" not in second.post_processed  # reused, not rewritten again
    for summary in (first, second):
        assert [w for w in summary.warnings if "css/w.css:1: gone.png" in w], summary.warnings
    assert sum("css/w.css:1: gone.png" in line for line in lines) == 2
