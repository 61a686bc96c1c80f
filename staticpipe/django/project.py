"""The Django project this process runs (``manage.py collectstatic``, the
checks) as staticpipe's configuration: its settings, with the nearest
``[tool.staticpipe]`` table that names them."""

from __future__ import annotations

import os
from pathlib import Path

from ..config import Config, from_mapping, nearest_config, read_toml
from ..config import staticpipe_table as table_of
from ..errors import ConfigError
from .settings import project_dir


def project_config() -> Config:
    """The Config of the Django project this process runs: its settings, with
    the ``[tool.staticpipe]`` table of the nearest pyproject.toml from the
    project directory up (or ``STATICPIPE_CONFIG``'s) if that table names these
    settings (its keys override them); the settings alone otherwise."""
    from django.conf import settings

    module = settings.SETTINGS_MODULE
    if not module:
        raise ConfigError(
            "staticpipe reads Django's settings from a settings module "
            "(DJANGO_SETTINGS_MODULE), not from settings.configure()"
        )
    base = project_dir(module)
    source = os.environ.get("STATICPIPE_CONFIG")
    config_file = None
    if source:
        path = Path(source)
        config_file = (path / "pyproject.toml" if path.is_dir() else path).resolve()
    else:
        config_file = nearest_config(base)
    if config_file is not None and config_file.is_file():
        table = table_of(read_toml(config_file), config_file)
        if table is not None and table.get("django_settings") == module:
            return from_mapping(table, config_file.parent, config_file)
    where = f"DJANGO_SETTINGS_MODULE={module}"
    return from_mapping({"django_settings": module}, base, None, where)
