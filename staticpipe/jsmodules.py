"""JS module import/export rewriting (``js_modules = true``).

Django's ``support_js_module_import_aggregation`` patterns, in Django's order.
"""

from __future__ import annotations

from .references import JS_MODULE, _p

JS_MODULE_PATTERNS = (
    _p(
        r"""(?P<matched>import(?s:(?P<import>[\s\{].*?|\*\s*as\s*\w+))"""
        r"""\s*from\s*['"](?P<url>[./].*?)["']\s*;)""",
        """import%(import)s from "%(url)s";""",
        JS_MODULE,
    ),
    _p(
        r"""(?P<matched>export(?s:(?P<exports>[\s\{].*?))"""
        r"""\s*from\s*["'](?P<url>[./].*?)["']\s*;)""",
        """export%(exports)s from "%(url)s";""",
        JS_MODULE,
    ),
    _p(
        r"""(?P<matched>import\s*['"](?P<url>[./].*?)["']\s*;)""",
        """import"%(url)s";""",
        JS_MODULE,
    ),
    _p(r"""(?P<matched>import\(["'](?P<url>.*?)["']\))""", """import("%(url)s")""", JS_MODULE),
)
