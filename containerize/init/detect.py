"""Everything ``containerize init`` finds in a project, as one :class:`Detection`.

Each key it proposes comes with the evidence that chose it; what it looked at but
left to the defaults comes back as notes. Nothing here writes anything.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name

from containerize.errors import ConfigError, LockError
from containerize.init import apps, django, environment, health, locks, owndist, python, servers
from containerize.init import services as services_mod
from containerize.init.apps import Candidate, StaticFolder
from containerize.init.model import Choice, Evidence
from containerize.init.sources import ROOT, SourceFile, Sources, dev_word, resolve_import
from containerize.project import ProjectMetadata
from containerize.resolve.lock import Lock, check_fresh, detect_format, read_lock
from containerize.resolve.lock.localdir import read_static
from containerize.resolve.lock.requirements import local_folders

_FORMATS = {
    "poetry": "a Poetry lock",
    "uv": "a uv lock",
    "pylock": "a PEP 751 lock",
    "requirements": "a hashed requirements file",
    "pipenv": "a Pipenv lock",
    "pdm": "a PDM lock",
}


@dataclass(frozen=True, kw_only=True)
class Detection:
    """The table ``init`` proposes, key by key, and what it left out and why."""

    choices: tuple[Choice, ...]
    notes: tuple[str, ...]
    #: Commands to run before a build, in order ('containerize lock').
    next_steps: tuple[str, ...] = ()
    #: The command that builds the proposed base image, where it does not exist yet.
    base_step: str | None = None
    #: The commands that build the proposed services' images, where they do not exist yet.
    service_steps: tuple[str, ...] = ()
    #: The commands that write the table for each other app candidate instead.
    alternatives: tuple[str, ...] = ()


def detect(
    project: ProjectMetadata,
    project_dir: Path,
    *,
    app: str | None = None,
    app_directory: str | None = None,
    lock: str | Sequence[str] | None = None,
    resolves: Callable[[str], bool] | None = None,
) -> Detection:
    """Read *project* (in *project_dir*) and propose its ``[tool.containerize]``.

    *app*, *app_directory* and *lock* are the user's choices (``--app``,
    ``--app-directory``, ``--lock``, repeated for a set of requirements files) where
    the project holds more than one. *resolves*: whether an image reference resolves
    in its registry, as the engine answers; None where no engine answers (the base
    image proposed is then not checked).
    """
    sources = Sources(project_dir)
    notes: list[str] = []
    candidates = apps.find(sources, extra=django.candidates(sources), notes=notes)
    directory = _directory(app_directory, project_dir)
    chosen = apps.choose(
        candidates,
        sources,
        wanted=app,
        directory=directory,
        passed_over=notes,
        started=apps.started(sources),
    )
    root = chosen.import_root
    choices = [_app_directory(chosen, sources, flag=directory is not None)] if root != ROOT else []
    choices.append(Choice(key="app", value=chosen.spec, why=chosen.why))
    found_servers = servers.choose(sources)
    if found_servers is not None:
        choices.append(found_servers)
    alternatives = _alternatives(chosen, candidates, notes)
    site = django.site(chosen, sources)
    imported = _imported(chosen, sources, site)
    runs = [f for f in map(sources.get, sorted(imported.files)) if f is not None]
    found_lock = _with_project(
        _lock(project, project_dir, lock, app_folder=root), chosen, sources, project_dir, runs
    )
    notes.extend(found_lock.notes)
    if found_lock.choice is not None:
        choices.append(found_lock.choice)
    chosen_python = python.choose(
        project,
        found_lock.locks,
        project_dir,
        lock_pending=bool(found_lock.lock_input),
        unlocked=[project_dir / file for file in found_lock.unlocked],
    )
    notes.extend(chosen_python.notes)
    base = python.check_base(chosen_python, resolves)
    choices.append(Choice(key="base-image", value=base.ref, why=base.why))
    if base.note is not None:
        notes.append(base.note)
    if chosen_python.version != python.DEFAULT_PYTHON:
        choices.append(
            Choice(
                key="python-version",
                value=chosen_python.text,
                why=(f"the Python of {chosen_python.base_image}, for planning without an engine",),
            )
        )
    static = chosen.static
    if site is not None:
        notes.extend(site.notes)
        static = site.static
        choices.extend(site.choices())  # allowed-hosts, writable
    proposal = services_mod.propose(imported, found_lock.locks, resolves=resolves)
    test_env, env_notes = _test_env(imported, proposal, _migrate(site, proposal, sources, root))
    found_health = (
        health.django(sources, site.files[0], site.values) if site and site.files else None
    )
    found_health = found_health or health.health_route(sources, within=imported.files)
    found_health = found_health or health.flask_login(sources, within=imported.files)
    if found_health is not None:
        choices.append(
            Choice(key="healthcheck-path", value=found_health.path, why=found_health.why)
        )
    notes.extend(env_notes)
    if test_env is not None:
        choices.append(test_env)
    if static is not None:
        rebased = _within(static, root, site.settings if site else None)
        if rebased is None:
            notes.append(
                f"static: not set: {static.dir}/ is outside the app folder {root}/, and "
                "only that folder goes into the image"
            )
        else:
            choices.append(_static(rebased))
    return Detection(
        choices=tuple(choices),
        notes=tuple(notes),
        next_steps=(_lock_command(found_lock.lock_input),) if found_lock.lock_input else (),
        base_step=base.build_step,
        service_steps=tuple(p.build_step for p in proposal.services if p.build_step),
        alternatives=alternatives,
    )


def _alternatives(
    chosen: Candidate, candidates: Sequence[Candidate], notes: list[str]
) -> tuple[str, ...]:
    """The other candidates, each noted with how to choose it; the commands that write
    the table for each instead (``containerize init --force --app ...``)."""
    others = [
        other
        for other in candidates
        if (other.import_root, other.spec) != (chosen.import_root, chosen.spec)
    ]
    notes.extend(
        f"app: also found {other.described()}"
        + (", named for development" if dev_word(other.source) else "")
        + f"; to choose it: {apps.choosing(other, candidates)}"
        for other in others
    )
    return tuple(
        apps.choosing(other, candidates).replace("init ", "init --force ", 1) for other in others
    )


#: Above the test environment init writes: what the values are for.
TEST_ENV_COMMENT = (
    "Placeholders for the settings the app reads from the environment when imported:\n"
    "used by the import check and the test matrix only, never baked into an image.\n"
    "Replace them with values your tests need."
)
#: Above the test environment, when it runs a Django site's migrations.
MIGRATE_COMMENT = "WSGI_PRESTART: the site's migrations, run in each cell before the server starts."


def _imported(
    chosen: Candidate, sources: Sources, site: django.DjangoSite | None
) -> environment.Found:
    """What importing *chosen* runs (its module, Django's settings, the factory it
    calls, what a Paste Deploy file calls), and what that reads from the environment."""
    modules = list(site.files) if site is not None else []
    module, _, target = chosen.spec.partition(":")
    source = (
        sources.get(chosen.source)
        if chosen.source.suffix == ".wsgi"
        else sources.module(module, near=chosen.import_root)
        if target and "/" not in chosen.spec
        else None
    )
    factories: list[tuple[SourceFile, str]] = []
    if source is not None:
        modules.insert(0, source)
        if "(" in target:
            factory = _factory(source, target.partition("(")[0].strip(), sources)
            factories.extend([factory] if factory is not None else [])
    if chosen.kind == "paste":
        factories.extend(_paste_calls(chosen.source, sources))
        modules.extend(source for source, _ in factories)
    return environment.find(sources, modules, factories=factories)


def _migrate(
    site: django.DjangoSite | None,
    proposal: services_mod.Proposal,
    sources: Sources,
    root: PurePosixPath,
) -> str | None:
    """A Django site's migrations, when init proposes a database beside it."""
    if site is None or not any(p.server.database for p in proposal.services):
        return None
    manage = sources.get(root / "manage.py")
    return services_mod.migrate_command(
        manage_py_in_app=manage is not None and django.runs_settings(manage, site.settings),
        settings=site.settings,
    )


