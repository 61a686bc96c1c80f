"""A failed run loses nothing (#17): the manifest in place and every file it names stay.

A full disk is simulated without root or a tmpfs: the run is a real ``doit
collect`` in a subprocess whose file size limit (``RLIMIT_FSIZE``) is ``LIMIT``,
with ``SIGXFSZ`` ignored, so that writing a file larger than that fails with
EFBIG (an OSError) as a write on a full disk fails with ENOSPC. The project's
small files are edited (CSS referencing each other and images, JS, an image)
and one file grows past the limit; the run must fail with a one-line error and
leave staticfiles.json and every file it names (keys and values) byte for byte
as they were; then a normal run gives what a clean build gives, plus old
versions the retire journal knows, and pruning every earlier build leaves
exactly the clean build.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from old_outputs import PRUNE_ALL, old_versions_problems
from projects import DEFAULT_CONFIG, Project, snapshot

from staticpipe.config import Config
from staticpipe.phases import undo

LIMIT = 1_000_000  # bytes: the largest file a limited run may write
MANIFEST = "staticfiles.json"


def _limited(limit: int):
    def apply() -> None:  # (in the child, before exec: both survive it)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def run_limited(project: Project, *args: str, limit: int = LIMIT) -> subprocess.CompletedProcess:
    """``doit collect ARGS`` unable to write a file larger than ``limit``."""
    assert_state_fits(project, limit)
    return subprocess.run(
        [sys.executable, "-m", "doit", "collect", *args],
        cwd=project.path,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limited(limit),
    )


def assert_state_fits(project: Project, limit: int) -> None:
    """The ledger and doit's database are far below the limit: the limited run
    fails writing the big file, not its state."""
    files = [path for path in project.state.rglob("*") if path.is_file()]
    files += list(project.path.glob(".staticpipe-doit.sqlite3*"))
    for path in files:
        assert path.stat().st_size < limit // 4, path


def small_site(project: Project, big: int = LIMIT // 2) -> None:
    project.write("css/base.css", "body { background: url(../img/bg.png); }\n")
    project.write(
        "css/site.css",
        '@import "base.css";\n.logo { background: url("../img/logo.png"); }\n',
    )
    project.write("css/pages/home.css", "@import '../site.css';\nh1 { color: red; }\n")
    project.write("img/bg.png", b"\x89PNG bg " * 20)
    project.write("img/logo.png", b"\x89PNG logo " * 20)
    project.write("js/app.js", "console.log('v1');\n")
    project.write("js/other.js", "console.log('other');\n")
    project.write("zz/big.bin", os.urandom(big))


def edit_small_files(project: Project) -> None:
    """Edits a failed run applies before its failure (each file a manifest key)."""
    project.write("css/base.css", "body { background: url(../img/bg.png); color: navy; }\n")
    project.write(
        "css/site.css",
        '@import "base.css";\n.logo { background: url("../img/logo.png"); margin: 0; }\n',
    )
    project.write("img/bg.png", b"\x89PNG bg v2 " * 20)
    project.write("js/app.js", "console.log('v2');\n")


def named_files(root: Path) -> dict[str, bytes | str]:
    """staticfiles.json and every file it names (keys and values), as they are."""
    files = snapshot(root)
    paths = json.loads(files[MANIFEST])["paths"]
    names = {MANIFEST, *paths, *paths.values()}
    return {name: files.get(name, "<missing>") for name in sorted(names)}


def assert_failed_cleanly(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], errors[0]


def areas(project: Project) -> tuple[str, str]:
    """Where a run keeps the previous build's files (undo.py)."""
    return undo.locations(Config(static_root=project.root, state_dir=project.state))


def kept(project: Project) -> list[str]:
    """The files an undo area holds (its identity file included): none once a
    run completed or put them back. (Its empty directories may stay in the
    state directory, never in static_root.)"""
    state_area, hidden = areas(project)
    assert not os.path.lexists(hidden), hidden
    return sorted(
        path.relative_to(state_area).as_posix()
        for path in Path(state_area).rglob("*")
        if not path.is_dir()
    )


