"""An OCI image layout on disk: what ``buildx build --output type=oci,tar=false`` writes.

``index.json`` names the one image index of the build; every document and layer is a
file ``blobs/sha256/<hex>``. A release reads the index, the per-platform manifests
and the layers from here, and pushes the same bytes, so what it tests, describes in
the SBOM and tags is, digest for digest, what buildx built.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from containerize.errors import ReleaseError
from containerize.registry import oci
from containerize.registry.oci import Descriptor


@dataclass(frozen=True)
class Layout:
    """The folder of one OCI image layout."""

    root: Path

    def top(self) -> Descriptor:
        """The image index the build exported: the one entry of ``index.json``.

        A build for one platform exports a plain manifest; it is wrapped here in an
        index of its own (stored as a blob), so that every release pushes an index.
        """
        path = self.root / "index.json"
        try:
            document = oci.load(path.read_bytes(), what=str(path))
        except OSError as exc:
            raise ReleaseError(
                f"the build left no OCI layout in {self.root}: {exc.strerror}",
                hint="the build failed or was interrupted; release again",
            ) from None
        entries = oci.descriptors(document, what=str(path))
        if len(entries) == 1 and entries[0].media_type in oci.MANIFEST_TYPES:
            return self.write_index(oci.image_index([self._with_platform(entries[0])]))
        if len(entries) != 1 or entries[0].media_type not in oci.INDEX_TYPES:
            raise ReleaseError(
                f"{path}: expected one image index, found "
                + (", ".join(e.media_type for e in entries) or "nothing"),
                hint="build for the platforms as one multi-platform build",
            )
        return entries[0]

    def _with_platform(self, manifest: Descriptor) -> Descriptor:
        """*manifest*'s descriptor with the platform its image configuration names."""
        config = oci.descriptors(self.document(manifest.digest), what=manifest.digest)[0]
        image = self.document(config.digest)
        entry = {
            "mediaType": manifest.media_type,
            "digest": manifest.digest,
            "size": manifest.size,
            "platform": {
                key: image[key] for key in ("os", "architecture", "variant") if image.get(key)
            },
        }
        return oci.parse_descriptor(entry, what=f"{self.root}: {manifest.digest}")

    def path(self, digest: str) -> Path:
        """The file of blob *digest*."""
        algorithm, _, encoded = digest.partition(":")
        path = self.root / "blobs" / algorithm / encoded
        if not path.is_file():
            raise ReleaseError(f"{self.root}: blob {digest} is missing from the OCI layout")
        return path

    def read(self, digest: str) -> bytes:
        """The bytes of blob *digest*, checked against it."""
        data = self.path(digest).read_bytes()
        if oci.digest_of(data) != digest:
            raise ReleaseError(
                f"{self.root}: blob {digest} does not match its digest",
                hint="the layout was changed after the build; release again",
            )
        return data

    def document(self, digest: str) -> dict[str, Any]:
        """The JSON document of blob *digest*."""
        return oci.load(self.read(digest), what=f"{self.root}: {digest}")

    def write_index(self, data: bytes) -> Descriptor:
        """Store an index of our own (the image without its attestations) as a blob."""
        descriptor = oci.descriptor_of(data, oci.OCI_INDEX)
        path = self.root / "blobs" / "sha256" / descriptor.digest.partition(":")[2]
        path.write_bytes(data)
        return descriptor
