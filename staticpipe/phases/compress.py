"""Precompression as a phase: ``name.gz`` / ``name.br`` / ``name.zst`` beside each
compressible file of the build (its copy and its hashed file), as WhiteNoise's
``CompressedManifestStaticFilesStorage`` writes them.

Config key ``compress = ["gzip", "br"]`` (``compress_levels``, ``compress_cache_bytes``:
see compress/settings.py). The engine (engine/derived.py) hands this phase the
names whose files changed; each unique content is compressed once, and a content
compressed by any earlier run comes from the cache in the state directory
(compress/cache.py), even after ``--clear``.
"""

from __future__ import annotations

from ..compress.rules import compressible
from ..config import Config
from ..engine.derived import Derived, Item, Row, phase
from ..engine.run import Run
from ..rewrite.hashing import hashed_path, md5_file
from .cleanup import SIBLINGS


def _settings(config: Config) -> str | None:
    settings = config.compress
    return settings.token() if settings.enabled else None


def _describe(old: str, new: str) -> str:
    """A change of settings (tokens like ``gzip-9 br-11``), as the config words it:
    ``compress ['gzip'] -> ['gzip', 'br']``, ``compress levels br 11 -> 5``."""
    before = dict(key.rpartition("-")[::2] for key in old.split())
    after = dict(key.rpartition("-")[::2] for key in new.split())
    said = []
    if list(before) != list(after):
        said.append(f"compress {list(before)} -> {list(after)}")
    levels = [
        f"{name} {before[name]} -> {level}"
        for name, level in after.items()
        if name in before and before[name] != level
    ]
    if levels:
        said.append("compress levels " + ", ".join(levels))
    return "; ".join(said) or f"compress {old!r} -> {new!r}"


def _content_md5(run: Run, item: Item, fingerprint_md5: str, file: str) -> str:
    """The md5 of ``file``'s bytes: the copy's (in the fingerprint), which a hashed
    file named from it shares; a rewritten file's is read."""
    if file == item.name or file == hashed_path(item.name, fingerprint_md5):
        return fingerprint_md5
    return md5_file(run.static_base() + file)


def _build(run: Run, items: list[Item]) -> dict[str, Row]:
    # (the encoders and their thread pool: only in a run that compresses)
    from ..compress.batch import compress_files
    from ..compress.cache import CompressCache

    config = run.config
    settings = config.compress
    cache = CompressCache(config.state_path / "compress", settings.cache_max_bytes)
    pairs = []
    for item in items:
        md5 = item.fingerprint.partition(" ")[0]
        pairs.extend((file, _content_md5(run, item, md5, file)) for file in item.files)
    result = compress_files(
        config.static_root, pairs, settings, cache,
        workers=run.options.workers,
        file_mode=config.file_permissions_mode,
        dir_mode=config.directory_permissions_mode,
        protected=run.found,
    )  # fmt: skip
    run.summary.compressed = [*run.summary.compressed, *result.written]
    encodings = {coding.suffix: coding.name for coding in settings.codings}
    for file, outputs in result.written.items():  # (-v 2: options.file_lines)
        run.summary.encodings[file] = tuple(
            encodings.get(output[len(file) :], output) for output in outputs
        )
    return {
        item.name: Row(
            item.fingerprint,
            tuple(output for file in item.files for output in result.written.get(file, ())),
        )
        for item in items
    }


PHASE = phase(
    Derived(
        "compress",
        "Precompress each compressible file (gzip, brotli, zstd), each content once.",
        _settings,
        _build,
        describe=_describe,
        concerns=compressible,
        may_write=lambda file: tuple(file + suffix for suffix in SIBLINGS),
    )
)
