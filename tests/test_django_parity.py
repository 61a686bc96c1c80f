"""Differential tests: staticpipe against Django's own collectstatic.

Each test builds a small realistic tree, runs Django's ``collectstatic`` with
``ManifestStaticFilesStorage`` and staticpipe's pipeline on it, and asserts the
two static roots are identical: the manifest bytes (key order included), the set
of files and the bytes of every file. Where Django fails, the test asserts that
it does and then asserts staticpipe's documented behaviour instead.
"""

from __future__ import annotations

import os
import re
import time

import pytest
from conftest import (
    PATIENT_STORAGE,
    assert_same_output,
    read_manifest,
    run_django,
    tree_files,
)
from old_outputs import assert_clean_build_plus_old_versions

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(32))
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!"
WOFF = b"wOFF\x00\x01\x00\x00" + bytes(24)


def text(trees, name: str) -> str:
    """staticpipe's hashed output for ``name``, as text."""
    return trees.output(name).decode("utf-8")


def hashed_base(trees, name: str) -> str:
    """The last path segment of ``name``'s hashed name in staticpipe's manifest."""
    return read_manifest(trees.staticpipe_root)[name].rsplit("/", 1)[-1]


# -- URL forms -------------------------------------------------------------------
def test_relative_and_absolute_urls_match_django(trees):
    src = trees.write(
        {
            "css/site.css": (
                "body { background: url(../img/bg.png) no-repeat; }\n"
                ".logo { background-image: url(/static/img/logo.png); }\n"
                ".star { background: url(icons/star.png); }\n"
                ".dot { background: url(./icons/star.png); }\n"
                ".up { background: url(../css/../img/bg.png); }\n"
                ".media { background: url(/media/upload.png); }\n"
            ),
            "css/icons/star.png": PNG + b"star",
            "img/bg.png": PNG + b"bg",
            "img/logo.png": PNG + b"logo",
        }
    )
    trees.assert_parity([src])
    out = text(trees, "css/site.css")
    bg, logo = hashed_base(trees, "img/bg.png"), hashed_base(trees, "img/logo.png")
    star = hashed_base(trees, "css/icons/star.png")
    assert f'url("../img/{bg}") no-repeat' in out
    assert f'url("/static/img/{logo}")' in out
    assert f'url("icons/{star}")' in out and f'url("./icons/{star}")' in out
    assert f'url("../css/../img/{bg}")' in out
    assert "url(/media/upload.png)" in out  # outside STATIC_URL: left alone


def test_custom_static_url_matches_django(trees):
    src = trees.write(
        {
            "css/a.css": (
                "a { background: url(/assets/img/x.png); }\n"
                "b { background: url(/static/img/x.png); }\n"
                "c { background: url(../img/x.png); }\n"
            ),
            "img/x.png": PNG,
        }
    )
    trees.assert_parity([src], static_url="/assets/")
    out = text(trees, "css/a.css")
    assert f'url("/assets/img/{hashed_base(trees, "img/x.png")}")' in out
    assert "url(/static/img/x.png)" in out


def test_cdn_static_url_matches_django(trees):
    src = trees.write({"css/a.css": "a { background: url(../img/x.png) }", "img/x.png": PNG})
    trees.assert_parity([src], static_url="https://cdn.example.com/static/")
    assert hashed_base(trees, "img/x.png") in text(trees, "css/a.css")


def test_single_double_and_no_quotes_match_django(trees):
    src = trees.write(
        {
            "css/main.css": (
                "@import 'single.css';\n"
                '@import "double.css";\n'
                "@import url(bare.css);\n"
                "@import url('quoted.css');\n"
                "a { background: url('a.png'); }\n"
                'b { background: url("a.png"); }\n'
                "c { background: url(a.png); }\n"
            ),
            "css/single.css": "s { color: red }",
            "css/double.css": "d { color: red }",
            "css/bare.css": "b { color: red }",
            "css/quoted.css": "q { color: red }",
            "css/a.png": PNG,
        }
    )
    trees.assert_parity([src])
    out = text(trees, "css/main.css")
    assert out.count(f'url("{hashed_base(trees, "css/a.png")}")') == 3
    for name in ("single", "double", "bare", "quoted"):
        assert f'@import url("{hashed_base(trees, f"css/{name}.css")}")' in out


