"""staticfiles storages whose ``manage.py collectstatic`` is staticpipe's pipeline.

Each is Django's own class (``{% static %}``, ``manifest_strict``,
``url()``, ``stored_name()``, everything that reads the storage works as with
Django's); what they add is a marker: with one of them as
``STORAGES["staticfiles"]`` and ``"staticpipe.django"`` in INSTALLED_APPS before
``django.contrib.staticfiles``, staticpipe's ``collectstatic`` command runs the
incremental pipeline instead of the storage's ``post_process``
(``management/commands/collectstatic.py``). Used by Django's own command (the
app missing or listed after staticfiles), they behave exactly as Django's.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from django.contrib.staticfiles import storage as django_storage

#: True while staticpipe's collectstatic runs: the build it is about to make
#: replaces a damaged staticfiles.json, so the storage need not refuse to start
collecting: ContextVar[bool] = ContextVar("collecting", default=False)


class StaticpipeStorage:
    """Marks a storage whose collectstatic runs staticpipe's pipeline."""

    def load_manifest(self) -> Any:
        """Django's, except that an unreadable manifest counts as none while
        collectstatic runs (Django's own storage cannot even start then)."""
        try:
            return super().load_manifest()  # type: ignore[misc]
        except ValueError:
            if not collecting.get():
                raise
            return {}, ""


class ManifestStaticFilesStorage(StaticpipeStorage, django_storage.ManifestStaticFilesStorage):
    """Django's ManifestStaticFilesStorage, built by staticpipe."""


class StaticFilesStorage(StaticpipeStorage, django_storage.StaticFilesStorage):
    """Django's StaticFilesStorage (no hashing), built by staticpipe."""
