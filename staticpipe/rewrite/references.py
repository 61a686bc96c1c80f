"""Which URLs a CSS/JS file references, and how each is written back hashed.

The patterns, their order and the way a matched URL is turned into the hashed
URL are Django's (``HashedFilesMixin.patterns`` and ``url_converter``), so the
output is byte-identical to ManifestStaticFilesStorage wherever Django succeeds.

CSS is also tokenized (a small hand-written tokenizer for comments, strings,
``url()`` and ``@import``, see ``scan_css``). Where CSS and Django's regex read
a reference as different files (``url( 'x.png' )``, ``url(a\\ b.png)``,
``@import "it's.css"``), Django looks up a file that does not exist and fails;
there the URL CSS sees is rewritten and every other byte is kept.
"""

from __future__ import annotations

import bisect
import functools
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, unquote, urldefrag, urljoin, urlsplit, urlunsplit

from .patterns import CSS_PATTERNS, IMPORT, JS_PATTERNS, URL, Pattern


def patterns_for(name: str, js_modules: bool = False) -> tuple[Pattern, ...]:
    if name.endswith(".css"):
        return CSS_PATTERNS
    if name.endswith(".js"):
        if js_modules:  # (imported here: most projects never compile its regexes)
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
    return _parse_target(posixpath.dirname(source), url, static_url)


@functools.lru_cache(maxsize=8192)  # stylesheets repeat URLs: icon fonts, sprites
def _parse_target(directory: str, url: str, static_url: str) -> Target | None:
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
        target_name = posixpath.join(directory, url_path)
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


def django_url(name: str, stored: str, static_url: str) -> str:
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


@functools.lru_cache(maxsize=8192)
def hashed_url(target: Target, hashed_key: str, static_url: str) -> str:
    """The URL written back for ``target`` when its file is named ``hashed_key``.

    Django's ``url_converter``: the last path segment of the stored URL replaces
    the last segment of the URL as written; the fragment is restored.
    """
    final = django_url(target.name, _stored_name(target, hashed_key), static_url)
    transformed = "/".join(target.url_path.split("/")[:-1] + final.split("/")[-1:])
    if target.fragment:
        transformed += ("?#" if "?#" in target.url else "#") + target.fragment
    return unquote(transformed)


# -- CSS syntax ------------------------------------------------------------------
# A small hand-written tokenizer for the parts of CSS Syntax Level 3 that decide
# what a reference is: comments, strings, ``url(`` (a url token, or a function
# whose argument is a string) and ``@import <string>``, with CSS escapes. It
# only runs on CSS and only tells ``rewrite`` where a real reference starts,
# what its URL is once unescaped, and which bytes hold it.

_CSS_WS = " \t\n\r\f"
_HEX = frozenset("0123456789abcdefABCDEF")
# Everything a CSS scan passes over, in one match: text that cannot start a
# token, closed strings (escapes and all, matched possessively), a "/" not
# opening a comment, a "u" not opening url(, an "@" not opening @import. It
# stops where scan_css has work: a comment, an unclosed string, an escape, a
# url( or an @import (whether those two are keywords, not preceded by a name
# character: ASCII letters and digits, _ - \\ @ #, anything non-ASCII; @import
# not followed by one, though # and @ may follow, is checked there). Thousands
# of strings (icon fonts' ``content: "\\f000"``) cost no Python step each.
_ESCAPE = r"\\(?:[0-9a-fA-F]{1,6}(?:\r\n|[ \t\n\r\f])?|\r\n|[\s\S])"
_CSS_SKIP = re.compile(
    rf"""(?:[^"'/\\@uU]++|"(?:[^"\\\n\r\f]++|{_ESCAPE})*+"|'(?:[^'\\\n\r\f]++|{_ESCAPE})*+'"""
    r"""|/(?!\*)|[uU](?!(?i:rl)\()|@(?!(?i:import)))*+"""
)
# Name characters as complements of ASCII sets (a class reaching U+10FFFF takes
# ms to compile, on every run that rewrites CSS).
_NAME_BEFORE = re.compile(r"[^\x00-\x22\x24-\x2c./:-?\[\]^`{-\x7f]")  # not # - @
_NAME_AFTER = re.compile(r"[^\x00-\x2c./:-@\[\]^`{-\x7f]")  # not - (# and @ may follow)
_STRING_CHUNK = {q: re.compile(rf"[^{q}\\\n\r\f]+") for q in "\"'"}
# A string token's body, for finding its end only (its value is not needed):
# plain runs, escaped newlines, and escapes (hex ones take one blank after them).
_STRING_BODY = {q: re.compile(rf"(?:[^{q}\\\n\r\f]+|{_ESCAPE}|\\)*") for q in "\"'"}
_URL_CHUNK = re.compile(r"""[^) \t\n\r\f"'(\\\x00-\x08\x0b\x0e-\x1f\x7f]+""")
_BAD_URL_REST = re.compile(r"(?:[^)\\]|\\.)*\)?", re.DOTALL)


