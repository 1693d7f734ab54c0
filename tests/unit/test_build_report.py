"""Build reports: a pushed image's size per platform, read from its registry over HTTP;
a loaded one's from the image store."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from simple_index_server import SimpleIndexServer

from containerize import process
from containerize.engine import buildx, docker
from containerize.image import report
from containerize.platforms import LINUX_AMD64, LINUX_ARM64
from containerize.release import oci


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


def test_loaded_sizes_come_from_one_image_inspect(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, ...]] = []

    def run(*args: str, **options: Any) -> process.Completed:
        calls.append(args)
        return process.Completed(
            argv=("docker", *args), returncode=0, stdout="linux/amd64 63273135\n", stderr=""
        )

    monkeypatch.setattr(docker, "run", run)
    inv = replace(_invocation("app:gunicorn"), output=buildx.Output(kind="load"))
    assert report.sizes(inv) == (("linux/amd64", 63273135), ("linux/arm64", None))
    assert calls == [
        ("image", "inspect", "--format", "{{.Os}}/{{.Architecture}} {{.Size}}", "app:gunicorn")
    ]


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
