"""Which files are worth compressing, and which compressed results are kept.

WhiteNoise's rules, taken from WhiteNoise itself (``Compressor``'s skip list; it
is a dependency already) so the two cannot drift apart, plus a few formats that
are compressed already and that WhiteNoise's list misses (zstd siblings among
them: a ``.zst`` written beside a file is never compressed again).
"""

from __future__ import annotations

import functools

# Beyond WhiteNoise's list: compressed siblings (zstd), modern image formats,
# audio, archives. Skipping them changes no output (no result would be kept by
# the 95% rule) and saves a brotli-11 pass over files that cannot shrink.
EXTRA_SKIP_EXTENSIONS = (
    "zst",
    "avif",
    "heic",
    "jxl",
    "mp3",
    "ogg",
    "opus",
    "m4a",
    "aac",
    "flac",
    "7z",
    "rar",
)


@functools.cache
def skip_extensions() -> frozenset[str]:
    """WhiteNoise's skip list and ours, lower case (WhiteNoise is imported at the
    first question: a run that compresses nothing never loads it)."""
    from whitenoise.compress import Compressor

    return frozenset(
        ext.lower() for ext in (*Compressor.SKIP_COMPRESS_EXTENSIONS, *EXTRA_SKIP_EXTENSIONS)
    )


# WhiteNoise's ``is_compressed_effectively``: keep a result only if it is at most
# 95% of the original (an empty file never qualifies).
MAX_RATIO = 0.95


def compressible(name: str) -> bool:
    """Whether ``name`` (a relative POSIX name) is worth trying: its extension,
    case-insensitively, is not on the skip list. As WhiteNoise's regex on the
    file name: the extension is what follows the last dot of the last part."""
    base = name[name.rfind("/") + 1 :]
    dot = base.rfind(".")
    return dot < 0 or base[dot + 1 :].lower() not in skip_extensions()


def size_limit(original: int) -> int:
    """The largest compressed size kept for an ``original``-byte file (-1 for an
    empty one: nothing is kept). The same comparison as WhiteNoise's
    ``compressed / original <= 0.95``, in floats as there, so the edge agrees."""
    if original <= 0:
        return -1
    limit = int(original * MAX_RATIO)
    while (limit + 1) / original <= MAX_RATIO:  # float rounding at the edge
        limit += 1
    while limit >= 0 and limit / original > MAX_RATIO:
        limit -= 1
    return limit


def worth_keeping(original: int, compressed: int) -> bool:
    """WhiteNoise's rule: the compressed file is at most 95% of the original."""
    return compressed <= size_limit(original)
