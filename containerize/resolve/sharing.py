"""The content-addressed cache shared between machines through an OCI registry.

With ``share = "registry"``, what one machine put in its cache is pushed, as OCI
artifacts, to a repository beside the image (``<image>/containerize-cache``), and a
machine that lacks an entry pulls it from there before downloading or compiling:

- a downloaded file under the tag ``file-<sha256>``: one layer, the file itself;
- a compiled wheel under the tag ``compiled-<key>`` (the compile key,
  :func:`containerize.image.compile.key`, unchanged): two layers, the record of the
  wheel (its name, sha256 and run-time packages) and the wheel;
- what the base image's Python is on one platform (the probe's result, a pure function
  of the base image pinned by digest, the platform and the probe script) under the tag
  ``probe-<key>`` (:func:`containerize.engine.probes.probe_key`): one layer, the JSON
  of the probe cache. A machine that pulls it starts no container of the base image
  just to learn its Python.

Every blob is pulled with its sha256 checked as it streams (the registry client
refuses bytes that do not hash to their digest), a file's layer must be the sha256
its tag names, and a compiled artifact must carry the key its tag names and a record
that names the wheel it holds, a probe the key its tag names and a target environment
of the platform it was pulled for. Whatever does not hold together is refused with
:class:`~containerize.errors.RegistryError`: nothing of it enters the cache. A
registry that cannot be reached while pulling is a warning: the entry is then made
here, as without sharing. The hashes prove that an artifact is whole and
consistent, not who made it: only machines trusted to build should be able to push
to the repository.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from containerize import reference
from containerize.engine import probes
from containerize.errors import ContainerizeError, RegistryError
from containerize.fsutil import write_atomic
from containerize.platforms import Platform
from containerize.registry import oci
from containerize.registry.client import Registry
from containerize.resolve.cache import Cache, Partials
from containerize.targets import TargetEnvironment

logger = logging.getLogger("containerize")

#: The repository beside the image that holds the shared entries.
REPOSITORY_SUFFIX = "containerize-cache"
FILE_ARTIFACT = "application/vnd.containerize.file.v1"
COMPILED_ARTIFACT = "application/vnd.containerize.compiled-wheel.v1"
RECORD_MEDIA_TYPE = "application/vnd.containerize.compiled-wheel.record.v1+json"
PROBE_ARTIFACT = "application/vnd.containerize.probe.v1"
PROBE_MEDIA_TYPE = "application/vnd.containerize.probe.v1+json"
#: A probe's JSON is a few KiB; more is not a probe.
PROBE_MAX_SIZE = 1 << 16
FILE_MEDIA_TYPE = "application/octet-stream"
TITLE = "org.opencontainers.image.title"
KEY = "dev.containerize.key"
BASE = "dev.containerize.base-image"
PLATFORM = "dev.containerize.platform"


@dataclass(frozen=True, kw_only=True)
class PulledWheel:
    """A compiled wheel's record as pushed, and the wheel, now in the cache."""

    record: bytes
    filename: str
    sha256: str


