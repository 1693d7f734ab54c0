"""The lock ``init`` proposes: a lock file, or the requirements set production installs.

What counts, in order:

1. a lock file beside ``pyproject.toml`` (``poetry.lock``, ``pylock.toml``, ``uv.lock``,
   ``Pipfile.lock``, ``pdm.lock``); two of them are an error that lists them;
2. the requirements files the project's own deployment installs: ``pip install -r
   FILE`` (or ``--requirement``, ``uv pip install``, ``python -m pip``) in a
   ``Dockerfile``, ``Procfile``, compose file or CI configuration (``.github/workflows``,
   ``.gitlab-ci.yml``), the deployment files first; files named for development
   (dev, test, lint, docs, ...) are left out of such a set;
3. else the requirements files found (``requirements.txt``, ``requirements-*.txt``,
   ``requirements/*.txt``), but never one named for development, nor a file that only
   gathers others with ``-r`` when one of those is a development set: every remaining
   file that no other one includes.

A set whose pins carry no hashes, or ranges in ``[project.dependencies]`` or a
``Pipfile`` without any lock, is no lock yet: ``containerize lock`` makes one.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from containerize.errors import ConfigError
from containerize.init.model import Evidence
from containerize.init.sources import ROOT, dev_word
from containerize.resolve.lock import LOCK_FILES

#: Lock files read where they stand, beside ``pyproject.toml``.
ROOT_LOCKS = tuple(dict.fromkeys((*LOCK_FILES, "Pipfile.lock", "pdm.lock")))
#: Folders (project-relative) searched for requirements files, and how deep.
_MAX_DEPTH = 3
_SKIPPED = frozenset({".git", ".venv", "venv", "env", "node_modules", "site-packages", ".tox"})
_INSTALL = re.compile(r"\b(?:pip3?|uv\s+pip|python3?\s+-m\s+pip)\s+install\b")
_HASH = "--hash"


@dataclass(frozen=True, kw_only=True)
class RequirementsFile:
    """A requirements file as init sees it: what it includes and whether it is hashed."""

    path: PurePosixPath
    includes: tuple[PurePosixPath, ...]  # -r / -c, project-relative
    pins: int  # requirement lines of its own
    unhashed: tuple[tuple[int, str], ...]  # (line, requirement) without --hash
    dev_word: str | None  # the word in its name that makes it a development set


@dataclass(frozen=True, kw_only=True)
class LockFinding:
    """The lock init proposes: one lock file, a set of requirements files, or none."""

    files: tuple[PurePosixPath, ...] = ()
    why: tuple[Evidence | str, ...] = ()
    hashed: bool = True
    notes: tuple[str, ...] = ()
    #: What the project declares without a lock, as ``containerize lock`` takes it
    #: (requirements files, ``Pipfile`` or ``pyproject.toml``); empty: nothing to lock.
    lock_input: tuple[str, ...] = ()
    all_files: dict[PurePosixPath, RequirementsFile] = field(default_factory=dict)


def find(
    project_dir: Path, *, declares_dependencies: bool, app_folder: PurePosixPath = ROOT
) -> LockFinding:
    """The project's lock, as this module's docstring orders them; requirements files
    found by name are those of *app_folder* (the folder the app is imported from),
    else the project's own (beside ``pyproject.toml`` or in a ``requirements/`` folder
    there), never those of another folder's project."""
    found = [name for name in ROOT_LOCKS if (project_dir / name).is_file()]
    if len(found) > 1:
        raise ConfigError(
            f"{project_dir}: more than one lock file ({', '.join(found)}); which one "
            "describes the image?",
            hint=f"choose one: containerize init --lock {found[0]}",
        )
    if found:
        return LockFinding(
            files=(PurePosixPath(found[0]),),
            why=(f"the only lock file beside {_beside(project_dir)}",),
        )
    files = {f.path: f for f in _requirements_files(project_dir)}
    notes: list[str] = []
    installed = _installed_sets(project_dir, files, notes)
    if installed is not None:
        chosen, why = installed
    else:
        chosen, why = _by_name(_scope(files, app_folder, notes), files, notes)
    if chosen:
        return _finish(chosen, why, files, notes)
    lock_input: tuple[str, ...] = ()
    described = ""
    if (project_dir / "Pipfile").is_file():
        lock_input, described = ("Pipfile",), "the Pipfile"
    elif declares_dependencies:
        lock_input, described = ("pyproject.toml",), "pyproject.toml's dependencies"
    looked = ", ".join([*ROOT_LOCKS, "requirements*.txt", "requirements/*.txt"])
    if lock_input:
        notes.append(
            f"lock: not set: no lock file in {project_dir} (looked for {looked}); "
            f"'containerize lock' makes one from {described}"
        )
    else:
        notes.append(
            f"lock: not set: no lock file in {project_dir} (looked for {looked}) and no "
            "dependencies declared"
        )
    return LockFinding(notes=tuple(notes), lock_input=lock_input, all_files=files)


