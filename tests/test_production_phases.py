"""Precompression and subresource integrity through the real pipeline.

Real files in ``tmp_path``, real ``doit collect`` in a project directory (and
``staticpipe.pipeline.run`` where the Python API is the subject). What is checked
is what a deployment sees: the ``.gz``/``.br`` siblings beside the copies and the
hashed files (present where WhiteNoise would write them, each decompressing to
its file's bytes), ``staticfiles.integrity.json`` (each value an independent
hashlib computation), what WhiteNoise and ``doit serve --collected`` serve,
and that incremental, settings-changing and killed runs end where a clean
build ends.

"Compressed once" is observed from outside: the compression cache's entries in
the state directory (one written per content compressed: none added, none
written again, when nothing is to be compressed), the inodes and mtimes of
untouched outputs, and ``doit collect`` run under a small wrapper
(``BROTLI_SHIM``) that puts a recording (or refusing) stand-in for the
third-party ``brotli.Compressor`` in place before doit starts. Nothing of
staticpipe's own is replaced.

Old hashed versions are compared with care: whether static_root keeps them (as
Django does) or not, the comparisons with a clean build look at what a
deployment of the current build serves (``build_view``: the files the manifest
names, their siblings, their integrity values), not at the whole directory.
The killed runs are stopped in a random phase (a few ms after doit starts it).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.client
import json
import os
import posixpath
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from random import Random
from unittest import mock
from wsgiref.simple_server import WSGIRequestHandler, make_server

import brotli
import pytest
import zstandard
from doit.cmd_base import ModuleTaskLoader
from doit.doit_cmd import DoitMain
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from projects import Project
from whitenoise import WhiteNoise
from whitenoise.compress import Compressor

import staticpipe
from staticpipe import pipeline
from staticpipe.config import load_config
from staticpipe.fs import fsutil
from staticpipe.tasks import DOIT_CONFIG, make_tasks

BOTH = 'compress = ["gzip", "br"]\nintegrity = "sha384"\n'
ALL_THREE = 'compress = ["gzip", "br", "zstd"]\nintegrity = "sha384"\n'
BASE_CONFIG = """\
[tool.staticpipe]
static_root = "build/static"
dirs = ["assets"]
"""
SUFFIXES = (".gz", ".br", ".zst")
GB = (".gz", ".br")  # what BOTH writes
INTEGRITY = "staticfiles.integrity.json"
MANIFEST = "staticfiles.json"
TIMEOUT = 120


def config_text(extra: str = BOTH) -> str:
    return BASE_CONFIG + extra


def css_body(label: str, lines: int = 60) -> str:
    return "".join(f".{label}-{i} {{ margin: {i}px; color: #{i:06x}; }}\n" for i in range(lines))


def js_body(label: str, lines: int = 80) -> str:
    return "".join(f"function {label}{i}() {{ return {i} * {i}; }}\n" for i in range(lines))


NOISE = Random(7).randbytes(3000)  # incompressible: saves far less than 5%
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 4000  # would compress very well, but is an image

SOURCES: dict[str, str | bytes] = {
    "css/base.css": ".logo { background: url(../img/logo.png); }\n" + css_body("base"),
    "css/site.css": '@import "base.css";\n' + css_body("site"),
    "css/theme.css": css_body("theme"),
    "js/app.js": js_body("app"),
    "js/same.js": js_body("app"),  # the same bytes as js/app.js
    "img/logo.png": PNG,
    "fonts/icons.woff2": b"wOF2" + b"\x00" * 4000,  # a font: skipped however well it compresses
    "data/noise.txt": NOISE,
    "tiny.txt": "x\n",  # compressed, it would be larger
}
COMPRESSED = ["css/base.css", "css/site.css", "css/theme.css", "js/app.js", "js/same.js"]
NOT_COMPRESSED = ["img/logo.png", "fonts/icons.woff2", "data/noise.txt", "tiny.txt"]


@pytest.fixture
def project(tmp_path: Path) -> Project:
    site = Project(tmp_path / "site", config_text())
    for name, content in SOURCES.items():
        site.write(name, content)
    return site


# -- looking at static_root ----------------------------------------------------------
def decompress(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".gz":
        return gzip.decompress(data)
    if path.suffix == ".br":
        return brotli.decompress(data)
    if path.suffix == ".zst":
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    raise AssertionError(f"not a compressed sibling: {path}")


def files_in(root: Path) -> list[str]:
    return sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() or path.is_symlink()
    )


def siblings_in(root: Path) -> list[str]:
    return [name for name in files_in(root) if name.endswith(SUFFIXES)]


def sibling_problems(root: Path) -> list[str]:
    """Every ``.gz``/``.br`` in ``root`` must have its file beside it and decompress
    to that file's bytes (a stale sibling is served instead of the file)."""
    problems = []
    for name in siblings_in(root):
        base = root / name[: name.rfind(".")]
        if not base.is_file():
            problems.append(f"{name}: no {base.name} beside it")
            continue
        try:
            same = decompress(root / name) == base.read_bytes()
        except Exception as error:  # noqa: BLE001 - any damage is the finding
            problems.append(f"{name}: does not decompress ({error!r})")
            continue
        if not same:
            problems.append(f"{name}: decompresses to other bytes than {base.name}'s")
    return problems


