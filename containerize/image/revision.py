"""What the image says about its source: the git revision and the creation time.

Both go into OCI labels. The time is ``SOURCE_DATE_EPOCH`` when set (the
reproducible-builds convention), else the last commit's time, else the epoch: never
the wall clock, so two builds of one commit label the same time.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from containerize import process
from containerize.errors import CommandError, ConfigError


@dataclass(frozen=True, kw_only=True)
class Stamp:
    """What the image's labels say about its source, asked of git once per build."""

    revision: str | None  # None outside a git repository
    created: dt.datetime


def stamp(project_dir: Path, environ: Mapping[str, str] = os.environ) -> Stamp:
    """The revision and creation time of *project_dir*'s image (see :func:`created`)."""
    return Stamp(revision=revision(project_dir), created=created(project_dir, environ))


def revision(project_dir: Path) -> str | None:
    """The commit checked out in *project_dir*, or None outside a git repository."""
    return _git(project_dir, "rev-parse", "HEAD")


def dirty(project_dir: Path, *, ignore: Sequence[Path] = ()) -> bool:
    """Whether *project_dir* has changes git has not committed, new files included;
    paths in *ignore* (the build folder) do not count. False outside a repository."""
    base = project_dir.resolve()
    excluded = [
        f":(exclude){path.resolve().relative_to(base).as_posix()}"
        for path in ignore
        if path.resolve().is_relative_to(base) and path.resolve() != base
    ]
    status = _git(
        project_dir, "status", "--porcelain", "--untracked-files=normal", "--", ".", *excluded
    )
    return bool(status)


def created(project_dir: Path, environ: Mapping[str, str] = os.environ) -> dt.datetime:
    """SOURCE_DATE_EPOCH if set, else the last commit's time, else the epoch."""
    epoch = environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            if int(epoch) < 0:
                raise ValueError(epoch)
            return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC)
        except (ValueError, OverflowError, OSError):
            raise ConfigError(
                f"SOURCE_DATE_EPOCH={epoch!r} is not a Unix timestamp between 1970 and 9999",
                hint="set it to seconds since 1970, e.g. $(git log -1 --format=%ct), or unset it",
            ) from None
    committed = _git(project_dir, "log", "-1", "--format=%ct")
    if committed and committed.isdigit():
        return dt.datetime.fromtimestamp(int(committed), tz=dt.UTC)
    return dt.datetime.fromtimestamp(0, tz=dt.UTC)


def _git(project_dir: Path, *args: str) -> str | None:
    """A git answer about the project, or None outside a repository or without git."""
    try:
        result = process.run(["git", *args], cwd=project_dir, check=False, timeout=30)
    except CommandError:
        return None
    text = result.stdout.strip()
    return text if result.returncode == 0 and text else None
