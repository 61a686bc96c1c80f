"""CSS parsed as CSS: the inputs Django's regexes get wrong, and parity elsewhere.

Django finds references with regexes. Where the regex and CSS read a ``url()``
or ``@import`` the same way, staticpipe writes exactly Django's bytes (checked
against Django itself). Where they differ (blanks between ``url(`` and a quote,
escapes, the other quote inside the URL), Django looks up a file that does not
exist and fails; staticpipe rewrites the URL CSS sees and keeps every other byte.
"""

from __future__ import annotations

import time

import pytest
from conftest import read_manifest, run_django
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from staticpipe.errors import MissingReferenceError
from staticpipe.rewrite.patterns import IMPORT, URL
from staticpipe.rewrite.references import scan_css, serialize_url

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(24))


def hashed(trees, name: str) -> str:
    """The last segment of ``name``'s hashed name in staticpipe's manifest."""
    return read_manifest(trees.staticpipe_root)[name].rsplit("/", 1)[-1]


def css_out(trees, name: str = "css/a.css") -> str:
    return trees.output(name).decode("utf-8")


def assert_django_fails(trees, src, match: str = "could not be found") -> None:
    with pytest.raises(ValueError, match=match):
        run_django(trees.tmp / "django_fails", [src])


IMAGES = {
    "css/x.png": PNG + b"x",
    "css/a b.png": PNG + b"space",
    "css/a(1).png": PNG + b"paren",
    "css/it's.png": PNG + b"apostrophe",
    'css/say"hi".png': PNG + b"quote",
    "css/été.png": PNG + b"accent",
    "img/y.png": PNG + b"y",
}


# -- blanks inside url( ... ) ----------------------------------------------------------
@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("url( 'x.png' )", "url( '{x}' )"),
        ('url(  "x.png"  )', 'url(  "{x}"  )'),
        ("url('x.png' )", "url('{x}' )"),
        ('url( "x.png")', 'url( "{x}")'),
        ("url(\n  '../img/y.png')", "url(\n  '../img/{y}')"),
        ("url(\t'x.png#frag'\t)", "url(\t'{x}#frag'\t)"),
        ("URL( 'x.png' )", "URL( '{x}' )"),
        ("url( '/static/img/y.png' )", "url( '/static/img/{y}' )"),
    ],
)
def test_blanks_around_quoted_url_django_fails_staticpipe_rewrites_only_the_url(
    trees, written, expected
):
    before = f".a {{\n  background: {written} no-repeat;\n}}\n"
    src = trees.write({"css/a.css": before, **IMAGES})
    assert_django_fails(trees, src)
    trees.staticpipe([src])
    x, y = hashed(trees, "css/x.png"), hashed(trees, "img/y.png")
    after = f".a {{\n  background: {expected.format(x=x, y=y)} no-repeat;\n}}\n"
    assert css_out(trees) == after


@pytest.mark.parametrize(
    "written",
    ["url( x.png )", "url(\tx.png\t)", "url(x.png  )", "url(' x.png')", 'url("x.png ")'],
)
def test_blanks_django_reads_correctly_match_django(trees, written):
    # Django's pattern strips these blanks itself: its output (``url("x.<hash>.png")``,
    # blanks dropped) is the reference.
    src = trees.write({"css/a.css": f".a {{ background: {written}; }}", **IMAGES})
    trees.assert_parity([src])
    assert hashed(trees, "css/x.png") in css_out(trees)


def test_url_spanning_lines_is_left_alone_like_django(trees):
    # Django's pattern does not match a url( whose URL sits on the next line with
    # the ")" on a third: it leaves it as written and succeeds. Identical output.
    css = (
        ".a { background: url(\n  x.png\n); } .b { background: url(\n  'x.png'\n) }\n"
        ".c { background: url('x.p\\\nng') }\n"  # an escaped newline inside the string
    )
    src = trees.write({"css/a.css": css, **IMAGES})
    trees.assert_parity([src])
    assert css_out(trees) == css


