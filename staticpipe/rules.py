"""What an up-to-date check needs to know of post-processing, without importing
it (and its regexes): where its state is, and the token of the settings that
change its output."""

from __future__ import annotations

from pathlib import Path

from .config import Config
from .hashing import md5_parts

RULES_VERSION = "4"  # bump when the rewriting rules change: old outputs are redone


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
