"""Precompression: ``name.gz``, ``name.br``, ``name.zst`` beside each compressible
file, as WhiteNoise writes them and as WhiteNoise, nginx's ``gzip_static`` /
``brotli_static`` and ``doit serve --collected`` serve them.

The core only, knowing nothing of doit or of the phases: the engine checks the
settings once (``compress_settings``), opens the cache in its state directory
(``CompressCache``) and hands each batch of (name, md5) pairs to
``compress_files``.

- ``encoders``: gzip (WhiteNoise's bytes), brotli, zstd, fed chunk by chunk
- ``rules``: which names are tried (WhiteNoise's skip list), which results kept (95%)
- ``stream``: one file through one encoder, its md5 checked on the way
- ``cache``: the content-addressed, size-bounded cache of results
- ``batch``: a batch on threads, each unique content compressed once
- ``settings``: the config keys, checked
"""

from __future__ import annotations

from .batch import CompressResult, EncodingStats, compress_files, output_names
from .cache import CompressCache, Hit, Usage
from .encoders import ENCODINGS, Encoding
from .rules import SKIP_EXTENSIONS, compressible, worth_keeping
from .settings import (
    DEFAULT_CACHE_BYTES,
    Coding,
    CompressSettings,
    compress_settings,
)

__all__ = [
    "DEFAULT_CACHE_BYTES",
    "ENCODINGS",
    "SKIP_EXTENSIONS",
    "Coding",
    "CompressCache",
    "CompressResult",
    "CompressSettings",
    "Encoding",
    "EncodingStats",
    "Hit",
    "Usage",
    "compress_files",
    "compress_settings",
    "compressible",
    "output_names",
    "worth_keeping",
]
