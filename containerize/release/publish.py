"""The release executor: build, push by digest, attach, sign, test, tag, verify.

:func:`release` follows the order :mod:`containerize.release.plan` sets out. Every
registry write goes through :class:`~containerize.registry.client.Registry`, so no
tag changes before the tag step: buildx exports each server's image as an OCI layout
(the docker driver cannot push by digest), and this module pushes its blobs, its
manifests and its index by digest.

The test step is a hook, ``test(images)``, called with ``{server: "repo@sha256:..."}``
once every server's image is pushed, attached and signed; it raises
:class:`~containerize.errors.ContainerizeError` when a test fails, and no tag moves.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

from containerize.engine import buildx
from containerize.errors import ContainerizeError, Interrupted, ReleaseError
from containerize.fsutil import write_atomic
from containerize.image import pipeline, plan
from containerize.platforms import Platform
from containerize.registry import oci
from containerize.registry.client import Registry, is_loopback
from containerize.registry.oci import Descriptor
from containerize.release import referrers, sbom
from containerize.release.contents import ContentsReader
from containerize.release.layout import Layout
from containerize.release.plan import ReleasePlan
from containerize.release.signing import Signer
from containerize.release.tags import Tag

logger = logging.getLogger("containerize")

#: The test hook: given ``{server: "repo@sha256:<index>"}``, raise to stop the release.
TestHook = Callable[[Mapping[str, str]], None]


@dataclass(frozen=True, kw_only=True)
class PushedImage:
    """One server's image, pushed by digest."""

    server: str
    index: Descriptor
    data: bytes  # the index's exact bytes: what every tag of the server stores
    platforms: tuple[Descriptor, ...]  # one manifest per platform
    sboms: tuple[tuple[Platform, Path], ...]

    def reference(self, repository: str) -> str:
        return f"{repository}@{self.index.digest}"


@dataclass(frozen=True, kw_only=True)
class ReleaseResult:
    """What went out."""

    plan: ReleasePlan
    images: tuple[PushedImage, ...]
    tagged: tuple[str, ...]  # every tag moved, immutable first
    unchanged: tuple[str, ...]  # immutable tags that already named the same digest
    tested: bool  # a test step ran before the tags moved

    def summary(self) -> str:
        repository = self.plan.tags.repository.repository
        lines = [f"released {self.plan.tags.version.text} to {repository}:"]
        for image in self.images:
            lines.append(f"  {image.server}: {image.reference(repository)}")
            names = [tag.name for tag in self.plan.tags.server(image.server).tags]
            lines.append(f"    tags: {', '.join(names)}")
            platforms = ", ".join(str(entry.platform) for entry in image.platforms)
            lines.append(f"    platforms: {platforms} (verified through every tag)")
            for platform, path in image.sboms:
                lines.append(f"    SBOM {platform}: {path}")
        if self.plan.sign_key:
            lines.append(f"  signed with {self.plan.sign_key}; signatures verified")
        if not self.tested:
            lines.append("  not tested (--skip-tests)")
        lines.append(f"  record: {self.plan.record}")
        return "\n".join(lines)


@dataclass(frozen=True, kw_only=True)
class Target:
    """The registry a release goes to, checked, and the signer, if any, checked too."""

    registry: Registry
    signer: Signer | None


def connect(release_plan: ReleasePlan, *, registry: Registry | None = None) -> Target:
    """Check, before anything is built, that the registry answers and accepts the
    docker credentials, and that signing can work."""
    registry = registry or Registry(release_plan.tags.repository)
    registry.ping(what="checking the registry before the build")
    signer = None
    if release_plan.sign_key:
        signer = Signer(key=release_plan.sign_key, public_key=release_plan.public_key)
        signer.check()
    return Target(registry=registry, signer=signer)


