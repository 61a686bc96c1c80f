"""The HTTP headers a published file is stored with: its media type (WhiteNoise's
table, ``charset=utf-8`` for text, as WhiteNoise serves it), a long immutable
cache for hashed names, and ``Content-Encoding`` for a precompressed sibling
(``name.gz``, ``name.br``, ``name.zst``: the type of ``name``)."""

from __future__ import annotations

from functools import lru_cache

from whitenoise.media_types import MediaTypes

from ..config import Publish

ENCODINGS = {".gz": "gzip", ".br": "br", ".zst": "zstd"}


@lru_cache(maxsize=1)
def _media_types() -> MediaTypes:
    return MediaTypes()


def content_type(name: str) -> str:
    media_type = _media_types().get_type(name)
    return f"{media_type}; charset=utf-8" if media_type.startswith("text/") else media_type


def headers(name: str, hashed: bool, encoding: str | None, publish: Publish) -> dict[str, str]:
    """boto3's ``ExtraArgs`` for ``name`` (``encoding``: the sibling's
    ``Content-Encoding``; its type is that of the name it compresses)."""
    original = name[: name.rfind(".")] if encoding else name
    extra = {
        "ContentType": content_type(original),
        "CacheControl": publish.hashed_cache_control if hashed else publish.cache_control,
    }
    if encoding:
        extra["ContentEncoding"] = encoding
    return extra