def test_fragments_and_queries_match_django(trees):
    src = trees.write(
        {
            "css/a.css": (
                ".home { background: url(sprite.svg#icon-home); }\n"
                ".v { background: url(bg.png?v=3); }\n"
                ".vf { background: url('bg.png?v=3#top'); }\n"
                ".local { fill: url(#gradient); }\n"
                ".empty { background: url(); }\n"
                ".enc { background: url(bg.png%23frag); }\n"
            ),
            "css/sprite.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
            "css/bg.png": PNG,
        }
    )
    trees.assert_parity([src])
    out = text(trees, "css/a.css")
    svg, png = hashed_base(trees, "css/sprite.svg"), hashed_base(trees, "css/bg.png")
    assert f'url("{svg}#icon-home")' in out
    assert f'url("{png}?v=3")' in out and f'url("{png}?v=3#top")' in out
    assert "url(#gradient)" in out and "url()" in out


def test_iefix_font_hack_matches_django(trees):
    src = trees.write(
        {
            "fonts/icons.css": (
                "@font-face {\n"
                "  font-family: 'Icons';\n"
                "  src: url('icons.eot');\n"
                "  src: url('icons.eot?#iefix') format('embedded-opentype'),\n"
                "       url('icons.woff?v=4.7.0') format('woff'),\n"
                "       url('icons.svg?v=4.7.0#iconsregular') format('svg');\n"
                "}\n"
            ),
            "fonts/icons.eot": b"EOT" + bytes(20),
            "fonts/icons.woff": WOFF,
            "fonts/icons.svg": "<svg><font id='iconsregular'/></svg>",
        }
    )
    trees.assert_parity([src])
    out = text(trees, "fonts/icons.css")
    assert f'url("{hashed_base(trees, "fonts/icons.eot")}?#iefix")' in out


def test_data_uris_are_left_alone_like_django(trees):
    svg = (
        "data:image/svg+xml;charset=utf8,%3Csvg xmlns='http://www.w3.org/2000/svg'%3E"
        "%3Cpath fill='url(%23g)' d='M0 0'/%3E%3C/svg%3E"
    )
    src = trees.write(
        {
            "css/a.css": (
                ".b64 { background: url(data:image/png;base64,iVBORw0KGgo=); }\n"
                f'.svg {{ background-image: url("{svg}"); }}\n'
                ".next { background: url(x.png); }\n"
            ),
            "css/x.png": PNG,
        }
    )
    trees.assert_parity([src])
    out = text(trees, "css/a.css")
    assert "url(data:image/png;base64,iVBORw0KGgo=)" in out and svg in out
    assert f'url("{hashed_base(trees, "css/x.png")}")' in out


def test_external_urls_are_left_alone_like_django(trees):
    src = trees.write(
        {
            "css/a.css": (
                "@import url(https://fonts.googleapis.com/css?family=Roboto);\n"
                "@import '//cdn.example.com/reset.css';\n"
                "a { background: url(http://example.com/a.png); }\n"
                "b { background: url(//cdn.example.com/b.png); }\n"
                "c { background: url(x.png); }\n"
            ),
            "css/x.png": PNG,
        }
    )
    trees.assert_parity([src])
    out = text(trees, "css/a.css")
    assert "url(https://fonts.googleapis.com/css?family=Roboto)" in out
    assert "url(http://example.com/a.png)" in out and "url(//cdn.example.com/b.png)" in out
    assert f'url("{hashed_base(trees, "css/x.png")}")' in out


def test_directory_urls_match_django(trees):
    # Django does not hash directory URLs but writes them back through its
    # template: url(fonts/) becomes url("fonts/"), and url(fonts) naming an
    # existing directory becomes url("fonts").
    src = trees.write(
        {
            "css/a.css": (
                "a { background: url(fonts/); }\n"
                "b { background: url(fonts); }\n"
                "c { background: url(fonts/?v=1#x); }\n"
                "d { background: url( fonts ); }\n"
                "e { background: url(fonts/  ); }\n"
            ),
            "css/fonts/f.woff": WOFF,
        }
    )
    trees.assert_parity([src])
    out = text(trees, "css/a.css")
    assert 'url("fonts/")' in out and 'url("fonts")' in out
    assert 'url("fonts ")' in out and 'url("fonts/  ")' in out  # Django keeps the blanks