# -- escapes -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("written", "name", "expected"),
    [
        (r"url(a\ b.png)", "css/a b.png", r"url(a\ b.{h}.png)"),
        (r"url(a\(1\).png)", "css/a(1).png", r"url(a\(1\).{h}.png)"),
        (r"url('it\'s.png')", "css/it's.png", r"url('it\'s.{h}.png')"),
        (r"url(it\'s.png)", "css/it's.png", r"url(it\'s.{h}.png)"),
        (r'url("say\"hi\".png")', 'css/say"hi".png', r'url("say\"hi\".{h}.png")'),
        (r"url('say\"hi\".png')", 'css/say"hi".png', "url('say\"hi\".{h}.png')"),
        (r"url(\e9 t\e9.png)", "css/été.png", "url(été.{h}.png)"),
        (r"url('\0000e9t\e9.png')", "css/été.png", "url('été.{h}.png')"),
    ],
)
def test_escapes_in_url_django_fails_staticpipe_unescapes(trees, written, name, expected):
    src = trees.write({"css/a.css": f".a {{ background: {written}; }}\n", **IMAGES})
    assert_django_fails(trees, src)
    trees.staticpipe([src])
    digest = hashed(trees, name).rsplit(".", 2)[1]
    assert css_out(trees) == f".a {{ background: {expected.format(h=digest)}; }}\n"


def test_escaped_url_resolves_to_a_written_file(trees):
    src = trees.write({"css/a.css": r".a { background: url(a\ b.png) }", **IMAGES})
    trees.staticpipe([src])
    out = css_out(trees)
    assert r"url(a\ b." in out
    written = out.split("url(", 1)[1].split(")", 1)[0].replace("\\ ", " ")
    assert (trees.staticpipe_root / "css" / written).read_bytes() == IMAGES["css/a b.png"]


def test_serialize_url_escapes_for_each_context():
    assert serialize_url("a b(1)'\".png", "") == "a\\ b\\(1\\)\\'\\\".png"
    assert serialize_url("a b(1)'\".png", '"') == "a b(1)'\\\".png"
    assert serialize_url("a b(1)'\".png", "'") == "a b(1)\\'\".png"
    assert serialize_url("a\\b\nc\x7f d", "") == "a\\\\b\\a c\\7f \\ d"
    assert serialize_url("a\\b\nc", "'") == "a\\\\b\\a c"


# -- uppercase URL( ----------------------------------------------------------------------
def test_uppercase_url_matches_django(trees):
    # Django's patterns are case-insensitive and write back a lowercase url("...").
    css = ".a { background: URL(x.png) } .b { background: Url('x.png') }\n@IMPORT 'b.css';"
    src = trees.write({"css/a.css": css, "css/b.css": ".b {}", **IMAGES})
    trees.assert_parity([src])
    out = css_out(trees)
    assert out.count(f'url("{hashed(trees, "css/x.png")}")') == 2
    assert f'@import url("{hashed(trees, "css/b.css")}")' in out


# -- @import with media queries ------------------------------------------------------------
def test_import_with_media_queries_matches_django(trees):
    css = (
        '@import "print.css" print;\n'
        "@import 'wide.css' screen and (min-width: 1px);\n"
        "@import url(grid.css) supports(display: grid) screen;\n"
        '@import url("base.css") layer(base);\n'
        "@import url(landscape.css) screen and (orientation:landscape), print;\n"
    )
    names = ["print", "wide", "grid", "base", "landscape"]
    src = trees.write({"css/a.css": css, **{f"css/{n}.css": f".{n} {{}}" for n in names}})
    trees.assert_parity([src])
    out = css_out(trees)
    assert f'@import url("{hashed(trees, "css/wide.css")}") screen and (min-width: 1px);' in out
    assert f"@import url({hashed(trees, 'css/grid.css')})" not in out  # Django quotes it
    assert f'@import url("{hashed(trees, "css/grid.css")}") supports(display: grid)' in out


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        (
            "@import url( 'wide.css' ) screen and (min-width: 1px);",
            "@import url( '{wide}' ) screen and (min-width: 1px);",
        ),
        (
            '@import "it\'s.css" screen and (max-width: 600px);',
            '@import "{its}" screen and (max-width: 600px);',
        ),
        (
            "@import 'it\\'s.css' print;",
            "@import '{its_escaped}' print;",
        ),
    ],
)
def test_import_with_media_queries_django_fails_staticpipe_keeps_every_other_byte(
    trees, written, expected
):
    src = trees.write(
        {"css/a.css": f"{written}\n.a {{}}\n", "css/wide.css": ".w {}", "css/it's.css": ".i {}"}
    )
    assert_django_fails(trees, src)
    trees.staticpipe([src])
    wide, its = hashed(trees, "css/wide.css"), hashed(trees, "css/it's.css")
    values = {"wide": wide, "its": its, "its_escaped": its.replace("'", "\\'")}
    assert css_out(trees) == f"{expected.format(**values)}\n.a {{}}\n"


