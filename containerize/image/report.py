"""What a build produced: one summary per server, with its size per platform.

Sizes are the compressed layers of each platform's manifest. After ``--push`` the
manifests come from the registry, read with containerize's registry client, every
platform; after ``--load`` from the image store: the platform the engine runs from an
image inspection, the others from the manifests of the image as ``docker save``
streams it.
"""

from __future__ import annotations

import json
import logging
import tarfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

from containerize import process, reference
from containerize.engine import buildx, docker
from containerize.errors import ContainerizeError, RegistryError
from containerize.registry import client as registry

logger = logging.getLogger("containerize")

Document = Mapping[str, object]
#: The largest file of a saved image kept to be read: manifests and indexes are KiBs.
_SMALL = 1 << 20


@dataclass(frozen=True, kw_only=True)
class TargetSummary:
    """How one server's build went."""

    server: str
    tags: tuple[str, ...]
    seconds: float
    digest: str | None
    sizes: tuple[tuple[str, int | None], ...]  # compressed layers, per platform

    def __str__(self) -> str:
        sizes = ", ".join(f"{name} {_mib(size)}" for name, size in self.sizes)
        return f"{self.server}: {self.seconds:.1f}s  {' '.join(self.tags)}  [{sizes}]"


def summarize(result: buildx.BuildResult, *, seconds: float) -> TargetSummary:
    """The summary of one finished build, sizes included."""
    inv = result.invocation
    return TargetSummary(
        server=inv.target or "?",
        tags=inv.tags,
        seconds=seconds,
        digest=result.digest,
        sizes=sizes(inv),
    )


def sizes(inv: buildx.BuildInvocation) -> tuple[tuple[str, int | None], ...]:
    """Compressed size per platform of what *inv* produced, where it can be read."""
    if inv.output is None or not inv.tags:
        return tuple((str(p), None) for p in inv.platforms)
    tag = inv.tags[0]
    if inv.output.kind == "load":
        return _loaded_sizes(tag, inv)
    return _pushed_sizes(tag, inv)


def _pushed_sizes(tag: str, inv: buildx.BuildInvocation) -> tuple[tuple[str, int | None], ...]:
    """Per-platform sizes of a pushed image, from its manifests in the registry.

    Read over HTTP with the registry client, a few small documents in one connection
    pool, rather than one ``docker buildx imagetools`` process per document.
    """
    parsed = reference.parse(tag, where="tag")
    client = registry.Registry(parsed)
    what = f"reading the size of {tag}"

    def lookup(digest: str) -> Document | None:
        fetched = client.manifest(digest, what=what)
        return None if fetched is None else fetched.json()

    try:
        top = lookup(parsed.tag or "latest")
        if top is None:
            return tuple((str(p), None) for p in inv.platforms)
        return platform_sizes(top, lookup, single=str(inv.platforms[0]) if inv.platforms else "?")
    except RegistryError as exc:
        # Sizes are a report, not a result: say why they are missing, build on.
        logger.warning("no image sizes for %s: %s", tag, exc.message)
        return tuple((str(p), None) for p in inv.platforms)


def platform_sizes(
    top: Document, lookup: Callable[[str], Document | None], *, single: str = "?"
) -> tuple[tuple[str, int | None], ...]:
    """Walk an index (nested or not) down to its manifests: (platform, size) each.

    A plain manifest at the top is one platform, named *single*. Attestation
    manifests (platform ``unknown/unknown``) are not counted.
    """
    if "layers" in top:
        return ((single, _layers_size(top)),)
    found: list[tuple[str, int | None]] = []

    def walk(entries: object) -> None:
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or not isinstance(entry.get("digest"), str):
                continue
            platform = entry.get("platform") or {}
            if platform.get("os") == "unknown":
                continue
            document = lookup(entry["digest"]) or {}
            if "manifests" in document:
                walk(document["manifests"])
            elif "layers" in document and platform.get("os"):
                found.append(
                    (f"{platform['os']}/{platform.get('architecture')}", _layers_size(document))
                )

    walk(top.get("manifests"))
    return tuple(sorted(found))


