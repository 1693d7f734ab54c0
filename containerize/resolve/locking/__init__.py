"""``containerize lock``: a hashed ``pylock.toml`` (PEP 751) where a project has none.

The input is what the project states: a requirements file without hashes (``==``
pins or ranges, ``-r``/``-c`` includes, extras), ``[project.dependencies]`` with the
chosen groups and extras, or a ``Pipfile``'s ``[packages]``. It is resolved once, by
uv (:data:`.uv.UV`, pinned by hash in containerize's tools lock and run from the
download cache, :func:`.uv.ensure_uv`), never by a resolver of containerize's own:
one universal resolution (``uv pip compile --universal --python-version X.Y``) whose
markers say where each package applies, so the same lock serves every platform and
the base image's Python and newer. uv gets the user's index configuration
(:func:`~containerize.resolve.pipconfig.discover`: pip.conf, ``PIP_INDEX_URL``, ...,
then a Pipfile's ``[[source]]``), credentials through its environment, never its
command line.

The lock records, in its ``[tool.containerize]`` table, what it was made from: each
input's path and sha256 (a requirements file with its includes; for
``pyproject.toml`` only its dependency tables). A build checks them
(:func:`containerize.resolve.lock.check_inputs`) and stops when one changed; it never
resolves. A re-lock keeps every pin the input still allows (uv reads the previous
lock as its preferences), ``--upgrade-package NAME`` lets one package move, and
:class:`.changes.Changes` says what moved.

Each part in its module: :mod:`.request` (what one run asks for), :mod:`.inputs` (the
files resolved and the record of them), :mod:`.python` (the Python the lock is made
for), :mod:`.uv` (the resolver, its command line and its environment) and
:mod:`.changes` (what a re-lock moved). This module runs them in order and writes the
lock.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import tomlkit

from containerize import bases
from containerize.errors import LockError
from containerize.fsutil import replacing_file, write_atomic
from containerize.project import ProjectMetadata
from containerize.resolve.lock.model import Lock, LockInput
from containerize.resolve.lock.pylock import read_pylock
from containerize.resolve.locking.changes import Changes, diff
from containerize.resolve.locking.inputs import recorded_inputs
from containerize.resolve.locking.python import pins_python
from containerize.resolve.locking.request import LOCK_FILE, LockRequest, relative
from containerize.resolve.locking.uv import run_uv, uv_version
from containerize.resolve.pipconfig import IndexSettings

_USERINFO = re.compile(r"(?<=://)[^/\s\"'@]+@")


@dataclass(frozen=True, kw_only=True)
class LockResult:
    """A lock written: the new lock, and the previous one if there was one."""

    lock: Lock
    previous: Lock | None
    request: LockRequest
    uv_version: str
    #: Why the lock is made for its Python, where nothing stated it.
    python_why: str | None = None

    @property
    def changes(self) -> Changes | None:
        """What moved since the previous lock; ``None`` for a first lock."""
        return None if self.previous is None else diff(self.previous, self.lock)

    def lines(self) -> list[str]:
        """What to print: the pins, then the difference with the previous lock."""
        request = self.request
        python = "{}.{}".format(*(request.python or bases.DEFAULT_SUITE.python))
        count = f"{len(self.lock.names)} packages"
        if len(self.lock.packages) > len(self.lock.names):  # versions per environment
            count += f" ({len(self.lock.packages)} pins)"
        lines = [
            f"containerize lock: {count} pinned from "
            f"{request.inputs.shown(request.project_dir)} for Python >={python}, every "
            f"platform (uv {self.uv_version}, universal resolution, markers kept)"
        ]
        if self.python_why is not None:
            lines.append(f"  Python >={python}: {self.python_why}")
        for package in self.lock.packages:
            marker = f" ; {package.marker}" if package.marker is not None else ""
            lines.append(f"  {package.name}=={package.version}{marker}")
        changes = self.changes
        if changes is not None:
            lines.append(f"changes since the last {self.lock.path.name}:")
            lines.extend(changes.lines())
        lines.append(f"wrote {self.lock.path} (commit it)")
        return lines


def lock(
    request: LockRequest,
    *,
    uv: Path,
    settings: IndexSettings,
    project: ProjectMetadata | None,
    previous: Lock | None,
) -> LockResult:
    """Resolve *request* with *uv* and write ``pylock.toml`` atomically.

    The previous lock, if any, is uv's preference (pins it still allows stay); the
    new file is read back by containerize's own pylock reader before it replaces the
    old one, so a lock that containerize could not build from is never written.

    Where nothing states the Python (``request.python`` is ``None``), the pins decide
    it: a first resolution for the newest Python a base image offers
    (:func:`~.python.offered_pythons`), then the Requires-Python the index states for each
    pinned file, and the lock is made for the lowest offered Python they all allow.
    """
    why = None
    if request.python is None:
        python, why = pins_python(
            request, uv=uv, settings=settings, project=project, previous=previous
        )
        request = replace(request, python=python)
    if request.upgrade and previous is not None:
        unknown = [n for n in request.upgrade if not previous.find(n)]
        if unknown:
            raise LockError(
                f"--upgrade-package {', '.join(unknown)}: not in {previous.path.name}",
                hint="name a package the lock pins (see the list 'containerize lock' printed)",
            )
    inputs = recorded_inputs(request)
    version = uv_version(uv)
    with tempfile.TemporaryDirectory(prefix="containerize-lock-") as tmp:
        output = Path(tmp) / LOCK_FILE
        run_uv(request, uv=uv, settings=settings, project=project, previous=previous, output=output)
        document = _finish(output.read_text(), request, inputs, version, written_in=Path(tmp))
    # Read back beside the final file (local package folders are relative to it)
    # before it replaces the old one.
    with replacing_file(request.output) as partial:
        partial.write_text(document)
        partial.chmod(0o644)
        try:
            written = read_pylock(partial)
        except LockError as exc:
            raise LockError(
                f"uv's lock cannot be used: {exc.message.replace(partial.name, LOCK_FILE)}",
                hint=exc.hint
                or "a requirement that is not pinned from an index or a local package folder "
                "(a URL, a VCS checkout) cannot go into an image; publish it or drop it",
            ) from exc
    final = read_pylock(request.output)
    assert final.packages == written.packages
    return LockResult(
        lock=final, previous=previous, request=request, uv_version=version, python_why=why
    )


def _finish(
    text: str, request: LockRequest, inputs: Sequence[LockInput], version: str, *, written_in: Path
) -> str:
    """uv's pylock output, with a header and containerize's ``[tool.containerize]``;
    local package folders, which uv wrote relative to *written_in*, made relative to
    the project's folder, where the lock goes."""
    document = tomlkit.parse(_USERINFO.sub("", text))
    for package in document.get("packages", []):
        directory = package.get("directory")
        if directory is not None and isinstance(directory.get("path"), str):
            folder = (written_in / directory["path"]).resolve()
            directory["path"] = relative(folder, request.project_dir)
    tool = document.get("tool")
    if tool is None:
        tool = tomlkit.table(is_super_table=True)
        document["tool"] = tool
    own = tomlkit.table()
    own["python"] = "{}.{}".format(*(request.python or bases.DEFAULT_SUITE.python))
    if request.inputs.kind == "pyproject":
        own["groups"] = list(request.groups)
        own["extras"] = list(request.extras)
    entries = tomlkit.array()
    entries.multiline(True)
    for item in inputs:
        entry = tomlkit.inline_table()
        entry.update({"path": item.path, "kind": item.kind, "sha256": item.sha256})
        if item.included:
            entry["included"] = True
        entries.append(entry)
    own["inputs"] = entries
    tool["containerize"] = own
    header = (
        f"# Written by 'containerize lock' from {', '.join(i.path for i in inputs)}: one\n"
        f"# universal resolution by uv {version} for Python >={own['python']} on every\n"
        "# platform, markers kept. Commit it; do not edit it by hand. A build stops when an\n"
        "# input changed: re-lock with 'containerize lock' (--upgrade-package NAME moves\n"
        "# one package).\n"
    )
    return header + tomlkit.dumps(document)


def point_config_at_lock(pyproject: Path, configured: Sequence[Path]) -> bool:
    """Set ``lock = "pylock.toml"`` in ``[tool.containerize]`` when it names other files
    (the unhashed requirements it was made from, say); the rest of the file keeps every
    byte. Whether it changed anything."""
    wanted = (pyproject.parent / LOCK_FILE).resolve()
    if not configured or [p.resolve() for p in configured] == [wanted]:
        return False
    document = tomlkit.parse(pyproject.read_text(encoding="utf-8"))
    table = document["tool"]["containerize"]
    table["lock"] = LOCK_FILE
    write_atomic(pyproject, tomlkit.dumps(document))
    return True
