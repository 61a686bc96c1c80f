"""A real S3-protocol server on 127.0.0.1 (moto's standalone server), and a
boto3 session that counts the requests made through it (botocore's events)."""

from __future__ import annotations

import collections
import contextlib
import itertools
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import boto3

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
_buckets = itertools.count()


@dataclass
class Counted:
    """A boto3 Session whose clients count their requests, by operation."""

    session: boto3.session.Session = field(
        default_factory=lambda: boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
    )
    requests: collections.Counter = field(default_factory=collections.Counter)
    puts: list[str] = field(default_factory=list)  # keys, in the order they went up

    def __post_init__(self) -> None:
        self.session.events.register("before-call.s3", self._count)
        self.session.events.register("before-parameter-build.s3", self._put)

    def _count(self, model, **kwargs) -> None:
        self.requests[model.name] += 1

    def _put(self, model, params, **kwargs) -> None:
        if model.name in ("PutObject", "CreateMultipartUpload"):
            self.puts.append(params["Key"])

    def reset(self) -> None:
        self.requests.clear()
        self.puts.clear()

    @property
    def total(self) -> int:
        return sum(self.requests.values())


def client(endpoint: str):
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip


def new_bucket(endpoint: str) -> str:
    name = f"static-{next(_buckets)}"
    client(endpoint).create_bucket(Bucket=name)
    return name


def objects(endpoint: str, bucket: str) -> dict[str, bytes]:
    s3 = client(endpoint)
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", ()):
            found[item["Key"]] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


class Relay:
    """A TCP relay on 127.0.0.1 in front of a server's port: the network between
    a client and the store. ``cut()`` drops every connection and refuses new
    ones (a network failure mid-way); ``mend()`` lets them through again."""

    def __init__(self, port: int):
        self.port_behind, self.broken = port, False
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.open: set[socket.socket] = set()
        self.guard = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client_side, _ = self.listener.accept()
            except OSError:
                return
            if self.broken:
                client_side.close()
                continue
            server_side = socket.create_connection(("127.0.0.1", self.port_behind))
            with self.guard:
                self.open |= {client_side, server_side}
            for source, sink in ((client_side, server_side), (server_side, client_side)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.broken = True
        with self.guard:
            for end in self.open:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()
            self.open.clear()

    def mend(self) -> None:
        self.broken = False

    def close(self) -> None:
        self.cut()
        self.listener.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def server_with_iam(free_actions: int) -> Iterator[str]:
    """moto's server in a child process that checks IAM policies once its first
    ``free_actions`` requests (the setup: bucket, user, key, policy) are done."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(free_actions)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()