def _loaded_sizes(tag: str, inv: buildx.BuildInvocation) -> tuple[tuple[str, int | None], ...]:
    """Sizes of a loaded image, from the image store.

    ``docker image inspect`` gives the platform the engine runs (the containerd store
    counts that platform's compressed content), and is all a one-platform build of
    that platform needs. The store answers for no other platform, so for those the
    image is read as ``docker save`` streams it, an OCI layout: its index and each
    platform's manifest, whose layers say their compressed sizes, as a registry's
    would. The stream is stopped as soon as every manifest is read (the files come
    in digest order, so about half of it is read); a store that cannot save leaves
    those sizes unread, with a warning.
    """
    result = docker.run(
        "image", "inspect", "--format", "{{.Id}} {{.Os}}/{{.Architecture}} {{.Size}}", tag,
        check=False, timeout=60,
    )  # fmt: skip
    top, _, rest = result.stdout.strip().partition(" ")
    native, _, size = rest.partition(" ")
    if result.returncode != 0 or not size.isdigit():
        # Sizes are a report, not a result: say why they are missing, build on.
        logger.warning("no image size for %s: %s", tag, process.tail(result.stderr, 1))
        native = ""
    named = [str(p) for p in inv.platforms] or [native]
    found: dict[str, int | None] = {
        name: int(size) for name in named if _same_platform(name, native)
    }
    if native and len(found) < len(named):
        try:
            saved = docker.read("save", tag, read=lambda stream: _saved_sizes(stream, top))
        except (ContainerizeError, tarfile.TarError, ValueError) as exc:
            logger.warning("no image size for %s on other platforms: %s", tag, exc)
        else:
            found = dict(saved)
    return tuple((name, _size_of(name, found)) for name in named)


def _size_of(name: str, found: Mapping[str, int | None]) -> int | None:
    """*name*'s size in *found*, whose names carry no variant (``linux/arm64``)."""
    return next((size for key, size in found.items() if _same_platform(name, key)), None)


class _NotYet(Exception):
    """A manifest the stream has not reached yet."""


def _saved_sizes(stream: IO[bytes], top: str) -> tuple[tuple[str, int | None], ...]:
    """Per-platform sizes from ``docker save``'s OCI layout on *stream*, *top* being
    the image's index (its ``Id`` in the containerd store). Only small files are kept
    (manifests and indexes are a few KiB); reading stops once the sizes are known."""
    blobs: dict[str, bytes] = {}

    def lookup(digest: str) -> Document | None:
        if digest not in blobs:
            raise _NotYet(digest)
        document = json.loads(blobs[digest])
        return document if isinstance(document, dict) else None

    def attempt() -> tuple[tuple[str, int | None], ...] | None:
        try:
            index = lookup(top)
            return None if index is None else platform_sizes(index, lookup)
        except _NotYet:
            return None

    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for member in archive:
            folder, _, name = member.name.rpartition("/")
            if folder != "blobs/sha256" or not member.isfile() or member.size > _SMALL:
                continue
            handle = archive.extractfile(member)
            if handle is None:
                continue
            blobs[f"sha256:{name}"] = handle.read()
            found = attempt()
            if found is not None:
                return found
    raise ValueError(f"the saved image holds no index {top} with its manifests")


def _same_platform(name: str, native: str) -> bool:
    """``linux/arm64/v8`` is the image store's ``linux/arm64``."""
    return bool(native) and (name == native or name.startswith(native + "/"))


def _layers_size(manifest: Document) -> int | None:
    layers = manifest.get("layers")
    if not isinstance(layers, list):
        return None
    return sum(int(layer.get("size", 0)) for layer in layers if isinstance(layer, dict))


def _mib(size: int | None) -> str:
    return "size not read" if size is None else f"{size / 2**20:.1f} MiB compressed"


def lines(summaries: Sequence[TargetSummary]) -> str:
    """The summaries as the build command prints them."""
    return "\n".join(f"  {summary}" for summary in summaries)