def read_paths(root: Path) -> dict[str, str]:
    return json.loads((root / MANIFEST).read_bytes())["paths"]


def read_integrity(root: Path) -> dict:
    return json.loads((root / INTEGRITY).read_bytes())


def sri(data: bytes, algorithm: str = "sha384") -> str:
    return f"{algorithm}-" + base64.b64encode(hashlib.new(algorithm, data).digest()).decode()


def integrity_problems(root: Path) -> list[str]:
    """A reader of the manifest in place finds every hashed file's value in the
    integrity file, right for its bytes; every value of a file in ``root`` is
    right (a value of a file since deleted is of no harm)."""
    if not (root / INTEGRITY).exists():
        return []
    data = read_integrity(root)
    values = data["integrity"]
    problems = []
    for name, value in values.items():
        path = root / name
        if path.is_file() and value != sri(path.read_bytes(), data["algorithm"]):
            problems.append(f"{name}: {value} is not the value of its bytes")
    if (root / MANIFEST).exists():
        for name, hashed in read_paths(root).items():
            if hashed not in values:
                problems.append(f"{name}: its hashed file {hashed} has no value")
    return problems


def build_view(root: Path) -> dict[str, object]:
    """What a deployment serves of the current build: the manifest, every file it
    names (both sides), their ``.gz``/``.br`` siblings, and the integrity values
    of those files."""
    view: dict[str, object] = {MANIFEST: (root / MANIFEST).read_bytes()}
    paths = read_paths(root)
    named = set(paths) | set(paths.values())
    for name in sorted(named):
        view[name] = (root / name).read_bytes()
        for suffix in SUFFIXES:
            if (root / (name + suffix)).exists():
                view[name + suffix] = (root / (name + suffix)).read_bytes()
    if (root / INTEGRITY).exists():
        data = read_integrity(root)
        view["integrity algorithm"] = data["algorithm"]
        view["integrity values"] = {k: v for k, v in data["integrity"].items() if k in named}
    return view


def identities(root: Path, names: list[str]) -> dict[str, tuple[int, int]]:
    return {name: ((info := (root / name).stat()).st_ino, info.st_mtime_ns) for name in names}


def cache_entries(project: Project) -> dict[str, int]:
    """The compression cache in the state directory, seen from outside: each
    entry (``<md5>.<encoding>-<level>``, written once per compression) and its
    inode (a content compressed again would be a new file)."""
    cache = project.path / ".staticpipe" / "compress"
    return {
        path.name: path.stat().st_ino
        for path in cache.rglob("*")
        if path.is_file() and "." in path.name and "tmp" not in path.relative_to(cache).parts
    }


def md5(data: bytes | str) -> str:
    return hashlib.md5(data.encode() if isinstance(data, str) else data).hexdigest()


def differences(expected: dict[str, object], actual: dict[str, object]) -> list[str]:
    return sorted(k for k in set(expected) | set(actual) if expected.get(k) != actual.get(k))


def clean_view(project: Project, scratch: Path) -> dict[str, object]:
    """A clean build of the same sources and settings in a fresh project."""
    fresh = Project(scratch, (project.path / "pyproject.toml").read_text())
    shutil.copytree(project.path / "assets", fresh.path / "assets")
    fresh.doit("collect")
    return build_view(fresh.root)


# -- running doit with a stand-in for brotli -----------------------------------------
SHIM = '''\
"""doit, with brotli.Compressor recording (BROTLI_SHIM=record) or refusing (=refuse)."""
import hashlib, os, runpy, sys, threading
import brotli

MODE = os.environ["BROTLI_SHIM"]
LOG = os.environ.get("BROTLI_LOG")
_lock = threading.Lock()
_Real = brotli.Compressor


class Compressor:
    def __init__(self, *args, **kwargs):
        if MODE == "refuse":
            raise RuntimeError("brotli called: this content should come from the cache")
        self._real = _Real(*args, **kwargs)
        self._md5 = hashlib.md5()

    def process(self, data):
        self._md5.update(data)
        return self._real.process(data)

    def flush(self):
        return self._real.flush()

    def finish(self):
        with _lock, open(LOG, "a") as log:
            log.write(self._md5.hexdigest() + "\\n")
        return self._real.finish()


def _refuse(*args, **kwargs):
    raise RuntimeError("brotli called: this content should come from the cache")


brotli.Compressor = Compressor
if MODE == "refuse":
    brotli.compress = _refuse
sys.argv = ["doit", *sys.argv[1:]]
runpy.run_module("doit", run_name="__main__", alter_sys=True)
'''