@dataclass(frozen=True)
class CssRef:
    """A reference as CSS parses it: ``url(...)`` or ``@import "..."``."""

    kind: str  # URL or IMPORT
    start: int  # the "u" of url( or the "@" of @import
    end: int  # after the ")" or the closing quote
    value_start: int  # the URL's raw bytes: text[value_start:value_end]
    value_end: int
    value: str  # unescaped, as a browser reads it (blanks around it stripped)
    quote: str  # '"', "'" or "" (an unquoted url token)


@dataclass
class CssScan:
    comments: list[tuple[int, int]]
    refs: dict[int, CssRef]

    def __post_init__(self) -> None:
        self.comment_starts = [start for start, _ in self.comments]

    def in_comment(self, position: int) -> bool:
        return in_spans(position, self.comments, self.comment_starts)


def _escape(text: str, i: int) -> tuple[str, int]:
    """The escape starting with the backslash at ``i``: (character, end)."""
    j = i + 1
    if j >= len(text):
        return "\ufffd", j
    if text[j] in _HEX:
        k = j
        while k < len(text) and k - j < 6 and text[k] in _HEX:
            k += 1
        code = int(text[j:k], 16)
        if code == 0 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
            code = 0xFFFD
        if text.startswith("\r\n", k):
            k += 2
        elif k < len(text) and text[k] in _CSS_WS:
            k += 1
        return chr(code), k
    return text[j], j + 1


def _string(text: str, start: int) -> tuple[int, str, bool]:
    """The string token at ``start`` (a quote): (end, value, well-formed)."""
    quote = text[start]
    chunk = _STRING_CHUNK[quote]
    value: list[str] = []
    i = start + 1
    while i < len(text):
        match = chunk.match(text, i)
        if match:
            value.append(match.group())
            i = match.end()
            continue
        char = text[i]
        if char == quote:
            return i + 1, "".join(value), True
        if char != "\\":
            return i, "".join(value), False  # a newline: a bad string
        if i + 1 < len(text) and text[i + 1] in "\n\r\f":  # an escaped newline
            i += 3 if text.startswith("\r\n", i + 1) else 2
            continue
        decoded, i = _escape(text, i)
        value.append(decoded)
    return i, "".join(value), False  # unterminated


def _string_end(text: str, start: int) -> int:
    """Where the string token at ``start`` ends (``_string(text, start)[0]``)."""
    i = _STRING_BODY[text[start]].match(text, start + 1).end()
    return i + 1 if i < len(text) and text[i] == text[start] else i


def _skip_blanks(text: str, i: int, comments: bool = False) -> int:
    while i < len(text):
        if text[i] in _CSS_WS:
            i += 1
        elif comments and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = len(text) if end < 0 else end + 2
        else:
            break
    return i


def _url(text: str, start: int) -> tuple[CssRef | None, int]:
    """``url(`` at ``start``: the reference (None if malformed) and where it ends."""
    i = _skip_blanks(text, start + 4)
    if i < len(text) and text[i] in "\"'":  # url( <string> ): a function
        end, value, ok = _string(text, i)
        if not ok:
            return None, end
        close = _skip_blanks(text, end, comments=True)
        if not text.startswith(")", close):
            return None, end  # modifiers or garbage: not a plain url()
        ref = CssRef(URL, start, close + 1, i + 1, end - 1, value.strip(_CSS_WS), text[i])
        return ref, close + 1
    value: list[str] = []
    value_start = value_end = i
    while i < len(text):
        match = _URL_CHUNK.match(text, i)
        if match:
            value.append(match.group())
            i = value_end = match.end()
            continue
        char = text[i]
        if char == ")":
            return CssRef(URL, start, i + 1, value_start, value_end, "".join(value), ""), i + 1
        if char in _CSS_WS:
            i = _skip_blanks(text, i)
            if text.startswith(")", i):
                continue
        elif char == "\\" and i + 1 < len(text) and text[i + 1] not in "\n\r\f":
            decoded, i = _escape(text, i)
            value.append(decoded)
            value_end = i
            continue
        break
    # a bad url (or unterminated): consume up to the ")" as CSS does
    return None, _BAD_URL_REST.match(text, i).end()


