"""``doit dumpdb`` for every doit backend, with the database the dodo file names.

doit's own ``dumpdb`` opens ``--db-file`` (default ``.doit.db``) as a dbm file,
so it cannot show staticpipe's database: sqlite3, at the path ``DOIT_CONFIG``
gives. This command reads ``DOIT_CONFIG`` as ``doit run`` does (without loading
any task), then prints each task's saved values in doit's format,
``task -> {values}``, whatever the backend: sqlite3, json or dbm. Registered
as doit's ``dumpdb`` through the ``doit.COMMAND`` entry point (pyproject.toml),
so plain ``doit dumpdb`` and ``python -m staticpipe dumpdb`` both use it.
"""

from __future__ import annotations

import json
import pprint
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from doit.cmd_base import DoitCmdBase
from doit.cmd_dumpdb import DumpDB as DoitDumpDB
from doit.exceptions import InvalidCommand, InvalidDodoFile


def _sqlite3_rows(path: Path) -> Iterator[tuple[str, dict]]:
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = conn.execute("select task_id, task_data from doit order by task_id").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as error:
        raise InvalidCommand(f"{path}: not a doit sqlite3 database ({error})") from None
    for task, data in rows:
        yield task, json.loads(data)


def _json_rows(path: Path) -> Iterator[tuple[str, dict]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InvalidCommand(f"{path}: not a doit json database ({error})") from None
    yield from sorted(data.items())


def _exists(path: Path) -> bool:
    """Whether the database is there (dbm flavours add a suffix: .db, .dat)."""
    return path.exists() or any(path.parent.glob(f"{path.name}.*"))


ROWS = {"sqlite3": _sqlite3_rows, "json": _json_rows}


class DumpDB(DoitCmdBase):
    """dump dependency DB"""

    doc_purpose = "dump dependency DB (the backend and file DOIT_CONFIG names)"
    doc_usage = ""
    doc_description = None
    cmd_options = ()

    def execute(self, params, args):
        try:
            self.loader.setup(params)
            params.update_defaults(self.loader.load_doit_config())
        except InvalidDodoFile:
            pass  # no dodo file: the command line's and doit's defaults
        backend, dep_file = params["backend"], params["dep_file"]
        rows = ROWS.get(backend)
        path = Path(dep_file)
        if not _exists(path):
            raise InvalidCommand(f"{path}: no doit database yet (run a task first)")
        if rows is None:  # dbm, or a plugin's: doit's own command
            return DoitDumpDB(config=self.config).execute({"dep_file": dep_file}, args)
        print(f"{backend} database '{path}'")
        for task, values in rows(path):
            print(f"{task} -> {pprint.pformat(values, indent=4, width=100)}")
        return 0
