"""staticfiles storages whose ``manage.py collectstatic`` is staticpipe's pipeline.

Each is Django's own class, unchanged (``{% static %}``, ``manifest_strict``,
``url()``, ``stored_name()``, everything that reads the storage works as with
Django's); what they add is a marker: with one of them as
``STORAGES["staticfiles"]`` and ``"staticpipe.django"`` in INSTALLED_APPS before
``django.contrib.staticfiles``, staticpipe's ``collectstatic`` command runs the
incremental pipeline instead of the storage's ``post_process``
(``management/commands/collectstatic.py``). Used by Django's own command (the
app missing or listed after staticfiles), they behave exactly as Django's.
"""

from __future__ import annotations

from django.contrib.staticfiles import storage as django_storage


class StaticpipeStorage:
    """Marks a storage whose collectstatic runs staticpipe's pipeline."""


class ManifestStaticFilesStorage(StaticpipeStorage, django_storage.ManifestStaticFilesStorage):
    """Django's ManifestStaticFilesStorage, built by staticpipe."""


class StaticFilesStorage(StaticpipeStorage, django_storage.StaticFilesStorage):
    """Django's StaticFilesStorage (no hashing), built by staticpipe."""