class Shimmed:
    """``doit`` in ``project`` with brotli recorded or refused."""

    def __init__(self, project: Project, tmp: Path):
        self.project = project
        self.script = tmp / "brotli_shim.py"
        self.script.write_text(SHIM)
        self.log = tmp / "brotli.log"

    def doit(self, mode: str, *args: str) -> subprocess.CompletedProcess:
        self.log.write_text("")
        proc = subprocess.run(
            [sys.executable, str(self.script), *args],
            cwd=self.project.path,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env={**os.environ, "BROTLI_SHIM": mode, "BROTLI_LOG": str(self.log)},
        )
        assert proc.returncode == 0, f"doit {args} ({mode}):\n{proc.stdout}\n{proc.stderr}"
        return proc

    def compressed(self) -> list[str]:
        """The md5 of every content brotli compressed in the last run."""
        return self.log.read_text().split()


def compressible_contents(root: Path) -> set[str]:
    """The md5s of the distinct contents in ``root`` WhiteNoise would compress
    (collected files and hashed files; not the manifests, not siblings)."""
    skip = Compressor()
    return {
        hashlib.md5((root / name).read_bytes()).hexdigest()
        for name in files_in(root)
        if not name.endswith(SUFFIXES)
        and name not in (MANIFEST, INTEGRITY)
        and skip.should_compress(name)
    }


# == 1. what is written ===============================================================
def test_collect_writes_gz_and_br_beside_css_and_js_copies_and_hashed_files(project):
    project.doit("collect")
    paths = project.manifest()
    root = project.root
    for name in COMPRESSED:
        original = (root / name).read_bytes()
        for file in (name, paths[name]):
            for suffix in GB:
                sibling = root / (file + suffix)
                assert sibling.is_file(), f"no {file}{suffix}"
                assert decompress(sibling) == (root / file).read_bytes()
            assert not (root / (file + ".zst")).exists()  # not configured
        assert decompress(root / (name + ".br")) == original
    for name in NOT_COMPRESSED:  # an image, a font; incompressible (the 95% rule); too small
        for file in (name, paths[name]):
            for suffix in SUFFIXES:
                assert not (root / (file + suffix)).exists(), f"{file}{suffix} written"
    assert sibling_problems(root) == []


def test_zstd_writes_zst_beside_the_same_files_as_gzip_and_brotli(project):
    project.write_config(config_text(ALL_THREE))
    project.doit("collect")
    root = project.root
    paths = project.manifest()
    expected = {f + s for name in COMPRESSED for f in (name, paths[name]) for s in SUFFIXES}
    assert set(siblings_in(root)) == expected
    for name in COMPRESSED:
        assert decompress(root / (paths[name] + ".zst")) == (root / paths[name]).read_bytes()
    assert sibling_problems(root) == []
    project.write_config(config_text(BOTH))  # zstd off: every .zst goes, the rest stays
    project.doit("collect")
    assert set(siblings_in(root)) == {n for n in expected if not n.endswith(".zst")}


def test_siblings_are_whitenoises_set_and_no_larger_than_whitenoises(project, tmp_path):
    project.doit("collect")
    ours = {name: (project.root / name).stat().st_size for name in siblings_in(project.root)}
    copy = tmp_path / "whitenoise"
    shutil.copytree(project.root, copy)
    for name in files_in(copy):  # WhiteNoise's input: the build without our siblings
        if name.endswith(SUFFIXES) or name in (MANIFEST, INTEGRITY):
            (copy / name).unlink()
    compressor = Compressor(quiet=True)
    for name in files_in(copy):
        if compressor.should_compress(name):
            compressor.compress(str(copy / name))
    theirs = {name: (copy / name).stat().st_size for name in siblings_in(copy)}
    assert sorted(ours) == sorted(theirs)
    larger = {name: (ours[name], theirs[name]) for name in ours if ours[name] > theirs[name]}
    assert larger == {}


# == 2. each content compressed once, ever ============================================
def test_each_unique_content_is_compressed_once(project, tmp_path):
    shim = Shimmed(project, tmp_path)
    shim.doit("record", "collect")
    done = shim.compressed()
    assert len(done) == len(set(done)), "a content was compressed twice"
    # js/app.js, js/same.js and their hashed files: one content, one compression
    assert set(done) == compressible_contents(project.root)


def test_a_content_compressed_before_is_never_compressed_again(project, tmp_path):
    shim = Shimmed(project, tmp_path)
    shim.doit("record", "collect")
    first = {name: (project.root / name).read_bytes() for name in siblings_in(project.root)}
    cache = cache_entries(project)
    assert cache

    shim.doit("refuse", "collect", "--clear")  # brotli unusable: only the cache can serve
    assert {n: (project.root / n).read_bytes() for n in siblings_in(project.root)} == first
    assert cache_entries(project) == cache  # no entry added or written again
    assert sibling_problems(project.root) == []
    assert build_view(project.root) == clean_view(project, tmp_path / "clean")

    shutil.rmtree(project.root)
    shim.doit("refuse", "collect")
    assert {n: (project.root / n).read_bytes() for n in siblings_in(project.root)} == first

    shim.doit("refuse", "forget", "-a")
    shim.doit("refuse", "collect")
    assert {n: (project.root / n).read_bytes() for n in siblings_in(project.root)} == first
    assert cache_entries(project) == cache