def _test_env(
    found: environment.Found, proposal: services_mod.Proposal, migrate: str | None
) -> tuple[Choice | None, list[str]]:
    """``[tool.containerize.test]``: placeholders for what the app reads from the
    environment at import, the services it needs, and a Django site's migrations."""
    notes = list(proposal.notes)
    env: dict[str, str] = {read.name: read.placeholder for read in found.reads}
    why: list[Evidence | str] = [read.evidence for read in found.reads]
    comment = [TEST_ENV_COMMENT] if found.reads else []
    if migrate is not None:
        env["WSGI_PRESTART"] = migrate
        comment.append(MIGRATE_COMMENT)
    value: dict[str, Any] = {"env": env} if env else {}
    for proposed in proposal.services:
        value.setdefault("services", {}).update(proposed.entry)
        why.append(
            f"{proposed.server.name} beside the app: " + "; ".join(str(w) for w in proposed.why)
        )
    if not value:
        return None, notes
    choice = Choice(
        key="test",
        value=value,
        why=tuple(why),
        comment="\n".join(comment) or None,
        sub_comments=(("services", proposal.comment),) if proposal.comment else (),
    )
    return choice, notes


def _paste_calls(ini: PurePosixPath, sources: Sources) -> list[tuple[SourceFile, str]]:
    """The project's functions a Paste Deploy file calls (``use = call:module:name``)."""
    found = []
    for match in re.finditer(
        r"^\s*use\s*=\s*call:([\w.]+):(\w+)", sources.read_text(ini) or "", re.M
    ):
        module = sources.module(match[1], near=ini.parent)
        if module is not None:
            found.append((module, match[2]))
    return found


