"""``manage.py collectstatic`` on staticpipe's engine.

Django runs the ``collectstatic`` of the first installed app that has one:
with ``"staticpipe.django"`` before ``django.contrib.staticfiles`` it is this
one. It is Django's command (its options, prompt, messages and summary line)
with ``collect()`` replaced, when the staticfiles storage is one of
staticpipe's (``staticpipe.django.storage``), by one incremental
``pipeline.run`` on the project's configuration (Django's settings, with the
``[tool.staticpipe]`` table that names them): the same files and
``staticfiles.json`` as Django's storage writes, and a re-run that changes
nothing does no work. With any other storage it is Django's command, unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from django.contrib.staticfiles.management.commands import collectstatic
from django.core.management.base import CommandError

from ....config import Config
from ....errors import StaticpipeError
from ....options import RunOptions, Summary, file_lines
from ...storage import StaticpipeStorage, collecting


class Command(collectstatic.Command):
    def handle(self, **options: Any) -> Any:
        token = collecting.set(True)  # (a damaged staticfiles.json: the build replaces it)
        try:
            return super().handle(**options)
        finally:
            collecting.reset(token)

    def set_options(self, **options: Any) -> None:
        # Django's set_options adds the app's default patterns to this very list
        self.given_ignore = [os.path.normpath(p) for p in options["ignore_patterns"]]
        self.use_default_ignore = options["use_default_ignore_patterns"]
        super().set_options(**options)

    def collect(self) -> dict[str, Any]:
        if not isinstance(self.storage, StaticpipeStorage):  # (a lazy object: its class)
            return super().collect()
        return self.run_pipeline()

    def run_pipeline(self) -> dict[str, Any]:
        from .... import layout, pipeline
        from ...project import project_config

        try:
            config = project_config()
            config = config.with_options(
                globs=config.globs + tuple(self.given_ignore),
                default_ignore=config.default_ignore and self.use_default_ignore,
            )
            layout.check_dirs_exist(config)
            options = RunOptions(
                clear=self.clear,
                dry_run=self.dry_run,
                link=self.symlink,
                post_process=self.post_process,
                verbosity=self.verbosity,
            )
            log = self.stdout.write if self.verbosity >= 1 else _silent
            summary = pipeline.run(config, options, log=log)  # (logs Django's "Deleting")
            if self.verbosity >= 2:
                for line in _file_lines(config, summary, options):
                    self.stdout.write(line)
        except StaticpipeError as error:
            raise CommandError(str(error)) from None
        return {
            "modified": summary.copied,
            "unmodified": summary.unmodified,
            "post_processed": summary.post_processed,
        }


def _silent(*args: object) -> None:
    """``-v 0``: nothing but errors."""


def _file_lines(config: Config, summary: Summary, options: RunOptions) -> Iterator[str]:
    """Django's ``-v 2`` lines, as ``doit collect -v 2`` prints them: the listing
    is the walk this run saved, the hashed names those of the new manifest."""
    from ....phases import manifest
    from ....sources import discovery, finders

    found = discovery.find_all(config)
    hashed: dict[str, str] = {}
    if summary.post_processed and not options.dry_run:
        hashed = manifest.read(manifest.manifest_path(config))
    return file_lines(found, finders.locations(config), summary, hashed, options.link)
