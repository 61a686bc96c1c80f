"""What the other phases need to know of post-processing, without importing it
(and its regexes): where its state is and what an entry holds, the token of the
settings that change its output, and the word JS rewriting looks for."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from .config import Config
from .hashing import md5_parts

RULES_VERSION = "4"  # bump when the rewriting rules change: old outputs are redone

# The word every JS pattern's match contains (Django's: ``//# sourceMappingURL=``
# lines): a JS file without it has nothing to rewrite. The copy phase notes which
# copied JS files are ASCII without it, so post-processing need not read them.
JS_NEEDLE = "sourceMappingURL"


class Entry(NamedTuple):
    """Post-processing's record of one file (a tuple: tens of thousands are kept)."""

    md5: str  # of the collected original
    hashed: str  # the hashed name written
    plain: bool = False  # hashed from the md5 alone (its bytes are the original's)
    refs: tuple[str, ...] | None = None  # names a CSS/JS file references, if parsed
    raw: bool = False  # CSS/JS that could not be decoded: hashed as it is
    key: str | None = None  # what its output depends on (md5 + referenced hashed names)
    warnings: tuple[str, ...] = ()  # its rewrite's warnings, repeated when it is reused


# Field positions in a saved entry (saved as a plain tuple: see postprocess.load_state).
MD5, HASHED, PLAIN, REFS, RAW, KEY, WARNINGS = map(Entry._fields.index, Entry._fields)


def post_state_file(config: Config) -> Path:
    return config.state_path / "postprocess.state"


def settings_token(config: Config) -> str:
    return md5_parts(
        [
            RULES_VERSION,
            config.static_url,
            str(config.js_modules),
            config.missing,
            config.sourcemap_policy,
            config.encoding_errors,
        ]
    )
