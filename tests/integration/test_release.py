"""Releases against real registries: the loopback one on 127.0.0.1:5000, and registries
of the tests' own (started on a free loopback port) where a test stops one mid-release.

Each release really builds with buildx for linux/amd64 and linux/arm64, pushes by
digest, runs the test hook, and moves tags. What the registry holds is read back with
tools other than containerize's own client where it matters (``docker buildx
imagetools``, plain HTTP, ``docker run``, ``cosign verify``).
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name

from containerize import config, process
from containerize.commands import releasing, testing
from containerize.errors import ContainerTestError, RegistryError, ReleaseError
from containerize.matrix import report

from .conftest import REPO, copy_project

logger = logging.getLogger("containerize.tests")

SERVERS = ["gunicorn", "cheroot"]
ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)


# ----------------------------------------------------------------------- helpers


def git(project: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args]
    return subprocess.run(command, cwd=project, check=True, capture_output=True, text=True).stdout


def make_project(dest: Path, image: str, *, version: str = "1.0.0", body: str = "") -> Path:
    """hello-wsgi in a git repository of its own, releasing *version* to *image*."""
    project = copy_project("hello-wsgi", dest)
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    text = text.replace('version = "1.0.0"', f'version = "{version}"')
    text = text.replace(
        'image = "127.0.0.1:5000/containerize-examples/hello-wsgi"', f'image = "{image}"'
    )
    text = text.replace(
        'servers = ["gunicorn", "uwsgi", "mod_wsgi", "cheroot"]', f"servers = {json.dumps(SERVERS)}"
    )
    pyproject.write_text(text)
    if body:
        hello = project / "hello.py"
        hello.write_text(hello.read_text().replace("Hello World!", body))
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", f"release {version}")
    return project


def release(
    project: Path,
    *,
    test: Callable[[Mapping[str, str]], None] | None = None,
    force: bool = False,
    provenance: bool = False,
    sign_key: str | None = None,
    servers: list[str] | None = None,
) -> int:
    return releasing.release(
        project,
        overrides={"servers": servers},
        dry_run=False,
        force=force,
        provenance=provenance,
        sign_key=sign_key,
        skip_tests=test is None,
        test_images=test,
    )


def record(project: Path) -> dict[str, Any]:
    data = json.loads((project / ".containerize" / "release" / "release.json").read_text())
    assert isinstance(data, dict)
    return data


def request(url: str, *, method: str = "GET") -> tuple[int, Mapping[str, str], bytes]:
    """Plain HTTP to a loopback registry, outside containerize's client."""
    host = url.split("/")[2]
    connection = http.client.HTTPConnection(host, timeout=30)
    try:
        connection.request(method, "/" + url.split("/", 3)[3], headers={"Accept": ACCEPT})
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        connection.close()


def tags(repository: str) -> list[str]:
    host, name = repository.split("/", 1)
    status, _, body = request(f"http://{host}/v2/{name}/tags/list")
    if status == 404:
        return []
    assert status == 200, body
    return sorted(json.loads(body).get("tags") or [])


def tag_digest(repository: str, tag: str) -> str | None:
    host, name = repository.split("/", 1)
    status, headers, _ = request(f"http://{host}/v2/{name}/manifests/{tag}", method="HEAD")
    return headers["docker-content-digest"] if status == 200 else None


def release_tags(repository: str) -> dict[str, str | None]:
    """Every tag that is not a referrers list, and the digest it names."""
    return {
        tag: tag_digest(repository, tag)
        for tag in tags(repository)
        if not tag.startswith("sha256-")
    }


def imagetools(reference: str) -> dict[str, Any]:
    out = process.run(["docker", "buildx", "imagetools", "inspect", "--raw", reference]).stdout
    data = json.loads(out)
    assert isinstance(data, dict)
    return data


def platforms_of(index: Mapping[str, Any]) -> list[str]:
    return sorted(
        f"{m['platform']['os']}/{m['platform']['architecture']}" for m in index["manifests"]
    )


