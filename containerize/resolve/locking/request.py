"""What one run of ``containerize lock`` is asked to do: the input files to resolve,
the Python the lock is made for, the groups, extras and packages to move."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName

from containerize.project import MAIN_GROUP
from containerize.resolve.lock.model import InputKind

#: The file ``containerize lock`` writes, beside ``pyproject.toml``.
LOCK_FILE = "pylock.toml"


@dataclass(frozen=True, kw_only=True)
class LockInputs:
    """What to resolve: the *kind* of input and its files (several requirements
    files are resolved together, as ``pip install -r a -r b`` installs them)."""

    kind: InputKind
    files: tuple[Path, ...]
    #: Local package folders locked with them (``containerize lock requirements.txt
    #: .``): each is resolved with its own dependencies and goes into the lock as a
    #: ``[packages.directory]`` entry, built into a wheel by the image.
    folders: tuple[Path, ...] = ()

    def shown(self, project_dir: Path) -> str:
        """The files and folders, as messages name them."""
        return ", ".join(relative(f, project_dir) for f in (*self.files, *self.folders))


@dataclass(frozen=True, kw_only=True)
class LockRequest:
    """One run of ``containerize lock``, decided at the edge."""

    project_dir: Path
    inputs: LockInputs
    #: The lowest Python the lock is made for; ``None`` where nothing states it: then
    #: the pins' own Requires-Python decide
    #: (:func:`containerize.resolve.locking.lock`).
    python: tuple[int, int] | None
    #: ``[project] requires-python``: the lock's Python stays within it.
    requires_python: SpecifierSet | None = None
    groups: tuple[str, ...] = (MAIN_GROUP,)
    extras: tuple[str, ...] = ()
    upgrade: tuple[NormalizedName, ...] = ()
    upgrade_all: bool = False

    @property
    def output(self) -> Path:
        """Where the lock is written."""
        return self.project_dir / LOCK_FILE


def relative(path: Path, folder: Path) -> str:
    """*path* as messages and the lock name it: relative to *folder*, with slashes."""
    return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()