def assert_nothing_kept(project: Project) -> None:
    assert kept(project) == []


def assert_equals_clean_build(project: Project, tmp_path: Path) -> None:
    """A clean build of the same sources and settings, plus journalled old
    versions; pruning every earlier build leaves exactly the clean build."""
    settings = (project.path / "pyproject.toml").read_text().splitlines(keepends=True)
    clean = Project(tmp_path / "clean", "".join(s for s in settings if "state_dir" not in s))
    shutil.copytree(project.path / "assets", clean.path / "assets")
    for hook in project.path.glob("*.py"):  # (a file_hash hook's module)
        shutil.copy(hook, clean.path / hook.name)
    clean.doit("collect")
    root, state = project.root, project.state
    problems = old_versions_problems(snapshot(clean.root), snapshot(root), root, state)
    assert not problems, problems[:10]
    config = (project.path / "pyproject.toml").read_text()
    project.write_config(config + PRUNE_ALL)
    project.doit("prune")
    project.write_config(config)
    assert snapshot(root) == snapshot(clean.root)


@pytest.fixture
def built(tmp_path: Path) -> Project:
    project = Project(tmp_path / "site")
    small_site(project)
    project.doit("collect")
    return project


def test_a_copy_failing_on_a_full_disk_leaves_the_previous_build_as_it_was(
    built: Project, tmp_path: Path
) -> None:
    before = named_files(built.root)
    edit_small_files(built)
    built.write("zz/big.bin", os.urandom(2 * LIMIT))  # sorted last: copied after the edits

    result = run_limited(built)

    assert_failed_cleanly(result, "File too large", "big.bin")
    assert named_files(built.root) == before
    assert_nothing_kept(built)
    built.doit("collect")
    assert_nothing_kept(built)
    assert_equals_clean_build(built, tmp_path)


def write_huge_css(project: Project, name: str = "css/huge.css", grows: int = 13) -> None:
    """A CSS file under the limit whose rewritten output is over it: each
    reference gains its hash (``grows`` bytes): its copy is written, its hashed
    file fails."""
    rule = ".c { background: url(../img/logo.png); }\n"
    count = (LIMIT - 1000) // len(rule)
    assert count * (len(rule) + grows) > LIMIT
    project.write(name, "/* huge */\n" + rule * count)


def test_post_processing_failing_on_a_full_disk_leaves_the_previous_build_as_it_was(
    built: Project, tmp_path: Path
) -> None:
    before = named_files(built.root)
    edit_small_files(built)
    write_huge_css(built)

    result = run_limited(built)

    assert_failed_cleanly(result, "File too large", "huge.")
    assert named_files(built.root) == before
    assert_nothing_kept(built)
    built.doit("collect")
    assert_equals_clean_build(built, tmp_path)


def test_a_failed_link_run_puts_the_copies_back(built: Project, tmp_path: Path) -> None:
    # --link replaces every copy with a symlink; post-processing then copies the
    # big file's bytes to its new hashed name, over the limit.
    before = named_files(built.root)
    edit_small_files(built)
    built.write("zz/big.bin", os.urandom(2 * LIMIT))

    result = run_limited(built, "--link")

    assert_failed_cleanly(result, "File too large", "big.")
    after = named_files(built.root)
    assert after == before
    assert not any(isinstance(value, str) for value in after.values())  # copies, no links
    built.doit("collect")
    assert_equals_clean_build(built, tmp_path)


