"""The one typed model every lock-file reader produces.

A :class:`Lock` is what containerize needs from ``poetry.lock``, ``uv.lock``,
``pylock.toml``, ``Pipfile.lock``, ``pdm.lock`` or a hashed ``requirements.txt``: each
pinned package with its files and hashes, the dependency edges between packages (when
the format records them), and enough metadata to tell whether the lock still matches
``pyproject.toml``. Readers validate while they build it, so code downstream never
meets a half-valid lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from containerize.errors import LockError

LockFormat = Literal["pdm", "pipenv", "poetry", "pylock", "requirements", "uv"]

#: The index options a requirements file may set.
IndexOption = Literal["index-url", "extra-index-url", "find-links"]

#: What ``containerize lock`` made a lock from (see :class:`LockInput`).
InputKind = Literal["pipfile", "project", "pyproject", "requirements"]

#: The command that (re)creates each kind of lock, for hints in error messages.
RELOCK_COMMANDS: Mapping[LockFormat, str] = {
    "pdm": "pdm lock",
    "pipenv": "pipenv lock",
    "poetry": "poetry lock",
    "uv": "uv lock",
    "pylock": "pip lock -o pylock.toml . (or uv export --format pylock.toml -o pylock.toml)",
    "requirements": "pip-compile --generate-hashes (or uv pip compile --generate-hashes)",
}

_SDIST_SUFFIXES = (".tar.gz", ".zip")


@dataclass(frozen=True, kw_only=True)
class LockedFile:
    """One distribution file pinned by the lock: a wheel or a source archive."""

    filename: str
    url: str | None = None
    sha256: str
    size: int | None = None

    @property
    def is_wheel(self) -> bool:
        """Whether this is a wheel (``.whl``)."""
        return self.filename.endswith(".whl")

    @property
    def is_sdist(self) -> bool:
        """Whether this is a source distribution (``.tar.gz`` or ``.zip``)."""
        return self.filename.endswith(_SDIST_SUFFIXES)

    @cached_property
    def tags(self) -> frozenset[Tag]:
        """The tags a wheel is compatible with; empty for anything but a wheel."""
        if not self.is_wheel:
            return frozenset()
        return parse_wheel_filename(self.filename)[3]


@dataclass(frozen=True, kw_only=True)
class Dependency:
    """An edge of the lock's dependency graph: a package needs *name*.

    *marker* limits the edge to some environments; *extras* are the extras of
    *name* that are requested; *version* pins which locked version is meant when
    the lock holds several versions of *name* (uv forks).
    """

    name: NormalizedName
    marker: Marker | None = None
    extras: frozenset[NormalizedName] = frozenset()
    version: Version | None = None
    #: The versions the edge accepts, when the lock says (Poetry does); used to pick
    #: between several locked versions of *name*.
    specifier: SpecifierSet | None = None


@dataclass(frozen=True, kw_only=True)
class LockedPackage:
    """One pinned package version and everything the lock knows about it."""

    name: NormalizedName
    version: Version
    files: tuple[LockedFile, ...] = ()
    dependencies: tuple[Dependency, ...] = ()
    #: ``(extra, dependencies)`` pairs, sorted by extra: what each extra of this
    #: package adds on top of :attr:`dependencies`.
    optional_dependencies: tuple[tuple[NormalizedName, tuple[Dependency, ...]], ...] = ()
    #: Where the package is needed at all (Poetry's ``markers``, pylock's ``marker``,
    #: uv's ``resolution-markers``); ``None`` means everywhere.
    marker: Marker | None = None
    groups: frozenset[str] = frozenset()
    requires_python: SpecifierSet | None = None
    source_url: str | None = None
    source_name: str | None = None
    #: sha256 digests of files the lock accepts without naming them (a requirements
    #: file's ``--hash`` options). :func:`~containerize.resolve.filenames.name_files`
    #: learns their names from the index and turns them into :attr:`files`.
    unnamed_hashes: tuple[str, ...] = ()
    #: A local package's source folder, relative to the lock's folder (POSIX): a
    #: workspace member, a path dependency, or the project itself. It has no files in
    #: the lock: :func:`~containerize.resolve.localpkgs.pack` packs its sources into a
    #: source archive, compiled into a wheel like any sdist.
    local: str | None = None
    #: Whether the local package is installed (it has a build system); a virtual one
    #: (a uv workspace member that is not a package) only brings its dependencies.
    installable: bool = True

    @property
    def wheels(self) -> tuple[LockedFile, ...]:
        """The package's wheels, in lock order."""
        return tuple(f for f in self.files if f.is_wheel)

    @property
    def sdist(self) -> LockedFile | None:
        """The package's source distribution, if the lock has one."""
        return next((f for f in self.files if f.is_sdist), None)

    def extra_dependencies(self, extra: str) -> tuple[Dependency, ...]:
        """What *extra* adds; empty when the package has no such extra."""
        for name, deps in self.optional_dependencies:
            if name == extra:
                return deps
        return ()

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


@dataclass(frozen=True, kw_only=True)
class LockIndex:
    """An index option set in the lock file itself (``--index-url`` and friends in a
    requirements file, ``_meta.sources`` in a ``Pipfile.lock``); *origin* says where,
    as ``file:line`` or ``file: path``."""

    option: IndexOption
    url: str
    origin: str


