"""Incremental runs in the corners a review found: each ends equal to a clean build.

Every test drives the real doit in this process (as a dodo.py does), on real
files in ``tmp_path``, and compares static_root with a clean build of the same
sources and settings.
"""

from __future__ import annotations

import pytest
from sites import Site


def test_one_source_under_two_names_is_updated_under_both(tmp_path):
    site = Site(tmp_path / "site", dirs='["assets", "assets/css"]')
    site.write("css/x.css", "body { color: red }\n")
    assert site.collect() == 0
    site.write("css/x.css", "body { color: blue }\n")
    assert site.collect() == 0
    site.assert_equals_clean_build(tmp_path / "clean")


def test_a_watcher_run_in_between_does_not_hide_a_removed_override(tmp_path):
    site = Site(tmp_path / "site", dirs='["override", "assets"]')
    site.write("app.css", "body { color: red }\n")
    (site.path / "override").mkdir()
    assert site.collect() == 0
    site.write("app.css", "body { color: green }\n", base="override")
    site.watcher_run()
    (site.path / "override" / "app.css").unlink()
    assert site.collect() == 0
    site.assert_equals_clean_build(tmp_path / "clean")


def test_a_watcher_run_in_between_does_not_keep_copies_where_links_are_asked(tmp_path):
    site = Site(tmp_path / "site")
    site.write("app.css", "body { color: red }\n")
    assert site.collect("--link") == 0
    site.watcher_run()  # copies
    assert site.collect("--link") == 0
    assert (site.path / "build" / "static" / "app.css").is_symlink()


def test_a_reference_to_a_file_removed_in_a_failed_run_is_redone(tmp_path):
    site = Site(tmp_path / "site", extra='missing = "warn"')
    site.write("css/a.css", '.a { background: url("../img/x.png"); }\n')
    site.write("img/x.png", b"\x89PNG x")
    site.write("js/b.js", "console.log('ok');\n")
    assert site.collect() == 0
    (site.path / "assets" / "img" / "x.png").unlink()
    site.write("js/b.js", "console.log('caf\xe9');\n".encode("latin-1"))  # fails to decode
    assert site.collect() != 0
    site.write("js/b.js", "console.log('cafe');\n")
    assert site.collect() == 0
    site.assert_equals_clean_build(tmp_path / "clean")


def test_settings_changed_in_a_failed_run_are_applied_by_the_next(tmp_path):
    site = Site(tmp_path / "site")
    site.write("js/app.js", 'import { x } from "./m.js";\nconsole.log(x);\n')
    site.write("js/m.js", "export const x = 1;\n")
    site.write("bad.css", ".a { color: red }\n")
    assert site.collect() == 0
    site.configure("js_modules = true")
    site.write("bad.css", b".a { content: '\xe9' }\n")  # fails to decode
    assert site.collect() != 0
    site.write("bad.css", ".a { color: blue }\n")
    assert site.collect() == 0
    site.assert_equals_clean_build(tmp_path / "clean")


def test_an_undecodable_file_is_still_reported_when_other_files_are_redone(tmp_path, capsys):
    site = Site(tmp_path / "site", extra='encoding_errors = "copy"')
    site.write("css/latin.css", b".a { content: 'caf\xe9' }\n")
    site.write("img/y.png", b"\x89PNG y")
    assert site.collect() == 0
    capsys.readouterr()
    site.write("img/y.png", b"\x89PNG y2")
    assert site.collect() == 0
    assert "latin.css: not rewritten (undecodable)" in capsys.readouterr().out


@pytest.mark.parametrize("identical", [True, False])
def test_the_manifest_follows_a_reordered_listing(tmp_path, identical):
    site = Site(tmp_path / "site", dirs='["override", "assets"]')
    site.write("a.css", "\n")
    site.write("b.css", "\n")
    site.write("y.txt", "y")
    (site.path / "override").mkdir()
    assert site.collect() == 0
    site.write("b.css", "\n" if identical else "\n\n", base="override")  # found first now
    assert site.collect() == 0
    site.assert_equals_clean_build(tmp_path / "clean")
