"""Selection: which locked packages and files one target platform needs.

Starting from the project's root requirements (the chosen groups and extras, plus
any extra roots such as a WSGI server), :func:`closure` walks the lock's dependency
graph, evaluating each edge's marker in the target's marker environment (with
``extra`` set while an extra's edges are followed). :func:`select` then picks for
each package the best wheel by the target's tag order, or its sdist when no wheel
fits. A ``pylock.toml`` without ``dependencies`` has no graph: its packages' own
markers decide instead, as PEP 751 specifies.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from containerize import bases
from containerize.errors import LockError, ResolutionError
from containerize.project import MAIN_GROUP, ProjectMetadata
from containerize.resolve.lock.model import Dependency, Lock, LockedFile, LockedPackage
from containerize.targets import TargetEnvironment

#: The group name of roots passed in ``extra_roots``.
_EXTRA_ROOT = "extra root"
#: How many of the target's tags a resolution error shows.
_TAGS_SHOWN = 5


@dataclass(frozen=True, kw_only=True)
class SelectedPackage:
    """A package needed on the target and the file chosen to install it."""

    package: LockedPackage
    file: LockedFile

    @property
    def name(self) -> NormalizedName:
        """The package's normalized name."""
        return self.package.name

    @property
    def version(self) -> Version:
        """The locked version."""
        return self.package.version

    @property
    def from_sdist(self) -> bool:
        """Whether no wheel fits and the sdist is built for the target."""
        return not self.file.is_wheel


@dataclass(frozen=True, kw_only=True)
class Selection:
    """What one target needs from the lock, sorted by package name."""

    target: TargetEnvironment
    packages: tuple[SelectedPackage, ...]

    @property
    def sdist_fallbacks(self) -> tuple[SelectedPackage, ...]:
        """The packages without a compatible wheel, built from their sdists."""
        return tuple(p for p in self.packages if p.from_sdist)

    @property
    def names(self) -> frozenset[NormalizedName]:
        """The names of all selected packages."""
        return frozenset(p.name for p in self.packages)

    @property
    def files(self) -> tuple[LockedFile, ...]:
        """The chosen files, in package order."""
        return tuple(p.file for p in self.packages)

    def without(self, names: Collection[NormalizedName]) -> Selection:
        """This selection minus the packages named (for example, already installed)."""
        kept = tuple(p for p in self.packages if p.name not in names)
        return Selection(target=self.target, packages=kept)


def closure(
    lock: Lock,
    project: ProjectMetadata,
    target: TargetEnvironment,
    *,
    groups: Sequence[str] = (MAIN_GROUP,),
    extras: Sequence[str] = (),
    extra_roots: Sequence[Requirement] = (),
) -> tuple[LockedPackage, ...]:
    """The locked packages needed on *target*, sorted by name.

    Roots are the requirements of *groups* and *extras* of *project*, plus
    *extra_roots*, and the project's own package when the lock installs it
    (:attr:`~containerize.resolve.lock.model.Lock.project_package`). Pass
    ``groups=()`` and one server in *extra_roots* for that server's own closure. A
    root requirement missing from the lock is a :class:`LockError` (the lock is
    stale). For a lock without a dependency graph, every package whose marker holds on
    the target is needed, except the project's roots of groups and extras that were
    not chosen; their own dependencies cannot be told apart, so such a closure may
    hold more than the graph walk would.
    """
    _check_python(lock, target)
    roots = [*_project_roots(project, groups, extras), *((r, _EXTRA_ROOT) for r in extra_roots)]
    if lock.project_package is not None and MAIN_GROUP in groups:
        # The project itself, built into a wheel: its entry points and metadata.
        roots.append((Requirement(lock.project_package), MAIN_GROUP))
    ctx = _Context(lock=lock, project=project, target=target, groups=groups, extras=extras)
    found = _walk(ctx, roots) if lock.has_graph else _by_package_markers(ctx, roots)
    return tuple(sorted(found, key=lambda p: p.name))