def _factory(source: SourceFile, name: str, sources: Sources) -> tuple[SourceFile, str] | None:
    """The file that defines the factory *name* that *source* defines or imports."""
    for statement in source.tree.body:
        if isinstance(statement, ast.FunctionDef) and statement.name == name:
            return source, name
        if isinstance(statement, ast.ImportFrom):
            for alias in statement.names:
                if (alias.asname or alias.name) == name:
                    module = resolve_import(source, statement)
                    other = sources.module(module, near=source.import_root) if module else None
                    if other is not None:
                        return other, alias.name
    return None


def _directory(text: str | None, project_dir: Path) -> PurePosixPath | None:
    """``--app-directory DIR`` as a project-relative folder."""
    if text is None:
        return None
    folder = (project_dir / text).resolve()
    if not folder.is_relative_to(project_dir.resolve()) or not folder.is_dir():
        raise ConfigError(
            f"--app-directory {text}: not a folder inside the project ({project_dir})",
            hint="name the folder relative to the project, as init lists it",
        )
    return PurePosixPath(folder.relative_to(project_dir.resolve()).as_posix())


def _static(static: StaticFolder) -> Choice:
    value: dict[str, Any] = {"url": static.url, "dir": static.dir}
    if static.command:
        value["command"] = list(static.command)
    return Choice(key="static", value=value, why=static.why)


def _app_directory(chosen: Candidate, sources: Sources, *, flag: bool) -> Choice:
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
    if flag:
        why.append("chosen with --app-directory")
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


@dataclass(frozen=True, kw_only=True)
class _LockResult:
    locks: tuple[Lock, ...]  # those read, for the Python they allow
    choice: Choice | None
    notes: tuple[str, ...]
    #: No lock yet: what 'containerize lock' makes one from (its arguments).
    lock_input: tuple[str, ...] = ()
    unlocked: tuple[PurePosixPath, ...] = ()  # requirements files without hashes


