"""The ``staticpipe.django`` app: its checks, and its ``collectstatic`` command."""

from __future__ import annotations

from django.apps import AppConfig


class StaticpipeConfig(AppConfig):
    name = "staticpipe.django"
    label = "staticpipe"
    verbose_name = "staticpipe"

    def ready(self) -> None:
        from django.core import checks

        from . import checks as staticpipe_checks

        checks.register(staticpipe_checks.check_build, "staticpipe")
        checks.register(staticpipe_checks.check_deploy, "staticpipe", deploy=True)
