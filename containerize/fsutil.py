"""Atomic file and directory replacement, and where containerize keeps its caches.

Everything containerize writes that a later run trusts (wheelhouse, context, pins,
probe results) goes through here, so an interrupted run never leaves a half-written
file or folder under the final name.

Temporary names carry the writing process's id (``.wheelhouse.partial-<pid>-<random>``,
``.containerize.lock.<pid>-<random>.tmp``). A run that was killed outright (SIGKILL, a
power cut) cannot clean up; a later run recognises those names, checks that their
owner is gone, and removes them (:func:`remove_leftovers`), so two concurrent runs
never remove each other's work.
"""

from __future__ import annotations

import fcntl
import fnmatch
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from containerize import buildfolder
from containerize.errors import ConfigError, ContainerizeError, Interrupted
from containerize.process import uninterrupted

logger = logging.getLogger("containerize")

# Temporary names: a staging or old folder of replacing_dir, a temporary file of
# replacing_file. Older versions wrote the same names without the owner's pid.
_LEFTOVER_RE = re.compile(
    r"^\.(?P<name>.+?)\.(?:(?:partial|old)-(?:(?P<pid>[0-9]+)-)?[a-z0-9_]{8}"
    r"|(?:(?P<filepid>[0-9]+)-)?[a-z0-9_]{8}\.tmp)$"
)


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
    """Yield a temporary path beside *path*; on success it is renamed to *path*.

    Temporary files that killed runs left beside *path* are removed first.
    """
    remove_leftovers(path.parent, name=path.name)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp"
    )
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, Interrupted):
            exc.doing(f"writing {path}")
        raise


@contextmanager
def replacing_dir(dest: Path) -> Iterator[Path]:
    """Yield a fresh folder beside *dest*; on success it replaces *dest* whole.

    On failure or interruption the new folder is removed and *dest* is left as it
    was; the swap itself (two renames) is never split by a signal. Folders that killed
    runs left beside *dest* are removed first.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(dest.parent, name=dest.name)
    pid = os.getpid()
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.partial-{pid}-"))
    old: Path | None = None
    swapped = False
    try:
        yield staging
        staging.chmod(0o755)
        old = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.old-{pid}-"))
        with uninterrupted():
            if dest.exists():
                os.replace(dest, old / dest.name)
            try:
                os.replace(staging, dest)
            except BaseException:
                if (old / dest.name).exists() and not dest.exists():
                    os.replace(old / dest.name, dest)
                raise
            swapped = True
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, Interrupted) and not swapped:
            exc.note(f"{dest} left as it was")
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def owner_gone(pid: int) -> bool:
    """Whether process *pid* has ended (a zombie counts as ended); never this one."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # another user's live process
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the command name in parentheses: "1234 (python3) Z ...".
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def remove_leftovers(folder: Path, *, name: str | None = None, locked: bool = False) -> list[str]:
    """Remove what killed runs left in *folder*; returns the names removed.

    Staging folders, replaced folders and temporary files (of the entry called *name*
    only, when given) go when the process that wrote them has ended. With *locked*
    the caller holds the folder's lock (:func:`exclusive`), so no live run writes
    there: temporary names without a pid, from older versions, go too.
    """
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    removed = []
    for entry in sorted(entries):
        match = _LEFTOVER_RE.match(entry.name)
        if match is None or (name is not None and match["name"] != name):
            continue
        pid = match["pid"] or match["filepid"]
        if pid is None and not locked:
            continue
        if pid is not None and not owner_gone(int(pid)):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        if not entry.exists():
            removed.append(entry.name)
    if removed:
        logger.info("removed leftovers of interrupted runs in %s: %s", folder, ", ".join(removed))
    return removed


def link_or_copy(source: Path, target: Path) -> None:
    """Hard-link *source* to *target* (same content, no copy), or copy across devices."""
    if target.exists():
        return
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def claim(build_dir: Path) -> None:
    """Make sure *build_dir* is containerize's to write into, and mark it so.

    A folder that does not exist yet, is empty, or holds only what containerize
    writes is claimed: the marker file is written into it. A folder holding anything
    else is refused, before a single file in it is touched.
    """
    if (build_dir / buildfolder.MARKER).is_file():
        return
    check_claimable(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(
        build_dir / buildfolder.MARKER,
        "containerize's build folder: its contents are replaced on every build.\n",
    )


def check_claimable(build_dir: Path) -> None:
    """Refuse *build_dir* if :func:`claim` would; write nothing.

    Commands call it first, so a folder of the user's is refused before the lock is
    read or the engine asked anything.
    """
    if (build_dir / buildfolder.MARKER).is_file():
        return
    if build_dir.exists():
        if not build_dir.is_dir():
            raise ConfigError(
                f"the build folder {build_dir} is a file",
                hint="set tool.containerize.build-dir (or CONTAINERIZE_BUILD_DIR) to a folder "
                "containerize may own, such as the default '.containerize'",
            )
        foreign = sorted(
            entry.name
            for entry in build_dir.iterdir()
            if not any(fnmatch.fnmatchcase(entry.name, own) for own in buildfolder.OWN_ENTRIES)
        )
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise ConfigError(
                f"the build folder {build_dir} holds files containerize did not write "
                f"({shown}); containerize replaces what is in its build folder",
                hint="set tool.containerize.build-dir (or CONTAINERIZE_BUILD_DIR) to a new "
                "folder (the default is '.containerize'), or move those files away",
            )


@contextmanager
def exclusive(build_dir: Path) -> Iterator[list[str]]:
    """Hold the build folder's lock: two builds of one project never interleave.

    Yields the names of what killed runs had left in the folder, removed now that no
    other run can be writing there.
    """
    claim(build_dir)
    with (build_dir / buildfolder.LOCK).open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ContainerizeError(
                f"another containerize run is using {build_dir}",
                hint="wait for it to finish, or set tool.containerize.build-dir for this one",
            ) from None
        try:
            yield remove_leftovers(build_dir, locked=True)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
