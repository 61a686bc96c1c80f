"""``doit publish`` against a real S3-protocol server (moto's, on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

moto_server = pytest.importorskip("moto.server")

from projects import Project  # noqa: E402
from s3server import (  # noqa: E402
    CREDENTIALS,
    Counted,
    Relay,
    client,
    new_bucket,
    objects,
    server_with_iam,
)

from staticpipe.config import load_config  # noqa: E402
from staticpipe.publish.run import publish  # noqa: E402


@pytest.fixture(scope="session")
def endpoint():
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def site(tmp_path, endpoint, monkeypatch):
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    bucket = new_bucket(endpoint)
    project = Project(tmp_path / "site")
    project.bucket, project.endpoint = bucket, endpoint
    project.settings = (
        f'publish = {{ url = "s3://{bucket}/static/", endpoint_url = "{endpoint}" }}\n'
    )
    project.write_config(
        '[tool.staticpipe]\nstatic_root = "build/static"\ndirs = ["assets"]\n' + project.settings
    )
    project.write("css/a.css", '@import "b.css";\nbody { background: url("../img/x.png"); }\n')
    project.write("css/b.css", "p { color: red; }\n")
    project.write("img/x.png", b"\x89PNG" + os.urandom(2000))
    project.write("js/app.js", "console.log(1);\n")
    return project


def set_config(project: Project, extra: str) -> None:
    project.write_config(
        '[tool.staticpipe]\nstatic_root = "build/static"\ndirs = ["assets"]\n'
        + extra
        + project.settings
    )


def run(project: Project, **kwargs):
    counted = Counted()
    summary = publish(
        load_config(project.path), session=counted.session, out=lambda line: None, **kwargs
    )
    return summary, counted


def local_build(project: Project) -> dict[str, bytes]:
    """Every file the manifest names, and the manifest: what the remote must hold."""
    names = {"staticfiles.json"}
    for original, hashed in project.manifest().items():
        names |= {original, hashed}
    return {name: (project.root / name).read_bytes() for name in names}


def remote_files(project: Project) -> dict[str, bytes]:
    return {
        key.removeprefix("static/"): body
        for key, body in objects(project.endpoint, project.bucket).items()
        if not key.startswith("static/.staticpipe/")
    }


def head(project: Project, name: str) -> dict:
    return client(project.endpoint).head_object(Bucket=project.bucket, Key="static/" + name)


def test_first_publish_uploads_the_build_with_its_headers_and_the_manifest_last(site):
    site.doit("collect")
    summary, counted = run(site)
    expected = local_build(site)
    assert remote_files(site) == expected
    assert counted.requests["ListObjectsV2"] == 1
    assert counted.requests["GetObject"] == 0 and counted.requests["HeadObject"] == 0
    uploaded = [key.removeprefix("static/") for key in counted.puts]
    assert uploaded[-2] == "staticfiles.json"  # then the build's record
    assert uploaded[-1].startswith(".staticpipe/builds/")
    assert sorted(uploaded[:-1]) == sorted(expected)
    assert sorted(summary.uploaded) == sorted(expected)
    hashed_css = site.manifest()["css/a.css"]
    css = head(site, hashed_css)
    assert css["ContentType"] == "text/css; charset=utf-8"
    assert css["CacheControl"] == "public, max-age=31536000, immutable"
    plain = head(site, "css/a.css")
    assert plain["CacheControl"] == "public, max-age=60"
    assert head(site, site.manifest()["img/x.png"])["ContentType"] == "image/png"
    assert head(site, "staticfiles.json")["ContentType"] == "application/json"
    assert head(site, "js/app.js")["ContentType"].startswith("text/javascript")


def test_a_publish_after_a_stopped_run_uploads_the_build_its_manifest_names(site):
    site.doit("collect")
    before = local_build(site)
    site.write("css/b.css", "p { color: blue; }\n")
    site.doit("collect_copy")  # stopped after its copies: css/b.css holds the new bytes
    run(site)
    assert remote_files(site) == before  # the copy the manifest in place names went back
    assert local_build(site) == before


def test_a_republish_with_no_change_lists_once_and_uploads_nothing(site):
    site.doit("collect")
    run(site)
    summary, counted = run(site)
    assert dict(counted.requests) == {"ListObjectsV2": 1}
    assert summary.uploaded == [] and summary.unchanged == len(local_build(site))


def test_one_edited_css_file_uploads_only_what_changed_and_the_manifest(site):
    site.doit("collect")
    run(site)
    before = remote_files(site)
    site.write("css/b.css", "p { color: blue; }\n")
    site.doit("collect")
    summary, counted = run(site)
    now = local_build(site)
    changed = {name for name, data in now.items() if before.get(name) != data}
    assert "staticfiles.json" in changed and "css/b.css" in changed
    assert "img/x.png" not in changed
    assert set(summary.uploaded) == changed
    uploaded = [key.removeprefix("static/") for key in counted.puts]
    assert set(uploaded[:-1]) == changed and uploaded[-2] == "staticfiles.json"
    assert counted.requests["ListObjectsV2"] == 1
    assert remote_files(site).items() >= now.items()
    # Django's way: the old hashed names stay (no retention policy is set)
    assert before.keys() <= remote_files(site).keys()


def test_a_dry_run_lists_what_would_go_up_and_changes_nothing(site):
    site.doit("collect")
    summary, counted = run(site, dry_run=True)
    assert dict(counted.requests) == {"ListObjectsV2": 1}
    assert objects(site.endpoint, site.bucket) == {}
    assert sorted(summary.uploaded) == sorted(local_build(site))
    assert "would be uploaded" in summary.line()


def test_doit_publish_prints_a_summary_line(site):
    site.doit("collect")
    result = site.doit("publish")
    count = len(local_build(site))
    assert f"{count} files uploaded to 's3://{site.bucket}/static/'" in result.stdout
    again = site.doit("publish")
    assert (
        f"0 files uploaded to 's3://{site.bucket}/static/' (0 bytes), {count} unchanged"
        in again.stdout
    )
    by_module = subprocess.run(
        [sys.executable, "-m", "staticpipe", "publish", "-n", "-v", "2"],
        cwd=site.path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert by_module.returncode == 0, by_module.stderr
    assert "0 files would be uploaded" in by_module.stdout


def test_an_old_build_s_files_go_by_the_retention_policy(site):
    set_config(site, "keep_builds = 1\nkeep_age = 0\n")
    site.doit("collect")
    run(site)
    first = local_build(site)
    site.write("css/b.css", "p { color: blue; }\n")
    site.doit("collect")
    summary, _ = run(site)
    second = local_build(site)
    # kept: the last build only; gone: the first build's names the second lacks
    assert set(summary.deleted) == first.keys() - second.keys()
    assert remote_files(site) == second
    records = [
        k for k in objects(site.endpoint, site.bucket) if k.startswith("static/.staticpipe/")
    ]
    assert len(records) == 1


def test_two_builds_kept_and_young_files_stay(site):
    set_config(site, "keep_builds = 2\nkeep_age = 0\n")
    site.doit("collect")
    run(site)
    first = local_build(site)
    for colour in ("blue", "green"):
        site.write("css/b.css", f"p {{ color: {colour}; }}\n")
        site.doit("collect")
        if colour == "blue":
            run(site)
            second = local_build(site)
    summary, _ = run(site)
    third = local_build(site)
    assert set(summary.deleted) == first.keys() - second.keys() - third.keys()
    assert remote_files(site) == {**second, **third}
    # the same with an age: every file is younger than an hour, nothing goes
    set_config(site, 'keep_builds = 1\nkeep_age = "1h"\n')
    site.write("css/b.css", "p { color: black; }\n")
    site.doit("collect")
    summary, _ = run(site)
    assert summary.deleted == []


def test_files_no_build_published_are_never_deleted(site):
    set_config(site, "keep_builds = 1\nkeep_age = 0\n")
    client(site.endpoint).put_object(Bucket=site.bucket, Key="static/uploads/mine.txt", Body=b"x")
    site.doit("collect")
    run(site)
    site.write("css/b.css", "p { color: blue; }\n")
    site.doit("collect")
    run(site)
    assert remote_files(site)["uploads/mine.txt"] == b"x"


def test_precompressed_siblings_go_up_with_their_encoding(site):
    site.write("css/big.css", "p { color: red; }\n" * 200)
    site.doit("collect")
    subprocess.run(
        [sys.executable, "-m", "whitenoise.compress", "--no-brotli", str(site.root)], check=True,
        capture_output=True,
    )  # fmt: skip
    hashed = site.manifest()["css/big.css"]
    assert (site.root / (hashed + ".gz")).exists()
    run(site)
    sibling = head(site, hashed + ".gz")
    assert sibling["ContentEncoding"] == "gzip"
    assert sibling["ContentType"] == "text/css; charset=utf-8"
    assert sibling["CacheControl"] == "public, max-age=31536000, immutable"
    assert remote_files(site)[hashed + ".gz"] == (site.root / (hashed + ".gz")).read_bytes()


def test_the_build_s_own_precompression_and_integrity_file_go_up_before_the_manifest(site):
    site.write("css/big.css", "p { color: red; }\n" * 200)
    set_config(site, 'compress = ["gzip", "br"]\nintegrity = "sha384"\n')
    site.doit("collect")
    hashed = site.manifest()["css/big.css"]
    summary, counted = run(site)
    remote = remote_files(site)
    for name in (hashed + ".gz", hashed + ".br", "css/big.css.br", "staticfiles.integrity.json"):
        assert remote[name] == (site.root / name).read_bytes(), name
    assert head(site, hashed + ".br")["ContentEncoding"] == "br"
    puts = counted.puts
    assert puts.index("static/staticfiles.integrity.json") < puts.index("static/staticfiles.json")


@pytest.mark.slow
def test_a_large_file_goes_up_in_parts_and_is_then_seen_as_unchanged(site):
    site.write("video/clip.webm", os.urandom(9 * 1024 * 1024))
    site.doit("collect")
    run(site)
    hashed = site.manifest()["video/clip.webm"]
    assert head(site, hashed)["ETag"].strip('"').endswith("-2")
    _, counted = run(site)
    assert dict(counted.requests) == {"ListObjectsV2": 1}


def test_plain_storage_publishes_the_collected_files(site):
    set_config(site, 'storage = "plain"\n')
    site.doit("collect")
    run(site)
    files = remote_files(site)
    assert set(files) == {"css/a.css", "css/b.css", "img/x.png", "js/app.js"}
    assert files["css/b.css"] == b"p { color: red; }\n"


def publish_cli(project: Project, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "staticpipe", "publish"],
        cwd=project.path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "AWS_MAX_ATTEMPTS": "1", **(env or {})},
    )  # fmt: skip


def assert_one_line_error(result, *parts: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("staticpipe: error: ")
    for part in parts:
        assert part in lines[0]


def test_no_credentials_is_one_line_naming_the_bucket(site, tmp_path):
    site.doit("collect")
    env = {key: "" for key in CREDENTIALS}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )  # fmt: skip
    environ = {k: v for k, v in os.environ.items() if k not in CREDENTIALS}
    result = subprocess.run(
        [sys.executable, "-m", "staticpipe", "publish"], cwd=site.path, capture_output=True,
        text=True, timeout=120, env={**environ, **{k: v for k, v in env.items() if v}},
    )  # fmt: skip
    assert_one_line_error(result, f"s3://{site.bucket}/static/", "no AWS credentials")


def test_no_such_bucket_is_one_line(site):
    site.settings = site.settings.replace(site.bucket, "no-such-bucket")
    set_config(site, "")
    site.doit("collect")
    assert_one_line_error(publish_cli(site), "s3://no-such-bucket/", "no such bucket")


def test_an_unreachable_endpoint_is_one_line(site):
    site.settings = site.settings.replace(site.endpoint, "http://127.0.0.1:9")
    set_config(site, "")
    site.doit("collect")
    assert_one_line_error(publish_cli(site), f"s3://{site.bucket}/static/", "127.0.0.1:9")


def test_no_build_is_one_line(site):
    assert_one_line_error(publish_cli(site), "staticfiles.json", "doit collect")


def test_a_manifest_naming_a_missing_file_publishes_nothing(site):
    site.doit("collect")
    (site.root / site.manifest()["css/b.css"]).unlink()
    assert_one_line_error(publish_cli(site), "missing", "doit collect")
    assert objects(site.endpoint, site.bucket) == {}


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('publish = { url = "https://x/" }', "publish.url"),
        ('publish = { url = "s3://bucket/prefix" }', "publish.url"),
        ('publish = { url = "s3://bucket/", aws_secret_access_key = "k" }', "credentials"),
        ('publish = { url = "s3://bucket/", regoin = "x" }', "did you mean region"),
        ('publish = { url = "s3://bucket/", workers = 0 }', "publish.workers"),
        ('keep_age = "soon"', "keep_age"),
        ("keep_builds = 0", "keep_builds"),
    ],
)
def test_a_bad_publish_setting_is_one_line(site, setting, message):
    site.write_config(
        '[tool.staticpipe]\nstatic_root = "build/static"\ndirs = ["assets"]\n' + setting + "\n"
    )
    assert_one_line_error(publish_cli(site), "pyproject.toml", message)


def test_a_file_another_tool_uploaded_in_other_parts_is_seen_as_the_same(site):
    from boto3.s3.transfer import TransferConfig

    from staticpipe.publish.etag import etag, same_content

    small = site.write("f.bin", os.urandom(3000))
    assert etag(small, 3000) == hashlib.md5(small.read_bytes()).hexdigest()
    size = 11 * 1024 * 1024
    path = site.write("big.bin", os.urandom(size))
    s3 = client(site.endpoint)
    parts = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    s3.upload_file(str(path), site.bucket, "big.bin", Config=parts)
    remote = s3.head_object(Bucket=site.bucket, Key="big.bin")["ETag"].strip('"')
    assert remote.endswith("-3")
    assert etag(path, size) != remote  # ours is in 8 MiB parts
    assert same_content(path, size, etag(path, size), remote)
    path.write_bytes(os.urandom(size))
    assert not same_content(path, size, etag(path, size), remote)


def remote_manifest_problems(project: Project) -> list[str]:
    """Names the remote manifest gives that the remote does not hold."""
    import json

    s3 = client(project.endpoint)
    held = {
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=project.bucket)
        for item in page.get("Contents", ())
    }
    if "static/staticfiles.json" not in held:
        return []
    body = s3.get_object(Bucket=project.bucket, Key="static/staticfiles.json")["Body"].read()
    paths = json.loads(body)["paths"]
    named = set(paths) | set(paths.values())
    return sorted(name for name in named if "static/" + name not in held)


@pytest.mark.parametrize(
    "trials", [pytest.param(6, id="quick"), pytest.param(10, marks=pytest.mark.slow, id="long")]
)
def test_a_killed_publish_leaves_a_remote_manifest_naming_only_files_that_are_there(site, trials):
    import random
    import signal
    import time

    randomly = random.Random(trials)
    for index in range(120):
        site.write(
            f"css/m{index}.css", f'.m{index} {{ background: url("../img/i{index}.png"); }}\n'
        )
        site.write(f"img/i{index}.png", os.urandom(4000))
    site.doit("collect")
    for trial in range(trials):
        if trial % 2:  # a new build between kills: edits, additions, removals
            site.write(f"img/i{randomly.randrange(120)}.png", os.urandom(4000))
            site.write(f"css/new{trial}.css", f'@import "m{randomly.randrange(120)}.css";\n')
            site.doit("collect")
        process = subprocess.Popen(
            [sys.executable, "-m", "staticpipe", "publish"], cwd=site.path,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(randomly.uniform(0.3, 2.5))
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert remote_manifest_problems(site) == [], f"trial {trial}"
    held = remote_files(site)
    missing = {name for name, data in local_build(site).items() if held.get(name) != data}
    summary, _ = run(site)
    assert set(summary.uploaded) == missing  # resumes: only what is still missing
    assert remote_files(site).items() >= local_build(site).items()


def test_a_network_failure_mid_way_is_one_line_and_the_remote_keeps_the_old_build(site):
    from staticpipe.errors import StaticpipeError

    relay = Relay(int(site.endpoint.rpartition(":")[2]))
    try:
        site.settings = site.settings.replace(site.endpoint, relay.endpoint)
        set_config(site, "")
        site.doit("collect")
        run(site)
        published = remote_files(site)["staticfiles.json"]
        for index in range(30):
            site.write(f"css/new{index}.css", f'@import "b.css";\n.n{index} {{ top: 0; }}\n')
        site.write("css/b.css", "p { color: blue; }\n")
        site.doit("collect")
        counted = Counted()

        def cut_after_five(**kwargs) -> None:
            if len(counted.puts) >= 5 and not relay.broken:
                relay.cut()

        counted.session.events.register("before-send.s3.PutObject", cut_after_five)
        with pytest.raises(StaticpipeError) as failure:
            publish(load_config(site.path), session=counted.session, out=lambda line: None)
        message = str(failure.value)
        assert "\n" not in message and f"s3://{site.bucket}/static/" in message
        relay.mend()
        assert remote_files(site)["staticfiles.json"] == published
        assert remote_manifest_problems(site) == []
        held = remote_files(site)
        missing = {name for name, data in local_build(site).items() if held.get(name) != data}
        summary, _ = run(site)
        assert set(summary.uploaded) == missing  # resumes: only what is still missing
        assert remote_files(site).items() >= local_build(site).items()
    finally:
        relay.close()


def test_access_denied_is_one_line_naming_the_key_and_no_manifest_goes_up(site):
    import json

    import boto3

    with server_with_iam(free_actions=4) as endpoint:
        setup = {"endpoint_url": endpoint, "region_name": "us-east-1", **_keys(CREDENTIALS)}
        boto3.client("s3", **setup).create_bucket(Bucket="locked-site")
        iam = boto3.client("iam", **setup)
        iam.create_user(UserName="deployer")
        key = iam.create_access_key(UserName="deployer")["AccessKey"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                {
                    "Effect": "Deny",
                    "Action": "s3:PutObject",
                    "Resource": "arn:aws:s3:::locked-site/static/img/*",
                },
            ],
        }
        iam.put_user_policy(
            UserName="deployer", PolicyName="no-images", PolicyDocument=json.dumps(policy)
        )
        deployer = {
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        }
        site.settings = (
            f'publish = {{ url = "s3://locked-site/static/", endpoint_url = "{endpoint}" }}\n'
        )
        set_config(site, "")
        site.doit("collect")
        result = publish_cli(site, env=deployer)
        assert_one_line_error(result, "s3://locked-site/static/img/x.", "access denied")
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **_keys(deployer))
        keys = [
            item["Key"] for item in s3.list_objects_v2(Bucket="locked-site").get("Contents", [])
        ]
        assert keys and "static/staticfiles.json" not in keys


def _keys(environment: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": environment["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": environment["AWS_SECRET_ACCESS_KEY"],
    }


def test_an_absolute_static_url_names_the_published_files(site):
    import json
    import urllib.request

    from staticpipe.runtime import StaticURLs

    base = f"{site.endpoint}/{site.bucket}/static/"  # the store's path-style URL, as a CDN's
    set_config(site, f'static_url = "{base}"\n')
    readable = {  # what a bucket behind a CDN grants: anyone may read
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{site.bucket}/*",
            }
        ],
    }
    client(site.endpoint).put_bucket_policy(Bucket=site.bucket, Policy=json.dumps(readable))
    site.doit("collect")
    run(site)
    urls = StaticURLs(site.path / "pyproject.toml")
    for name in ("css/a.css", "img/x.png"):
        url = urls(name)
        assert url == base + site.manifest()[name]
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.read() == (site.root / site.manifest()[name]).read_bytes()
            assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    css = (site.root / site.manifest()["css/a.css"]).read_text()
    assert site.manifest()["css/b.css"].rpartition("/")[2] in css  # references resolve there too


def test_a_new_cache_control_reaches_the_files_already_there_without_uploading_them(site):
    site.doit("collect")
    run(site)
    site.settings = site.settings.replace(" }\n", ', cache_control = "public, max-age=300" }\n')
    set_config(site, "")
    summary, counted = run(site)
    unhashed = {"css/a.css", "css/b.css", "img/x.png", "js/app.js", "staticfiles.json"}
    assert set(summary.reheaded) == unhashed and summary.uploaded == []
    assert counted.requests["CopyObject"] == len(unhashed)
    assert counted.puts == [counted.puts[0]] and counted.puts[0].startswith("static/.staticpipe/")
    assert head(site, "css/a.css")["CacheControl"] == "public, max-age=300"
    assert head(site, "css/a.css")["ContentType"] == "text/css; charset=utf-8"
    hashed = site.manifest()["css/a.css"]
    assert head(site, hashed)["CacheControl"] == "public, max-age=31536000, immutable"
    assert remote_files(site).items() >= local_build(site).items()
    _, counted = run(site)
    assert dict(counted.requests) == {"ListObjectsV2": 1}


def test_a_hashed_name_holding_other_bytes_of_the_same_size_goes_up_again(site):
    site.doit("collect")
    run(site)
    hashed = site.manifest()["img/x.png"]
    size = (site.root / hashed).stat().st_size
    client(site.endpoint).put_object(
        Bucket=site.bucket, Key="static/" + hashed, Body=os.urandom(size)
    )  # another tool's bytes under our name: its ETag no longer gives that name
    summary, _ = run(site)
    assert summary.uploaded == [hashed]
    assert remote_files(site)[hashed] == (site.root / hashed).read_bytes()
