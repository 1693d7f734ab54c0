"""What an image holds, read from its layers: Debian packages and Python distributions.

The layers are applied in order as an overlay filesystem would apply them, whiteouts
included (``.wh.<name>`` removes a file or folder of the layers below, ``.wh..wh..opq``
empties a folder of them), but only for the few paths that matter here:

- ``var/lib/dpkg/status``: the Debian packages installed, with their versions;
- ``<venv>/lib/python3.X/site-packages/*.dist-info/METADATA``: the Python
  distributions installed, by name and version.

Nothing is unpacked to disk: each layer streams through once, and a layer shared by
several images (the base image's) is read once per release.
"""

from __future__ import annotations

import email.parser
import re
import tarfile
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import IO

from packaging.utils import NormalizedName, canonicalize_name

from containerize.errors import ReleaseError
from containerize.registry.oci import Descriptor

DPKG_STATUS = "var/lib/dpkg/status"
_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"
_LAYER_TYPES = (
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
)


@dataclass(frozen=True, kw_only=True, order=True)
class DebianPackage:
    """One installed Debian package, as dpkg's status file records it."""

    name: str
    version: str
    architecture: str
    source: str | None = None


@dataclass(frozen=True, kw_only=True, order=True)
class InstalledDistribution:
    """One Python distribution installed in the image's virtual environment."""

    name: NormalizedName
    version: str


@dataclass(frozen=True, kw_only=True)
class ImageContents:
    """What one platform's image holds."""

    debian: tuple[DebianPackage, ...]
    python: tuple[InstalledDistribution, ...]


@dataclass(kw_only=True)
class _LayerChanges:
    """The wanted files one layer adds, and what it removes from the layers below."""

    files: dict[str, bytes] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)  # paths and folders, whited out
    opaque: set[str] = field(default_factory=set)  # folders emptied


OpenLayer = Callable[[Descriptor], AbstractContextManager[IO[bytes]]]


class ContentsReader:
    """Reads :class:`ImageContents` from layers, remembering each layer it has read."""

    def __init__(self, open_layer: OpenLayer, *, venv: str) -> None:
        self._open = open_layer
        venv = venv.strip("/")
        self._metadata = re.compile(
            re.escape(venv) + r"/lib/python3\.\d+/site-packages/[^/]+\.dist-info/METADATA"
        )
        self._venv = venv
        self._read: dict[str, _LayerChanges] = {}

    def contents(self, layers: Sequence[Descriptor], *, what: str) -> ImageContents:
        """The contents of the image made of *layers* (bottom first)."""
        files: dict[str, bytes] = {}
        for layer in layers:
            changes = self._changes(layer, what=what)
            for path in list(files):
                if any(_under(path, gone) for gone in changes.removed) or any(
                    _under(path, folder) and path != folder for folder in changes.opaque
                ):
                    del files[path]
            files.update(changes.files)
        status = files.get(DPKG_STATUS)
        python = sorted(
            _distribution(data, where=f"{what}: /{path}")
            for path, data in files.items()
            if path != DPKG_STATUS
        )
        return ImageContents(
            debian=parse_dpkg_status(status.decode(errors="replace")) if status else (),
            python=tuple(python),
        )

    def _changes(self, layer: Descriptor, *, what: str) -> _LayerChanges:
        if layer.digest not in self._read:
            self._read[layer.digest] = self._scan(layer, what=what)
        return self._read[layer.digest]

    def _scan(self, layer: Descriptor, *, what: str) -> _LayerChanges:
        if layer.media_type not in _LAYER_TYPES:
            raise ReleaseError(
                f"{what}: layer {layer.digest} is {layer.media_type}, which containerize "
                "cannot read for the SBOM",
                hint="build with gzip-compressed layers (BuildKit's default)",
            )
        changes = _LayerChanges()
        with self._open(layer) as stream:
            try:
                with tarfile.open(fileobj=stream, mode="r|*") as archive:
                    for member in archive:
                        self._member(archive, member, changes)
            except (tarfile.TarError, EOFError, OSError) as exc:
                raise ReleaseError(
                    f"{what}: layer {layer.digest} is not a readable tar: {exc}"
                ) from None
        return changes

    def _member(
        self, archive: tarfile.TarFile, member: tarfile.TarInfo, changes: _LayerChanges
    ) -> None:
        path = _clean(member.name)
        folder, _, base = path.rpartition("/")
        if base == _OPAQUE:
            changes.opaque.add(folder)
            return
        if base.startswith(_WHITEOUT):
            changes.removed.add(f"{folder}/{base[len(_WHITEOUT) :]}".lstrip("/"))
            return
        if not member.isfile() or not (path == DPKG_STATUS or self._metadata.fullmatch(path)):
            return
        handle = archive.extractfile(member)
        if handle is not None:
            changes.files[path] = handle.read()


def parse_dpkg_status(text: str) -> tuple[DebianPackage, ...]:
    """The installed packages of a dpkg status file, sorted by name."""
    packages = []
    for stanza in _stanzas(text):
        if stanza.get("status", "").split()[-1:] != ["installed"]:
            continue
        name, version = stanza.get("package"), stanza.get("version")
        if not name or not version:
            continue
        source = stanza.get("source")
        packages.append(
            DebianPackage(
                name=name,
                version=version,
                architecture=stanza.get("architecture", ""),
                source=source.split(" ")[0] if source else None,
            )
        )
    return tuple(sorted(packages))


def _stanzas(text: str) -> Iterable[dict[str, str]]:
    stanza: dict[str, str] = {}
    key = None
    for line in text.splitlines():
        if not line.strip():
            if stanza:
                yield stanza
            stanza, key = {}, None
        elif line[0] in " \t":
            continue  # a continuation line (descriptions, conffiles): not needed
        else:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            stanza[key] = value.strip()
    if stanza:
        yield stanza


def _distribution(data: bytes, *, where: str) -> InstalledDistribution:
    headers = email.parser.BytesHeaderParser().parsebytes(data)
    name, version = headers.get("Name"), headers.get("Version")
    if not name or not version:
        raise ReleaseError(f"{where} names no distribution (no Name or Version)")
    return InstalledDistribution(name=canonicalize_name(str(name)), version=str(version))


def _clean(name: str) -> str:
    """A member's path relative to the root: tar writers spell it 'a', './a' or '/a'."""
    while name.startswith("./"):
        name = name[2:]
    return "" if name == "." else name.strip("/")


def _under(path: str, folder: str) -> bool:
    return not folder or path == folder or path.startswith(folder + "/")
