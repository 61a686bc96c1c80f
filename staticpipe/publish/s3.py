"""The object store, through boto3: one listing, uploads with their headers,
reads of build records, batched deletes. Every failure is one line naming the
bucket and key (``StaticpipeError``); credentials come from boto3's chain."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..config import Publish
from ..errors import ConfigError, StaticpipeError
from .etag import PART_SIZE

DELETE_BATCH = 1000  # DeleteObjects' limit


@dataclass(frozen=True)
class RemoteObject:
    etag: str
    size: int
    modified: float  # POSIX seconds


def _boto3() -> Any:
    try:
        import boto3
    except ImportError:
        raise ConfigError("publish needs boto3: pip install 'staticpipe[s3]'") from None
    return boto3


class Store:
    """The bucket and prefix of ``publish``; names are relative to the prefix."""

    def __init__(self, publish: Publish, session: Any = None):
        boto3 = _boto3()
        from botocore.config import Config as BotoConfig
        from botocore.exceptions import ProfileNotFound

        self.publish, self.bucket, self.prefix = publish, publish.bucket, publish.prefix
        try:
            session = session or boto3.session.Session(profile_name=publish.profile)
        except ProfileNotFound:
            raise ConfigError(
                f"publish.profile = {publish.profile!r}: no such AWS profile"
            ) from None
        settings = BotoConfig(
            max_pool_connections=publish.workers + 2, retries={"mode": "standard"}
        )
        with self.errors(""):
            self.client = session.client(
                "s3", endpoint_url=publish.endpoint_url, region_name=publish.region,
                config=settings,
            )  # fmt: skip

    def url(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{name}"

    @contextmanager
    def errors(self, name: str, operation: str = "") -> Iterator[None]:
        """boto3's exceptions as one line naming the bucket and key."""
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            yield
        except NoCredentialsError:
            raise StaticpipeError(
                f"{self.url(name)}: no AWS credentials found (set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with an instance role)"
            ) from None
        except ClientError as error:
            raise StaticpipeError(self._client_error(name, operation, error)) from None
        except S3UploadFailedError as error:
            reason = str(error).rpartition(": ")[2] or str(error)
            raise StaticpipeError(f"{self.url(name)}: upload failed: {reason}") from None
        except BotoCoreError as error:
            raise StaticpipeError(f"{self.url(name)}: {_one_line(error)}") from None

    def _client_error(self, name: str, operation: str, error: Any) -> str:
        details = error.response.get("Error", {})
        code = str(details.get("Code", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        doing = f" ({operation})" if operation else ""
        if code == "NoSuchBucket" or (code == "404" and not name):
            return f"s3://{self.bucket}/: no such bucket"
        if code in ("AccessDenied", "403", "AllAccessDisabled") or status == 403:
            return f"{self.url(name)}: access denied{doing}"
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
            return f"{self.url(name)}: credentials refused: {code}{doing}"
        message = details.get("Message") or error
        return f"{self.url(name)}: {code or status}: {_one_line(message)}{doing}"

    def list(self) -> dict[str, RemoteObject]:
        """Every object below the prefix (one paginated ListObjectsV2 pass)."""
        found: dict[str, RemoteObject] = {}
        skip = len(self.prefix)
        with self.errors("", "ListObjectsV2"):
            pages = self.client.get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", ()):
                    found[item["Key"][skip:]] = RemoteObject(
                        etag=item["ETag"].strip('"'),
                        size=item["Size"],
                        modified=item["LastModified"].timestamp(),
                    )
        return found

    def upload(self, name: str, path: str, size: int, headers: dict[str, str]) -> None:
        """The file at ``path`` as ``name``: one PUT, or a multipart upload in
        ``PART_SIZE`` parts (the ETag ``etag.etag`` expects) for a large one."""
        key = self.prefix + name
        with self.errors(name, "PutObject"), _readable(path):
            if size < PART_SIZE:
                with open(path, "rb") as body:
                    self.client.put_object(Bucket=self.bucket, Key=key, Body=body, **headers)
            else:
                from boto3.s3.transfer import TransferConfig

                parts = TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE)
                self.client.upload_file(path, self.bucket, key, ExtraArgs=headers, Config=parts)

    def replace_headers(self, name: str, headers: dict[str, str]) -> None:
        """Store ``name`` again with ``headers``: a copy onto itself, server-side."""
        key = self.prefix + name
        with self.errors(name, "CopyObject"):
            self.client.copy_object(
                Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": key},
                MetadataDirective="REPLACE", **headers,
            )  # fmt: skip

    def put(self, name: str, data: bytes, headers: dict[str, str]) -> None:
        with self.errors(name, "PutObject"):
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + name, Body=data, **headers)

    def get(self, name: str) -> bytes | None:
        """The object's bytes; None if there is none."""
        from botocore.exceptions import ClientError

        with self.errors(name, "GetObject"):
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + name)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return None
                raise
            return response["Body"].read()

    def delete(self, names: list[str]) -> None:
        """Delete ``names``, up to a thousand per request; a refusal is an error."""
        for start in range(0, len(names), DELETE_BATCH):
            batch = names[start : start + DELETE_BATCH]
            with self.errors(batch[0], "DeleteObjects"):
                response = self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": self.prefix + n} for n in batch], "Quiet": True},
                )
            for problem in response.get("Errors", ()):
                name = problem.get("Key", "")[len(self.prefix) :]
                code = problem.get("Code", "")
                reason = (
                    "access denied"
                    if code == "AccessDenied"
                    else f"{code}: {problem.get('Message', '')}"
                )
                raise StaticpipeError(f"{self.url(name)}: cannot delete: {reason}")


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


@contextmanager
def _readable(path: str) -> Iterator[None]:
    try:
        yield
    except OSError as error:
        if isinstance(error, ConnectionError):
            raise
        raise StaticpipeError(f"{path}: cannot read: {error.strerror or error}") from None