def test_file_whose_only_url_is_a_directory_matches_django(trees):
    # No file is looked up, yet Django rewrites the bytes: not an unchanged file.
    src = trees.write({"css/a.css": ".a { background: url(fonts/) }", "css/fonts/f.woff": WOFF})
    trees.assert_parity([src])
    assert text(trees, "css/a.css") == '.a { background: url("fonts/") }'


# -- @import chains and reference graphs ------------------------------------------
def _chain(depth: int, deepest_first: bool) -> dict[str, str | bytes]:
    """``depth`` CSS files importing each other in a line, ending in a PNG.

    ``deepest_first``: file k lives k directories deep and imports file k+1,
    one level deeper, so Django's deepest-first order meets each import after
    its target. Otherwise each file imports one a level *up*, the order in
    which each of Django's passes settles only one more link.
    """
    files: dict[str, str | bytes] = {}
    if deepest_first:
        paths = ["/".join(["d"] * k + [f"f{k}.css"]) for k in range(depth)]
        for k in range(depth - 1):
            files[paths[k]] = f'@import "d/f{k + 1}.css";\nbody{{margin:{k}px}}\n'
        files[paths[-1]] = "body { background: url(leaf.png) }\n"
        files["/".join(["d"] * (depth - 1) + ["leaf.png"])] = PNG
    else:
        paths = ["/".join(["d"] * (depth - 1 - k) + [f"f{k}.css"]) for k in range(depth)]
        for k in range(depth - 1):
            files[paths[k]] = f'@import "../f{k + 1}.css";\nbody{{margin:{k}px}}\n'
        files[paths[-1]] = "body { background: url(leaf.png) }\n"
        files["leaf.png"] = PNG
    return files


def test_import_chain_deeper_than_five_matches_django(trees):
    src = trees.write(_chain(9, deepest_first=True))
    manifest = trees.assert_parity([src])
    assert len([n for n in manifest if n.endswith(".css")]) == 9
    # each file names the final (rewritten) hash of the next one
    assert hashed_base(trees, "d/f1.css") in text(trees, "f0.css")


def test_import_chain_django_cannot_converge_staticpipe_does(trees):
    src = trees.write(_chain(7, deepest_first=False))
    # Django's five passes settle one link each in this order: it gives up.
    with pytest.raises(RuntimeError, match="Max post-process passes exceeded"):
        run_django(trees.tmp / "django_5_passes", [src])
    # With enough passes Django reaches the fixed point; staticpipe gets there
    # in one pass, dependencies first, with the same names and bytes.
    trees.django([src], storage=PATIENT_STORAGE)
    trees.staticpipe([src])
    assert_same_output(trees.django_root, trees.staticpipe_root)
    assert hashed_base(trees, "f6.css") in text(trees, "d/f5.css")


def test_diamond_and_repeated_references_match_django(trees):
    src = trees.write(
        {
            "css/app.css": '@import "left.css";\n@import "right.css";\n',
            "css/left.css": "@import url(base/core.css);\n.l{}",
            "css/right.css": "@import url('base/core.css');\n.r{}",
            "css/base/core.css": (
                "a{background:url(../../img/x.png)}b{background:url(../../img/x.png)}"
                "c{background:url(/static/img/x.png)}"
            ),
            "img/x.png": PNG,
        }
    )
    trees.assert_parity([src])
    assert text(trees, "css/base/core.css").count(hashed_base(trees, "img/x.png")) == 3


