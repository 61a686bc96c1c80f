"""``doit collect && doit publish`` against django-storages' collectstatic (and
Collectfast), on the same files, against the same S3 server (issue 15).

    python benchmarks/publish_bench.py [--quick] [--runs N] [--size N] [--no-collectfast]

The server is moto's standalone S3 server on 127.0.0.1, started here; every
request is counted *server-side* (a WSGI middleware around moto's app), per
bucket, operation and HTTP method, so every tool is counted the same way. Each
tool publishes into a bucket of its own, below ``static/``:

- **django-storages**: ``collectstatic --noinput`` with
  ``storages.backends.s3.S3ManifestStaticStorage`` (hashed names and
  staticfiles.json, like for like), in a child process;
- **Collectfast**: the same with Collectfast's ``collectstatic``
  (``Boto3Strategy``, a dedicated file-based cache, 8 threads), if it runs;
- **staticpipe**: ``doit collect`` then ``doit publish`` in a temp project
  (pyproject.toml with a ``publish`` table), each a child process.

Steps, on the same sources: the first publish (empty bucket; a fresh build),
a re-publish with no change, a re-publish after one edited CSS file (bench.py's
edit). Wall time and peak RSS of each child from ``os.wait4`` (bench.py's
``measure``). The real trees by default; ``--quick``: a generated ~1,000-file
tree, RESULTS.md not written. Otherwise the report is appended to
benchmarks/RESULTS.md as a new section.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import realtrees  # noqa: E402
from bench import (  # noqa: E402
    ChildFailed,
    Sample,
    Staticpipe,
    Trash,
    Tree,
    byte_compile,
    fmt_seconds,
    generated_tree,
    log,
    machine,
    measure,
    real_tree,
    report_missed,
)

STEPS = ("first", "noop", "css")
STEP_LABELS = {
    "first": "first publish (empty bucket, fresh build)",
    "noop": "no-change re-publish",
    "css": "re-publish, 1 CSS file edited",
}
TIME_TARGET = 0.3  # first publish: staticpipe <= 0.3 x django-storages' time
REQUEST_TARGET = 5.0  # ... with >= 5 x fewer requests
LOCATION = "static"  # AWS_LOCATION, and the publish prefix
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
ADMIN_AGENT = "publish-bench-admin"  # the benchmark's own requests: not counted
RECORDS = ".staticpipe/builds/"  # staticpipe's build records, below the prefix
COLLECTFAST_THREADS = 8  # as staticpipe's default publish.workers
QUICK_SIZE = 100  # django-storages takes ~70 s per step on 1,000 files against moto


# -- counting requests at the server ------------------------------------------------


BUCKET_GETS = {
    "list-type": "ListObjectsV2",
    "location": "GetBucketLocation",
    "uploads": "ListMultipartUploads",
    "versions": "ListObjectVersions",
}
UPLOADS = ("PutObject", "CreateMultipartUpload", "CopyObject")


def operation(method: str, key: str, query: dict[str, list[str]], copy: bool) -> str:
    """The S3 operation of a path-style request (``key`` empty: a bucket's)."""
    if not key:
        if method == "GET":
            return next((op for flag, op in BUCKET_GETS.items() if flag in query), "ListObjects")
        if method == "POST" and "delete" in query:
            return "DeleteObjects"
        return {"HEAD": "HeadBucket", "PUT": "CreateBucket", "DELETE": "DeleteBucket"}.get(
            method, f"{method} bucket"
        )
    if method == "PUT":
        if "partNumber" in query:
            return "UploadPart"
        return "CopyObject" if copy else "PutObject"
    if method == "POST":
        return "CreateMultipartUpload" if "uploads" in query else "CompleteMultipartUpload"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in query else "DeleteObject"
    return {"GET": "GetObject", "HEAD": "HeadObject"}.get(method, f"{method} object")


@dataclass
class Traffic:
    """What one bucket received: requests by operation and by HTTP method, the
    keys uploaded, listing passes (ListObjectsV2 without a continuation token)."""

    operations: collections.Counter[str] = field(default_factory=collections.Counter)
    methods: collections.Counter[str] = field(default_factory=collections.Counter)
    uploads: list[str] = field(default_factory=list)
    listing_passes: int = 0
    bytes_in: int = 0

    @property
    def total(self) -> int:
        return sum(self.operations.values())

    def add(self, other: Traffic) -> None:
        self.operations.update(other.operations)
        self.methods.update(other.methods)
        self.uploads += other.uploads
        self.listing_passes += other.listing_passes
        self.bytes_in += other.bytes_in

    def to_json(self) -> str:
        return json.dumps({
            "operations": dict(self.operations), "methods": dict(self.methods),
            "uploads": self.uploads, "listing_passes": self.listing_passes,
            "bytes_in": self.bytes_in,
        })  # fmt: skip

    @classmethod
    def from_json(cls, text: bytes) -> Traffic:
        data = json.loads(text)
        return cls(
            collections.Counter(data["operations"]), collections.Counter(data["methods"]),
            data["uploads"], data["listing_passes"], data["bytes_in"],
        )  # fmt: skip

    def by_operation(self) -> str:
        return ", ".join(f"{op} {n:,}" for op, n in self.operations.most_common())

    def by_method(self) -> str:
        return ", ".join(f"{m} {n:,}" for m, n in self.methods.most_common())


class CountingApp:
    """moto's WSGI app behind a counter: every request is counted by bucket
    before moto sees it, except the benchmark's own (``/__bench__/...``, and
    requests whose User-Agent carries ``ADMIN_AGENT``)."""

    def __init__(self, app: Callable[..., Any], endpoint: str):
        self.app, self.endpoint = app, endpoint
        self.lock = threading.Lock()
        self.traffic: dict[str, Traffic] = collections.defaultdict(Traffic)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "/")
        if path.startswith("/__bench__/"):
            query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
            body = self.admin(path.removeprefix("/__bench__/"), query)
            start_response("200 OK", [("Content-Length", str(len(body)))])
            return [body]
        if ADMIN_AGENT not in environ.get("HTTP_USER_AGENT", ""):
            self.count(environ)
        return self.app(environ, start_response)

    def count(self, environ: dict[str, Any]) -> None:
        method = environ["REQUEST_METHOD"]
        bucket, _, key = environ.get("PATH_INFO", "/").lstrip("/").partition("/")
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        op = operation(method, key, query, "HTTP_X_AMZ_COPY_SOURCE" in environ)
        with self.lock:
            traffic = self.traffic[bucket]
            traffic.operations[op] += 1
            traffic.methods[method] += 1
            traffic.bytes_in += int(environ.get("CONTENT_LENGTH") or 0)
            if op in UPLOADS:
                traffic.uploads.append(key)
            if op == "ListObjectsV2" and "continuation-token" not in query:
                traffic.listing_passes += 1

    def admin(self, command: str, query: dict[str, str]) -> bytes:
        """The benchmark's side door: take (and forget) a bucket's traffic,
        create a bucket, read an object, count a bucket's objects."""
        if command == "take":
            with self.lock:
                return self.traffic.pop(query["bucket"], Traffic()).to_json().encode()
        client = self.client()
        if command == "bucket":
            client.create_bucket(Bucket=query["bucket"])
            return b"{}"
        if command == "get":
            return client.get_object(Bucket=query["bucket"], Key=query["key"])["Body"].read()
        if command == "count":
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=query["bucket"])
            return str(sum(len(page.get("Contents", ())) for page in pages)).encode()
        raise ValueError(command)

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            config=Config(user_agent_extra=ADMIN_AGENT),
        )  # fmt: skip


