"""Everything ``containerize init`` finds in a project, as one :class:`Detection`.

Each key it proposes comes with the evidence that chose it; what it looked at but
left to the defaults comes back as notes. Nothing here writes anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from containerize.errors import ConfigError, LockError
from containerize.init import apps, django, python
from containerize.init.apps import Candidate, StaticFolder
from containerize.init.model import Choice, Evidence
from containerize.init.sources import ROOT, Sources
from containerize.project import ProjectMetadata
from containerize.resolve.lock import LOCK_FILES, REQUIREMENTS_FILE, Lock, check_fresh, read_lock

_FORMATS = {
    "poetry": "a Poetry lock",
    "uv": "a uv lock",
    "pylock": "a PEP 751 lock",
    "requirements": "a hashed requirements file",
}


@dataclass(frozen=True, kw_only=True)
class Detection:
    """The table ``init`` proposes, key by key, and what it left out and why."""

    choices: tuple[Choice, ...]
    notes: tuple[str, ...]


def detect(
    project: ProjectMetadata,
    project_dir: Path,
    *,
    app: str | None = None,
    lock: str | None = None,
) -> Detection:
    """Read *project* (in *project_dir*) and propose its ``[tool.containerize]``.

    *app* and *lock* are the user's choices (``--app``, ``--lock``) where the project
    holds more than one.
    """
    sources = Sources(project_dir)
    candidates = apps.find(sources, extra=django.candidates(sources))
    chosen = apps.choose(candidates, sources, wanted=app)
    root = chosen.import_root
    choices = [_app_directory(chosen, sources)] if root != ROOT else []
    choices.append(Choice(key="app", value=chosen.spec, why=chosen.why))
    notes = [
        f"app: also found {other.described()}; 'containerize init --app {other.spec}' chooses it"
        for other in candidates
        if other != chosen
    ]
    found_lock, lock_choice, lock_notes = _lock(project, project_dir, lock)
    notes.extend(lock_notes)
    if lock_choice is not None:
        choices.append(lock_choice)
    chosen_python = python.choose(project, found_lock, project_dir)
    choices.append(Choice(key="base-image", value=chosen_python.base_image, why=chosen_python.why))
    if chosen_python.local_note is not None:
        notes.append(chosen_python.local_note)
    if chosen_python.version != python.DEFAULT_PYTHON:
        choices.append(
            Choice(
                key="python-version",
                value=chosen_python.text,
                why=(f"the Python of {chosen_python.base_image}, for planning without an engine",),
            )
        )
    site = django.site(chosen, sources)
    static = chosen.static
    if site is not None:
        notes.extend(site.notes)
        static = site.static
        if site.allowed_hosts is not None:
            hosts, evidence = site.allowed_hosts
            choices.append(Choice(key="allowed-hosts", value=list(hosts), why=(evidence,)))
    if static is not None:
        rebased = _within(static, root, site.settings if site else None)
        if rebased is None:
            notes.append(
                f"static: not set: {static.dir}/ is outside the app folder {root}/, and "
                "only that folder goes into the image"
            )
        else:
            choices.append(_static(rebased))
    return Detection(choices=tuple(choices), notes=tuple(notes))


def _static(static: StaticFolder) -> Choice:
    value: dict[str, Any] = {"url": static.url, "dir": static.dir}
    if static.command:
        value["command"] = list(static.command)
    return Choice(key="static", value=value, why=static.why)


def _app_directory(chosen: Candidate, sources: Sources) -> Choice:
    """``app-directory``: the folder *chosen*'s module is imported from (``src/``, or
    ``site/`` beside Django's ``manage.py``); ``app`` and ``static`` are relative to it."""
    root = chosen.import_root
    module = chosen.spec.partition(":")[0]
    why: list[Evidence | str] = [
        Evidence(what=f"{module} is imported from {root}/", file=chosen.source.as_posix())
    ]
    manage = root / "manage.py"
    if sources.get(manage) is not None:
        why.append(Evidence(what="Django's manage.py", file=manage.as_posix()))
    return Choice(key="app-directory", value=root.as_posix(), why=tuple(why))


def _within(static: StaticFolder, root: PurePosixPath, settings: str | None) -> StaticFolder | None:
    """*static* with its folder and command relative to the app folder *root* (where
    they run in the image); None when the folder is outside it."""
    if root == ROOT:
        return static
    folder = PurePosixPath(static.dir)
    if not folder.is_relative_to(root) or folder == root:
        return None
    command = static.command
    if len(command) > 1 and command[1].endswith("manage.py"):
        manage = PurePosixPath(command[1])
        if manage.is_relative_to(root):
            command = (command[0], manage.relative_to(root).as_posix(), *command[2:])
        elif settings is not None:  # a manage.py the image does not hold
            command = ("python", "-m", "django", "collectstatic", "--noinput")
            command += ("--settings", settings)
        else:
            command = ()
    return replace(static, dir=folder.relative_to(root).as_posix(), command=command)


def _lock(
    project: ProjectMetadata, project_dir: Path, wanted: str | None
) -> tuple[Lock | None, Choice | None, list[str]]:
    """The project's lock: *wanted*, else the one lock file beside ``pyproject.toml``."""
    if wanted is not None:
        path = project_dir / wanted
        if not path.resolve().is_relative_to(project_dir.resolve()):
            raise ConfigError(
                f"--lock {wanted}: not a file inside the project ({project_dir})",
                hint="name the lock file relative to pyproject.toml",
            )
        why: tuple[Evidence | str, ...] = ("chosen with --lock",)
    else:
        found = [name for name in LOCK_FILES if (project_dir / name).is_file()]
        if len(found) > 1:
            raise ConfigError(
                f"{project_dir}: more than one lock file ({', '.join(found)}); which one "
                "describes the image?",
                hint=f"choose one: containerize init --lock {found[0]}",
            )
        if not found and (project_dir / REQUIREMENTS_FILE).is_file():
            found = [REQUIREMENTS_FILE]
        if not found:
            looked = ", ".join([*LOCK_FILES, REQUIREMENTS_FILE])
            return (
                None,
                None,
                [
                    f"lock: not set: no lock file in {project_dir} (looked for {looked}); "
                    "create one ('poetry lock', 'uv lock', 'pip-compile --generate-hashes') "
                    "before building"
                ],
            )
        path = project_dir / found[0]
        why = ("the only lock file beside pyproject.toml",)
    lock = read_lock(path)
    relative = Path(os.path.relpath(path, project_dir)).as_posix()
    notes = []
    try:
        check_fresh(lock, project)
    except LockError as exc:
        notes.append(f"lock: {exc.message}; {exc.hint}" if exc.hint else f"lock: {exc.message}")
    choice = Choice(
        key="lock",
        value=relative,
        why=(Evidence(what=_FORMATS.get(lock.format, lock.format), file=relative), *why),
    )
    return lock, choice, notes