def scan_css(text: str) -> CssScan:
    """Comments and the real ``url()``/``@import`` references of a CSS text."""
    comments: list[tuple[int, int]] = []
    refs: dict[int, CssRef] = {}
    i, length = 0, len(text)
    while (start := _CSS_SKIP.match(text, i).end()) < length:
        first = text[start]
        if first == "/":  # /*
            end = text.find("*/", start + 2)
            i = length if end < 0 else end + 2
            comments.append((start, i))
        elif first in "'\"":  # a string not closed on its line
            i = _string_end(text, start)
        elif first == "\\":
            i = start + 2
        elif start and _NAME_BEFORE.match(text, start - 1):
            i = start + 1  # part of a longer name: not a keyword
        elif first in "uU":
            ref, i = _url(text, start)
            if ref is not None:
                refs[start] = ref
        elif _NAME_AFTER.match(text, start + 7):
            i = start + 1  # @imports, @important...: not the keyword
        else:  # @import
            i = _skip_blanks(text, start + 7)
            if i < len(text) and text[i] in "\"'":
                end, value, ok = _string(text, i)
                if ok:
                    refs[start] = CssRef(
                        IMPORT, start, end, i + 1, end - 1, value.strip(_CSS_WS), text[i]
                    )
                i = end
    return CssScan(comments, refs)


def comment_spans(text: str) -> list[tuple[int, int]]:
    """``/* ... */`` comment spans of CSS text (strings and url tokens skipped)."""
    return scan_css(text).comments


def in_spans(position: int, spans: list[tuple[int, int]], starts: list[int]) -> bool:
    index = bisect.bisect_right(starts, position) - 1
    return index >= 0 and spans[index][0] <= position < spans[index][1]


def serialize_url(url: str, quote: str) -> str:
    """``url`` escaped for a CSS string in ``quote``, or for an unquoted url token."""

    def hex_escape(match: re.Match[str]) -> str:
        return f"\\{ord(match.group()):x} "

    url = url.replace("\\", "\\\\")
    if quote:
        url = url.replace(quote, "\\" + quote)
        return re.sub(r"[\n\r\f]", hex_escape, url)
    url = re.sub(r"""(["'() ])""", r"\\\1", url)
    return re.sub(r"[\n\r\f\t\x00-\x08\x0b\x0e-\x1f\x7f]", hex_escape, url)


# -- rewriting ---------------------------------------------------------------------
@dataclass(frozen=True)
class Occurrence:
    """One matched reference, for error messages and the missing-file policy."""

    source: str
    line: int
    url: str
    kind: str
    in_comment: bool


Resolver = Callable[[Target, Occurrence], "str | None"]


class _Lines:
    """Line numbers of offsets in a text, counted on from the last offset asked
    (rewrites ask in increasing order), so no table of newlines is kept."""

    def __init__(self, text: str):
        self.text = text
        self.position = 0
        self.line = 1

    def __call__(self, position: int) -> int:
        if position < self.position:
            self.position, self.line = 0, 1
        self.line += self.text.count("\n", self.position, position)
        self.position = position
        return self.line


def _target_id(target: Target) -> str:
    """The file or directory a target names (``fonts/`` and ``fonts`` are one)."""
    return posixpath.normpath(urlsplit(target.key).path.strip())


