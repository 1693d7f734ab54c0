"""Many machines, one registry: BuildKit's cache and the compiled wheels kept beside
the image in the loopback registry, against the real engine."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from containerize import cli, config, process, reference
from containerize.commands.machine import machine
from containerize.engine import buildx, preflight
from containerize.errors import EngineError, RegistryError
from containerize.host import second
from containerize.image import buildcache, pins
from containerize.image import pipeline as images
from containerize.registry import oci
from containerize.registry.client import Registry
from containerize.resolve import sharing
from containerize.resolve.cache import Cache

from .conftest import copy_project


def test_registry_cache_is_exported_per_server_and_imported_next_time(
    make_project: Callable[[str], Path], base_image: str, session_id: str
) -> None:
    project = make_project("hello-wsgi")
    image = f"127.0.0.1:5000/containerize-test/buildcache-{session_id}"
    cfg = config.load(
        project,
        overrides={"image": image, "servers": ["gunicorn"], "platforms": ["linux/amd64"]},
        environ={"CONTAINERIZE_CACHE": "registry"},
    )
    exports = buildcache.settings(cfg).exports(cfg.servers)
    assert exports == (f"type=registry,ref={image}:buildcache-gunicorn,mode=max",)
    # The engine as provisioned (docker driver, containerd image store) exports.
    preflight.preflight(cfg.platforms, builder=cfg.builder, cache_to=exports)

    prepared = images.prepare(cfg, machine(engine=True), output="load")
    buildx.build(prepared.invocations[0], stream=False)
    registry = Registry(reference.parse_repository(image, where="image"))
    exported = registry.manifest("buildcache-gunicorn", what="reading the exported cache")
    assert exported is not None, "no cache was exported"
    # mode=max: every stage's layers, not only the final image's few.
    assert len(exported.json()["manifests"]) > 5

    prepared = images.prepare(cfg, machine(engine=True), output="load")
    log = buildx.build(prepared.invocations[0], stream=False).log
    assert f"importing cache manifest from {image}:buildcache-gunicorn" in log, log
    assert "failed to configure registry cache importer" not in log, log
    for tag in prepared.invocations[0].tags:
        process.run(["docker", "image", "rm", "--force", tag], check=False)


def test_rebuild_builds_an_unchanged_image_through_the_cache(
    make_project: Callable[[str], Path],
    base_image: str,
    session_id: str,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """An image whose key the registry already holds is skipped; with --rebuild it is
    built anyway, from BuildKit's cache (what a benchmark or a CI job that must
    produce the image asks for), and pushed again: the same image."""
    project = make_project("hello-wsgi")
    image = f"127.0.0.1:5000/containerize-test/rebuild-{session_id}"
    monkeypatch.setenv("CONTAINERIZE_IMAGE", image)
    argv = ["--project", str(project), "build", "-v", "--push",
            "--platform", "linux/amd64", "--server", "gunicorn"]  # fmt: skip

    def build(*extra: str) -> str:
        capfd.readouterr()
        code = cli.main([*argv, *extra])
        out = capfd.readouterr()
        assert code == 0, out.err[-3000:]
        return out.out + out.err

    try:
        build()
        registry = Registry(reference.parse_repository(image, where="image"))
        first = registry.manifest_digest("gunicorn", what="the test")
        again = build()
        assert f"gunicorn: unchanged since {first}" in again, again
        assert "nothing to build: every image has the key of what it would be built from " \
            "(--rebuild builds anyway)" in again, again  # fmt: skip
        rebuilt = build("--rebuild")
        assert "unchanged since" not in rebuilt, rebuilt
        assert "built:" in rebuilt, rebuilt
        assert 'building with "default" instance' in rebuilt, rebuilt
        assert not _steps_run(rebuilt), rebuilt  # every step from the cache
        # The same inputs, the same image: the key and every layer as before.
        assert registry.labels("gunicorn", what="the test") == registry.labels(
            first or "", what="the test"
        )
    finally:
        # A pushed build leaves its tags in the engine's image store too.
        for tag in ("gunicorn", "1.0.0-gunicorn"):
            process.run(["docker", "image", "rm", "--force", f"{image}:{tag}"], check=False)


def _prepare(
    project: Path, image: str, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> images.Prepared:
    """Fetch and compile *project* for linux/amd64 with *cache_dir* as this machine's
    cache and sharing through the registry on."""
    monkeypatch.setenv("CONTAINERIZE_CACHE_DIR", str(cache_dir))
    cfg = config.load(
        project,
        overrides={"image": image, "platforms": ["linux/amd64"], "servers": ["gunicorn"]},
        environ={"CONTAINERIZE_SHARE": "registry"},
    )
    return images.prepare(cfg, machine(engine=True), output="load", no_cache=True)


def test_a_fresh_machine_compiles_nothing_another_one_shared(
    make_project: Callable[[str], Path],
    base_image: str,
    session_id: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    image = f"127.0.0.1:5000/containerize-test/share-{session_id}"
    shared_repo = f"{image}/{sharing.REPOSITORY_SUFFIX}"
    wheel = "psycopg2-2.9.13-cp311-cp311-linux_x86_64.whl"

    # Machine A: an empty cache; it downloads, compiles, and shares.
    first = make_project("psycopg2-app")
    with caplog.at_level(logging.INFO, logger="containerize"):
        prepared = _prepare(first, image, tmp_path / "cache-a", monkeypatch)
    assert prepared.wheelhouse is not None
    (item,) = prepared.wheelhouse.platforms
    assert [w.filename for w in item.compiled] == [wheel]
    assert (first / ".containerize" / "compile" / "Dockerfile").is_file()
    assert "pushed compiled-" in caplog.text

    # Machine B: another copy of the project, another empty cache.
    caplog.clear()
    second = copy_project("psycopg2-app", tmp_path / "b")
    with caplog.at_level(logging.INFO, logger="containerize"):
        prepared = _prepare(second, image, tmp_path / "cache-b", monkeypatch)
    assert prepared.wheelhouse is not None
    (item,) = prepared.wheelhouse.platforms
    assert not item.pending
    assert [w.filename for w in item.compiled] == [wheel]
    said = caplog.text
    assert "psycopg2-2.9.13.tar.gz for linux/amd64: compiled before" in said, said
    assert f"{wheel}: from the shared cache {shared_repo}" in said, said
    # No compile build ran: its context was never written.
    assert not (second / ".containerize" / "compile").exists()
    # And no file came from the package index: each one the cache lacked was pulled.
    assert "downloading " not in said, said
    for fetched in item.report.files:
        assert f"{fetched.filename}: from the shared cache {shared_repo}" in said, said

    # A second push under the same tag with other content: refused by its hash.
    registry = Registry(reference.parse_repository(shared_repo, where="test"))
    host, name = shared_repo.split("/", 1)
    with urllib.request.urlopen(f"http://{host}/v2/{name}/tags/list") as answer:
        tags = json.loads(answer.read())["tags"]
    (compiled_tag,) = [t for t in tags if t.startswith("compiled-")]
    found = registry.manifest(compiled_tag, what="the test")
    assert found is not None
    document = found.json()
    other = b"not the wheel the record names"
    registry.push_blob(oci.digest_of(other), len(other), other, what="the test")
    document["layers"][1] |= {"digest": oci.digest_of(other), "size": len(other)}
    registry.put_manifest(compiled_tag, oci.dump(document), oci.OCI_MANIFEST, what="the test")
    third = copy_project("psycopg2-app", tmp_path / "c")
    refused = rf"{compiled_tag} is refused: its record names {wheel} \(sha256 [0-9a-f]+\), not"
    with pytest.raises(RegistryError, match=refused) as raised:
        _prepare(third, image, tmp_path / "cache-c", monkeypatch)
    assert "nothing of it was used" in raised.value.message
    assert not list((tmp_path / "cache-c" / "compiled").rglob("*.json"))
    assert not list((tmp_path / "cache-c").rglob(wheel))


def test_a_shared_file_under_another_files_tag_is_refused(
    engine: None, session_id: str, tmp_path: Path
) -> None:
    repo = reference.parse_repository(
        f"127.0.0.1:5000/containerize-test/share-files-{session_id}/{sharing.REPOSITORY_SUFFIX}",
        where="test",
    )
    data = b"a file the lock pins\n"
    sha256 = hashlib.sha256(data).hexdigest()
    mine = Cache(root=tmp_path / "a")
    entry = mine.entry(sha256, "pinned-1.0.tar.gz")
    entry.parent.mkdir(parents=True)
    entry.write_bytes(data)
    shared = sharing.SharedCache(Registry(repo), mine)
    assert shared.push_file(sha256, "pinned-1.0.tar.gz")
    assert not shared.push_file(sha256, "pinned-1.0.tar.gz")  # already there

    theirs = sharing.SharedCache(Registry(repo), Cache(root=tmp_path / "b"))
    pulled = theirs.pull_file(sha256, "pinned-1.0.tar.gz")
    assert pulled is not None
    assert pulled.read_bytes() == data
    assert theirs.pull_file("0" * 64, "absent-1.0.tar.gz") is None

    # The tag moved to other bytes: refused, and nothing enters the cache.
    other = b"other bytes\n"
    registry = Registry(repo)
    registry.push_blob(oci.digest_of(other), len(other), other, what="the test")
    found = registry.manifest(f"file-{sha256}", what="the test")
    assert found is not None
    document = found.json()
    document["layers"][0] |= {"digest": oci.digest_of(other), "size": len(other)}
    registry.put_manifest(f"file-{sha256}", oci.dump(document), oci.OCI_MANIFEST, what="the test")
    fresh = Cache(root=tmp_path / "c")
    with pytest.raises(RegistryError, match=rf"file-{sha256} is refused: its file is sha256:"):
        sharing.SharedCache(Registry(repo), fresh).pull_file(sha256, "pinned-1.0.tar.gz")
    assert fresh.lookup(sha256, "pinned-1.0.tar.gz") is None


# --- two CI runners: the first engine, and a second one through its docker context ---


@pytest.fixture(scope="module")
def second_engine(engine: None) -> Iterator[second.Second]:
    """The second engine (``containerize engine second``): its own socket, data root
    and BuildKit cache, reached through the docker context ``containerize-second``.
    Started here when it is not running (so the README's test command provisions it
    in CI), and then stopped again after this module's tests."""
    started = False
    first_bridge = second._addresses(second.FIRST_BRIDGE)
    if not second.answers(second.default()):
        if os.geteuid() != 0:
            message = "the second engine needs root: run 'containerize engine second'"
            if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
                pytest.fail(message)
            pytest.skip(message)
        print(second.up())
        started = True
    yield second.default()
    if started:
        print(second.down())
    # The first engine's bridge outlived the second engine.
    assert (second._addresses(second.FIRST_BRIDGE) is not None) == (first_bridge is not None)


