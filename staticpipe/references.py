"""Which URLs a CSS/JS file references, and how each is written back hashed.

The patterns, their order and the way a matched URL is turned into the hashed
URL are Django's (``HashedFilesMixin.patterns`` and ``url_converter``), so the
output is byte-identical to ManifestStaticFilesStorage wherever Django succeeds.
"""

from __future__ import annotations

import bisect
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, unquote, urldefrag, urljoin, urlsplit, urlunsplit

URL, IMPORT, SOURCEMAP, JS_MODULE = "url", "import", "sourcemap", "js-module"


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern[str]
    template: str
    kind: str


def _p(regex: str, template: str, kind: str) -> Pattern:
    return Pattern(re.compile(regex, re.IGNORECASE), template, kind)


CSS_PATTERNS = (
    _p(r"""(?P<matched>url\(['"]{0,1}\s*(?P<url>.*?)["']{0,1}\))""", 'url("%(url)s")', URL),
    _p(
        r"""(?P<matched>@import\s*["']\s*(?P<url>.*?)["'])""",
        '@import url("%(url)s")',
        IMPORT,
    ),
    _p(
        r"(?m)^(?P<matched>/\*#[ \t](?-i:sourceMappingURL)=(?P<url>.*)[ \t]*\*/)$",
        "/*# sourceMappingURL=%(url)s */",
        SOURCEMAP,
    ),
)
JS_PATTERNS = (
    _p(
        r"(?m)^(?P<matched>//# (?-i:sourceMappingURL)=(?P<url>.*))$",
        "//# sourceMappingURL=%(url)s",
        SOURCEMAP,
    ),
)


def adjustable(name: str) -> bool:
    """Files whose references are rewritten (Django: ``*.css`` and ``*.js``)."""
    return name.endswith((".css", ".js"))


def patterns_for(name: str, js_modules: bool = False) -> tuple[Pattern, ...]:
    if name.endswith(".css"):
        return CSS_PATTERNS
    if name.endswith(".js"):
        if js_modules:
            from .jsmodules import JS_MODULE_PATTERNS

            return JS_PATTERNS + JS_MODULE_PATTERNS
        return JS_PATTERNS
    return ()


@dataclass(frozen=True)
class Target:
    """A URL that points at a static file: ``key`` is the file's manifest name."""

    key: str
    url: str  # the URL as written
    url_path: str  # without its fragment
    fragment: str
    lookup_name: str  # the normalised name Django hashes (may carry a ?query)
    name: str = ""  # the unquoted target name Django's _url() receives
    directory: bool = False  # ends with "/": written back unhashed, never resolved


_SCHEME = re.compile(r"^[a-z]+:")


def parse_target(source: str, url: str, static_url: str) -> Target | None:
    """The file ``url`` (written in ``source``) points at, or None if it is left alone."""
    if _SCHEME.match(url) or url.startswith("//"):
        return None
    if url.startswith("/") and not url.startswith(static_url):
        return None
    url_path, fragment = urldefrag(url)
    if not url_path:
        return None
    if url_path.startswith("/"):
        target_name = url_path.removeprefix(static_url)
    else:
        target_name = posixpath.join(posixpath.dirname(source), url_path)
    name = unquote(target_name)
    clean, _ = urldefrag(name)
    if urlsplit(clean).path.endswith("/"):
        # Django does not hash directory URLs but still writes them back through
        # its template (``url(fonts/)`` becomes ``url("fonts/")``).
        return Target(clean, url, url_path, fragment, clean, name, directory=True)
    lookup_name = posixpath.normpath(clean)
    key = urlsplit(unquote(lookup_name)).path.strip()
    return Target(key, url, url_path, fragment, lookup_name, name)


def _storage_url(static_url: str, name: str) -> str:
    """FileSystemStorage.url(): ``filepath_to_uri`` joined to the base URL."""
    return urljoin(static_url, quote(name, safe="/~!*()'").lstrip("/"))