# -- finders: directories, prefixes, shadowing, packages, ignore patterns ---------
def test_nested_directories_with_same_file_names_match_django(trees):
    files: dict[str, str | bytes] = {}
    for section in ("admin", "shop", "shop/admin"):
        files[f"{section}/style.css"] = f"/* {section} */ .x {{ background: url(img/logo.png) }}"
        files[f"{section}/img/logo.png"] = PNG + section.encode()
        files[f"{section}/app.js"] = f"console.log('{section}');"
    src = trees.write(files)
    manifest = trees.assert_parity([src])
    assert len(manifest) == 9
    assert len(set(manifest.values())) == 9


def test_dirs_with_prefix_match_django(trees):
    vendor = trees.write(
        {
            "lib.css": ".lib { background: url(img/x.png) }",
            "img/x.png": PNG + b"vendor",
        },
        where="vendor_src",
    )
    main = trees.write(
        {
            "css/site.css": (
                "@import url(../vendor/lib.css);\n"
                ".a { background: url(/static/vendor/img/x.png) }\n"
            ),
        },
        where="main_src",
    )
    manifest = trees.assert_parity([("vendor", vendor), main])
    assert "vendor/lib.css" in manifest and "vendor/img/x.png" in manifest
    out = text(trees, "css/site.css")
    assert hashed_base(trees, "vendor/lib.css") in out
    assert hashed_base(trees, "vendor/img/x.png") in out


def test_shadowing_first_dir_wins_like_django(trees):
    first = trees.write(
        {"css/a.css": ".first { background: url(../img/x.png) }", "img/x.png": PNG + b"1"},
        where="first",
    )
    second = trees.write(
        {
            "css/a.css": ".second {}",
            "img/x.png": PNG + b"2",
            "img/only-second.png": PNG + b"only",
        },
        where="second",
    )
    manifest = trees.assert_parity([first, second])
    assert ".first" in text(trees, "css/a.css")
    assert trees.output("img/x.png") == PNG + b"1"
    assert "img/only-second.png" in manifest


def test_package_static_dir_matches_django(trees):
    package = trees.package(
        {
            "pkg/app.css": ".app { background: url(icon.png) }\n@import '../shared.css';",
            "pkg/icon.png": PNG + b"pkg",
            "shared.css": ".from-package {}",
        }
    )
    src = trees.write({"shared.css": ".from-dirs {}"})
    manifest = trees.assert_parity([src], packages=[package])
    assert "pkg/app.css" in manifest
    assert ".from-dirs" in text(trees, "shared.css")  # dirs come before apps


def test_ignore_patterns_match_django(trees):
    src = trees.write(
        {
            "css/site.css": ".a { color: red }",
            "css/site.scss": "$c: red;",
            "scss/_vars.scss": "$x: 1;",
            "node_modules/lib/index.js": "module.exports = 1;",
            "js/node_modules/dep.js": "x();",
            "js/app.js": "app();",
            ".hidden/x.css": ".h {}",
            "css/.secret": "s",
            "css/site.css~": "backup",
            "CVS/Entries": "cvs",
        }
    )
    manifest = trees.assert_parity([src], ignore=["*.scss", "node_modules"])
    assert sorted(manifest) == ["css/site.css", "js/app.js"]


def test_no_default_ignore_matches_django(trees):
    src = trees.write({".well-known/security.txt": "Contact: x", "a.css~": "old"})
    manifest = trees.assert_parity([src], default_ignore=False)
    assert sorted(manifest) == [".well-known/security.txt", "a.css~"]


# -- file names and contents --------------------------------------------------------
def test_unicode_and_space_file_names_match_django(trees):
    src = trees.write(
        {
            "css/ünïcode.css": (
                ".a { background: url('../img/with space.png') }\n"
                ".b { background: url(../img/with%20space.png) }\n"
                ".c { background: url(../img/été.png) }\n"
                ".d { background: url(../img/%C3%A9t%C3%A9.png) }\n"
                '.e { background: url("../img/日本 語.png") }\n'
            ),
            "img/with space.png": PNG + b"space",
            "img/été.png": PNG + b"ete",
            "img/日本 語.png": PNG + b"ja",
        }
    )
    manifest = trees.assert_parity([src])
    out = text(trees, "css/ünïcode.css")
    assert out.count(hashed_base(trees, "img/with space.png")) == 2
    assert out.count(hashed_base(trees, "img/été.png")) == 2
    assert "日本 語." in manifest["img/日本 語.png"]


