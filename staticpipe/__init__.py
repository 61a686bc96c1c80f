"""staticpipe: Django's staticfiles pipeline as incremental doit tasks.

At run time, ``staticpipe.static_url("css/base.css")`` gives a file's hashed URL
from ``staticfiles.json`` (see ``staticpipe.runtime`` and docs/RUNTIME.md).
"""

from __future__ import annotations

from .runtime import StaticURLs, static_url

__all__ = ["StaticURLs", "static_url"]