def _stored_name(target: Target, hashed_key: str) -> str:
    """What Django's ``_stored_name`` returns for ``target`` stored as ``hashed_key``."""
    if target.directory:
        return target.name
    if target.lookup_name in (target.key, hashed_key):
        return hashed_key  # the hashed name, or a directory's name as Django leaves it
    # Django's hashed_name(): keep the query, and the "?#" (iefix) mark
    parsed = list(urlsplit(unquote(target.lookup_name)))
    parsed[2] = hashed_key
    stored = urlunsplit(parsed)
    if "?#" in target.lookup_name and not parsed[3]:
        stored += "?"
    return stored


def _django_url(name: str, stored: str, static_url: str) -> str:
    """Django's ``HashedFilesMixin._url()`` for ``name`` once it is stored as ``stored``."""
    _, fragment = urldefrag(name)
    final_url = _storage_url(static_url, stored)
    query_fragment = "?#" in name
    if fragment or query_fragment:
        parts = list(urlsplit(final_url))
        if fragment and not parts[4]:
            parts[4] = fragment
        if query_fragment and not parts[3]:
            parts[2] += "?"
        final_url = urlunsplit(parts)
    return unquote(final_url)


def hashed_url(target: Target, hashed_key: str, static_url: str) -> str:
    """The URL written back for ``target`` when its file is named ``hashed_key``.

    Django's ``url_converter``: the last path segment of the stored URL replaces
    the last segment of the URL as written; the fragment is restored.
    """
    final = _django_url(target.name, _stored_name(target, hashed_key), static_url)
    transformed = "/".join(target.url_path.split("/")[:-1] + final.split("/")[-1:])
    if target.fragment:
        transformed += ("?#" if "?#" in target.url else "#") + target.fragment
    return unquote(transformed)


def comment_spans(text: str) -> list[tuple[int, int]]:
    """``/* ... */`` comment spans of CSS text, strings skipped."""
    spans = []
    for match in _CSS_COMMENT_OR_STRING.finditer(text):
        if match.group(1) is not None:
            spans.append(match.span(1))
    return spans


_CSS_COMMENT_OR_STRING = re.compile(
    r""""(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|(/\*.*?(?:\*/|\Z))""", re.DOTALL
)


def in_spans(position: int, spans: list[tuple[int, int]], starts: list[int]) -> bool:
    index = bisect.bisect_right(starts, position) - 1
    return index >= 0 and spans[index][0] <= position < spans[index][1]


@dataclass(frozen=True)
class Occurrence:
    """One matched reference, for error messages and the missing-file policy."""

    source: str
    line: int
    url: str
    kind: str
    in_comment: bool


Resolver = Callable[[Target, Occurrence], "str | None"]


def rewrite(
    text: str, source: str, patterns: tuple[Pattern, ...], static_url: str, resolve: Resolver
) -> str:
    """Apply each pattern in turn (Django's order) and write back the hashed URLs.

    ``resolve`` returns the hashed name of the target's file, or None to leave the
    reference exactly as written (a missing file that the policy tolerates).
    """
    is_css = source.endswith(".css")
    for pattern in patterns:
        spans = comment_spans(text) if is_css else []
        starts = [start for start, _ in spans]

        def convert(
            match: re.Match[str],
            text: str = text,
            pattern: Pattern = pattern,
            spans: list[tuple[int, int]] = spans,
            starts: list[int] = starts,
        ) -> str:
            groups = match.groupdict()
            target = parse_target(source, groups["url"], static_url)
            if target is None:
                return groups["matched"]
            if target.directory:
                groups["url"] = hashed_url(target, target.key, static_url)
                return pattern.template % groups
            occurrence = Occurrence(
                source,
                text.count("\n", 0, match.start()) + 1,
                groups["url"],
                pattern.kind,
                bool(spans) and in_spans(match.start(), spans, starts),
            )
            hashed = resolve(target, occurrence)
            if hashed is None:
                return groups["matched"]
            groups["url"] = hashed_url(target, hashed, static_url)
            return pattern.template % groups

        text = pattern.regex.sub(convert, text)
    return text


def references(
    text: str, source: str, patterns: tuple[Pattern, ...], static_url: str
) -> list[tuple[Target, Occurrence]]:
    """Every reference in ``text`` (the same matches ``rewrite`` will see)."""
    found: list[tuple[Target, Occurrence]] = []

    def record(target: Target, occurrence: Occurrence) -> str:
        found.append((target, occurrence))
        return target.key

    rewrite(text, source, patterns, static_url, record)
    return found