# -- comments --------------------------------------------------------------------------------
def test_reference_in_comment_to_existing_file_matches_django(trees):
    css = (
        "/* .old { background: url(x.png) } */\n"
        "/*\n @import 'b.css';\n .legacy { background: url('../img/y.png') }\n*/\n"
        ".a { color: red }\n"
    )
    src = trees.write({"css/a.css": css, "css/b.css": ".b {}", **IMAGES})
    trees.assert_parity([src])
    out = css_out(trees)
    assert f'url("{hashed(trees, "css/x.png")}")' in out
    assert f'@import url("{hashed(trees, "css/b.css")}")' in out


def test_reference_in_comment_to_missing_file_is_ignored_where_django_fails(trees):
    css = (
        "/* .old { background: url(gone.png) } */\n"
        "/*\n @import 'removed.css';\n*/\n"
        ".a { background: url(x.png) }\n"
    )
    src = trees.write({"css/a.css": css, **IMAGES})
    assert_django_fails(trees, src)  # Django ticket #21080
    summary_root = trees.staticpipe([src])
    out = css_out(trees)
    assert "url(gone.png)" in out and "@import 'removed.css';" in out
    assert f'url("{hashed(trees, "css/x.png")}")' in out
    assert summary_root.exists()


def test_missing_reference_outside_comments_still_fails(trees):
    src = trees.write({"css/a.css": "/* ok */ .a { background: url( 'gone.png' ) }"})
    with pytest.raises(MissingReferenceError, match="gone.png"):
        trees.staticpipe([src])


def test_missing_reference_warning_names_css_line(trees):
    src = trees.write({"css/a.css": ".a {}\n.b {}\n.c { background: url( 'gone.png' ) }\n"})
    from conftest import run_staticpipe

    summary, _ = run_staticpipe(trees.staticpipe_root, [src], missing="warn")
    assert any(":3: gone.png" in warning for warning in summary.warnings), summary.warnings
    assert "url( 'gone.png' )" in css_out(trees)


def test_comment_markers_inside_strings_and_urls_are_not_comments(trees):
    css = (
        '.a::before { content: "/*"; background: url(x.png) }\n'
        ".b { background: url('../img/y.png') } /* */\n"
    )
    src = trees.write({"css/a.css": css, **IMAGES})
    trees.assert_parity([src])
    scan = scan_css(css)
    assert len(scan.comments) == 1 and css[scan.comments[0][0] :] == "/* */\n"


# -- a realistic stylesheet: only URL bytes change ------------------------------------------
def test_only_url_bytes_change_in_a_stylesheet_django_rejects(trees):
    css = (
        '@charset "utf-8";\n'
        "@import url( 'base.css' ) screen;\n"
        "/* header: see url(gone.png) */\n"
        ".hero {\n"
        "  background:\n"
        '    url( "../img/y.png" ) center / cover no-repeat,\n'
        "    linear-gradient(to right, #fff, #000);\n"
        "}\n"
        ".icon { background-image: URL( 'x.png#sprite' ); }\n"
        ".file { background: url(a\\ b.png); }\n"
        ".ext { background: url( 'https://example.com/a.png' ); }\n"
        ".data { background: url( 'data:image/gif;base64,R0lGOD==' ); }\n"
        ".plain { background: url(x.png); }\n"
    )
    src = trees.write({"css/a.css": css, "css/base.css": ".base {}", **IMAGES})
    assert_django_fails(trees, src)
    trees.staticpipe([src])
    base, x, y = (hashed(trees, n) for n in ("css/base.css", "css/x.png", "img/y.png"))
    ab = hashed(trees, "css/a b.png").replace(" ", "\\ ")
    expected = (
        css.replace("'base.css'", f"'{base}'")
        .replace('"../img/y.png"', f'"../img/{y}"')
        .replace("'x.png#sprite'", f"'{x}#sprite'")
        .replace("url(a\\ b.png)", f"url({ab})")
        .replace("url(x.png)", f'url("{x}")')  # Django's form where Django reads it right
    )
    assert css_out(trees) == expected


