"""``containerize lock``: a hashed ``pylock.toml`` (PEP 751) where a project has none.

The input is what the project states: a requirements file without hashes (``==``
pins or ranges, ``-r``/``-c`` includes, extras), ``[project.dependencies]`` with the
chosen groups and extras, or a ``Pipfile``'s ``[packages]``. It is resolved once, by
uv (:data:`UV`, pinned by hash in containerize's tools lock and run from the download
cache, :func:`ensure_uv`), never by a resolver of containerize's own: one universal
resolution (``uv pip compile --universal --python-version X.Y``) whose markers say
where each package applies, so the same lock serves every platform and the base
image's Python and newer. uv gets the user's index configuration
(:func:`~containerize.resolve.pipconfig.discover`: pip.conf, ``PIP_INDEX_URL``, ...,
then a Pipfile's ``[[source]]``), credentials through its environment, never its
command line.

The lock records, in its ``[tool.containerize]`` table, what it was made from: each
input's path and sha256 (a requirements file with its includes; for
``pyproject.toml`` only its dependency tables). A build checks them
(:func:`containerize.resolve.lock.check_inputs`) and stops when one changed; it never
resolves. A re-lock keeps every pin the input still allows (uv reads the previous
lock as its preferences), ``--upgrade-package NAME`` lets one package move, and
:class:`Changes` says what moved.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import tomlkit
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, sys_tags
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from containerize import bases, process
from containerize.errors import CommandError, ConfigError, FetchError, LockError
from containerize.fsutil import write_atomic
from containerize.project import MAIN_GROUP, ProjectMetadata
from containerize.resolve.cache import Cache
from containerize.resolve.client import IndexClient
from containerize.resolve.fetch import FileRequest, fetch
from containerize.resolve.lock import LOCK_FILES, input_digest
from containerize.resolve.lock.model import InputKind, Lock, LockedPackage, LockIndex, LockInput
from containerize.resolve.lock.pipenv import PIPFILE, read_pipfile
from containerize.resolve.lock.pylock import read_pylock
from containerize.resolve.lock.requirements import included_files
from containerize.resolve.pipconfig import (
    Credentials,
    FindLinks,
    IndexSettings,
    IndexSource,
    redact_text,
)

logger = logging.getLogger(__name__)

#: The file ``containerize lock`` writes, beside ``pyproject.toml``.
LOCK_FILE = "pylock.toml"
#: The resolver, as containerize's tools lock names it.
UV = canonicalize_name("uv")
#: Requirements files looked for when no input is named: ``requirements.in`` is
#: pip-tools' input, so it wins over the ``requirements.txt`` compiled from it.
REQUIREMENTS_INPUTS = ("requirements.in", "requirements.txt")

_USERINFO = re.compile(r"(?<=://)[^/\s\"'@]+@")


@dataclass(frozen=True, kw_only=True)
class LockInputs:
    """What to resolve: the *kind* of input and its files (several requirements
    files are resolved together, as ``pip install -r a -r b`` installs them)."""

    kind: InputKind
    files: tuple[Path, ...]

    def shown(self, project_dir: Path) -> str:
        """The files, as messages name them."""
        return ", ".join(_relative(f, project_dir) for f in self.files)


@dataclass(frozen=True, kw_only=True)
class LockRequest:
    """One run of ``containerize lock``, decided at the edge."""

    project_dir: Path
    inputs: LockInputs
    #: The lowest Python the lock is made for; ``None`` where nothing states it: then
    #: the pins' own Requires-Python decide (:func:`lock`).
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


@dataclass(frozen=True, kw_only=True)
class Changes:
    """What a re-lock changed, by package name: versions added, removed, moved."""

    added: tuple[tuple[NormalizedName, Version], ...] = ()
    removed: tuple[tuple[NormalizedName, Version], ...] = ()
    changed: tuple[tuple[NormalizedName, Version, Version], ...] = ()

    def lines(self) -> list[str]:
        """One line per change, sorted by name; ``no change`` when there is none."""
        entries = [(str(n), f"  + {n} {v} (added)") for n, v in self.added]
        entries += [(str(n), f"  - {n} {v} (removed)") for n, v in self.removed]
        entries += [(str(n), f"  ~ {n} {old} -> {new}") for n, old, new in self.changed]
        if not entries:
            return ["  no change since the last lock"]
        return [line for _, line in sorted(entries)]


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


def diff(old: Lock, new: Lock) -> Changes:
    """The difference between two locks, by package name and version."""
    before = _versions(old.packages)
    after = _versions(new.packages)
    added: list[tuple[NormalizedName, Version]] = []
    removed: list[tuple[NormalizedName, Version]] = []
    changed: list[tuple[NormalizedName, Version, Version]] = []
    for name in sorted(before.keys() | after.keys()):
        was, now = before.get(name, set()), after.get(name, set())
        if was == now:
            continue
        if len(was) == 1 and len(now) == 1:
            changed.append((name, next(iter(was)), next(iter(now))))
            continue
        added.extend((name, v) for v in sorted(now - was))
        removed.extend((name, v) for v in sorted(was - now))
    return Changes(added=tuple(added), removed=tuple(removed), changed=tuple(changed))


def _versions(packages: Iterable[LockedPackage]) -> dict[NormalizedName, set[Version]]:
    found: dict[NormalizedName, set[Version]] = {}
    for package in packages:
        found.setdefault(package.name, set()).add(package.version)
    return found


# --------------------------------------------------------------------------- inputs


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
        # The files named then; their includes are found again.
        files = tuple(project_dir / i.path for i in previous.inputs if not i.included)
        return LockInputs(kind=previous.inputs[0].kind, files=files)
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
    files = tuple(p if p.is_absolute() else project_dir / p for p in given)
    for path in files:
        if not path.is_file():
            raise LockError(f"{path}: no such file", hint="name a requirements file, a "
                            "Pipfile or pyproject.toml")  # fmt: skip
    names = [p.name for p in files]
    if len(files) == 1 and names[0] == PIPFILE:
        return LockInputs(kind="pipfile", files=files)
    if len(files) == 1 and names[0] == "pyproject.toml":
        return LockInputs(kind="pyproject", files=files)
    if PIPFILE in names or "pyproject.toml" in names or PIPFILE + ".lock" in names:
        raise LockError(
            f"cannot lock {', '.join(names)} together",
            hint="name a Pipfile or pyproject.toml alone; several requirements files can "
            "be locked together",
        )
    return LockInputs(kind="requirements", files=files)


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
    return tuple(
        LockInput(
            path=_relative(path, request.project_dir),
            sha256=input_digest(path, kind),
            kind=kind,
            included=path not in tops,
        )
        for path in files
    )


def _relative(path: Path, folder: Path) -> str:
    return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()


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


# --------------------------------------------------------------------------- uv


def uv_argv(uv: Path, request: LockRequest, *, sources: Sequence[str], output: Path) -> list[str]:
    """The one ``uv pip compile`` that resolves *request* into *output*."""
    assert request.python is not None, "the Python is chosen before uv runs"
    argv = [
        str(uv), "pip", "compile", *sources,
        "--universal", "--python-version", "{}.{}".format(*request.python),
        "--format", "pylock.toml", "--generate-hashes", "--no-header", "--no-config",
        "--index-strategy", "unsafe-best-match", "--quiet", "--output-file", str(output),
    ]  # fmt: skip
    if request.upgrade_all:
        argv.append("--upgrade")
    for name in request.upgrade:
        argv.extend(["--upgrade-package", name])
    return argv


def uv_environment(settings: IndexSettings, extra: Sequence[LockIndex] = ()) -> dict[str, str]:
    """The user's index configuration for uv: the first index as uv's default, the
    others and *extra* (a Pipfile's sources) after it, find-links, the CA bundle,
    netrc and timeout. Credentials go here, not on the logged command line."""
    # A universal resolution needs no interpreter of the Python it resolves for:
    # never let uv download one (it would wait out a timeout where it cannot).
    env: dict[str, str] = {
        "UV_INDEX": "",
        "UV_FIND_LINKS": "",
        "UV_NO_PROGRESS": "1",
        "UV_PYTHON_DOWNLOADS": "never",
    }
    indexes = [_with_credentials(i.url, i.credentials) for i in settings.indexes]
    indexes += [i.url for i in extra if i.url not in indexes]
    if settings.no_index:
        env["UV_NO_INDEX"] = "1"
    elif not indexes:
        raise ConfigError(
            "no package index is configured to lock against",
            hint="set index-url in pip.conf, or PIP_INDEX_URL",
        )
    if indexes and not settings.no_index:
        # uv searches its --index entries in order and its default index last; with
        # unsafe-best-match (pip's way: the best version on any index) a version on
        # several indexes is taken from the first. So every index goes in pip's order,
        # the primary first, and the default is the primary again (else uv's own).
        env["UV_DEFAULT_INDEX"] = indexes[0]
        env["UV_INDEX"] = " ".join(indexes)
    links = [_with_credentials(f.url, f.credentials) for f in settings.find_links]
    env["UV_FIND_LINKS"] = ",".join(links)
    if settings.cert is not None:
        env["SSL_CERT_FILE"] = str(settings.cert)
    if settings.netrc is not None:
        env["NETRC"] = str(settings.netrc)
    env["UV_HTTP_TIMEOUT"] = str(max(1, round(settings.timeout)))
    return env


def _with_credentials(url: str, credentials: Credentials | None) -> str:
    if credentials is None:
        return url
    parts = urlsplit(url)
    user = quote(credentials.username, safe="")
    netloc = f"{user}:{quote(credentials.password, safe='')}@{parts.netloc}"
    return urlunsplit(parts._replace(netloc=netloc))


def uv_version(uv: Path) -> str:
    """The version ``uv --version`` reports."""
    out = process.run([str(uv), "--version"], timeout=60).stdout.split()
    return out[1] if len(out) >= 2 else "?"


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
    (:func:`offered_pythons`), then the Requires-Python the index states for each
    pinned file, and the lock is made for the lowest offered Python they all allow.
    """
    why = None
    if request.python is None:
        python, why = _pins_python(
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
        _run_uv(
            request, uv=uv, settings=settings, project=project, previous=previous, output=output
        )
        document = _finish(output.read_text(), request, inputs, version)
        output.write_text(document)
        try:
            written = read_pylock(output)
        except LockError as exc:
            raise LockError(
                f"uv's lock cannot be used: {exc.message}",
                hint="a requirement that is not pinned from an index (a path, a URL) cannot "
                "go into an image; publish it or drop it",
            ) from exc
        write_atomic(request.output, document)
    final = read_pylock(request.output)
    assert final.packages == written.packages
    return LockResult(
        lock=final, previous=previous, request=request, uv_version=version, python_why=why
    )


def offered_pythons() -> tuple[tuple[int, int], ...]:
    """The Pythons a base image offers, newest first: a Debian suite's that
    ``containerize base-image`` builds, or an official image's."""
    return tuple(
        sorted({*bases.SUPPORTED_PYTHONS, *(s.python for s in bases.SUITES)}, reverse=True)
    )


def _pins_python(
    request: LockRequest,
    *,
    uv: Path,
    settings: IndexSettings,
    project: ProjectMetadata | None,
    previous: Lock | None,
) -> tuple[tuple[int, int], str]:
    """The lowest offered Python the pins allow, and why, for a *request* that states
    none: uv resolves for the newest offered Python that the requirements allow (a
    trial lock, in a folder of its own), then each pinned file's Requires-Python, as
    the index states it, bounds it from below."""
    offered = offered_pythons()
    stated = request.requires_python
    if stated is not None:
        offered = tuple(v for v in offered if bases.allows(stated, v))
        if not offered:
            raise LockError(
                f"pyproject.toml: [project] requires-python = '{stated}' allows no Python a "
                "base image offers ("
                + ", ".join(bases.version_text(v) for v in offered_pythons())
                + ")",
                hint="widen requires-python, or name one with 'containerize lock --python X.Y'",
            )
    failure: LockError | None = None
    for newest in offered:
        with tempfile.TemporaryDirectory(prefix="containerize-trial-") as tmp:
            trial = replace(request, python=newest)
            output = Path(tmp) / LOCK_FILE
            try:
                _run_uv(
                    trial, uv=uv, settings=settings, project=project, previous=previous,
                    output=output,
                )  # fmt: skip
                pinned = read_pylock(output)
            except LockError as exc:
                failure = failure or exc
                continue
        needs = _requires_python(pinned, settings)
        allowed = [
            version
            for version in reversed(offered)
            if version <= newest and all(bases.allows(spec, version) for spec in needs.values())
        ]
        if not allowed and stated is not None:
            raise LockError(
                f"pyproject.toml: [project] requires-python = '{stated}' and the pins' "
                "Requires-Python cannot agree: "
                + "; ".join(f"{pin} requires Python {spec}" for pin, spec in needs.items()),
                hint="change requires-python, or the pins that need another Python",
            )
        lowest = allowed[0] if allowed else newest
        return lowest, _why(lowest, needs, offered, stated)
    assert failure is not None
    if stated is not None:
        raise LockError(
            f"pyproject.toml: [project] requires-python = '{stated}' and the pins' "
            f"Requires-Python cannot agree: no lock for Python "
            + ", ".join(bases.version_text(v) for v in offered)
            + f"; {failure.message}",
            hint="change requires-python, or the pins uv names",
        )
    raise failure


def _run_uv(
    request: LockRequest,
    *,
    uv: Path,
    settings: IndexSettings,
    project: ProjectMetadata | None,
    previous: Lock | None,
    output: Path,
) -> None:
    """One resolution of *request* by uv into *output* (uv's own text), in a folder
    of its own; the previous lock is uv's preference: pins it still allows stay."""
    extra_sources: tuple[LockIndex, ...] = ()
    if request.inputs.kind == "pipfile":
        extra_sources = read_pipfile(request.inputs.files[0]).sources
    env = uv_environment(settings, extra_sources)
    if previous is not None:
        shutil.copyfile(previous.path, output)
    text = requirements_text(request, project)
    if text is None:
        sources = [_relative(f, request.project_dir) for f in request.inputs.files]
    else:
        (output.parent / "requirements.in").write_text(text)
        sources = [str(output.parent / "requirements.in")]
    try:
        process.run(
            uv_argv(uv, request, sources=sources, output=output),
            cwd=request.project_dir,
            env=env,
            timeout=900,
        )
    except CommandError as exc:
        said = "\n".join(f"    {line}" for line in redact_text(exc.output.strip()).splitlines())
        raise LockError(
            f"{request.inputs.shown(request.project_dir)} cannot be locked: uv "
            f"(exit code {exc.returncode}) says:\n{said}",
            hint="change the requirements uv names (or the index configuration, if a "
            "package is missing from it), then run 'containerize lock' again; "
            f"{request.output.name} is unchanged",
        ) from None


def _requires_python(lock: Lock, settings: IndexSettings) -> dict[str, SpecifierSet]:
    """``name==version`` of each pin whose files the index gives a Requires-Python
    (``data-requires-python``), with the loosest of its files' constraints."""
    sources: list[IndexSource | FindLinks] = [*settings.indexes, *settings.find_links]
    client = IndexClient(settings)

    def read(package: LockedPackage) -> tuple[str, SpecifierSet] | None:
        names = {f.filename for f in package.files}
        for source in sources:
            try:
                files = client.project_files(source, package.name)
            except FetchError:
                continue
            stated = {f.requires_python for f in files if f.filename in names}
            if not stated:
                continue
            if None in stated:  # a file that runs anywhere: no bound
                return None
            try:
                specs = [SpecifierSet(text) for text in stated if text is not None]
            except InvalidSpecifier:
                return None
            # The pin installs where any of its files does: the loosest bound counts.
            loosest = min(specs, key=_floor)
            return f"{package.name} {package.version}", loosest
        return None

    found = client.map(read, lock.packages, jobs=8)
    return dict(sorted(item for item in found if item is not None))


def _floor(spec: SpecifierSet) -> tuple[int, int]:
    """The lowest offered Python *spec* allows (one above the newest if none)."""
    for version in reversed(offered_pythons()):
        if bases.allows(spec, version):
            return version
    newest = offered_pythons()[0]
    return newest[0], newest[1] + 1


def _why(
    lowest: tuple[int, int],
    needs: dict[str, SpecifierSet],
    offered: Sequence[tuple[int, int]],
    stated: SpecifierSet | None = None,
) -> str:
    """Which pins (or *stated*, the project's requires-python) set the floor at *lowest*."""
    if lowest == min(offered):
        if stated is not None:
            return (
                f"[project] requires-python = '{stated}'; every pin allows "
                f"{bases.version_text(lowest)}, the oldest base image within it"
            )
        return (
            "nothing states the Python; every pin allows "
            f"{bases.version_text(lowest)}, the oldest a base image offers"
        )
    below = max(v for v in offered if v < lowest)
    binding = [
        f"{pin} requires Python {spec}"
        for pin, spec in needs.items()
        if not bases.allows(spec, below)
    ]
    start = (
        "nothing states the Python" if stated is None else f"[project] requires-python = '{stated}'"
    )
    return (
        f"{start}; the lowest the pins allow: "
        + "; ".join(binding[:5])
        + (f" and {len(binding) - 5} more" if len(binding) > 5 else "")
    )


def _finish(text: str, request: LockRequest, inputs: Sequence[LockInput], version: str) -> str:
    """uv's pylock output, with a header and containerize's ``[tool.containerize]``."""
    document = tomlkit.parse(_USERINFO.sub("", text))
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


# --------------------------------------------------------------------------- the uv binary


def ensure_uv(
    settings: IndexSettings, cache: Cache, *, tool_lock: Lock, tags: Sequence[Tag] | None = None
) -> Path:
    """The uv binary of containerize's tools lock, for this machine.

    Its wheel (the one whose tags this machine accepts first) is fetched by name and
    hash into the download cache like any locked file, and its ``uv`` executable
    unpacked once beside it (``<cache>/tools/uv-<version>-<hash>/uv``), atomically.
    """
    found = tool_lock.find(UV)
    if len(found) != 1:
        raise LockError(f"{tool_lock.path.name}: uv is not locked", hint="report this")
    (package,) = found
    accepted = list(tags if tags is not None else sys_tags())
    rank = {tag: i for i, tag in enumerate(accepted)}
    wheels = [w for w in package.wheels if w.tags & rank.keys()]
    if not wheels:
        raise LockError(
            f"containerize's tools lock has no uv wheel for this machine ({os.uname().machine})",
            hint="install uv 0.13.9 yourself and pass it with --uv PATH",
        )
    wheel = min(wheels, key=lambda w: min(rank[t] for t in w.tags if t in rank))
    target = cache.root / "tools" / f"uv-{package.version}-{wheel.sha256[:16]}" / "uv"
    if target.is_file() and os.access(target, os.X_OK):
        return target
    request = FileRequest(
        name=package.name, version=str(package.version), filename=wheel.filename,
        sha256=wheel.sha256, size=wheel.size,
    )  # fmt: skip
    report = fetch([request], settings=settings, cache=cache)
    _unpack_uv(report.path(wheel.filename), target, package)
    return target


def _unpack_uv(wheel: Path, target: Path, package: LockedPackage) -> None:
    member = f"uv-{package.version}.data/scripts/uv"
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        try:
            data = archive.read(member)
        except KeyError:
            raise LockError(
                f"{wheel.name} holds no {member}", hint="report this: the tools lock is wrong"
            ) from None
    partial = target.with_name(f".uv-{os.getpid()}.partial")
    partial.write_bytes(data)
    partial.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    partial.replace(target)


def choose_python(
    given: str | None,
    inputs: LockInputs,
    configured: tuple[int, int] | None,
    previous: Lock | None = None,
    requires_python: SpecifierSet | None = None,
) -> tuple[int, int] | None:
    """The lowest Python the lock is made for: ``--python``, else the previous lock's,
    else a Pipfile's ``[requires]``, else ``tool.containerize.python-version``; else
    ``None``: the pins' Requires-Python decide (:func:`lock`). The resolution holds for
    that Python and every newer one.

    *requires_python*, the project's ``[project] requires-python``, bounds them: a
    previous lock's Python outside it is dropped (the project moved on), and any other
    outside it is an error naming both.
    """

    def within(version: tuple[int, int], where: str) -> tuple[int, int]:
        if requires_python is None or bases.allows(requires_python, version):
            return version
        raise ConfigError(
            f"{where} says Python {bases.version_text(version)}, outside pyproject.toml's "
            f"[project] requires-python = '{requires_python}'",
            hint="make them agree: change one of the two",
        )

    if given is not None:
        return within(_major_minor(given, "--python"), "--python")
    lowest = None if previous is None else _lowest(previous)
    if lowest is not None and (requires_python is None or bases.allows(requires_python, lowest)):
        return lowest
    if inputs.kind == "pipfile":
        stated = read_pipfile(inputs.files[0]).python
        if stated is not None:
            where = f"{PIPFILE} [requires]"
            return within(_major_minor(stated, where), where)
    if configured is not None:
        return within(configured, "tool.containerize.python-version (or its default)")
    return None


def _lowest(lock: Lock) -> tuple[int, int] | None:
    """The X.Y of a ``requires-python = ">=X.Y"`` that ``containerize lock`` wrote."""
    for spec in lock.requires_python or ():
        if spec.operator == ">=":
            return _major_minor(spec.version, f"{lock.path.name}: requires-python")
    return None


def _major_minor(text: str, where: str) -> tuple[int, int]:
    parts = text.strip().split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        raise ConfigError(f"{where}: {text!r} is not a Python version", hint="e.g. 3.12")
    return int(parts[0]), int(parts[1])


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
