"""Atomic file and directory replacement, and where containerize keeps its caches.

Everything containerize writes that a later run trusts (wheelhouse, context, pins,
probe results) goes through here, so an interrupted run never leaves a half-written
file or folder under the final name.
"""

from __future__ import annotations

import fcntl
import fnmatch
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from containerize.errors import ContainerizeError


def cache_home(environ: Mapping[str, str] = os.environ) -> Path:
    """``$XDG_CACHE_HOME/containerize``, else ``~/.cache/containerize``."""
    xdg = environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path(environ.get("HOME") or Path.home()) / ".cache"
    return base / "containerize"


def write_atomic(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Write *text* to *path* through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing_file(path) as tmp:
        tmp.write_text(text)
        tmp.chmod(mode)


@contextmanager
def replacing_file(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside *path*; on success it is renamed to *path*."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def replacing_dir(dest: Path) -> Iterator[Path]:
    """Yield a fresh folder beside *dest*; on success it replaces *dest* whole.

    On failure the new folder is removed and *dest* is left as it was.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.partial-"))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    staging.chmod(0o755)
    old = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.old-"))
    if dest.exists():
        os.replace(dest, old / dest.name)
    os.replace(staging, dest)
    shutil.rmtree(old, ignore_errors=True)


def link_or_copy(source: Path, target: Path) -> None:
    """Hard-link *source* to *target* (same content, no copy), or copy across devices."""
    if target.exists():
        return
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


#: The file that marks a folder as containerize's own build folder.
BUILD_DIR_MARKER = ".containerize-build-dir"
# What containerize itself puts in a build folder: a folder that holds only these (an
# older containerize wrote no marker) may be claimed; anything else is the user's.
_OWN_ENTRIES = (
    "wheelhouse",
    "context",
    "metadata",
    "build-requirements",
    ".lock",
    ".wheelhouse.*",
    ".context.*",
)


def claim(build_dir: Path) -> None:
    """Make sure *build_dir* is containerize's to write into, and mark it so.

    A folder that does not exist yet, is empty, or holds only what containerize
    writes is claimed: the marker file is written into it. A folder holding anything
    else is refused, before a single file in it is touched.
    """
    marker = build_dir / BUILD_DIR_MARKER
    if marker.is_file():
        return
    if build_dir.exists():
        if not build_dir.is_dir():
            raise ContainerizeError(
                f"the build folder {build_dir} is a file",
                hint="set tool.containerize.build-dir to a folder containerize may own",
            )
        foreign = sorted(
            entry.name
            for entry in build_dir.iterdir()
            if not any(fnmatch.fnmatchcase(entry.name, own) for own in _OWN_ENTRIES)
        )
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise ContainerizeError(
                f"the build folder {build_dir} holds files containerize did not write "
                f"({shown}); containerize replaces what is in its build folder",
                hint="set tool.containerize.build-dir to a new folder (the default is "
                "'.containerize'), or move those files away",
            )
    build_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(
        marker,
        "containerize's build folder: its contents are replaced on every build.\n",
    )


@contextmanager
def exclusive(build_dir: Path) -> Iterator[None]:
    """Hold the build folder's lock: two builds of one project never interleave."""
    claim(build_dir)
    with (build_dir / ".lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ContainerizeError(
                f"another containerize run is using {build_dir}",
                hint="wait for it to finish, or set tool.containerize.build-dir for this one",
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
