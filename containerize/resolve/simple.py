"""The simple repository API's project pages: PEP 503 HTML and PEP 691 JSON.

Each page lists files; :func:`parse_html_page` and :func:`parse_json_page` turn one
into :class:`IndexFile` records with absolute URLs and, where the index gives them,
sha256 digests.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from containerize.errors import FetchError
from containerize.resolve.pipconfig import redact_url, split_credentials

#: PEP 691's JSON content type.
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
#: PEP 691: ask for JSON, accept HTML; an index that only speaks PEP 503 answers HTML.
ACCEPT = f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"


@dataclass(frozen=True, kw_only=True)
class IndexFile:
    """One file listed on a project page. *url* is absolute, without userinfo."""

    filename: str
    url: str
    sha256: str | None
    requires_python: str | None = None
    yanked: bool = False
    yanked_reason: str | None = None
    size: int | None = None  # PEP 700 (JSON pages); HTML pages do not say


# --------------------------------------------------------------------------- parsing


def identity(filename: str) -> tuple[NormalizedName, Version] | None:
    """The normalized project name and version of a wheel or sdist file name, if it is one."""
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[:2]
        return parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


def project_of(filename: str) -> NormalizedName | None:
    """The normalized project name of a wheel or sdist file name, if it is one."""
    found = identity(filename)
    return found[0] if found else None


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base" and self.base is None:
            self.base = dict(attrs).get("href")
        elif tag == "a":
            self.anchors.append(dict(attrs))


def parse_html_page(text: str, page_url: str) -> list[IndexFile]:
    """Parse a PEP 503 page (or a find-links page) whose address is *page_url*."""
    parser = _LinkParser()
    parser.feed(text)
    parser.close()
    base = urllib.parse.urljoin(page_url, parser.base) if parser.base else page_url
    files = []
    for attrs in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        url, _, fragment = urllib.parse.urljoin(base, href).partition("#")
        url, _ = split_credentials(url)
        hash_name, _, digest = fragment.partition("=")
        filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rpartition("/")[2])
        if not filename:
            continue
        yanked = "data-yanked" in attrs
        files.append(
            IndexFile(
                filename=filename,
                url=url,
                sha256=digest.lower() if hash_name.lower() == "sha256" and digest else None,
                requires_python=attrs.get("data-requires-python") or None,
                yanked=yanked,
                yanked_reason=(attrs.get("data-yanked") or None) if yanked else None,
            )
        )
    return files


def parse_json_page(data: bytes, page_url: str) -> list[IndexFile]:
    """Parse a PEP 691 JSON project page whose address is *page_url*."""
    try:
        page = json.loads(data)
        version = str(page["meta"]["api-version"])
        if version.split(".", maxsplit=1)[0] != "1":
            raise FetchError(
                f"{redact_url(page_url)} speaks simple API version {version}, not 1.x",
                hint="point the index URL at a PEP 503/691 simple index",
            )
        files = []
        for entry in page["files"]:
            hashes: dict[str, Any] = entry.get("hashes") or {}
            yanked = entry.get("yanked", False)
            url, _ = split_credentials(urllib.parse.urljoin(page_url, str(entry["url"])))
            size = entry.get("size")
            files.append(
                IndexFile(
                    filename=str(entry["filename"]),
                    url=url,
                    sha256=str(hashes["sha256"]).lower() if "sha256" in hashes else None,
                    requires_python=entry.get("requires-python") or None,
                    yanked=bool(yanked),
                    yanked_reason=yanked if isinstance(yanked, str) and yanked else None,
                    size=size if isinstance(size, int) and not isinstance(size, bool) else None,
                )
            )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FetchError(
            f"{redact_url(page_url)} answered malformed PEP 691 JSON ({type(exc).__name__})",
            hint="check that the URL is a simple index, or report it to the index's owner",
        ) from None
    return files
