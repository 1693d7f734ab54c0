"""The shared cache's pulls refuse what does not hash to what it claims, against a
registry on loopback that serves what each test gives it (a tampered one)."""

from __future__ import annotations

import hashlib
import http.server
import logging
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from packaging.utils import canonicalize_name
from simple_index_server import SimpleIndexServer, publish, sha256_of, wheel_bytes

from containerize import reference
from containerize.engine import probes
from containerize.errors import RegistryError
from containerize.platforms import LINUX_AMD64, LINUX_ARM64, Platform
from containerize.registry import oci
from containerize.registry.client import Registry
from containerize.resolve import sharing
from containerize.resolve.cache import Cache
from containerize.resolve.fetch import FileRequest, fetch, human
from containerize.resolve.pipconfig import IndexSettings, IndexSource
from containerize.targets import TargetEnvironment

REPO = "team/app/containerize-cache"


class _Handler(http.server.BaseHTTPRequestHandler):
    served: ClassVar[dict[str, tuple[str, bytes]]] = {}

    def do_GET(self) -> None:
        found = self.served.get(self.path)
        if found is None:
            self.send_response(404)
            self.end_headers()
            return
        kind, body = found
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:
        found = self.served.get(self.path)
        self.send_response(404 if found is None else 200)
        if found is not None:
            self.send_header("Content-Type", found[0])
            self.send_header("Content-Length", str(len(found[1])))
        self.end_headers()

    def do_POST(self) -> None:
        """Start a blob upload (pushing is only for the tests that push)."""
        self.send_response(202)
        self.send_header("Location", f"{self.path}upload-{uuid.uuid4().hex}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_PUT(self) -> None:
        """End a blob upload (``...?digest=``) or store a manifest under its path."""
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        path, _, query = self.path.partition("?")
        if "/blobs/uploads/" in path:
            digest = urllib.parse.parse_qs(query)["digest"][0]
            stored = path.split("/blobs/uploads/")[0] + f"/blobs/{digest}"
            self.served[stored] = ("application/octet-stream", body)
        else:
            self.served[path] = (self.headers.get("Content-Type", ""), body)
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def registry() -> Iterator[tuple[str, dict[str, tuple[str, bytes]]]]:
    """A registry on 127.0.0.1 that serves the paths the test puts in the dict."""
    served: dict[str, tuple[str, bytes]] = {}
    handler = type("Handler", (_Handler,), {"served": served})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", served
    finally:
        server.shutdown()
        server.server_close()


def _file_artifact(layer_digest: str, size: int) -> bytes:
    return oci.dump(
        {
            "schemaVersion": 2,
            "mediaType": oci.OCI_MANIFEST,
            "artifactType": sharing.FILE_ARTIFACT,
            "config": {"mediaType": oci.EMPTY_CONFIG, "digest": oci.digest_of(b"{}"), "size": 2},
            "layers": [
                {
                    "mediaType": sharing.FILE_MEDIA_TYPE,
                    "digest": layer_digest,
                    "size": size,
                    "annotations": {sharing.TITLE: "pinned-1.0.tar.gz"},
                }
            ],
        }
    )


def _shared(host: str, root: Path) -> sharing.SharedCache:
    repo = reference.parse_repository(f"{host}/{REPO}", where="test")
    return sharing.SharedCache(Registry(repo, credentials=lambda host: None), Cache(root=root))


DATA = b"the pinned file\n"
SHA = hashlib.sha256(DATA).hexdigest()


def test_a_file_is_pulled_into_the_cache(
    registry: tuple[str, dict[str, tuple[str, bytes]]], tmp_path: Path
) -> None:
    host, served = registry
    served[f"/v2/{REPO}/manifests/file-{SHA}"] = (
        oci.OCI_MANIFEST,
        _file_artifact(f"sha256:{SHA}", len(DATA)),
    )
    served[f"/v2/{REPO}/blobs/sha256:{SHA}"] = ("application/octet-stream", DATA)
    shared = _shared(host, tmp_path)
    path = shared.pull_file(SHA, "pinned-1.0.tar.gz")
    assert path == Cache(root=tmp_path).entry(SHA, "pinned-1.0.tar.gz")
    assert path.read_bytes() == DATA
    assert shared.pull_file("0" * 64, "other-1.0.tar.gz") is None


def test_a_blob_whose_bytes_are_not_its_digest_is_refused(
    registry: tuple[str, dict[str, tuple[str, bytes]]], tmp_path: Path
) -> None:
    host, served = registry
    served[f"/v2/{REPO}/manifests/file-{SHA}"] = (
        oci.OCI_MANIFEST,
        _file_artifact(f"sha256:{SHA}", len(DATA)),
    )
    # The registry's storage changed under the digest.
    served[f"/v2/{REPO}/blobs/sha256:{SHA}"] = ("application/octet-stream", b"tampered\n")
    with pytest.raises(RegistryError, match=rf"the blob sha256:{SHA} hashes to sha256:") as info:
        _shared(host, tmp_path).pull_file(SHA, "pinned-1.0.tar.gz")
    assert "it was not used" in info.value.message
    assert Cache(root=tmp_path).lookup(SHA, "pinned-1.0.tar.gz") is None
    assert list((tmp_path / "partial").iterdir()) == []


def test_a_tag_pointing_at_another_file_is_refused(
    registry: tuple[str, dict[str, tuple[str, bytes]]], tmp_path: Path
) -> None:
    host, served = registry
    other = b"other\n"
    served[f"/v2/{REPO}/manifests/file-{SHA}"] = (
        oci.OCI_MANIFEST,
        _file_artifact(oci.digest_of(other), len(other)),
    )
    with pytest.raises(RegistryError, match=rf"file-{SHA} is refused: its file is sha256:"):
        _shared(host, tmp_path).pull_file(SHA, "pinned-1.0.tar.gz")
    assert Cache(root=tmp_path).lookup(SHA, "pinned-1.0.tar.gz") is None


def test_an_artifact_of_another_kind_is_refused(
    registry: tuple[str, dict[str, tuple[str, bytes]]], tmp_path: Path
) -> None:
    host, served = registry
    served[f"/v2/{REPO}/manifests/compiled-{'a' * 64}"] = (
        oci.OCI_MANIFEST,
        _file_artifact(f"sha256:{SHA}", len(DATA)),
    )
    with pytest.raises(
        RegistryError, match=r"its artifact type is not application/vnd\.containerize\.compiled"
    ):
        _shared(host, tmp_path).pull_compiled("a" * 64, what="pulling", check=lambda _: None)


def test_the_fetch_tells_files_from_the_shared_cache_from_downloads(
    registry: tuple[str, dict[str, tuple[str, bytes]]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One file already here, one pulled from the shared cache, one downloaded from the
    index (and then shared): the report and its words count each where it came from."""
    host, served = registry
    served[f"/v2/{REPO}/manifests/file-{SHA}"] = (
        oci.OCI_MANIFEST,
        _file_artifact(f"sha256:{SHA}", len(DATA)),
    )
    served[f"/v2/{REPO}/blobs/sha256:{SHA}"] = ("application/octet-stream", DATA)
    here = b"a file this machine downloaded before\n"
    cache = Cache(root=tmp_path / "cache")
    entry = cache.entry(sha256_of(here), "here-1.0.tar.gz")
    entry.parent.mkdir(parents=True)
    entry.write_bytes(here)
    with SimpleIndexServer() as index:
        hashes = publish(index, "demo", {"demo-1.0-py3-none-any.whl": wheel_bytes("demo", "1.0")})
        settings = IndexSettings(
            indexes=(IndexSource(name="test", url=f"{index.url}/simple/", origin="the test"),)
        )
        wanted = [
            FileRequest(name=canonicalize_name(name), version="1.0", filename=filename,
                        sha256=sha256)
            for name, filename, sha256 in (
                ("here", "here-1.0.tar.gz", sha256_of(here)),
                ("pinned", "pinned-1.0.tar.gz", SHA),
                ("demo", "demo-1.0-py3-none-any.whl", hashes["demo-1.0-py3-none-any.whl"]),
            )
        ]  # fmt: skip
        with caplog.at_level(logging.INFO, logger="containerize"):
            report = fetch(
                wanted,
                settings=settings,
                cache=cache,
                dest=tmp_path / "wheelhouse",
                # One cache, as a build has: the fetch's and the shared cache's.
                shared=sharing.SharedCache(_shared(host, cache.root).registry, cache),
            )
    by_name = {f.filename: f for f in report.files}
    assert by_name["here-1.0.tar.gz"].hit
    assert by_name["pinned-1.0.tar.gz"].shared
    assert not by_name["pinned-1.0.tar.gz"].hit
    assert by_name["pinned-1.0.tar.gz"].source == f"{host}/{REPO}"
    assert not by_name["demo-1.0-py3-none-any.whl"].shared
    assert (report.hits, report.shared, report.misses) == (1, 1, 1)
    wheel_size = len(wheel_bytes("demo", "1.0"))
    assert report.bytes_downloaded == wheel_size
    assert report.bytes_shared == len(DATA)
    said = (
        f"1 from the shared cache ({len(DATA)} B), "
        f"1 downloaded from the index ({human(wheel_size)}), 1 already here"
    )
    assert report.counts() == said
    assert f"3 files ready: {said}" in caplog.text
    # What came from the index was shared: its artifact is in the registry now.
    assert f"/v2/{REPO}/manifests/file-{hashes['demo-1.0-py3-none-any.whl']}" in served
    # Fetched again in the same run (as a build does once the compiled wheels are
    # known), what came from the shared cache is still counted as such.
    again = fetch(wanted, settings=settings, cache=cache, dest=tmp_path / "wheelhouse-2")
    assert again.counts() == (
        f"1 from the shared cache ({len(DATA)} B), 0 downloaded from the index, 2 already here"
    )
    # Another run on this machine finds everything here, and downloads nothing.
    later = Cache(root=cache.root)
    assert fetch(wanted, settings=settings, cache=later).counts() == (
        "0 downloaded from the index, 3 already here"
    )


def test_an_unreachable_registry_is_a_warning_when_pulling(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on port 9 (discard) of loopback here.
    assert _shared("127.0.0.1:9", tmp_path).pull_file(SHA, "pinned-1.0.tar.gz") is None
    assert "cannot reach the registry 127.0.0.1:9" in caplog.text


# ------------------------------------------------------------------------- probes

BASE = "127.0.0.1:5000/python:3.11@sha256:" + "b" * 64


def _probe_artifact(key: str, layer: bytes, *, media_type: str = sharing.PROBE_MEDIA_TYPE) -> bytes:
    return oci.dump(
        {
            "schemaVersion": 2,
            "mediaType": oci.OCI_MANIFEST,
            "artifactType": sharing.PROBE_ARTIFACT,
            "config": {"mediaType": oci.EMPTY_CONFIG, "digest": oci.digest_of(b"{}"), "size": 2},
            "layers": [
                {"mediaType": media_type, "digest": oci.digest_of(layer), "size": len(layer)}
            ],
            "annotations": {sharing.KEY: key},
        }
    )


def _serve_probe(
    served: dict[str, tuple[str, bytes]],
    *,
    platform: Platform = LINUX_AMD64,
    describes: Platform = LINUX_AMD64,
    key: str | None = None,
    blob: bytes | None = None,
) -> bytes:
    """Serve a probe of BASE on *platform* whose JSON *describes* a platform; the
    artifact's *key* annotation and the *blob* served for its layer as given."""
    layer = TargetEnvironment.from_config(describes, (3, 11), ("glibc", (2, 36))).to_json()
    data = layer.encode()
    tag_key = probes.probe_key(BASE, platform)
    served[f"/v2/{REPO}/manifests/probe-{tag_key}"] = (
        oci.OCI_MANIFEST,
        _probe_artifact(key or tag_key, data),
    )
    served[f"/v2/{REPO}/blobs/{oci.digest_of(data)}"] = (
        "application/octet-stream",
        data if blob is None else blob,
    )
    return data


@pytest.fixture
def probe_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return probes.cache_dir()


def test_the_probe_key_is_the_base_digest_the_platform_and_the_script() -> None:
    other = BASE.replace("b" * 64, "c" * 64)
    assert probes.probe_key(BASE, LINUX_AMD64) == probes.probe_key(BASE, LINUX_AMD64)
    assert probes.probe_key(BASE, LINUX_AMD64) != probes.probe_key(other, LINUX_AMD64)
    assert probes.probe_key(BASE, LINUX_AMD64) != probes.probe_key(BASE, LINUX_ARM64)


def test_a_probe_is_pulled_into_the_probe_cache_and_used_without_a_container(
    registry: tuple[str, dict[str, tuple[str, bytes]]], tmp_path: Path, probe_cache: Path
) -> None:
    host, served = registry
    data = _serve_probe(served)
    shared = _shared(host, tmp_path / "cache")
    assert shared.pull_probe(BASE, LINUX_AMD64)
    path = probes.cache_file(BASE, LINUX_AMD64)
    assert path is not None
    assert path.read_bytes() == data
    # learn_targets reads it: with the engine "on", no container is started for it.
    (target,) = probes.learn_targets(
        BASE, [LINUX_AMD64], engine=True, python_version=(3, 12), libc=("musl", (1, 2))
    )
    assert target.python_version == (3, 11)
    assert target.libc == ("glibc", (2, 36))
    # Cached now: not pulled again; nobody pushed arm64's.
    assert not shared.pull_probe(BASE, LINUX_AMD64)
    assert not shared.pull_probe(BASE, LINUX_ARM64)
    # A tag is not a digest: its probe is neither cached nor shared.
    assert not shared.pull_probe("127.0.0.1:5000/python:3.11", LINUX_AMD64)


@pytest.mark.parametrize(
    ("tamper", "refusal"),
    [
        ({"key": "d" * 64}, "it was pushed for another base image, platform or probe"),
        ({"describes": LINUX_ARM64}, "it describes linux/arm64, not linux/amd64"),
        ({"blob": b'{"platform": "linux/amd64"}'}, r"hashes to sha256:"),
    ],
)
def test_a_tampered_probe_is_refused_and_nothing_is_cached(
    registry: tuple[str, dict[str, tuple[str, bytes]]],
    tmp_path: Path,
    probe_cache: Path,
    tamper: dict[str, Any],
    refusal: str,
) -> None:
    host, served = registry
    _serve_probe(served, **tamper)
    with pytest.raises(RegistryError, match=refusal):
        _shared(host, tmp_path / "cache").pull_probe(BASE, LINUX_AMD64)
    assert not probe_cache.exists() or list(probe_cache.iterdir()) == []


def test_a_probe_layer_that_is_no_target_environment_is_refused(
    registry: tuple[str, dict[str, tuple[str, bytes]]], tmp_path: Path, probe_cache: Path
) -> None:
    host, served = registry
    layer = b'{"platform": "linux/amd64", "python_version": "eleven"}'
    key = probes.probe_key(BASE, LINUX_AMD64)
    served[f"/v2/{REPO}/manifests/probe-{key}"] = (oci.OCI_MANIFEST, _probe_artifact(key, layer))
    served[f"/v2/{REPO}/blobs/{oci.digest_of(layer)}"] = ("application/octet-stream", layer)
    with pytest.raises(RegistryError, match=r"probe-[0-9a-f]{64} is refused: its layer is not a"):
        _shared(host, tmp_path / "cache").pull_probe(BASE, LINUX_AMD64)
    assert not probe_cache.exists() or list(probe_cache.iterdir()) == []
