"""The WSGI servers an image can be built for, behind one small interface.

Each server is one module with one object satisfying :class:`Server`; adding a server
is a new module and one entry in :data:`REGISTRY`.
"""

from __future__ import annotations

import difflib

from packaging.utils import NormalizedName, canonicalize_name

from containerize.errors import ConfigError
from containerize.servers.base import Preload, Runtime, Server, StaticMount, toolchain
from containerize.servers.cheroot import CHEROOT
from containerize.servers.gunicorn import GUNICORN
from containerize.servers.mod_wsgi import MOD_WSGI
from containerize.servers.uwsgi import UWSGI

__all__ = [
    "REGISTRY",
    "Preload",
    "Runtime",
    "Server",
    "StaticMount",
    "get",
    "names",
    "preload_notices",
    "recycling_notices",
    "roots",
    "toolchain",
]

REGISTRY: dict[str, Server] = {
    server.name: server for server in (GUNICORN, UWSGI, MOD_WSGI, CHEROOT)
}


def names() -> tuple[str, ...]:
    """The known server names, sorted."""
    return tuple(sorted(REGISTRY))


# Serves static files for the servers that have no static file handler of their own.
WHITENOISE: NormalizedName = canonicalize_name("whitenoise")


def roots(name: str, *, static_files: bool) -> tuple[NormalizedName, ...]:
    """The distributions server *name*'s image installs on top of the app's own.

    The server itself, and WhiteNoise when the image serves static files and the
    server cannot serve them on its own.
    """
    server = get(name)
    if static_files and not server.serves_static:
        return (server.distribution, WHITENOISE)
    return (server.distribution,)


def recycling_notices(names: tuple[str, ...], max_requests: int, jitter: int | None) -> list[str]:
    """A line for each server in *names* that cannot recycle as ``max-requests`` asks."""
    if not max_requests:
        return []
    lines = []
    for name in names:
        recycling = get(name).recycling
        if recycling == "none":
            lines.append(
                f"notice: {name} cannot recycle workers: it serves from one process, so "
                f"max-requests ({max_requests}) does not apply to its image"
            )
        elif recycling == "exact" and jitter != 0:
            lines.append(
                f"notice: {name} recycles each worker after exactly {max_requests} requests: "
                "it has no jitter, so workers started together recycle together"
            )
    return lines


def preload_notices(names: tuple[str, ...], preload: str) -> list[str]:
    """A line for each server in *names* that cannot preload the app as ``preload``
    asks ('on'); 'auto' and 'off' ask nothing a server cannot do."""
    if preload != "on":
        return []
    return [
        f'notice: {name} cannot preload the app ({cannot}), so preload = "on" does not '
        "apply to its image"
        for name in names
        if (cannot := get(name).preload.cannot) is not None
    ]


def get(name: str, *, where: str = "server") -> Server:
    """The server called *name*; *where* names the setting in the error."""
    if name in REGISTRY:
        return REGISTRY[name]
    close = difflib.get_close_matches(name, list(REGISTRY), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ConfigError(
        f"{where}: unknown server {name!r}",
        hint=f"{hint}known servers: {', '.join(names())}",
    )
