"""staticpipe for Django projects (the ``staticpipe[django]`` extra).

- ``settings.py``: Django's settings as the configuration (``django_settings``
  in ``[tool.staticpipe]``, or ``DJANGO_SETTINGS_MODULE``), read through Django.
- ``storage.py``: staticfiles storages; with them (and this app listed before
  ``django.contrib.staticfiles``) ``manage.py collectstatic`` runs staticpipe's
  incremental pipeline (``management/commands/collectstatic.py``).
- ``checks.py``: ``manage.py check`` warns about a stale build (``staticpipe.W001``);
  ``check --deploy`` errors when STATIC_ROOT has no manifest (``staticpipe.E001``).
- ``apps.py``: the app (``"staticpipe.django"`` in INSTALLED_APPS) that registers them.

Nothing here is imported by the core: ``config.py`` reads the settings through
``settings.py`` only when a configuration names them.
"""