def test_sourcemaps_in_css_and_js_match_django(trees):
    src = trees.write(
        {
            "css/site.css": ".a{color:red}\n/*# sourceMappingURL=site.css.map */\n",
            "css/site.css.map": '{"version":3,"sources":["site.scss"]}',
            "js/app.js": "app();\n//# sourceMappingURL=app.js.map\n",
            "js/app.js.map": '{"version":3}',
            "js/lib.js": "lib();\n//# sourceMappingURL=../maps/lib.js.map",
            "maps/lib.js.map": '{"version":3}',
            "js/crlf.js": "crlf();\r\n//# sourceMappingURL=crlf.js.map\r\n",
            "js/crlf.js.map": '{"version":3}',
            "js/inline.js": ("inline();\n//# sourceMappingURL=data:application/json;base64,e30=\n"),
        }
    )
    trees.assert_parity([src])
    assert f"sourceMappingURL={hashed_base(trees, 'css/site.css.map')} */" in text(
        trees, "css/site.css"
    )
    assert f"sourceMappingURL=../maps/{hashed_base(trees, 'maps/lib.js.map')}" in text(
        trees, "js/lib.js"
    )


def test_dotted_and_extensionless_file_names_match_django(trees):
    src = trees.write(
        {
            "css/jquery.ui.theme.css": ".ui { background: url(images/ui-bg.flat.png) }",
            "css/images/ui-bg.flat.png": PNG,
            "js/app.min.js": "app();",
            "LICENSE": "MIT",
            "fonts/a.b.c.woff2": WOFF,
            "css/UPPER.CSS": ".x { background: url(images/ui-bg.flat.png) }",
        }
    )
    manifest = trees.assert_parity([src])
    assert re.fullmatch(
        r"css/jquery\.ui\.theme\.[0-9a-f]{12}\.css", manifest["css/jquery.ui.theme.css"]
    )
    assert re.fullmatch(r"LICENSE\.[0-9a-f]{12}", manifest["LICENSE"])
    # *.css is matched case-sensitively by Django: UPPER.CSS is not rewritten
    assert text(trees, "css/UPPER.CSS") == ".x { background: url(images/ui-bg.flat.png) }"


def test_empty_files_match_django(trees):
    src = trees.write(
        {
            "css/empty.css": "",
            "js/empty.js": "",
            "img/empty.png": b"",
            "css/uses-empty.css": ".e { background: url(../img/empty.png) }",
        }
    )
    manifest = trees.assert_parity([src])
    assert manifest["img/empty.png"] == "img/empty.d41d8cd98f00.png"  # md5 of b""


def test_js_files_match_django(trees):
    src = trees.write(
        {
            "js/app.js": (
                "import { x } from './lib.js';\n"
                "const css = 'a { background: url(../img/x.png) }';\n"
                "document.write('<link href=\"/static/css/a.css\">');\n"
            ),
            "js/lib.js": "export const x = 1;\n",
            "img/x.png": PNG,
        }
    )
    trees.assert_parity([src])
    # only sourcemap comments are references in JS (module imports are opt-in)
    assert text(trees, "js/app.js").startswith("import { x } from './lib.js';")


def test_incremental_rerun_matches_django_rerun_and_a_fresh_run_plus_old_versions(trees):
    src = trees.write(
        {
            "css/a.css": "@import 'b.css';\n.a { background: url(../img/x.png) }",
            "css/b.css": ".b { background: url(../img/y.png) }",
            "img/x.png": PNG + b"x1",
            "img/y.png": PNG + b"y1",
        }
    )
    trees.assert_parity([src])
    (src / "img/y.png").write_bytes(PNG + b"y2")
    (src / "img/x.png").unlink()
    (src / "css/a.css").write_text("@import 'b.css';\n.a { color: red }")
    later = time.time() + 10  # Django copies again only a source newer by a second
    for name in ("img/y.png", "css/a.css"):
        os.utime(src / name, (later, later))
    before = tree_files(trees.staticpipe_root)
    trees.assert_parity([src])  # the old versions kept, as Django keeps them
    assert set(before) < set(tree_files(trees.staticpipe_root))
    fresh = trees.tmp / "fresh_django"
    run_django(fresh, [src])  # and besides them, what a fresh run gives
    root = trees.staticpipe_root
    assert_clean_build_plus_old_versions(fresh, root, root.with_name(root.name + ".state"))