def _on_second(*args: str, **options: Any) -> process.Completed:
    return process.run(["docker", "--context", second.CONTEXT, *args], **options)


def _empty_second() -> None:
    """The second runner starts empty: no BuildKit cache, no image (the whole engine is
    this module's: nothing of anyone else's is there)."""
    _on_second("buildx", "prune", "--all", "--force", timeout=300)
    _on_second("image", "prune", "--all", "--force", timeout=300)


def test_a_second_runner_builds_from_what_the_first_shared_and_compiles_nothing(
    make_project: Callable[[str], Path],
    base_image: str,
    second_engine: second.Second,
    session_id: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Two CI runners, as each runs 'containerize build': the first engine, then the
    second one through its docker context (a socket that is not the default one)."""
    image = f"127.0.0.1:5000/containerize-test/runners-{session_id}"
    shared_repo = f"{image}/{sharing.REPOSITORY_SUFFIX}"
    monkeypatch.setenv("CONTAINERIZE_IMAGE", image)
    monkeypatch.setenv("CONTAINERIZE_CACHE", "registry")
    monkeypatch.setenv("CONTAINERIZE_SHARE", "registry")
    wheel = "psycopg2-2.9.13-cp311-cp311-linux_x86_64.whl"

    def build(project: Path, cache_dir: Path) -> tuple[str, str]:
        """The log lines and BuildKit's output of one CI job's build."""
        monkeypatch.setenv("CONTAINERIZE_CACHE_DIR", str(cache_dir))
        # Each runner's own probe cache (what the base image's Python is), empty at first.
        monkeypatch.setenv("XDG_CACHE_HOME", str(cache_dir / "xdg"))
        caplog.clear()
        capfd.readouterr()
        with caplog.at_level(logging.INFO, logger="containerize"):
            code = cli.main(
                ["--project", str(project), "build", "-v", "--load",
                 "--platform", "linux/amd64", "--server", "gunicorn"]
            )  # fmt: skip
        out = capfd.readouterr()
        assert code == 0, out.err[-3000:]
        return caplog.text, out.err + out.out

    # Runner A, the first engine: an empty download cache; it fetches the files,
    # compiles psycopg2 from its sdist, builds, and pushes both caches.
    first = make_project("psycopg2-app")
    said, log = build(first, tmp_path / "cache-a")
    assert f"compiled psycopg2-2.9.13.tar.gz for linux/amd64: {wheel}" in said, said
    assert "pushed compiled-" in said, said
    assert "pushed probe-" in said, said
    exported = Registry(reference.parse_repository(image, where="image")).manifest(
        "buildcache-gunicorn", what="reading the exported cache"
    )
    assert exported is not None, log
    tags = [f"{image}:gunicorn", f"{image}:1.0.0-gunicorn"]
    process.run(["docker", "image", "rm", "--force", *tags], check=False)

    # Runner B, the second engine through its context: another checkout of the same
    # files, an empty download cache, an empty BuildKit cache and image store.
    monkeypatch.setenv("DOCKER_CONTEXT", second.CONTEXT)
    _empty_second()
    project = copy_project("psycopg2-app", tmp_path / "b")
    # The commit holds the base's pin A recorded (users commit containerize.lock).
    shutil.copy2(first / "containerize.lock", project / "containerize.lock")
    said, log = build(project, tmp_path / "cache-b")
    assert 'building with "containerize-second" instance' in log, log
    # B's empty store pulled the base from the recorded pin as soon as the preflight
    # ended, before the preparation (the probe is its first step to reach the registry).
    began = said.index("$ docker pull --quiet --platform linux/amd64 ")
    assert began < said.index("(linux/amd64): from the shared cache"), said
    assert "pulled the base image " in said, said
    for tag in pins.read(project / "containerize.lock"):  # pinned from the file alone
        assert f"$ docker buildx imagetools inspect {tag}" not in said, said
    # It learned the base image's Python from A's probe: no container of it ran.
    assert "(linux/amd64): from the shared cache" in said, said
    assert "--entrypoint python3" not in said, said
    # Compiled nothing: the wheel came from the shared cache, no compile build ran.
    assert f"psycopg2-2.9.13.tar.gz for linux/amd64: compiled before, {wheel}" in said, said
    assert "compiled psycopg2" not in said, said
    assert not (project / ".containerize" / "compile").exists()
    # Downloaded nothing from the index: every file in B's cache was pulled, and the
    # wheelhouse's summary says so.
    assert "downloading " not in said, said
    counted = re.search(
        r"linux/amd64: .*; (\d+) files: \1 from the shared cache \(.*\), "
        r"0 downloaded from the index, 0 already here$",
        log,
        re.M,
    )
    assert counted, log
    in_cache = sorted(p.name for p in (tmp_path / "cache-b" / "sha256").rglob("*") if p.is_file())
    assert "psycopg2-2.9.13.tar.gz" in in_cache
    assert wheel in in_cache
    for name in in_cache:
        assert f"{name}: from the shared cache {shared_repo}" in said, said
    # BuildKit's steps came from the registry cache A exported: B ran none.
    assert f"importing cache manifest from {image}:buildcache-gunicorn" in log, log
    ran = _steps_run(log)
    assert not ran, f"steps B ran instead of taking them from the registry cache: {ran}"

    # The image is in B's image store, and serves there: the test matrix runs through
    # the same context.
    assert _on_second("image", "inspect", tags[0], check=False).returncode == 0
    assert process.run(["docker", "--context", "default", "image", "inspect", tags[0]],
                       check=False).returncode != 0  # fmt: skip
    capfd.readouterr()
    code = cli.main(["--project", str(project), "test", "--platform", "linux/amd64"])
    out = capfd.readouterr().out
    assert code == 0, out
    assert "gunicorn linux/amd64: passed" in out, out

    # Images travel through the registry: B pushes, and the matrix on A, which does
    # not hold the image, pulls what it tests.
    monkeypatch.setenv("CONTAINERIZE_CACHE_DIR", str(tmp_path / "cache-b"))
    code = cli.main(["--project", str(project), "build", "--push",
                     "--platform", "linux/amd64", "--server", "gunicorn"])  # fmt: skip
    assert code == 0, capfd.readouterr().err[-3000:]
    _empty_second()
    monkeypatch.delenv("DOCKER_CONTEXT")
    capfd.readouterr()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="containerize"):
        code = cli.main(["--project", str(project), "test", "-v", "--platform", "linux/amd64"])
    out = capfd.readouterr().out
    assert code == 0, out
    assert f"pulled {tags[0]} (linux/amd64) from its registry" in caplog.text
    process.run(["docker", "image", "rm", "--force", tags[0]], check=False)


def _steps_run(log: str) -> list[str]:
    """The ``RUN`` steps of BuildKit's plain log that were not ``CACHED``."""
    steps: dict[str, str] = {}
    cached: set[str] = set()
    for line in log.splitlines():
        match = re.match(r"#(\d+) (\[.*\] RUN .*)", line)
        if match:
            steps[match[1]] = match[2]
        elif re.match(r"#(\d+) CACHED", line):
            cached.add(line.split()[0][1:])
    return [step for number, step in steps.items() if number not in cached]


def test_a_builder_named_after_another_context_stops_before_anything_runs(
    make_project: Callable[[str], Path],
    second_engine: second.Second,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = make_project("hello-wsgi")
    code = cli.main(
        ["--project", str(project), "build", "--builder", second.CONTEXT,
         "--platform", "linux/amd64", "--server", "gunicorn"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == EngineError.exit_code, err
    assert f"builder {second.CONTEXT!r} is the docker driver of the docker context" in err
    assert f"DOCKER_CONTEXT={second.CONTEXT}" in err
    assert "Traceback" not in err
    assert not (project / ".containerize").exists()