def release(
    prepared: pipeline.Prepared,
    release_plan: ReleasePlan,
    *,
    test: TestHook | None,
    target: Target | None = None,
) -> ReleaseResult:
    """Release the images *prepared* describes, as *release_plan* says.

    *prepared* comes from :func:`containerize.image.pipeline.prepare` (wheelhouse and
    context written); its invocations are re-aimed at OCI layouts here. *target* is
    :func:`connect`'s answer (asked here when not given).
    """
    target = target or connect(release_plan)
    steps = _Steps(prepared, release_plan, target.registry, target.signer)
    with _reporting(moved=steps.moved):
        images = tuple(steps.publish(inv) for inv in prepared.invocations)
        if test is not None:
            logger.info("testing %s", ", ".join(i.reference(steps.repository) for i in images))
            test({image.server: image.reference(steps.repository) for image in images})
        unchanged = steps.move_tags(images)
        steps.verify_tags(images)
    result = ReleaseResult(
        plan=release_plan,
        images=images,
        tagged=tuple(steps.moved),
        unchanged=unchanged,
        tested=test is not None,
    )
    _write_record(result)
    shutil.rmtree(release_plan.folder / "oci", ignore_errors=True)
    return result


class _Steps:
    """The steps of one release, sharing the registry, the plan and what moved."""

    def __init__(
        self,
        prepared: pipeline.Prepared,
        release_plan: ReleasePlan,
        registry: Registry,
        signer: Signer | None,
    ) -> None:
        self.prepared = prepared
        self.plan = release_plan
        self.registry = registry
        self.signer = signer
        self.repository = release_plan.tags.repository.repository
        self.moved: list[str] = []
        self.contents = ContentsReader(self._open_layer, venv=plan.VENV)
        self._layouts: dict[str, Layout] = {}

    # -------------------------------------------------------------- build and push

    def publish(self, inv: buildx.BuildInvocation) -> PushedImage:
        """Build one server's image, push it by digest, attach its SBOMs, sign it."""
        server = inv.target or "?"
        layout = self._build(inv, server)
        top = layout.top()
        index = layout.document(top.digest)
        split = oci.split_index(index, what=f"{server}: the exported index")
        self._check_platforms(split.platforms, what=f"the build of {server}")
        data = layout.read(top.digest)
        if split.attestations:
            # Attestations leave the index and are attached per platform instead, so
            # the index lists platforms only: no 'unknown/unknown' entries.
            data = oci.image_index(split.platforms, annotations=index.get("annotations"))
            top = layout.write_index(data)
        for manifest in split.platforms:
            self._push_manifest(layout, manifest, what=f"pushing {server} ({manifest.platform})")
        self.registry.put_manifest(top.digest, data, top.media_type, what=f"pushing {server}")
        self._verify_index(top.digest, what=f"{server}, pushed by digest")
        logger.info("pushed %s as %s@%s", server, self.repository, top.digest)
        sboms = tuple(self._attach_sbom(server, layout, m, top) for m in split.platforms)
        if self.plan.provenance:
            self._attach_provenance(layout, split, server)
        if self.signer is not None:
            self._sign(top, split.platforms)
        return PushedImage(
            server=server, index=top, data=data, platforms=split.platforms, sboms=sboms
        )

    def _build(self, inv: buildx.BuildInvocation, server: str) -> Layout:
        dest = self.plan.layout(server)
        shutil.rmtree(dest, ignore_errors=True)
        dest.parent.mkdir(parents=True, exist_ok=True)
        exported = replace(
            inv,
            tags=(),
            output=buildx.Output(kind="oci", dest=dest, tar=False),
            provenance=self.plan.provenance,
        )
        buildx.build(exported)
        layout = Layout(dest)
        self._layouts[server] = layout
        return layout

    def _push_manifest(self, layout: Layout, manifest: Descriptor, *, what: str) -> None:
        """Blobs first, then the manifest, by digest."""
        for blob in oci.descriptors(layout.document(manifest.digest), what=what):
            self.registry.push_blob(blob.digest, blob.size, layout.path(blob.digest), what=what)
        self.registry.put_manifest(
            manifest.digest, layout.read(manifest.digest), manifest.media_type, what=what
        )

    def _check_platforms(self, found: Sequence[Descriptor], *, what: str) -> None:
        wanted = set(self.plan.platforms)
        have = [entry.platform for entry in found]
        if set(have) != wanted or len(have) != len(wanted):
            raise ReleaseError(
                f"{what} holds {', '.join(sorted(str(p) for p in have)) or 'no platform'}, "
                f"not the configured {', '.join(str(p) for p in self.plan.platforms)}",
                hint="every tag must name an index holding every configured platform",
            )

    def _verify_index(self, reference: str, *, what: str) -> Descriptor:
        """Read *reference* back: an index holding a manifest for every platform."""
        found = self.registry.manifest(reference, what=f"verifying {what}")
        if found is None:
            raise ReleaseError(f"{self.repository}:{reference} does not exist ({what})")
        document = found.json()
        kind = oci.media_type(document, fallback=found.media_type)
        if kind not in oci.INDEX_TYPES:
            raise ReleaseError(
                f"{self.repository}:{reference} is a {kind}, not a multi-platform index ({what})"
            )
        entries = oci.descriptors(document, what=f"{self.repository}:{reference}")
        self._check_platforms(entries, what=f"{self.repository}:{reference} ({what})")
        for entry in entries:
            if self.registry.manifest_digest(entry.digest, what=f"verifying {what}") is None:
                raise ReleaseError(
                    f"{self.repository}:{reference}: the {entry.platform} manifest "
                    f"{entry.digest} is missing from the registry ({what})"
                )
        return oci.descriptor_of(found.data, kind)

    # ----------------------------------------------------------- what goes with it

    def _attach_sbom(
        self, server: str, layout: Layout, manifest: Descriptor, index: Descriptor
    ) -> tuple[Platform, Path]:
        """Write the platform's SBOM into the build folder and attach it to the
        platform's manifest."""
        assert manifest.platform is not None
        platform = manifest.platform
        what = f"{server} on {platform}"
        selection = next(s for s in self.prepared.selections if s.target.platform == platform)
        selected = (*selection.base.packages, *selection.servers[server].packages)
        borrowed = selection.from_server_lock.get(server)
        image_manifest = layout.document(manifest.digest)
        layers = list(oci.descriptors(image_manifest, what=what))[1:]
        contents = self.contents.contents(layers, what=what)
        sbom.check_installed(selected, contents, what=what)
        lock = self.prepared.resolved.lock_file
        config = self.prepared.config
        document = sbom.cyclonedx(
            sbom.ImageIdentity(
                repository=self.repository,
                server=server,
                platform=platform,
                index_digest=index.digest,
                manifest_digest=manifest.digest,
                app_name=config.name,
                app_version=self.plan.tags.version.text,
                created=_created(self.prepared),
            ),
            selected=selected,
            lock_name=lock.name if lock else "the lock",
            from_server_lock=borrowed.selection.names if borrowed else frozenset(),
            contents=contents,
        )
        path = self.plan.sbom(server, platform)
        write_atomic(path, document.decode())
        attached = referrers.attach_blob(
            self.registry,
            subject=manifest,
            artifact_type=sbom.MEDIA_TYPE,
            payload=document,
            annotations={
                "org.opencontainers.image.created": _created_text(self.prepared),
                "org.opencontainers.image.title": path.name,
            },
        )
        listed = referrers.referrers(self.registry, manifest.digest, what=f"verifying {what}")
        if attached.digest not in {entry.digest for entry in listed}:
            raise ReleaseError(
                f"the SBOM of {what} ({attached.digest}) is not among the referrers of "
                f"{manifest.digest} after attaching it",
                hint="the registry lost the referrers list; release again",
            )
        logger.info("attached the SBOM of %s (%d components)", what, document.count(b'"bom-ref"'))
        return platform, path

    def _attach_provenance(self, layout: Layout, split: oci.SplitIndex, server: str) -> None:
        """BuildKit's attestation manifests, attached to the platform each describes."""
        by_digest = {entry.digest: entry for entry in split.platforms}
        for attestation, subject_digest in split.attestations:
            subject = by_digest.get(subject_digest)
            if subject is None:
                raise ReleaseError(
                    f"{server}: attestation {attestation.digest} describes {subject_digest}, "
                    "which is not a platform of the index"
                )
            what = f"attaching the provenance of {server} on {subject.platform}"
            document = layout.document(attestation.digest)
            for blob in oci.descriptors(document, what=what):
                self.registry.push_blob(blob.digest, blob.size, layout.path(blob.digest), what=what)
            data = oci.with_subject(document, subject, artifact_type=oci.IN_TOTO)
            referrers.attach_manifest(self.registry, data, subject=subject, what=what)

    def _sign(self, index: Descriptor, platforms: Sequence[Descriptor]) -> None:
        assert self.signer is not None
        plain_http = is_loopback(self.registry.host)
        self.signer.sign(f"{self.repository}@{index.digest}", plain_http=plain_http)
        for entry in (index, *platforms):
            self.signer.verify(f"{self.repository}@{entry.digest}", plain_http=plain_http)

    # ------------------------------------------------------------------------ tags

    def move_tags(self, images: Sequence[PushedImage]) -> tuple[str, ...]:
        """Immutable tags of every server first, then the moving ones; refuse to
        overwrite an immutable tag that names another digest, unless forced."""
        pushed = {image.server: image for image in images}
        immutable: list[tuple[Tag, PushedImage]] = []
        moving: list[tuple[Tag, PushedImage]] = []
        for entry in self.plan.tags.servers:
            immutable += [(tag, pushed[entry.server]) for tag in entry.immutable]
            moving += [(tag, pushed[entry.server]) for tag in entry.moving]
        unchanged, conflicts = [], []
        for tag, image in immutable:
            current = self.registry.manifest_digest(
                tag.name, what=f"checking whether {tag.reference} exists"
            )
            if current == image.index.digest:
                unchanged.append(str(tag.reference))
            elif current is not None:
                conflicts.append(f"{tag.reference} names {current}, not {image.index.digest}")
        if conflicts and not self.plan.force:
            raise ReleaseError(
                "immutable tags already exist and name other images: " + "; ".join(conflicts),
                hint="release a new version, or pass --force to overwrite them; the new "
                f"images stay in {self.repository} by digest only",
            )
        for tag, image in [*immutable, *moving]:
            if str(tag.reference) in unchanged:
                continue
            self.registry.put_manifest(
                tag.name, image.data, image.index.media_type, what=f"tagging {tag.reference}"
            )
            self.moved.append(str(tag.reference))
            logger.info("tagged %s -> %s", tag.reference, image.index.digest)
        return tuple(unchanged)

    def verify_tags(self, images: Sequence[PushedImage]) -> None:
        """Every tag names its server's index, and that index holds every platform."""
        for image in images:
            for tag in self.plan.tags.server(image.server).tags:
                found = self._verify_index(tag.name, what=f"the tag {tag.reference}")
                if found.digest != image.index.digest:
                    raise ReleaseError(
                        f"{tag.reference} names {found.digest} after tagging, not the "
                        f"released {image.index.digest}",
                        hint="another release pushed to the same tags at the same time",
                    )

    def _open_layer(self, layer: Descriptor) -> IO[bytes]:
        """A layer from the exported layouts: the same bytes as the pushed blob."""
        for layout in self._layouts.values():
            path = layout.root / "blobs" / "sha256" / layer.digest.partition(":")[2]
            if path.is_file():
                return path.open("rb")
        raise ReleaseError(f"layer {layer.digest} is in none of the exported layouts")