# -- the documented difference ---------------------------------------------------------
@pytest.mark.parametrize(
    ("reference", "written"),
    [("url(theme.css?v=2)", "{}?v=2"), ("url(theme.css  )", "{}")],
    ids=["query", "trailing-blanks"],
)
def test_query_reference_to_css_points_at_final_file_unlike_django(trees, reference, written):
    """A reference to a CSS/JS file whose name is not exactly the file's (a ``?query``,
    or blanks Django's pattern keeps): Django hashes the *unprocessed* file, a name
    it never writes; staticpipe names the final file. The only deliberate difference."""
    src = trees.write(
        {
            "css/app.css": f"@import {reference};\n",
            "css/theme.css": ".t { background: url(x.png) }",
            "css/x.png": PNG,
        }
    )
    trees.django([src])
    trees.staticpipe([src])
    django_paths, ours = read_manifest(trees.django_root), read_manifest(trees.staticpipe_root)
    assert django_paths["css/theme.css"] == ours["css/theme.css"]
    assert django_paths["css/x.png"] == ours["css/x.png"]

    django_app = (trees.django_root / django_paths["css/app.css"]).read_text()
    django_target = re.search(r'url\("(theme\.[0-9a-f]{12}\.css)', django_app)[1]
    assert django_target != hashed_base(trees, "css/theme.css")
    assert not (trees.django_root / "css" / django_target).exists()  # never written

    final = hashed_base(trees, "css/theme.css")
    assert f'url("{written.format(final)}")' in text(trees, "css/app.css")
    # everything else is identical
    django_files, our_files = tree_files(trees.django_root), tree_files(trees.staticpipe_root)
    assert set(django_files) - {"staticfiles.json", django_paths["css/app.css"]} == set(
        our_files
    ) - {"staticfiles.json", ours["css/app.css"]}


# -- the harness itself ------------------------------------------------------------------
def test_django_harness_resets_finders_and_storage_between_runs(trees):
    package = trees.package({"pkg.css": ".p {}"})
    first = trees.write({"first.css": ".one {}"}, where="first")
    second = trees.write({"second.css": ".two {}"}, where="second")
    run_django(trees.tmp / "root1", [first], packages=[package])
    run_django(trees.tmp / "root2", [second])
    assert sorted(read_manifest(trees.tmp / "root1")) == ["first.css", "pkg.css"]
    assert sorted(read_manifest(trees.tmp / "root2")) == ["second.css"]
    hashed = read_manifest(trees.tmp / "root2")["second.css"]
    assert set(tree_files(trees.tmp / "root2")) == {
        "second.css",
        hashed,
        "staticfiles.json",
    }
    from django.contrib.staticfiles.finders import get_finder

    assert get_finder.cache_info().currsize == 0


def test_js_with_and_without_sourcemaps_ascii_or_not_matches_django(trees):
    """JS that the copy saw as ASCII without a sourceMappingURL is not read again by
    post-processing; every other JS is: all of it as Django writes it."""
    src = trees.write(
        {
            "js/plain.js": "console.log('no map here');\n",
            "js/mapped.js": "var a = 1;\n//# sourceMappingURL=mapped.js.map\n",
            "js/mapped.js.map": '{"version": 3}',
            "js/accents.js": "console.log('caf\u00e9');\n",
            "js/accents-mapped.js": "var \u00e9 = 1;\n//# sourceMappingURL=mapped.js.map\n",
            "js/word-only.js": "// mentions sourceMappingURL in a comment\n",
        }
    )
    trees.assert_parity([src])
    hashed_map = hashed_base(trees, "js/mapped.js.map")
    assert f"sourceMappingURL={hashed_map}" in text(trees, "js/mapped.js")
    assert f"sourceMappingURL={hashed_map}" in text(trees, "js/accents-mapped.js")