def find_set(project_dir: Path, chosen: list[PurePosixPath]) -> LockFinding:
    """*chosen* (requirements files the user named), hashed or not."""
    files = {f.path: f for f in _requirements_files(project_dir)}
    pending = [p for p in chosen if p not in files]
    while pending:
        parsed = _parse(project_dir, pending.pop())
        if parsed is not None and parsed.path not in files:
            files[parsed.path] = parsed
            pending.extend(parsed.includes)
    return _finish(chosen, [], files, [])


def _finish(
    chosen: list[PurePosixPath],
    why: list[Evidence | str],
    files: dict[PurePosixPath, RequirementsFile],
    notes: list[str],
) -> LockFinding:
    """The finding for the requirements set *chosen*: a lock only when it is hashed."""
    unhashed = [(path, line) for path in _closure(chosen, files) for line in files[path].unhashed]
    if not unhashed:
        return LockFinding(files=tuple(chosen), why=tuple(why), notes=tuple(notes), all_files=files)
    path, (number, text) = unhashed[0]
    more = f" and {len(unhashed) - 1} more" if len(unhashed) > 1 else ""
    named = ", ".join(p.as_posix() for p in chosen)
    notes.append(
        f"lock: not set: {named} pin without hashes ({text}, {path.as_posix()}:{number}"
        f"{more}), so they are no lock; 'containerize lock' makes a hashed lock of them"
    )
    return LockFinding(
        files=tuple(chosen),
        why=tuple(why),
        hashed=False,
        notes=tuple(notes),
        lock_input=tuple(p.as_posix() for p in chosen),
        all_files=files,
    )


def _beside(project_dir: Path) -> str:
    return "pyproject.toml" if (project_dir / "pyproject.toml").is_file() else "the project"


# --- requirements files -----------------------------------------------------------


def _requirements_files(project_dir: Path) -> Iterator[RequirementsFile]:
    for path in sorted(_candidate_paths(project_dir, PurePosixPath("."), 0)):
        parsed = _parse(project_dir, path)
        if parsed is not None:
            yield parsed


