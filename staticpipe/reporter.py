"""doit's console reporter, with staticpipe's failures as one line on stderr.

doit reports a failed task as ``TaskFailed - taskid:collect`` and the message on
stdout. A bad configuration or input is the user's to fix, not a crash: it is
``staticpipe: error: <message>`` on stderr, once. Tasks made with
``meta={"staticpipe": {"quiet": True}}`` (``-v 0``) print no progress lines; a
task whose meta has ``"when_uptodate": callable`` has it called when it is up to
date (``collect`` prints Django's summary on a no-op run through it).
Every other task is reported as doit reports it.
"""

from __future__ import annotations

import sys

from doit.exceptions import TaskFailed
from doit.reporter import ConsoleReporter


class StaticpipeFailed(TaskFailed):
    """A task failed on bad input or configuration; the message says why."""


def failed(error: Exception) -> StaticpipeFailed:
    """A task's failure on ``error``: reported once, as one line."""
    return StaticpipeFailed(str(error))


def error_line(message: str) -> str:
    return f"staticpipe: error: {message}"


def _meta(task) -> dict:
    return (task.meta or {}).get("staticpipe", {})


class Reporter(ConsoleReporter):
    desc = "console output, staticpipe's errors as one line on stderr"

    def execute_task(self, task):
        if not _meta(task).get("quiet"):
            super().execute_task(task)

    def skip_uptodate(self, task):
        if not _meta(task).get("quiet"):
            super().skip_uptodate(task)
        when_uptodate = _meta(task).get("when_uptodate")
        if when_uptodate is not None:
            when_uptodate()

    def _write_failure(self, result, write_exception=True):
        failure = result["exception"]
        if isinstance(failure, StaticpipeFailed):
            if write_exception:
                sys.stderr.write(error_line(failure.message) + "\n")
                sys.stderr.flush()
            return
        super()._write_failure(result, write_exception)