def server_child() -> int:
    """moto's ThreadedMotoServer on 127.0.0.1 (a free port), counting; prints
    its endpoint, serves until stdin closes (run in a child process, so that
    its memory is not the benchmark's: a child's peak RSS from wait4 is at
    least that of the process that spawned it)."""
    import logging

    import moto.backends
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    # moto looks for a request's service in a fresh os.listdir() and a stat of
    # each of its ~180 packages, on every request (half of a PutObject's time
    # in moto): list them once.
    modules = frozenset(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: modules
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    wsgi = server._server  # werkzeug's server looks up .app on every request
    wsgi.app = CountingApp(wsgi.app, endpoint)
    print(endpoint, flush=True)
    sys.stdin.read()
    server.stop()
    return 0


class CountingServer:
    """The server child, and the benchmark's requests to its side door."""

    def start(self) -> None:
        command = [sys.executable, str(Path(__file__).resolve()), "_server"]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.endpoint = self.process.stdout.readline().strip()
        if not self.endpoint.startswith("http://"):
            raise RuntimeError("the S3 server did not start")

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)

    def admin(self, command: str, **query: str) -> bytes:
        url = f"{self.endpoint}/__bench__/{command}?{urlencode(query)}"
        with urllib.request.urlopen(url, timeout=600) as response:
            return response.read()

    def take(self, bucket: str) -> Traffic:
        """What ``bucket`` received since the last take (the server forgets it)."""
        return Traffic.from_json(self.admin("take", bucket=bucket))

    def new_bucket(self, name: str) -> str:
        self.admin("bucket", bucket=name)
        return name

    def get(self, bucket: str, key: str) -> bytes | None:
        try:
            return self.admin("get", bucket=bucket, key=key)
        except urllib.error.HTTPError:
            return None

    def count(self, bucket: str) -> int:
        return int(self.admin("count", bucket=bucket))