def referrers(repository: str, digest: str) -> list[dict[str, Any]]:
    host, name = repository.split("/", 1)
    status, _, body = request(f"http://{host}/v2/{name}/referrers/{digest}")
    assert status == 404  # distribution 2.8: no referrers API, so the tag schema is used
    status, _, body = request(f"http://{host}/v2/{name}/manifests/sha256-{digest[7:]}")
    assert status == 200, body
    listed: list[dict[str, Any]] = json.loads(body)["manifests"]
    return listed


def blob(repository: str, digest: str) -> bytes:
    host, name = repository.split("/", 1)
    with urllib.request.urlopen(f"http://{host}/v2/{name}/blobs/{digest}", timeout=60) as answer:
        data: bytes = answer.read()
    return data


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class OwnRegistry:
    """A distribution registry of the test's own, on a free loopback port; with
    *htpasswd*, it asks for Basic credentials."""

    root: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    htpasswd: Path | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def storage(self) -> Path:
        return self.root / "data"

    def start(self) -> None:
        config = self.root / "registry.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n"
            f"  filesystem:\n    rootdirectory: {self.storage}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.address}\n"
            + (
                f"auth:\n  htpasswd:\n    realm: test\n    path: {self.htpasswd}\n"
                if self.htpasswd
                else ""
            )
        )
        with (self.root / "registry.log").open("ab") as log:
            self.proc = subprocess.Popen(
                ["docker-registry", "serve", str(config)], stdout=log, stderr=log
            )
        for _ in range(60):  # 30 s at most
            try:
                if request(f"http://{self.address}/v2/")[0] in (200, 401):
                    return
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"the test registry did not start on {self.address}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.proc = None


@pytest.fixture
def own_registry(tmp_path: Path, engine: None) -> Iterator[OwnRegistry]:
    registry = OwnRegistry(root=tmp_path / "registry")
    registry.root.mkdir()
    registry.start()
    try:
        yield registry
    finally:
        registry.stop()


def delete_repository(repository: str) -> None:
    """Remove what the tests pushed to the shared registry (delete is enabled there)."""
    host, name = repository.split("/", 1)
    digests = {tag_digest(repository, tag) for tag in tags(repository)}
    for digest in sorted(d for d in digests if d):
        connection = http.client.HTTPConnection(host, timeout=30)
        try:
            connection.request("DELETE", f"/v2/{name}/manifests/{digest}")
            connection.getresponse().read()
        finally:
            connection.close()


# -------------------------------------------------------- the first release, shared


@dataclass
class Released:
    project: Path
    repository: str
    record: dict[str, Any]
    tags_while_testing: list[str]
    cells: list[report.CellResult]  # the test matrix's results on the pushed digests
    pulled: list[str]


@pytest.fixture(scope="module")
def released(
    tmp_path_factory: pytest.TempPathFactory, base_image: str, session_id: str
) -> Iterator[Released]:
    """Release 1.0.0 of hello-wsgi (gunicorn and cheroot) to 127.0.0.1:5000, with the
    release's own test step: the test matrix on the digests pulled back."""
    repository = f"127.0.0.1:5000/release-test-{session_id}/app"
    project = make_project(tmp_path_factory.mktemp("release"), repository)
    seen: dict[str, Any] = {}
    matrix = testing.matrix_on_digests(config.load(project))

    def test_images(images: Mapping[str, str]) -> None:
        seen["images"] = dict(images)
        seen["tags"] = sorted(release_tags(repository))
        matrix(images)

    pulled: list[str] = []
    try:
        assert release(project, test=test_images) == 0
        data = record(project)
        assert seen["images"] == {s: data["images"][s]["reference"] for s in SERVERS}
        pulled.append(seen["images"]["gunicorn"])
        yield Released(
            project=project,
            repository=repository,
            record=data,
            tags_while_testing=seen["tags"],
            cells=[
                cell
                for path in sorted((project / ".containerize" / "test-results").glob("*.json"))
                if (cell := report.CellResult.from_json(path.read_text())) is not None
            ],
            pulled=pulled,
        )
    finally:
        for reference in {*seen.get("images", {}).values(), *pulled}:
            process.run(["docker", "image", "rm", "--force", reference], check=False)
        delete_repository(repository)


