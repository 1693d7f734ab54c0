"""The per-platform wheelhouse: exactly the locked files, hash-verified, plus manifests.

Layout of ``<build dir>/wheelhouse``::

    linux-amd64/
        <the chosen wheels and sdists, the wheels compiled from those sdists, and the
         sdists' build requirements>
        install-base.json       the app's runtime dependencies, as wheels
        install-<server>.json   one server and what it adds on top
        compile.json            the sdists still to compile for this platform
        build-env.json          what they are compiled with: the build requirements
    linux-arm64/
        ...

and ``<build dir>/tools``, the same for every platform: the wheels of the tools build
steps run (installer, pip; :func:`tool_files`) and ``tools.json`` naming them.

Each manifest names files with their sha256; the build steps
(:mod:`containerize.buildsteps`) check every file against it before using it, so an
image holds exactly what the lock says. An sdist is installed as the wheel compiled
from it (:class:`CompiledWheel`); until that wheel exists, the install manifests list
the sdist as pending and an install refuses to run. The whole tree is written next to
its final place and renamed into it.

A server's distributions come from the project's lock when it pins them, else from
containerize's own lock of the servers it supports (:func:`server_lock`, made by
``scripts/lock-servers.py``); those files are fetched and hash-checked the same way.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

from containerize import buildsteps, servers
from containerize.errors import FetchError, LockError, ResolutionError
from containerize.fsutil import link_or_copy, replacing_dir
from containerize.project import ProjectMetadata
from containerize.resolve import buildlock
from containerize.resolve.buildlock import PinnedFile
from containerize.resolve.fetch import Cache, FetchReport, FileRequest, fetch
from containerize.resolve.lock import Lock, lock_sources
from containerize.resolve.lock.pylock import read_pylock
from containerize.resolve.pipconfig import IndexSettings, discover
from containerize.resolve.selection import SelectedPackage, Selection, sdist_message, select
from containerize.targets import TargetEnvironment

logger = logging.getLogger("containerize")

#: containerize's own lock of the servers it supports, beside the server modules.
SERVER_LOCK_FILE = "servers.pylock.toml"
_SERVER_LOCK = "containerize's server lock"
#: What containerize's servers' sdists (mod_wsgi) are built with, beside their lock.
SERVER_BUILD_LOCK_FILE = "servers-build.lock"
#: containerize's own lock of the tools its build steps run, beside the step scripts.
TOOL_LOCK_FILE = "tools.pylock.toml"
#: The tools: installer places wheels, pip builds sdists.
TOOLS = (canonicalize_name("installer"), canonicalize_name("pip"))


@dataclass(frozen=True, kw_only=True)
class Wanted:
    """What the images install from the lock: its groups and extras, and the servers
    (with WhiteNoise when the app has static files)."""

    groups: tuple[str, ...]
    extras: tuple[str, ...]
    servers: tuple[str, ...]
    static_files: bool


@dataclass(frozen=True, kw_only=True)
class Needs:
    """What the wheelhouse found per server, across all platforms."""

    base_has_sdists: bool
    server_has_sdists: Mapping[str, bool]
    base_is_empty: bool
    #: The Python packages compiled from sdists on some platform (sorted).
    sdists: tuple[NormalizedName, ...] = ()
    #: The app's Python packages, and each server's on top (for declared run packages).
    base_names: tuple[NormalizedName, ...] = ()
    server_names: Mapping[str, tuple[NormalizedName, ...]] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class FromServerLock:
    """What one server's image takes from containerize's server lock on one platform:
    the *roots* the project's lock does not pin, and their closure in *selection*."""

    roots: tuple[NormalizedName, ...]
    selection: Selection


