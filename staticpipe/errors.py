"""Exceptions raised by the pipeline: each carries a message fit to show a user."""

from __future__ import annotations


class StaticpipeError(Exception):
    """Base class: ``str(error)`` names the culprit (file, key, line, URL)."""


class ConfigError(StaticpipeError):
    """The configuration is invalid (the message names the file and the key)."""


class MissingReferenceError(StaticpipeError):
    """References point at files that do not exist: one ``file:line: url`` each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        head = (
            "missing referenced file"
            if len(problems) == 1
            else f"{len(problems)} missing referenced files"
        )
        super().__init__(f"{head}:\n" + "\n".join(problems))


class DecodeError(StaticpipeError):
    """A file that must be rewritten is not valid text in its encoding."""