def test_an_edit_compresses_only_the_new_contents(project, tmp_path):
    shim = Shimmed(project, tmp_path)
    shim.doit("record", "collect")
    root = project.root
    cache = cache_entries(project)
    untouched = [name for name in siblings_in(root) if not name.startswith("js/app.")]
    before = identities(root, untouched)
    old_app = (project.path / "assets/js/app.js").read_bytes()
    new_app = js_body("edited").encode()
    project.write("js/app.js", new_app)
    shim.doit("record", "collect")
    assert shim.compressed() == [md5(new_app)]  # copy and hashed file: once
    after = cache_entries(project)
    assert {name: after.get(name) for name in cache} == cache  # nothing compressed again
    added = set(after) - set(cache)
    assert len(added) == 2 and all(name.startswith(md5(new_app) + ".") for name in added)
    assert identities(root, untouched) == before  # js/same.js (the old bytes) included
    paths = project.manifest()
    for file in ("js/app.js", paths["js/app.js"]):
        for suffix in (".gz", ".br"):
            assert decompress(root / (file + suffix)) == new_app

    project.write("js/app.js", old_app)  # back to a content compressed before
    shim.doit("refuse", "collect")
    assert cache_entries(project) == after
    assert sibling_problems(root) == []
    assert decompress(root / "js/app.js.br") == old_app


# == 3. incremental ===================================================================
def test_editing_one_css_rewrites_only_its_and_its_referrers_outputs(project):
    project.doit("collect")
    root = project.root
    before_paths = project.manifest()
    before = identities(root, siblings_in(root))
    project.write("css/base.css", SOURCES["css/base.css"] + ".edited { top: 0; }\n")
    project.doit("collect")
    after_paths = project.manifest()
    changed = {name for name in after_paths if after_paths[name] != before_paths[name]}
    assert changed == {"css/base.css", "css/site.css"}  # base and the file importing it
    after = identities(root, siblings_in(root))
    # old hashed versions: kept (as Django keeps them) with their siblings, or
    # gone with them; never one without the other
    gone = {name for name in before if name not in after}
    assert gone <= {before_paths[n] + s for n in ("css/base.css", "css/site.css") for s in GB}
    assert {name[: name.rfind(".")] for name in gone}.isdisjoint(files_in(root))
    for name in ("css/base.css", "css/site.css"):
        if (root / before_paths[name]).exists():  # kept: its siblings too, untouched
            for suffix in GB:
                assert after[before_paths[name] + suffix] == before[before_paths[name] + suffix]
    rewritten = {name for name in before if name in after and after[name] != before[name]}
    # the edited copy's; the referrer's copy (same bytes) may be written again
    assert {"css/base.css.gz", "css/base.css.br"} <= rewritten
    assert rewritten <= {"css/" + n + s for n in ("base.css", "site.css") for s in GB}
    new = set(after) - set(before)
    assert new == {
        after_paths[name] + suffix for name in ("css/base.css", "css/site.css") for suffix in GB
    }
    assert sibling_problems(root) == []
    assert integrity_problems(root) == []


def test_noop_collect_runs_no_compress_or_integrity_action_and_writes_nothing(project):
    project.doit("collect")
    root = project.root
    before = identities(root, files_in(root))
    cache = cache_entries(project)
    result = project.doit("collect")
    assert cache_entries(project) == cache
    assert "-- collect_compress" in result.stdout
    assert "-- collect_integrity" in result.stdout
    assert not result.executed("collect_compress")
    assert not result.executed("collect_integrity")
    assert identities(root, files_in(root)) == before


def test_noop_pipeline_run_compresses_nothing(project):
    config = load_config(project.path)
    first = pipeline.run(config, log=lambda line: None)
    assert sorted(first.compressed) == sorted(
        {*COMPRESSED, *(read_paths(project.root)[name] for name in COMPRESSED)}
    )
    before = identities(project.root, files_in(project.root))
    again = pipeline.run(config, log=lambda line: None)
    assert again.compressed == []
    assert identities(project.root, files_in(project.root)) == before


# == 4. settings changes ==============================================================
def test_dropping_br_removes_every_br_and_dropping_compress_every_gz(project):
    project.doit("collect")
    assert any(name.endswith(".br") for name in siblings_in(project.root))
    project.write_config(config_text('compress = ["gzip"]\nintegrity = "sha384"\n'))
    project.doit("collect")
    left = siblings_in(project.root)
    assert [name for name in left if name.endswith(".br")] == []
    paths = project.manifest()
    assert set(left) == {f + ".gz" for name in COMPRESSED for f in (name, paths[name])}
    project.write_config(config_text('integrity = "sha384"\n'))
    project.doit("collect")
    assert siblings_in(project.root) == []
    assert (project.root / INTEGRITY).exists()


def test_dropping_integrity_deletes_the_integrity_file(project):
    project.doit("collect")
    assert (project.root / INTEGRITY).exists()
    project.write_config(config_text('compress = ["gzip", "br"]\n'))
    project.doit("collect")
    assert not (project.root / INTEGRITY).exists()
    assert siblings_in(project.root) != []


