"""The shared cache's pulls refuse what does not hash to what it claims, against a
registry on loopback that serves what each test gives it (a tampered one)."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from containerize import reference
from containerize.errors import RegistryError
from containerize.registry import oci
from containerize.registry.client import Registry
from containerize.resolve import sharing
from containerize.resolve.cache import Cache

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


def test_an_unreachable_registry_is_a_warning_when_pulling(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on port 9 (discard) of loopback here.
    assert _shared("127.0.0.1:9", tmp_path).pull_file(SHA, "pinned-1.0.tar.gz") is None
    assert "cannot reach the registry 127.0.0.1:9" in caplog.text