@dataclass(frozen=True, kw_only=True)
class LockInput:
    """What ``containerize lock`` made a lock from, recorded in the lock's
    ``[tool.containerize]`` table: *path* relative to the lock's folder and the
    sha256 of what was read from it (see :mod:`containerize.resolve.locking`)."""

    path: str
    sha256: str
    #: ``requirements`` (the file's bytes), ``pipfile`` (the file's bytes),
    #: ``pyproject`` (only its dependency tables, so editing ``[tool.containerize]``
    #: leaves the lock fresh) or ``project`` (a local package folder locked itself:
    #: its setup.py, setup.cfg and pyproject.toml's packaging tables).
    kind: InputKind
    #: Read through a ``-r``/``-c`` of another input, not named itself.
    included: bool = False


@dataclass(frozen=True, kw_only=True)
class Lock:
    """A parsed lock file; packages are sorted by name, then version."""

    path: Path
    format: LockFormat
    packages: tuple[LockedPackage, ...]
    requires_python: SpecifierSet | None = None
    content_hash: str | None = None
    #: Whether the lock records dependency edges. A ``pylock.toml`` without
    #: ``dependencies`` does not; selection then falls back to package markers.
    has_graph: bool = True
    #: The project's own requirements as the lock recorded them (uv's root package,
    #: pylock's ``extras``/``dependency-groups``): ``(group, names)`` pairs where
    #: group ``main`` is the runtime dependencies and ``extra:NAME`` an extra.
    #: Empty when the format does not record them (Poetry).
    roots: tuple[tuple[str, frozenset[NormalizedName]], ...] = ()
    #: The file's first line when it records the tool that wrote it.
    generator: str | None = None
    #: The command line that wrote the file, when the file records it (pip-compile and
    #: ``uv pip compile`` do); the hint to re-lock then repeats it.
    recorded_command: str | None = None
    #: Indexes and find-links the lock file names, in file order (requirements files).
    indexes: tuple[LockIndex, ...] = ()
    #: What ``containerize lock`` made the lock from; empty for a lock made by hand.
    inputs: tuple[LockInput, ...] = ()
    #: The project's own package when the lock installs it (uv's editable or directory
    #: root, Poetry's package mode, PDM's ``self``): a root of the main group.
    project_package: NormalizedName | None = None
    _by_name: dict[NormalizedName, tuple[LockedPackage, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        index: dict[NormalizedName, list[LockedPackage]] = {}
        for package in self.packages:
            index.setdefault(package.name, []).append(package)
            self._check_files(package)
        self._by_name.update({name: tuple(pkgs) for name, pkgs in index.items()})

    def _check_files(self, package: LockedPackage) -> None:
        """Every file of *package* must be one of that name and version: pip installs a
        file by what its name says, whatever the lock entry it sits under."""
        for file in package.files:
            found = _identity(file.filename)
            if found is None or found == (package.name, package.version):
                continue
            name, version = found
            raise LockError(
                f"{self.path.name}: {package.name} {package.version}: {file.filename} is a "
                f"file of {name} {version}, not of {package.name} {package.version}",
                hint=f"the lock is inconsistent (edited by hand?); re-lock with "
                f"'{self.relock_command}'",
            )

    @property
    def relock_command(self) -> str:
        """The command that regenerates this lock."""
        return self.recorded_command or RELOCK_COMMANDS[self.format]

    @property
    def needs_file_names(self) -> bool:
        """Whether some files are known by hash only (see :attr:`LockedPackage.unnamed_hashes`)."""
        return any(p.unnamed_hashes for p in self.packages)

    @property
    def local_packages(self) -> tuple[LockedPackage, ...]:
        """The packages built from local sources (see :attr:`LockedPackage.local`)."""
        return tuple(p for p in self.packages if p.local is not None)

    @property
    def names(self) -> frozenset[NormalizedName]:
        """The names of all locked packages."""
        return frozenset(self._by_name)

    def find(self, name: NormalizedName) -> tuple[LockedPackage, ...]:
        """All locked versions of *name* (usually one; none if it is not locked)."""
        return self._by_name.get(name, ())

    def root_names(self, group: str) -> frozenset[NormalizedName]:
        """The names the lock records for one root *group* (see :attr:`roots`)."""
        for name, names in self.roots:
            if name == group:
                return names
        return frozenset()


def make_file(
    *,
    filename: str,
    url: str | None,
    sha256: str,
    size: int | None,
    where: str,
    lock_path: Path,
) -> LockedFile:
    """Build a :class:`LockedFile`, checking the name and hash; *where* locates it."""
    if not _is_hex_sha256(sha256):
        raise LockError(
            f"{lock_path.name}: {where}: {sha256!r} is not a sha256 hex digest",
            hint="regenerate the lock; containerize only installs hash-verified files",
        )
    try:
        if filename.endswith(".whl"):
            parse_wheel_filename(filename)
        elif filename.endswith(_SDIST_SUFFIXES):
            parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise LockError(
            f"{lock_path.name}: {where}: invalid file name {filename!r}: {exc}",
            hint="the lock file is damaged; regenerate it",
        ) from exc
    return LockedFile(filename=filename, url=url, sha256=sha256.lower(), size=size)


def _identity(filename: str) -> tuple[NormalizedName, Version] | None:
    """The (name, version) a wheel or sdist file name states; None for another file."""
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[:2]
        if filename.endswith(_SDIST_SUFFIXES):
            return parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return None


def _is_hex_sha256(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text)


def sort_packages(packages: list[LockedPackage]) -> tuple[LockedPackage, ...]:
    """Packages in the model's order: by name, then version."""
    return tuple(sorted(packages, key=lambda p: (p.name, p.version)))
