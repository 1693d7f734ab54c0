"""``tool.containerize.writable``: the paths of the app folder the app's user may write.

The image runs the app as an unprivileged user, and the app folder is root's: the
app's code cannot be changed by the app. Some apps must write there all the same (a
log file named relative to the working directory, Django's ``media/`` under
``BASE_DIR``, a SQLite database beside the code). This key names those paths, one by
one, relative to the app folder: ``"server.log"`` is a file, ``"media/"`` (a trailing
``/``) a folder. :mod:`containerize.image.writable` puts them in a layer of their own,
owned by the app's user; nothing else of the app folder becomes writable.

The check refuses what would widen that, or be read two ways: absolute paths, ``..``,
the app folder itself, glob patterns, a path listed twice, and a path whose kind (file
or folder) is not what the project has there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from containerize.declare import Values
from containerize.errors import ConfigError

#: The characters a writable path may hold: a path lands in a ``--mount`` option and
#: a shell line of the Dockerfile, and plain names keep both simple.
_NAME = re.compile(r"[A-Za-z0-9._@+-]+")
_GLOB = set("*?[]{}")
_HINT = (
    'list paths relative to the app folder: a file as "server.log", a folder with a '
    'trailing slash as "media/"'
)


@dataclass(frozen=True, order=True)
class WritablePath:
    """One path of the app folder the app's user owns in the image."""

    path: str  # relative to the app folder, POSIX, without a trailing '/'
    folder: bool  # True: a folder (its existing files stay root's); False: a file

    @property
    def text(self) -> str:
        """As the key writes it: a folder with its trailing ``/``."""
        return self.path + "/" if self.folder else self.path


def check_writable(value: list[str], where: str, values: Values) -> tuple[WritablePath, ...]:
    """The checked list: each entry a file or folder inside the app folder, of the kind
    the project has there (when it has it), listed once; sorted."""
    app_directory: PurePosixPath = values.get("app-directory")
    app_root = values.project_dir / app_directory
    found: dict[str, WritablePath] = {}
    for index, text in enumerate(value):
        entry = parse(text, f"{where}[{index}]")
        if entry.path in found:
            raise ConfigError(
                f"{where}[{index}]: {text!r} is listed twice (as {found[entry.path].text!r} "
                "before)",
                hint="keep one entry per path: 'name' for a file, 'name/' for a folder",
            )
        _check_on_disk(entry, app_root, f"{where}[{index}]")
        found[entry.path] = entry
    return tuple(sorted(found.values()))


def parse(text: Any, where: str) -> WritablePath:
    """One entry of the list, checked as text (not against the project)."""
    if not isinstance(text, str) or not text.strip("/"):
        raise ConfigError(
            f"{where}: {text!r} is not a path inside the app folder"
            + ("; the app folder itself stays read-only" if isinstance(text, str) else ""),
            hint=_HINT,
        )
    if _GLOB & set(text):
        raise ConfigError(
            f"{where}: {text!r} is a pattern; each writable path is named in full",
            hint=_HINT + "; list each path the app writes",
        )
    if text.startswith("/") or "\\" in text:
        raise ConfigError(
            f"{where}: {text!r} is not relative to the app folder",
            hint=_HINT + "; an absolute path outside the app folder (/tmp, a volume) needs "
            "no entry: point the app there instead",
        )
    folder = text.endswith("/")
    parts = text[:-1].split("/") if folder else text.split("/")
    if ".." in parts or "." in parts or "" in parts:
        raise ConfigError(
            f"{where}: {text!r} has a '.', '..' or empty segment; a writable path stays "
            "inside the app folder and is written one way only",
            hint=_HINT,
        )
    for part in parts:
        if not _NAME.fullmatch(part):
            raise ConfigError(
                f"{where}: {text!r} has a character a writable path cannot hold",
                hint="use letters, digits and . _ - + @ in names, '/' between them",
            )
    return WritablePath(path="/".join(parts), folder=folder)


def _check_on_disk(entry: WritablePath, app_root: Path, where: str) -> None:
    """The project's own file or folder at *entry*, when there is one, is of its kind;
    nothing on the way is a file or a symbolic link."""
    path = app_root
    parts = entry.path.split("/")
    for depth, part in enumerate(parts):
        path = path / part
        last = depth == len(parts) - 1
        if path.is_symlink():
            raise ConfigError(
                f"{where}: {entry.text!r} is a symbolic link in the project ({path})",
                hint="list the path the link points to, inside the app folder, or remove the link",
            )
        if not path.exists():
            return
        if not last and not path.is_dir():
            raise ConfigError(
                f"{where}: {entry.text!r} goes through {path}, a file in the project",
                hint=_HINT,
            )
    if entry.folder and not path.is_dir():
        raise ConfigError(
            f"{where}: {entry.text!r} names a folder, but {path} is a file in the project",
            hint=f'write "{entry.path}" (no trailing slash) for a file',
        )
    if not entry.folder and path.is_dir():
        raise ConfigError(
            f"{where}: {entry.text!r} names a file, but {path} is a folder in the project",
            hint=f'write "{entry.path}/" (with a trailing slash) for a folder',
        )