def test_a_failure_after_precompression_leaves_the_previous_build_and_its_siblings_right(
    tmp_path: Path,
) -> None:
    # Precompression and integrity on; the run fails after the compress phase
    # committed its rows: a directory stands where staticfiles.integrity.json
    # goes. The copies go back with their .gz, as the manifest in place had them.
    settings = 'compress = ["gzip"]\nintegrity = "sha384"\n'
    project = Project(tmp_path / "site", DEFAULT_CONFIG + settings)
    small_site(project)
    padding = "".join(f".p{i} {{ margin: {i}px; }}\n" for i in range(40))  # (worth a .gz)
    for name in ("css/base.css", "js/other.js"):
        project.write(name, (project.path / "assets" / name).read_text() + padding)
    project.doit("collect")
    before = named_files(project.root)
    edit_small_files(project)
    project.write("js/other.js", "console.log('other v2');\n" + padding)
    integrity = project.root / "staticfiles.integrity.json"
    integrity.unlink()
    (integrity / "in-the-way").mkdir(parents=True)

    result = project.doit("collect", check=False)

    assert_failed_cleanly(result, "staticfiles.integrity.json")
    assert result.executed("collect_compress")
    assert named_files(project.root) == before
    for name in ("css/base.css", "js/other.js"):
        assert _gunzip(project.root / (name + ".gz")) == before[name]
    assert_nothing_kept(project)
    shutil.rmtree(integrity)
    project.doit("collect")
    assert_equals_clean_build(project, tmp_path)


def _gunzip(path: Path) -> bytes:
    import gzip

    return gzip.decompress(path.read_bytes())


def test_copies_a_stopped_run_replaced_go_back_at_the_next_run(built: Project) -> None:
    # The copy phase alone (as a run killed right after it): the copies are new,
    # the manifest is the old one, the old copies are kept. The next run's first
    # check puts them back before it reads any state.
    before = named_files(built.root)
    edit_small_files(built)
    built.doit("collect_copy")
    assert named_files(built.root) != before
    assert "manifest" in kept(built) and "files/css/base.css" in kept(built)

    built.doit("collect_discover")

    assert named_files(built.root) == before
    assert_nothing_kept(built)
    result = built.doit("collect")
    assert result.executed("collect_copy")  # the copies put back are copied again
    assert json.loads(named_files(built.root)[MANIFEST]) != json.loads(before[MANIFEST])


def test_a_copy_put_back_whose_source_then_goes_is_retired_not_left_unknown(
    built: Project, tmp_path: Path
) -> None:
    # A stopped run's copies go back with their records forgotten; when a
    # source of one is gone by the next run, the copy put back is still known
    # (journalled): retired like any old version, pruned by policy.
    edit_small_files(built)
    built.doit("collect_copy")
    (built.path / "assets" / "js" / "app.js").unlink()
    built.doit("collect_discover")  # puts the copies back
    assert (built.root / "js" / "app.js").read_text() == "console.log('v1');\n"

    built.doit("collect")

    assert_equals_clean_build(built, tmp_path)  # js/app.js pruned with the old versions


def test_a_run_whose_manifest_stays_the_same_keeps_nothing_and_the_next_is_a_no_op(
    built: Project,
) -> None:
    # A source touched, its bytes unchanged: the copy is replaced, the manifest
    # phase has nothing to do; the kept copy goes when the run completes.
    source = built.path / "assets" / "css" / "base.css"
    os.utime(source, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns + 10**9))
    before = named_files(built.root)
    result = built.doit("collect")
    assert result.executed("collect_copy")
    assert named_files(built.root) == before
    assert_nothing_kept(built)
    again = built.doit("collect")
    assert not again.executed("collect_copy")


def test_a_failed_run_puts_back_a_file_a_directory_replaced(built: Project, tmp_path: Path) -> None:
    # The previous build had the file js/other.js; this one has js/other.js/x.js:
    # the file makes way for a directory, then post-processing fails.
    before = named_files(built.root)
    (built.path / "assets" / "js" / "other.js").unlink()
    built.write("js/other.js/x.js", "console.log('x');\n")
    write_huge_css(built)

    result = run_limited(built)

    assert_failed_cleanly(result, "File too large")
    assert named_files(built.root) == before
    assert_nothing_kept(built)
    built.doit("collect")
    assert_equals_clean_build(built, tmp_path)


