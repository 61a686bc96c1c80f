"""CSS/JS bytes as text, as Django reads them (UTF-8), or by a declared CSS @charset.

Pure: no file is read here. ``encoding_errors`` decides what a file that is
neither becomes: an error naming it, or ``Text(None)`` (collected unrewritten).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import DecodeError

_CHARSET = re.compile(rb'^@charset "([A-Za-z0-9_.:-]+)";')


@dataclass
class Text:
    text: str | None  # None: not rewritable (copied as is under encoding_errors="copy")
    encoding: str


_ASCII_BYTES = [bytes([byte]) for byte in range(128)]


def _ascii_compatible(encoding: str) -> bool:
    """ASCII bytes mean ASCII, one by one, as the @charset rule and the URL patterns
    assume: not UTF-16, UTF-7, EBCDIC or a Python-only codec (unicode_escape).
    Raises LookupError for an unknown encoding."""
    try:
        return all(byte.decode(encoding) == byte.decode("ascii") for byte in _ASCII_BYTES)
    except (UnicodeError, ValueError, TypeError):
        return False


def decode(data: bytes, name: str, where: Callable[[], str], policy: str) -> Text:
    """CSS/JS bytes as text: UTF-8 (as Django), else a declared CSS @charset.

    A declared charset is used only if it is ASCII-compatible and the text encodes
    back to exactly the original bytes (every byte outside a URL is kept).
    """
    try:
        return Text(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError as exc:
        detail = f"not valid utf-8 at byte offset {exc.start}"
    declared = _CHARSET.match(data) if name.endswith(".css") else None
    if declared:
        encoding = declared.group(1).decode("ascii")
        unusable = (
            f"; its @charset {encoding!r} cannot be used "
            "(not ASCII-compatible, or the bytes do not round-trip)"
        )
        try:
            if not _ascii_compatible(encoding):
                detail += unusable
            else:
                text = data.decode(encoding)
                if text.encode(encoding, "replace") == data:
                    return Text(text, encoding)
                detail += unusable
        except LookupError:
            detail = f"unknown @charset {encoding!r}"
        except UnicodeDecodeError as exc:
            detail = f"not valid {encoding} at byte offset {exc.start}"
    if policy == "copy":
        return Text(None, "")
    raise DecodeError(
        f'{where()}: {detail} (set encoding_errors = "copy" to collect it unrewritten)'
    )
