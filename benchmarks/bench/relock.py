"""One dependency bumped, re-locked with the real tool: pip-compile, as the project was.

The bench project's ``requirements.txt`` is a hashed lock that pip-compile made from
``requirements.in``. The bump re-runs pip-compile in a copy of the project with
``--upgrade-package NAME==VERSION``, through the user's own pip configuration, and
checks that exactly that one pin moved, so a rebuild measures one dependency change.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path

from packaging.utils import canonicalize_name

from containerize import process
from containerize.errors import CommandError, LockError

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", re.MULTILINE)

#: The flags the bench project's lock was made with (see its requirements.in).
PIP_COMPILE_FLAGS = (
    "--quiet", "--generate-hashes", "--no-emit-index-url", "--no-emit-find-links",
    "--no-emit-trusted-host",
)  # fmt: skip


def pins(text: str) -> dict[str, str]:
    """``name==version`` lines of a requirements file: normalized name -> version."""
    return {canonicalize_name(name): version for name, version in _PIN.findall(text)}


def moved(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """name -> (old, new) for every pin that differs; a missing side is ``""``."""
    return {
        name: (before.get(name, ""), after.get(name, ""))
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    }


def bump(project: Path, name: str, version: str) -> dict[str, tuple[str, str]]:
    """Re-lock *project* (a copy) with *name* at *version*; what moved, checked to be it."""
    lock = project / "requirements.txt"
    before = pins(lock.read_text())
    argv = [
        sys.executable, "-m", "piptools", "compile", *PIP_COMPILE_FLAGS,
        "--upgrade-package", f"{name}=={version}",
        "--output-file", "requirements.txt", "requirements.in",
    ]  # fmt: skip
    try:
        process.run(argv, cwd=project, timeout=600)
    except CommandError as exc:
        raise LockError(
            f"pip-compile could not re-lock {project} with {name}=={version}",
            hint="'nox -s bench' installs pip-tools; otherwise pip install pip-tools\n"
            + exc.output_tail,
        ) from None
    changes = moved(before, pins(lock.read_text()))
    if set(changes) != {canonicalize_name(name)}:
        raise LockError(
            f"bumping {name} to {version} moved {changes or 'nothing'}, not exactly {name}",
            hint="choose a version of it that needs no other change in the lock",
        )
    return changes