def select(
    lock: Lock,
    project: ProjectMetadata,
    target: TargetEnvironment,
    *,
    groups: Sequence[str] = (MAIN_GROUP,),
    extras: Sequence[str] = (),
    extra_roots: Sequence[Requirement] = (),
) -> Selection:
    """Choose the file to install for every package *target* needs.

    See :func:`closure` for which packages. Each gets its best-ranked compatible
    wheel, else its sdist (see :attr:`Selection.sdist_fallbacks`). Packages with
    neither raise one :class:`ResolutionError` that lists them all.
    """
    packages = closure(lock, project, target, groups=groups, extras=extras, extra_roots=extra_roots)
    ranks = target.tag_ranks()
    chosen: list[SelectedPackage] = []
    unusable: list[LockedPackage] = []
    for package in packages:
        if not package.installable:
            continue  # a virtual workspace member: only its dependencies are installed
        file = best_file(package, ranks)
        if file is None:
            unusable.append(package)
        else:
            chosen.append(SelectedPackage(package=package, file=file))
    if unusable:
        raise _no_file_error(unusable, target)
    return Selection(target=target, packages=tuple(chosen))


def best_file(package: LockedPackage, ranks: Mapping[Tag, int]) -> LockedFile | None:
    """The best wheel of *package* by tag *ranks*, else its sdist, else ``None``."""
    best: tuple[int, str, LockedFile] | None = None
    for wheel in package.wheels:
        rank = min((ranks[tag] for tag in wheel.tags if tag in ranks), default=None)
        if rank is not None and (best is None or (rank, wheel.filename) < best[:2]):
            best = (rank, wheel.filename, wheel)
    return best[2] if best is not None else package.sdist


def sdist_message(selection: Selection, *, emulated: bool = True) -> str | None:
    """Tell the user which packages get compiled for the target; ``None`` if none.

    For example: ``no linux/arm64 wheel for: mod-wsgi, pyuwsgi; they will be
    compiled for the target under emulation``.
    """
    names = [str(p.name) for p in selection.sdist_fallbacks if p.package.local is None]
    local = [str(p.name) for p in selection.sdist_fallbacks if p.package.local is not None]
    how = "under emulation" if emulated else "in the image build"
    lines = []
    if names:
        lines.append(
            f"no {selection.target.platform} wheel for: {', '.join(names)}; "
            f"they will be compiled for the target {how}"
        )
    if local:
        lines.append(
            f"local packages built into wheels for {selection.target.platform} "
            f"{how}: {', '.join(local)}"
        )
    return "\n".join(lines) or None


# -- The walk -----------------------------------------------------------------------------


def _project_roots(
    project: ProjectMetadata, groups: Iterable[str], extras: Iterable[str]
) -> list[tuple[Requirement, str]]:
    roots = [(r, group) for group in groups for r in project.group_requirements(group)]
    for extra in extras:
        roots.extend((r, f"extra {extra}") for r in project.extra_requirements(extra))
    return roots


def _check_python(lock: Lock, target: TargetEnvironment) -> None:
    version = target.markers["python_full_version"]
    if lock.requires_python is not None and not lock.requires_python.contains(
        version, prereleases=True
    ):
        raise ResolutionError(
            f"{lock.path.name} is locked for Python {lock.requires_python}, "
            f"but {target.platform} has Python {version}",
            hint=bases.fitting(lock.requires_python).hint(),
        )


_Environment = Mapping[str, str | AbstractSet[str]]


def _evaluate(
    marker: Marker | None, environment: _Environment, where: str, *, lock_file: bool = False
) -> bool:
    if marker is None:
        return True
    try:
        if lock_file:
            # PEP 751 markers may test the 'extras' and 'dependency_groups' sets.
            return marker.evaluate(environment, context="lock_file")
        return marker.evaluate(environment)
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName) as exc:
        raise LockError(
            f"{where}: cannot evaluate marker {str(marker)!r}: {exc}",
            hint="the lock file may be damaged; regenerate it",
        ) from exc


