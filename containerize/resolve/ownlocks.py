"""containerize's own locks, shipped with it: the servers it supports, what their
sdists are built with, and the tools its build steps run.

The locks are ``pylock.toml`` files whose files have names and hashes but no URLs:
they are fetched from the user's configured indexes like any file of the project's
lock. ``scripts/lock-servers.py`` makes the servers' two.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from importlib import resources

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

from containerize import buildsteps, servers
from containerize.errors import LockError, ResolutionError
from containerize.project import ProjectMetadata
from containerize.resolve import buildlock
from containerize.resolve.fetch import FileRequest
from containerize.resolve.lock import Lock
from containerize.resolve.lock.pylock import read_pylock
from containerize.resolve.selection import Selection, select
from containerize.targets import TargetEnvironment

#: containerize's own lock of the servers it supports, beside the server modules.
SERVER_LOCK_FILE = "servers.pylock.toml"
#: How messages name it.
SERVER_LOCK = "containerize's server lock"
#: What containerize's servers' sdists (mod_wsgi) are built with, beside their lock.
SERVER_BUILD_LOCK_FILE = "servers-build.lock"
#: containerize's own lock of the tools its build steps run, beside the step scripts.
TOOL_LOCK_FILE = "tools.pylock.toml"
#: The tools: installer places wheels, pip builds sdists.
TOOLS = (canonicalize_name("installer"), canonicalize_name("pip"))


@functools.cache
def server_lock() -> Lock:
    """containerize's own lock of the servers it supports and WhiteNoise, read once.

    It is a ``pylock.toml`` whose files have names and hashes but no URLs: they are
    fetched from the user's configured indexes like any file of the project's lock.
    """
    resource = resources.files(servers).joinpath(SERVER_LOCK_FILE)
    with resources.as_file(resource) as path:
        return read_pylock(path)


@functools.cache
def tool_lock() -> Lock:
    """containerize's own lock of the tools its build steps run, read once."""
    resource = resources.files(buildsteps).joinpath(TOOL_LOCK_FILE)
    with resources.as_file(resource) as path:
        return read_pylock(path)


def tool_files() -> dict[NormalizedName, FileRequest]:
    """The wheel of each tool in :data:`TOOLS`, from :func:`tool_lock`."""
    lock = tool_lock()
    found = {}
    for name in TOOLS:
        (package,) = lock.find(name)
        (wheel,) = package.wheels
        found[name] = FileRequest(
            name=name, version=str(package.version), filename=wheel.filename, sha256=wheel.sha256
        )
    return found


@functools.cache
def server_build_lock() -> dict[tuple[str, str, tuple[str, ...]], buildlock.Entry]:
    """What containerize's own servers' sdists are built with, per platform and Python
    (:data:`SERVER_BUILD_LOCK_FILE`, made with the server lock), read once."""
    resource = resources.files(servers).joinpath(SERVER_BUILD_LOCK_FILE)
    with resources.as_file(resource) as path:
        return buildlock.read(
            path, hint="containerize's installation is damaged: reinstall containerize"
        )


def from_server_lock(
    server: str, missing: Sequence[NormalizedName], lock: Lock, target: TargetEnvironment
) -> Selection:
    """The closure of *missing* on *target*, from :func:`server_lock`."""
    tool = server_lock()
    names = ", ".join(missing)
    hint = (
        f"add {names} to the project (for example in a 'servers' dependency group) and "
        f"re-lock with '{lock.relock_command}'"
    )
    python = target.markers["python_full_version"]
    if tool.requires_python is not None and not tool.requires_python.contains(
        python, prereleases=True
    ):
        raise LockError(
            f"server {server!r} needs {names}, which {lock.path.name} does not pin, and "
            f"{SERVER_LOCK} is made for Python {tool.requires_python}, not the Python "
            f"{python} of {target.platform}",
            hint=hint,
        )
    absent = [name for name in missing if not tool.find(name)]
    if absent:
        raise LockError(
            f"server {server!r} needs {', '.join(absent)}, which neither {lock.path.name} "
            f"nor {SERVER_LOCK} pins",
            hint=hint,
        )
    # The server lock is nobody's project: its closure starts from the roots alone.
    project = ProjectMetadata(
        path=tool.path, name=None, version=None, requires_python=None, dependencies=()
    )
    try:
        return select(
            tool,
            project,
            target,
            groups=(),
            extras=(),
            extra_roots=[Requirement(name) for name in missing],
        )
    except (LockError, ResolutionError) as exc:
        raise type(exc)(
            f"server {server!r}, from {SERVER_LOCK}: {exc.message}",
            hint=f"{exc.hint}; or {hint}" if exc.hint else hint,
        ) from exc
