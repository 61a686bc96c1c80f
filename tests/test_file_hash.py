"""``file_hash = "module:function"``: Django's file_hash hook, through the real doit.

The oracle is Django's ``collectstatic`` with a ``ManifestStaticFilesStorage``
subclass whose ``file_hash`` calls the very same function (loaded from the
project's ``myhash.py``): file names, bytes and ``staticfiles.json`` must be equal.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
import types
from pathlib import Path

import pytest
from conftest import _setup_django, assert_same_output, read_manifest, run_django, tree_files
from old_outputs import PRUNE_ALL, assert_clean_build_plus_old_versions
from projects import DEFAULT_CONFIG, Project

from staticpipe.config import from_mapping
from staticpipe.errors import ConfigError
from staticpipe.pipeline import run

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(40))
WOFF = b"wOFF\x00\x01\x00\x00" + bytes(24)

HOOKS = '''\
import hashlib


def sha(name, content):
    """A sha256, 16 hex digits, read as Django's File is (chunks)."""
    digest = hashlib.sha256()
    for chunk in content.chunks():
        digest.update(chunk)
    return digest.hexdigest()[:16]


def some_unhashed(name, content):
    """Fonts and css/plain.css keep their names (None, as Django allows)."""
    if name and (name.startswith("fonts/") or name == "css/plain.css"):
        return None
    return "v" + hashlib.sha1(content.read()).hexdigest()[:8]


def versioned(name, content):
    """Content-blind: a release number (settles reference cycles in Django)."""
    return "r7"


def returns_int(name, content):
    return 5


def raises(name, content):
    return 1 // 0