# -- the Django child -----------------------------------------------------------------


def django_settings(options: dict[str, Any]) -> dict[str, Any]:
    """django-storages' S3ManifestStaticStorage (and Collectfast's settings)."""
    settings: dict[str, Any] = {
        "DEBUG": False,
        "SECRET_KEY": "bench",
        "INSTALLED_APPS": ["django.contrib.staticfiles"],
        "STATIC_URL": "/static/",
        "STATICFILES_DIRS": options["dirs"],
        "STATICFILES_FINDERS": ["django.contrib.staticfiles.finders.FileSystemFinder"],
        "STORAGES": {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "storages.backends.s3.S3ManifestStaticStorage"},
        },
        "AWS_STORAGE_BUCKET_NAME": options["bucket"],
        "AWS_S3_ENDPOINT_URL": options["endpoint"],
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_LOCATION": LOCATION,
    }
    if options.get("collectfast"):
        settings["INSTALLED_APPS"] = ["collectfast", "django.contrib.staticfiles"]
        settings["COLLECTFAST_STRATEGY"] = "collectfast.strategies.boto3.Boto3Strategy"
        settings["COLLECTFAST_THREADS"] = COLLECTFAST_THREADS
        settings["COLLECTFAST_CACHE"] = "collectfast"
        settings["CACHES"] = {
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            "collectfast": {  # as Collectfast's README asks: dedicated, persistent
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": options["cache"],
                "TIMEOUT": None,
                "OPTIONS": {"MAX_ENTRIES": 10_000_000},
            },
        }
    return settings


def django_child(options_file: str) -> int:
    """``collectstatic --noinput`` to S3 (run in a child process)."""
    import django
    from django.conf import settings

    settings.configure(**django_settings(json.loads(Path(options_file).read_text())))
    django.setup()
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    return 0


# -- the tools --------------------------------------------------------------------------


@dataclass
class Measurement:
    seconds: float
    rss_mb: float
    traffic: Traffic
    parts: dict[str, Sample] = field(default_factory=dict)  # staticpipe: collect, publish
    uploaded_expected: set[str] | None = None  # staticpipe: what should have gone up


class DjangoS3:
    """collectstatic with django-storages' S3ManifestStaticStorage (or Collectfast's)."""

    def __init__(self, name: str, work: Path, dirs: list[Path], collectfast: bool = False):
        self.name, self.work, self.dirs, self.collectfast = name, work, dirs, collectfast
        self.bucket = ""
        work.mkdir(parents=True, exist_ok=True)

    def reset(self, server: CountingServer, bucket: str, trash: Trash) -> None:
        """A fresh bucket (and, for Collectfast, an empty cache)."""
        self.bucket = server.new_bucket(bucket)
        cache = self.work / "cache"
        trash.put(cache)
        options = {
            "bucket": self.bucket, "endpoint": server.endpoint,
            "dirs": [str(d) for d in self.dirs], "collectfast": self.collectfast,
            "cache": str(cache),
        }  # fmt: skip
        (self.work / "options.json").write_text(json.dumps(options))

    def run(self, server: CountingServer) -> Measurement:
        command = [sys.executable, str(Path(__file__).resolve()), "_django"]
        sample = measure([*command, str(self.work / "options.json")])
        return Measurement(sample.seconds, sample.rss_mb, server.take(self.bucket))


