"""``js_modules = true``: identical to Django's ``support_js_module_import_aggregation``
where Django succeeds, bare specifiers left alone, and linear time.

The oracle is Django's own ``collectstatic`` with a ManifestStaticFilesStorage
subclass that turns the flag on (``JsModuleStorage`` below), run in-process by
``conftest.run_django``.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap

import pytest
from conftest import assert_same_output, read_manifest
from django.contrib.staticfiles.storage import (
    HashedFilesMixin,
    ManifestStaticFilesStorage,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from staticpipe.errors import MissingReferenceError
from staticpipe.rewrite.jsmodules import DJANGO_REGEXES, JS_MODULE_PATTERNS
from staticpipe.rewrite.references import patterns_for, references


class JsModuleStorage(ManifestStaticFilesStorage):
    support_js_module_import_aggregation = True


JS_STORAGE = f"{__name__}.JsModuleStorage"

LIB = {
    "js/lib.js": "export const a = 1;\nexport default function f() {}\n",
    "js/polyfill.js": "window.x = 1;\n",
    "js/lazy.js": "export const lazy = true;\n",
    "shared/util.js": "export const util = 2;\n",
}

# name -> (files, the file under test, names whose hashed form must appear in it)
CASES = {
    "named": (
        {"js/main.js": 'import { a, default as b } from "./lib.js";\nconsole.log(a, b);\n'},
        ["js/lib.js"],
    ),
    "default": (
        {"js/main.js": "import f from './lib.js';\nimport g, { a } from \"./lib.js\";\nf(g, a);\n"},
        ["js/lib.js"],
    ),
    "namespace": (
        {
            "js/main.js": 'import * as ns from "./lib.js";\n'
            "import*as other from'../shared/util.js';\n"
            "ns.a(other);\n"
        },
        ["js/lib.js", "shared/util.js"],
    ),
    "multi-line": (
        {"js/main.js": 'import {\n  a,\n  default as f,\n} from\n  "./lib.js"\n  ;\nf(a);\n'},
        ["js/lib.js"],
    ),
    "export-from": (
        {
            "js/main.js": 'export { a } from "./lib.js";\n'
            "export * from './lazy.js';\n"
            'export * as util from "../shared/util.js";\n'
        },
        ["js/lib.js", "js/lazy.js", "shared/util.js"],
    ),
    "side-effect": (
        {"js/main.js": "import \"./polyfill.js\";\nimport'../shared/util.js'  ;\nrun();\n"},
        ["js/polyfill.js", "shared/util.js"],
    ),
    "dynamic": (
        {
            "js/main.js": 'const m = await import("./lazy.js");\n'
            "import('../shared/util.js').then((u) => u.util);\n"
        },
        ["js/lazy.js", "shared/util.js"],
    ),
    "static-url": (
        {
            "js/main.js": 'import { a } from "/static/js/lib.js";\n'
            'export * from "/static/shared/util.js";\n'
            'import "/static/js/polyfill.js";\n'
            'import("/static/js/lazy.js");\n'
        },
        ["js/lib.js", "shared/util.js", "js/polyfill.js", "js/lazy.js"],
    ),
    "bare": (  # Django's static-import patterns need "./" or "/": bare ones stay
        {
            "js/main.js": 'import { a } from "./lib.js";\n'
            'import React from "react";\n'
            'import { h } from "preact/hooks";\n'
            'export * from "lodash-es";\n'
            'import "some-polyfill";\n'
        },
        ["js/lib.js"],
    ),
    "query-and-fragment": (
        {"js/main.js": 'import { a } from "./lib.js?v=3";\nimport("./lazy.js#x");\n'},
        ["js/lib.js", "js/lazy.js"],
    ),
    "chain": (  # main -> lib2 -> util: hashed in dependency order
        {
            "js/main.js": 'import { b } from "./lib2.js";\n',
            "js/lib2.js": 'export { util as b } from "../shared/util.js";\n',
        },
        ["js/lib2.js"],
    ),
    "minified-one-line": (  # Django's export regex needs a space: export*from stays
        {
            "js/main.js": 'import{a as x}from"./lib.js";import"./polyfill.js";'
            'export*from"../shared/util.js";const l=()=>import("./lazy.js");'
            'import y from"react";x(y,l);\n//# sourceMappingURL=main.js.map\n',
            "js/main.js.map": "{}",
        },
        ["js/lib.js", "js/polyfill.js", "js/lazy.js", "js/main.js.map"],
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_same_output_as_django(trees, case):
    files, targets = CASES[case]
    src = trees.write({**LIB, **files})
    trees.django([src], storage=JS_STORAGE)
    trees.staticpipe([src], js_modules=True)
    assert_same_output(trees.django_root, trees.staticpipe_root)
    manifest = read_manifest(trees.staticpipe_root)
    output = trees.output("js/main.js").decode()
    for target in targets:  # the references were really rewritten
        assert manifest[target].rsplit("/", 1)[-1] in output, target


@pytest.mark.parametrize(
    "source",
    [
        'import "./polyfill.js";\nexport * from "./lib.js";\n',
        'export { a } from "react";\nimport { a as b } from "./lib.js";\n',
    ],
)
def test_statement_rewritten_once_where_django_hashes_twice(trees, source):
    """Django's import regex runs on past a side-effect import (or its export regex
    past a bare re-export) to the next statement's ``from "./lib.js";``; the other
    regex then matches that statement again and hashes the hashed name:
    ``lib.<hash>.<hash>.js``, which does not exist (or a ValueError, when lib's
    hashed copy is not on disk yet: it depends on processing order)."""
    src = trees.write({**LIB, "js/main.js": source})
    trees.staticpipe([src], js_modules=True)
    lib = read_manifest(trees.staticpipe_root)["js/lib.js"].rsplit("/", 1)[-1]
    output = trees.output("js/main.js").decode()
    assert f'from "./{lib}";' in output
    assert (trees.staticpipe_root / "js" / lib).is_file()
    try:
        trees.django([src], storage=JS_STORAGE)
    except ValueError as exc:
        assert "could not be found" in str(exc)
        return
    django = trees.output("js/main.js", trees.django_root).decode()
    twice = lib.replace(".js", lib[3:])  # lib.<hash>.<hash>.js
    assert f'from "./{twice}";' in django
    assert not (trees.django_root / "js" / twice).exists()
    assert django.replace(twice, lib) == output  # otherwise the same bytes


def test_bare_specifiers_left_alone(trees):
    source = 'import React from "react";\nimport { a } from "./lib.js";\n'
    src = trees.write({**LIB, "js/main.js": source})
    trees.staticpipe([src], js_modules=True)
    output = trees.output("js/main.js").decode()
    assert 'import React from "react";' in output
    assert '"./lib.js"' not in output


def test_dynamic_bare_specifier_django_fails_staticpipe_leaves_it(trees):
    source = 'const r = await import("react");\nimport("./lazy.js");\n'
    src = trees.write({**LIB, "js/main.js": source})
    with pytest.raises(ValueError, match="js/react' could not be found"):
        trees.django([src], storage=JS_STORAGE)
    trees.staticpipe([src], js_modules=True)  # missing = "error" (the default)
    output = trees.output("js/main.js").decode()
    lazy = read_manifest(trees.staticpipe_root)["js/lazy.js"].rsplit("/", 1)[-1]
    assert output == f'const r = await import("react");\nimport("./{lazy}");\n'


def test_missing_module_is_an_error_naming_file_and_line(trees):
    src = trees.write({**LIB, "js/main.js": 'import "./polyfill.js";\nimport "./gone.js";\n'})
    with pytest.raises(ValueError, match="gone.js"):
        trees.django([src], storage=JS_STORAGE)
    with pytest.raises(MissingReferenceError) as caught:
        trees.staticpipe([src], js_modules=True)
    [problem] = caught.value.problems
    assert problem.endswith("src/js/main.js:2: ./gone.js"), problem


def test_module_cycle_django_fails_staticpipe_builds(trees):
    files = {
        "js/a.js": 'import { b } from "./b.js";\nexport const a = 1;\n',
        "js/b.js": 'import { a } from "./a.js";\nexport const b = 2;\n',
    }
    src = trees.write(files)
    with pytest.raises(RuntimeError, match="Max post-process passes exceeded"):
        trees.django([src], storage=JS_STORAGE)
    trees.staticpipe([src], js_modules=True)
    manifest = read_manifest(trees.staticpipe_root)
    a, b = manifest["js/a.js"], manifest["js/b.js"]
    assert a.split(".")[1] == b.split(".")[1]  # one hash for the cycle
    assert f'from "./{b.split("/")[1]}";' in trees.output("js/a.js").decode()
    assert f'from "./{a.split("/")[1]}";' in trees.output("js/b.js").decode()


def test_off_by_default_like_django(trees):
    src = trees.write(
        {**LIB, "js/main.js": 'import { a } from "./lib.js";\nimport("./lazy.js");\n'}
    )
    trees.django([src])  # plain ManifestStaticFilesStorage: the flag is off
    trees.staticpipe([src])
    assert_same_output(trees.django_root, trees.staticpipe_root)
    assert b'"./lib.js"' in trees.output("js/main.js")


# -- the matchers against Django's regexes, directly -------------------------------
def test_regexes_are_djangos():
    _, django_patterns = HashedFilesMixin._js_module_import_aggregation_patterns
    assert [regex.pattern for regex in DJANGO_REGEXES] == [p for p, _ in django_patterns]
    assert [p.template for p in JS_MODULE_PATTERNS] == [t for _, t in django_patterns]
    assert patterns_for("x.js", js_modules=True)[-4:] == JS_MODULE_PATTERNS


def _show(match) -> str:
    groups = match.groupdict()
    return f"<{match.start()}:{sorted(groups.items())!r}>"


def _django_sub(index: int, text: str) -> str:
    def convert(match) -> str:
        if index == 3 and not match.group("url").startswith((".", "/")):
            return match.group("matched")  # documented difference: bare import()
        return _show(match)

    return DJANGO_REGEXES[index].sub(convert, text)


TOKENS = [
    "import", "IMPORT", "İmport", "export", "from", "FROM", "fro", "m", " ", " ", "\n",
    "\t", "\u00a0", "{", "}", "*", "as", "aſ", "x", "_", "'", '"', ";", "./", "/", ".",
    "a.js", "(", ")", "react", "from'./a.js';", 'import("./b.js")', "* as xfrom", "xfrom",
    "import * as x from", "import*as x", "'./", '"./', 'from "../c.js" ;',
]  # fmt: skip


def _django_sequence(text: str) -> str:
    """Django's four regexes in sequence, with staticpipe's two documented fixes:
    bare ``import("x")`` left alone, and B skips a tail A already rewrote."""
    parts, a_ends, position, length = [], set(), 0, 0
    for match in DJANGO_REGEXES[0].finditer(text):
        for part in (text[position : match.start()], _show(match)):
            parts.append(part)
            length += len(part)
        a_ends.add(length)
        position = match.end()
    text = "".join(parts) + text[position:]
    text = DJANGO_REGEXES[1].sub(
        lambda m: m.group("matched") if m.end() in a_ends else _show(m), text
    )
    return _django_sub(3, _django_sub(2, text))


def _check_same_matches(text: str) -> None:
    for index, pattern in enumerate(JS_MODULE_PATTERNS):  # each pattern alone
        assert pattern.regex.sub(_show, text) == _django_sub(index, text), (index, text)
    current = text
    for pattern in JS_MODULE_PATTERNS:  # all four in sequence, as rewrite() applies them
        current = pattern.regex.sub(_show, current)
    assert current == _django_sequence(text), text


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=30))
def test_matches_equal_djangos_regexes(tokens):
    _check_same_matches("".join(tokens))


def test_matches_equal_djangos_regexes_seeded():
    rng = random.Random(20240601)
    matched = [0, 0, 0, 0]
    for _ in range(3000):
        text = "".join(rng.choice(TOKENS) for _ in range(rng.randint(0, 30)))
        _check_same_matches(text)
        for index, pattern in enumerate(JS_MODULE_PATTERNS):
            matched[index] += pattern.regex.sub(_show, text) != text
    assert all(count > 30 for count in matched), matched  # every pattern was exercised


def test_references_found_once_each():
    text = 'import{a}from"./a.js";export *from"./b.js";import"./c.js";import("./d.js");'
    found = references(text, "js/m.js", patterns_for("m.js", js_modules=True), "/static/")
    assert [target.key for target, _ in found] == ["js/a.js", "js/b.js", "js/c.js", "js/d.js"]


# -- linear time -------------------------------------------------------------------
# One-line bundles on which Django's lazy DOTALL regexes are quadratic or worse
# (measured: "from-without-closer" at 20 KB takes Django ~100 s).
PATHOLOGICAL = {
    "import-without-from": "import {a} ; ",
    "from-without-closer": "import{a}from'./x ",
    "export-without-from": "export {a} ",
    "namespace-without-from": "import* as abc ",
    "side-effect-without-closer": "import './x ",
    "dynamic-without-closer": "import('./x ",
    "whitespace": "import     ",
    "quotes": "'\"",
}

_TIMER = textwrap.dedent(
    """
    import json, sys, time
    from staticpipe.rewrite.jsmodules import JS_MODULE_PATTERNS
    units, size = json.loads(sys.argv[1]), int(sys.argv[2])
    result = {}
    for name, unit in units.items():
        text = unit * (size // len(unit))
        start = time.perf_counter()
        for pattern in JS_MODULE_PATTERNS:
            pattern.regex.sub(lambda m: m.group("matched"), text)
        result[name] = time.perf_counter() - start
    print(json.dumps(result))
    """
)


def test_linear_time_on_pathological_one_line_bundles():
    """1 MB each, in a subprocess with a timeout so a regression fails, not hangs."""
    proc = subprocess.run(
        [sys.executable, "-c", _TIMER, json.dumps(PATHOLOGICAL), str(1_000_000)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    timings = json.loads(proc.stdout)
    slow = {name: seconds for name, seconds in timings.items() if seconds > 5}
    assert not slow, f"not linear: {slow}"


def test_pipeline_on_a_one_megabyte_minified_bundle(trees):
    # Django-pathological, but no reference in it: "from" is never followed by a
    # quoted "./" or "/" and no quote is followed by ";" or ")"
    noise = "import {a} ; export {a} import* as abc import(x) import     from 'x ' f(x)"
    body = 'import{a}from"./lib.js";' + noise * (1_000_000 // len(noise))
    body += 'import("./lazy.js");export*from"../shared/util.js";\n'
    src = trees.write({**LIB, "js/bundle.js": body})
    proc = subprocess.run(  # a subprocess: a regression times out instead of hanging
        [
            sys.executable,
            "-c",
            "import sys; from conftest import run_staticpipe;"
            "run_staticpipe(sys.argv[1], [sys.argv[2]], js_modules=True)",
            str(trees.staticpipe_root),
            str(src),
        ],
        cwd=str(__import__("pathlib").Path(__file__).parent),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = read_manifest(trees.staticpipe_root)
    output = trees.output("js/bundle.js").decode()
    for target in ("js/lib.js", "js/lazy.js", "shared/util.js"):
        assert manifest[target].rsplit("/", 1)[-1] in output
