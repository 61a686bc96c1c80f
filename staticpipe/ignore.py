"""Gitignore-style ignore patterns (pathspec), matched against paths relative to a location."""

from __future__ import annotations

from collections.abc import Iterable

import pathspec


class IgnoreRules:
    """``CVS``, ``.*``, ``*~`` and user patterns, with gitignore semantics."""

    def __init__(self, patterns: Iterable[str]):
        self.patterns = tuple(patterns)
        self._spec = pathspec.GitIgnoreSpec.from_lines(self.patterns)

    def ignores_file(self, relpath: str) -> bool:
        return self._spec.match_file(relpath)

    def ignores_dir(self, relpath: str) -> bool:
        return self._spec.match_file(relpath + "/")