def _created_text(prepared: pipeline.Prepared) -> str:
    """The image's creation time, as its label says (the last commit's, not the clock)."""
    return dict(prepared.plan.labels)["org.opencontainers.image.created"]


def _created(prepared: pipeline.Prepared) -> dt.datetime:
    return dt.datetime.strptime(_created_text(prepared), "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=dt.UTC
    )


@contextmanager
def _reporting(*, moved: list[str]) -> Iterator[None]:
    """Say, on a failure or an interruption, which tags moved (usually none)."""
    try:
        yield
    except ContainerizeError as exc:
        note = _moved_note(moved)
        exc.message = f"{exc.message}\n  {note}"
        raise
    except Interrupted as exc:
        exc.note(_moved_note(moved))
        raise


def _moved_note(moved: Sequence[str]) -> str:
    if not moved:
        return "no tag was moved"
    return "tags already moved: " + ", ".join(moved)


def _write_record(result: ReleaseResult) -> None:
    repository = result.plan.tags.repository.repository
    record = {
        "version": result.plan.tags.version.text,
        "repository": repository,
        "revision": result.plan.tags.revision,
        "images": {
            image.server: {
                "digest": image.index.digest,
                "reference": image.reference(repository),
                "tags": [str(tag.reference) for tag in result.plan.tags.server(image.server).tags],
                "platforms": {str(entry.platform): entry.digest for entry in image.platforms},
                "sboms": {str(platform): str(path) for platform, path in image.sboms},
            }
            for image in result.images
        },
        "tagged": list(result.tagged),
        "tested": result.tested,
        "unchanged": list(result.unchanged),
    }
    write_atomic(result.plan.record, json.dumps(record, indent=2, sort_keys=True) + "\n")
