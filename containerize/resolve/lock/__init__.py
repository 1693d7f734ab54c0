"""Lock files: find, read and check the project's lock.

``load_lock`` finds ``poetry.lock``, ``pylock.toml``, ``uv.lock``, ``Pipfile.lock``
or ``pdm.lock`` next to ``pyproject.toml`` (else a hashed ``requirements.txt``) and
reads it into one typed :class:`Lock`; ``load_locks`` reads several requirements files
as one lock; ``check_fresh`` refuses a lock that no longer matches the project
(:mod:`containerize.project` reads ``pyproject.toml``), or the files ``containerize
lock`` made it from, naming the command that re-locks it.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

from containerize.errors import LockError
from containerize.project import MAIN_GROUP, IndexSource, ProjectMetadata
from containerize.resolve.lock.model import (
    RELOCK_COMMANDS,
    Dependency,
    Lock,
    LockedFile,
    LockedPackage,
    LockFormat,
    LockIndex,
    LockInput,
)
from containerize.resolve.lock.pdm import pdm_content_hash, read_pdm_lock
from containerize.resolve.lock.pipenv import PIPFILE, pipfile_hashes, read_pipfile_lock
from containerize.resolve.lock.poetry import poetry_content_hashes, read_poetry_lock
from containerize.resolve.lock.pylock import read_pylock
from containerize.resolve.lock.requirements import read_requirements, read_requirements_files
from containerize.resolve.lock.uv import read_uv_lock

__all__ = [
    "MAIN_GROUP",
    "Dependency",
    "IndexSource",
    "Lock",
    "LockFormat",
    "LockIndex",
    "LockInput",
    "LockedFile",
    "LockedPackage",
    "ProjectMetadata",
    "check_fresh",
    "detect_format",
    "for_project",
    "input_digest",
    "load_lock",
    "load_locks",
    "lock_sources",
    "read_lock",
]

#: The lock files ``load_lock`` looks for, in the order they are reported.
LOCK_FILES: dict[str, LockFormat] = {
    "poetry.lock": "poetry",
    "pylock.toml": "pylock",
    "uv.lock": "uv",
    "Pipfile.lock": "pipenv",
    "pdm.lock": "pdm",
}
#: Looked for only when none of :data:`LOCK_FILES` exists: many projects keep a
#: ``requirements.txt`` beside their real lock (an export, for example).
REQUIREMENTS_FILE = "requirements.txt"

_READERS: dict[LockFormat, Callable[[Path], Lock]] = {
    "pdm": read_pdm_lock,
    "pipenv": read_pipfile_lock,
    "poetry": read_poetry_lock,
    "pylock": read_pylock,
    "requirements": read_requirements,
    "uv": read_uv_lock,
}

_PYLOCK_NAME = re.compile(r"^pylock\.([^.]+\.)?toml$")


def detect_format(path: Path) -> LockFormat:
    """The format of a lock file, from its name.

    Any ``*.txt`` is a requirements file: ``requirements.txt``, ``requirements/*.txt``,
    or whatever name ``[tool.containerize] lock`` gives.
    """
    if path.name in LOCK_FILES:
        return LOCK_FILES[path.name]
    if _PYLOCK_NAME.match(path.name):
        return "pylock"
    if path.suffix == ".txt":
        return "requirements"
    raise LockError(
        f"{path}: not a lock file containerize can read",
        hint="use poetry.lock, uv.lock, Pipfile.lock, pdm.lock, a PEP 751 pylock.toml / "
        "pylock.NAME.toml, or a requirements file with hashes (requirements.txt); "
        "'containerize lock' writes a pylock.toml where there is no lock",
    )


def read_lock(path: Path) -> Lock:
    """Read the lock file at *path*, whatever its format."""
    fmt = detect_format(path)
    if not path.is_file():
        raise LockError(
            f"{path}: no such lock file", hint=f"create it with '{RELOCK_COMMANDS[fmt]}'"
        )
    return _READERS[fmt](path)


def load_lock(project_dir: Path, path: Path | None = None) -> Lock:
    """Read the project's lock file.

    With *path* (absolute, or relative to *project_dir*) that file is read. Without
    it, exactly one of :data:`LOCK_FILES` must exist in *project_dir*, or else
    ``requirements.txt``. A requirements file names no files,
    only their hashes (:attr:`Lock.needs_file_names`):
    :func:`containerize.resolve.filenames.name_files` names them from the index.
    """
    if path is None:
        return read_lock(_find_lock(project_dir))
    path = path if path.is_absolute() else project_dir / path
    try:
        detect_format(path)
    except LockError as exc:
        raise LockError(f"tool.containerize.lock: {exc.message}", hint=exc.hint) from None
    return read_lock(path)


def load_locks(project_dir: Path, paths: Sequence[Path]) -> Lock:
    """Read the project's lock from *paths* (absolute, or relative to *project_dir*).

    One path is read as :func:`load_lock` reads it. Several must all be requirements
    files: they are read together as one lock, as ``pip install -r a.txt -r b.txt``
    would install them (:func:`~containerize.resolve.lock.requirements.read_requirements_files`):
    the same pin twice is kept once, two different pins of a package are an error
    that names both lines.
    """
    if not paths:
        return load_lock(project_dir)
    if len(paths) == 1:
        return load_lock(project_dir, paths[0])
    full = [p if p.is_absolute() else project_dir / p for p in paths]
    for position, path in enumerate(full):
        try:
            fmt = detect_format(path)
        except LockError as exc:
            raise LockError(
                f"tool.containerize.lock[{position}]: {exc.message}", hint=exc.hint
            ) from None
        if fmt != "requirements":
            raise LockError(
                f"tool.containerize.lock[{position}]: {path.name} is a {fmt} lock: only "
                "requirements files can be combined",
                hint=f'name it alone: lock = "{paths[position]}"',
            )
        if not path.is_file():
            raise LockError(
                f"tool.containerize.lock[{position}]: {path}: no such lock file",
                hint=f"create it with '{RELOCK_COMMANDS['requirements']}'",
            )
    return read_requirements_files(full, top=project_dir)


def for_project(lock: Lock, project_dir: Path) -> Lock:
    """*lock* as the project in *project_dir* sees it.

    A workspace lock (``lock = "../../uv.lock"`` in a member's ``[tool.containerize]``)
    lists the member among its local packages: its dependencies become the lock's
    roots, and the member itself is the project's package when it is installable (a
    virtual member brings only its dependencies). A lock beside the project is
    returned as it is.
    """
    top = lock.path.parent.resolve()
    here = project_dir.resolve()
    if here == top:
        return lock
    member = next(
        (p for p in lock.local_packages if p.local and (top / p.local).resolve() == here), None
    )
    if member is None:
        return lock
    roots = [(MAIN_GROUP, frozenset(d.name for d in member.dependencies))]
    roots += [
        (f"extra:{extra}", frozenset(d.name for d in deps))
        for extra, deps in member.optional_dependencies
    ]
    packages = tuple(p for p in lock.packages if p is not member or member.installable)
    return replace(
        lock,
        packages=packages,
        roots=tuple(sorted(roots)),
        project_package=member.name if member.installable else None,
    )


def _find_lock(project_dir: Path) -> Path:
    found = [project_dir / name for name in LOCK_FILES if (project_dir / name).is_file()]
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise LockError(
            f"{project_dir}: more than one lock file ({names}); which one describes the image?",
            hint='choose one with lock = "..." in [tool.containerize], or delete the others',
        )
    if found:
        return found[0]
    if (project_dir / REQUIREMENTS_FILE).is_file():
        return project_dir / REQUIREMENTS_FILE
    hint = (
        "'containerize lock' makes a pylock.toml from your requirements, or create one "
        "with 'poetry lock', 'uv lock', 'pip lock -o pylock.toml .', 'pipenv lock', "
        "'pdm lock', or 'pip-compile --generate-hashes' for a requirements.txt"
    )
    if (project_dir / "requirements").is_dir():
        hint = 'name one of requirements/*.txt with [tool.containerize] lock = "...", or ' + hint
    raise LockError(
        f"{project_dir}: no lock file (looked for {', '.join([*LOCK_FILES, REQUIREMENTS_FILE])})",
        hint=hint,
    )


def lock_sources(lock: Lock) -> list[tuple[str, str, str]]:
    """The lock file's own index options as ``(option, url, origin)`` for
    :func:`~containerize.resolve.pipconfig.discover`."""
    return [(index.option, index.url, index.origin) for index in lock.indexes]


def check_fresh(lock: Lock, project: ProjectMetadata) -> None:
    """Raise :class:`LockError` if *lock* no longer matches *project*.

    A Poetry lock is fresh when its ``content-hash`` is the one Poetry computes from
    ``pyproject.toml``. For uv and pylock files, every root requirement of the project
    must be locked at a version it accepts, and the lock's own roots must still be
    the project's. A requirements file records no roots: its pins are checked against
    the project's runtime requirements only. A ``Pipfile.lock`` must match the
    ``Pipfile`` beside it, a ``pdm.lock`` PDM's content hash of ``pyproject.toml``.
    A lock ``containerize lock`` wrote must match the files it was made from
    (:func:`check_inputs`).
    """
    check_inputs(lock)
    if lock.format == "poetry":
        _check_poetry(lock, project)
        return
    if lock.format == "pipenv":
        _check_pipfile(lock)
        return
    if lock.format == "pdm":
        _check_pdm(lock, project)
    declared = _declared(project)
    roots = _root_requirements(lock, declared)
    problems = _missing_roots(lock, roots, project.name)
    if lock.format == "uv":
        problems += _extra_roots(lock, declared)
    problems += _stale_roots(lock, roots)
    if problems:
        shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
        raise LockError(
            f"{lock.path.name} is out of date with {project.path.name}: {shown}",
            hint=f"re-lock with '{lock.relock_command}'",
        )


def check_inputs(lock: Lock) -> None:
    """Raise :class:`LockError` when a file ``containerize lock`` made *lock* from has
    changed (or gone) since: a build never installs pins made from other requirements,
    and never resolves them itself."""
    for recorded in lock.inputs:
        path = lock.path.parent / recorded.path
        try:
            current = input_digest(path, recorded.kind)
        except OSError:
            current = None
        if current != recorded.sha256:
            what = "changed" if current is not None else "is gone"
            shown = recorded.path
            if recorded.kind == "project":
                shown = f"the package folder {recorded.path} (setup.py, setup.cfg, pyproject.toml)"
            raise LockError(
                f"{shown} {what} since the lock was made: run containerize lock",
                hint=f"'containerize lock' resolves {recorded.path} again and rewrites "
                f"{lock.path.name}; a build never resolves by itself",
            )


def input_digest(path: Path, kind: str) -> str:
    """The sha256 ``containerize lock`` records for an input of *kind* at *path*: the
    file's bytes, or, for ``pyproject``, only the tables a resolution depends on; for
    ``project`` (a folder), what its build reads its requirements from."""
    if kind == "project":
        return project_folder_digest(path)
    data = path.read_bytes()
    if kind == "pyproject":
        data = project_dependency_text(data.decode("utf-8")).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def project_folder_digest(folder: Path) -> str:
    """The sha256 of what a local package folder's requirements come from: its
    ``setup.py`` and ``setup.cfg`` (bytes) and its ``pyproject.toml``'s ``[project]``,
    ``[build-system]`` and ``[tool.setuptools]`` (so editing ``[tool.containerize]``
    leaves the lock fresh). A folder that holds none of them raises ``OSError``."""
    content: dict[str, object] = {}
    for name in ("setup.py", "setup.cfg"):
        if (folder / name).is_file():
            content[name] = (folder / name).read_bytes().decode("utf-8", "replace")
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file():
        document = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        tables = {
            "project": document.get("project"),
            "build-system": document.get("build-system"),
            "setuptools": document.get("tool", {}).get("setuptools"),
        }
        if any(value is not None for value in tables.values()):
            # A pyproject.toml of tool tables only (init's) changes nothing.
            content["pyproject.toml"] = tables
    if not content:
        raise FileNotFoundError(folder)
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def project_dependency_text(text: str) -> str:
    """The parts of a ``pyproject.toml`` a resolution depends on, as canonical JSON."""
    document = tomllib.loads(text)
    project = document.get("project", {})
    content = {
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
        "requires-python": project.get("requires-python"),
        "dependency-groups": document.get("dependency-groups", {}),
    }
    return json.dumps(content, sort_keys=True, default=str)


def _check_pipfile(lock: Lock) -> None:
    pipfile = lock.path.parent / PIPFILE
    if not pipfile.is_file():
        return  # a lock copied without its Pipfile: only the lock itself is known
    hint = "re-lock with 'pipenv lock'"
    if lock.content_hash is None:
        raise LockError(f"{lock.path.name}: _meta: missing 'hash'", hint=hint)
    if lock.content_hash not in pipfile_hashes(pipfile):
        raise LockError(
            f"{lock.path.name} is out of date with {PIPFILE}: the Pipfile changed since "
            "the lock was written (_meta.hash differs)",
            hint=hint,
        )


def _check_pdm(lock: Lock, project: ProjectMetadata) -> None:
    if lock.content_hash is None or project.data is None:
        return
    if lock.content_hash != pdm_content_hash(project.data):
        raise LockError(
            f"{lock.path.name} is out of date with {project.path.name}: the dependencies "
            "in pyproject.toml changed since the lock was written (content_hash differs)",
            hint="re-lock with 'pdm lock'",
        )


def _check_poetry(lock: Lock, project: ProjectMetadata) -> None:
    hint = "re-lock with 'poetry lock' (Poetry 1.x: 'poetry lock --no-update')"
    if lock.content_hash is None:
        raise LockError(f"{lock.path.name}: metadata: missing 'content-hash'", hint=hint)
    if lock.content_hash not in poetry_content_hashes(project.data or {}):
        raise LockError(
            f"{lock.path.name} is out of date with {project.path.name}: the dependencies "
            "in pyproject.toml changed since the lock was written (content-hash differs)",
            hint=hint,
        )


@dataclass(frozen=True, kw_only=True)
class _Declared:
    """The project's root requirements, read once from its metadata for the checks:
    each group's (:data:`MAIN_GROUP` first, then by name) and each extra's."""

    groups: dict[str, tuple[Requirement, ...]]
    extras: dict[NormalizedName, tuple[Requirement, ...]]


def _declared(project: ProjectMetadata) -> _Declared:
    others = sorted((g for g in project.groups if g[0] != MAIN_GROUP), key=lambda item: item[0])
    return _Declared(
        groups={MAIN_GROUP: project.dependencies, **dict(others)},
        extras=dict(project.optional_dependencies),
    )


def _groups_to_check(lock: Lock, declared: _Declared) -> list[str]:
    if lock.format == "uv":
        return list(declared.groups)
    # A pylock file holds the groups it was exported with; it lists them only
    # sometimes, so only those it lists (and the runtime ones) must be complete.
    listed = {name for name, _ in lock.roots if not name.startswith("extra:")}
    return [MAIN_GROUP, *sorted(listed & set(declared.groups))]


def _extras_to_check(lock: Lock, declared: _Declared) -> list[NormalizedName]:
    if lock.format == "uv":
        return list(declared.extras)
    listed = {name.removeprefix("extra:") for name, _ in lock.roots if name.startswith("extra:")}
    return [e for e in declared.extras if e in listed]


def _root_requirements(lock: Lock, declared: _Declared) -> list[tuple[str, Requirement]]:
    found = [(g, r) for g in _groups_to_check(lock, declared) for r in declared.groups[g]]
    for extra in _extras_to_check(lock, declared):
        found.extend((f"extra {extra}", r) for r in declared.extras[extra])
    return found


def _missing_roots(
    lock: Lock, roots: Sequence[tuple[str, Requirement]], project_name: NormalizedName | None
) -> list[str]:
    problems = []
    for group, requirement in roots:
        name = canonicalize_name(requirement.name)
        if name == project_name:
            continue
        if not lock.find(name):
            problems.append(f"{name} ({group}) is not in the lock")
            continue
        root_key = group.replace("extra ", "extra:")
        if lock.format == "uv" and name not in lock.root_names(root_key):
            problems.append(f"{name} ({group}) is not a root of the lock")
    return problems


def _extra_roots(lock: Lock, declared: _Declared) -> list[str]:
    """Lock roots that the project no longer asks for (uv records its roots)."""
    wanted: dict[str, set[NormalizedName]] = {}
    for group, requirements in declared.groups.items():
        wanted[group] = {canonicalize_name(r.name) for r in requirements}
    for extra, requirements in declared.extras.items():
        wanted[f"extra:{extra}"] = {canonicalize_name(r.name) for r in requirements}
    problems = []
    for group, names in lock.roots:
        if group not in wanted:
            problems.append(f"the lock has {group.replace(':', ' ')!r}, which pyproject.toml lacks")
            continue
        problems.extend(
            f"{name} ({group.replace(':', ' ')}) is locked but no longer required"
            for name in sorted(names - wanted[group])
        )
    return problems


def _stale_roots(lock: Lock, roots: Sequence[tuple[str, Requirement]]) -> list[str]:
    problems = []
    for group, requirement in roots:
        candidates = lock.find(canonicalize_name(requirement.name))
        if not candidates or not requirement.specifier:
            continue
        if not any(requirement.specifier.contains(p.version, prereleases=True) for p in candidates):
            versions = ", ".join(str(p.version) for p in candidates)
            problems.append(f"{requirement} ({group}) but the lock has {versions}")
    return problems
