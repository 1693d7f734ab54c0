"""OCI documents: descriptors, image indexes and manifests, read and written as JSON.

Pure functions over the documents a release handles: the index buildx exports, the
per-platform manifests it lists, the attestation manifests BuildKit adds when
provenance is asked for, and the artifact manifests (an SBOM, a provenance statement)
attached to an image with a ``subject``.

References with a subject are found through the registry's referrers API when it has
one (OCI distribution 1.1), else through the *referrers tag schema*, the fallback the
same specification defines: an image index tagged ``sha256-<hex>`` listing the
descriptors of every manifest whose subject is ``sha256:<hex>``
(:func:`referrers_tag`, :func:`add_referrer`).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from containerize.errors import ConfigError, ReleaseError
from containerize.platforms import Platform

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
#: What a client accepts when it reads a manifest of any kind.
ACCEPT = ", ".join((*INDEX_TYPES, *MANIFEST_TYPES))

#: The empty JSON object, the config of an artifact that has none (OCI image spec 1.1).
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
EMPTY_JSON = b"{}"

#: BuildKit's annotations on an attestation manifest inside an index.
REFERENCE_TYPE = "vnd.docker.reference.type"
REFERENCE_DIGEST = "vnd.docker.reference.digest"
ATTESTATION = "attestation-manifest"
IN_TOTO = "application/vnd.in-toto+json"


@dataclass(frozen=True, kw_only=True)
class Descriptor:
    """A content descriptor: what a document or blob is, by digest and size."""

    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    artifact_type: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.artifact_type:
            data["artifactType"] = self.artifact_type
        if self.platform is not None:
            platform = {"architecture": self.platform.arch, "os": self.platform.os}
            if self.platform.variant:
                platform["variant"] = self.platform.variant
            data["platform"] = platform
        if self.annotations:
            data["annotations"] = dict(sorted(self.annotations.items()))
        return data


def digest_of(data: bytes) -> str:
    """The ``sha256:`` digest of *data*."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor_of(data: bytes, media_type: str, **extra: Any) -> Descriptor:
    """The descriptor of the document or blob *data*."""
    return Descriptor(media_type=media_type, digest=digest_of(data), size=len(data), **extra)


def load(data: bytes, *, what: str) -> dict[str, Any]:
    """Parse a JSON document; *what* names it in errors."""
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise ReleaseError(f"{what} is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ReleaseError(f"{what} is not a JSON object")
    return document


def dump(document: Mapping[str, Any]) -> bytes:
    """A document's canonical bytes: compact JSON with sorted keys."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def media_type(document: Mapping[str, Any], *, fallback: str) -> str:
    """The document's own ``mediaType``, else *fallback* (the one the registry sent)."""
    value = document.get("mediaType")
    return value if isinstance(value, str) and value else fallback


def descriptors(document: Mapping[str, Any], *, what: str) -> tuple[Descriptor, ...]:
    """The ``manifests`` of an index, or the config and ``layers`` of a manifest."""
    if "manifests" in document:
        entries = document["manifests"]
    else:
        entries = [document.get("config"), *(document.get("layers") or [])]
    if not isinstance(entries, list):
        raise ReleaseError(f"{what}: 'manifests' is not a list")
    return tuple(parse_descriptor(entry, what=f"{what}[{i}]") for i, entry in enumerate(entries))


def parse_descriptor(entry: object, *, what: str) -> Descriptor:
    """One descriptor of a document, checked."""
    if not isinstance(entry, dict):
        raise ReleaseError(f"{what}: expected a descriptor, got {entry!r}")
    digest, size, kind = entry.get("digest"), entry.get("size"), entry.get("mediaType")
    if not isinstance(digest, str) or not digest.startswith("sha256:") or len(digest) != 71:
        raise ReleaseError(f"{what}: {digest!r} is not a sha256 digest")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ReleaseError(f"{what}: size {size!r} is not a byte count")
    platform = None
    found = entry.get("platform")
    if isinstance(found, dict) and isinstance(found.get("os"), str):
        os_name, arch = found["os"], str(found.get("architecture"))
        if os_name != "unknown":
            variant = found.get("variant")
            text = f"{os_name}/{arch}" + (f"/{variant}" if variant else "")
            try:
                platform = Platform.parse(text, where=what)
            except ConfigError as exc:
                raise ReleaseError(exc.message, hint=exc.hint) from None
    annotations = entry.get("annotations") or {}
    artifact = entry.get("artifactType")
    return Descriptor(
        media_type=str(kind or ""),
        digest=digest,
        size=size,
        platform=platform,
        artifact_type=artifact if isinstance(artifact, str) else None,
        annotations={str(k): str(v) for k, v in annotations.items()},
    )


@dataclass(frozen=True, kw_only=True)
class SplitIndex:
    """An index as buildx exports it, parted into the image and its attestations."""

    platforms: tuple[Descriptor, ...]  # one manifest per platform
    attestations: tuple[tuple[Descriptor, str], ...]  # (attestation manifest, its subject)


def split_index(index: Mapping[str, Any], *, what: str) -> SplitIndex:
    """Part the entries of *index*: platform manifests, and BuildKit's attestation
    manifests (``unknown/unknown``) with the digest of the manifest each describes."""
    platforms, attestations = [], []
    for i, entry in enumerate(descriptors(index, what=what)):
        if entry.annotations.get(REFERENCE_TYPE) == ATTESTATION:
            subject = entry.annotations.get(REFERENCE_DIGEST, "")
            attestations.append((entry, subject))
        elif entry.platform is None:
            raise ReleaseError(
                f"{what}[{i}]: {entry.digest} has no platform and is not an attestation",
                hint="the build produced an index containerize does not know how to release",
            )
        else:
            platforms.append(entry)
    return SplitIndex(platforms=tuple(platforms), attestations=tuple(attestations))


def image_index(
    manifests: Sequence[Descriptor], *, annotations: Mapping[str, str] | None = None
) -> bytes:
    """An OCI image index listing *manifests*, in the order given."""
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [entry.to_json() for entry in manifests],
    }
    if annotations:
        document["annotations"] = dict(sorted(annotations.items()))
    return dump(document)