class _Converter:
    """Django's ``url_converter`` for one pattern over one text."""

    def __init__(
        self,
        text: str,
        source: str,
        pattern: Pattern,
        static_url: str,
        resolve: Resolver,
        scan: CssScan | None,
        on_directory: Resolver | None = None,
    ):
        self.text = text
        self.source = source
        self.pattern = pattern
        self.static_url = static_url
        self.resolve = resolve
        self.scan = scan
        self.on_directory = on_directory
        self.line = _Lines(text)

    def new_url(self, target: Target, url: str, position: int, in_comment: bool) -> str | None:
        """The URL to write back for ``target``, or None to leave it as written."""
        occurrence = Occurrence(
            self.source, self.line(position), url, self.pattern.kind, in_comment
        )
        if target.directory:  # never looked up: written back unhashed, as Django does
            if self.on_directory is not None:
                self.on_directory(target, occurrence)
            return hashed_url(target, target.key, self.static_url)
        hashed = self.resolve(target, occurrence)
        if hashed is None:
            return None
        return hashed_url(target, hashed, self.static_url)

    def __call__(self, match: re.Match[str]) -> str:
        """Django's converter: the match, written back through the template."""
        groups = match.groupdict()
        target = parse_target(self.source, groups["url"], self.static_url)
        if target is None:
            return groups["matched"]
        in_comment = self.scan is not None and self.scan.in_comment(match.start())
        url = self.new_url(target, groups["url"], match.start(), in_comment)
        if url is None:
            return groups["matched"]
        groups["url"] = url
        return self.pattern.template % groups

    def css_ref(self, match: re.Match[str]) -> CssRef | None:
        """The reference CSS sees where Django's pattern matched, if CSS reads it
        differently: another file (or none) than the one Django would look up."""
        ref = self.scan.refs.get(match.start()) if self.scan else None
        if ref is None or ref.kind != self.pattern.kind:
            return None
        django = parse_target(self.source, match.group("url"), self.static_url)
        if django is None or django.directory:
            return None  # Django looks nothing up: it cannot fail, keep its output
        css = parse_target(self.source, ref.value, self.static_url)
        if css is not None and _target_id(css) == _target_id(django):
            return None
        return ref

    def rewrite_ref(self, ref: CssRef) -> str:
        """Only the URL of ``ref`` rewritten; every other byte kept."""
        original = self.text[ref.start : ref.end]
        target = parse_target(self.source, ref.value, self.static_url)
        url = target and self.new_url(target, ref.value, ref.start, False)
        if url is None:
            return original
        raw = self.text[ref.value_start : ref.value_end]
        lead = raw[: len(raw) - len(raw.lstrip(_CSS_WS))] if ref.quote else ""
        trail = raw[len(raw.rstrip(_CSS_WS)) :] if ref.quote else ""
        return (
            self.text[ref.start : ref.value_start]
            + lead
            + serialize_url(url, ref.quote)
            + trail
            + self.text[ref.value_end : ref.end]
        )

    def sub(self) -> str:
        """``pattern.regex.sub(self, text)``, except where CSS reads a reference
        differently from Django's pattern: there CSS wins (Django would fail)."""
        text, out, position = self.text, [], 0
        search = self.pattern.regex.search
        while (match := search(text, position)) is not None:
            ref = self.css_ref(match) if self.pattern.kind in (URL, IMPORT) else None
            if ref is None:
                out += [text[position : match.start()], self(match)]
                position = match.end()
            else:
                out += [text[position : ref.start], self.rewrite_ref(ref)]
                position = ref.end
        out.append(text[position:])
        return "".join(out)


def rewrite(
    text: str,
    source: str,
    patterns: tuple[Pattern, ...],
    static_url: str,
    resolve: Resolver,
    on_directory: Resolver | None = None,
) -> str:
    """Apply each pattern in turn (Django's order) and write back the hashed URLs.

    ``resolve`` returns the hashed name of the target's file, or None to leave the
    reference exactly as written (a missing file that the policy tolerates).
    Directory URLs (``url(fonts/)``) are not resolved; Django still writes them
    back through its template (``url("fonts/")``); ``on_directory`` sees them.

    CSS: Django's patterns decide what is rewritten and how, so the output is
    Django's wherever Django succeeds. Where CSS itself reads a ``url()`` or
    ``@import`` differently (blanks around a quoted URL, escapes, quotes of the
    other kind inside the URL), Django looks up a file that does not exist and
    fails; there the reference CSS sees is rewritten, only its URL replaced.
    """
    is_css = source.endswith(".css")
    for pattern in patterns:
        if pattern.needle is not None and pattern.needle not in text:
            continue
        if is_css and pattern.regex.search(text) is None:
            continue
        scan = scan_css(text) if is_css and pattern.kind in (URL, IMPORT) else None
        converter = _Converter(text, source, pattern, static_url, resolve, scan, on_directory)
        text = converter.sub() if is_css else pattern.regex.sub(converter, text)
    return text


def references(
    text: str, source: str, patterns: tuple[Pattern, ...], static_url: str
) -> list[tuple[Target, Occurrence]]:
    """Every reference in ``text`` (the same matches ``rewrite`` will see).

    Directory URLs are listed too (``target.directory``): they are never looked
    up, but ``rewrite`` changes their bytes, so a file with one is not unchanged.
    """
    found: list[tuple[Target, Occurrence]] = []

    def record(target: Target, occurrence: Occurrence) -> str:
        found.append((target, occurrence))
        return target.key

    rewrite(text, source, patterns, static_url, record, on_directory=record)
    return found
