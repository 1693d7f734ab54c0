"""Target platforms: the ``os/arch[/variant]`` strings of OCI image indexes."""

from __future__ import annotations

import re
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

# The names people type that mean an OCI architecture.
_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64"}

_PLATFORM_RE = re.compile(r"^(?P<os>[a-z0-9]+)/(?P<arch>[a-z0-9_-]+)(?:/(?P<variant>[a-z0-9]+))?$")


@dataclass(frozen=True, kw_only=True, order=True)
class Platform:
    """One OCI platform, such as ``linux/amd64`` or ``linux/arm64``."""

    os: str
    arch: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str, *, where: str = "platform") -> Platform:
        """Parse ``linux/amd64``; *where* names the setting in error messages."""
        match = _PLATFORM_RE.match(text.strip().lower())
        if match is None:
            raise ConfigError(
                f"{where}: {text!r} is not a platform",
                hint="write platforms as os/arch, for example 'linux/amd64' or 'linux/arm64'",
            )
        arch = _ALIASES.get(match["arch"], match["arch"])
        if match["os"] != "linux":
            raise ConfigError(
                f"{where}: {text!r}: only linux images can be built",
                hint="use 'linux/amd64' or 'linux/arm64'",
            )
        if arch not in _MACHINES:
            known = ", ".join(f"linux/{name}" for name in _MACHINES)
            raise ConfigError(
                f"{where}: {text!r}: unknown architecture {arch!r}",
                hint=f"known platforms: {known}",
            )
        return cls(os=match["os"], arch=arch, variant=match["variant"])

    @property
    def machine(self) -> str:
        """What ``platform.machine()`` says on this platform (``x86_64``, ``aarch64``)."""
        return _MACHINES[self.arch]

    @property
    def slug(self) -> str:
        """A file-name-safe form, ``linux-amd64`` or ``linux-armv7``: what a Dockerfile
        spells ``${TARGETOS}-${TARGETARCH}${TARGETVARIANT}``."""
        return f"{self.os}-{self.arch}{self.variant or ''}"

    def __str__(self) -> str:
        parts = [self.os, self.arch] + ([self.variant] if self.variant else [])
        return "/".join(parts)


LINUX_AMD64 = Platform(os="linux", arch="amd64")
LINUX_ARM64 = Platform(os="linux", arch="arm64")