def artifact_manifest(
    *,
    artifact_type: str,
    layers: Sequence[Descriptor],
    subject: Descriptor,
    annotations: Mapping[str, str],
) -> bytes:
    """An artifact as OCI image spec 1.1 writes it: an image manifest with an
    ``artifactType``, the empty config, and a ``subject``."""
    config = Descriptor(media_type=EMPTY_CONFIG, digest=digest_of(EMPTY_JSON), size=2)
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": {**config.to_json(), "data": base64.b64encode(EMPTY_JSON).decode()},
        "layers": [layer.to_json() for layer in layers],
        "subject": _plain(subject).to_json(),
        "annotations": dict(sorted(annotations.items())),
    }
    return dump(document)


def with_subject(manifest: Mapping[str, Any], subject: Descriptor, *, artifact_type: str) -> bytes:
    """*manifest* (an attestation manifest) pointing at the image it describes."""
    document = dict(manifest)
    document["subject"] = _plain(subject).to_json()
    document.setdefault("artifactType", artifact_type)
    document.setdefault("mediaType", OCI_MANIFEST)
    return dump(document)


def referrer_descriptor(data: bytes, manifest: Mapping[str, Any]) -> Descriptor:
    """How a referrers list names the manifest *data*: its artifact type (else its
    config's media type) and all its annotations, as the distribution spec says."""
    artifact = manifest.get("artifactType")
    if not isinstance(artifact, str) or not artifact:
        config = manifest.get("config")
        artifact = str(config.get("mediaType", "")) if isinstance(config, dict) else ""
    annotations = manifest.get("annotations") or {}
    return descriptor_of(
        data,
        media_type(manifest, fallback=OCI_MANIFEST),
        artifact_type=artifact or None,
        annotations={str(k): str(v) for k, v in annotations.items()},
    )


def referrers_tag(digest: str) -> str:
    """The referrers tag schema's tag for *digest*: ``sha256-<hex>``."""
    algorithm, _, encoded = digest.partition(":")
    return f"{algorithm}-{encoded}"[:128]


def add_referrer(existing: Mapping[str, Any] | None, referrer: Descriptor, *, what: str) -> bytes:
    """The referrers list *existing* (None: there is none yet) with *referrer* added.

    A descriptor already listed is not listed twice; the others keep their order.
    """
    if existing is None:
        entries: list[Descriptor] = []
    else:
        kind = existing.get("mediaType")
        if kind is not None and kind != OCI_INDEX:
            raise ReleaseError(
                f"{what} is a {kind}, not the image index of a referrers list",
                hint="the tag is used for something else; remove it, or push to another repository",
            )
        entries = list(descriptors(existing, what=what))
    if all(entry.digest != referrer.digest for entry in entries):
        entries.append(referrer)
    return image_index(entries)


def _plain(descriptor: Descriptor) -> Descriptor:
    """A subject is named by media type, digest and size alone."""
    return Descriptor(
        media_type=descriptor.media_type, digest=descriptor.digest, size=descriptor.size
    )
