"""OCI documents: descriptors, the index buildx exports, artifacts and referrers lists."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from containerize.errors import ReleaseError
from containerize.platforms import LINUX_AMD64, LINUX_ARM64
from containerize.registry import oci
from containerize.release.layout import Layout

AMD = "sha256:" + "a" * 64
ARM = "sha256:" + "b" * 64
ATT = "sha256:" + "c" * 64
SBOM = "sha256:" + "d" * 64


def entry(digest: str, arch: str, **extra: Any) -> dict[str, Any]:
    return {
        "mediaType": oci.OCI_MANIFEST,
        "digest": digest,
        "size": 1234,
        "platform": {"os": "linux" if arch != "unknown" else "unknown", "architecture": arch},
        **extra,
    }


def buildx_index(*, provenance: bool) -> dict[str, Any]:
    """An index as BuildKit exports it, with an attestation manifest when asked."""
    manifests = [entry(AMD, "amd64"), entry(ARM, "arm64")]
    if provenance:
        manifests.append(
            entry(
                ATT,
                "unknown",
                annotations={
                    oci.REFERENCE_DIGEST: AMD,
                    oci.REFERENCE_TYPE: oci.ATTESTATION,
                },
            )
        )
    return {"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": manifests}


def test_split_index_without_provenance() -> None:
    split = oci.split_index(buildx_index(provenance=False), what="index")
    assert [d.platform for d in split.platforms] == [LINUX_AMD64, LINUX_ARM64]
    assert split.attestations == ()


def test_split_index_moves_attestations_out_of_the_platform_list() -> None:
    split = oci.split_index(buildx_index(provenance=True), what="index")
    assert [d.digest for d in split.platforms] == [AMD, ARM]
    assert [(d.digest, subject) for d, subject in split.attestations] == [(ATT, AMD)]
    clean = json.loads(oci.image_index(split.platforms))
    assert clean["mediaType"] == oci.OCI_INDEX
    assert [m["platform"] for m in clean["manifests"]] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux"},
    ]
    assert "unknown" not in json.dumps(clean)


def test_an_entry_without_platform_that_is_no_attestation_is_refused() -> None:
    index = buildx_index(provenance=False)
    del index["manifests"][1]["platform"]
    with pytest.raises(ReleaseError, match=r"index\[1\]: sha256:b+ has no platform"):
        oci.split_index(index, what="index")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"digest": "sha256:12"}, "is not a sha256 digest"),
        ({"size": -1}, "is not a byte count"),
        ({"size": True}, "is not a byte count"),
        ({"platform": {"os": "windows", "architecture": "amd64"}}, "only linux images"),
    ],
)
def test_bad_descriptors(change: dict[str, Any], message: str) -> None:
    index = buildx_index(provenance=False)
    index["manifests"][0].update(change)
    with pytest.raises(ReleaseError, match=message):
        oci.descriptors(index, what="index")


def test_artifact_manifest_has_subject_type_and_the_empty_config() -> None:
    subject = oci.Descriptor(
        media_type=oci.OCI_MANIFEST, digest=AMD, size=1234, platform=LINUX_AMD64
    )
    payload = b'{"bomFormat": "CycloneDX"}'
    layer = oci.descriptor_of(payload, "application/vnd.cyclonedx+json")
    data = oci.artifact_manifest(
        artifact_type="application/vnd.cyclonedx+json",
        layers=[layer],
        subject=subject,
        annotations={"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
    )
    manifest = json.loads(data)
    assert manifest["artifactType"] == "application/vnd.cyclonedx+json"
    # The subject names the manifest alone: no platform.
    assert manifest["subject"] == {"mediaType": oci.OCI_MANIFEST, "digest": AMD, "size": 1234}
    assert manifest["config"]["mediaType"] == oci.EMPTY_CONFIG
    assert manifest["config"]["digest"] == oci.digest_of(b"{}")
    assert base64.b64decode(manifest["config"]["data"]) == b"{}"
    assert manifest["layers"] == [
        {
            "mediaType": "application/vnd.cyclonedx+json",
            "digest": oci.digest_of(payload),
            "size": len(payload),
        }
    ]
    referrer = oci.referrer_descriptor(data, manifest)
    assert referrer.artifact_type == "application/vnd.cyclonedx+json"
    assert referrer.annotations == {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"}
    assert referrer.digest == oci.digest_of(data)


def test_referrer_of_a_manifest_without_artifact_type_is_typed_by_its_config() -> None:
    manifest = {
        "schemaVersion": 2,
        "mediaType": oci.OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.dev.sigstore.bundle", "digest": AMD, "size": 2},
        "layers": [],
    }
    data = oci.dump(manifest)
    assert oci.referrer_descriptor(data, manifest).artifact_type == (
        "application/vnd.dev.sigstore.bundle"
    )


def test_referrers_tag_schema() -> None:
    assert oci.referrers_tag(AMD) == "sha256-" + "a" * 64


def test_add_referrer_starts_a_list_keeps_order_and_never_lists_twice() -> None:
    first = oci.Descriptor(
        media_type=oci.OCI_MANIFEST, digest=SBOM, size=700, artifact_type="application/x-a"
    )
    second = oci.Descriptor(
        media_type=oci.OCI_MANIFEST, digest=ATT, size=600, artifact_type="application/x-b"
    )
    listed = json.loads(oci.add_referrer(None, first, what="tag"))
    assert listed["mediaType"] == oci.OCI_INDEX
    assert [m["digest"] for m in listed["manifests"]] == [SBOM]
    listed = json.loads(oci.add_referrer(listed, second, what="tag"))
    again = json.loads(oci.add_referrer(listed, first, what="tag"))
    assert [m["digest"] for m in again["manifests"]] == [SBOM, ATT]
    assert [m["artifactType"] for m in again["manifests"]] == ["application/x-a", "application/x-b"]


def test_add_referrer_refuses_a_tag_that_is_not_a_referrers_list() -> None:
    referrer = oci.Descriptor(media_type=oci.OCI_MANIFEST, digest=SBOM, size=1)
    with pytest.raises(ReleaseError, match="not the image index of a referrers list") as info:
        oci.add_referrer({"mediaType": oci.OCI_MANIFEST, "layers": []}, referrer, what="app:tag")
    assert info.value.hint is not None


def test_with_subject_keeps_the_attestation_and_points_it_at_its_image() -> None:
    attestation = {
        "schemaVersion": 2,
        "mediaType": oci.OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": ARM,
            "size": 3,
        },
        "layers": [{"mediaType": oci.IN_TOTO, "digest": SBOM, "size": 9}],
    }
    subject = oci.Descriptor(media_type=oci.OCI_MANIFEST, digest=AMD, size=1234)
    document = json.loads(oci.with_subject(attestation, subject, artifact_type=oci.IN_TOTO))
    assert document["subject"]["digest"] == AMD
    assert document["artifactType"] == oci.IN_TOTO
    assert document["layers"] == attestation["layers"]
    assert document["config"] == attestation["config"]


def write_blob(root: Path, data: bytes) -> str:
    digest = oci.digest_of(data)
    path = root / "blobs" / "sha256" / digest[7:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest


def test_a_one_platform_layout_is_wrapped_in_an_index(tmp_path: Path) -> None:
    config = oci.dump({"os": "linux", "architecture": "arm64", "rootfs": {}})
    config_digest = write_blob(tmp_path, config)
    manifest = oci.dump(
        {
            "schemaVersion": 2,
            "mediaType": oci.OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config),
            },
            "layers": [],
        }
    )
    digest = write_blob(tmp_path, manifest)
    entry = {"mediaType": oci.OCI_MANIFEST, "digest": digest, "size": len(manifest)}
    (tmp_path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
    layout = Layout(tmp_path)
    top = layout.top()
    assert top.media_type == oci.OCI_INDEX
    split = oci.split_index(layout.document(top.digest), what="index")
    assert [(d.digest, d.platform) for d in split.platforms] == [(digest, LINUX_ARM64)]


def test_layout_errors(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="the build left no OCI layout") as info:
        Layout(tmp_path).top()
    assert info.value.hint is not None
    digest = write_blob(tmp_path, b"{}")
    (tmp_path / "blobs" / "sha256" / digest[7:]).write_bytes(b"[]")
    with pytest.raises(ReleaseError, match="does not match its digest"):
        Layout(tmp_path).read(digest)
    with pytest.raises(ReleaseError, match="is missing from the OCI layout"):
        Layout(tmp_path).read("sha256:" + "0" * 64)
