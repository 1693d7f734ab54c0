"""What an image is made of in its registry, and what a push added: blobs and bytes.

An image is read from the registry's manifests alone (an index down to one manifest
per platform; attestations are left out): per platform, the config blob and the
layers, each a digest and its compressed size. Comparing two such readings tells what
a rebuild pushed (the blobs the new image has and the old one had not), and comparing
an image with its base tells its size over the base. No layer is downloaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from containerize import reference
from containerize.errors import RegistryError
from containerize.registry.client import Registry


@dataclass(frozen=True, kw_only=True)
class Blob:
    digest: str
    size: int


@dataclass(frozen=True, kw_only=True)
class PlatformImage:
    """One platform's manifest: its config blob and its layers, in order."""

    platform: str
    config: Blob
    layers: tuple[Blob, ...]

    @property
    def size(self) -> int:
        """The compressed size of its layers."""
        return sum(layer.size for layer in self.layers)


#: platform ("linux/amd64") -> its manifest's blobs.
Image = Mapping[str, PlatformImage]


@dataclass(frozen=True, kw_only=True)
class Pushed:
    """What a rebuild added to the registry, compared with the image before it."""

    bytes: int  # new blobs (layers and configs), each counted once
    layers: int  # new layer blobs, across platforms
    layers_per_platform: Mapping[str, int]

    @property
    def most_layers_per_platform(self) -> int:
        return max(self.layers_per_platform.values(), default=0)


def _blob(entry: object, where: str) -> Blob:
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: not a descriptor")
    digest, size = entry.get("digest"), entry.get("size")
    if not isinstance(digest, str) or not isinstance(size, int):
        raise ValueError(f"{where}: a descriptor without digest or size")
    return Blob(digest=digest, size=size)


def read_image(
    top: Mapping[str, Any], lookup: Callable[[str], Mapping[str, Any]], *, single: str
) -> dict[str, PlatformImage]:
    """Every platform's blobs below *top* (an index, or a manifest for *single*)."""
    if "layers" in top:
        return {single: _platform_image(single, top)}
    found: dict[str, PlatformImage] = {}
    for position, entry in enumerate(top.get("manifests") or []):
        platform = entry.get("platform") or {}
        if not platform.get("os") or platform.get("os") == "unknown":
            continue  # an attestation manifest
        name = f"{platform['os']}/{platform.get('architecture')}"
        if platform.get("variant"):
            name += f"/{platform['variant']}"
        digest = _blob(entry, f"manifests[{position}]").digest
        found[name] = _platform_image(name, lookup(digest))
    return found


def _platform_image(platform: str, manifest: Mapping[str, Any]) -> PlatformImage:
    layers = manifest.get("layers")
    if not isinstance(layers, list):
        raise ValueError(f"{platform}: a manifest without layers")
    return PlatformImage(
        platform=platform,
        config=_blob(manifest.get("config"), f"{platform} config"),
        layers=tuple(_blob(layer, f"{platform} layers[{i}]") for i, layer in enumerate(layers)),
    )


def pushed(before: Image, after: Image) -> Pushed:
    """The blobs *after* holds that *before* did not: what a push had to upload."""
    known = {blob.digest for image in before.values() for blob in (image.config, *image.layers)}
    new: dict[str, int] = {}
    per_platform: dict[str, int] = {}
    new_layers: set[str] = set()
    for name, image in sorted(after.items()):
        fresh = [layer for layer in image.layers if layer.digest not in known]
        per_platform[name] = len({layer.digest for layer in fresh})
        new_layers.update(layer.digest for layer in fresh)
        for blob in (image.config, *image.layers):
            if blob.digest not in known:
                new[blob.digest] = blob.size
    return Pushed(bytes=sum(new.values()), layers=len(new_layers), layers_per_platform=per_platform)


def over_base(image: PlatformImage, base: PlatformImage) -> int:
    """The compressed bytes of *image*'s layers that its base does not have."""
    shared = {layer.digest for layer in base.layers}
    return sum(layer.size for layer in image.layers if layer.digest not in shared)


def shared_over_base(one: PlatformImage, other: PlatformImage, base: PlatformImage) -> int:
    """The compressed bytes of the layers *one* and *other* both have and their base
    has not: what a host that runs both pulls once, beyond the base."""
    below = {layer.digest for layer in base.layers}
    theirs = {layer.digest for layer in other.layers}
    mine = {layer.digest: layer.size for layer in one.layers}
    return sum(size for digest, size in mine.items() if digest in theirs and digest not in below)


def fetch(ref: str, *, platforms: Sequence[str] = ()) -> dict[str, PlatformImage]:
    """*ref* (``host/repo:tag`` or ``@digest``) read from its registry: no layer is
    downloaded. With *platforms*, only those are read, and each must be there."""
    parsed = reference.parse(ref, where="the image to measure")
    registry = Registry(parsed)
    what = f"reading {ref} to measure it"

    def document(name: str) -> Mapping[str, Any]:
        fetched = registry.manifest(name, what=what)
        if fetched is None:
            raise RegistryError(f"{registry}: {name} is not there ({what})")
        return fetched.json()

    top = document(parsed.digest or parsed.tag or "latest")
    image = read_image(top, document, single=platforms[0] if platforms else "?")
    missing = [p for p in platforms if p not in image]
    if missing:
        raise RegistryError(f"{ref} has no image for {', '.join(missing)} ({what})")
    return {name: found for name, found in image.items() if not platforms or name in platforms}