def test_doit_clean_collect_removes_the_precompressed_files_and_the_integrity_file(project):
    (project.root / "img").mkdir(parents=True)
    (project.root / "img" / "mine.svg.gz").write_bytes(b"not staticpipe's")
    project.doit("collect")
    assert siblings_in(project.root) != [] and (project.root / INTEGRITY).exists()
    dry = project.doit("clean", "-n", "collect")
    assert f"Would remove '{INTEGRITY}'" in dry.stdout
    assert re.search(r"Would remove '[^']+\.br'", dry.stdout)
    project.doit("clean", "collect")
    left = sorted(p.relative_to(project.root).as_posix() for p in project.root.rglob("*"))
    assert left == ["img", "img/mine.svg.gz"]  # what staticpipe did not write stays


def test_changing_compress_levels_rewrites_the_outputs_at_those_levels(project):
    project.doit("collect")
    project.write_config(
        config_text(BOTH + "compress_levels = { gzip = 1, br = 4 }\n"),
    )
    project.doit("collect")
    root = project.root
    paths = project.manifest()
    for name in COMPRESSED:
        for file in (name, paths[name]):
            data = (root / file).read_bytes()
            out = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
            deflated = out.compress(data) + out.flush()
            assert (root / (file + ".gz")).read_bytes()[10:-8] == deflated, file
            assert (root / (file + ".br")).read_bytes() == brotli.compress(data, quality=4)
    assert sibling_problems(root) == []


# == 5. served ========================================================================
class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's name
        pass


@contextmanager
def wsgi_server(app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def get(base: str, path: str, encoding: str | None) -> tuple[int, dict[str, str], bytes]:
    host, port = base.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", path, headers={"Accept-Encoding": encoding or "identity"})
        response = connection.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


def assert_served_precompressed(base: str, root: Path, names: list[str], plain: list[str]) -> None:
    for name in names:
        original = (root / name).read_bytes()
        status, headers, body = get(base, f"/static/{name}", None)
        assert status == 200 and body == original and "content-encoding" not in headers, name
        assert headers.get("vary") == "Accept-Encoding", name
        for encoding, sibling in (("gzip", ".gz"), ("br", ".br")):
            status, headers, body = get(base, f"/static/{name}", encoding)
            assert status == 200, name
            assert headers.get("content-encoding") == encoding, (name, headers)
            assert headers.get("vary") == "Accept-Encoding", name
            assert body == (root / (name + sibling)).read_bytes()
            assert decompress(root / (name + sibling)) == original
        status, headers, body = get(base, f"/static/{name}", "gzip, deflate, br")
        assert headers.get("content-encoding") == "br" and brotli.decompress(body) == original
    for name in plain:  # nothing precompressed: the file itself, whatever the client accepts
        status, headers, body = get(base, f"/static/{name}", "gzip, br")
        assert status == 200 and body == (root / name).read_bytes(), name
        assert "content-encoding" not in headers, name


def served_names(project: Project) -> list[str]:
    paths = project.manifest()
    return [f for name in ("css/site.css", "js/app.js") for f in (name, paths[name])]


def plain_names(project: Project) -> list[str]:
    paths = project.manifest()
    return [f for name in ("img/logo.png", "data/noise.txt") for f in (name, paths[name])]


def test_whitenoise_middleware_serves_the_precompressed_files(project):
    project.doit("collect")

    def app(environ, start_response):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]

    served = WhiteNoise(app, root=str(project.root), prefix="/static/")
    with wsgi_server(served) as base:
        names, plain = served_names(project), plain_names(project)
        assert_served_precompressed(base, project.root, names, plain)


def test_doit_serve_collected_serves_the_precompressed_files(project):
    from test_serve import served_url
    from test_watch import Doit

    project.doit("collect")
    process = Doit(project.path, "serve", "--collected", "--port", "0")
    try:
        names, plain = served_names(project), plain_names(project)
        assert_served_precompressed(served_url(process), project.root, names, plain)
    finally:
        assert process.stop(signal.SIGTERM) == 0, process.output


# == 6. integrity =====================================================================
def test_integrity_values_are_the_sri_of_every_hashed_file(project):
    project.doit("collect")
    data = read_integrity(project.root)
    assert data["algorithm"] == "sha384"
    paths = project.manifest()
    assert set(data["integrity"]) == set(paths.values())
    for hashed in paths.values():
        assert data["integrity"][hashed] == sri((project.root / hashed).read_bytes()), hashed