@dataclass(frozen=True, kw_only=True)
class _Context:
    """What every step of one closure computation needs."""

    lock: Lock
    project: ProjectMetadata
    target: TargetEnvironment
    groups: Sequence[str]
    extras: Sequence[str]

    def missing_root(self, name: NormalizedName, group: str) -> LockError:
        if group == _EXTRA_ROOT:
            return LockError(
                f"{self.lock.path.name}: {name} is needed in the image but is not in the lock",
                hint=f"add {name} to {self.project.path.name} (for example in a dependency "
                f"group) and re-lock with '{self.lock.relock_command}'",
            )
        return LockError(
            f"{self.lock.path.name}: {name} is required by {self.project.path.name} ({group}) "
            "but is not in the lock",
            hint=f"the lock is out of date; re-lock with '{self.lock.relock_command}'",
        )

    def pylock_environment(self, extras: Iterable[str]) -> _Environment:
        return {
            **self.target.marker_environment(),
            "extras": frozenset(extras),
            "dependency_groups": frozenset(g for g in self.groups if g != MAIN_GROUP),
        }


# A queued edge: (name, extras, version, specifier, parent or None, root group).
_Edge = tuple[
    NormalizedName,
    frozenset[NormalizedName],
    Version | None,
    SpecifierSet | None,
    LockedPackage | None,
    str,
]


def _walk(ctx: _Context, roots: Sequence[tuple[Requirement, str]]) -> list[LockedPackage]:
    base = ctx.target.marker_environment()
    pending: deque[_Edge] = deque()
    for requirement, group in sorted(roots, key=lambda pair: (pair[0].name, str(pair[0]))):
        if not _evaluate(requirement.marker, base, f"{ctx.project.path.name}: {requirement}"):
            continue
        name = canonicalize_name(requirement.name)
        if name == ctx.project.name and name != ctx.lock.project_package:
            continue
        extras = frozenset(canonicalize_name(e) for e in requirement.extras)
        pending.append((name, extras, None, requirement.specifier or None, None, group))
    chosen: dict[NormalizedName, LockedPackage] = {}
    done_extras: dict[NormalizedName, set[NormalizedName]] = {}
    active_extras: set[str] = set()
    lock_name = ctx.lock.path.name
    while pending:
        edge = pending.popleft()
        name, extras = edge[0], edge[1]
        package = chosen.get(name)
        if package is None:
            package = _pick(ctx, edge, active_extras)
            if package is None:
                continue
            chosen[name] = package
            done_extras[name] = set()
            for dep in package.dependencies:
                if _evaluate(dep.marker, base, f"{lock_name}: {package}: {dep.name}"):
                    pending.append(_edge(dep, package))
        for extra in sorted(extras - done_extras[name]):
            done_extras[name].add(extra)
            active_extras.add(extra)
            environment = ctx.target.marker_environment(extra=extra)
            for dep in package.extra_dependencies(extra):
                where = f"{lock_name}: {package}[{extra}]: {dep.name}"
                if _evaluate(dep.marker, environment, where):
                    pending.append(_edge(dep, package))
    return list(chosen.values())


def _edge(dep: Dependency, parent: LockedPackage) -> _Edge:
    return (dep.name, dep.extras, dep.version, dep.specifier, parent, "")


