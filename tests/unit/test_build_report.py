"""Build reports: a pushed image's size per platform, read from its registry over HTTP;
a loaded one's from the image store."""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from simple_index_server import SimpleIndexServer

from containerize import process
from containerize.engine import buildx, docker
from containerize.errors import CommandError
from containerize.image import report
from containerize.platforms import LINUX_AMD64, LINUX_ARM64
from containerize.registry import oci


def _serve(server: SimpleIndexServer, reference: str, document: dict[str, Any]) -> str:
    data = json.dumps(document).encode()
    digest = oci.digest_of(data)
    kind = document["mediaType"]
    for ref in (reference, digest) if reference else (digest,):
        server.add(f"/v2/team/app/manifests/{ref}", data, content_type=kind)
    return digest


def _manifest(*sizes: int) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": oci.OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + "c" * 64, "size": 10},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
             "digest": "sha256:" + f"{i}" * 64, "size": size}
            for i, size in enumerate(sizes)
        ],
    }  # fmt: skip


def _invocation(tag: str) -> buildx.BuildInvocation:
    return buildx.BuildInvocation(
        context=Path("."),
        platforms=(LINUX_AMD64, LINUX_ARM64),
        tags=(tag,),
        output=buildx.Output(kind="push"),
    )


def test_pushed_sizes_come_from_the_registry_per_platform() -> None:
    with SimpleIndexServer() as server:
        amd64 = _serve(server, "", _manifest(1000, 200))
        arm64 = _serve(server, "", _manifest(900, 200))
        attestation = _serve(server, "", _manifest(5))
        _serve(
            server,
            "gunicorn",
            {
                "schemaVersion": 2,
                "mediaType": oci.OCI_INDEX,
                "manifests": [
                    {"mediaType": oci.OCI_MANIFEST, "digest": digest, "size": 1,
                     "platform": {"os": os_name, "architecture": arch}}
                    for digest, os_name, arch in (
                        (amd64, "linux", "amd64"), (arm64, "linux", "arm64"),
                        (attestation, "unknown", "unknown"),
                    )
                ],
            },
        )  # fmt: skip
        sizes = report.sizes(_invocation(f"{server.host}/team/app:gunicorn"))
        # One request per document: the index and each platform's manifest.
        assert len(server.requests_to("/v2/team/app/manifests/")) == 3
    assert sizes == (("linux/amd64", 1200), ("linux/arm64", 1100))


def test_a_missing_image_reports_unknown_sizes() -> None:
    with SimpleIndexServer() as server:
        sizes = report.sizes(_invocation(f"{server.host}/team/app:gunicorn"))
    assert sizes == (("linux/amd64", None), ("linux/arm64", None))


INSPECT = ("image", "inspect", "--format", "{{.Id}} {{.Os}}/{{.Architecture}} {{.Size}}")


def _inspected(stdout: str, calls: list[tuple[str, ...]]) -> Any:
    def run(*args: str, **options: Any) -> process.Completed:
        calls.append(args)
        return process.Completed(argv=("docker", *args), returncode=0, stdout=stdout, stderr="")

    return run


def _saved_layout(*members: tuple[str, bytes]) -> bytes:
    """A ``docker save`` stream: an OCI layout as a tar, members in the given order."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _blob(document: dict[str, Any]) -> tuple[str, bytes]:
    data = json.dumps(document).encode()
    return oci.digest_of(data), data


def test_a_native_platforms_loaded_size_comes_from_one_image_inspect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(
        docker, "run", _inspected(f"sha256:{'a' * 64} linux/amd64 63273135\n", calls)
    )
    inv = replace(
        _invocation("app:gunicorn"), platforms=(LINUX_AMD64,), output=buildx.Output(kind="load")
    )
    assert report.sizes(inv) == (("linux/amd64", 63273135),)
    assert calls == [(*INSPECT, "app:gunicorn")]


def test_other_platforms_loaded_sizes_come_from_the_saved_manifests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The image store answers for its own platform only: the others' manifests are
    read from ``docker save``'s stream, which is left as soon as they are known."""
    amd64, amd64_data = _blob(_manifest(1000, 200))
    arm64, arm64_data = _blob(_manifest(900, 150))
    # Not in the stream: an attestation is not a platform, and is never looked up.
    attestation = _blob(_manifest(5))[0]
    index, index_data = _blob(
        {
            "schemaVersion": 2,
            "mediaType": oci.OCI_INDEX,
            "manifests": [
                {"mediaType": oci.OCI_MANIFEST, "digest": amd64, "size": 1,
                 "platform": {"os": "linux", "architecture": "amd64"}},
                {"mediaType": oci.OCI_MANIFEST, "digest": arm64, "size": 1,
                 "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
                {"mediaType": oci.OCI_MANIFEST, "digest": attestation, "size": 1,
                 "platform": {"os": "unknown", "architecture": "unknown"}},
            ],
        }
    )  # fmt: skip
    layer = ("blobs/sha256/" + "f" * 64, b"\0" * (3 << 20))  # too large to be kept
    members = [
        layer,
        *((f"blobs/sha256/{d.removeprefix('sha256:')}", data) for d, data in
          sorted([(amd64, amd64_data), (arm64, arm64_data), (index, index_data)])),
        ("blobs/sha256/" + "0" * 64, b"\0" * (2 << 20)),  # never reached
        ("index.json", b"{}"),
    ]  # fmt: skip
    stream = io.BytesIO(_saved_layout(*members))
    calls: list[tuple[str, ...]] = []
    saved: list[tuple[str, ...]] = []

    def save(*args: str, read: Any, **options: Any) -> Any:
        saved.append(args)
        return read(stream)

    monkeypatch.setattr(docker, "run", _inspected(f"{index} linux/amd64 63273135\n", calls))
    monkeypatch.setattr(docker, "read", save)
    inv = replace(_invocation("app:gunicorn"), output=buildx.Output(kind="load"))
    assert report.sizes(inv) == (("linux/amd64", 1200), ("linux/arm64", 1050))
    assert calls == [(*INSPECT, "app:gunicorn")]
    assert saved == [("save", "app:gunicorn")]
    # Stopped once every manifest was read: the rest of the stream is still unread.
    assert stream.tell() < len(stream.getvalue())


def test_a_store_that_cannot_save_leaves_other_platforms_unread(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(docker, "run", _inspected(f"sha256:{'a' * 64} linux/amd64 500\n", calls))
    failure = CommandError(
        "command failed with exit code 1: docker save app:gunicorn",
        argv=("docker", "save", "app:gunicorn"),
        returncode=1,
        output_tail="Error response from daemon: content digest not found",
    )

    def save(*args: str, read: Any, **options: Any) -> Any:
        raise failure

    monkeypatch.setattr(docker, "read", save)
    inv = replace(_invocation("app:gunicorn"), output=buildx.Output(kind="load"))
    assert report.sizes(inv) == (("linux/amd64", 500), ("linux/arm64", None))
    assert "no image size for app:gunicorn on other platforms" in caplog.text


def test_a_loaded_image_the_store_cannot_inspect_has_no_size(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def run(*args: str, **options: Any) -> process.Completed:
        return process.Completed(
            argv=("docker", *args), returncode=1, stdout="", stderr="Error: No such image\n"
        )

    monkeypatch.setattr(docker, "run", run)
    inv = replace(_invocation("app:gunicorn"), output=buildx.Output(kind="load"))
    assert report.sizes(inv) == (("linux/amd64", None), ("linux/arm64", None))
    assert "no image size for app:gunicorn: Error: No such image" in caplog.text