class StaticpipePublish(Staticpipe):
    """bench.py's staticpipe project, with a publish table: ``doit collect``,
    then ``doit publish``, each a child process."""

    name = "staticpipe"

    def __init__(self, project: Path, dirs: list[Path], trash: Trash):
        super().__init__(project, dirs, trash)
        self.config = (project / "pyproject.toml").read_text()
        self.bucket = ""

    def reset_bucket(self, server: CountingServer, bucket: str) -> None:
        self.bucket = server.new_bucket(bucket)
        (self.project / "pyproject.toml").write_text(
            self.config + f'publish = {{ url = "s3://{self.bucket}/{LOCATION}/", '
            f'endpoint_url = "{server.endpoint}" }}\n'
        )

    def publish_run(self, server: CountingServer) -> Measurement:
        before = files_md5(self.root)
        collect = measure([sys.executable, "-m", "doit", "collect"], cwd=self.project)
        collect_traffic = server.take(self.bucket)
        after = files_md5(self.root)
        publish = measure([sys.executable, "-m", "doit", "publish"], cwd=self.project)
        traffic = server.take(self.bucket)
        traffic.add(collect_traffic)  # none expected: collect does not talk to S3
        changed = {name for name, digest in after.items() if before.get(name) != digest}
        return Measurement(
            collect.seconds + publish.seconds,
            max(collect.rss_mb, publish.rss_mb),
            traffic,
            parts={"collect": collect, "publish": publish},
            uploaded_expected=changed,
        )


def files_md5(root: Path) -> dict[str, str]:
    """Every file below ``root`` (POSIX names) and its md5."""
    found = {}
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                digest = hashlib.file_digest(handle, "md5").hexdigest()
            found[os.path.relpath(path, root).replace(os.sep, "/")] = digest
    return found


# -- one run of every step ------------------------------------------------------------------


@dataclass
class Result:
    tree: Tree
    measurements: dict[str, dict[str, list[Measurement]]] = field(default_factory=dict)
    objects: dict[str, int] = field(default_factory=dict)  # per tool, after the first publish
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, tool: str, step: str, measurement: Measurement) -> None:
        self.measurements.setdefault(tool, {}).setdefault(step, []).append(measurement)

    def has(self, tool: str, step: str) -> bool:
        return bool(self.measurements.get(tool, {}).get(step))

    def seconds(self, tool: str, step: str) -> float:
        return statistics.median(m.seconds for m in self.measurements[tool][step])

    def part(self, step: str, part: str) -> float:
        return statistics.median(
            m.parts[part].seconds for m in self.measurements["staticpipe"][step]
        )

    def rss(self, tool: str, step: str) -> float:
        return statistics.median(m.rss_mb for m in self.measurements[tool][step])

    def requests(self, tool: str, step: str) -> int:
        return int(statistics.median(m.traffic.total for m in self.measurements[tool][step]))

    def first(self, tool: str, step: str) -> Measurement:
        return self.measurements[tool][step][0]


def remote_name(key: str) -> str:
    return key.removeprefix(LOCATION + "/")