def _pick(ctx: _Context, edge: _Edge, active_extras: Collection[str]) -> LockedPackage | None:
    """The locked package an edge (or a root) means; ``None`` if not needed here."""
    name, _, version, specifier, parent, group = edge
    lock = ctx.lock
    candidates = lock.find(name)
    if not candidates:
        if parent is None:
            raise ctx.missing_root(name, group)
        raise LockError(
            f"{lock.path.name}: {parent} depends on {name}, which is not in the lock",
            hint=f"the lock is incomplete; re-lock with '{lock.relock_command}'",
        )
    if version is not None:
        candidates = tuple(p for p in candidates if p.version == version) or candidates
    if specifier is not None and len(candidates) > 1:
        candidates = (
            tuple(p for p in candidates if specifier.contains(p.version, prereleases=True))
            or candidates
        )
    if lock.format == "pylock":
        # pylock edges carry no markers: the package's own marker decides.
        environment = ctx.pylock_environment(active_extras)
        candidates = tuple(
            p
            for p in candidates
            if _evaluate(p.marker, environment, f"{lock.path.name}: {p}", lock_file=True)
        )
        if not candidates:
            return None
    elif len(candidates) > 1:
        # Several versions locked for different environments (uv forks, Poetry
        # multiple-constraint dependencies): keep those whose marker holds here.
        fitting = tuple(p for p in candidates if _package_fits(ctx, p, active_extras))
        candidates = fitting or candidates
    return max(candidates, key=lambda p: p.version)


def _package_fits(ctx: _Context, package: LockedPackage, extras: Iterable[str]) -> bool:
    where = f"{ctx.lock.path.name}: {package}"
    return any(
        _evaluate(package.marker, ctx.target.marker_environment(extra=extra), where)
        for extra in ("", *extras)
    )


def _by_package_markers(
    ctx: _Context, roots: Sequence[tuple[Requirement, str]]
) -> list[LockedPackage]:
    base = ctx.target.marker_environment()
    for requirement, group in roots:
        name = canonicalize_name(requirement.name)
        if name == ctx.project.name or not _evaluate(requirement.marker, base, str(requirement)):
            continue
        if not ctx.lock.find(name):
            raise ctx.missing_root(name, group)
    # Without edges, the project's own roots are the one thing known for sure: a
    # root of only groups and extras that were not chosen is left out (a server's
    # closure then holds no other server, no test tool and not the app's runtime).
    wanted = {canonicalize_name(r.name) for r, _ in roots}
    unchosen = {canonicalize_name(r.name) for r in ctx.project.all_requirements()} - wanted
    environment = ctx.pylock_environment(canonicalize_name(e) for e in ctx.extras)
    needed: dict[NormalizedName, LockedPackage] = {}
    for package in ctx.lock.packages:
        where = f"{ctx.lock.path.name}: {package}"
        if package.name in unchosen:
            continue
        if _evaluate(package.marker, environment, where, lock_file=True):
            current = needed.get(package.name)
            if current is None or current.version < package.version:
                needed[package.name] = package
    return list(needed.values())


def _no_file_error(packages: Sequence[LockedPackage], target: TargetEnvironment) -> ResolutionError:
    tags = ", ".join(str(tag) for tag in target.tags[:_TAGS_SHOWN])
    names = "; ".join(_describe(p) for p in packages)
    return ResolutionError(
        f"no installable file for {target.platform}: {names}",
        hint=f"no wheel matches the target's tags (best first: {tags}, ...) and the lock "
        "has no sdist; pin a version that has a wheel or an sdist for this platform, "
        "or drop the platform",
    )


def _describe(package: LockedPackage) -> str:
    wheels = [w.filename for w in package.wheels]
    shown = ", ".join(wheels[:3]) + (", ..." if len(wheels) > 3 else "")
    return f"{package} (wheels: {shown or 'none'})"


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


def check_base_python(
    lock: Lock,
    project: ProjectMetadata,
    base: str,
    targets: Sequence[TargetEnvironment],
) -> None:
    """The Python of the base image *base* (as configured) must be one the lock (or,
    without one there, the project) allows; else an error that names the base images
    that would fit."""
    if lock.requires_python is not None:
        what, specifier = f"{lock.path.name} is locked for", lock.requires_python
    elif project.requires_python is not None:
        what, specifier = f"{project.path.name} requires", project.requires_python
    else:
        return
    for target in targets:
        version = target.markers["python_full_version"]
        if not specifier.contains(version, prereleases=True):
            raise ResolutionError(
                f"{what} Python {specifier}, but the base image {base} "
                f"has Python {version} ({target.platform})",
                hint=bases.fitting(specifier).hint(),
            )