def test_after_an_edit_the_new_hashed_name_has_its_value_and_the_replaced_build_keeps_its(
    project, tmp_path
):
    project.doit("collect")
    old = project.manifest()["css/theme.css"]
    old_value = read_integrity(project.root)["integrity"][old]
    unchanged = {k: v for k, v in read_integrity(project.root)["integrity"].items() if k != old}
    project.write("css/theme.css", css_body("theme", 70))
    result = project.doit("collect")
    assert result.executed("collect_integrity")
    new = project.manifest()["css/theme.css"]
    assert new != old
    values = read_integrity(project.root)["integrity"]
    assert values[new] == sri((project.root / new).read_bytes())
    # the build this one replaced: its values stay one build (a reader of the
    # manifest in place while the new one was written found them)
    assert values[old] == old_value
    assert {k: values[k] for k in unchanged} == unchanged  # the others: as they were
    assert integrity_problems(project.root) == []
    config = load_config(project.path)
    assert staticpipe.static_integrity("css/theme.css", config=config) == values[new]

    app_before = project.manifest()["js/app.js"]
    project.write("js/app.js", js_body("later"))  # one more build: the old value goes
    project.doit("collect")
    values = read_integrity(project.root)["integrity"]
    assert old not in values
    assert set(values) == set(project.manifest().values()) | {app_before}
    assert build_view(project.root) == clean_view(project, tmp_path / "clean")


def test_switching_to_sha256_rewrites_every_value_and_switching_off_removes_the_file(
    project, tmp_path
):
    project.doit("collect")
    project.write_config(config_text('compress = ["gzip", "br"]\nintegrity = "sha256"\n'))
    project.doit("collect")
    data = read_integrity(project.root)
    assert data["algorithm"] == "sha256"
    paths = project.manifest()
    assert set(data["integrity"]) == set(paths.values())
    for hashed in paths.values():
        assert data["integrity"][hashed] == sri((project.root / hashed).read_bytes(), "sha256")
    assert build_view(project.root) == clean_view(project, tmp_path / "clean")
    config = load_config(project.path)
    assert staticpipe.static_integrity("js/app.js", config=config).startswith("sha256-")

    project.write_config(config_text('compress = ["gzip", "br"]\n'))
    project.doit("collect")
    assert not (project.root / INTEGRITY).exists()
    assert project.manifest() == paths
    assert sibling_problems(project.root) == []


def test_integrity_with_plain_storage_is_keyed_by_plain_names(tmp_path):
    site = Project(tmp_path / "site", config_text(BOTH + 'storage = "plain"\n'))
    for name, content in SOURCES.items():
        site.write(name, content)
    site.doit("collect")
    values = read_integrity(site.root)["integrity"]
    assert set(values) == set(SOURCES)
    for name in SOURCES:
        assert values[name] == sri((site.root / name).read_bytes())
    config = load_config(site.path)
    assert staticpipe.static_integrity("css/site.css", config=config) == values["css/site.css"]
    assert set(siblings_in(site.root)) == {name + s for name in COMPRESSED for s in GB}
    assert sibling_problems(site.root) == []


# == 7. killed runs ===================================================================
KILL_SEED = int(os.environ.get("STATICPIPE_KILL_SEED", "20240613"))
# The copy phase removes a copy's precompressed siblings before it replaces the
# copy: a server never hands out a .gz of other bytes for it, even when the build
# stops right after the copy phase (killed, or ``doit collect_copy``).


def test_a_run_stopped_after_the_copy_phase_leaves_no_stale_sibling_beside_a_copy(project):
    project.doit("collect")
    project.write("css/theme.css", css_body("theme", 70))
    project.doit("collect_copy")  # the build stops here, as a kill there would
    assert sibling_problems(project.root) == []


def after_kill_problems(root: Path) -> list[str]:
    """``sibling_problems`` but one kind a killed run may leave: a sibling
    whose file is gone and that the manifest in place does not name (a deletion
    of the previous build's outputs cut short: the file went first, its
    ``.gz`` would have followed; the next run deletes it).
    Every sibling of a hashed file the manifest names must be right."""
    try:
        paths = read_paths(root)
    except (OSError, ValueError):
        paths = {}
    named = set(paths) | set(paths.values())
    problems = []
    for problem in sibling_problems(root):
        sibling = problem.partition(":")[0]
        base = sibling[: sibling.rfind(".")]
        if base not in named and not (root / base).exists():
            continue
        problems.append(problem)
    return problems


KILL_AT = ("collect_copy", "collect_postprocess", "collect_compress", "collect_integrity",
           "collect_manifest", "collect")  # fmt: skip


