"""The one typed model every lock-file reader produces.

A :class:`Lock` is what containerize needs from ``poetry.lock``, ``uv.lock`` or
``pylock.toml``: each pinned package with its files and hashes, the dependency edges
between packages (when the format records them), and enough metadata to tell whether
the lock still matches ``pyproject.toml``. Readers validate while they build it, so
code downstream never meets a half-valid lock.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal, NoReturn

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag
from packaging.utils import (
    InvalidName,
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from containerize.errors import ContainerizeError, LockError

LockFormat = Literal["poetry", "pylock", "uv"]

#: The command that (re)creates each kind of lock, for hints in error messages.
RELOCK_COMMANDS: Mapping[LockFormat, str] = {
    "poetry": "poetry lock",
    "uv": "uv lock",
    "pylock": "pip lock -o pylock.toml . (or uv export --format pylock.toml -o pylock.toml)",
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
    _by_name: dict[NormalizedName, tuple[LockedPackage, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        index: dict[NormalizedName, list[LockedPackage]] = {}
        for package in self.packages:
            index.setdefault(package.name, []).append(package)
        self._by_name.update({name: tuple(pkgs) for name, pkgs in index.items()})

    @property
    def relock_command(self) -> str:
        """The command that regenerates this lock."""
        return RELOCK_COMMANDS[self.format]

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


def _is_hex_sha256(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text)


def sort_packages(packages: list[LockedPackage]) -> tuple[LockedPackage, ...]:
    """Packages in the model's order: by name, then version."""
    return tuple(sorted(packages, key=lambda p: (p.name, p.version)))


# -- Reading helpers shared by the readers ----------------------------------------------


def load_toml(path: Path, *, hint: str) -> Table:
    """Parse the lock at *path* into a :class:`Table` whose errors name the file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LockError(f"{path}: cannot read: {exc.strerror}", hint=hint) from exc
    except tomllib.TOMLDecodeError as exc:
        raise LockError(f"{path.name}: not valid TOML: {exc}", hint=hint) from exc
    return Table(data=data, where="", file=path, hint=hint)


@dataclass(frozen=True, kw_only=True)
class Table:
    """Typed access to one TOML table; errors name the file and the path inside it.

    *where* is the path of this table inside the file (``package[3]``), empty for the
    top level. *error* is the exception raised for bad content: :class:`LockError`
    for lock files, ``ConfigError`` for ``pyproject.toml``.
    """

    data: Mapping[str, object]
    where: str
    file: Path
    hint: str
    error: type[LockError] | type[ContainerizeError] = LockError

    def path(self, key: str | int) -> str:
        """The path of *key* (a table key or an array index) inside the file."""
        if isinstance(key, int):
            return f"{self.where}[{key}]"
        return f"{self.where}.{key}" if self.where else key

    def fail(self, key: str | int | None, problem: str) -> NoReturn:
        """Raise the error for a problem at *key* (or at this table, for ``None``)."""
        where = self.where if key is None else self.path(key)
        location = f"{self.file.name}: {where}: " if where else f"{self.file.name}: "
        raise self.error(location + problem, hint=self.hint)

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str) -> object:
        """The value at *key*, unchecked (``None`` when absent)."""
        return self.data.get(key)

    def string(self, key: str) -> str:
        """A required string."""
        value = self.data.get(key)
        if value is None:
            self.fail(None, f"missing {key!r}")
        if not isinstance(value, str):
            self.fail(key, f"expected a string, got {_kind(value)}")
        return value

    def opt_string(self, key: str) -> str | None:
        """An optional string."""
        return None if key not in self.data else self.string(key)

    def opt_int(self, key: str) -> int | None:
        """An optional non-negative integer."""
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            self.fail(key, f"expected a non-negative integer, got {_kind(value)}")
        return value

    def opt_bool(self, key: str) -> bool | None:
        """An optional boolean."""
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.fail(key, f"expected true or false, got {_kind(value)}")
        return value

    def table(self, key: str) -> Table:
        """A required sub-table."""
        value = self.data.get(key)
        if value is None:
            self.fail(None, f"missing {key!r}")
        return self._as_table(key, value)

    def opt_table(self, key: str) -> Table | None:
        """An optional sub-table."""
        return None if key not in self.data else self.table(key)

    def array(self, key: str) -> list[object]:
        """An optional array (empty when absent)."""
        value = self.data.get(key, [])
        if not isinstance(value, list):
            self.fail(key, f"expected an array, got {_kind(value)}")
        return value

    def string_array(self, key: str) -> list[str]:
        """An optional array of strings (empty when absent)."""
        items = self.array(key)
        for i, item in enumerate(items):
            if not isinstance(item, str):
                self.child(key).fail(i, f"expected a string, got {_kind(item)}")
        return [str(item) for item in items]

    def tables(self, key: str) -> list[Table]:
        """An optional array of tables (empty when absent)."""
        items = self.array(key)
        child = self.child(key)
        return [child._as_table(i, item) for i, item in enumerate(items)]

    def items(self) -> list[tuple[str, object]]:
        """The table's entries, sorted by key for deterministic output."""
        return sorted(self.data.items())

    def child(self, key: str | int) -> Table:
        """An empty view whose *where* is this table's *key* (for error paths)."""
        return Table(
            data={}, where=self.path(key), file=self.file, hint=self.hint, error=self.error
        )

    def _as_table(self, key: str | int, value: object) -> Table:
        if not isinstance(value, dict):
            self.fail(key, f"expected a table, got {_kind(value)}")
        return Table(
            data=value, where=self.path(key), file=self.file, hint=self.hint, error=self.error
        )

    def name(self, key: str = "name") -> NormalizedName:
        """A required package name, normalized."""
        text = self.string(key)
        try:
            return canonicalize_name(text, validate=True)
        except InvalidName:
            self.fail(key, f"{text!r} is not a valid package name")

    def version(self, key: str = "version") -> Version:
        """A required PEP 440 version."""
        text = self.string(key)
        try:
            return Version(text)
        except InvalidVersion:
            self.fail(key, f"{text!r} is not a valid version")

    def opt_version(self, key: str = "version") -> Version | None:
        """An optional PEP 440 version."""
        return None if key not in self.data else self.version(key)

    def marker(self, key: str) -> Marker | None:
        """An optional PEP 508 marker; an empty string means none."""
        text = self.opt_string(key)
        return self.parse_marker(key, text)

    def parse_marker(self, key: str | int, text: str | None) -> Marker | None:
        """Parse *text* found at *key* as a marker."""
        if text is None or not text.strip():
            return None
        try:
            return Marker(text)
        except InvalidMarker as exc:
            self.fail(key, f"invalid marker {text!r}: {exc}")

    def specifier(self, key: str) -> SpecifierSet | None:
        """An optional PEP 440 specifier set."""
        text = self.opt_string(key)
        if text is None:
            return None
        try:
            return SpecifierSet(text)
        except InvalidSpecifier:
            self.fail(key, f"{text!r} is not a valid version specifier")


def _kind(value: object) -> str:
    names = {str: "a string", int: "an integer", bool: "a boolean", list: "an array"}
    if isinstance(value, dict):
        return "a table"
    return names.get(type(value), type(value).__name__)
