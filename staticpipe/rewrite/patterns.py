"""Django's reference patterns (``HashedFilesMixin.patterns``; the JS module
ones of ``support_js_module_import_aggregation`` are in ``jsmodules.py``) and
the files they apply to. ``references.py`` finds and rewrites their matches."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .rules import JS_NEEDLE

URL, IMPORT, SOURCEMAP, JS_MODULE = "url", "import", "sourcemap", "js-module"


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern[str]
    template: str
    kind: str
    needle: str | None = None  # text every match contains: without it, no need to search


class _Lazy:
    """A regex compiled on first use: a run that rewrites no CSS/JS (a no-op
    re-run) does not pay for compiling Django's case-insensitive patterns."""

    __slots__ = ("_args", "_compiled")

    def __init__(self, pattern: str, flags: int = 0):
        self._args = (pattern, flags)
        self._compiled: re.Pattern[str] | None = None

    def __getattr__(self, name: str):
        if self._compiled is None:
            self._compiled = re.compile(*self._args)
        return getattr(self._compiled, name)


def _p(regex: str, template: str, kind: str, needle: str | None = None) -> Pattern:
    return Pattern(_Lazy(regex, re.IGNORECASE), template, kind, needle)  # type: ignore[arg-type]


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
        "sourceMappingURL",
    ),
)
JS_PATTERNS = (
    _p(
        r"(?m)^(?P<matched>//# (?-i:sourceMappingURL)=(?P<url>.*))$",
        "//# sourceMappingURL=%(url)s",
        SOURCEMAP,
        JS_NEEDLE,  # (?-i:...): case-sensitive; a C substring search, not a regex
    ),  # scan from every line start (most JS files have no sourcemap)
)


def adjustable(name: str) -> bool:
    """Files whose references are rewritten (Django: ``*.css`` and ``*.js``)."""
    return name.endswith((".css", ".js"))