# -- the tokenizer -----------------------------------------------------------------------------
def test_scan_css_finds_real_references_only():
    css = (
        "a{b:url( 'x.png' )} c{d:myurl(y.png)} /* url(z.png) */\n"
        "e{f:url(a\\ b.png)} g{content:'url(s.png)'} h{i:url(bad url.png)}\n"
        '@import "m.css" screen; @importx \'n.css\'; j{k:url("q.png" x)}\n'
        "l{m:url(data:image/svg+xml;utf8,<svg/>)} n{o:url(\u00a0.png)}"
    )
    scan = scan_css(css)
    found = [(ref.kind, ref.value, ref.quote) for ref in scan.refs.values()]
    assert found == [
        (URL, "x.png", "'"),
        (URL, "a b.png", ""),
        (IMPORT, "m.css", '"'),
        (URL, "data:image/svg+xml;utf8,<svg/>", ""),
        (URL, "\u00a0.png", ""),  # not a CSS blank
    ]
    first = scan.refs[css.index("url( 'x")]
    assert css[first.value_start : first.value_end] == "x.png"
    assert css[first.start : first.end] == "url( 'x.png' )"


def test_scan_css_skips_whole_strings_and_resumes_after_an_unclosed_one():
    css = (
        'a{content:"\\f000 url(s.png)"} b{content:"\\"url(t.png)\\""}'  # escapes: still strings
        " c{content:'\\41 url(u.png)'} d{e:url(v.png)}\n"
        'f{content:"open url(w.png)\n'  # unclosed: the string ends at the newline
        "g{h:url(x.png)} i@import 'n.css'; j{k:-url(y.png)} @IMPORT 'm.css';"
    )
    found = [(ref.kind, ref.value) for ref in scan_css(css).refs.values()]
    assert found == [(URL, "v.png"), (URL, "x.png"), (IMPORT, "m.css")]


def test_scan_css_is_linear_on_a_large_minified_file():
    unit = (
        ".a{background:url(x.png)}.b{background:url( 'y.png' )}/* c */"
        '.d{content:"\\""}.e{background:url(data:image/png;base64,' + "A" * 200 + ")}"
    )
    small, large = unit * 500, unit * 5000  # ~150 kB and ~1.5 MB, one line
    started = time.perf_counter()
    assert len(scan_css(small).refs) == 1500
    small_time = time.perf_counter() - started
    started = time.perf_counter()
    assert len(scan_css(large).refs) == 15000
    large_time = time.perf_counter() - started
    assert large_time < max(20 * small_time, 0.5) and large_time < 5


# -- generated CSS against Django -----------------------------------------------------------------
_PATHS = [
    "x.png",
    "../img/y.png",
    "/static/img/y.png",
    "a%20b.png",
    "a b.png",
    "x.png#f",
    "x.png?v=1",
    "b.css",
    "data:image/png;base64,AA==",
    "http://example.com/z.png",
    "#id",
    "sub/",
    "gone.png",
]
_BLANK = st.sampled_from(["", "", " ", "  ", "\t", "\n"])
_QUOTE = st.sampled_from(["", "", "'", '"'])


@st.composite
def _reference(draw) -> str:
    path = draw(st.sampled_from(_PATHS))
    kind = draw(st.sampled_from(["url", "import", "comment"]))
    if kind == "import":
        quote = draw(st.sampled_from(["'", '"']))
        media = draw(st.sampled_from(["", " screen", " screen and (min-width: 1px)"]))
        return f"@import{draw(_BLANK)}{quote}{path}{quote}{media};"
    quote = draw(_QUOTE)
    name = draw(st.sampled_from(["url", "url", "URL"]))
    text = f"{name}({draw(_BLANK)}{quote}{path}{quote}{draw(_BLANK)})"
    return f"/* {text} */" if kind == "comment" else f".r {{ background: {text} }}"


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(_reference(), min_size=1, max_size=4))
def test_generated_css_matches_django_wherever_django_succeeds(tmp_path_factory, references):
    from conftest import assert_same_output, run_staticpipe, write_tree

    tmp = tmp_path_factory.mktemp("generated")
    src = write_tree(
        tmp / "src",
        {
            "css/a.css": "\n".join(references),
            "css/b.css": ".b {}",
            "css/sub/s.png": PNG,
            **IMAGES,
        },
    )
    try:
        run_django(tmp / "django", [src])
    except ValueError:
        django_ok = False
    else:
        django_ok = True
    event(f"Django {'succeeds' if django_ok else 'fails'}")
    try:
        run_staticpipe(tmp / "staticpipe", [src])
    except MissingReferenceError:
        # only a file that is really missing may stop staticpipe
        assert "gone.png" in "".join(references)
        return
    if django_ok:
        assert_same_output(tmp / "django", tmp / "staticpipe")
