"""The SBOM: image contents read from layers (whiteouts included) and the CycloneDX
document made from the lock's selection and those contents."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import tarfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from containerize.errors import ReleaseError
from containerize.platforms import LINUX_ARM64
from containerize.registry import oci
from containerize.registry.oci import Descriptor
from containerize.release import sbom
from containerize.release.contents import (
    ContentsReader,
    DebianPackage,
    ImageContents,
    InstalledDistribution,
    parse_dpkg_status,
)
from containerize.resolve.lock.model import LockedFile, LockedPackage
from containerize.resolve.selection import SelectedPackage

SITE = "opt/venv/lib/python3.11/site-packages"
STATUS = """\
Package: libc6
Status: install ok installed
Architecture: arm64
Source: glibc
Version: 2.36-9+deb12u9
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs.

Package: removed-thing
Status: deinstall ok config-files
Architecture: arm64
Version: 1.0

Package: zlib1g
Status: install ok installed
Architecture: arm64
Source: zlib (1:1.2.13.dfsg-1)
Version: 1:1.2.13.dfsg-1
"""


def metadata(name: str, version: str) -> bytes:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nreadme\n".encode()


def layer(files: Mapping[str, bytes | None]) -> bytes:
    """A gzip tar layer: *files* by path; None makes an empty marker file (a whiteout)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data or b"")
            archive.addfile(info, io.BytesIO(data or b""))
    return gzip.compress(raw.getvalue())