def test_push_then_inspect_both_platforms(released: Released) -> None:
    repo = released.repository
    sha = git(released.project, "rev-parse", "HEAD").strip()[:7]
    expected = {
        "gunicorn": ["1.0.0", f"sha-{sha}", "1.0", "1", "latest"],
        "cheroot": [
            "1.0.0-cheroot", f"sha-{sha}-cheroot", "1.0-cheroot", "1-cheroot", "cheroot",
        ],
    }  # fmt: skip
    assert sorted(release_tags(repo)) == sorted(t for names in expected.values() for t in names)
    for server, names in expected.items():
        digest = released.record["images"][server]["digest"]
        for name in names:
            index = imagetools(f"{repo}:{name}")
            assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
            # Both platforms, and no unknown/unknown attestation entry.
            assert platforms_of(index) == ["linux/amd64", "linux/arm64"], name
            assert tag_digest(repo, name) == digest
        for platform, manifest in released.record["images"][server]["platforms"].items():
            found = imagetools(f"{repo}@{manifest}")
            assert found["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
            config = json.loads(blob(repo, found["config"]["digest"]))
            assert f"{config['os']}/{config['architecture']}" == platform


def test_tags_moved_only_after_the_test_ran_on_the_pulled_digest(released: Released) -> None:
    # While the hook ran, the repository held the images by digest only.
    assert released.tags_while_testing == []
    assert released.record["tested"] is True
    assert released.pulled[0].startswith(f"{released.repository}@sha256:")
    # Every server on every platform passed the matrix, run on the pushed digest.
    assert sorted(cell.name for cell in released.cells) == [
        "cheroot linux/amd64",
        "cheroot linux/arm64",
        "gunicorn linux/amd64",
        "gunicorn linux/arm64",
    ]
    for cell in released.cells:
        assert cell.passed, report.failures([cell])
        assert cell.image == released.record["images"][cell.server]["reference"]


def lock_hashes(project: Path) -> dict[tuple[str, str], set[str]]:
    """(name, version) -> the sha256 of every file poetry.lock records for it."""
    lock = tomllib.loads((project / "poetry.lock").read_text())
    return {
        (canonicalize_name(package["name"]), package["version"]): {
            entry["hash"].removeprefix("sha256:") for entry in package.get("files", [])
        }
        for package in lock["package"]
    }


INSPECT = (
    "import importlib.metadata as m, json, re, subprocess; "
    "print(json.dumps({'python': sorted([re.sub(r'[-_.]+', '-', d.metadata['Name']).lower(), "
    "d.version] for d in m.distributions()), 'debian': subprocess.run(['dpkg-query', '-W', "
    "'-f', '${db:Status-Status} ${Package} ${Version}\\n'], capture_output=True, text=True)"
    ".stdout.split('\\n')}))"
)


def test_sbom_attached_listing_every_locked_package_with_its_hash(released: Released) -> None:
    repo = released.repository
    hashes = lock_hashes(released.project)
    for server in SERVERS:
        image = released.record["images"][server]
        for platform, manifest in image["platforms"].items():
            found = referrers(repo, manifest)
            sboms = [r for r in found if r["artifactType"] == "application/vnd.cyclonedx+json"]
            assert len(sboms) == 1, found
            artifact = imagetools(f"{repo}@{sboms[0]['digest']}")
            assert artifact["subject"]["digest"] == manifest
            attached = blob(repo, artifact["layers"][0]["digest"])
            # The copy kept in the build folder is the one attached.
            assert Path(image["sboms"][platform]).read_bytes() == attached
            document = json.loads(attached)
            python = {
                (c["name"], c["version"]): c["hashes"][0]["content"]
                for c in document["components"]
                if c["purl"].startswith("pkg:pypi/")
            }
            debian = {
                (c["name"], c["version"])
                for c in document["components"]
                if c["purl"].startswith("pkg:deb/")
            }
            # What the image really holds, asked inside a container of that platform.
            released.pulled.append(f"{repo}@{manifest}")
            out = process.run(
                ["docker", "run", "--rm", "--platform", platform, "--entrypoint",
                 "/opt/venv/bin/python", f"{repo}@{manifest}", "-c", INSPECT],
                timeout=300,
            ).stdout  # fmt: skip
            held = json.loads(out)
            installed = {(name, version) for name, version in held["python"]}
            assert set(python) == installed, (server, platform)
            assert server in {name for name, _ in python}
            for key, sha in python.items():
                assert sha in hashes[key], f"{key}: {sha} is not a hash poetry.lock records"
            assert debian == {
                (line.split()[1], line.split()[2])
                for line in held["debian"]
                if line.startswith("installed ")
            }
            assert len(debian) > 50, "the runtime image's Debian packages are listed"


# -------------------------------------------------------------- tag rules, refusals


def test_pre_release_and_dev_release_get_their_exact_tags_only(
    released: Released, tmp_path: Path
) -> None:
    repo = released.repository
    for version in ("1.1.0rc1", "1.1.0.dev2"):
        before = release_tags(repo)
        project = make_project(tmp_path / version, repo, version=version)
        assert release(project) == 0
        sha = git(project, "rev-parse", "HEAD").strip()[:7]
        after = release_tags(repo)
        added = sorted(set(after) - set(before))
        assert added == sorted(
            [version, f"sha-{sha}", f"{version}-cheroot", f"sha-{sha}-cheroot"]
        ), added
        # latest, 1, 1.0 and their cheroot variants stay where they were.
        assert {t: after[t] for t in before} == before
        for tag in added:
            assert platforms_of(imagetools(f"{repo}:{tag}")) == ["linux/amd64", "linux/arm64"]


def test_an_existing_immutable_tag_is_never_overwritten_unless_forced(
    released: Released, tmp_path: Path
) -> None:
    repo = released.repository
    project = make_project(tmp_path, repo, body="Hello again!")
    before = release_tags(repo)
    with pytest.raises(ReleaseError) as caught:
        release(project)
    message = str(caught.value)
    assert f"{repo}:1.0.0 names {before['1.0.0']}" in message
    assert f"{repo}:1.0.0-cheroot names {before['1.0.0-cheroot']}" in message
    assert "no tag was moved" in message
    assert caught.value.exit_code == 8
    assert "--force" in (caught.value.hint or "")
    assert release_tags(repo) == before

    assert release(project, force=True) == 0
    after = release_tags(repo)
    new = record(project)["images"]
    assert after["1.0.0"] == after["latest"] == new["gunicorn"]["digest"] != before["1.0.0"]
    assert after["cheroot"] == new["cheroot"]["digest"]


def test_a_failed_test_moves_no_tag(released: Released, tmp_path: Path) -> None:
    repo = released.repository
    project = make_project(tmp_path, repo, version="1.2.0", body="Broken!")
    before = release_tags(repo)
    pushed: dict[str, str] = {}

    def failing(images: Mapping[str, str]) -> None:
        pushed.update(images)
        raise ContainerTestError("gunicorn on linux/amd64 answered 'Broken!'", hint="fix it")

    with pytest.raises(ContainerTestError) as caught:
        release(project, test=failing)
    assert "no tag was moved" in str(caught.value)
    assert release_tags(repo) == before
    # The untested images stay in the registry by digest only.
    for reference in pushed.values():
        assert platforms_of(imagetools(reference)) == ["linux/amd64", "linux/arm64"]


# ------------------------------------------------- a registry stopped mid-release


def uploads_started(storage: Path) -> bool:
    repositories = storage / "docker" / "registry" / "v2" / "repositories"
    return any(repositories.glob("*/*/_uploads/*")) if repositories.is_dir() else False


def test_registry_stopped_during_the_push(
    own_registry: OwnRegistry, tmp_path: Path, base_image: str
) -> None:
    repo = f"{own_registry.address}/stopped/app"
    project = make_project(tmp_path / "p", repo)
    stopped = threading.Event()

    def stop_at_first_upload() -> None:
        for _ in range(6000):  # 10 minutes at most
            if uploads_started(own_registry.storage):
                own_registry.stop()
                stopped.set()
                return
            time.sleep(0.01)

    watcher = threading.Thread(target=stop_at_first_upload, daemon=True)
    watcher.start()
    with pytest.raises(RegistryError) as caught:
        release(project, servers=["gunicorn"])
    watcher.join(timeout=30)
    assert stopped.is_set()
    message = str(caught.value)
    assert f"cannot reach the registry {own_registry.address} while pushing gunicorn" in message
    assert "no tag was moved" in message
    assert "is the registry running?" in (caught.value.hint or "")
    own_registry.start()
    assert release_tags(repo) == {}


def test_release_interrupted_during_the_push(
    own_registry: OwnRegistry, tmp_path: Path, base_image: str
) -> None:
    """SIGTERM, as CI sends when it cancels a job, while blobs are being uploaded."""
    repo = f"{own_registry.address}/interrupted/app"
    project = make_project(tmp_path / "p", repo)
    argv = [sys.executable, "-m", "containerize.cli", "--project", str(project), "release",
            "--server", "gunicorn"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as child:
        for _ in range(6000):  # 10 minutes at most
            if uploads_started(own_registry.storage) or child.poll() is not None:
                break
            time.sleep(0.01)
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=120)
    assert child.returncode == 143, out + err
    assert "interrupted by SIGTERM" in err
    assert "no tag was moved" in err
    assert release_tags(repo) == {}


def test_registry_stopped_between_the_tests_and_the_tags(
    own_registry: OwnRegistry, tmp_path: Path, base_image: str
) -> None:
    repo = f"{own_registry.address}/stopped/app"
    project = make_project(tmp_path / "p", repo)
    tested: dict[str, str] = {}

    def stop_registry(images: Mapping[str, str]) -> None:
        tested.update(images)
        own_registry.stop()

    with pytest.raises(RegistryError) as caught:
        release(project, servers=["gunicorn"], test=stop_registry)
    message = str(caught.value)
    assert f"cannot reach the registry {own_registry.address}" in message
    assert "no tag was moved" in message
    own_registry.start()
    assert release_tags(repo) == {}
    # The pushed, tested image is there by digest; a second run tags it.
    assert platforms_of(imagetools(tested["gunicorn"])) == ["linux/amd64", "linux/arm64"]
    assert release(project, servers=["gunicorn"]) == 0
    assert set(release_tags(repo).values()) == {tested["gunicorn"].split("@")[1]}


# ---------------------------------------------------------------------- credentials


def bcrypt_line(user: str, password: str) -> str:
    """An htpasswd line (the registry takes bcrypt only), made by libxcrypt through
    Python's crypt module, in a child so its deprecation warning stays there."""
    script = (
        "import crypt, sys; "
        "print(sys.argv[1] + ':' + crypt.crypt(sys.argv[2], crypt.mksalt(crypt.METHOD_BLOWFISH)))"
    )
    command = [sys.executable, "-W", "ignore", "-c", script, user, password]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def test_credentials_come_from_a_docker_credential_helper_and_go_nowhere_else(
    tmp_path: Path, base_image: str, engine: None,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    secret = f"pw-{uuid.uuid4().hex}"
    (tmp_path / "htpasswd").write_text(bcrypt_line("robot", secret))
    registry = OwnRegistry(root=tmp_path / "registry", htpasswd=tmp_path / "htpasswd")
    registry.root.mkdir()
    registry.start()
    try:
        repo = f"{registry.address}/private/app"
        project = make_project(tmp_path / "p", repo)
        # No credentials: refused before anything is built, with the way to log in.
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "empty"))
        with pytest.raises(RegistryError) as caught:
            release(project, servers=["gunicorn"])
        assert "answered 401 to GET /v2/ while checking the registry before the build" in str(
            caught.value
        )
        assert f"docker login {registry.address}" in (caught.value.hint or "")
        assert not (project / ".containerize" / "release").exists()

        # A credential helper (a real program on PATH) holds them, as docker keeps them.
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        helper = bin_dir / "docker-credential-release-test"
        answer = json.dumps({"ServerURL": registry.address, "Username": "robot", "Secret": secret})
        helper.write_text(f"#!/bin/sh\ncat >/dev/null\nprintf '%s' '{answer}'\n")
        helper.chmod(0o755)
        config = tmp_path / "docker"
        config.mkdir()
        (config / "config.json").write_text(
            json.dumps({"credHelpers": {registry.address: "release-test"}})
        )
        monkeypatch.setenv("DOCKER_CONFIG", str(config))
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        caplog.set_level(logging.INFO, logger="containerize")
        assert release(project, servers=["gunicorn"]) == 0
        image = record(project)["images"]["gunicorn"]
        assert image["tags"][-1] == f"{repo}:latest"
        shown = caplog.text + "".join(capsys.readouterr())
        assert "$ docker buildx build" in shown  # every command was logged...
        assert secret not in shown  # ...and none carried the secret
        # Not in the build folder (Dockerfile, context, metadata, SBOMs, record)...
        for path in (project / ".containerize").rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path
        # ...nor in the image: its configuration (build arguments would be in its
        # history) and its layers, read back with the credentials.
        host, name = repo.split("/", 1)
        auth = {"Authorization": "Basic " + base64.b64encode(f"robot:{secret}".encode()).decode()}
        for manifest in image["platforms"].values():
            document = json.loads(fetch(f"http://{host}/v2/{name}/manifests/{manifest}", auth))
            for blob_ref in [document["config"], *document["layers"]]:
                data = fetch(f"http://{host}/v2/{name}/blobs/{blob_ref['digest']}", auth)
                if blob_ref["mediaType"].endswith("gzip"):
                    data = gzip.decompress(data)
                assert secret.encode() not in data, blob_ref["digest"]
    finally:
        registry.stop()