def check_staticpipe(result: Result, step: str, rep: int, measured: Measurement) -> None:
    """Issue 15's promises: no change -> one listing pass, nothing else; otherwise
    only the changed files (the manifest among them) and one build record go up."""
    traffic, where = measured.traffic, f"run {rep + 1}, {STEP_LABELS[step]}"
    names = [remote_name(key) for key in traffic.uploads]
    records = [name for name in names if name.startswith(RECORDS)]
    files = {name for name in names if not name.startswith(RECORDS)}
    expected = measured.uploaded_expected or set()
    if traffic.listing_passes != 1:
        result.problems.append(f"{where}: {traffic.listing_passes} listing passes, not 1")
    if step == "noop":
        others = {op: n for op, n in traffic.operations.items() if op != "ListObjectsV2"}
        if others or names:
            result.problems.append(f"{where}: requests besides the listing: {others}")
        return
    if len(names) != len(set(names)):
        result.problems.append(f"{where}: some files uploaded more than once")
    if files != expected:
        extra, missing = sorted(files - expected)[:5], sorted(expected - files)[:5]
        result.problems.append(
            f"{where}: uploaded {len(files)} files, {len(expected)} changed "
            f"(extra {extra}, missing {missing})"
        )
    if "staticfiles.json" not in files or (names and names[-2:-1] != ["staticfiles.json"]):
        result.problems.append(f"{where}: staticfiles.json not uploaded last before the record")
    if len(records) != 1:
        result.problems.append(f"{where}: {len(records)} build records uploaded, not 1")


def check_manifests(result: Result, server: CountingServer, tools: list[Any], where: str) -> None:
    """Like for like: every tool's remote staticfiles.json holds the same bytes."""
    key = f"{LOCATION}/staticfiles.json"
    manifests = {tool.name: server.get(tool.bucket, key) for tool in tools}
    reference = manifests.get("staticpipe")
    for name, body in manifests.items():
        if body != reference:
            result.problems.append(f"{where}: {name}'s remote staticfiles.json != staticpipe's")


def run_step(step: str, rep: int, tools: list[Any], server: CountingServer, result: Result) -> None:
    for tool in tools:
        try:
            if isinstance(tool, StaticpipePublish):
                measured = tool.publish_run(server)
                check_staticpipe(result, step, rep, measured)
            else:
                measured = tool.run(server)
        except ChildFailed as error:
            if tool.name != "Collectfast":
                raise
            result.notes.append(f"Collectfast failed ({STEP_LABELS[step]}): {error}")
            log(f"  Collectfast FAILED: {str(error)[-800:]}")
            tools.remove(tool)  # the remaining steps without it
            server.take(tool.bucket)
            continue
        result.add(tool.name, step, measured)
        log(
            f"  [{rep + 1}] {step:5} {tool.name:15} {measured.seconds:8.2f} s "
            f"{measured.traffic.total:7,} requests {measured.rss_mb:6.0f} MB"
        )


def bench(tree: Tree, work: Path, runs: int, collectfast: bool, server: CountingServer) -> Result:
    result = Result(tree)
    trash = Trash(work / "trash")
    django = DjangoS3("django-storages", work / "django-storages", tree.dirs)
    fast = DjangoS3("Collectfast", work / "collectfast", tree.dirs, collectfast=True)
    staticpipe = StaticpipePublish(work / "project", tree.dirs, trash)
    everyone: list[Any] = [django, *([fast] if collectfast else []), staticpipe]
    counter = 0
    for rep in range(runs):
        tools = list(everyone) if rep % 2 == 0 else everyone[::-1]  # alternate the order
        for tool in tools:
            bucket = f"{tool.name.lower()}-{rep}"
            if isinstance(tool, StaticpipePublish):
                tool.reset()
                tool.reset_bucket(server, bucket)
            else:
                tool.reset(server, bucket, trash)
        for step in STEPS:
            if step == "css":
                counter += 1
                tree.edit_css(counter)
            run_step(step, rep, tools, server, result)
            check_manifests(result, server, tools, f"run {rep + 1}, {STEP_LABELS[step]}")
            if step == "first" and rep == 0:
                for tool in tools:
                    result.objects[tool.name] = server.count(tool.bucket)
        everyone = [tool for tool in everyone if tool in tools]  # without a failed one
    return result


# -- reporting ----------------------------------------------------------------------------


def tool_names(result: Result) -> list[str]:
    return [t for t in ("django-storages", "Collectfast", "staticpipe") if t in result.measurements]