class Layers:
    """Layers by digest, counting how often each is opened."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.opened: dict[str, int] = {}

    def add(self, files: Mapping[str, bytes | None]) -> Descriptor:
        data = layer(files)
        descriptor = oci.descriptor_of(data, "application/vnd.oci.image.layer.v1.tar+gzip")
        self.blobs[descriptor.digest] = data
        return descriptor

    @contextmanager
    def open(self, descriptor: Descriptor) -> Iterator[IO[bytes]]:
        self.opened[descriptor.digest] = self.opened.get(descriptor.digest, 0) + 1
        yield io.BytesIO(self.blobs[descriptor.digest])


def test_dpkg_status_lists_installed_packages_only() -> None:
    assert parse_dpkg_status(STATUS) == (
        DebianPackage(name="libc6", version="2.36-9+deb12u9", architecture="arm64", source="glibc"),
        DebianPackage(
            name="zlib1g", version="1:1.2.13.dfsg-1", architecture="arm64", source="zlib"
        ),
    )


def test_layers_apply_in_order_with_whiteouts() -> None:
    layers = Layers()
    base = layers.add(
        {
            "var/lib/dpkg/status": STATUS.encode(),
            f"{SITE}/old-1.0.dist-info/METADATA": metadata("old", "1.0"),
            f"{SITE}/keep-1.0.dist-info/METADATA": metadata("Keep_Me", "1.0"),
            "usr/lib/python3.11/site-packages/x-1.dist-info/METADATA": metadata("x", "1"),
        }
    )
    upper = layers.add(
        {
            f"./{SITE}/.wh.old-1.0.dist-info": None,
            f"./{SITE}/new-2.0.dist-info/METADATA": metadata("New.Pkg", "2.0"),
        }
    )
    reader = ContentsReader(layers.open, venv="/opt/venv")
    contents = reader.contents([base, upper], what="test")
    assert contents.python == (
        InstalledDistribution(name=canonicalize_name("keep-me"), version="1.0"),
        InstalledDistribution(name=canonicalize_name("new-pkg"), version="2.0"),
    )
    assert [p.name for p in contents.debian] == ["libc6", "zlib1g"]

    # An opaque folder hides what the layers below put there, not what its own layer adds.
    replaced = layers.add(
        {
            "var/lib/dpkg/status": b"Package: only\nStatus: install ok installed\nVersion: 1\n",
            "var/lib/dpkg/.wh..wh..opq": None,
        }
    )
    contents = reader.contents([base, upper, replaced], what="test")
    assert [p.name for p in contents.debian] == ["only"]
    # Each layer was read once, however many images share it.
    assert set(layers.opened.values()) == {1}


def test_unreadable_layers_are_errors() -> None:
    layers = Layers()
    zstd = Descriptor(media_type="application/vnd.oci.image.layer.v1.tar+zstd", digest="x", size=1)
    reader = ContentsReader(layers.open, venv="/opt/venv")
    with pytest.raises(ReleaseError, match=r"tar\+zstd, which containerize cannot read"):
        reader.contents([zstd], what="img")
    broken = oci.descriptor_of(b"not a tar", "application/vnd.oci.image.layer.v1.tar+gzip")
    layers.blobs[broken.digest] = b"not a tar"
    with pytest.raises(ReleaseError, match="is not a readable tar"):
        reader.contents([broken], what="img")


def selected(name: str, version: str, filename: str, sha: str) -> SelectedPackage:
    file = LockedFile(filename=filename, sha256=sha)
    package = LockedPackage(name=canonicalize_name(name), version=Version(version), files=(file,))
    return SelectedPackage(package=package, file=file)


PACKAGES = (
    selected("gunicorn", "23.0.0", "gunicorn-23.0.0-py3-none-any.whl", "1" * 64),
    selected("packaging", "24.1", "packaging-24.1-py3-none-any.whl", "2" * 64),
    selected("mod-wsgi", "5.0.0", "mod_wsgi-5.0.0.tar.gz", "3" * 64),
)
IDENTITY = sbom.ImageIdentity(
    repository="127.0.0.1:5000/team/app",
    server="gunicorn",
    platform=LINUX_ARM64,
    index_digest="sha256:" + "a" * 64,
    manifest_digest="sha256:" + "b" * 64,
    app_name="hello",
    app_version="1.2.3",
    created=dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC),
)


def contents(*pairs: tuple[str, str]) -> ImageContents:
    return ImageContents(
        debian=parse_dpkg_status(STATUS),
        python=tuple(
            InstalledDistribution(name=canonicalize_name(name), version=version)
            for name, version in pairs
        ),
    )


def test_cyclonedx_lists_every_package_with_its_hash_and_the_os_packages() -> None:
    found = contents(("gunicorn", "23.0.0"), ("packaging", "24.1"), ("mod_wsgi", "5.0.0"))
    sbom.check_installed(PACKAGES, found, what="gunicorn on linux/arm64")
    data = sbom.cyclonedx(
        IDENTITY,
        selected=PACKAGES,
        lock_name="poetry.lock",
        from_server_lock={canonicalize_name("packaging")},
        contents=found,
    )
    document = json.loads(data)
    assert document["bomFormat"] == "CycloneDX"
    assert document["specVersion"] == "1.5"
    assert document["metadata"]["timestamp"] == "2024-05-01T12:00:00Z"
    assert document["metadata"]["component"]["type"] == "container"
    assert document["metadata"]["component"]["bom-ref"] == (
        "127.0.0.1:5000/team/app@sha256:" + "b" * 64
    )
    python = {c["name"]: c for c in document["components"] if c["purl"].startswith("pkg:pypi/")}
    assert {name: c["hashes"] for name, c in python.items()} == {
        "gunicorn": [{"alg": "SHA-256", "content": "1" * 64}],
        "mod-wsgi": [{"alg": "SHA-256", "content": "3" * 64}],
        "packaging": [{"alg": "SHA-256", "content": "2" * 64}],
    }
    assert python["gunicorn"]["purl"] == "pkg:pypi/gunicorn@23.0.0"
    props = {p["name"]: p["value"] for p in python["mod-wsgi"]["properties"]}
    assert props == {
        "containerize:built-from-sdist": "true",
        "containerize:file": "mod_wsgi-5.0.0.tar.gz",
        "containerize:locked-in": "poetry.lock",
    }
    props = {p["name"]: p["value"] for p in python["packaging"]["properties"]}
    assert props["containerize:locked-in"] == "containerize's server lock"
    debian = [c["purl"] for c in document["components"] if c["purl"].startswith("pkg:deb/")]
    assert debian == [
        "pkg:deb/debian/libc6@2.36-9%2Bdeb12u9?arch=arm64",
        "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=arm64",
    ]
    # The same image always gets the same document.
    assert data == sbom.cyclonedx(
        IDENTITY,
        selected=PACKAGES,
        lock_name="poetry.lock",
        from_server_lock={canonicalize_name("packaging")},
        contents=found,
    )


def test_an_image_that_differs_from_the_selection_is_refused() -> None:
    found = contents(("gunicorn", "23.0.0"), ("packaging", "24.2"), ("setuptools", "70.0"))
    with pytest.raises(ReleaseError) as info:
        sbom.check_installed(PACKAGES, found, what="gunicorn on linux/arm64")
    assert str(info.value.message) == (
        "gunicorn on linux/arm64: the image's virtual environment is not what the lock "
        "selected (selected but not installed: mod-wsgi 5.0.0, packaging 24.1; installed "
        "but not selected: packaging 24.2, setuptools 70.0)"
    )