def _lock(
    project: ProjectMetadata,
    project_dir: Path,
    wanted: str | Sequence[str] | None,
    *,
    app_folder: PurePosixPath,
) -> _LockResult:
    """The project's lock: *wanted*, else what :mod:`containerize.init.locks` finds."""
    if isinstance(wanted, str):
        wanted = [wanted]
    if wanted:
        files = [_inside(name, project_dir) for name in wanted]
        found = locks.LockFinding(files=tuple(files), why=("chosen with --lock",))
        if all(file.suffix == ".txt" for file in files):
            found = replace(found, **_hashed(project_dir, files))
        elif len(files) > 1:
            raise ConfigError(
                f"--lock {' --lock '.join(wanted)}: only requirements files (.txt) make a "
                "lock together",
                hint="give one lock file, or several requirements files",
            )
    else:
        found = locks.find(
            project_dir, declares_dependencies=bool(project.dependencies), app_folder=app_folder
        )
    notes = list(found.notes)
    if not found.files or not found.hashed:
        return _LockResult(
            locks=(),
            choice=None,
            notes=tuple(notes),
            lock_input=found.lock_input,
            unlocked=found.files,
        )
    read: list[Lock] = []
    described: list[Evidence | str] = []
    for file in found.files:
        path = project_dir / file
        try:
            fmt = detect_format(path)
        except LockError:
            described.append(Evidence(what="a lock file", file=file.as_posix()))
            continue  # a format this containerize's readers do not know yet
        lock = read_lock(path)
        read.append(lock)
        described.append(Evidence(what=_FORMATS.get(fmt, fmt), file=file.as_posix()))
    if len(read) == 1 and len(found.files) == 1:
        try:
            check_fresh(read[0], project)
        except LockError as exc:
            notes.append(f"lock: {exc.message}; {exc.hint}" if exc.hint else f"lock: {exc.message}")
    names = [file.as_posix() for file in found.files]
    choice = Choice(
        key="lock",
        value=names[0] if len(names) == 1 else names,
        why=(*described, *found.why),
    )
    return _LockResult(locks=tuple(read), choice=choice, notes=tuple(notes))


def _with_project(
    found: _LockResult,
    chosen: Candidate,
    sources: Sources,
    project_dir: Path,
    runs: Sequence[SourceFile],
) -> _LockResult:
    """*found*, with the project's own folder added to what ``containerize lock`` makes
    the lock from when the app needs the project installed (a Paste Deploy file's
    ``use = egg:NAME`` names its own distribution: Paste Deploy finds the app through
    the installed distribution's entry points; the code an import runs, *runs*, reads
    its own distribution's metadata) and the lock lacks it; a note says why."""
    needed = _needs_project(chosen, sources, project_dir, runs)
    if needed is None or any(lock.find(needed[0]) for lock in found.locks):
        return found
    _, evidence, named = needed
    why = f"{evidence}, and {named}"
    must = f"the project itself must be installed in the image: {why}"
    lock_input: tuple[str, ...] = ()
    if found.lock_input:
        inputs = [project_dir / i for i in found.lock_input if i != "."]
        if any(project_dir.resolve() in _named_folders(i) for i in inputs):
            return found  # a requirements file names the project ('.') itself
        lock_input = (*found.lock_input, ".")
        note = f"lock: {must}; 'containerize lock' is given '.' to lock it with its requirements"
    elif len(found.locks) == 1 and _relockable(found.locks[0]):
        lock = found.locks[0]
        given = [i.path for i in lock.inputs if not i.included] or [lock.path.name]
        lock_input = (*given, ".")
        note = f"lock: {lock.path.name} lacks the project: {must}; 'containerize lock' adds '.'"
    elif not found.locks and not found.unlocked:
        lock_input = (".",)
        note = f"lock: {must}; 'containerize lock .' locks it with its own requirements"
    else:
        shown = ", ".join(lock.path.name for lock in found.locks) or "the lock"
        how = {_installing(lock, needed[0]) for lock in found.locks}
        note = f"lock: {shown} lacks the project: {must}; " + (
            how.pop()
            if len(how) == 1
            else "re-lock with the project as a package, installed from its folder"
        )
    if lock_input:
        found = replace(found, lock_input=lock_input)
    return replace(found, notes=(*found.notes, note))