@dataclass(frozen=True, kw_only=True)
class PlatformSelection:
    """What one platform's image needs: the app's dependencies and each server's."""

    target: TargetEnvironment
    base: Selection
    servers: Mapping[str, Selection]
    #: Per server, what its image takes from containerize's server lock (only the
    #: servers that take something); already part of :attr:`servers`.
    from_server_lock: Mapping[str, FromServerLock] = field(default_factory=dict)

    @property
    def all_packages(self) -> tuple[SelectedPackage, ...]:
        seen: dict[str, SelectedPackage] = {}
        for selection in (self.base, *self.servers.values()):
            for package in selection.packages:
                seen.setdefault(package.file.filename, package)
        return tuple(seen[name] for name in sorted(seen))

    @property
    def sdists(self) -> tuple[SelectedPackage, ...]:
        return tuple(p for p in self.all_packages if p.from_sdist)


@dataclass(frozen=True, kw_only=True)
class CompiledWheel:
    """A wheel compiled from an sdist for one platform, kept in the content cache."""

    sdist: str  # the sdist's file name
    sdist_sha256: str
    platform: str  # the platform's slug, e.g. linux-arm64
    filename: str
    sha256: str
    #: Debian packages its extension modules need at run time, beyond the base image.
    run_packages: tuple[str, ...] = ()
    #: The system libraries it links against, each as 'name (package)'.
    libraries: tuple[str, ...] = ()
    #: Libraries it links against that no Debian package provides.
    unresolved: tuple[str, ...] = ()
    #: 'name=version' of the Debian packages installed when it was compiled.
    build_packages: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PlatformWheelhouse:
    """One platform's folder, after fetching."""

    selection: PlatformSelection
    folder: Path
    report: FetchReport
    build_requirements: tuple[PinnedFile, ...]
    compiled: tuple[CompiledWheel, ...] = ()
    #: sdists without a compiled wheel yet: what the compile build must build.
    pending: tuple[SelectedPackage, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Wheelhouse:
    """The finished wheelhouse for every platform."""

    root: Path
    platforms: tuple[PlatformWheelhouse, ...]

    def summary(self) -> str:
        lines = [f"wheelhouse: {self.root}"]
        for item in self.platforms:
            packages = item.selection.all_packages
            sdists = sum(1 for p in packages if p.from_sdist)
            size = sum(f.path.stat().st_size for f in item.report.files)
            compiled = (
                f" ({len(item.compiled)} compiled, {len(item.pending)} to compile)"
                if sdists
                else ""
            )
            lines.append(
                f"  {item.selection.target.platform}: {len(packages)} packages, "
                f"{len(packages) - sdists} wheels, {sdists} sdists{compiled}, "
                f"{len(item.build_requirements)} build requirements, "
                f"{_human(size)}, cache hits {item.report.hits}/{len(item.report.files)}, "
                f"downloaded {_human(item.report.bytes_downloaded)}"
            )
        return "\n".join(lines)

    @property
    def pending(self) -> bool:
        """Whether any platform has sdists still to compile."""
        return any(item.pending for item in self.platforms)


def index_settings(project: ProjectMetadata, lock: Lock | None = None) -> IndexSettings:
    """Where files come from: the user's pip configuration, the project's Poetry sources,
    then the indexes *lock* names (a requirements file's ``--index-url`` and friends)."""
    sources = [(s.name, s.url, s.priority or "primary") for s in project.sources if s.url]
    named = lock_sources(lock) if lock is not None else []
    return discover(project.path.parent, poetry_sources=sources, lock_sources=named)


def select_all(
    wanted: Wanted, lock: Lock, project: ProjectMetadata, target: TargetEnvironment
) -> PlatformSelection:
    """Choose the files for *target*: the app's dependencies, then each server's.

    A server's image installs :func:`containerize.servers.roots`: each root comes from
    the project's lock when it pins it (the project's pin wins), else, with its closure,
    from containerize's own :func:`server_lock`. Packages the app's selection already
    has are left out of the server's.
    """
    base = select(lock, project, target, groups=wanted.groups, extras=wanted.extras)
    per_server: dict[str, Selection] = {}
    borrowed: dict[str, FromServerLock] = {}
    for name in wanted.servers:
        roots = servers.roots(name, static_files=wanted.static_files)
        pinned = [root for root in roots if lock.find(root)]
        missing = tuple(root for root in roots if not lock.find(root))
        own = Selection(target=target, packages=())
        if pinned:
            own = select(
                lock,
                project,
                target,
                groups=(),
                extras=(),
                extra_roots=[Requirement(root) for root in pinned],
            ).without(base.names)
        if missing:
            taken = _from_server_lock(name, missing, lock, target).without(base.names | own.names)
            borrowed[name] = FromServerLock(roots=missing, selection=taken)
            merged = sorted((*own.packages, *taken.packages), key=lambda p: p.name)
            own = Selection(target=target, packages=tuple(merged))
        per_server[name] = own
    return PlatformSelection(
        target=target, base=base, servers=per_server, from_server_lock=borrowed
    )


@functools.cache
def server_lock() -> Lock:
    """containerize's own lock of the servers it supports and WhiteNoise, read once.

    It is a ``pylock.toml`` whose files have names and hashes but no URLs: they are
    fetched from the user's configured indexes like any file of the project's lock.
    """
    resource = resources.files(servers).joinpath(SERVER_LOCK_FILE)
    with resources.as_file(resource) as path:
        return read_pylock(path)


@functools.cache
def tool_lock() -> Lock:
    """containerize's own lock of the tools its build steps run, read once."""
    resource = resources.files(buildsteps).joinpath(TOOL_LOCK_FILE)
    with resources.as_file(resource) as path:
        return read_pylock(path)


def tool_files() -> dict[NormalizedName, FileRequest]:
    """The wheel of each tool in :data:`TOOLS`, from :func:`tool_lock`."""
    lock = tool_lock()
    found = {}
    for name in TOOLS:
        (package,) = lock.find(name)
        (wheel,) = package.wheels
        found[name] = FileRequest(
            name=name, version=str(package.version), filename=wheel.filename, sha256=wheel.sha256
        )
    return found


def fetch_tools(dest: Path, *, settings: IndexSettings, cache: Cache) -> FetchReport:
    """Fetch the tools' wheels into *dest* (the build folder's ``tools``), atomically,
    with ``tools.json`` naming each one and its sha256 for the build steps."""
    requests = tool_files()
    with replacing_dir(dest) as staging:
        report = fetch(requests.values(), settings=settings, cache=cache, dest=staging)
        manifest = {
            str(name): [_entry(r.name, r.version, r.filename, r.sha256)]
            for name, r in sorted(requests.items())
        }
        _write_json(staging / "tools.json", manifest)
    return _relocated(report, staging, dest)


def _from_server_lock(
    server: str, missing: Sequence[NormalizedName], lock: Lock, target: TargetEnvironment
) -> Selection:
    """The closure of *missing* on *target*, from :func:`server_lock`."""
    tool = server_lock()
    names = ", ".join(missing)
    hint = (
        f"add {names} to the project (for example in a 'servers' dependency group) and "
        f"re-lock with '{lock.relock_command}'"
    )
    python = target.markers["python_full_version"]
    if tool.requires_python is not None and not tool.requires_python.contains(
        python, prereleases=True
    ):
        raise LockError(
            f"server {server!r} needs {names}, which {lock.path.name} does not pin, and "
            f"{_SERVER_LOCK} is made for Python {tool.requires_python}, not the Python "
            f"{python} of {target.platform}",
            hint=hint,
        )
    absent = [name for name in missing if not tool.find(name)]
    if absent:
        raise LockError(
            f"server {server!r} needs {', '.join(absent)}, which neither {lock.path.name} "
            f"nor {_SERVER_LOCK} pins",
            hint=hint,
        )
    # The server lock is nobody's project: its closure starts from the roots alone.
    project = ProjectMetadata(
        path=tool.path, name=None, version=None, requires_python=None, dependencies=()
    )
    try:
        return select(
            tool,
            project,
            target,
            groups=(),
            extras=(),
            extra_roots=[Requirement(name) for name in missing],
        )
    except (LockError, ResolutionError) as exc:
        raise type(exc)(
            f"server {server!r}, from {_SERVER_LOCK}: {exc.message}",
            hint=f"{exc.hint}; or {hint}" if exc.hint else hint,
        ) from exc


def server_lock_notices(selections: Sequence[PlatformSelection]) -> list[str]:
    """One line per server whose image takes packages from containerize's server lock.

    For example: ``uwsgi: pyuwsgi 2.0.30 from containerize's server lock (the
    project's lock does not pin it)``. A line that holds only on some platforms names
    them.
    """
    platforms: dict[str, list[str]] = {}
    for item in selections:
        for server, used in item.from_server_lock.items():
            line = _server_lock_line(server, used)
            if line is not None:
                platforms.setdefault(line, []).append(str(item.target.platform))
    every = [str(item.target.platform) for item in selections]
    return [
        line if where == every else f"{line} (on {', '.join(where)})"
        for line, where in platforms.items()
    ]


def _server_lock_line(server: str, used: FromServerLock) -> str | None:
    roots = [p for p in used.selection.packages if p.name in used.roots]
    if not roots:
        return None
    others = [p for p in used.selection.packages if p.name not in used.roots]
    pronoun = "it" if len(roots) == 1 else "them"
    line = (
        f"{server}: {', '.join(str(p.package) for p in roots)} from {_SERVER_LOCK} "
        f"(the project's lock does not pin {pronoun})"
    )
    if others:
        line += f", with {', '.join(str(p.package) for p in others)}"
    return line


def needs(selections: Sequence[PlatformSelection]) -> Needs:
    """What the Dockerfile must provide, across every platform."""
    return Needs(
        base_has_sdists=any(s.base.sdist_fallbacks for s in selections),
        server_has_sdists={
            name: any(s.servers[name].sdist_fallbacks for s in selections)
            for name in (selections[0].servers if selections else {})
        },
        base_is_empty=all(not s.base.packages for s in selections),
        sdists=tuple(sorted({p.name for s in selections for p in s.sdists})),
        base_names=tuple(sorted({p.name for s in selections for p in s.base.packages})),
        server_names={
            name: tuple(sorted({p.name for s in selections for p in s.servers[name].packages}))
            for name in (selections[0].servers if selections else {})
        },
    )


def announce_sdists(selections: Sequence[PlatformSelection], native: str) -> list[str]:
    """One line per platform that has packages to compile, said before any build."""
    lines = []
    for item in selections:
        merged = Selection(target=item.target, packages=item.all_packages)
        message = sdist_message(merged, emulated=item.target.platform.machine != native)
        if message:
            lines.append(message)
    return lines


def build(
    selections: Sequence[PlatformSelection],
    *,
    dest: Path,
    project_dir: Path,
    settings: IndexSettings,
    cache: Cache,
    compiled: Sequence[CompiledWheel] = (),
    jobs: int = 8,
) -> Wheelhouse:
    """Fetch every selected file into *dest* (the build folder's ``wheelhouse``),
    atomically, with the sdists' build requirements *project_dir*'s build lock pins.

    An sdist that has a wheel in *compiled* (for its hash and the platform) is
    installed as that wheel, taken from *cache*; the others are left pending.
    """
    results = []
    with replacing_dir(dest) as staging:
        for item in selections:
            slug = item.target.platform.slug
            folder = staging / slug
            requests = [
                FileRequest(
                    name=p.name,
                    version=str(p.version),
                    filename=p.file.filename,
                    sha256=p.file.sha256,
                    url=p.file.url,
                )
                for p in item.all_packages
            ]
            report = fetch(requests, settings=settings, cache=cache, dest=folder, jobs=jobs)
            pinned = _build_requirements(
                project_dir, item, report, settings=settings, cache=cache, dest=folder
            )
            built = {c.sdist_sha256: c for c in compiled if c.platform == slug}
            mine = tuple(built[p.file.sha256] for p in item.sdists if p.file.sha256 in built)
            for wheel in mine:
                path = cache.lookup(wheel.sha256, wheel.filename)
                if path is None:
                    raise FetchError(
                        f"{wheel.filename}, compiled from {wheel.sdist} for {slug}, is no "
                        f"longer in the cache {cache.root}",
                        hint="run the build again: it compiles the sdist again",
                    )
                link_or_copy(path, folder / wheel.filename)
            pending = tuple(p for p in item.sdists if p.file.sha256 not in built)
            _write_manifests(folder, item, pinned, compiled=built)
            results.append((item, report, pinned, mine, pending))
    return Wheelhouse(
        root=dest,
        platforms=tuple(
            PlatformWheelhouse(
                selection=item,
                folder=dest / item.target.platform.slug,
                report=_relocated(report, staging, dest),
                build_requirements=pinned,
                compiled=mine,
                pending=pending,
            )
            for item, report, pinned, mine, pending in results
        ),
    )


def _relocated(report: FetchReport, old: Path, new: Path) -> FetchReport:
    files = tuple(
        replace(f, path=new / f.path.relative_to(old)) if f.path.is_relative_to(old) else f
        for f in report.files
    )
    return FetchReport(files=files)


def _write_manifests(
    folder: Path,
    item: PlatformSelection,
    pinned: Sequence[PinnedFile],
    *,
    compiled: Mapping[str, CompiledWheel],
) -> None:
    """The JSON manifests the build steps read (see the module's docstring)."""
    _write_json(folder / "install-base.json", _install(item.base.packages, compiled))
    for name, selection in item.servers.items():
        _write_json(folder / f"install-{name}.json", _install(selection.packages, compiled))
    pending = [p for p in item.sdists if p.file.sha256 not in compiled]
    _write_json(
        folder / "compile.json",
        {
            "sdists": [
                _entry(p.name, str(p.version), p.file.filename, p.file.sha256) for p in pending
            ]
        },
    )
    _write_json(
        folder / "build-env.json",
        {"wheels": [_entry(p.name, p.version, p.filename, p.sha256) for p in pinned]},
    )


def _install(
    packages: Sequence[SelectedPackage], compiled: Mapping[str, CompiledWheel]
) -> dict[str, object]:
    """One install manifest: each package's wheel, or the wheel compiled from its sdist."""
    wheels, pending = [], []
    for package in sorted(packages, key=lambda p: p.name):
        version = str(package.version)
        if not package.from_sdist:
            wheels.append(_entry(package.name, version, package.file.filename, package.file.sha256))
        elif package.file.sha256 in compiled:
            built = compiled[package.file.sha256]
            wheels.append(_entry(package.name, version, built.filename, built.sha256))
        else:
            pending.append(
                _entry(package.name, version, package.file.filename, package.file.sha256)
            )
    return {"wheels": wheels, "pending": pending}


def _entry(name: str, version: str, filename: str, sha256: str) -> dict[str, str]:
    return {"name": name, "version": version, "file": filename, "sha256": sha256}


def _write_json(path: Path, data: Mapping[str, object]) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


# --- sdist build requirements --------------------------------------------------------


@functools.cache
def server_build_lock() -> dict[tuple[str, str, tuple[str, ...]], buildlock.Entry]:
    """What containerize's own servers' sdists are built with, per platform and Python
    (:data:`SERVER_BUILD_LOCK_FILE`, made with the server lock), read once."""
    resource = resources.files(servers).joinpath(SERVER_BUILD_LOCK_FILE)
    with resources.as_file(resource) as path:
        return buildlock.read(
            path, hint="containerize's installation is damaged: reinstall containerize"
        )


@dataclass(frozen=True, kw_only=True)
class BuildEnvironment:
    """Where the build requirements of one platform's sdists come from.

    All of a platform's sdists are compiled in one build environment. The sdists of
    containerize's own servers, taken from its server lock, are built with what
    :func:`server_build_lock` pins for them; the project's own sdists (its lock's, a
    server the project pins included) with what its ``containerize-build.lock`` records
    for their requirements alone, so choosing a server never changes that file's entries.
    Where both pin a package, the project's file wins, as long as it still fits the
    requirements of containerize's sdists too.
    """

    target: TargetEnvironment
    #: containerize's servers' sdists, what they need and the wheels its lock pins.
    own_sdists: tuple[str, ...] = ()
    own_requires: tuple[str, ...] = ()
    own: tuple[PinnedFile, ...] = ()
    #: The project's sdists, and what they need (sorted); its file records these.
    sdists: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str, tuple[str, ...]]:
        """The key of the project's entry (:func:`buildlock.key_for`)."""
        return buildlock.key_for(self.target, self.requires)

    @property
    def python(self) -> str:
        return "{}.{}".format(*self.target.python_version)

    def files(self, entry: buildlock.Entry | None) -> tuple[PinnedFile, ...]:
        """The wheels installed to build: *entry*'s (the project's), then containerize's
        for the packages *entry* does not pin; sorted by name."""
        chosen = {f.name: f for f in self.own}
        chosen.update({f.name: f for f in entry.files} if entry is not None else {})
        return tuple(chosen[name] for name in sorted(chosen))

    def problems(self, entry: buildlock.Entry | None) -> list[str]:
        """Why :meth:`files` with *entry* no longer fit every sdist (empty when they do)."""
        platform, python, requires = buildlock.key_for(
            self.target, (*self.requires, *self.own_requires)
        )
        merged = buildlock.Entry(
            platform=platform, python=python, requires=requires, files=self.files(entry)
        )
        return buildlock.problems(merged, self.target)


