"""Artifacts attached to an image: manifests with a ``subject``, and finding them again.

A manifest whose ``subject`` names an image is pushed by digest. A registry with the
OCI 1.1 referrers API says so with an ``OCI-Subject`` header and lists it itself;
any other registry (the CNCF distribution registry 2.x among them: its
``/v2/<name>/referrers/<digest>`` answers 404) gets the fallback the distribution
specification defines, the referrers tag schema: the client reads the index tagged
``sha256-<hex of the subject>``, adds the new manifest's descriptor, and pushes it back
under the same tag. Tools that know OCI 1.1 (oras, cosign, regctl) find the artifacts
either way.
"""

from __future__ import annotations

from collections.abc import Mapping

from containerize.registry import oci
from containerize.registry.client import Registry
from containerize.registry.oci import Descriptor


def attach_blob(
    registry: Registry,
    *,
    subject: Descriptor,
    artifact_type: str,
    payload: bytes,
    annotations: Mapping[str, str],
) -> Descriptor:
    """Push *payload* as an artifact of *artifact_type* about *subject*."""
    what = f"attaching {artifact_type} to {subject.digest}"
    layer = oci.descriptor_of(payload, artifact_type)
    registry.push_blob(layer.digest, layer.size, payload, what=what)
    empty = oci.descriptor_of(oci.EMPTY_JSON, oci.EMPTY_CONFIG)
    registry.push_blob(empty.digest, empty.size, oci.EMPTY_JSON, what=what)
    data = oci.artifact_manifest(
        artifact_type=artifact_type, layers=[layer], subject=subject, annotations=annotations
    )
    return attach_manifest(registry, data, subject=subject, what=what)


def attach_manifest(
    registry: Registry, data: bytes, *, subject: Descriptor, what: str
) -> Descriptor:
    """Push the manifest *data* (its ``subject`` already set) by digest, and list it
    among *subject*'s referrers where the registry does not do so itself."""
    manifest = oci.load(data, what=what)
    referrer = oci.referrer_descriptor(data, manifest)
    tracked = registry.put_manifest(referrer.digest, data, referrer.media_type, what=what)
    if not tracked:
        tag = oci.referrers_tag(subject.digest)
        current = registry.manifest(tag, what=f"{what} (reading the referrers of {tag})")
        updated = oci.add_referrer(
            None if current is None else current.json(),
            referrer,
            what=f"{registry}:{tag}",
        )
        registry.put_manifest(tag, updated, oci.OCI_INDEX, what=f"{what} (listing it in {tag})")
    return referrer


def referrers(registry: Registry, digest: str, *, what: str) -> tuple[Descriptor, ...]:
    """The manifests whose subject is *digest*: from the referrers API, else from the
    referrers tag schema."""
    listed = registry.referrers(digest, what=what)
    if listed is None:
        found = registry.manifest(oci.referrers_tag(digest), what=what)
        if found is None:
            return ()
        listed = found.json()
    return oci.descriptors(listed, what=f"{registry}: the referrers of {digest}")
