"""staticpipe: Django's staticfiles pipeline as incremental doit tasks.

At run time, ``staticpipe.static_url("css/base.css")`` gives a file's hashed URL
from ``staticfiles.json``, and ``staticpipe.static_integrity("css/base.css")``
its subresource integrity value from ``staticfiles.integrity.json`` (see
``staticpipe.runtime`` and docs/RUNTIME.md).
"""

from __future__ import annotations

from typing import Any

__all__ = ["StaticURLs", "static_integrity", "static_url"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the build (doit collect) never needs the runtime.
    if name in __all__:
        from . import runtime

        return getattr(runtime, name)
    raise AttributeError(f"module 'staticpipe' has no attribute {name!r}")