def build_environment(item: PlatformSelection, where: Callable[[str], Path]) -> BuildEnvironment:
    """Split *item*'s sdists (read at ``where(file name)``) into containerize's own and
    the project's (see :class:`BuildEnvironment`).

    A server's sdist counts as containerize's when it comes from the server lock and
    :func:`server_build_lock` has an entry for its requirements on the target (the
    Pythons and platforms containerize supports); else the project records it.
    """
    borrowed = {
        p.file.filename for used in item.from_server_lock.values() for p in used.selection.packages
    }
    known = server_build_lock()
    own_sdists: list[str] = []
    own_requires: set[str] = set()
    own: dict[NormalizedName, PinnedFile] = {}
    sdists: list[str] = []
    requires: set[str] = set()
    for package in item.sdists:
        filename = package.file.filename
        needed = buildlock.sdist_requires(where(filename))
        entry = known.get(buildlock.key_for(item.target, needed)) if filename in borrowed else None
        # Two of containerize's sdists that pinned one package differently could not
        # share the environment: the second goes to the project's file then.
        if entry is not None and all(own.get(f.name, f) == f for f in entry.files):
            own_sdists.append(filename)
            own_requires.update(needed)
            own.update({f.name: f for f in entry.files})
        else:
            sdists.append(filename)
            requires.update(needed)
    return BuildEnvironment(
        target=item.target,
        own_sdists=tuple(own_sdists),
        own_requires=tuple(sorted(own_requires)),
        own=tuple(own[name] for name in sorted(own)),
        sdists=tuple(sdists),
        requires=tuple(sorted(requires)),
    )


