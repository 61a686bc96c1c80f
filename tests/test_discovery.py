"""Discovery reuses the last walk only while no source directory changed."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from staticpipe import pipeline
from staticpipe.config import from_mapping
from staticpipe.errors import StaticpipeError
from staticpipe.fs import fsutil
from staticpipe.ledger import state
from staticpipe.sources import discovery, finders

RACY_NS = 50_000_000  # ext4/tmpfs timestamps are fine-grained: trust them after 50 ms
SETTLE = RACY_NS / 1e9 + 0.02  # past the window where timestamps are not trusted


@pytest.fixture(autouse=True)
def short_racy_window(monkeypatch):
    monkeypatch.setattr(fsutil, "RACY_NS", RACY_NS)


def listing(found: dict) -> list[tuple[str, str, int]]:
    return [(item.name, item.source, item.location) for item in found.values()]


def write(path: Path, text: str = "a{}") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    for name in ("css/a.css", "css/deep/b.css", "img/x.png", "js/app.js"):
        write(tmp_path / "assets" / name)
    return tmp_path


def config_for(site: Path, **extra):
    return from_mapping(
        {"static_root": "out", "dirs": ["assets", {"prefix": "v", "path": "vendor"}], **extra},
        site,
    )


def test_an_unchanged_tree_is_listed_from_the_last_walk(site):
    config = config_for(site)
    first = listing(discovery.find_all(config))
    saved = config.state_path / "found.state"
    time.sleep(SETTLE)
    discovery.find_all(config)  # re-walks: the first walk's timestamps were too fresh
    written = state.token(saved)
    time.sleep(SETTLE)
    assert listing(discovery.find_all(config)) == first
    assert state.token(saved) == written  # not walked (nor saved) again


MUTATIONS = {
    "add_nested_file": lambda s: write(s / "assets/css/deep/new.css"),
    "delete_file": lambda s: (s / "assets/img/x.png").unlink(),
    "rename_directory": lambda s: (s / "assets/css/deep").rename(s / "assets/css/deeper"),
    "new_directory": lambda s: write(s / "assets/fonts/f.woff2"),
    "location_appears": lambda s: write(s / "vendor/lib.js"),
    "file_becomes_directory": lambda s: (
        (s / "assets/js/app.js").unlink(),
        write(s / "assets/js/app.js/inner.js"),
    ),
    "delete_directory": lambda s: shutil.rmtree(s / "assets/css/deep"),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_a_changed_tree_is_walked_again(site, mutation):
    config = config_for(site)
    discovery.find_all(config)
    time.sleep(SETTLE)
    discovery.find_all(config)  # recorded with settled timestamps
    MUTATIONS[mutation](site)
    time.sleep(SETTLE)
    assert listing(discovery.find_all(config)) == listing(finders.find_all(config))


def test_changed_ignore_patterns_walk_again(site):
    discovery.find_all(config_for(site))
    time.sleep(SETTLE)
    changed = config_for(site, ignore=["*.png"])
    assert listing(discovery.find_all(changed)) == listing(finders.find_all(changed))
    assert "img/x.png" not in discovery.find_all(changed)


def test_a_source_that_vanished_behind_the_listing_fails_once_then_recovers(site):
    target = site / "elsewhere.css"
    write(target)
    os.symlink(target, site / "assets/css/link.css")
    config = config_for(site)
    pipeline.run(config, log=lambda line: None)
    time.sleep(SETTLE)
    pipeline.run(config, log=lambda line: None)
    target.unlink()  # the link breaks; its directory's mtime does not move
    with pytest.raises(StaticpipeError, match="no longer there"):
        pipeline.run(config, log=lambda line: None)
    summary = pipeline.run(config, log=lambda line: None)
    assert "css/link.css" not in [*summary.unmodified, *summary.copied]