def fetch(url: str, headers: Mapping[str, str]) -> bytes:
    request_ = urllib.request.Request(url, headers={"Accept": ACCEPT, **headers})
    with urllib.request.urlopen(request_, timeout=120) as answer:
        data: bytes = answer.read()
    return data


# ------------------------------------------------------ provenance and signatures


@pytest.fixture(scope="module")
def cosign(engine: None) -> str:
    """cosign on PATH; as root on Debian, unpacked from Debian's trixie package."""
    from containerize.host import tools  # noqa: PLC0415 (root-only provisioning)

    found = shutil.which("cosign")
    if found:
        return found
    try:
        return str(tools.ensure_cosign())
    except Exception as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"cosign is needed and could not be provided: {exc}")
        pytest.skip(f"cosign is not available: {exc}")


def test_signed_release_with_provenance(
    own_registry: OwnRegistry, tmp_path: Path, base_image: str, cosign: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("COSIGN_PASSWORD", "correct horse")
    monkeypatch.setenv("PATH", f"{Path(cosign).parent}{os.pathsep}{os.environ['PATH']}")
    keys = tmp_path / "keys"
    keys.mkdir()
    for folder in (keys, tmp_path / "other"):
        folder.mkdir(exist_ok=True)
        process.run([cosign, "generate-key-pair"], cwd=folder, input="", timeout=120)
    repo = f"{own_registry.address}/signed/app"
    project = make_project(tmp_path / "p", repo)
    assert release(project, provenance=True, sign_key=str(keys / "cosign.key")) == 0
    data = record(project)
    for server in SERVERS:
        image = data["images"][server]
        index = imagetools(image["reference"])
        # Provenance was asked for, yet the index lists the two platforms only.
        assert platforms_of(index) == ["linux/amd64", "linux/arm64"]
        assert all("unknown" not in json.dumps(m) for m in index["manifests"])
        for manifest in image["platforms"].values():
            kinds = sorted(r["artifactType"] for r in referrers(repo, manifest))
            assert kinds == ["application/vnd.cyclonedx+json", "application/vnd.in-toto+json"]
            provenance = next(
                r for r in referrers(repo, manifest)
                if r["artifactType"] == "application/vnd.in-toto+json"
            )  # fmt: skip
            statement = imagetools(f"{repo}@{provenance['digest']}")
            assert statement["subject"]["digest"] == manifest
            assert "in-toto" in json.dumps(statement["layers"])
        for reference in (
            image["reference"],
            f"{repo}:{'latest' if server == 'gunicorn' else server}",
        ):
            verified = process.run(
                [cosign, "verify", "--key", str(keys / "cosign.pub"), "--insecure-ignore-tlog",
                 "--allow-http-registry", reference], timeout=120,
            )  # fmt: skip
            claims = json.loads(verified.stdout)
            assert claims[0]["critical"]["image"]["docker-manifest-digest"] == image["digest"]
        wrong = process.run(
            [cosign, "verify", "--key", str(tmp_path / "other" / "cosign.pub"),
             "--insecure-ignore-tlog", "--allow-http-registry", image["reference"]],
            check=False, timeout=120,
        )  # fmt: skip
        assert wrong.returncode != 0
