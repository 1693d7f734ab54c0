"""Target platforms: the ``os/arch[/variant]`` strings of OCI image indexes.

A platform is normalized the way containerd's ``platforms.Normalize`` (which BuildKit
uses) does it, so the platform containerize plans for is the one BuildKit builds and
``${TARGETOS}-${TARGETARCH}${TARGETVARIANT}`` names the same wheelhouse folder as
:attr:`Platform.slug`:

- ``x86_64`` and ``x86-64`` are ``amd64``, ``aarch64`` is ``arm64``, ``i386`` is ``386``,
  ``armhf`` is ``arm/v7`` and ``armel`` is ``arm/v6``;
- ``amd64/v1`` is ``amd64``; ``amd64/v2``, ``/v3`` and ``/v4`` are kept;
- ``arm64/v8`` is ``arm64``; ``arm64/v9`` is kept;
- ``arm`` without a variant is ``arm/v7``, as in containerd and BuildKit: a build for
  ``linux/arm`` runs with ``TARGETVARIANT=v7``. ``arm/v6`` is the other choice;
- any other variant is refused rather than passed on, so a typo such as
  ``linux/amd64/zzz9`` is an error here and not a build for a platform nobody has.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from containerize.errors import ConfigError

# OCI architecture -> what ``platform.machine()`` reports inside a Linux container.
_MACHINES = {
    "amd64": "x86_64",
    "arm64": "aarch64",
    "386": "i686",
    "arm": "armv7l",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}
# ``platform.machine()`` where the variant changes it.
_VARIANT_MACHINES = {("arm", "v6"): "armv6l", ("arm", "v7"): "armv7l"}

# The names people type that mean an OCI architecture, and the variant they imply.
_ALIASES: dict[str, tuple[str, str | None]] = {
    "x86_64": ("amd64", None),
    "x86-64": ("amd64", None),
    "aarch64": ("arm64", None),
    "i386": ("386", None),
    "armhf": ("arm", "v7"),
    "armel": ("arm", "v6"),
}

# arch -> {variant as typed: normalized variant (None: the same as no variant)}.
# The bare digits are spellings containerd accepts too.
_VARIANTS: dict[str, dict[str, str | None]] = {
    "amd64": {"v1": None, "v2": "v2", "v3": "v3", "v4": "v4"},
    "arm64": {"v8": None, "8": None, "v8.0": None, "v9": "v9", "9": "v9", "v9.0": "v9"},
    "arm": {"v6": "v6", "6": "v6", "v7": "v7", "7": "v7"},
}
# What an architecture means when no variant is written.
_DEFAULT_VARIANT = {"arm": "v7"}

_COMPONENT = r"[A-Za-z0-9_.-]+"
_PLATFORM_RE = re.compile(
    rf"(?P<os>{_COMPONENT})/(?P<arch>{_COMPONENT})(?:/(?P<variant>{_COMPONENT}))?"
)

_HINT = (
    "write platforms as os/arch[/variant], for example "
    "'linux/amd64', 'linux/arm64' or 'linux/arm/v7'"
)


@functools.total_ordering
@dataclass(frozen=True, kw_only=True)
class Platform:
    """One OCI platform, such as ``linux/amd64`` or ``linux/arm/v7``, normalized."""

    os: str
    arch: str
    variant: str | None = None

    def __post_init__(self) -> None:
        # A platform not in normal form would name a wheelhouse folder BuildKit never
        # looks in; constructing one is a bug in the caller, not a user error.
        if not _is_normal(self.os, self.arch, self.variant):
            raise ValueError(f"{self.os}/{self.arch}/{self.variant}: not a normalized platform")

    @classmethod
    def parse(cls, text: str, *, where: str = "platform") -> Platform:
        """Parse and normalize ``linux/amd64``; *where* names the setting in errors."""
        match = _PLATFORM_RE.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise ConfigError(f"{where}: {text!r} is not a platform", hint=_HINT)
        if match["os"].lower() != "linux":
            raise ConfigError(
                f"{where}: {text!r}: only linux images can be built",
                hint="use 'linux/amd64' or 'linux/arm64'",
            )
        arch, implied = _ALIASES.get(match["arch"].lower(), (match["arch"].lower(), None))
        if arch not in _MACHINES:
            known = ", ".join(f"linux/{name}" for name in _MACHINES)
            raise ConfigError(
                f"{where}: {text!r}: unknown architecture {arch!r}",
                hint=f"known platforms: {known}",
            )
        typed = match["variant"].lower() if match["variant"] is not None else None
        if typed is None:
            variant = implied if implied is not None else _DEFAULT_VARIANT.get(arch)
        elif typed in _VARIANTS.get(arch, {}):
            variant = _VARIANTS[arch][typed]
        else:
            raise ConfigError(
                f"{where}: {text!r}: unknown variant {typed!r} of {arch}",
                hint=_variant_hint(arch),
            )
        if implied is not None and variant != implied:
            raise ConfigError(
                f"{where}: {text!r}: {match['arch']!r} already means {arch}/{implied}",
                hint=f"write 'linux/{arch}/{implied}' or 'linux/{arch}/{typed}'",
            )
        return cls(os="linux", arch=arch, variant=variant)

    @property
    def machine(self) -> str:
        """What ``platform.machine()`` says on this platform (``x86_64``, ``aarch64``)."""
        return _VARIANT_MACHINES.get((self.arch, self.variant or ""), _MACHINES[self.arch])

    @property
    def slug(self) -> str:
        """A file-name-safe form, ``linux-amd64`` or ``linux-armv7``: what a Dockerfile
        spells ``${TARGETOS}-${TARGETARCH}${TARGETVARIANT}``."""
        return f"{self.os}-{self.arch}{self.variant or ''}"

    def __str__(self) -> str:
        parts = [self.os, self.arch] + ([self.variant] if self.variant else [])
        return "/".join(parts)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Platform):
            return NotImplemented
        return self._sort_key < other._sort_key

    @property
    def _sort_key(self) -> tuple[str, str, str]:
        # No variant sorts first; None itself does not compare with a str.
        return (self.os, self.arch, self.variant or "")


def parse_platforms(texts: Sequence[str], *, where: str) -> tuple[Platform, ...]:
    """Parse a list of platforms, naming ``where[i]`` in errors; refuse an empty list and
    a platform that, once normalized, repeats an earlier one (``linux/aarch64`` after
    ``linux/arm64``)."""
    if isinstance(texts, str):
        texts = [texts]
    platforms: list[Platform] = []
    for i, text in enumerate(texts):
        platform = Platform.parse(text, where=f"{where}[{i}]")
        if platform in platforms:
            first = platforms.index(platform)
            raise ConfigError(
                f"{where}[{i}]: {text!r} is {platform}, which {where}[{first}] "
                f"({texts[first]!r}) already lists",
                hint=f"list each platform once: remove {where}[{i}]",
            )
        platforms.append(platform)
    if not platforms:
        raise ConfigError(
            f"{where} is empty", hint="list at least one platform, e.g. 'linux/amd64'"
        )
    return tuple(platforms)


def _is_normal(os_name: str, arch: str, variant: str | None) -> bool:
    if os_name != "linux" or arch not in _MACHINES:
        return False
    if variant is None:
        return arch not in _DEFAULT_VARIANT
    return variant in _VARIANTS.get(arch, {}).values()


def _variant_hint(arch: str) -> str:
    variants = sorted({v for v in _VARIANTS.get(arch, {}).values() if v is not None})
    if not variants:
        return f"{arch} has no variants: write 'linux/{arch}'"
    return f"write 'linux/{arch}' or one of " + ", ".join(f"'linux/{arch}/{v}'" for v in variants)


LINUX_AMD64 = Platform(os="linux", arch="amd64")
LINUX_ARM64 = Platform(os="linux", arch="arm64")
