"""Everything ``containerize init`` finds in a project, as one :class:`Detection`.

Each key it proposes comes with the evidence that chose it; what it looked at but
left to the defaults comes back as notes. Nothing here writes anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
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
    if chosen.import_root != ROOT:
        raise _refuse_subfolder(chosen)
    choices = [Choice(key="app", value=chosen.spec, why=chosen.why)]
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
        choices.append(_static(static))
    return Detection(choices=tuple(choices), notes=tuple(notes))


def _static(static: StaticFolder) -> Choice:
    value: dict[str, Any] = {"url": static.url, "dir": static.dir}
    if static.command:
        value["command"] = list(static.command)
    return Choice(key="static", value=value, why=static.why)


def _refuse_subfolder(chosen: Candidate) -> ConfigError:
    """An app imported from a subfolder (``src/``, ``site/``) cannot be built yet.

    The image holds the project's folder, imports from it and looks for the app's
    module there; naming the application's own folder needs a setting that
    ``[tool.containerize]`` does not have yet (issue 10, "App directory"). Putting the
    subfolder on ``PYTHONPATH`` was tried: the build still looks for the module from
    the project's folder. So init says what it found instead of writing a table that
    would not build.
    """
    root = chosen.import_root.as_posix()
    evidence = "; ".join(str(e) for e in chosen.why)
    return ConfigError(
        f"{chosen.spec} is imported from {root}/ ({evidence}), and containerize builds "
        "only applications imported from the project's own folder",
        hint=f"the image cannot serve it until [tool.containerize] can name the "
        f"application's folder ({root}); --app chooses an application imported from "
        "the project's folder, if there is one",
    )


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
