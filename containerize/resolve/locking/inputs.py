"""The inputs of a lock: which files to resolve (named, recorded in the previous
lock, or the one set the project has), the digest of each file read, recorded in the
lock's ``[tool.containerize]`` table for a build to check, and the requirements uv
resolves for a ``pyproject.toml`` or ``Pipfile``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from packaging.utils import canonicalize_name

from containerize.errors import LockError
from containerize.project import ProjectMetadata
from containerize.resolve.lock import LOCK_FILES, input_digest
from containerize.resolve.lock.localdir import read_static
from containerize.resolve.lock.model import Lock, LockInput
from containerize.resolve.lock.pipenv import PIPFILE, read_pipfile
from containerize.resolve.lock.pylock import read_pylock
from containerize.resolve.lock.requirements import included_files, local_folders
from containerize.resolve.locking.request import LOCK_FILE, LockInputs, LockRequest, relative

#: Requirements files looked for when no input is named: ``requirements.in`` is
#: pip-tools' input, so it wins over the ``requirements.txt`` compiled from it.
REQUIREMENTS_INPUTS = ("requirements.in", "requirements.txt")


def previous_lock(project_dir: Path) -> Lock | None:
    """The ``pylock.toml`` an earlier ``containerize lock`` wrote, if any.

    A ``pylock.toml`` that another tool wrote is not replaced: an error says so.
    """
    path = project_dir / LOCK_FILE
    if not path.is_file():
        return None
    lock = read_pylock(path)
    if not lock.inputs:
        raise LockError(
            f"{path} was not written by 'containerize lock' (it has no "
            "[tool.containerize] inputs): it is the project's lock already",
            hint=f"re-lock it with the tool that made it ({lock.generator or 'unknown'}), "
            "or delete it to let 'containerize lock' make a new one",
        )
    return lock


def find_inputs(
    project_dir: Path,
    given: Sequence[Path],
    *,
    project: ProjectMetadata | None,
    previous: Lock | None,
) -> LockInputs:
    """The input to resolve: the files *given* (relative to *project_dir*), else what
    the previous lock was made from, else the one input the project has.

    Without a previous lock, the candidates are ``[project.dependencies]`` (when
    ``pyproject.toml`` declares any), a ``Pipfile``, and ``requirements.in`` or else
    ``requirements.txt``; more than one is an error that lists them.
    """
    others = [name for name in LOCK_FILES if name != LOCK_FILE and (project_dir / name).is_file()]
    if others:
        raise LockError(
            f"{project_dir} has a lock already ({', '.join(others)}): containerize builds "
            "from it as it is",
            hint="'containerize lock' is for projects without a lock; re-lock with the "
            "tool that made it",
        )
    if given:
        return _given_inputs(project_dir, given)
    if previous is not None:
        # The files and folders named then; their includes are found again.
        named = [i for i in previous.inputs if not i.included]
        files = tuple(project_dir / i.path for i in named if i.kind != "project")
        folders = tuple(_folder(project_dir, Path(i.path)) for i in named if i.kind == "project")
        kinds = [i.kind for i in named if i.kind != "project"]
        kind = kinds[0] if kinds else "requirements"
        return LockInputs(kind=kind, files=files, folders=folders)
    candidates: list[LockInputs] = []
    if project is not None and project.dependencies:
        candidates.append(LockInputs(kind="pyproject", files=(project.path,)))
    if (project_dir / PIPFILE).is_file():
        candidates.append(LockInputs(kind="pipfile", files=(project_dir / PIPFILE,)))
    for name in REQUIREMENTS_INPUTS:
        if (project_dir / name).is_file():
            candidates.append(LockInputs(kind="requirements", files=(project_dir / name,)))
            break
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        hint = "name the requirements to lock: 'containerize lock requirements/main.txt'"
        if (project_dir / "requirements").is_dir():
            hint += " (several files are locked together: name each)"
        raise LockError(
            f"{project_dir}: nothing to lock: no [project.dependencies] in pyproject.toml, "
            f"no {PIPFILE}, no {' or '.join(REQUIREMENTS_INPUTS)}",
            hint=hint,
        )
    listed = "; ".join(c.shown(project_dir) for c in candidates)
    raise LockError(
        f"{project_dir}: more than one set of requirements could be locked: {listed}",
        hint="name the one the image needs: 'containerize lock FILE'",
    )


def _given_inputs(project_dir: Path, given: Sequence[Path]) -> LockInputs:
    paths = [p if p.is_absolute() else project_dir / p for p in given]
    folders = tuple(_folder(project_dir, p) for p in paths if p.is_dir())
    files = tuple(p for p in paths if not p.is_dir())
    if not files:
        return LockInputs(kind="requirements", files=(), folders=folders)
    for path in files:
        if not path.is_file():
            raise LockError(f"{path}: no such file", hint="name a requirements file, a "
                            "Pipfile or pyproject.toml")  # fmt: skip
    names = [p.name for p in files]
    if len(files) == 1 and names[0] == PIPFILE:
        return LockInputs(kind="pipfile", files=files, folders=folders)
    if len(files) == 1 and names[0] == "pyproject.toml":
        return LockInputs(kind="pyproject", files=files, folders=folders)
    if PIPFILE in names or "pyproject.toml" in names or PIPFILE + ".lock" in names:
        raise LockError(
            f"cannot lock {', '.join(names)} together",
            hint="name a Pipfile or pyproject.toml alone; several requirements files can "
            "be locked together",
        )
    return LockInputs(kind="requirements", files=files, folders=folders)


def _folder(project_dir: Path, path: Path) -> Path:
    """A folder named as an input: a package (setup.py, or pyproject.toml with
    [project] or [build-system]) inside the project, locked as a local package."""
    folder = (path if path.is_absolute() else project_dir / path).resolve()
    top = project_dir.resolve()
    shown = relative(folder, top)
    if folder != top and top not in folder.parents:
        raise LockError(
            f"{shown}: the folder is outside the project ({top})",
            hint="name the project's own folder ('.') or a package folder inside it",
        )
    if not folder.is_dir():
        raise LockError(f"{shown}: no such folder", hint="name the project's folder: '.'")
    if not read_static(folder).buildable:
        raise LockError(
            f"{shown}: the folder is no package: no setup.py, and no pyproject.toml with "
            "[project] or [build-system]",
            hint="name requirements files to lock, or give the folder a setup.py or a "
            "[project] table",
        )
    return folder


def recorded_inputs(request: LockRequest) -> tuple[LockInput, ...]:
    """Each file the resolution reads, with the digest a build compares
    (:func:`~containerize.resolve.lock.input_digest`)."""
    kind = request.inputs.kind
    tops = [f.resolve() for f in request.inputs.files]
    files: list[Path] = []
    for top in tops:
        for path in included_files(top) if kind == "requirements" else (top,):
            if path not in files:
                files.append(path)
    for path in files:
        if not path.name.isprintable():
            raise LockError(
                f"{path.name!r}: a file name with control characters cannot be recorded",
                hint="rename the file",
            )
    recorded = [
        LockInput(
            path=relative(path, request.project_dir),
            sha256=input_digest(path, kind),
            kind=kind,
            included=path not in tops,
        )
        for path in files
    ]
    # Folders the requirements files name themselves ('.' in requirements-deploy.txt)
    # are recorded too, as included: their setup.py is part of what was resolved.
    named = [f.resolve() for f in request.inputs.folders]
    included = []
    if kind == "requirements":
        for top in tops:
            for folder in local_folders(top):
                if folder not in named and folder not in included and folder.is_dir():
                    included.append(folder)
    for folder in (*named, *included):
        try:
            digest = input_digest(folder, "project")
        except OSError:
            raise LockError(
                f"{relative(folder, request.project_dir)}: no setup.py, setup.cfg or "
                "pyproject.toml to record",
                hint="name a package folder",
            ) from None
        recorded.append(
            LockInput(
                path=relative(folder, request.project_dir),
                sha256=digest,
                kind="project",
                included=folder in included,
            )
        )
    return tuple(recorded)


def requirements_text(request: LockRequest, project: ProjectMetadata | None) -> str | None:
    """The requirements uv resolves for a ``pyproject.toml`` or ``Pipfile`` input (one
    PEP 508 requirement a line); ``None`` for requirements files, which uv reads."""
    kind = request.inputs.kind
    if kind == "requirements":
        return None
    if kind == "pipfile":
        lines = list(read_pipfile(request.inputs.files[0]).requirements)
    else:
        if project is None:
            raise LockError(f"{request.inputs.files[0]}: not read", hint="report this")
        lines = [
            str(r)
            for group in request.groups
            for r in project.group_requirements(group)
            if canonicalize_name(r.name) != project.name
        ]
        for extra in request.extras:
            lines.extend(str(r) for r in project.extra_requirements(canonicalize_name(extra)))
    if not lines:
        raise LockError(
            f"{request.inputs.shown(request.project_dir)}: no requirements to lock",
            hint="declare the packages the app needs, then run 'containerize lock' again",
        )
    return "".join(f"{line}\n" for line in sorted(set(lines)))