class SharedCache:
    """The entries of one machine's :class:`Cache` in a registry repository."""

    def __init__(self, registry: Registry, cache: Cache) -> None:
        self.registry = registry
        self.cache = cache

    @classmethod
    def beside(cls, image: str, cache: Cache) -> SharedCache:
        """The shared cache of the image repository *image*."""
        repository = reference.parse_repository(f"{image}/{REPOSITORY_SUFFIX}", where="image")
        return cls(Registry(repository), cache)

    def __str__(self) -> str:
        return str(self.registry)

    # ----------------------------------------------------------------------- files

    def pull_file(self, sha256: str, filename: str) -> Path | None:
        """The file with *sha256*, pulled into the cache; None when nobody pushed it."""
        tag = f"file-{sha256}"
        what = f"pulling {filename} from the shared cache"
        document = self._manifest(tag, what=what)
        if document is None:
            return None
        layers = self._layers(document, tag, artifact=FILE_ARTIFACT, count=1)
        if layers[0].digest != f"sha256:{sha256}":
            raise self._refused(
                tag, f"its file is {layers[0].digest}, not the sha256 its tag names"
            )
        return self._pull_into_cache(layers[0].digest, filename, what=what)

    def push_file(self, sha256: str, filename: str) -> bool:
        """Push the cached file with *sha256*, unless it is there; True when pushed."""
        tag = f"file-{sha256}"
        what = f"pushing {filename} to the shared cache"
        if self.registry.manifest_digest(tag, what=what) is not None:
            return False
        path = self._cached(sha256, filename)
        layer = self._push_blob(path, sha256, filename, what=what)
        self._put(tag, FILE_ARTIFACT, [layer], {TITLE: filename}, what=what)
        return True

    # -------------------------------------------------------------- compiled wheels

    def pull_compiled(
        self, key: str, *, what: str, check: Callable[[PulledWheel], str | None]
    ) -> PulledWheel | None:
        """The record and wheel pushed under the compile *key*; None when none was.

        *check* says what is wrong with the record (it must name the wheel pulled with
        it), or None; it is asked before the wheel is pulled, so a refused artifact
        leaves nothing in the cache."""
        tag = f"compiled-{key}"
        document = self._manifest(tag, what=what)
        if document is None:
            return None
        record_layer, wheel = self._layers(document, tag, artifact=COMPILED_ARTIFACT, count=2)
        annotations = document.get("annotations")
        if not isinstance(annotations, dict) or annotations.get(KEY) != key:
            raise self._refused(tag, "it was pushed for another compile key")
        if record_layer.media_type != RECORD_MEDIA_TYPE or record_layer.size > 1 << 20:
            raise self._refused(tag, "its first layer is not a compiled wheel's record")
        filename = wheel.annotations.get(TITLE, "")
        if not filename.endswith(".whl") or "/" in filename:
            raise self._refused(tag, f"its wheel layer names no wheel file ({filename!r})")
        pulled = PulledWheel(
            record=self._pull_bytes(record_layer.digest, what=what),
            filename=filename,
            sha256=wheel.digest.removeprefix("sha256:"),
        )
        problem = check(pulled)
        if problem is not None:
            raise self._refused(tag, problem)
        self._pull_into_cache(wheel.digest, filename, what=what)
        return pulled

    def push_compiled(
        self, key: str, record: bytes, *, sha256: str, filename: str, what: str
    ) -> bool:
        """Push a compiled wheel and its *record* under *key*, unless they are there."""
        tag = f"compiled-{key}"
        if self.registry.manifest_digest(tag, what=what) is not None:
            return False
        path = self._cached(sha256, filename)
        record_layer = oci.descriptor_of(record, RECORD_MEDIA_TYPE)
        self.registry.push_blob(record_layer.digest, record_layer.size, record, what=what)
        layer = self._push_blob(path, sha256, filename, what=what)
        self._put(tag, COMPILED_ARTIFACT, [record_layer, layer], {KEY: key}, what=what)
        return True

    # ---------------------------------------------------------------------- probes

    def pull_probes(self, image: str, platforms: Sequence[Platform], *, native_arch: str) -> None:
        """Pull the probes of *image* on each of *platforms* and this machine's platform
        (*native_arch*, where the venvs are made) that this machine lacks."""
        for platform in _with_native(platforms, native_arch):
            self.pull_probe(image, platform)

    def push_probes(self, image: str, platforms: Sequence[Platform], *, native_arch: str) -> None:
        """Push the probes of *image* on each of *platforms* and this machine's platform
        that the shared cache lacks."""
        for platform in _with_native(platforms, native_arch):
            self.push_probe(image, platform)

    def pull_probe(self, image: str, platform: Platform) -> bool:
        """The probe of the base *image* (pinned by digest) on *platform*, pulled into
        this machine's probe cache unless it is there; True when pulled."""
        path = probes.cache_file(image, platform)
        if path is None or path.is_file():
            return False
        key = probes.probe_key(image, platform)
        tag = f"probe-{key}"
        what = f"pulling the probe of {image} ({platform}) from the shared cache"
        document = self._manifest(tag, what=what)
        if document is None:
            return False
        (layer,) = self._layers(document, tag, artifact=PROBE_ARTIFACT, count=1)
        annotations = document.get("annotations")
        if not isinstance(annotations, dict) or annotations.get(KEY) != key:
            raise self._refused(tag, "it was pushed for another base image, platform or probe")
        if layer.media_type != PROBE_MEDIA_TYPE or layer.size > PROBE_MAX_SIZE:
            raise self._refused(tag, "its layer is not a probe's result")
        data = self._pull_bytes(layer.digest, what=what)
        try:
            target = TargetEnvironment.from_json(data.decode())
        except (ContainerizeError, UnicodeDecodeError) as exc:
            raise self._refused(tag, f"its layer is not a target environment ({exc})") from None
        if target.platform != platform:
            raise self._refused(tag, f"it describes {target.platform}, not {platform}")
        write_atomic(path, target.to_json())
        logger.info("the probe of %s (%s): from the shared cache %s", image, platform, self)
        return True

    def push_probe(self, image: str, platform: Platform) -> bool:
        """Push this machine's cached probe of *image* on *platform*, unless it is there
        (or not cached here: an image not pinned by digest); True when pushed."""
        path = probes.cache_file(image, platform)
        if path is None or not path.is_file():
            return False
        key = probes.probe_key(image, platform)
        tag = f"probe-{key}"
        what = f"pushing the probe of {image} ({platform}) to the shared cache"
        if self.registry.manifest_digest(tag, what=what) is not None:
            return False
        data = path.read_bytes()
        layer = oci.descriptor_of(data, PROBE_MEDIA_TYPE)
        self.registry.push_blob(layer.digest, layer.size, data, what=what)
        annotations = {KEY: key, BASE: image, PLATFORM: str(platform)}
        self._put(tag, PROBE_ARTIFACT, [layer], annotations, what=what)
        return True

    # -------------------------------------------------------------------- plumbing

    def _manifest(self, tag: str, *, what: str) -> dict[str, Any] | None:
        try:
            found = self.registry.manifest(tag, what=what)
        except RegistryError as exc:
            if not exc.message.startswith("cannot reach the registry"):
                raise
            logger.warning("%s; going on without it", exc.message)
            return None
        return None if found is None else found.json()

    def _layers(
        self, document: dict[str, Any], tag: str, *, artifact: str, count: int
    ) -> list[oci.Descriptor]:
        if document.get("artifactType") != artifact:
            raise self._refused(tag, f"its artifact type is not {artifact}")
        layers = document.get("layers")
        if not isinstance(layers, list) or len(layers) != count:
            raise self._refused(tag, f"it does not have {count} layer(s)")
        return [
            oci.parse_descriptor(layer, what=f"{self.registry}:{tag} layers[{i}]")
            for i, layer in enumerate(layers)
        ]

    def _pull_bytes(self, digest: str, *, what: str) -> bytes:
        partials = Partials(self.cache.partial_folder)
        out, temp = partials.create()
        try:
            with out:
                self.registry.pull_blob(digest, out, what=what)
            return temp.read_bytes()
        finally:
            partials.discard(temp)

    def _pull_into_cache(self, digest: str, filename: str, *, what: str) -> Path:
        sha256 = digest.removeprefix("sha256:")
        found = self.cache.lookup(sha256, filename)
        if found is not None:
            return found
        partials = Partials(self.cache.partial_folder)
        out, temp = partials.create()
        try:
            with out:
                self.registry.pull_blob(digest, out, what=what)
            temp.chmod(0o644)  # the wheelhouse is copied into images
            final = self.cache.entry(sha256, filename)
            final.parent.mkdir(parents=True, exist_ok=True)
            partials.commit(temp, final)
        except BaseException:
            partials.discard(temp)
            raise
        logger.info("%s: from the shared cache %s", filename, self.registry)
        self.cache.note_pulled(sha256, str(self.registry))
        return final

    def _cached(self, sha256: str, filename: str) -> Path:
        path = self.cache.lookup(sha256, filename)
        if path is None:
            raise RegistryError(
                f"{filename} (sha256 {sha256}) is not in the cache {self.cache.root} to share",
                hint="run the build again: the file is fetched or compiled first",
            )
        return path

    def _push_blob(self, path: Path, sha256: str, filename: str, *, what: str) -> oci.Descriptor:
        size = path.stat().st_size
        self.registry.push_blob(f"sha256:{sha256}", size, path, what=what)
        return oci.Descriptor(
            media_type=FILE_MEDIA_TYPE,
            digest=f"sha256:{sha256}",
            size=size,
            annotations={TITLE: filename},
        )

    def _put(
        self,
        tag: str,
        artifact: str,
        layers: list[oci.Descriptor],
        annotations: dict[str, str],
        *,
        what: str,
    ) -> None:
        self.registry.push_blob(
            oci.digest_of(oci.EMPTY_JSON), len(oci.EMPTY_JSON), oci.EMPTY_JSON, what=what
        )
        document = {
            "schemaVersion": 2,
            "mediaType": oci.OCI_MANIFEST,
            "artifactType": artifact,
            "config": {
                "mediaType": oci.EMPTY_CONFIG,
                "digest": oci.digest_of(oci.EMPTY_JSON),
                "size": len(oci.EMPTY_JSON),
            },
            "layers": [layer.to_json() for layer in layers],
            "annotations": dict(sorted(annotations.items())),
        }
        self.registry.put_manifest(tag, oci.dump(document), oci.OCI_MANIFEST, what=what)
        logger.info("pushed %s to the shared cache %s", tag, self.registry)

    def _refused(self, tag: str, why: str) -> RegistryError:
        return RegistryError(
            f"{self.registry}:{tag} is refused: {why}; nothing of it was used",
            hint="someone pushed this tag with other content: delete the tag (or push it "
            "again from a trusted machine) and check who can write to the repository",
        )


def _with_native(platforms: Sequence[Platform], native_arch: str) -> tuple[Platform, ...]:
    return tuple(dict.fromkeys((*platforms, Platform(os="linux", arch=native_arch))))
