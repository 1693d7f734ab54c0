"""The key of one image: what it is built from, hashed, to tell an unchanged image.

Each server's image gets a key over its selection from the lock (every file's sha256,
per platform: a local package's packed sources included, so a change to a shared
library changes the key of every image that installs it), its app files (names and
bytes), its configuration (the plan the Dockerfile is rendered from, without the
labels that change on every build: the creation time and the git revision), the base image
pinned by digest and containerize's own files (:func:`tool_digest`: the runtime and server
files it puts in every image and the code that writes the Dockerfile, so an image made
by another containerize is never taken for an unchanged one). The key goes into the
image's labels (:data:`KEY_LABEL`); a build whose key matches the image already in the
registry is skipped (:func:`containerize.image.pipeline.prepare`).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath

import containerize
from containerize.image.plan import BuildPlan
from containerize.resolve.selection import PlatformSelection

#: The label that carries the key.
KEY_LABEL = "io.containerize.key"
#: Labels left out of the key: they change on every build of the same inputs.
VOLATILE_LABELS = frozenset(
    {"org.opencontainers.image.created", "org.opencontainers.image.revision"}
)


def app_digest(app_root: Path, files: Sequence[PurePosixPath]) -> str:
    """The sha256 over *files* (relative to *app_root*): their names, modes and bytes."""
    digest = hashlib.sha256()
    for name in sorted(files):
        path = app_root / name
        executable = bool(path.stat().st_mode & 0o111)
        digest.update(f"{name}\0{int(executable)}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@functools.cache
def tool_digest(root: Path | None = None) -> str:
    """The sha256 over containerize's own files under *root* (default: the installed
    package): their names and bytes, compiled bytecode left out. Every file counts, not
    only those copied into the image: the Dockerfile is written by code, and a change
    to it makes another image from the same inputs."""
    root = Path(containerize.__file__).parent if root is None else root
    digest = hashlib.sha256(f"containerize {containerize.__version__}\0".encode())
    for path in sorted(root.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        digest.update(f"{path.relative_to(root).as_posix()}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def configuration(plan: BuildPlan) -> str:
    """*plan* as text, without :data:`VOLATILE_LABELS` and without where this machine
    runs the import check (a build on another architecture makes the same image)."""
    labels = tuple((k, v) for k, v in plan.labels if k not in VOLATILE_LABELS)
    return repr(
        replace(plan, labels=labels, check_platform=plan.platforms[0], check_is_native=False)
    )


def image_key(
    *,
    server: str,
    base_image: str,
    configuration: str,
    selections: Sequence[PlatformSelection],
    app: str,
    tool: str | None = None,
) -> str:
    """The key of *server*'s image (a sha256 hex digest); *configuration* is the
    plan's :func:`configuration`, *app* the :func:`app_digest`, *tool* the
    :func:`tool_digest` (by default, of the containerize that runs)."""
    platforms = {}
    for item in selections:
        packages = [*item.base.packages]
        if server in item.servers:
            packages += item.servers[server].packages
        platforms[str(item.target.platform)] = sorted(
            f"{p.name} {p.file.filename} {p.file.sha256}" for p in packages
        )
    parts = {
        "server": server,
        "base-image": base_image,
        "configuration": hashlib.sha256(configuration.encode()).hexdigest(),
        "selection": platforms,
        "app": app,
        "containerize": tool_digest() if tool is None else tool,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def image_keys(
    build_plan: BuildPlan, *, base_image: str, selections: Sequence[PlatformSelection], app: str
) -> dict[str, str]:
    """Each server's image key, from what is known before anything is fetched: the
    *selections*, the *app* files' digest (:func:`app_digest`), the plan, the base."""
    plan_text = configuration(build_plan)
    return {
        stage.name: image_key(
            server=stage.name,
            base_image=base_image,
            configuration=plan_text,
            selections=selections,
            app=app,
        )
        for stage in build_plan.servers
    }


#: Asked with an image's tag and its key: the digest of the image in the registry when
#: it carries that key (it is unchanged), else None.
Unchanged = Callable[[str, str], str | None]


def unchanged_images(
    build_plan: BuildPlan, keys: Mapping[str, str], unchanged: Unchanged
) -> tuple[tuple[str, str], ...]:
    """The servers whose image *unchanged* finds, each with its digest."""
    found = []
    for stage in build_plan.servers:
        digest = unchanged(stage.tags[0], keys[stage.name])
        if digest is not None:
            found.append((stage.name, digest))
    return tuple(found)