def test_pipeline_run_puts_the_copies_back(built: Project) -> None:
    before = named_files(built.root)
    edit_small_files(built)
    built.write("zz/big.bin", os.urandom(2 * LIMIT))
    code = (
        "import errno, sys\n"
        "from staticpipe import pipeline\n"
        "from staticpipe.config import load_config\n"
        "try:\n"
        "    pipeline.run(load_config('pyproject.toml'))\n"
        "except OSError as error:\n"
        "    sys.exit(10 if error.errno == errno.EFBIG else 11)\n"
    )
    assert_state_fits(built, LIMIT)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=built.path, capture_output=True, text=True,
        timeout=120, preexec_fn=_limited(LIMIT),
    )  # fmt: skip
    assert result.returncode == 10, result.stdout + result.stderr
    assert named_files(built.root) == before
    assert_nothing_kept(built)


HOOK = """\
import hashlib


def plain_unhashed(name, content):
    if name == "css/plain.css":
        return None  # (as Django allows: the rewritten file keeps its name)
    return "v" + hashlib.sha1(content.read()).hexdigest()[:8]
"""


def test_a_file_post_processing_rewrote_in_place_goes_back(tmp_path: Path) -> None:
    # A file_hash hook leaves css/plain.css unhashed: its rewritten output is
    # written over its copy (the manifest names it as key and value). Its source
    # stays; the image it references changes; then post-processing fails.
    project = Project(tmp_path / "site", DEFAULT_CONFIG + 'file_hash = "myhash:plain_unhashed"\n')
    (project.path / "myhash.py").write_text(HOOK)
    small_site(project)
    project.write("css/plain.css", ".p { background: url(../img/logo.png); }\n")
    project.doit("collect")
    before = named_files(project.root)
    assert json.loads(before[MANIFEST])["paths"]["css/plain.css"] == "css/plain.css"
    project.write("img/logo.png", b"\x89PNG logo v2 " * 20)
    write_huge_css(project, "css/zz-huge.css", grows=10)  # after plain.css

    result = run_limited(project)

    assert_failed_cleanly(result, "File too large", "zz-huge.")
    assert named_files(project.root) == before
    assert_nothing_kept(project)
    project.doit("collect")
    assert_equals_clean_build(project, tmp_path)


class ElsewhereProject(Project):
    """A project whose state directory is ``state`` (its ``state_dir``)."""

    def __init__(self, path: Path, state: Path):
        self._state = state
        super().__init__(path, DEFAULT_CONFIG + f'state_dir = "{state}"\n')

    @property
    def state(self) -> Path:
        return self._state


@pytest.fixture
def state_elsewhere(tmp_path: Path):
    """A state directory on another filesystem than static_root (/dev/shm)."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second filesystem")
    state = Path(tempfile.mkdtemp(prefix="staticpipe-test-", dir=shm)) / "state"
    yield state
    shutil.rmtree(state.parent, ignore_errors=True)


def test_across_filesystems_the_kept_copies_stay_in_static_root_only_during_a_run(
    tmp_path: Path, state_elsewhere: Path
) -> None:
    # The state directory cannot hold links to static_root's files: the kept
    # copies go to a hidden directory of static_root, gone when the run ends.
    project = ElsewhereProject(tmp_path / "site", state_elsewhere)
    small_site(project)
    project.doit("collect")
    hidden = project.root / undo.HIDDEN
    before = named_files(project.root)
    edit_small_files(project)
    project.write("zz/big.bin", os.urandom(2 * LIMIT))

    result = run_limited(project)

    assert_failed_cleanly(result, "File too large", "big.bin")
    assert named_files(project.root) == before
    assert not hidden.exists()
    project.doit("collect_copy")  # (as a run killed after the copy phase)
    assert (hidden / "files" / "css" / "base.css").exists()
    project.write("zz/big.bin", os.urandom(LIMIT // 3))
    project.doit("collect")
    assert not hidden.exists()
    assert_equals_clean_build(project, tmp_path)
