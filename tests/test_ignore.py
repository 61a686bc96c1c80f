"""Ignore rules: the fast per-name matcher agrees with pathspec's gitignore semantics."""

from __future__ import annotations

import pathspec
from hypothesis import given, settings
from hypothesis import strategies as st

from staticpipe.sources.ignore import IgnoreRules

NAMES = ["CVS", ".git", "a.scss", "b.css", "x~", "node_modules", "img", "site.css.map", "a.css"]
PATTERNS = ["CVS", ".*", "*~", "*.scss", "node_modules/", "img", "*.map", "[ab].css", "?.css"]

paths = st.lists(st.sampled_from(NAMES), min_size=1, max_size=4).map("/".join)


@settings(max_examples=300, deadline=None)
@given(patterns=st.lists(st.sampled_from(PATTERNS), max_size=4), path=paths)
def test_fast_matching_agrees_with_pathspec(patterns, path):
    rules = IgnoreRules(patterns)
    assert rules._fast
    spec = pathspec.GitIgnoreSpec.from_lines(patterns)
    assert rules.ignores_file(path) == spec.match_file(path)
    assert rules.ignores_dir(path) == spec.match_file(path + "/")


def test_patterns_with_slashes_use_pathspec():
    rules = IgnoreRules(["/build", "docs/*.md", "!keep.scss", "*.scss"])
    assert not rules._fast
    assert rules.ignores_dir("build") and not rules.ignores_dir("src/build")
    assert rules.ignores_file("docs/a.md") and not rules.ignores_file("docs/sub/a.md")
    assert rules.ignores_file("a.scss")


def test_directory_only_pattern_ignores_directories_not_files():
    rules = IgnoreRules(["node_modules/"])
    assert rules.ignores_dir("node_modules")
    assert rules.ignores_file("node_modules/x.js")
    assert not rules.ignores_file("node_modules")
    assert not rules.ignores_name("node_modules", is_dir=False)
    assert rules.ignores_name("node_modules", is_dir=True)


def test_walk_applies_anchored_patterns_to_the_full_path(tmp_path):
    from staticpipe.config import from_mapping
    from staticpipe.sources.finders import find_all

    for name in ("build/a.css", "src/build/b.css", "docs/x.md", "docs/sub/y.md", "k.css"):
        path = tmp_path / "assets" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("a{}")
    config = from_mapping(
        {"static_root": "out", "dirs": ["assets"], "ignore": ["/build", "docs/*.md"]}, tmp_path
    )
    assert sorted(find_all(config)) == ["docs/sub/y.md", "k.css", "src/build/b.css"]