def _candidate_paths(
    project_dir: Path, folder: PurePosixPath, depth: int
) -> Iterator[PurePosixPath]:
    try:
        entries = sorted((project_dir / folder).iterdir())
    except OSError:
        return
    in_requirements_folder = any("req" in part.lower() for part in folder.parts)
    for entry in entries:
        name = entry.name
        if entry.is_dir():
            if depth < _MAX_DEPTH and name not in _SKIPPED and not name.startswith("."):
                yield from _candidate_paths(project_dir, folder / name, depth + 1)
        elif name.endswith(".txt") and ("requirement" in name.lower() or in_requirements_folder):
            yield folder / name


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Lines as pip reads them: ``\\`` joins, comments dropped; with their first line."""
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        line = re.sub(r"(^|\s+)#.*$", "", raw)
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield start, (pending + line).strip()
        pending = ""
    if pending:
        yield start, pending.strip()


def _parse(project_dir: Path, path: PurePosixPath) -> RequirementsFile | None:
    try:
        text = (project_dir / path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    includes: list[PurePosixPath] = []
    unhashed: list[tuple[int, str]] = []
    pins = 0
    for number, line in _logical_lines(text):
        if not line:
            continue
        if line.startswith("-"):
            match = re.match(r"(-r|--requirement|-c|--constraint)[\s=]+(\S+)", line)
            if match:
                included = _normal(path.parent / match[2])
                if included is not None:
                    includes.append(included)
            continue
        pins += 1
        if _HASH not in line:
            unhashed.append((number, line.split(";")[0].split()[0]))
    return RequirementsFile(
        path=path,
        includes=tuple(includes),
        pins=pins,
        unhashed=tuple(unhashed),
        dev_word=dev_word(path),
    )


def _normal(path: PurePosixPath) -> PurePosixPath | None:
    """*path* with ``.`` and ``..`` folded; None above the project."""
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part not in (".", ""):
            parts.append(part)
    return PurePosixPath(*parts) if parts else None


def _closure(
    chosen: list[PurePosixPath], files: dict[PurePosixPath, RequirementsFile]
) -> list[PurePosixPath]:
    """*chosen* and everything they include, each once."""
    seen: list[PurePosixPath] = []
    pending = list(chosen)
    while pending:
        path = pending.pop(0)
        if path in seen or path not in files:
            continue
        seen.append(path)
        pending.extend(files[path].includes)
    return seen


def _dev_included(
    path: PurePosixPath, files: dict[PurePosixPath, RequirementsFile]
) -> PurePosixPath | None:
    """A development set *path* pulls in through ``-r``, if any."""
    for included in _closure([path], files)[1:]:
        if included in files and files[included].dev_word is not None:
            return included
    return None


def _scope(
    files: dict[PurePosixPath, RequirementsFile], app_folder: PurePosixPath, notes: list[str]
) -> dict[PurePosixPath, RequirementsFile]:
    """The requirements files of *app_folder*, else of the project's root: in the
    folder itself, or in a requirements folder right below it."""

    def of(folder: PurePosixPath) -> dict[PurePosixPath, RequirementsFile]:
        found = {}
        for path, file in files.items():
            if not path.is_relative_to(folder):
                continue
            inner = path.relative_to(folder)
            if len(inner.parts) == 1 or (len(inner.parts) == 2 and "req" in inner.parts[0].lower()):
                found[path] = file
        return found

    scoped = (of(app_folder) if app_folder != ROOT else {}) or of(ROOT)
    elsewhere = sorted(p.as_posix() for p in files if p not in scoped and files[p].dev_word is None)
    if elsewhere and not scoped:
        shown = ", ".join(elsewhere[:5]) + (", ..." if len(elsewhere) > 5 else "")
        notes.append(
            f"lock: requirements files of other folders are not chosen ({shown}); "
            "'containerize init --lock FILE' chooses one"
        )
    return scoped


def _by_name(
    scoped: dict[PurePosixPath, RequirementsFile],
    files: dict[PurePosixPath, RequirementsFile],
    notes: list[str],
) -> tuple[list[PurePosixPath], list[Evidence | str]]:
    """Every production set in *scoped*: not named for development, not gathering
    one, and not included by another such set (*files*: every one found)."""
    kept: list[PurePosixPath] = []
    for path, file in scoped.items():
        if file.dev_word is not None:
            continue
        dev = _dev_included(path, files)
        if dev is not None:
            notes.append(
                f"lock: {path.as_posix()} is not chosen: it includes {dev.as_posix()}, a "
                f"'{files[dev].dev_word}' set"
            )
            continue
        kept.append(path)
    included = {i for path in kept for i in files[path].includes}
    tops = [path for path in kept if path not in included]
    left = sorted(p.as_posix() for p, f in scoped.items() if f.dev_word is not None)
    why: list[Evidence | str] = []
    if len(scoped) == 1:
        why.append("the only requirements file found")
    elif tops:
        why.append(
            f"of {len(scoped)} requirements files, "
            + ("those" if len(tops) > 1 else "the one")
            + " not named for development that no other includes"
            + (f" ({', '.join(left)} left out)" if left else "")
        )
    return tops, why


# --- what the project's deployment installs ----------------------------------------


def _deployment_files(project_dir: Path) -> Iterator[tuple[int, PurePosixPath]]:
    """Files that may install the project, with their weight (lower: closer to
    production): Dockerfiles, then Procfiles, compose files, then CI."""
    patterns = [
        (0, "Dockerfile*"), (0, "Containerfile*"), (0, "*.Dockerfile"), (0, "docker/Dockerfile*"),
        (0, "*/Dockerfile"), (1, "Procfile*"), (1, "*compose*.yml"), (1, "*compose*.yaml"),
        (2, ".github/workflows/*.yml"), (2, ".github/workflows/*.yaml"), (2, ".gitlab-ci.yml"),
    ]  # fmt: skip
    seen: set[Path] = set()
    for weight, pattern in patterns:
        for file in sorted(project_dir.glob(pattern)):
            if file.is_file() and file not in seen:
                seen.add(file)
                yield weight, PurePosixPath(file.relative_to(project_dir).as_posix())


def _install_commands(text: str) -> Iterator[tuple[int, list[str]]]:
    """``pip install`` commands in *text* (a Dockerfile, YAML, Procfile), with the
    requirements files each names, by line."""
    for number, line in _logical_lines(text):
        for match in _INSTALL.finditer(line):
            rest = re.split(r"&&|\|\||;|\|", line[match.end() :])[0]
            try:
                words = shlex.split(rest)
            except ValueError:
                words = rest.split()
            named: list[str] = []
            for i, word in enumerate(words):
                if word in ("-r", "--requirement") and i + 1 < len(words):
                    named.append(words[i + 1])
                elif word.startswith(("--requirement=", "-r")) and len(word) > 2:
                    named.append(word.split("=", 1)[-1] if "=" in word else word[2:])
            if named:
                yield number, named


def _match(
    text: str, files: dict[PurePosixPath, RequirementsFile], base: PurePosixPath
) -> PurePosixPath | None:
    """The requirements file a path in a deployment file names: as written (relative
    to the project or the file's folder), else the one found whose path ends it
    (``/app/requirements/main.txt`` after ``COPY . /app``)."""
    if "$" in text or "{" in text:
        return None
    for candidate in (_normal(PurePosixPath(text.lstrip("/"))), _normal(base / text)):
        if candidate in files:
            return candidate
    ends = [p for p in files if PurePosixPath(text).as_posix().endswith("/" + p.as_posix())]
    return max(ends, key=lambda p: len(p.parts)) if ends else None


def _installed_sets(
    project_dir: Path, files: dict[PurePosixPath, RequirementsFile], notes: list[str]
) -> tuple[list[PurePosixPath], list[Evidence | str]] | None:
    """The set the deployment closest to production installs, with every place that
    installs it; None when no deployment file installs requirements files."""
    sets: list[tuple[int, tuple[PurePosixPath, ...], Evidence, tuple[PurePosixPath, ...]]] = []
    for weight, path in _deployment_files(project_dir):
        try:
            text = (project_dir / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for line, named in _install_commands(text):
            matched = [m for m in (_match(n, files, path.parent) for n in named) if m is not None]
            kept = tuple(
                m for m in matched if files[m].dev_word is None and not _dev_included(m, files)
            )
            left = tuple(m for m in matched if m not in kept)
            if not kept:
                continue
            command = "pip install " + " ".join(f"-r {n}" for n in named)
            sets.append(
                (weight, kept, Evidence(what=command, file=path.as_posix(), line=line), left)
            )
    if not sets:
        return None
    best = min(weight for weight, *_ in sets)
    # Installs from the closest files: the largest set wins (a Dockerfile that installs
    # main and deploy over a CI job that installs main alone); its every source cited.
    top = [s for s in sets if s[0] == best]
    chosen = max(top, key=lambda s: len(s[1]))[1]
    why: list[Evidence | str] = [s[2] for s in top if s[1] == chosen]
    for weight, kept, evidence, left in sets:
        if left and kept == chosen:
            why.extend(
                f"{p.as_posix()} left out: "
                + (
                    f"a '{files[p].dev_word}' set"
                    if files[p].dev_word
                    else f"it includes {_dev_included(p, files)}"
                )
                + f" ({evidence.file}:{evidence.line})"
                for p in left
            )
        elif kept != chosen and weight == best:
            notes.append(
                f"lock: {evidence} installs {', '.join(p.as_posix() for p in kept)} too; "
                f"'containerize init --lock FILE' chooses another"
            )
    return list(chosen), why
