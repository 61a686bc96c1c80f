"""Copies that appear whole: nameless files (O_TMPFILE) where the filesystem has
them, a temp name and a rename where it does not."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path

import pytest

from staticpipe.fs import fsutil


@pytest.fixture(params=["nameless", "named"])
def mode(request, monkeypatch) -> str:
    if request.param == "named":
        monkeypatch.setattr(fsutil, "_nameless", False)
    elif not fsutil._nameless:
        pytest.skip("no O_TMPFILE here")
    return request.param


def source(tmp_path: Path, data: bytes = b"body { color: red }\n" * 5000) -> Path:
    path = tmp_path / "src" / "a.css"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_copy_has_the_bytes_and_their_md5_and_leaves_no_temp_file(tmp_path, mode):
    src = source(tmp_path)
    dest = tmp_path / "out" / "css" / "a.css"
    digest, info, looked = fsutil.copy_hashing(str(src), str(dest))
    assert dest.read_bytes() == src.read_bytes()
    assert digest == hashlib.md5(src.read_bytes()).hexdigest()
    assert info.st_ino == src.stat().st_ino
    assert looked is None  # nothing asked
    assert os.listdir(dest.parent) == ["a.css"]


def test_copy_shows_a_one_chunk_file_whole_to_inspect(tmp_path, mode):
    seen: list[bytes] = []

    def inspect(data: bytes) -> bool:
        seen.append(data)
        return True

    small = source(tmp_path, b"var a = 1;\n" * 100)
    _, _, looked = fsutil.copy_hashing(str(small), str(tmp_path / "o" / "a.js"), inspect=inspect)
    assert looked is True and seen == [small.read_bytes()]
    big = source(tmp_path, b"x" * (fsutil.chunk_buffer().nbytes + 1))
    _, _, looked = fsutil.copy_hashing(str(big), str(tmp_path / "o" / "b.js"), inspect=inspect)
    assert looked is None and len(seen) == 1  # larger than a chunk: not shown


def test_copy_replaces_an_existing_file_with_a_new_one(tmp_path, mode):
    src = source(tmp_path)
    dest = tmp_path / "out" / "a.css"
    dest.parent.mkdir()
    dest.write_bytes(b"old")
    before = dest.stat().st_ino
    fsutil.copy_hashing(str(src), str(dest))
    assert dest.read_bytes() == src.read_bytes()
    assert dest.stat().st_ino != before  # replaced, never rewritten in place
    assert os.listdir(dest.parent) == ["a.css"]


def test_copy_gets_the_configured_file_mode(tmp_path, mode):
    src = source(tmp_path)
    dest = tmp_path / "out" / "a.css"
    fsutil.copy_hashing(str(src), str(dest), file_mode=0o640)
    assert dest.stat().st_mode & 0o777 == 0o640


def test_copy_remakes_a_directory_deleted_behind_its_back(tmp_path, mode):
    src = source(tmp_path)
    dest = tmp_path / "out" / "deep" / "a.css"
    fsutil.copy_hashing(str(src), str(dest))
    shutil.rmtree(tmp_path / "out")
    fsutil.copy_hashing(str(src), str(dest))
    assert dest.read_bytes() == src.read_bytes()


def test_copy_of_a_missing_source_leaves_nothing(tmp_path, mode):
    dest = tmp_path / "out" / "a.css"
    dest.parent.mkdir()
    with pytest.raises(FileNotFoundError):
        fsutil.copy_hashing(str(tmp_path / "nope.css"), str(dest))
    assert os.listdir(dest.parent) == []


@pytest.mark.parametrize("exists", [False, True])
def test_write_new_writes_or_replaces_whole(tmp_path, mode, exists):
    dest = tmp_path / "out" / "a.123.css"
    if exists:
        dest.parent.mkdir()
        dest.write_bytes(b"old")
    fsutil.write_new(str(dest), b"new bytes", file_mode=0o644)
    assert dest.read_bytes() == b"new bytes"
    assert dest.stat().st_mode & 0o777 == 0o644
    assert os.listdir(dest.parent) == ["a.123.css"]


def test_directory_mode_never_makes_other_threads_files_writable(tmp_path):
    """directory_permissions_mode without file_permissions_mode: new files keep the
    umask's mode even while other threads make directories (no umask juggling)."""
    from staticpipe import pipeline
    from staticpipe.config import Config, Location
    from staticpipe.options import RunOptions

    old = os.umask(0o022)
    try:
        for d in range(150):
            for f in range(4):
                path = tmp_path / "assets" / f"d{d}" / f"f{f}.txt"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(f"{d}-{f}")
        config = Config(
            static_root=tmp_path / "build",
            dirs=(Location(tmp_path / "assets"),),
            directory_permissions_mode=0o750,
            project_dir=tmp_path,
        )
        pipeline.run(config, RunOptions(workers=4), log=lambda message: None)
    finally:
        os.umask(old)
    files = [p for p in (tmp_path / "build").rglob("*") if p.is_file()]
    dirs = [p for p in (tmp_path / "build").rglob("*") if p.is_dir()]
    assert len(files) > 1200
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in files)
    assert all(p.stat().st_mode & 0o777 == 0o750 for p in dirs)


def test_a_forked_child_names_its_own_file(tmp_path, mode):
    fsutil.write_new(str(tmp_path / "parent.txt"), b"parent")
    held = os.open(tmp_path / "parent.txt", os.O_RDONLY)  # the parent holds some fd
    pid = os.fork()
    if pid == 0:  # the child frees that fd number, so its new file may get it
        os.close(held)
        try:
            fsutil.write_new(str(tmp_path / "child.txt"), b"child")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    os.close(held)
    assert (tmp_path / "child.txt").read_bytes() == b"child"


def test_symlink_remakes_a_directory_deleted_behind_its_back(tmp_path):
    src = source(tmp_path)
    dest = tmp_path / "out" / "deep" / "a.css"
    fsutil.symlink(str(src), str(dest))
    shutil.rmtree(tmp_path / "out")  # the process still remembers making out/deep
    fsutil.symlink(str(src), str(dest))
    assert os.readlink(dest) == str(src)
    assert os.listdir(dest.parent) == ["a.css"]


def test_linking_a_file_onto_a_link_of_itself_leaves_no_temp_file(tmp_path):
    source = tmp_path / "a.png"
    source.write_bytes(b"A")
    dest = tmp_path / "out" / "a.123456789abc.png"
    for mode in (None, 0o644):
        fsutil.link_or_copy(str(source), str(dest), mode)
        fsutil.link_or_copy(str(source), str(dest), mode)  # already that very file
        assert sorted(path.name for path in dest.parent.iterdir()) == [dest.name]
        assert dest.read_bytes() == b"A"


@pytest.mark.parametrize("source_mode", [0o640, 0o600])
def test_a_link_gets_the_configured_mode_whatever_its_source_had(tmp_path, source_mode):
    source = tmp_path / "a.png"
    source.write_bytes(b"A")
    os.chmod(source, source_mode)
    dest = tmp_path / "out" / "a.123456789abc.png"
    fsutil.link_or_copy(str(source), str(dest), 0o640)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o640
    assert dest.samefile(source) and dest.read_bytes() == b"A"
    assert os.listdir(dest.parent) == [dest.name]  # no temp name left
    fsutil.link_or_copy(str(source), str(dest), 0o640)  # already that very file
    assert os.listdir(dest.parent) == [dest.name]