def killed_collect(project: Project, argv: list[str], at: str | None, delay: float) -> int:
    """``doit collect`` killed (SIGKILL, its whole process group) ``delay`` seconds
    after doit starts the task ``at`` (its ``.  task`` line), or after it starts
    (``at`` None); the exit status (0: it finished first)."""
    proc = subprocess.Popen(
        argv,
        cwd=project.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    started = threading.Event()
    if at is None:
        started.set()

    def read() -> None:
        for line in proc.stdout:
            if line.rstrip("\n") == f".  {at}":
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if started.wait(TIMEOUT) and not proc.poll():
            time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    code = proc.wait()
    reader.join(5)
    proc.stdout.close()
    return code


def kill_trials(tmp_path: Path, trials: int) -> None:
    """``trials`` times: a few random edits, ``doit collect`` (now and then with
    ``--clear``) killed with SIGKILL at a random moment (mostly in a random
    phase: a few ms after doit starts it), and what static_root holds then
    checked; every other trial (and after the last) a normal run, whose result
    must be a clean build's. Failures are gathered and reported together."""
    from test_kill import Tree, check_root

    rng = Random(KILL_SEED)
    project = Project(tmp_path / "project", config_text())
    tree = Tree(project.path / "assets", rng)
    tree.build(20, 12, 20)
    project.doit("collect")
    failures: list[str] = []
    killed: list[str] = []
    for trial in range(trials):
        edits = [tree.edit() for _ in range(rng.randint(1, 3))]
        argv = [sys.executable, "-m", "doit", "collect"]
        if rng.random() < 0.2:
            argv.append("--clear")
        at = rng.choice((None, *KILL_AT))
        delay = rng.uniform(0.0, 1.0 if at is None else rng.choice((0.005, 0.03, 0.15)))
        code = killed_collect(project, argv, at, delay)
        where = f"seed={KILL_SEED} trial={trial} {argv[3:]} at={at} +{delay:.3f}s edits={edits}"
        if code not in (0, -signal.SIGKILL):
            failures.append(f"{where}: exit {code}")
        if code == -signal.SIGKILL:
            killed.append(f"{at}")
        problems = dict(check_root(project.root))
        # every .gz/.br beside a file decompresses to its bytes (see after_kill_problems)
        problems["sibling"] = after_kill_problems(project.root)
        problems["integrity"] = integrity_problems(project.root)
        for category, details in sorted(problems.items()):
            if details:
                failures.append(f"{where}: killed: {category}: {details[:3]}")
        if trial % 2 == 1 or trial == trials - 1:
            project.doit("collect")
            after = [*sibling_problems(project.root), *integrity_problems(project.root)]
            expected = clean_view(project, tmp_path / f"clean{trial}")
            differ = differences(expected, build_view(project.root))
            if after or differ:
                failures.append(
                    f"{where}: the next normal run: {after[:3]}, not clean: {differ[:8]}"
                )
    assert not failures, "\n".join(failures)
    assert len(killed) >= trials // 2, f"too few runs were killed before they ended: {killed}"


@pytest.mark.quick_version
def test_killed_runs_leave_no_stale_sibling_and_end_as_a_clean_build(tmp_path):
    kill_trials(tmp_path, trials=8)


@pytest.mark.slow
def test_many_killed_runs_leave_no_stale_sibling_and_end_as_a_clean_build(tmp_path):
    kill_trials(tmp_path, trials=12)


# == 8. property: incremental equals clean ============================================
RACY_NS = 50_000_000  # as test_incremental: timestamps trusted after 50 ms
SETTLE = RACY_NS / 1e9 + 0.03
P_STYLES = ["css/a.css", "css/b.css", "css/sub/c.css"]
P_IMAGES = ["img/a.png", "img/b.png"]
P_OTHER = ["js/app.js", "notes.txt"]
P_NAMES = P_STYLES + P_IMAGES + P_OTHER
P_SETTINGS = [
    'compress = ["gzip", "br"]\nintegrity = "sha384"\n',
    'compress = ["br"]\nintegrity = "sha384"\n',
    'compress = ["gzip", "br"]\nintegrity = "sha256"\n',
    'compress = ["gzip", "br"]\ncompress_levels = { gzip = 1, br = 3 }\nintegrity = "sha384"\n',
    'compress = ["gzip", "br", "zstd"]\n',
    'integrity = "sha512"\n',
]
P_CONFIG = """\
[tool.staticpipe]
static_root = "build/static"
dirs = ["assets"]
missing = "ignore"
"""


def p_content(name: str, seed: int, refs: list[str]) -> bytes:
    """Small (not worth compressing) for some seeds, compressible for others, so
    an edit can take a file's siblings away."""
    size = 0 if seed % 3 == 0 else 20 + seed
    if name.endswith(".css"):
        base = posixpath.dirname(name)
        lines = [
            f'@import "{posixpath.relpath(ref, base or ".")}";'
            if ref.endswith(".css")
            else f".r{i} {{ background: url('{posixpath.relpath(ref, base or '.')}'); }}"
            for i, ref in enumerate(refs)
        ]
        lines += [f".p{i} {{ margin: {i}px; }}" for i in range(size)]
        return ("\n".join(lines) + f"\n/* {seed} */\n").encode()
    if name.endswith(".png"):
        return b"\x89PNG" + bytes([seed]) * (seed + 1)
    if seed % 3 == 0 and name.endswith(".txt"):
        return Random(seed).randbytes(200)  # incompressible
    return "".join(f"var line{i} = {seed};\n" for i in range(size)).encode()


p_writes = st.tuples(
    st.just("write"),
    st.sampled_from(P_NAMES),
    st.integers(0, 40),
    st.lists(st.sampled_from(P_STYLES + P_IMAGES), max_size=3),
)
p_operations = st.one_of(
    p_writes,
    st.tuples(st.just("delete"), st.sampled_from(P_NAMES)),
    st.tuples(st.just("rename"), st.sampled_from(P_NAMES), st.sampled_from(P_NAMES)),
    st.tuples(st.just("restore_mtime_edit"), st.sampled_from(P_OTHER), st.integers(1, 40)),
    st.tuples(st.just("settings"), st.integers(0, len(P_SETTINGS) - 1)),
    st.tuples(st.just("settle")),
)


class PSite:
    def __init__(self, path: Path, settings_index: int = 0):
        self.path = path
        self.assets = path / "assets"
        self.assets.mkdir(parents=True, exist_ok=True)
        self.settings_index = settings_index
        self.write_config()

    @property
    def root(self) -> Path:
        return self.path / "build/static"

    def write_config(self) -> None:
        text = P_CONFIG + P_SETTINGS[self.settings_index]
        (self.path / "pyproject.toml").write_text(text)

    def apply(self, op: tuple) -> None:
        kind = op[0]
        if kind == "write":
            _, name, seed, refs = op
            target = self.assets / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(p_content(name, seed, [r for r in refs if r != name]))
        elif kind == "delete":
            (self.assets / op[1]).unlink(missing_ok=True)
        elif kind == "rename":
            source, dest = self.assets / op[1], self.assets / op[2]
            if source.exists() and source != dest:
                dest.parent.mkdir(parents=True, exist_ok=True)
                source.rename(dest)
        elif kind == "restore_mtime_edit":  # same size, other bytes, same mtime
            target = self.assets / op[1]
            if target.exists():
                info = target.stat()
                old = target.read_bytes()
                new = bytes((b + op[2]) % 128 or 65 for b in old)
                target.write_bytes(new)
                os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))
        elif kind == "settings":
            self.settings_index = op[1]
            self.write_config()
        elif kind == "settle":
            time.sleep(SETTLE)
            self.collect()
            time.sleep(SETTLE)

    def collect(self) -> int:
        namespace = {
            **make_tasks(str(self.path / "pyproject.toml")),
            "DOIT_CONFIG": {**DOIT_CONFIG, "dep_file": str(self.path / ".doit.sqlite3")},
        }
        return DoitMain(ModuleTaskLoader(namespace)).run(["collect"])


