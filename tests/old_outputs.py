"""The rule every "incremental equals clean" test now checks.

Old versions are kept, as Django keeps them (see test_old_versions.py): after
incremental runs, static_root holds what a clean build of the same sources
holds, byte for byte (staticfiles.json, every file it names, the unhashed
copies), and besides that only outputs of earlier builds (old hashed names,
copies of removed sources), each known to the journal of retired outputs, so
that ``cleanup.prune`` and ``doit clean collect`` can remove them."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from conftest import tree_files

from staticpipe.config import Config, Retention
from staticpipe.phases import cleanup

MANIFEST = "staticfiles.json"
PRUNE_ALL = 'keep_builds = 1\nkeep_age = "0s"\n'  # a pyproject.toml policy: keep no old version


def kept_versions(root: Path, state_dir: Path) -> set[str]:
    """The retired outputs the journal in ``state_dir`` knows that are in ``root``,
    and the precompressed files beside them (pruned with them)."""
    config = Config(static_root=root, state_dir=state_dir)
    known = set(cleanup.retired(config)) | set(cleanup.pending(config))
    known |= {name + suffix for name in known for suffix in cleanup.SIBLINGS}  # (they go with it)
    return {name for name in known if os.path.lexists(root / name)}


def old_versions_problems(
    clean: Mapping[str, bytes | str], actual: Mapping[str, bytes | str], root: Path, state_dir: Path
) -> list[str]:
    """What keeps ``actual`` (the files of ``root``, built incrementally) from
    being ``clean`` (a clean build's files) plus journalled old versions: the
    same manifest, every file of the clean build with its bytes (or link), and
    every other file an old version the journal knows (none the manifest names)."""
    problems = []
    if MANIFEST in clean and actual.get(MANIFEST) != clean[MANIFEST]:
        if MANIFEST not in actual:
            return [f"no manifest in {root}"]
        got, want = json.loads(actual[MANIFEST]), json.loads(clean[MANIFEST])
        if list(got["paths"].items()) != list(want["paths"].items()):
            problems.append("manifest paths differ")
        problems.append("manifest bytes differ")
    problems += [f"missing: {name}" for name in sorted(set(clean) - set(actual))]
    problems += [
        f"bytes differ: {name}" for name in sorted(set(clean) & set(actual))
        if actual[name] != clean[name]
    ]  # fmt: skip
    extra, kept = set(actual) - set(clean), kept_versions(root, state_dir)
    problems += [f"extra, not journalled: {name}" for name in sorted(extra - kept)]
    problems += [f"journalled, yet current: {name}" for name in sorted(kept - extra)]
    return problems


def assert_plus_old_versions(
    clean: Mapping[str, bytes | str], actual: Mapping[str, bytes | str], root: Path, state_dir: Path
) -> None:
    """``old_versions_problems`` finds nothing."""
    problems = old_versions_problems(clean, actual, root, state_dir)
    assert not problems, "; ".join(problems[:10])


def assert_clean_build_plus_old_versions(clean_root: Path, root: Path, state_dir: Path) -> None:
    """``root`` (incremental) against ``clean_root`` (a clean build of the same
    sources and settings): see ``old_versions_problems``."""
    assert_plus_old_versions(tree_files(clean_root), tree_files(root), root, state_dir)


def prune_all(root: Path, state_dir: Path) -> list[str]:
    """``cleanup.prune`` keeping no earlier build, whatever its age: what is left
    is the current build alone."""
    config = Config(static_root=root, state_dir=state_dir, retention=Retention(builds=1, age=0))
    return cleanup.prune(config)