def _build_requirements(
    project_dir: Path,
    item: PlatformSelection,
    report: FetchReport,
    *,
    settings: IndexSettings,
    cache: Cache,
    dest: Path,
) -> tuple[PinnedFile, ...]:
    """The wheels the sdists of *item* are built with, exactly as containerize's own
    lock and ``containerize-build.lock`` pin them (:class:`BuildEnvironment`), fetched
    by hash into *dest*. Nothing is resolved here: a missing or stale entry is a
    :class:`LockError` naming the command that records it."""
    if not item.sdists:
        return ()
    env = build_environment(item, report.path)
    path = buildlock.path_in(project_dir)
    entry = buildlock.read(path).get(env.key) if env.sdists else None
    target = item.target
    record = (
        "then commit it (a build outside CI records it itself; under CI=true it must be committed)"
    )
    if env.sdists and entry is None:
        raise LockError(
            f"{path}: no build requirements recorded for {', '.join(env.sdists)} on "
            f"{target.platform} with Python {env.python} (they need {', '.join(env.requires)})",
            hint=f"run '{buildlock.REFRESH}' to resolve them once with your pip "
            f"configuration and record them in {path.name}, {record}",
        )
    stale = env.problems(entry)
    if stale and env.sdists:
        raise LockError(
            f"{path}: the build requirements recorded for {target.platform} with Python "
            f"{env.python} no longer fit: {'; '.join(stale)}",
            hint=f"run '{buildlock.REFRESH}' to resolve them again, then review and commit "
            f"{path.name} (a build outside CI records them itself)",
        )
    if stale:
        raise LockError(
            f"containerize's own build requirements for {', '.join(env.own_sdists)} on "
            f"{target.platform} do not fit: {'; '.join(stale)}",
            hint="containerize's installation is damaged: reinstall containerize",
        )
    files = env.files(entry)
    requests = [
        FileRequest(name=f.name, version=f.version, filename=f.filename, sha256=f.sha256)
        for f in files
    ]
    fetch(requests, settings=settings, cache=cache, dest=dest)
    return files


