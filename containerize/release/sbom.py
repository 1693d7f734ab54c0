"""The software bill of materials of one platform's image, as CycloneDX 1.5 JSON.

It is made from what decided the image and from what the image holds, and the two
must agree:

- the Python packages are the wheelhouse selection for that platform (the app's
  dependencies and the server's), each with its version and the sha256 of the locked
  file that was installed, and where it was locked (the project's lock, or
  containerize's own lock of the servers);
- the distributions installed in the image's virtual environment, read from its
  layers, must be exactly those packages at those versions: a difference is an
  error, not a footnote (:func:`check_installed`);
- the Debian packages are the runtime image's, from its dpkg status file.

The document is deterministic: its serial number derives from the manifest's digest
and its timestamp is the image's creation time, so the same image has the same SBOM.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.utils import NormalizedName
from packaging.version import InvalidVersion, Version

from containerize import __version__
from containerize.errors import ReleaseError
from containerize.platforms import Platform
from containerize.release.contents import DebianPackage, ImageContents
from containerize.resolve.selection import SelectedPackage

MEDIA_TYPE = "application/vnd.cyclonedx+json"
SPEC_VERSION = "1.5"
SUFFIX = ".cdx.json"
_PROPERTY = "containerize:"


@dataclass(frozen=True, kw_only=True)
class ImageIdentity:
    """Which image an SBOM describes."""

    repository: str
    server: str
    platform: Platform
    index_digest: str  # the multi-platform index the release tags
    manifest_digest: str  # this platform's manifest in it: the SBOM's subject
    app_name: str
    app_version: str
    created: dt.datetime


def check_installed(
    selected: Sequence[SelectedPackage], contents: ImageContents, *, what: str
) -> None:
    """Refuse an image whose virtual environment differs from the selection."""
    wanted = {(p.name, str(p.version)) for p in selected}
    found = {(d.name, _normal(d.version)) for d in contents.python}
    if wanted == found:
        return
    missing = sorted(wanted - found)
    extra = sorted(found - wanted)
    parts = []
    if missing:
        parts.append("selected but not installed: " + _names(missing))
    if extra:
        parts.append("installed but not selected: " + _names(extra))
    raise ReleaseError(
        f"{what}: the image's virtual environment is not what the lock selected ("
        + "; ".join(parts)
        + ")",
        hint="the SBOM would not describe the image; rebuild with --no-cache, and report "
        "it if it persists",
    )


def cyclonedx(
    image: ImageIdentity,
    *,
    selected: Sequence[SelectedPackage],
    lock_name: str,
    from_server_lock: Collection[NormalizedName],
    contents: ImageContents,
) -> bytes:
    """The CycloneDX document of *image*, as bytes (sorted keys, two-space indent)."""
    subject = f"{image.repository}@{image.manifest_digest}"
    components = [
        _python(package, lock_name=lock_name, server_lock=package.name in from_server_lock)
        for package in sorted(selected, key=lambda p: (p.name, p.version))
    ]
    components += [_debian(package) for package in contents.debian]
    document: dict[str, Any] = {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, subject)}",
        "version": 1,
        "metadata": {
            "timestamp": image.created.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {
                "components": [
                    {"type": "application", "name": "containerize", "version": __version__}
                ]
            },
            "component": {
                "type": "container",
                "bom-ref": subject,
                "name": image.repository,
                "version": image.manifest_digest,
                "properties": _properties(
                    {
                        "server": image.server,
                        "platform": str(image.platform),
                        "index-digest": image.index_digest,
                        "app": f"{image.app_name} {image.app_version}",
                    }
                ),
            },
        },
        "components": components,
        "dependencies": [
            {"ref": subject, "dependsOn": [component["bom-ref"] for component in components]}
        ],
    }
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def _python(package: SelectedPackage, *, lock_name: str, server_lock: bool) -> dict[str, Any]:
    purl = f"pkg:pypi/{package.name}@{urllib.parse.quote(str(package.version), safe='.')}"
    properties = {
        "file": package.file.filename,
        "locked-in": "containerize's server lock" if server_lock else lock_name,
    }
    if package.from_sdist:
        properties["built-from-sdist"] = "true"
    return {
        "type": "library",
        "bom-ref": purl,
        "name": package.name,
        "version": str(package.version),
        "purl": purl,
        "hashes": [{"alg": "SHA-256", "content": package.file.sha256}],
        "properties": _properties(properties),
    }


def _debian(package: DebianPackage) -> dict[str, Any]:
    version = urllib.parse.quote(package.version, safe=".~")
    purl = f"pkg:deb/debian/{package.name}@{version}"
    if package.architecture:
        purl += f"?arch={package.architecture}"
    properties = {"source": package.source} if package.source else {}
    component: dict[str, Any] = {
        "type": "library",
        "bom-ref": purl,
        "name": package.name,
        "version": package.version,
        "purl": purl,
    }
    if properties:
        component["properties"] = _properties(properties)
    return component


def _normal(version: str) -> str:
    """A version as the lock's model writes it (METADATA may spell it otherwise)."""
    try:
        return str(Version(version))
    except InvalidVersion:
        return version


def _properties(values: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"name": _PROPERTY + key, "value": value} for key, value in sorted(values.items())]


def _names(pairs: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"{name} {version}" for name, version in pairs)