NOT_CALLABLE = "sha"
'''

SOURCES = {
    "css/site.css": (
        '@import "base.css";\n'
        "@font-face { font-family: F; src: url(../fonts/f.woff) format('woff'); }\n"
        ".logo { background: url(../img/logo.png); }\n"
        ".icon { background: url(/static/img/icon.png#x); }\n"
    ),
    "css/base.css": "body { background: url(../img/bg.png) }\n",
    "css/plain.css": ".p { background: url(../img/icon.png); }\n",
    "css/uses_plain.css": '@import url("plain.css");\n',
    "js/app.js": "console.log(1);\n//# sourceMappingURL=app.js.map\n",
    "js/app.js.map": '{"version": 3}',
    "img/logo.png": PNG + b"logo",
    "img/icon.png": PNG + b"icon",
    "img/bg.png": PNG + b"bg",
    "fonts/f.woff": WOFF,
    "robots.txt": "User-agent: *\n",
}

_counter = itertools.count()


def config_text(hook: str | None) -> str:
    return DEFAULT_CONFIG + (f'file_hash = "myhash:{hook}"\n' if hook else "")


@pytest.fixture
def project(tmp_path: Path) -> Project:
    p = Project(tmp_path / "site", config_text("sha"))
    (p.path / "myhash.py").write_text(HOOKS)
    for name, content in SOURCES.items():
        p.write(name, content)
    return p


def hook_function(project: Project, attribute: str):
    """The project's hook, loaded from its file as a module of its own (Django's side)."""
    name = f"sp_test_myhash_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, project.path / "myhash.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, attribute)


def hook_storage(function) -> str:
    """A ManifestStaticFilesStorage subclass overriding file_hash with ``function``:
    what a Django project does; its dotted path, for STORAGES."""
    _setup_django()
    from django.contrib.staticfiles.storage import ManifestStaticFilesStorage

    class HookStorage(ManifestStaticFilesStorage):
        def file_hash(self, name, content=None):
            return function(name, content)

    module = types.ModuleType(f"sp_test_hook_storage_{next(_counter)}")
    module.HookStorage = HookStorage
    sys.modules[module.__name__] = module
    return f"{module.__name__}.HookStorage"


def django_build(project: Project, hook: str | None, tmp_path: Path) -> Path:
    """Django's collectstatic of the project's sources into a fresh root."""
    root = tmp_path / f"django_{next(_counter)}"
    kwargs = {"storage": hook_storage(hook_function(project, hook))} if hook else {}
    return run_django(root, [project.path / "assets"], **kwargs)


def assert_like_django(project: Project, hook: str | None, tmp_path: Path) -> None:
    assert_same_output(django_build(project, hook, tmp_path), project.root)


def assert_like_django_plus_old_versions(
    project: Project, hook: str | None, tmp_path: Path
) -> None:
    """Django's clean build, and besides it only the old versions kept."""
    django = django_build(project, hook, tmp_path)
    assert_clean_build_plus_old_versions(django, project.root, project.state)


# -- output identical to Django's --------------------------------------------------
def test_sha256_hook_output_matches_django(project: Project, tmp_path: Path):
    project.doit("collect")
    assert_like_django(project, "sha", tmp_path)
    manifest = project.manifest()
    assert manifest["img/logo.png"].startswith("img/logo.") and len(manifest["img/logo.png"]) == (
        len("img/logo.png") + 17
    )
    site = (project.root / manifest["css/site.css"]).read_text()
    assert Path(manifest["img/logo.png"]).name in site


def test_hook_leaving_names_unhashed_matches_django(project: Project, tmp_path: Path):
    project.write_config(config_text("some_unhashed"))
    project.doit("collect")
    assert_like_django(project, "some_unhashed", tmp_path)
    manifest = project.manifest()
    assert manifest["fonts/f.woff"] == "fonts/f.woff"
    assert manifest["css/plain.css"] == "css/plain.css"  # rewritten over its copy, as Django
    plain = (project.root / "css/plain.css").read_text()
    assert Path(manifest["img/icon.png"]).name in plain
    assert manifest["img/logo.png"].startswith("img/logo.v")


@pytest.mark.parametrize("hook", ["sha", "some_unhashed"])
def test_incremental_edits_stay_identical_to_django(project: Project, tmp_path: Path, hook: str):
    project.write_config(config_text(hook))
    project.doit("collect")
    project.write("img/icon.png", PNG + b"icon, redrawn")  # referenced by plain.css and site.css
    result = project.doit("collect")
    assert "1 static file copied" in result.summary
    assert_like_django_plus_old_versions(project, hook, tmp_path)
    project.write("css/plain.css", ".p { background: url(../img/bg.png); }\n")
    project.doit("collect")
    assert_like_django_plus_old_versions(project, hook, tmp_path)
    os.utime(project.path / "assets/css/plain.css")  # copied again, same bytes
    project.doit("collect")
    assert_like_django_plus_old_versions(project, hook, tmp_path)
    before = tree_files(project.root)
    result = project.doit("collect")  # nothing changed: nothing changes
    assert "0 static files copied" in result.summary
    assert tree_files(project.root) == before


def test_changing_file_hash_rebuilds_every_name(project: Project, tmp_path: Path):
    project.doit("collect")
    for hook in ("some_unhashed", None, "sha", "some_unhashed", "versioned"):
        project.write_config(config_text(hook))
        project.doit("collect")
        # old names kept (as Django keeps them), copies restored
        assert_like_django_plus_old_versions(project, hook, tmp_path)
    project.write_config(config_text("versioned") + PRUNE_ALL)
    project.doit("prune")
    assert_like_django(project, "versioned", tmp_path)  # old names pruned


def test_editing_the_hook_module_rebuilds(project: Project, tmp_path: Path):
    project.doit("collect")
    hooks = project.path / "myhash.py"
    hooks.write_text(HOOKS.replace("[:16]", "[:10]"))
    os.utime(hooks, ns=(1, 1))  # mtime moved back: size and mtime are both looked at
    project.doit("collect")
    assert_like_django_plus_old_versions(project, "sha", tmp_path)
    assert len(Path(project.manifest()["robots.txt"]).name) == len("robots.txt") + 11


def test_link_mode_with_unhashed_rewritten_file_matches_django_content(
    project: Project, tmp_path: Path
):
    project.write_config(config_text("some_unhashed"))
    for _ in range(2):  # the second run links plain.css again and rewrites it again
        project.doit("collect", "--link")
        expected = tree_files(django_build(project, "some_unhashed", tmp_path))
        assert tree_files(project.root) == expected  # (symlinks read through)
        assert not (project.root / "css/plain.css").is_symlink()
        assert (project.root / "css/site.css").is_symlink()


# -- reference cycles (in-process) ---------------------------------------------------
def cycle_config(tmp_path: Path, hook: str):
    (tmp_path / "cyclehash.py").write_text(HOOKS)
    src = tmp_path / "src"
    for name, text in {
        "a.css": '@import "b.css";\n.a { background: url(img.png); }\n',
        "b.css": '@import "a.css";\n',
        "img.png": PNG,
    }.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text) if name.endswith(".css") else (src / name).write_bytes(text)
    data = {
        "static_root": str(tmp_path / "out"),
        "dirs": [str(src)],
        "file_hash": f"cyclehash:{hook}",
        "state_dir": str(tmp_path / "state"),
    }
    return from_mapping(data, tmp_path), src


def test_cycle_settled_by_a_content_blind_hook_matches_django(tmp_path: Path):
    config, src = cycle_config(tmp_path, "versioned")
    run(config, log=lambda line: None)
    function = hook_function_from(tmp_path / "cyclehash.py", "versioned")
    django = run_django(tmp_path / "django", [src], storage=hook_storage(function))
    assert_same_output(django, config.static_root)
    assert read_manifest(config.static_root)["a.css"] == "a.r7.css"


def test_cycle_with_a_content_hook_is_named_from_the_whole_component(tmp_path: Path):
    config, src = cycle_config(tmp_path, "sha")
    function = hook_function_from(tmp_path / "cyclehash.py", "sha")
    with pytest.raises(RuntimeError, match="Max post-process passes exceeded"):
        run_django(tmp_path / "django", [src], storage=hook_storage(function))
    run(config, log=lambda line: None)
    manifest = read_manifest(config.static_root)
    a, b = manifest["a.css"], manifest["b.css"]
    assert len(a) == len("a.css") + 17 and len(b) == len("b.css") + 17
    root = Path(config.static_root)
    assert f'@import url("{b}")' in (root / a).read_text()
    assert f'@import url("{a}")' in (root / b).read_text()
    (src / "b.css").write_text('@import "a.css";\n.b { color: red }\n')
    run(config, log=lambda line: None)
    after = read_manifest(config.static_root)
    assert after["a.css"] != a and after["b.css"] != b  # a change anywhere renames both


def hook_function_from(path: Path, attribute: str):
    name = f"sp_test_cyclehash_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, attribute)


# -- bad hooks: one line, exit code 1, no traceback --------------------------------------
@pytest.mark.parametrize(
    "value, expected",
    [
        ("nosuchmodule:sha", "cannot import 'nosuchmodule'"),
        ("myhash:nope", "'myhash' has no attribute 'nope'"),
        ("myhash:NOT_CALLABLE", "'NOT_CALLABLE' is not callable (str)"),
        ("myhash:returns_int", "returned 5 (int) for "),
        ("myhash:raises", "raised ZeroDivisionError('integer division or modulo by zero')"),
    ],
)
def test_bad_hook_is_one_line_through_doit(project: Project, value: str, expected: str):
    project.write_config(DEFAULT_CONFIG + f'file_hash = "{value}"\n')
    result = project.doit("collect", check=False)
    assert result.returncode == 1, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("staticpipe: error: "), result.stderr
    assert f'file_hash = "{value}"' in lines[0] and expected in lines[0], lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert not (project.root / "staticfiles.json").exists()


def test_bad_hook_is_a_config_error_in_python(tmp_path: Path):
    config, _src = cycle_config(tmp_path, "returns_int")
    with pytest.raises(ConfigError, match=r'file_hash = "cyclehash:returns_int": returned 5'):
        run(config, log=lambda line: None)


# -- the pieces ----------------------------------------------------------------------
def test_content_offers_what_django_file_hash_reads(tmp_path: Path):
    from staticpipe.rewrite.hashhook import Content

    content = Content.of_bytes(b"line 1\nline 2\n" * 10000)
    assert content.read(6) == b"line 1"
    assert b"".join(content.chunks(1000)) == b"line 1\nline 2\n" * 10000  # from the start
    assert content.multiple_chunks() and not content.multiple_chunks(10**6)
    assert len(content) == content.size == 140000 and content.name is None
    assert next(iter(content)) == b"line 1\n"
    with content.open() as opened:
        assert opened.read() == b"line 1\nline 2\n" * 10000
    assert content.closed


def test_any_hash_is_reversed_to_its_name():
    from staticpipe.rewrite.hashing import HashedNames, with_hash

    hashed = {
        name: with_hash(name, digest)
        for name, digest in [
            ("css/a.css", "0123abcd0123abcd"),
            ("css/b.min.css", "v1.2"),
            ("fonts/f.woff", None),
            ("LICENSE", "r7"),
            ("dir.x/.hidden", "h"),
        ]
    }
    live = HashedNames(hashed, any_hash=True)
    assert all(path in live for path in hashed.values())
    assert "css/a.0123abcd0123abce.css" not in live and "LICENSE.r8" not in live
    assert hashed["css/b.min.css"] not in HashedNames(hashed)  # the md5 reversal: 12 hex only


def test_manifest_patched_with_a_hook_hash_is_the_full_rendering():
    from staticpipe.phases import manifest

    def digest(pairs: bytes) -> str | None:
        return None if b"none" in pairs else f"h{len(pairs)}"

    paths = {f"css/{i}.css": f"css/{i}.v{i}.css" for i in range(20)}
    for changes in ({"css/3.css": "css/3.longer.css"}, {"css/4.css": "css/none.css"}):
        data, pairs = manifest.rendering(paths, digest)
        data, pairs = bytearray(data), bytearray(pairs)
        assert manifest.patch(data, pairs, changes, digest)
        paths = {**paths, **changes}
        assert (bytes(data), bytes(pairs)) == manifest.rendering(paths, digest)


# -- state lost, manifest damaged ----------------------------------------------------
@pytest.mark.parametrize("damage", [b'{"paths": {"css/site.css": ', b"", b"not json"])
def test_state_lost_and_manifest_damaged_a_hook_build_ends_as_a_clean_one(
    project: Project, tmp_path: Path, damage: bytes
):
    """The outputs of the last build are recognized by the hook's own names
    (its hash of their bytes): retired as old versions, so that a prune keeping
    nothing leaves exactly a clean build; nothing else in static_root is touched."""
    import shutil

    project.write_config(config_text("sha") + PRUNE_ALL)
    project.doit("collect")
    (project.root / "mine.txt").write_text("not staticpipe's")  # the user's
    (project.root / "img" / "x.0123abcd.png").write_bytes(b"neither")  # a hash-like name
    project.write("css/base.css", "body { background: url(../img/logo.png) }\n")  # edited
    project.write("img/logo.png", PNG + b"logo 2")
    (project.path / "assets" / "img" / "bg.png").unlink()  # removed
    (project.path / "assets" / "robots.txt").unlink()
    shutil.rmtree(project.state)
    (project.root / "staticfiles.json").write_bytes(damage)

    project.doit("collect")
    project.doit("prune")

    clean = Project(tmp_path / "clean", config_text("sha"))
    (clean.path / "myhash.py").write_text(HOOKS)
    for path in (project.path / "assets").rglob("*"):
        if path.is_file():
            clean.write(path.relative_to(project.path / "assets").as_posix(), path.read_bytes())
    clean.doit("collect")
    expected = {**tree_files(clean.root), "mine.txt": b"not staticpipe's",
                "img/x.0123abcd.png": b"neither"}  # fmt: skip
    assert tree_files(project.root) == expected