def table(result: Result) -> list[str]:
    lines = [
        "| step | tool | time (s) | requests | listing passes | by operation | by method "
        "| peak RSS (MB) |",
        "|---|---|---:|---:|---:|---|---|---:|",
    ]
    for step in STEPS:
        for tool in tool_names(result):
            if not result.has(tool, step):
                continue
            traffic = result.first(tool, step).traffic
            label = tool
            if tool == "staticpipe":
                label += (
                    f" (collect {fmt_seconds(result.part(step, 'collect'))} + publish "
                    f"{fmt_seconds(result.part(step, 'publish'))})"
                )
            lines.append(
                f"| {STEP_LABELS[step]} | {label} | {fmt_seconds(result.seconds(tool, step))} "
                f"| {result.requests(tool, step):,} | {traffic.listing_passes} "
                f"| {traffic.by_operation() or '—'} | {traffic.by_method() or '—'} "
                f"| {result.rss(tool, step):.0f} |"
            )
    return lines


def ratios(result: Result) -> list[str]:
    lines = [
        "| step | against | time: staticpipe / other | requests: other / staticpipe |",
        "|---|---|---:|---:|",
    ]
    for step in STEPS:
        for other in tool_names(result):
            if other == "staticpipe" or not result.has(other, step):
                continue
            time_ratio = result.seconds("staticpipe", step) / result.seconds(other, step)
            mine = result.requests("staticpipe", step)
            theirs = result.requests(other, step)
            fewer = f"{theirs / mine:.1f}×" if mine else "—"
            lines.append(f"| {STEP_LABELS[step]} | {other} | {time_ratio:.3f} | {fewer} |")
    return lines


def verdicts(result: Result, missed: list[str] | None = None) -> list[str]:
    """The targets, judged; each target missed is added to ``missed`` too."""
    out: list[str] = []

    def judge(ok: bool, text: str) -> None:
        out.append(f"- {text}: {'met' if ok else '**not met**'}")
        if not ok and missed is not None:
            missed.append(text)

    time_ratio = result.seconds("staticpipe", "first") / result.seconds("django-storages", "first")
    judge(time_ratio <= TIME_TARGET, f"first publish ≤ {TIME_TARGET} × django-storages' time "
          f"({time_ratio:.3f})")  # fmt: skip
    mine, theirs = (
        result.requests("staticpipe", "first"),
        result.requests("django-storages", "first"),
    )
    judge(
        theirs >= REQUEST_TARGET * mine,
        f"first publish with ≥ {REQUEST_TARGET:.0f}× fewer requests than django-storages "
        f"({theirs:,} / {mine:,} = {theirs / mine:.1f}×)",
    )
    noop = result.first("staticpipe", "noop").traffic
    judge(
        not [p for p in result.problems if STEP_LABELS["noop"] in p],
        f"no-change re-publish: one listing pass and no upload ({noop.listing_passes} pass, "
        f"{noop.by_operation()}, {len(noop.uploads)} uploads)",
    )
    edit = result.first("staticpipe", "css")
    changed = sorted(edit.uploaded_expected or ())
    judge(
        not [p for p in result.problems if STEP_LABELS["css"] in p],
        f"one edit uploads only the changed files and the manifest (and the build record): "
        f"{len(edit.traffic.uploads)} uploads = {len(changed)} changed files "
        f"({', '.join(f'`{name}`' for name in changed)}) + 1 record",
    )
    judge(
        not [p for p in result.problems if "staticfiles.json !=" in p],
        "every tool's remote staticfiles.json is byte-identical to staticpipe's after every step",
    )
    return out


def missed_targets(result: Result) -> list[str]:
    """The targets missed (``verdicts``' "**not met**"), as the report words them."""
    missed: list[str] = []
    verdicts(result, missed)
    return missed


def versions() -> str:
    names = ("boto3", "django-storages", "Collectfast", "moto")
    return ", ".join(f"{name} {metadata.version(name)}" for name in names)