def pin_build_requirements(
    project_dir: Path,
    selections: Sequence[PlatformSelection],
    *,
    settings: IndexSettings,
    cache: Cache,
    refresh: bool = False,
    missing_only: bool = False,
) -> list[str]:
    """Record in ``containerize-build.lock`` what each platform's own sdists of the
    project are built with (containerize's servers' sdists need nothing there).

    Entries that are missing or stale are resolved with the user's pip (all of them
    with *refresh*); entries that fit are kept as they are; entries no platform needs
    any more are dropped. Returns one line per platform saying what happened.

    With *missing_only* (a build recording what it lacks), entries for other platforms
    or Pythons are kept, nothing else is said, and the lines name only what was
    recorded.
    """
    path = buildlock.path_in(project_dir)
    recorded = buildlock.read(path)
    wanted = dict(recorded) if missing_only else {}
    lines = []
    for item in selections:
        if not item.sdists:
            continue
        requests = [
            FileRequest(
                name=p.name, version=str(p.version), filename=p.file.filename, sha256=p.file.sha256
            )
            for p in item.sdists
        ]
        env = build_environment(item, fetch(requests, settings=settings, cache=cache).path)
        platform = item.target.platform
        if env.own_sdists and not missing_only:
            lines.append(
                f"{platform}: {', '.join(env.own_sdists)}: containerize's own: " + _pins(env.own)
            )
        if not env.sdists:
            continue
        entry = recorded.get(env.key)
        stale = env.problems(entry) if entry is not None else []
        if entry is None or stale or refresh:
            entry = _resolve(env, cache=cache)
            why = "refreshed" if refresh else ("was stale" if stale else "recorded")
            if missing_only:
                lines.append(
                    f"recorded build requirements for {', '.join(env.sdists)} ({platform}, "
                    f"Python {env.python}) in {path.name}: {_pins(entry.files)}; commit it"
                )
            else:
                lines.append(f"{platform}: {why}: " + _pins(entry.files))
        elif not missing_only:
            lines.append(f"{platform}: kept: " + _pins(entry.files))
        wanted[env.key] = entry
    if wanted != recorded and (wanted or path.exists()):
        buildlock.write(path, wanted)
    return lines


def _resolve(env: BuildEnvironment, *, cache: Cache) -> buildlock.Entry:
    """The project's entry for *env*: its sdists' requirements resolved; with
    containerize's sdists' too when its own pins cannot join those (recorded under
    the project's key all the same, so the project's pins win)."""
    entry = buildlock.resolve(list(env.requires), env.target, cache=cache)
    if env.own_sdists and env.problems(entry):
        both = buildlock.resolve(
            sorted({*env.requires, *env.own_requires}), env.target, cache=cache
        )
        entry = replace(both, requires=env.requires)
    return entry


def _pins(files: Sequence[PinnedFile]) -> str:
    return ", ".join(f"{f.name} {f.version}" for f in files)


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