def p_clean_view(site: PSite, scratch: Path) -> dict[str, object] | None:
    fresh = PSite(scratch, site.settings_index)
    shutil.rmtree(fresh.assets)
    shutil.copytree(site.assets, fresh.assets)
    if fresh.collect() != 0:
        return None
    return build_view(fresh.root)


def incremental_equals_clean(initial: list[tuple], edits: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(fsutil, "RACY_NS", RACY_NS):
        site = PSite(Path(tmp, "site"))
        for op in initial:
            site.apply(op)
        assert site.collect() == 0
        for step, op in enumerate(edits):
            site.apply(op)
            expected = p_clean_view(site, Path(tmp, f"clean{step}"))
            code = site.collect()
            if expected is None:  # nothing found: refused, as the clean build was
                assert code != 0, op
                continue
            if not any(path.is_file() for path in site.assets.rglob("*")):
                assert code != 0, op  # every file removed: refused without --clear (#17)
                continue
            assert code == 0, op
            assert sibling_problems(site.root) == [], op
            assert integrity_problems(site.root) == [], op
            assert differences(expected, build_view(site.root)) == [], op


P_SETTINGS_QUICK = settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.quick_version
@P_SETTINGS_QUICK
@given(
    initial=st.lists(p_writes, min_size=2, max_size=6),
    edits=st.lists(p_operations, min_size=1, max_size=6),
)
def test_incremental_runs_with_compress_and_integrity_equal_a_clean_build(initial, edits):
    incremental_equals_clean(initial, edits)


P_REVIVED = [  # a.css's first content, hashed name and all, comes back later
    ("write", "css/a.css", 0, ["css/a.css", "css/a.css", "css/a.css"]),
    ("write", "css/a.css", 38, []),
]


@pytest.mark.parametrize("switched", [0, 5], ids=["zstd-dropped", "compress-off"])
def test_a_reverted_edit_after_an_encoding_is_switched_off_serves_no_stale_sibling(switched):
    """An old version revived (its content back) keeps no .zst (or .gz/.br) of an
    encoding switched off while it was retired; an emptied tree is refused."""
    edits = [
        ("delete", "notes.txt"),
        ("settings", 4),  # gzip, br, zstd
        ("write", "css/a.css", 0, ["img/b.png", "img/b.png"]),
        ("write", "img/b.png", 0, []),
        ("settings", switched),
        ("delete", "img/b.png"),  # a.css references nothing again: its old hashed name
        ("delete", "css/a.css"),  # nothing left to build: refused without --clear
    ]
    incremental_equals_clean(P_REVIVED, edits)


@pytest.mark.slow
@settings(P_SETTINGS_QUICK, max_examples=16)
@given(
    initial=st.lists(p_writes, min_size=2, max_size=8),
    edits=st.lists(p_operations, min_size=1, max_size=10),
)
def test_many_incremental_runs_with_compress_and_integrity_equal_a_clean_build(initial, edits):
    incremental_equals_clean(initial, edits)
