"""The interface every WSGI server module implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from packaging.utils import NormalizedName

# Every server loads the same WSGI entry point, containerize_wsgi.application, from the
# image's containerize folder; it finds the user's application (see containerize.runtime).
ENTRY_DIR = "/opt/containerize"
ENTRY_MODULE = "containerize_wsgi"
ENTRY = f"{ENTRY_MODULE}:application"

# In a server's host_check arguments: the regular expression that a whole allowed Host
# header matches (PCRE and Python read it alike); start.py fills it in at start, from
# allowed-hosts or WSGI_ALLOWED_HOSTS, and also puts it in the server's environment as
# HOSTS_RE_VARIABLE, for configuration files.
HOSTS_RE = "{allowed_hosts_re}"
HOSTS_RE_VARIABLE = "CONTAINERIZE_ALLOWED_HOSTS_RE"

# Hashed static file names (Django's ManifestStaticFilesStorage, bundlers) never change.
HASHED_NAME_RE = r"\.[0-9a-f]{8,32}\.[A-Za-z0-9]+$"
A_YEAR = 31536000


Recycling = Literal["jitter", "exact", "none"]


@dataclass(frozen=True, kw_only=True)
class Preload:
    """How a server loads the app: once, in its master process before it forks the
    workers (*on*: the arguments that say so), or in each worker after the fork (*off*).
    The entrypoint adds one or the other to the command (``preload``, ``WSGI_PRELOAD``).

    *cannot* says why a server has no such choice (the start line says it); its
    arguments are then empty.
    """

    on: tuple[str, ...] = ()
    off: tuple[str, ...] = ()
    cannot: str | None = None


@dataclass(frozen=True, kw_only=True)
class StaticMount:
    """Static files: *url* (a prefix ending in '/') served from *root* in the image."""

    url: str
    root: str


@dataclass(frozen=True, kw_only=True)
class Runtime:
    """What a server needs to know about the image it runs in."""

    python: str  # the base image's interpreter, e.g. /usr/bin/python3
    python_version: tuple[int, int]
    venv: str  # where the application's virtual environment lives
    app_dir: str
    port: int
    static: StaticMount | None = None

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


class Server(Protocol):
    """One WSGI server: what it installs and how it runs.

    Its command is a template: the entrypoint replaces ``{workers}``, ``{threads}``,
    ``{concurrency}`` (workers x threads), ``{timeout}``, ``{keepalive}``,
    ``{grace_period}``, ``{max_requests}`` (0: never recycle), ``{max_requests_jitter}``
    and ``{max_requests_delta}`` (the jitter spread over the workers, for uWSGI's
    per-worker step) with the values for the running container.
    """

    @property
    def name(self) -> str:
        """The name used in configuration and as the build target."""

    @property
    def distribution(self) -> NormalizedName:
        """The Python distribution that provides it."""

    @property
    def entry_module(self) -> str:
        """The module its command imports first: the build's import check imports it in
        the image's venv, so that a server that cannot start (a dependency its version
        needs that the venv lacks) fails the build, not the container."""

    @property
    def serves_static(self) -> bool:
        """True when it maps a URL prefix to a folder itself (else WhiteNoise does)."""

    @property
    def stop_signal(self) -> str:
        """The signal that makes it shut down gracefully (Dockerfile STOPSIGNAL)."""

    @property
    def unblocks_stop_signals(self) -> bool:
        """True when its command unblocks SIGTERM and SIGINT itself once it handles
        them: the entrypoint then execs it with them blocked, so a stop signal that
        comes while it starts waits for it instead of being dropped (PID 1 receives
        only the signals it has a handler for)."""

    @property
    def default_threads(self) -> int:
        """Threads per worker when neither the project nor the container says."""

    @property
    def worker_memory(self) -> int:
        """MiB one worker needs, measured (``worker-memory`` when not configured)."""

    @property
    def memory_reserve(self) -> int:
        """MiB the server needs besides its workers (master, parent processes)."""

    @property
    def workers_are_threads(self) -> bool:
        """Its workers are threads of one process, which loads the app once (cheroot)."""

    @property
    def preload(self) -> Preload:
        """Whether it can load the app in its master before forking, and how."""

    @property
    def recycling(self) -> Recycling:
        """How it recycles a worker after ``max-requests``: with jitter, at the count
        exactly, or not at all (one process that cannot be replaced)."""

    def build_packages(self, runtime: Runtime) -> tuple[str, ...]:
        """Debian packages needed to build its sdist, when no wheel fits."""

    def runtime_packages(self, runtime: Runtime) -> tuple[str, ...]:
        """Debian packages it needs at run time."""

    def command(self, runtime: Runtime) -> tuple[str, ...]:
        """The argv template that serves the entry point on ``runtime.port``."""

    def host_check(self, runtime: Runtime) -> tuple[str, ...]:
        """Arguments added to the command, unless ``allowed-hosts`` allows any host, that
        make the server answer 400 to a foreign Host before it serves anything itself
        (static files included); ``{allowed_hosts_re}`` stands for the list's pattern.

        Empty for a server whose every request reaches the WSGI entry point, where the
        same check runs before the application and WhiteNoise.
        """

    def files(self, runtime: Runtime) -> dict[str, str]:
        """Extra configuration files for the image's containerize folder, by name."""
