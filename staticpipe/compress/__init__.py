"""Precompression: ``name.gz``, ``name.br``, ``name.zst`` beside each compressible
file, as WhiteNoise writes them and as WhiteNoise, nginx's ``gzip_static`` /
``brotli_static`` and ``doit serve --collected`` serve them.

The core only, knowing nothing of doit or of the phases: ``config.py`` checks the
settings (``settings.compress_settings``), and the phase (``phases/compress.py``)
opens the cache in the state directory (``cache.CompressCache``) and hands each
batch of (name, md5) pairs to ``batch.compress_files``. The package imports
nothing itself: reading a configuration needs only ``settings``, not the
encoders' threads or WhiteNoise.

- ``encoders``: gzip (WhiteNoise's bytes), brotli, zstd, fed chunk by chunk
- ``rules``: which names are tried (WhiteNoise's skip list), which results kept (95%)
- ``stream``: one file through one encoder, its md5 checked on the way
- ``cache``: the content-addressed, size-bounded cache of results
- ``batch``: a batch on threads, each unique content compressed once
- ``settings``: the config keys, checked
"""