def report(result: Result, runs: int, argv: list[str]) -> str:
    tree = result.tree
    command = " ".join(["python benchmarks/publish_bench.py", *argv])
    lines = [
        "## Publishing to S3 (issue 15): `doit collect && doit publish` against "
        "django-storages' collectstatic",
        "",
        f"`{command}` (`doit bench_publish`)",
        "",
        *machine(),
        f"- {versions()}",
        "- the server: moto's standalone S3 server (`ThreadedMotoServer`) on 127.0.0.1, in "
        "a child process of its own; requests counted server-side (a WSGI middleware around "
        "moto's app), per bucket, so every tool is counted the same way. One fresh bucket "
        "per tool and repetition, everything below `static/`",
        "- django-storages: `collectstatic --noinput` with "
        "`storages.backends.s3.S3ManifestStaticStorage`; Collectfast: its `collectstatic` "
        f"with `Boto3Strategy`, COLLECTFAST_THREADS = {COLLECTFAST_THREADS}, a dedicated "
        "file-based cache that persists between runs (as its README recommends); staticpipe: "
        "`doit collect` then `doit publish` (8 upload workers, the default), times summed. "
        "Each a fresh child process; wall time and peak RSS from `os.wait4`",
        f"- {'medians of ' + str(runs) + ' runs' if runs > 1 else 'one run'}; request "
        "breakdowns from the first run",
        "",
        f"### {tree.name}: {tree.files:,} files",
        "",
        f"Edited: `{tree.css.name}` (bench.py's CSS edit: {tree.note.split('; ')[-1]}). "
        "Objects in each bucket after the first publish: "
        + ", ".join(f"{tool} {count:,}" for tool, count in result.objects.items())
        + ".",
        "",
        *table(result),
        "",
        *ratios(result),
        "",
        "### Targets (issue 15)",
        "",
        *verdicts(result),
        "",
    ]
    for note in result.notes:
        lines += ["> " + note.replace("\n", "\n> "), ""]
    if result.problems:
        lines += ["### Problems found", "", *[f"- {p}" for p in result.problems], ""]
    return "\n".join(lines)


def real_subset(work: Path, exclude: list[str]) -> Tree:
    """bench.py's real trees, without the static dirs of the packages ``exclude`` names."""
    tree = real_tree(work)
    if exclude:
        kept = [d for d in tree.dirs if not any(name in d.parent.name for name in exclude)]
        tree.dirs[:] = kept
        tree.files = realtrees.count_files(kept)
        tree.name += f", without {', '.join(exclude)}"
    return tree


# -- main ---------------------------------------------------------------------------------


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="publish_bench.py", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a generated tree (--size, default 1,000) instead of the real trees; "
        "RESULTS.md not written",
    )
    parser.add_argument("--size", type=int, default=QUICK_SIZE, help="the --quick tree's size")
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="NAME",
        help="leave out the real trees' static dirs of this package "
        "(e.g. fontawesomefree); repeatable",
    )
    parser.add_argument("--runs", type=int, default=1, help="repetitions (default 1)")
    parser.add_argument("--no-collectfast", action="store_true", help="leave Collectfast out")
    parser.add_argument("--workdir", type=Path, help="where trees and projects go (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--output",
        type=Path,
        default=HERE / "RESULTS.md",
        help="the file the report is appended to",
    )
    parser.add_argument(
        "--write", action="store_true", help="append to RESULTS.md even with --quick"
    )
    parser.add_argument("--no-write", action="store_true", help="don't append to RESULTS.md")
    return parser.parse_args(argv)  # fmt: skip


def append(path: Path, text: str) -> None:
    existing = path.read_text() if path.exists() else ""
    path.write_text(existing.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_django"]:
        return django_child(argv[1])
    if argv[:1] == ["_server"]:
        return server_child()
    args = parse(argv)
    write = (args.write or not args.quick) and not args.no_write
    os.environ.update(CREDENTIALS)  # for every child: the server takes any key
    byte_compile()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="staticpipe-publish-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    server = CountingServer()
    server.start()
    try:
        tree = generated_tree(work, args.size) if args.quick else real_subset(work, args.exclude)
        log(f"{tree.name}: {tree.files:,} files, {args.runs} run(s), server {server.endpoint}")
        result = bench(tree, work, args.runs, not args.no_collectfast, server)
    except realtrees.RegistryUnavailable as error:
        log(f"real trees unavailable: {error}")
        return 1
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(work / "trash", ignore_errors=True)
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    text = report(result, args.runs, argv)
    print(text)
    if write:
        append(args.output, text)
        log(f"appended to {args.output}")
    missed = missed_targets(result)
    report_missed(missed)
    return 1 if result.problems or missed else 0


if __name__ == "__main__":
    sys.exit(main())
