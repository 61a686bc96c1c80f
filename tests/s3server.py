"""A real S3-protocol server on 127.0.0.1 (moto's standalone server), and a
boto3 session that counts the requests made through it (botocore's events)."""

from __future__ import annotations

import collections
import itertools
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
