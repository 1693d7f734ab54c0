"""The interface every WSGI server module implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from packaging.utils import NormalizedName


@dataclass(frozen=True, kw_only=True)
class Runtime:
    """What a server needs to know about the image it runs in."""

    python: str  # the base image's interpreter, e.g. /usr/bin/python3
    python_version: tuple[int, int]
    venv: str  # where the application's virtual environment lives
    app_dir: str
    port: int
    workers: int

    @property
    def distro_python(self) -> bool:
        """True for a Debian-packaged interpreter (it needs Debian's libpython and headers)."""
        return self.python.startswith("/usr/bin/")


def toolchain(runtime: Runtime) -> tuple[str, ...]:
    """Debian packages that compile a C extension for *runtime*'s Python.

    A Debian-packaged Python needs Debian's headers; an image that brings its own
    Python (the official ``python`` images) has them already.
    """
    packages = ("gcc", "libc6-dev")
    return (*packages, "python3-dev") if runtime.distro_python else packages


@dataclass(frozen=True, kw_only=True)
class App:
    """The WSGI callable, as servers need to name it."""

    module: str
    callable: str


class Server(Protocol):
    """One WSGI server: what it installs and how it runs."""

    @property
    def name(self) -> str:
        """The name used in configuration and as the build target."""

    @property
    def distribution(self) -> NormalizedName:
        """The Python distribution that provides it; it must be in the lock."""

    @property
    def serves_static(self) -> bool:
        """True when it maps a URL prefix to a folder itself (else WhiteNoise does)."""

    @property
    def stop_signal(self) -> str:
        """The signal that makes it shut down gracefully (Dockerfile STOPSIGNAL)."""

    def build_packages(self, runtime: Runtime) -> tuple[str, ...]:
        """Debian packages needed to build its sdist, when no wheel fits."""

    def runtime_packages(self, runtime: Runtime) -> tuple[str, ...]:
        """Debian packages it needs at run time."""

    def command(self, app: App, runtime: Runtime) -> tuple[str, ...]:
        """The argv that serves *app* on ``runtime.port`` in the foreground."""
