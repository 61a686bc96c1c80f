"""JS module import/export rewriting (``js_modules = true``), in linear time.

Django's ``support_js_module_import_aggregation`` adds four regexes, applied
one after another (each ``.sub`` sees the previous one's output)::

    A  import(?s:(?P<import>[\\s\\{].*?|\\*\\s*as\\s*\\w+))\\s*from\\s*['"](?P<url>[./].*?)["']\\s*;
    B  export(?s:(?P<exports>[\\s\\{].*?))\\s*from\\s*["'](?P<url>[./].*?)["']\\s*;
    C  import\\s*['"](?P<url>[./].*?)["']\\s*;
    D  import\\(["'](?P<url>.*?)["']\\)

all with ``re.IGNORECASE``. A and B are quadratic (or worse) on a one-line
minified bundle: every ``import`` word lazily scans, DOTALL, to the end of the
text looking for a ``from "./x";`` tail, and every candidate tail scans the
rest of the line for a closing quote followed by ``;``.

The matchers below find exactly the matches those regexes find (same spans,
same groups, in the same order, with the same non-overlapping left-to-right
semantics of ``re.sub``), but compute the answers from a few sorted position
lists built in one pass over the text, so each keyword costs a binary search:

* The tail ``\\s*from\\s*['"][./]<url>["']\\s*;`` of A/B, tried at the end ``e``
  of the lazy group, only depends on the first non-space position ``f >= e``
  (``\\s*`` is greedy and ``from`` does not start with a space). Whether it
  succeeds at ``f`` ("a good ``from``") does not depend on the keyword. So the
  lazy group ends at the first good ``from`` at or after ``p + 7`` (``p`` the
  keyword's start), pulled back over the whitespace before it.
* ``<url>`` is ``[./].*?`` without DOTALL, followed by ``["']\\s*;``: the url
  ends at the first quote at or after its second character that is followed
  by optional whitespace and ``;`` ("a closer"), provided no newline comes
  first (``.`` stops at a newline, and then the whole tail fails).
* The ``\\*\\s*as\\s*\\w+`` branch of A: the greedy ``\\w+`` can only give back
  characters to end where a ``from`` begins, so two ends are tried, longest
  first.

Keywords, ``from``, ``as``, whitespace and word characters are matched with
small anchored regexes, so case folding (``İ``, ``ſ``) and Unicode ``\\s``/``\\w``
are Python's own, as in Django.

Where Django is wrong, two deliberate differences:

* Django's A can swallow an ``export ... from "./x.js";`` statement (an
  ``import`` word before it, e.g. ``import "./p.js";``, lazily extends to the
  first ``from`` tail, which is the export's) and rewrite its URL; B then
  matches that export again and hashes the already hashed URL:
  ``./x.<hash>.<hash>.js``, a file that does not exist, or a ValueError when
  the hashed file is not on disk yet (it depends on the processing order). The
  same happens the other way round (an ``export`` before an ``import ... from``
  statement). Here each tail is rewritten once: B skips a match that ends where
  one of A's replacements ends (A hands those offsets to B with its output).
* D (dynamic ``import("...")``) matches any quoted
string in Django, so a bare specifier (``import("react")``, resolved by an
import map, never a file) makes Django look for ``<dir>/react`` and fail. Here
the converter is only called when the specifier starts with ``.`` or ``/``
(the rule Django itself uses for A-C); any other match is left exactly as
written and is not a reference.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Callable, Iterator

from .patterns import JS_MODULE, Pattern

_FLAGS = re.IGNORECASE
_WS = re.compile(r"\s*")
_FROM = re.compile(r"""from\s*['"][./]""", _FLAGS)
_CLOSER = re.compile(r"""['"]\s*;""")
_CALL_CLOSER = re.compile(r"""['"]\)""")
_NEWLINE = re.compile(r"\n")
_STAR = re.compile(r"""\*\s*as\s*(\w+)""", _FLAGS)
_SIDE_EFFECT = re.compile(r"""import\s*['"][./]""", _FLAGS)


class ModuleMatch:
    """The part of ``re.Match`` that ``references.rewrite`` uses."""

    __slots__ = ("string", "_start", "_end", "_groups")

    def __init__(self, string: str, start: int, end: int, groups: dict[str, str]):
        self.string = string
        self._start = start
        self._end = end
        self._groups = groups

    def groupdict(self) -> dict[str, str]:
        return dict(self._groups)

    def group(self, name: int | str = 0) -> str:
        if name == 0:
            return self.string[self._start : self._end]
        return self._groups[name]  # type: ignore[index]

    def __getitem__(self, name: int | str) -> str:
        return self.group(name)

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._end

    def span(self) -> tuple[int, int]:
        return self._start, self._end

    def __repr__(self) -> str:
        return f"<ModuleMatch span={self.span()} groups={self._groups!r}>"


class _Positions:
    """Sorted positions of ``regex`` matches in ``text``: starts and ends."""

    def __init__(self, regex: re.Pattern[str], text: str):
        self.starts: list[int] = []
        self.ends: list[int] = []
        for match in regex.finditer(text):
            self.starts.append(match.start())
            self.ends.append(match.end())

    def first_at_or_after(self, position: int) -> int:
        """Index of the first match starting at or after ``position`` (may be len)."""
        return bisect.bisect_left(self.starts, position)


class _Lines:
    def __init__(self, text: str):
        self.newlines = [match.start() for match in _NEWLINE.finditer(text)]

    def clear(self, start: int, end: int) -> bool:
        """No newline in ``text[start:end]``."""
        index = bisect.bisect_left(self.newlines, start)
        return index == len(self.newlines) or self.newlines[index] >= end


def _lazy_url(
    closers: _Positions, lines: _Lines, url_start: int, first_end: int
) -> tuple[int, int] | None:
    """``(?P<url>.*?)`` then a closer, from ``url_start``: (url end, match end)."""
    index = closers.first_at_or_after(first_end)
    if index == len(closers.starts):
        return None
    url_end = closers.starts[index]
    if not lines.clear(url_start, url_end):
        return None
    return url_end, closers.ends[index]


class _Tails:
    """The good ``from``s of a text: ``f -> (url start, url end, match end)``."""

    def __init__(self, text: str):
        closers = _Positions(_CLOSER, text)
        lines = _Lines(text)
        self.starts: list[int] = []
        self.found: dict[int, tuple[int, int, int]] = {}
        for candidate in re.finditer("from", text, _FLAGS):
            head = _FROM.match(text, candidate.start())
            if head is None:
                continue
            url_start = head.end() - 1
            url = _lazy_url(closers, lines, url_start, url_start + 1)
            if url is not None:
                self.starts.append(candidate.start())
                self.found[candidate.start()] = (url_start, *url)

    def first_at_or_after(self, position: int) -> int | None:
        index = bisect.bisect_left(self.starts, position)
        return self.starts[index] if index < len(self.starts) else None


class _Handoff(threading.local):
    """What A rewrote, for B: A's output text and where its replacements end."""

    text: str | None = None
    ends: frozenset[int] = frozenset()


_HANDOFF = _Handoff()


class _Matcher:
    """A compiled-pattern stand-in: ``sub`` and ``finditer`` as ``re.Pattern``'s."""

    keyword = "import"

    def __init__(self) -> None:
        self._keyword = re.compile(self.keyword, _FLAGS)

    def finditer(self, text: str) -> Iterator[ModuleMatch]:
        keywords = [match.start() for match in self._keyword.finditer(text)]
        if not keywords:
            return
        prepared = self.prepare(text)
        position = 0
        for start in keywords:
            if start < position:
                continue
            match = self.match_at(text, start, prepared)
            if match is not None:
                yield match
                position = match.end()

    def sub(self, repl: Callable[[ModuleMatch], str], text: str) -> str:
        """``re.Pattern.sub`` with a callable: each match replaced by ``repl(match)``."""
        return self.substitute(repl, text)[0]

    def substitute(self, repl: Callable[[ModuleMatch], str], text: str) -> tuple[str, list[int]]:
        """The new text, and the offsets in it where each replacement ends."""
        parts = []
        ends = []
        length = position = 0
        for match in self.finditer(text):
            for part in (text[position : match.start()], self.replace(repl, match)):
                parts.append(part)
                length += len(part)
            ends.append(length)
            position = match.end()
        if not parts:
            return text, ends
        parts.append(text[position:])
        return "".join(parts), ends

    def replace(self, repl: Callable[[ModuleMatch], str], match: ModuleMatch) -> str:
        return repl(match)

    def prepare(self, text: str) -> object:
        raise NotImplementedError

    def match_at(self, text: str, start: int, prepared: object) -> ModuleMatch | None:
        raise NotImplementedError


class FromMatcher(_Matcher):
    """A (``import ... from``) and B (``export ... from``)."""

    def __init__(self, keyword: str, group: str, star: bool):
        self.keyword = keyword
        self.group = group
        self.star = star
        super().__init__()

    def sub(self, repl: Callable[[ModuleMatch], str], text: str) -> str:
        if self.keyword == "export":  # B: skip the tails A has just rewritten
            handled = _HANDOFF.ends if _HANDOFF.text is text else frozenset()
            _HANDOFF.text, _HANDOFF.ends = None, frozenset()

            def once(match: ModuleMatch) -> str:
                return match.group("matched") if match.end() in handled else repl(match)

            return self.substitute(once, text)[0]
        output, ends = self.substitute(repl, text)
        _HANDOFF.text, _HANDOFF.ends = output, frozenset(ends)
        return output

    def prepare(self, text: str) -> _Tails:
        return _Tails(text)

    def match_at(self, text: str, start: int, tails: object) -> ModuleMatch | None:
        assert isinstance(tails, _Tails)
        after = start + len(self.keyword)
        if after >= len(text):
            return None
        char = text[after]
        if char == "{" or char.isspace():  # [\s\{].*?
            good = tails.first_at_or_after(after + 1)
            if good is None:
                return None
            end = good
            while end > after + 1 and text[end - 1].isspace():
                end -= 1
            return self.build(text, start, end, good, tails)
        if char == "*" and self.star:  # \*\s*as\s*\w+, \w+ greedy
            head = _STAR.match(text, after)
            if head is None:
                return None
            word_start, word_end = head.span(1)
            good = _WS.match(text, word_end).end()
            if good in tails.found:
                return self.build(text, start, word_end, good, tails)
            good = word_end - 4
            if good > word_start and good in tails.found:
                return self.build(text, start, good, good, tails)
        return None

    def build(self, text: str, start: int, end: int, good: int, tails: _Tails) -> ModuleMatch:
        url_start, url_end, match_end = tails.found[good]
        return ModuleMatch(
            text,
            start,
            match_end,
            {
                "matched": text[start:match_end],
                self.group: text[start + len(self.keyword) : end],
                "url": text[url_start:url_end],
            },
        )


class SideEffectMatcher(_Matcher):
    """C: ``import "./x.js";``."""

    def prepare(self, text: str) -> tuple[_Positions, _Lines]:
        return _Positions(_CLOSER, text), _Lines(text)

    def match_at(self, text: str, start: int, prepared: object) -> ModuleMatch | None:
        closers, lines = prepared  # type: ignore[misc]
        head = _SIDE_EFFECT.match(text, start)
        if head is None:
            return None
        url_start = head.end() - 1
        return _url_match(text, start, closers, lines, url_start, url_start + 1)


def _url_match(
    text: str, start: int, closers: _Positions, lines: _Lines, url_start: int, first_end: int
) -> ModuleMatch | None:
    """The match from ``start`` whose URL begins at ``url_start`` (B and D)."""
    url = _lazy_url(closers, lines, url_start, first_end)
    if url is None:
        return None
    url_end, match_end = url
    return ModuleMatch(
        text, start, match_end, {"matched": text[start:match_end], "url": text[url_start:url_end]}
    )


class DynamicMatcher(_Matcher):
    """D: ``import("./x.js")``; bare specifiers are matched but left alone."""

    def prepare(self, text: str) -> tuple[_Positions, _Lines]:
        return _Positions(_CALL_CLOSER, text), _Lines(text)

    def match_at(self, text: str, start: int, prepared: object) -> ModuleMatch | None:
        closers, lines = prepared  # type: ignore[misc]
        url_start = start + 8
        if text[start + 6 : start + 7] != "(" or text[start + 7 : url_start] not in ("'", '"'):
            return None
        return _url_match(text, start, closers, lines, url_start, url_start)

    def replace(self, repl: Callable[[ModuleMatch], str], match: ModuleMatch) -> str:
        if not match.group("url").startswith((".", "/")):
            return match.group("matched")  # a bare specifier ("react"): not a file
        return repl(match)


JS_MODULE_PATTERNS = (
    Pattern(
        FromMatcher("import", "import", star=True),  # type: ignore[arg-type]
        """import%(import)s from "%(url)s";""",
        JS_MODULE,
    ),
    Pattern(
        FromMatcher("export", "exports", star=False),  # type: ignore[arg-type]
        """export%(exports)s from "%(url)s";""",
        JS_MODULE,
    ),
    Pattern(SideEffectMatcher(), """import"%(url)s";""", JS_MODULE),  # type: ignore[arg-type]
    Pattern(DynamicMatcher(), """import("%(url)s")""", JS_MODULE),  # type: ignore[arg-type]
)

# Django's regexes, verbatim: the reference the matchers above are tested against.
DJANGO_REGEXES = tuple(
    re.compile(regex, _FLAGS)
    for regex in (
        r"""(?P<matched>import(?s:(?P<import>[\s\{].*?|\*\s*as\s*\w+))"""
        r"""\s*from\s*['"](?P<url>[./].*?)["']\s*;)""",
        r"""(?P<matched>export(?s:(?P<exports>[\s\{].*?))"""
        r"""\s*from\s*["'](?P<url>[./].*?)["']\s*;)""",
        r"""(?P<matched>import\s*['"](?P<url>[./].*?)["']\s*;)""",
        r"""(?P<matched>import\(["'](?P<url>.*?)["']\))""",
    )
)
