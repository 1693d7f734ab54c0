"""Image references, parsed by the grammar of the distribution ``reference`` package.

The grammar (github.com/distribution/reference, the one docker and BuildKit use)::

    reference        := name [ ":" tag ] [ "@" digest ]
    name             := [domain "/"] path
    domain           := host [":" port-number]
    host             := domain-name | "[" IPv6address "]"
    domain-name      := domain-component ["." domain-component]*
    domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
    port-number      := /[0-9]+/
    path             := path-component ["/" path-component]*
    path-component   := alpha-numeric [separator alpha-numeric]*
    alpha-numeric    := /[a-z0-9]+/
    separator        := /[_.]|__|[-]+/
    tag              := /[\\w][\\w.-]{0,127}/
    digest           := algorithm ":" hex

The name is at most 255 characters. Whether the first component is a domain follows
docker's rule: it is when it holds a ``.`` or a ``:``, is ``localhost``, or has an
uppercase letter; ``python:3.11`` has no domain and ``127.0.0.1:5000/app`` has one.
Digests are checked as the OCI go-digest package checks them: ``sha256`` is 64
lowercase hex digits, ``sha384`` 96 and ``sha512`` 128; other algorithms are refused.

A parsed reference prints back exactly as it was written: nothing is normalized, so
``python:3.11`` stays ``python:3.11`` and is not expanded to ``docker.io/library/...``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from containerize.errors import ConfigError

NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[_.]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_PATH_RE = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[[a-fA-F0-9:]+\]"
_DOMAIN_RE = re.compile(rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?")

# Go's \w is ASCII only; Python's is not, so the classes are spelled out.
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")

_ALGORITHM_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*")
_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")

_REFERENCE_HINT = (
    "write a reference such as 'python:3.12-slim-bookworm', "
    "'registry.example:5000/team/python:3.12' or 'python@sha256:<64 hex digits>'"
)
_DIGEST_HINT = "a digest is 'sha256:' followed by 64 lowercase hexadecimal digits"


@dataclass(frozen=True, kw_only=True)
class ImageReference:
    """One parsed image reference: ``[domain/]path[:tag][@digest]``."""

    domain: str | None  # registry host and port, None for docker's default registry
    path: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        text = self.repository
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text

    @property
    def repository(self) -> str:
        """The name without tag or digest: ``registry.example:5000/team/app``."""
        return f"{self.domain}/{self.path}" if self.domain is not None else self.path

    def with_tag(self, tag: str, *, where: str = "tag") -> ImageReference:
        """The same reference with *tag* (a digest, if any, is kept)."""
        _check_tag(tag, text=tag, where=where)
        return replace(self, tag=tag)

    def with_digest(self, digest: str, *, where: str = "digest") -> ImageReference:
        """The same reference pinned to *digest* (the tag, if any, is kept for readers)."""
        return replace(self, digest=parse_digest(digest, where=where))


def parse(text: str, *, where: str) -> ImageReference:
    """Parse an image reference; *where* names the setting it came from in errors."""
    if not isinstance(text, str) or not text:
        raise ConfigError(f"{where}: an image reference is required", hint=_REFERENCE_HINT)
    _check_characters(text, where=where, hint=_REFERENCE_HINT)

    name, digest = text, None
    if "@" in text:
        name, digest_text = text.split("@", 1)
        digest = parse_digest(digest_text, where=where)

    # A ':' after the last '/' starts the tag; one before it belongs to a port.
    tag = None
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        name, tag = name[:colon], name[colon + 1 :]
        _check_tag(tag, text=text, where=where)

    if not name:
        raise ConfigError(f"{where}: {text!r} has no repository name", hint=_REFERENCE_HINT)
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise ConfigError(
            f"{where}: the repository name in {text!r} is {len(name)} characters long, "
            f"more than the {NAME_TOTAL_LENGTH_MAX} a registry accepts",
            hint="use a shorter repository name",
        )
    domain, path = _split_domain(name)
    if domain is not None and not _DOMAIN_RE.fullmatch(domain):
        raise ConfigError(
            f"{where}: {domain!r} in {text!r} is not a registry host",
            hint="a registry is a host name or address with an optional port, "
            "such as 'registry.example:5000' or 'localhost:5000'",
        )
    if not _PATH_RE.fullmatch(path):
        if path.lower() != path:
            problem = "repository names must be lowercase"
        else:
            problem = (
                "a repository name is made of lowercase letters and digits, separated by "
                "'/', '.', '_', '__' or '-', and cannot start or end with a separator"
            )
        raise ConfigError(
            f"{where}: {path!r} in {text!r} is not a valid repository name: {problem}",
            hint=_REFERENCE_HINT,
        )
    if domain is None and _IDENTIFIER_RE.fullmatch(path):
        raise ConfigError(
            f"{where}: {text!r} is a 64-digit image ID, not a repository name",
            hint="name the image by repository and tag, or pin it as 'name@sha256:...'",
        )
    return ImageReference(domain=domain, path=path, tag=tag, digest=digest)


def parse_repository(text: str, *, where: str) -> ImageReference:
    """Parse a repository name alone, refusing a tag or digest (the image to build is
    tagged by containerize)."""
    ref = parse(text, where=where)
    if ref.tag is not None or ref.digest is not None:
        raise ConfigError(
            f"{where}: {text!r} has a {'tag' if ref.tag is not None else 'digest'}; "
            "a repository name is expected",
            hint=f"write {ref.repository!r}: containerize adds the tags itself",
        )
    return ref


def parse_digest(text: str, *, where: str) -> str:
    """Check a bare digest such as ``sha256:<64 hex>`` and return it unchanged."""
    if not isinstance(text, str):
        raise ConfigError(f"{where}: expected a digest string, got {text!r}", hint=_DIGEST_HINT)
    _check_characters(text, where=where, hint=_DIGEST_HINT)
    algorithm, sep, encoded = text.partition(":")
    if not sep or not _ALGORITHM_RE.fullmatch(algorithm):
        raise ConfigError(f"{where}: {text!r} is not a digest", hint=_DIGEST_HINT)
    length = _HEX_LENGTHS.get(algorithm)
    if length is None:
        raise ConfigError(
            f"{where}: {text!r} uses the unsupported digest algorithm {algorithm!r}",
            hint=f"use one of {', '.join(_HEX_LENGTHS)}; {_DIGEST_HINT}",
        )
    if len(encoded) != length or not re.fullmatch(r"[0-9a-f]+", encoded):
        raise ConfigError(
            f"{where}: {text!r} is not a {algorithm} digest: expected {length} lowercase "
            f"hexadecimal digits after '{algorithm}:'",
            hint=_DIGEST_HINT,
        )
    return text


def _split_domain(name: str) -> tuple[str | None, str]:
    """docker's rule for whether the first component names a registry."""
    first, sep, rest = name.partition("/")
    if not sep:
        return None, name
    if "." in first or ":" in first or first == "localhost" or first.lower() != first:
        return first, rest
    return None, name


def _check_tag(tag: str, *, text: str, where: str) -> None:
    if not _TAG_RE.fullmatch(tag):
        problem = (
            f"is {len(tag)} characters long, more than 128"
            if len(tag) > 128
            else "may hold only letters, digits, '_', '.' and '-', and cannot start with '.' or '-'"
        )
        raise ConfigError(
            f"{where}: the tag {tag!r} in {text!r} {problem}",
            hint="use a tag such as '3.12-slim-bookworm'",
        )


def _check_characters(text: str, *, where: str, hint: str) -> None:
    """Name the first character no reference may hold, before the grammar says less."""
    for char in text:
        if char.isspace() or not char.isprintable() or not char.isascii():
            raise ConfigError(
                f"{where}: {text!r} holds the character {char!r} (U+{ord(char):04X}), "
                "which no image reference may contain",
                hint=hint,
            )