def _installing(lock: Lock, name: str) -> str:
    """How the tool that made *lock* comes to install the project *name* (the build
    installs it as the lock's own tool would; see the lock readers)."""
    if lock.format == "uv":
        return (
            "uv installs the project when pyproject.toml has a [build-system] (and no "
            "tool.uv.package = false): add one, then 'uv lock'"
        )
    if lock.format == "poetry":
        return (
            "Poetry installs it in package mode (its default) when pyproject.toml has a "
            '[build-system]: add one (requires = ["poetry-core"], build-backend = '
            '"poetry.core.masonry.api") and drop package-mode = false; poetry.lock lists '
            "no project of its own, so it stays as it is"
        )
    if lock.format == "pdm":
        return "set distribution = true under [tool.pdm] in pyproject.toml, then 'pdm lock'"
    if lock.format == "pipenv":
        return (
            f'add {name} = {{path = ".", editable = true}} under [packages] in the '
            "Pipfile, then 'pipenv lock'"
        )
    return "re-lock with the project as a package, installed from its folder"


def _named_folders(path: Path) -> tuple[Path, ...]:
    """The local folders a requirements file (and its includes) names; none for
    another input or a file that cannot be read."""
    if path.suffix not in (".txt", ".in") or not path.is_file():
        return ()
    try:
        return local_folders(path)
    except LockError:
        return ()


def _relockable(lock: Lock) -> bool:
    """Whether ``containerize lock`` can re-make *lock* with the project added: a
    hashed requirements file, or a pylock.toml it wrote."""
    return lock.format == "requirements" or (lock.format == "pylock" and bool(lock.inputs))


def _needs_project(
    chosen: Candidate, sources: Sources, project_dir: Path, runs: Sequence[SourceFile]
) -> tuple[NormalizedName, Evidence, str] | None:
    """``(name, evidence, where the name is declared)`` when *chosen* needs the
    project's own distribution installed: a Paste Deploy file that uses ``egg:NAME``
    for the project's own name, or code in *runs* that reads its metadata
    (``importlib.metadata.version(NAME)``)."""
    try:
        meta = read_static(project_dir)
    except LockError:
        return None  # a pyproject.toml that cannot be read: the build says so
    if not meta.buildable or meta.name is None:
        return None
    own = canonicalize_name(meta.name)
    named = f"{meta.name} is the project's own distribution ({meta.name_origin})"
    reads = owndist.reads_own_metadata(runs, own)
    if reads is not None:
        return own, reads, named
    if chosen.kind != "paste":
        return None
    text = sources.read_text(chosen.source) or ""
    for number, raw in enumerate(text.splitlines(), start=1):
        match = _EGG_USE.match(raw)
        if match is not None and canonicalize_name(match.group(1)) == own:
            evidence = Evidence(
                what=f"Paste Deploy loads the app through the installed distribution "
                f"(use = egg:{match.group(1)})",
                file=chosen.source.as_posix(),
                line=number,
            )
            return own, evidence, named
    return None


#: A Paste Deploy ``use = egg:NAME`` (or ``egg:NAME#entry``) line.
_EGG_USE = re.compile(r"\s*use\s*=\s*egg:([A-Za-z0-9][A-Za-z0-9._-]*)")


def _lock_command(inputs: Sequence[str]) -> str:
    """``containerize lock`` with its inputs named, as a shell reads it."""
    return shlex.join(["containerize", "lock", *inputs])


def _inside(name: str, project_dir: Path) -> PurePosixPath:
    """``--lock NAME`` as a project-relative path."""
    path = project_dir / name
    if not path.resolve().is_relative_to(project_dir.resolve()):
        raise ConfigError(
            f"--lock {name}: not a file inside the project ({project_dir})",
            hint="name the lock file relative to the project's folder",
        )
    return PurePosixPath(Path(os.path.relpath(path, project_dir)).as_posix())


def _hashed(project_dir: Path, files: list[PurePosixPath]) -> dict[str, Any]:
    """For ``--lock FILE.txt``: whether the files pin with hashes, with the note if not."""
    found = locks.find_set(project_dir, files)
    return {"hashed": found.hashed, "notes": found.notes, "lock_input": found.lock_input}
