"""Ignore patterns, matched against paths relative to a location: gitignore-style
ones (pyproject.toml's ``ignore`` and the defaults; pathspec), and Django's
glob-style ones (``collect --ignore``, as ``collectstatic --ignore``)."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable
from functools import cached_property


def _simple(pattern: str) -> bool:
    """A pattern that matches on one path component's name, wherever it is.

    Such patterns (``CVS``, ``.*``, ``*~``, ``*.scss``, ``node_modules/``) are
    most of them; they are matched with one compiled regex per name instead of
    pathspec's per-path matching. Anything else (slashes, ``**``, negation,
    escapes, comments) goes through pathspec.
    """
    body = pattern[:-1] if pattern.endswith("/") else pattern
    return (
        bool(body)
        and body.strip() == body
        and not body.startswith(("!", "#"))
        and not (set(body) & {"/", "\\"})
    )


def _union(patterns: list[str]) -> re.Pattern[str] | None:
    return re.compile("|".join(fnmatch.translate(p) for p in patterns)) if patterns else None


class DjangoGlobs:
    """Django's ``collectstatic --ignore`` patterns (``staticfiles.utils.get_files``):
    ``fnmatchcase`` on a file's name, then on its path relative to its location; a
    directory is skipped if its name matches. (``*`` crosses ``/`` here, as in
    fnmatch: ``*/file.txt`` matches ``a/b/file.txt``.) Patterns are normalised
    with ``os.path.normpath`` as collectstatic does."""

    def __init__(self, patterns: Iterable[str]):
        normal = sorted({os.path.normpath(pattern) for pattern in patterns})
        self._re = _union(normal)

    def ignores_entry(self, parent: str, name: str, is_dir: bool) -> bool:
        if self._re is None:
            return False
        if self._re.match(name):
            return True
        return not is_dir and bool(parent) and self._re.match(f"{parent}/{name}") is not None

    def ignores_path(self, relpath: str, is_dir: bool) -> bool:
        """``relpath`` or a directory above it is skipped by a walk."""
        parts = relpath.split("/")
        for index, part in enumerate(parts):
            parent = "/".join(parts[:index])
            last = index == len(parts) - 1
            if self.ignores_entry(parent, part, is_dir or not last):
                return True
        return False


class IgnoreRules:
    """``CVS``, ``.*``, ``*~`` and user patterns, with gitignore semantics, plus
    Django's glob-style ``globs`` (see DjangoGlobs)."""

    def __init__(self, patterns: Iterable[str], globs: Iterable[str] = ()):
        self.patterns = tuple(patterns)
        globs = tuple(globs)
        self._globs = DjangoGlobs(globs) if globs else None
        self._fast = all(_simple(p) for p in self.patterns)
        names = [p.rstrip("/") for p in self.patterns]
        self._dir_re = _union(names)
        self._file_re = _union([p for p in self.patterns if not p.endswith("/")])

    @cached_property
    def _spec(self):
        import pathspec  # only for patterns the name regexes can't do (costs 8 ms to import)

        return pathspec.GitIgnoreSpec.from_lines(self.patterns)

    def ignores_entry(self, parent: str, name: str, is_dir: bool) -> bool:
        """Whether ``parent/name`` is ignored, given that ``parent`` is not (a walk)."""
        if self._globs is not None and self._globs.ignores_entry(parent, name, is_dir):
            return True
        if not self._fast:
            path = f"{parent}/{name}" if parent else name
            return self.ignores_dir(path) if is_dir else self.ignores_file(path)
        return self.ignores_name(name, is_dir)

    def ignores_name(self, name: str, is_dir: bool) -> bool:
        regex = self._dir_re if is_dir else self._file_re
        return regex is not None and regex.match(name) is not None

    def _dirs_ignored(self, parts: list[str]) -> bool:
        return self._dir_re is not None and any(self._dir_re.match(part) for part in parts)

    def ignores_file(self, relpath: str) -> bool:
        if self._globs is not None and self._globs.ignores_path(relpath, is_dir=False):
            return True
        if not self._fast:
            return self._spec.match_file(relpath)
        parts = relpath.split("/")
        return self._dirs_ignored(parts[:-1]) or self.ignores_name(parts[-1], is_dir=False)

    def ignores_dir(self, relpath: str) -> bool:
        if self._globs is not None and self._globs.ignores_path(relpath, is_dir=True):
            return True
        if not self._fast:
            return self._spec.match_file(relpath + "/")
        return self._dirs_ignored(relpath.split("/"))
