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

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import NormalizedName

from containerize import syspackages
from containerize.errors import FetchError
from containerize.fsutil import link_or_copy, replacing_dir
from containerize.platforms import Platform
from containerize.project import ProjectMetadata
from containerize.resolve import buildenv, ownlocks
from containerize.resolve.buildlock import PinnedFile
from containerize.resolve.cache import Cache
from containerize.resolve.fetch import FetchReport, FileRequest, SharedFiles, fetch, human
from containerize.resolve.lock import Lock, lock_sources
from containerize.resolve.pipconfig import IndexSettings, discover
from containerize.resolve.selection import (
    FromServerLock,
    PlatformSelection,
    SelectedPackage,
    Selection,
    sdist_message,
    select,
)
from containerize.targets import TargetEnvironment

logger = logging.getLogger("containerize")


@dataclass(frozen=True, kw_only=True)
class Wanted:
    """What the images install from the lock: its groups and extras, and each server's
    roots (:func:`containerize.servers.roots`: with WhiteNoise when the app has static
    files the server cannot serve)."""

    groups: tuple[str, ...]
    extras: tuple[str, ...]
    servers: tuple[tuple[str, tuple[NormalizedName, ...]], ...]


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
                f"{human(size)}; {len(item.report.files)} files: {item.report.counts()}"
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

    A server's image installs its roots (:attr:`Wanted.servers`): each root comes from
    the project's lock when it pins it (the project's pin wins), else, with its closure,
    from containerize's own :func:`server_lock`. Packages the app's selection already
    has are left out of the server's.
    """
    base = select(lock, project, target, groups=wanted.groups, extras=wanted.extras)
    per_server: dict[str, Selection] = {}
    borrowed: dict[str, FromServerLock] = {}
    for name, roots in wanted.servers:
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
            taken = ownlocks.from_server_lock(name, missing, lock, target).without(
                base.names | own.names
            )
            borrowed[name] = FromServerLock(roots=missing, selection=taken)
            merged = sorted((*own.packages, *taken.packages), key=lambda p: p.name)
            own = Selection(target=target, packages=tuple(merged))
        per_server[name] = own
    return PlatformSelection(
        target=target, base=base, servers=per_server, from_server_lock=borrowed
    )


def fetch_tools(
    dest: Path, *, settings: IndexSettings, cache: Cache, shared: SharedFiles | None = None
) -> FetchReport:
    """Fetch the tools' wheels into *dest* (the build folder's ``tools``), atomically,
    with ``tools.json`` naming each one and its sha256 for the build steps."""
    requests = ownlocks.tool_files()
    with replacing_dir(dest) as staging:
        report = fetch(
            requests.values(), settings=settings, cache=cache, dest=staging, shared=shared
        )
        manifest = {
            str(name): [_entry(r.name, r.version, r.filename, r.sha256)]
            for name, r in sorted(requests.items())
        }
        _write_json(staging / "tools.json", manifest)
    return _relocated(report, staging, dest)


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
        f"{server}: {', '.join(str(p.package) for p in roots)} from {ownlocks.SERVER_LOCK} "
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
    shared: SharedFiles | None = None,
) -> Wheelhouse:
    """Fetch every selected file into *dest* (the build folder's ``wheelhouse``),
    atomically, with the sdists' build requirements *project_dir*'s build lock pins.

    An sdist that has a wheel in *compiled* (for its hash and the platform) is
    installed as that wheel, taken from *cache*; the others are left pending. With
    *shared*, files the cache lacks are pulled from there first (see :func:`fetch`).
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
            report = fetch(
                requests, settings=settings, cache=cache, dest=folder, jobs=jobs, shared=shared
            )
            pinned = buildenv.fetch_requirements(
                project_dir,
                item,
                report,
                settings=settings,
                cache=cache,
                dest=folder,
                shared=shared,
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


def notices(selections: Sequence[PlatformSelection], *, native_arch: str) -> tuple[str, ...]:
    """What the selection has to say: the servers taken from containerize's own lock,
    and the sdists to compile (emulated unless on *native_arch*)."""
    return (
        *server_lock_notices(selections),
        *announce_sdists(selections, native=_machine_name(native_arch)),
    )


def _machine_name(native_arch: str) -> str:
    """What ``uname -m`` says on *native_arch* (``x86_64`` for ``amd64``)."""
    try:
        return Platform(os="linux", arch=native_arch).machine
    except KeyError:  # an architecture containerize does not build for
        return native_arch


def build_needs_lines(system: syspackages.SystemPackages, sdists: Sequence[str]) -> tuple[str, ...]:
    """One line per sdist (of :attr:`Needs.sdists`) compiled with declared or well-known
    Debian packages."""
    lines = []
    for name in sdists:
        found = syspackages.build_needs(name, system)
        if found.origin != "none":
            lines.append(found.line())
    return tuple(lines)
