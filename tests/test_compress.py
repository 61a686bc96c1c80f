"""Precompression core (staticpipe.compress): real files, real encoders, real
WhiteNoise as the yardstick; the cache proved by what it alone can produce."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import brotli
import pytest
import zstandard
from whitenoise.compress import Compressor

from staticpipe.compress.batch import compress_files, output_names
from staticpipe.compress.cache import CompressCache
from staticpipe.compress.rules import skip_extensions
from staticpipe.compress.settings import CompressSettings, compress_settings
from staticpipe.errors import StaticpipeError
from staticpipe.rewrite.hashing import CHUNK, md5_bytes

ALL = compress_settings(["gzip", "br", "zstd"])
CSS = b"".join(
    b".rule-%d { color: #%06x; margin: %dpx auto; }\n" % (i, i * 977, i % 40) for i in range(400)
)
JS = b"".join(b"function f%d(a, b) { return a * %d + b; }\n" % (i, i) for i in range(300))

DECOMPRESS = {
    ".gz": gzip.decompress,
    ".br": brotli.decompress,
    ".zst": lambda data: zstandard.ZstdDecompressor().decompress(data),
}


def tree(root: Path, files: dict[str, bytes]) -> list[tuple[str, str]]:
    """Write ``files`` under ``root``; their (name, md5) items, in that order."""
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return [(name, md5_bytes(data)) for name, data in files.items()]


def compressed_files(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.suffix in DECOMPRESS
    }


def cache_in(tmp_path: Path, max_bytes: int = 1 << 30) -> CompressCache:
    return CompressCache(tmp_path / "state" / "compress", max_bytes)


# -- the outputs -------------------------------------------------------------------
def test_every_encoding_decompresses_to_the_original_bytes(tmp_path):
    root = tmp_path / "static"
    items = tree(root, {"css/site.css": CSS, "js/app.js": JS, "empty.txt": b"x" * 100})
    result = compress_files(root, items, ALL, cache_in(tmp_path), workers=2)
    assert result.written == {
        name: (f"{name}.gz", f"{name}.br", f"{name}.zst") for name, _md5 in items
    }
    for output, data in compressed_files(root).items():
        original = output[: output.rfind(".")]
        assert DECOMPRESS[output[output.rfind(".") :]](data) == (root / original).read_bytes()


def test_a_file_of_many_read_chunks_streams_through_each_encoder_intact(tmp_path):
    root = tmp_path / "static"
    big = (CSS + JS) * (3 * CHUNK // len(CSS + JS) + 1)  # more than 3 read buffers
    items = tree(root, {"big.css": big})
    fast = compress_settings(["gzip", "br", "zstd"], {"gzip": 6, "br": 5, "zstd": 3})
    result = compress_files(root, items, fast, cache_in(tmp_path))
    assert len(result.written["big.css"]) == 3
    for suffix, decompress in DECOMPRESS.items():
        assert decompress((root / f"big.css{suffix}").read_bytes()) == big
    assert result.stats["gzip"].bytes_in == len(big)
    assert result.stats["br"].bytes_out == (root / "big.css.br").stat().st_size


def test_gzip_and_brotli_bytes_are_not_above_whitenoises_own_compressor(tmp_path):
    files = {"css/site.css": CSS, "js/app.js": JS, "tiny.txt": b"hello hello hello hello\n"}
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    items = tree(ours, files)
    tree(theirs, files)
    compress_files(ours, items, compress_settings(["gzip", "br"]), cache_in(tmp_path))
    compressor = Compressor(quiet=True)
    for name in files:
        compressor.compress(str(theirs / name))
    theirs_out, ours_out = compressed_files(theirs), compressed_files(ours)
    assert set(theirs_out) <= set(ours_out)  # every file WhiteNoise keeps, we keep
    for output, data in theirs_out.items():
        assert len(ours_out[output]) <= len(data), output
        assert ours_out[output] == data  # same levels, same parameters: the same bytes


def test_levels_are_applied_and_cached_apart(tmp_path):
    root = tmp_path / "static"
    items = tree(root, {"site.css": CSS})
    cache = cache_in(tmp_path)
    compress_files(root, items, compress_settings(["gzip"], {"gzip": 1}), cache)
    fast = (root / "site.css.gz").read_bytes()
    result = compress_files(root, items, compress_settings(["gzip"], {"gzip": 9}), cache)
    best = (root / "site.css.gz").read_bytes()
    assert result.stats["gzip"].compressed == 1  # level 9 is not level 1's entry
    assert gzip.decompress(fast) == gzip.decompress(best) == CSS
    assert len(best) < len(fast)


# -- which files ---------------------------------------------------------------------
def test_skip_list_files_and_compressed_siblings_get_no_outputs(tmp_path):
    root = tmp_path / "static"
    skipped = {
        "img/logo.png": CSS,  # compressible bytes, but a skipped type: not tried
        "img/LOGO.JPG": CSS,
        "fonts/a.woff2": CSS,
        "css/site.css.gz": gzip.compress(CSS),
        "css/site.css.br": CSS,
        "css/site.css.zst": CSS,
    }
    items = tree(root, {**skipped, "css/site.css": CSS})
    result = compress_files(root, items, ALL, cache_in(tmp_path))
    assert result.skipped == len(skipped)
    assert list(result.written) == ["css/site.css"]
    assert not (root / "css/site.css.gz.gz").exists()
    assert not (root / "img/logo.png.gz").exists()
    assert set(Compressor.SKIP_COMPRESS_EXTENSIONS) <= skip_extensions()
    assert output_names("img/logo.png", ALL) == ()
    assert output_names("a.css", ALL) == ("a.css.gz", "a.css.br", "a.css.zst")


def test_random_bytes_are_not_kept_and_the_verdict_is_cached(tmp_path):
    root = tmp_path / "static"
    noise = os.urandom(50_000)
    items = tree(root, {"data.bin": noise, "empty.txt": b""})
    (root / "data.bin.gz").write_bytes(b"stale output of an earlier content")
    cache = cache_in(tmp_path)
    result = compress_files(root, items, ALL, cache)
    assert result.written == {}
    assert result.removed == ["data.bin.gz"]  # stale: it would be served for the new bytes
    assert compressed_files(root) == {}
    assert all(stats.not_worth_it == 2 for stats in result.stats.values())
    again = compress_files(root, items, ALL, cache)
    assert again.compressed == 0 and again.from_cache == 6  # "not worth it" remembered
    assert again.written == {}


def test_an_output_never_overwrites_a_collected_file_of_that_name(tmp_path):
    root = tmp_path / "static"
    shipped = b"a precompressed file shipped with the sources"
    items = tree(root, {"site.css": CSS, "site.css.gz": shipped})
    result = compress_files(root, items, ALL, cache_in(tmp_path), protected={"site.css.gz"})
    assert (root / "site.css.gz").read_bytes() == shipped
    assert result.protected == ["site.css.gz"]
    assert result.written == {"site.css": ("site.css.br", "site.css.zst")}


# -- each content once ---------------------------------------------------------------
def test_each_unique_content_is_compressed_once_and_linked_to_its_other_names(tmp_path):
    root = tmp_path / "static"
    items = tree(
        root,
        {
            "css/site.css": CSS,
            "css/site.0123456789ab.css": CSS,
            "vendor/site.css": CSS,
            "js/app.js": JS,
            "js/app.ba9876543210.js": JS,
        },
    )
    result = compress_files(root, items, ALL, cache_in(tmp_path), workers=2)
    for stats in result.stats.values():
        assert (stats.compressed, stats.from_cache, stats.files) == (2, 0, 5)
    for suffix in DECOMPRESS:
        copies = [root / f"{name}{suffix}" for name in ("css/site.css", "vendor/site.css")]
        copies.append(root / f"css/site.0123456789ab.css{suffix}")
        assert len({path.stat().st_ino for path in copies}) == 1  # one file, three names


def test_a_name_arriving_after_its_content_was_compressed_gets_a_link(tmp_path):
    root = tmp_path / "static"
    files = {"first.css": CSS, **{f"other{i}.js": JS + b"//%d\n" % i for i in range(12)}}
    files["later.css"] = CSS  # same content, after a dozen others went through
    items = tree(root, files)
    result = compress_files(root, items, compress_settings(["gzip"]), cache_in(tmp_path), workers=1)
    assert result.stats["gzip"].compressed == 13
    assert (root / "later.css.gz").stat().st_ino == (root / "first.css.gz").stat().st_ino


def test_after_static_root_is_wiped_everything_comes_from_the_cache(tmp_path):
    root = tmp_path / "static"
    files = {"css/site.css": CSS, "css/site.0123456789ab.css": CSS, "js/app.js": JS}
    items = tree(root, files)
    cache = cache_in(tmp_path)
    compress_files(root, items, ALL, cache)
    before = compressed_files(root)
    shutil.rmtree(root)
    # The sources come back with other bytes under the same md5s: reading them to
    # compress would fail the md5 check, so equal outputs can only be the cache's.
    tree(root, {name: b"/* not the content the md5 names */" for name in files})
    cache = cache_in(tmp_path)  # a new run opens the cache again
    result = compress_files(root, items, ALL, cache)
    assert result.compressed == 0
    assert result.from_cache == 2 * 3  # two contents, three encodings
    assert compressed_files(root) == before


def test_a_file_that_changed_since_it_was_hashed_is_an_error_and_nothing_is_cached(tmp_path):
    root = tmp_path / "static"
    tree(root, {"site.css": CSS})
    cache = cache_in(tmp_path)
    with pytest.raises(StaticpipeError, match="site.css: changed while being compressed"):
        compress_files(root, [("site.css", md5_bytes(b"other"))], ALL, cache)
    assert cache.usage().entries == 0
    assert os.listdir(cache.directory + "/tmp") == []
    assert compressed_files(root) == {}


# -- the cache -----------------------------------------------------------------------
def test_the_cache_stays_within_its_bound(tmp_path):
    root = tmp_path / "static"
    files = {f"f{i}.css": CSS + b"/* %d */" % i for i in range(20)}
    items = tree(root, files)
    one_entry = len(gzip.compress(CSS)) + 300
    cache = cache_in(tmp_path, max_bytes=5 * one_entry)
    result = compress_files(root, items, compress_settings(["gzip"]), cache)
    assert result.evicted >= 15
    assert 0 < cache.usage().bytes <= 5 * one_entry
    assert len(result.written) == 20  # the outputs stay, whatever the cache evicts


def test_the_caches_running_count_agrees_with_a_scan(tmp_path):
    root = tmp_path / "static"
    cache = cache_in(tmp_path)
    first = tree(root, {"a.css": CSS, "noise.bin": os.urandom(5000)})
    compress_files(root, first, ALL, cache)
    assert cache.counted() == cache.usage().bytes  # counted by the first scan
    more = tree(root, {"b.js": JS})
    compress_files(root, more, ALL, cache)
    assert cache.counted() == cache.usage().bytes  # brought up to date without one


def test_the_cache_evicts_the_least_recently_used_first(tmp_path):
    root = tmp_path / "static"
    gz = compress_settings(["gzip"])
    items = tree(root, {f"f{i}.css": CSS + b"/* %d */" % i for i in range(4)})
    cache = cache_in(tmp_path)
    compress_files(root, items, gz, cache)
    (coding,) = gz.codings
    for age, (_name, md5) in enumerate(items):  # f0 oldest ... f3 newest
        os.utime(cache.path(md5, coding), ns=(10**18 + age * 10**9,) * 2)
    assert cache.lookup(items[0][1], coding) is not None  # f0 used now: the newest
    cache.max_bytes = cache.usage().bytes - 1  # over by one byte: evict to 90%
    assert cache.trim() == 1
    assert cache.lookup(items[1][1], coding) is None  # f1 was the least recently used
    assert all(cache.lookup(md5, coding) for _name, md5 in (items[0], items[2], items[3]))


def test_no_temp_files_are_left_and_a_killed_runs_are_swept(tmp_path):
    root = tmp_path / "static"
    items = tree(root, {"site.css": CSS, "app.js": JS})
    cache = cache_in(tmp_path)
    compress_files(root, items, ALL, cache, workers=2)
    compress_files(root, items, ALL, cache, workers=2)  # replacing outputs in place
    assert sorted(os.listdir(root)) == sorted(
        [name for name, _ in items] + [out for name, _ in items for out in output_names(name, ALL)]
    )
    assert os.listdir(Path(cache.directory) / "tmp") == []
    left = Path(cache.directory) / "tmp" / "123.4.tmp"
    left.write_bytes(b"half an entry of a killed run")
    cache_in(tmp_path)
    assert not left.exists()


# -- settings ------------------------------------------------------------------------
def test_settings_default_to_whitenoises_levels():
    settings = compress_settings(["gzip", "br"])
    assert settings.token() == "gzip-9 br-11"
    assert settings.encodings == ("gzip", "br")
    assert compress_settings([]) == CompressSettings()
    assert not CompressSettings().enabled
    assert compress_settings(["zstd"], {"zstd": 3}).token() == "zstd-3"


@pytest.mark.parametrize(
    ("compress", "levels", "cache_bytes", "key"),
    [
        ("gzip", None, None, "compress"),
        (["gzip", "lzma"], None, None, "compress"),
        (["gzip", "gzip"], None, None, "compress"),
        (["gzip"], {"gzip": 10}, None, "compress_levels.gzip"),
        (["br"], {"br": True}, None, "compress_levels.br"),
        (["br"], {"lzma": 1}, None, "compress_levels"),
        (["br"], [9], None, "compress_levels"),
        (["br"], None, -1, "compress_cache_bytes"),
    ],
)
def test_a_bad_setting_is_a_one_line_error_naming_key_and_value(compress, levels, cache_bytes, key):
    with pytest.raises(StaticpipeError) as caught:
        compress_settings(compress, levels, cache_bytes, where="pyproject.toml")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"pyproject.toml: {key} = ")


def test_a_missing_optional_package_is_a_one_line_error_naming_it_and_the_extra():
    script = (
        "import sys; sys.modules['brotli'] = None\n"  # what an uninstalled package looks like
        "from staticpipe.compress.settings import compress_settings\n"
        "compress_settings(['gzip', 'br'], where='pyproject.toml')\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode != 0
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("staticpipe.errors.ConfigError: pyproject.toml: compress = ")
    assert "brotli package" in last and "staticpipe[compress]" in last
