"""Typed access to parsed TOML, with errors that name the file and the path inside it.

Lock readers and the ``pyproject.toml`` reader share it, so every malformed value is
reported as ``poetry.lock: package[3].files[0]: ...`` whatever file it is in.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidName, NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from containerize.errors import ContainerizeError, LockError


def load_toml(path: Path, *, hint: str) -> Table:
    """Parse the lock at *path* into a :class:`Table` whose errors name the file."""
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise LockError(
            f"{path}: not UTF-8 text (byte {exc.start})",
            hint=f"TOML files are UTF-8; {hint}",
        ) from None
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
    """What *value* is, for a message: its kind, and the value itself when short."""
    names = {str: "a string", int: "an integer", bool: "a boolean", list: "an array"}
    if isinstance(value, dict):
        return "a table"
    kind = names.get(type(value), type(value).__name__)
    if isinstance(value, int | float | bool) or (isinstance(value, str) and len(value) <= 40):
        return f"{kind} ({value!r})"
    return kind
