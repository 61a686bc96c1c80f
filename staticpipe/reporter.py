"""doit's console reporter, with staticpipe's failures as one line on stderr.

doit reports a failed task as ``TaskFailed - taskid:collect`` and the message on
stdout. A bad configuration or input is the user's to fix, not a crash: it is
``staticpipe: error: <message>`` on stderr, once. Tasks made with
``meta={"staticpipe": {"quiet": True}}`` (``-v 0``) print no progress lines.
Every other task is reported as doit reports it.
"""

from __future__ import annotations

import sys

from doit.exceptions import TaskFailed
from doit.reporter import ConsoleReporter


class StaticpipeFailed(TaskFailed):
    """A task failed on bad input or configuration; the message says why."""


def error_line(message: str) -> str:
    return f"staticpipe: error: {message}"


def _quiet(task) -> bool:
    return bool((task.meta or {}).get("staticpipe", {}).get("quiet"))


class Reporter(ConsoleReporter):
    desc = "console output, staticpipe's errors as one line on stderr"

    def execute_task(self, task):
        if not _quiet(task):
            super().execute_task(task)

    def skip_uptodate(self, task):
        if not _quiet(task):
            super().skip_uptodate(task)

    def _write_failure(self, result, write_exception=True):
        failure = result["exception"]
        if isinstance(failure, StaticpipeFailed):
            if write_exception:
                sys.stderr.write(error_line(failure.message) + "\n")
                sys.stderr.flush()
            return
        super()._write_failure(result, write_exception)
